//! The plugin the protocol server drives: the decision core behind a policy that can be
//! swapped atomically (SIGHUP), an audit log and the ownership record, in which the changes
//! learned in the response phase are recorded before the daemon gets its answer.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use protocol::{AuthzPlugin, AuthzReply, AuthzRequest, Phase};
use time::OffsetDateTime;

use crate::audit::{AuditLog, AuditRecord, OnFailure};
use crate::decide::decide_unexplained;
use crate::decision::{Decision, FieldLog};
use crate::metrics::Metrics;
use crate::ownership::rules::OWNERSHIP_STORE;
use crate::ownership::store::{Store, Unrecorded};
use crate::ownership::{NothingOwned, OwnershipView};
use crate::policy::Policy;
use crate::response::Answer;

/// The rule counted for calls refused because their audit line could not be written.
pub const AUDIT_UNWRITABLE: &str = "audit-log-unwritable";

/// authobot as an [`AuthzPlugin`].
#[derive(Debug)]
pub struct Authobot {
    policy: ArcSwap<Policy>,
    audit: AuditLog,
    owners: Option<Store>,
    metrics: Metrics,
}

impl Authobot {
    /// A plugin enforcing `policy` and auditing into `audit`.
    pub fn new(policy: Policy, audit: AuditLog) -> Authobot {
        Authobot {
            policy: ArcSwap::from_pointee(policy),
            audit,
            owners: None,
            metrics: Metrics::default(),
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

    /// The plugin's counters and state, in Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let journal = self.owners.as_ref().map(Store::status);
        self.metrics.render(journal.as_ref(), self.audit.lost())
    }

    fn audited(&self, phase: Phase, request: &AuthzRequest) -> AuthzReply {
        let started = Instant::now();
        // Nobody reads the fields of a served decision: decide without recording them.
        let decision: Decision = match phase {
            Phase::Request => {
                let owners: &dyn OwnershipView = match &self.owners {
                    Some(store) => store,
                    None => &NothingOwned,
                };
                decide_unexplained(&self.policy.load(), request, owners)
            }
            Phase::Response => answer(request, self.owners.as_ref(), &self.metrics),
        };
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let audited = self.audit.write(&AuditRecord::new(
            phase,
            request,
            &decision,
            micros,
            OffsetDateTime::now_utc(),
        ));
        match audited {
            Err(e) if self.audit.failure_action() == OnFailure::Deny => {
                self.metrics.decided(phase, false, AUDIT_UNWRITABLE);
                AuthzReply::deny(format!(
                    "the audit log cannot be written ({e}): authobot refuses every call until it can (--on-audit-failure deny)"
                ))
            }
            _ => {
                self.metrics.decided(phase, decision.allow, &decision.rule);
                decision.reply()
            }
        }
    }
}

/// Decides a response, learning from it when it can teach: only then is the record locked.
fn answer(request: &AuthzRequest, owners: Option<&Store>, metrics: &Metrics) -> Decision {
    let answer = Answer::new(request);
    let mut decision = match owners {
        Some(store) if answer.teaches() => learn(&answer, store, metrics),
        // Nothing to record (or nowhere to record it): the changes, if any, are dropped.
        _ => answer.decide(&NothingOwned, 0, FieldLog::off()).0,
    };
    decision.route = answer.into_routed();
    decision
}

/// Learns from a response and records what it learned before answering: the changes are
/// computed against the record once, under its write lock, and journaled before they apply.
fn learn(answer: &Answer<'_>, store: &Store, metrics: &Metrics) -> Decision {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let now = u64::try_from(now).unwrap_or_default();
    let learned = store.learn(|view| answer.decide(view, now, FieldLog::off()));
    metrics.learned(learned.is_ok());
    match learned {
        Ok(decision) => decision,
        Err(Unrecorded { learned, error }) => {
            tracing::error!(error = %error, "ownership change not recorded");
            Decision::deny(
                OWNERSHIP_STORE,
                "recording who owns the object this call touched",
                &format!("the ownership record cannot be written ({error}); only admins can reach the object until it is recorded"),
                learned.map(|d| d.fields).unwrap_or_default(),
            )
        }
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
