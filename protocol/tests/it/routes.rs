//! Integration tests: the route parser against a table of raw request targets and the route
//! dockerd executes for each (`tests/data/routes.jsonl`, checked against Go by
//! `fuzz/check-routes.sh`).

use std::collections::BTreeMap;

use protocol::route::{self, Route, RouteError};
use serde::Deserialize;

/// One line of `routes.jsonl`.
#[derive(Debug, Deserialize)]
struct Case {
    method: String,
    target: String,
    why: String,
    expect: String,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    query: Vec<(String, String)>,
}

fn cases() -> Vec<Case> {
    let text = include_str!("../data/routes.jsonl");
    text.lines()
        .filter(|line| line.contains("\"expect\""))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

fn error_kind(error: &RouteError) -> &'static str {
    match error {
        RouteError::Malformed { .. } => "malformed",
        RouteError::Unknown { .. } => "unknown",
        RouteError::Unclean { .. } => "unclean",
        RouteError::Query { .. } => "query",
    }
}

fn mismatch(case: &Case, route: &Route) -> Option<String> {
    let params: BTreeMap<String, String> = route
        .params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let wrong = Some(route.template) != case.template.as_deref()
        || route.version != case.version
        || params != case.params
        || route.query != case.query
        || case.path.as_ref().is_some_and(|p| *p != route.path);
    wrong.then(|| format!("got {route:?}"))
}

#[test]
fn every_table_target_routes_as_dockerd_routes_it() {
    let cases = cases();
    assert!(cases.len() > 100, "the table lost cases");
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = route::parse(&case.method, &case.target);
        let problem = match (&outcome, case.expect.as_str()) {
            (Ok(route), "route") => mismatch(case, route),
            (Err(error), expected) if error_kind(error) == expected => None,
            (outcome, _) => Some(format!("got {outcome:?}")),
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "{} {:?} ({}): expected {}, {problem}",
                case.method, case.target, case.why, case.expect
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn route_path_drops_the_version_prefix_and_query() {
    let route = route::parse("POST", "/v1.41/containers/web/start?x=1").unwrap();
    assert_eq!(route.path, "/containers/web/start");
    assert_eq!(route.version.as_deref(), Some("1.41"));
}

#[test]
fn query_value_is_the_first_like_form_get() {
    let route = route::parse("POST", "/build?networkmode=host&networkmode=none").unwrap();
    assert_eq!(route.query_value("networkmode"), Some("host"));
}

#[test]
fn api_version_below_compares_parts_numerically() {
    let route = route::parse("POST", "/v1.9/containers/web/start").unwrap();
    assert!(route.api_version_below("1.24"));
    let route = route::parse("POST", "/v1.24/containers/web/start").unwrap();
    assert!(!route.api_version_below("1.24"));
}

#[test]
fn api_version_below_treats_missing_parts_as_zero() {
    let route = route::parse("POST", "/v1/containers/web/start").unwrap();
    assert!(route.api_version_below("1.24"));
    let route = route::parse("POST", "/v1.24.0/containers/web/start").unwrap();
    assert!(!route.api_version_below("1.24"));
}

#[test]
fn unversioned_route_is_never_below_a_version() {
    let route = route::parse("POST", "/containers/web/start").unwrap();
    assert!(!route.api_version_below("1.24"));
    assert!(!route.api_version_below("999"));
}

#[test]
fn unclean_error_names_the_redirect_target() {
    let error = route::parse("POST", "/containers/%2E%2E/create").unwrap_err();
    assert_eq!(
        error,
        RouteError::Unclean {
            path: "/containers/../create".into(),
            cleaned: "/create".into(),
        }
    );
}

#[test]
fn long_greedy_names_parse_without_blowing_up() {
    let name = "a/".repeat(50_000);
    let target = format!("/containers/{name}x/start");
    let route = route::parse("POST", &target).unwrap();
    assert_eq!(route.param("name").map(str::len), Some(name.len() + 1));
}

#[test]
fn form_encoded_post_bodies_may_set_parameters() {
    for content_type in [
        "application/x-www-form-urlencoded",
        "Application/X-WWW-Form-Urlencoded; charset=utf-8",
        "multipart/form-data; boundary=x",
    ] {
        assert!(
            route::form_body_may_set_parameters("POST", Some(content_type)),
            "{content_type}"
        );
    }
}

#[test]
fn other_bodies_and_methods_do_not_set_parameters() {
    assert!(!route::form_body_may_set_parameters(
        "POST",
        Some("application/x-tar")
    ));
    assert!(!route::form_body_may_set_parameters("POST", None));
    assert!(!route::form_body_may_set_parameters(
        "GET",
        Some("application/x-www-form-urlencoded")
    ));
}

/// Targets assembled from the pieces routing cares about, plus arbitrary text.
fn target_strategy() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        Just("/v1.41".to_owned()),
        Just("/v.".to_owned()),
        Just("/containers".to_owned()),
        Just("/create".to_owned()),
        Just("/exec".to_owned()),
        Just("/%2F".to_owned()),
        Just("/%2E%2E".to_owned()),
        Just("/..".to_owned()),
        Just("/.".to_owned()),
        Just("/".to_owned()),
        Just("?x=/auth".to_owned()),
        Just(";".to_owned()),
        Just("%0A".to_owned()),
        Just("http://h".to_owned()),
        "[ -~]{0,6}",
        "\\PC{0,3}",
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest::proptest! {
    #[test]
    fn any_target_parses_without_panic_to_a_clean_rooted_route(
        method in proptest::prop_oneof![
            proptest::strategy::Just("GET"),
            proptest::strategy::Just("POST"),
            proptest::strategy::Just("DELETE"),
            proptest::strategy::Just("OPTIONS"),
        ],
        target in target_strategy(),
    ) {
        if let Ok(route) = route::parse(method, &target) {
            proptest::prop_assert!(route.path.starts_with('/'));
            proptest::prop_assert!(!route.path.contains("//"));
            proptest::prop_assert!(!route.path.split('/').any(|s| s == "." || s == ".."));
            for (_, value) in &route.params {
                proptest::prop_assert!(route.path.contains(value.as_str()));
            }
        }
    }
}
