//! The plugin the protocol server drives: the decision core behind a policy that can be
//! swapped atomically (SIGHUP), an audit log and the ownership record, to which the changes
//! learned in the response phase are committed before the daemon gets its answer.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;
use protocol::{AuthzPlugin, AuthzReply, AuthzRequest, Phase};
use time::OffsetDateTime;

use crate::audit::{AuditLog, AuditRecord};
use crate::decide::decide;
use crate::decide::decide_with;
use crate::decision::Decision;
use crate::ownership::rules::OWNERSHIP_STORE;
use crate::ownership::store::Store;
use crate::ownership::OwnershipView;
use crate::policy::Policy;
use crate::response::{decide_response, learn_response};

/// authobot as an [`AuthzPlugin`].
#[derive(Debug)]
pub struct Authobot {
    policy: ArcSwap<Policy>,
    audit: AuditLog,
    owners: Option<Store>,
    /// Makes each response's read-then-commit of ownership atomic.
    learning: Mutex<()>,
}

impl Authobot {
    /// A plugin enforcing `policy` and auditing into `audit`.
    pub fn new(policy: Policy, audit: AuditLog) -> Authobot {
        Authobot {
            policy: ArcSwap::from_pointee(policy),
            audit,
            owners: None,
            learning: Mutex::new(()),
        }
    }

    /// A plugin that also records and enforces ownership in `owners`.
    pub fn with_store(policy: Policy, audit: AuditLog, owners: Store) -> Authobot {
        Authobot {
            owners: Some(owners),
            ..Authobot::new(policy, audit)
        }
    }

    /// The ownership record, if the plugin keeps one.
    pub fn store(&self) -> Option<&Store> {
        self.owners.as_ref()
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
        let decision: Decision = match (phase, &self.owners) {
            (Phase::Request, Some(store)) => decide_with(&policy, request, store),
            (Phase::Request, None) => decide(&policy, request),
            (Phase::Response, Some(store)) => self.learn(&policy, request, store),
            (Phase::Response, None) => decide_response(&policy, request),
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

impl Authobot {
    /// Learns from a response and commits what it learned (fsynced) before answering.
    fn learn(&self, policy: &Policy, request: &AuthzRequest, store: &Store) -> Decision {
        let _serialised = self.learning.lock().unwrap_or_else(|e| e.into_inner());
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let now = u64::try_from(now).unwrap_or_default();
        let (decision, changes) = learn_response(policy, request, store as &dyn OwnershipView, now);
        match commit_off_the_async_workers(|| store.apply(&changes)) {
            Ok(()) => decision,
            Err(e) => {
                tracing::error!(error = %e, "ownership change not recorded");
                Decision::deny(
                    OWNERSHIP_STORE,
                    "recording who owns the object this call touched",
                    &format!("the ownership record cannot be written ({e}); only admins can reach the object until it is recorded"),
                    decision.fields,
                )
            }
        }
    }
}

/// Runs a commit (it waits for fsync) so that, under a multi-threaded tokio runtime such as
/// `authobot serve`'s, the worker's other calls move to another thread meanwhile.
fn commit_off_the_async_workers<T>(commit: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(commit)
        }
        _ => commit(),
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
