//! The trait an authz plugin implements; the server in [`crate::server`] drives it.

use crate::wire::{ActivateManifest, AuthzReply, AuthzRequest};

/// An authorization plugin: one decision per phase of every API call.
///
/// Decisions are synchronous and must not block for long: the daemon waits on them with no
/// timeout of its own. The server answers malformed calls itself (deny) without asking.
pub trait AuthzPlugin: Send + Sync + 'static {
    /// Decides `AuthZPlugin.AuthZReq`, before the daemon acts.
    fn authz_request(&self, request: &AuthzRequest) -> AuthzReply;

    /// Decides `AuthZPlugin.AuthZRes`, after the daemon's handler ran.
    fn authz_response(&self, request: &AuthzRequest) -> AuthzReply;

    /// The Activate manifest; an authz plugin keeps the default.
    fn manifest(&self) -> ActivateManifest {
        ActivateManifest::authz()
    }
}
