//! The response-phase decision (`AuthZPlugin.AuthZRes`), kept apart from the request phase.
//!
//! Everything that must be refused is refused in the request phase, so the response phase
//! allows: a response-phase deny cannot undo what the daemon already did (a created
//! container stays), and streamed or hijacked responses arrive here empty. What it does is
//! learn ownership from the daemon's successful answers ([`learn_response`]); the plugin
//! wrapper records the changes before it answers.

use protocol::AuthzRequest;

use crate::decision::{Decision, FieldLog};
use crate::ownership::learn::learn;
use crate::ownership::rules::OWNERSHIP_STORE;
use crate::ownership::{Change, NothingOwned, OwnershipView};
use crate::policy::Policy;

/// The rule name of response-phase allows.
pub const RESPONSE_PHASE: &str = "response-phase";

/// Decides the response phase of one API call with nothing recorded as owned.
pub fn decide_response(policy: &Policy, request: &AuthzRequest) -> Decision {
    learn_response(policy, request, &NothingOwned, 0).0
}

/// Decides the response phase of one API call and returns the ownership changes its answer
/// teaches, resolved against `owners`; `now` (Unix seconds) stamps what is learned.
pub fn learn_response(
    _policy: &Policy,
    request: &AuthzRequest,
    owners: &dyn OwnershipView,
    now: u64,
) -> (Decision, Vec<Change>) {
    let mut log = FieldLog::default();
    log.read("ResponseStatusCode", request.response_status_code);
    match learn(request, owners, now) {
        Ok(changes) => {
            if !changes.is_empty() {
                log.read("ownership.changes", &changes);
            }
            (Decision::allow(RESPONSE_PHASE, log.into_fields()), changes)
        }
        Err(e) => (
            Decision::deny(
                OWNERSHIP_STORE,
                "recording who owns the object this call touched",
                &format!("the ownership record cannot be read ({e})"),
                log.into_fields(),
            ),
            Vec::new(),
        ),
    }
}
