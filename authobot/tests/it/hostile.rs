//! The hostile table: every host-escape vector in the spellings Go accepts, encoded paths,
//! missing bodies. The default policy must deny each one, by the expected rule.

use authobot::ownership::NothingOwned;
use authobot::{decide, decide_unexplained, Policy};

use crate::support::hostile_cases;

#[test]
fn hostile_table_covers_at_least_sixty_requests() {
    assert!(hostile_cases().len() >= 60);
}

#[test]
fn default_policy_denies_every_hostile_request_by_the_expected_rule() {
    let policy = Policy::embedded_default();
    let mut failures = Vec::new();
    for case in hostile_cases() {
        let decision = decide(&policy, &case.message);
        if decision.allow || decision.rule != case.rule {
            failures.push(format!(
                "{}: expected deny by {}, got allow={} rule={} message={:?}",
                case.case, case.rule, decision.allow, decision.rule, decision.message
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_deny_message_names_its_rule() {
    let policy = Policy::embedded_default();
    for case in hostile_cases() {
        let decision = decide(&policy, &case.message);
        assert!(
            decision
                .message
                .ends_with(&format!("(rule: {})", decision.rule)),
            "{}: {}",
            case.case,
            decision.message
        );
    }
}

#[test]
fn every_built_in_host_escape_rule_has_a_hostile_case() {
    let covered: Vec<String> = hostile_cases().into_iter().map(|c| c.rule).collect();
    for rule in authobot::rules::RULES {
        let only_with_relaxed_policies = [
            authobot::rules::NO_PROFILE,
            authobot::rules::DEFAULT,
            authobot::rules::NO_PLUGIN_PRIVILEGES,
            authobot::rules::NO_PLUGIN_HOST_SETTINGS,
            // Only a Rego policy decides by it: tests/it/rego.rs runs the table through one.
            authobot::rules::REGO,
        ];
        if only_with_relaxed_policies.contains(&rule.id) {
            continue;
        }
        assert!(
            covered.iter().any(|c| c == rule.id),
            "no hostile case for {}",
            rule.id
        );
    }
}

#[test]
fn serve_decides_every_hostile_request_as_explain_does_without_the_fields() {
    let policy = Policy::embedded_default();
    for case in hostile_cases() {
        let explained = decide(&policy, &case.message);
        let served = decide_unexplained(&policy, &case.message, &NothingOwned);
        assert_eq!(
            (served.allow, &served.rule, &served.message),
            (explained.allow, &explained.rule, &explained.message),
            "{}",
            case.case
        );
        assert!(served.fields.is_empty(), "{}", case.case);
        assert!(!explained.fields.is_empty(), "{}", case.case);
    }
}

#[test]
fn every_hostile_decision_keeps_the_route_the_parser_resolves() {
    let policy = Policy::embedded_default();
    for case in hostile_cases() {
        let served = decide_unexplained(&policy, &case.message, &NothingOwned);
        let parsed =
            protocol::route::parse(&case.message.request_method, &case.message.request_uri).ok();
        assert_eq!(
            served.route.map(|r| (r.template, r.path)),
            parsed.map(|r| (r.template, r.path)),
            "{}",
            case.case
        );
    }
}
