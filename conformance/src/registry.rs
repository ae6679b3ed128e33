//! The case registry: every case the suite knows, with its stable id and what runs it.

use std::future::Future;
use std::pin::Pin;

use crate::case::{CaseInfo, Group, Level, Outcome};
use crate::groups;
use crate::runner::Ctx;
use crate::target::SeenRefusal;

/// The future a probe returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// A hand-written check that drives the plugin directly.
pub type ProbeFn = for<'a> fn(&'a Ctx) -> CheckFuture<'a>;

/// A judgement over every refusal the whole run saw, made once every other case has run.
pub type RunJudgeFn = fn(&[SeenRefusal]) -> Outcome;

/// How a case is run.
#[derive(Debug, Clone)]
pub enum Check {
    /// Hand-written exchanges (protocol and robustness).
    Probe(ProbeFn),
    /// A probe, then (if it passed) a judgement over every refusal of the run.
    RunWide {
        /// Runs in the case's turn, so that the run has something to judge.
        probe: ProbeFn,
        /// Decides the case once the run is over.
        judge: RunJudgeFn,
    },
    /// A client request passed through each daemon profile; the plugin must refuse it.
    Vector(groups::security::Vector),
    /// A recorded escape; one of its mutating request-phase calls must be refused.
    CapturedEscape(groups::replay::Recording),
    /// A recorded workflow whose every call must be allowed.
    Replay(groups::replay::Recording),
    /// Generated bodies judged by the canonicaliser.
    Fuzz(groups::fuzz::FuzzTarget),
}

/// One case: what it requires and how it is checked.
#[derive(Debug, Clone)]
pub struct Case {
    /// Id, level, requirement, source.
    pub info: CaseInfo,
    /// What runs it.
    pub check: Check,
}

impl Case {
    /// A hand-written case.
    pub fn probe(
        id: &str,
        group: Group,
        level: Level,
        requirement: &str,
        source: &str,
        probe: ProbeFn,
    ) -> Case {
        Case {
            info: CaseInfo {
                id: id.to_owned(),
                group,
                level,
                requirement: requirement.to_owned(),
                source: source.to_owned(),
            },
            check: Check::Probe(probe),
        }
    }
}

/// Every case, in the order they run and are listed.
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(groups::protocol::cases());
    cases.extend(groups::robustness::cases());
    cases.extend(groups::security::cases(Group::Security));
    cases.extend(groups::security::cases(Group::Hardening));
    cases.extend(groups::replay::cases());
    cases.extend(groups::fuzz::cases());
    cases
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn case_ids_are_unique() {
        let cases = all();
        let ids: BTreeSet<&str> = cases.iter().map(|c| c.info.id.as_str()).collect();
        assert_eq!(ids.len(), cases.len());
    }

    #[test]
    fn case_ids_start_with_their_group() {
        for case in all() {
            let prefix = format!("{}.", case.info.group);
            assert!(case.info.id.starts_with(&prefix), "{}", case.info.id);
        }
    }

    #[test]
    fn every_case_names_a_requirement_and_a_source() {
        for case in all() {
            assert!(case.info.requirement.ends_with('.'), "{}", case.info.id);
            assert!(!case.info.source.is_empty(), "{}", case.info.id);
        }
    }
}
