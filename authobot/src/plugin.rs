//! The plugin the protocol server drives: the decision core behind a policy that can be
//! swapped atomically (SIGHUP) and an audit log.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use protocol::{AuthzPlugin, AuthzReply, AuthzRequest, Phase};
use time::OffsetDateTime;

use crate::audit::{AuditLog, AuditRecord};
use crate::decide::decide;
use crate::decision::Decision;
use crate::policy::Policy;
use crate::response::decide_response;

/// authobot as an [`AuthzPlugin`].
#[derive(Debug)]
pub struct Authobot {
    policy: ArcSwap<Policy>,
    audit: AuditLog,
}

impl Authobot {
    /// A plugin enforcing `policy` and auditing into `audit`.
    pub fn new(policy: Policy, audit: AuditLog) -> Authobot {
        Authobot {
            policy: ArcSwap::from_pointee(policy),
            audit,
        }
    }

    /// Swaps the policy in: calls already deciding finish with the old one.
    pub fn replace_policy(&self, policy: Policy) {
        self.policy.store(Arc::new(policy));
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    fn audited(&self, phase: Phase, request: &AuthzRequest) -> AuthzReply {
        let started = Instant::now();
        let policy = self.policy.load();
        let decision: Decision = match phase {
            Phase::Request => decide(&policy, request),
            Phase::Response => decide_response(&policy, request),
        };
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.audit.write(&AuditRecord::new(
            phase,
            request,
            &decision,
            micros,
            OffsetDateTime::now_utc(),
        ));
        decision.reply()
    }
}

impl AuthzPlugin for Authobot {
    fn authz_request(&self, request: &AuthzRequest) -> AuthzReply {
        self.audited(Phase::Request, request)
    }

    fn authz_response(&self, request: &AuthzRequest) -> AuthzReply {
        self.audited(Phase::Response, request)
    }
}
