//! The response-phase decision (`AuthZPlugin.AuthZRes`), kept apart from the request phase.
//!
//! v1 refuses everything it must in the request phase, so the response phase allows: a
//! response-phase deny cannot undo what the daemon already did (a created container stays),
//! and streamed or hijacked responses arrive here empty. This is where ownership learned from
//! the daemon's answers (issue 7) will be recorded.

use protocol::AuthzRequest;

use crate::decision::{Decision, FieldLog};
use crate::policy::Policy;

/// The rule name of response-phase allows.
pub const RESPONSE_PHASE: &str = "response-phase";

/// Decides the response phase of one API call.
pub fn decide_response(_policy: &Policy, request: &AuthzRequest) -> Decision {
    let mut log = FieldLog::default();
    log.read("ResponseStatusCode", request.response_status_code);
    Decision::allow(RESPONSE_PHASE, log.into_fields())
}
