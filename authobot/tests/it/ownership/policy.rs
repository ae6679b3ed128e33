//! Roles in the policy file: groups mapping users to profiles, the admin role, and the
//! ownership settings, all validated with line numbers.

use authobot::policy::Caller;
use authobot::Policy;

const BASE: &str = "default = \"allow\"\nunknown_users = \"dev\"\n[profiles.dev]\n[profiles.ops]\n";

fn errors(text: &str) -> Vec<(usize, String)> {
    Policy::parse(text)
        .expect_err("the policy is invalid")
        .0
        .iter()
        .map(|e| (e.line(), e.to_string()))
        .collect()
}

#[test]
fn a_group_member_gets_the_groups_profile() {
    let policy = Policy::parse(&format!(
        "{BASE}[groups.operators]\nmembers = [\"dave\"]\nprofile = \"ops\"\n"
    ))
    .unwrap();
    assert_eq!(
        policy.profile_for(Caller::User("dave")).unwrap().name,
        "ops"
    );
    assert_eq!(
        policy.profile_for(Caller::User("erin")).unwrap().name,
        "dev"
    );
}

#[test]
fn the_admin_role_comes_from_a_group() {
    let policy = Policy::parse(&format!(
        "{BASE}[groups.admins]\nmembers = [\"carol\"]\nadmin = true\n"
    ))
    .unwrap();
    assert!(policy.is_admin(Caller::User("carol")));
    assert!(!policy.is_admin(Caller::User("alice")));
    assert!(!policy.is_admin(Caller::Anonymous));
}

#[test]
fn a_group_naming_an_undefined_profile_is_reported_with_its_line() {
    let found = errors(&format!(
        "{BASE}[groups.g]\nmembers = [\"x\"]\nprofile = \"nope\"\n"
    ));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, 7);
    assert!(found[0].1.contains("\"nope\""));
}

#[test]
fn a_user_given_two_profiles_is_reported_with_its_line() {
    let found = errors(&format!(
        "{BASE}[users]\ndave = \"dev\"\n[groups.g]\nmembers = [\"dave\"]\nprofile = \"ops\"\n"
    ));
    assert_eq!(found[0].0, 8);
    assert!(found[0].1.contains("\"dave\""), "{}", found[0].1);
}

#[test]
fn a_group_with_neither_profile_nor_role_is_reported_with_its_line() {
    let found = errors(&format!("{BASE}[groups.g]\nmembers = [\"x\"]\n"));
    assert_eq!(found[0].0, 6);
}

#[test]
fn an_unknown_ownership_setting_is_reported_with_its_line() {
    let found = errors(&format!("{BASE}[profiles.dev.ownership]\nquota = 3\n"));
    assert_eq!(found[0].0, 6);
}

#[test]
fn an_unknown_enforcement_mode_is_reported_with_its_line() {
    let found = errors(&format!(
        "{BASE}[profiles.dev.ownership]\nenforce = \"sometimes\"\n"
    ));
    assert_eq!(found[0].0, 6);
}

#[test]
fn the_embedded_default_policy_checks_tls_users_only() {
    use authobot::ownership::Enforce;
    let policy = Policy::embedded_default();
    let profile = policy.profile_for(Caller::User("alice")).unwrap();
    assert_eq!(profile.ownership.enforce, Enforce::Identified);
}
