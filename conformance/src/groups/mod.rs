//! The case groups, one module each, and the small exchanges several groups share.

pub mod fuzz;
pub mod protocol;
pub mod replay;
pub mod robustness;
pub mod security;

use std::collections::BTreeMap;

use ::protocol::wire::{AuthzRequest, Phase};

use crate::runner::Ctx;

/// A request-phase message for `docker version` over the unix socket, as a real 20.10 sends
/// it: no user, no body, a few headers.
pub fn ordinary_request() -> AuthzRequest {
    AuthzRequest {
        request_method: "GET".into(),
        request_uri: "/v1.41/version".into(),
        request_headers: BTreeMap::from([(
            "User-Agent".to_owned(),
            "Docker-Client/28.0.0 (linux)".to_owned(),
        )]),
        ..AuthzRequest::default()
    }
}

/// Checks that the plugin still answers an ordinary call, on a fresh connection, with a reply
/// dockerd can decode; returns what was seen otherwise.
pub async fn still_serving(ctx: &Ctx) -> Result<(), String> {
    let exchange = ctx.target.call(Phase::Request, &ordinary_request()).await;
    if exchange.verdict.is_answer() {
        Ok(())
    } else {
        Err(format!(
            "an ordinary call afterwards got {}",
            exchange.verdict
        ))
    }
}
