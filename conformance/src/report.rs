//! Reports: text for people, JSON (versioned schema, documented in README.md) for machines,
//! JUnit XML for CI dashboards; and the exit code CI acts on.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::case::{CaseInfo, Claim, Group, Level, Outcome};
use crate::expectations::Unmatched;
use crate::runner::{Ctx, LevelFilter, Selection};
use crate::target::{RefusalKind, SeenRefusal};

/// The version of the JSON report schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Exit code: no MUST case failed.
pub const EXIT_OK: u8 = 0;
/// Exit code: at least one MUST case failed that `--expect-failures` did not list.
pub const EXIT_MUST_FAILED: u8 = 1;
/// Exit code: the harness could not run (socket missing or refusing connections, bad
/// arguments).
pub const EXIT_HARNESS: u8 = 2;

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case.
    pub info: CaseInfo,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
    /// Every refusal the case saw, and how each happened.
    pub refusals: Vec<SeenRefusal>,
    /// Why the case is expected to fail, when `--expect-failures` lists it.
    pub expected_failure: Option<String>,
}

impl CaseResult {
    /// Counts of the case's refusals by how they happened.
    pub fn refusal_counts(&self) -> RefusalCounts {
        let mut counts = RefusalCounts::default();
        for refusal in &self.refusals {
            match refusal.kind() {
                RefusalKind::Deny => counts.deny += 1,
                RefusalKind::PluginError => counts.plugin_error += 1,
                RefusalKind::Unanswered => counts.no_answer += 1,
            }
        }
        counts
    }

    /// For a passed case whose point is that calls are stopped (security, hardening, fuzz):
    /// the first refusal that was the plugin failing rather than denying.
    pub fn refused_by_failure(&self) -> Option<&SeenRefusal> {
        let stops_calls = matches!(
            self.info.group,
            Group::Security | Group::Hardening | Group::Fuzz
        );
        if !stops_calls || self.outcome != Outcome::Passed {
            return None;
        }
        self.refusals.iter().find(|r| r.kind().is_failure())
    }

    /// Failed, but listed as expected to.
    pub fn is_expected_failure(&self) -> bool {
        self.outcome.is_failed() && self.expected_failure.is_some()
    }

    /// Passed, though listed as expected to fail.
    pub fn is_unexpected_pass(&self) -> bool {
        self.outcome == Outcome::Passed && self.expected_failure.is_some()
    }
}

/// How a case's refusals happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RefusalCounts {
    /// HTTP 200, Allow false: the client got 403 and the plugin's Msg.
    pub deny: usize,
    /// Non-200 or undecodable: the client got 500 "plugin failed".
    pub plugin_error: usize,
    /// Connection refused or dropped, or no answer in time.
    pub no_answer: usize,
}

impl RefusalCounts {
    fn any(&self) -> bool {
        self.deny + self.plugin_error + self.no_answer > 0
    }
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The plugin name given on the command line.
    pub plugin_name: String,
    /// The socket the plugin was reached on.
    pub plugin_socket: String,
    /// The level filter used.
    pub level: LevelFilter,
    /// The claims the plugin was held to.
    pub claims: Vec<Claim>,
    /// The daemon profiles request vectors were passed through.
    pub profiles: Vec<String>,
    /// Why the harness could not run, if it could not.
    pub harness_error: Option<String>,
    /// The case whose failure made the suite stop waiting beyond the latency bound.
    pub stopped_waiting_after: Option<String>,
    /// Calls sent to the plugin by every case.
    pub calls_sent: usize,
    /// Of those, the calls the suite stopped waiting for.
    pub calls_given_up: usize,
    /// `--expect-failures` entries that matched no case of the run.
    pub unmatched_expectations: Vec<Unmatched>,
    /// Results in listed order.
    pub results: Vec<CaseResult>,
}

/// Counts over a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed, any level.
    pub failed: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// Failed cases of level MUST.
    pub must_failed: usize,
    /// Failed cases `--expect-failures` listed (counted in `failed` too).
    pub expected_failures: usize,
    /// Passed cases `--expect-failures` listed as expected to fail (counted in `passed` too).
    pub unexpected_passes: usize,
    /// Passed security, hardening and fuzz cases where a call was stopped by the plugin
    /// failing (an error status, a dropped connection, a timeout) rather than by a deny.
    pub refused_by_failure: usize,
}

impl Report {
    /// An empty report for a run of `ctx` under `selection`.
    pub fn new(ctx: &Ctx, selection: &Selection) -> Self {
        Report {
            plugin_name: ctx.target.name().to_owned(),
            plugin_socket: ctx.target.socket().display().to_string(),
            level: selection.level(),
            claims: selection.claims().iter().copied().collect(),
            profiles: ctx.profiles.iter().map(|p| p.to_string()).collect(),
            harness_error: None,
            stopped_waiting_after: None,
            calls_sent: 0,
            calls_given_up: 0,
            unmatched_expectations: Vec::new(),
            results: Vec::new(),
        }
    }

    /// Counts passed, failed and skipped cases.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for result in &self.results {
            match result.outcome {
                Outcome::Passed => summary.passed += 1,
                Outcome::Failed { .. } => {
                    summary.failed += 1;
                    if result.info.level == Level::Must {
                        summary.must_failed += 1;
                    }
                }
                Outcome::Skipped { .. } => summary.skipped += 1,
            }
            summary.expected_failures += usize::from(result.is_expected_failure());
            summary.unexpected_passes += usize::from(result.is_unexpected_pass());
            summary.refused_by_failure += usize::from(result.refused_by_failure().is_some());
        }
        summary
    }

    /// 2 when the harness could not run, 1 when a MUST case failed that was not expected to,
    /// else 0.
    pub fn exit_code(&self) -> u8 {
        let unexpected_must_failure = self.results.iter().any(|r| {
            r.info.level == Level::Must && r.outcome.is_failed() && !r.is_expected_failure()
        });
        if self.harness_error.is_some() {
            EXIT_HARNESS
        } else if unexpected_must_failure {
            EXIT_MUST_FAILED
        } else {
            EXIT_OK
        }
    }

    /// The result of one case, by id.
    pub fn result(&self, id: &str) -> Option<&CaseResult> {
        self.results.iter().find(|r| r.info.id == id)
    }

    /// One line a case (`ok`, `not ok`, `skip`), expected and seen under failures, and the
    /// closing count line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(error) = &self.harness_error {
            let _ = writeln!(out, "harness error: {error}");
        }
        if let Some(id) = &self.stopped_waiting_after {
            let _ = writeln!(
                out,
                "note: the plugin failed {id}; later calls were given up after the latency bound"
            );
        }
        for result in &self.results {
            let info = &result.info;
            let mark = match (&result.expected_failure, &result.outcome) {
                (Some(reason), Outcome::Failed { .. }) => format!(" # expected failure: {reason}"),
                (Some(reason), Outcome::Passed) => {
                    format!(" # unexpectedly passed (listed as expected to fail: {reason})")
                }
                _ => String::new(),
            };
            match &result.outcome {
                Outcome::Passed => {
                    let _ = writeln!(out, "ok {} ({}){mark}", info.id, info.level);
                    if let Some(refusal) = result.refused_by_failure() {
                        let counts = result.refusal_counts();
                        let _ = writeln!(
                            out,
                            "    refused by the plugin failing, not by a deny ({} plugin errors, {} unanswered of {} refusals): {}: {}",
                            counts.plugin_error,
                            counts.no_answer,
                            result.refusals.len(),
                            refusal.call,
                            refusal.verdict
                        );
                    }
                }
                Outcome::Failed { expected, seen } => {
                    let _ = writeln!(out, "not ok {} ({}){mark}", info.id, info.level);
                    let _ = writeln!(out, "    requirement: {}", info.requirement);
                    let _ = writeln!(out, "    source: {}", info.source);
                    let _ = writeln!(out, "    expected: {expected}");
                    let _ = writeln!(out, "    seen: {seen}");
                }
                Outcome::Skipped { reason } => {
                    let _ = writeln!(out, "skip {} ({}): {reason}", info.id, info.level);
                }
            }
        }
        let summary = self.summary();
        if summary.refused_by_failure > 0 {
            let _ = writeln!(
                out,
                "refused by failure: {} passed cases stopped a call by an error or no answer, not a deny",
                summary.refused_by_failure
            );
        }
        if summary.expected_failures + summary.unexpected_passes > 0 {
            let _ = writeln!(
                out,
                "expected failures: {} failed as listed, {} listed cases passed (take them off the list)",
                summary.expected_failures, summary.unexpected_passes
            );
        }
        for unmatched in &self.unmatched_expectations {
            let _ = writeln!(
                out,
                "expected failure matching no case of this run: {unmatched}"
            );
        }
        let _ = writeln!(
            out,
            "conformance: {} passed, {} failed, {} skipped",
            summary.passed, summary.failed, summary.skipped
        );
        out
    }

    fn json_document(&self) -> JsonReport<'_> {
        JsonReport {
            schema_version: SCHEMA_VERSION,
            suite: "authobot-conformance",
            suite_version: env!("CARGO_PKG_VERSION"),
            plugin: JsonPlugin {
                name: &self.plugin_name,
                socket: &self.plugin_socket,
            },
            level: self.level,
            claims: &self.claims,
            profiles: &self.profiles,
            harness_error: self.harness_error.as_deref(),
            stopped_waiting_after: self.stopped_waiting_after.as_deref(),
            calls: JsonCalls {
                sent: self.calls_sent,
                given_up: self.calls_given_up,
            },
            unmatched_expectations: &self.unmatched_expectations,
            summary: self.summary(),
            exit_code: self.exit_code(),
            cases: self.results.iter().map(JsonCase::from).collect(),
        }
    }

    /// The JSON report, schema version [`SCHEMA_VERSION`], as a value.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json_document()).expect("the report always serializes")
    }

    /// The JSON report, schema version [`SCHEMA_VERSION`], pretty-printed in schema order.
    pub fn to_json_pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.json_document())
            .expect("the report always serializes");
        text.push('\n');
        text
    }

    /// JUnit XML: one testsuite per group, one testcase per case.
    pub fn to_junit(&self) -> String {
        let summary = self.summary();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let total: f64 = self.results.iter().map(|r| r.duration.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "<testsuites name=\"conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{total:.3}\">",
            self.results.len(),
            summary.failed - summary.expected_failures,
            summary.skipped + summary.expected_failures
        );
        let mut groups: Vec<_> = self.results.iter().map(|r| r.info.group).collect();
        groups.dedup();
        groups.sort();
        groups.dedup();
        for group in groups {
            let members: Vec<&CaseResult> = self
                .results
                .iter()
                .filter(|r| r.info.group == group)
                .collect();
            let failures = members
                .iter()
                .filter(|r| r.outcome.is_failed() && !r.is_expected_failure())
                .count();
            let skipped = members
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Skipped { .. }) || r.is_expected_failure())
                .count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{group}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
                members.len()
            );
            for result in members {
                let _ = write!(
                    out,
                    "    <testcase classname=\"{group}\" name=\"{}\" time=\"{:.3}\"",
                    xml_escape(&result.info.id),
                    result.duration.as_secs_f64()
                );
                match &result.outcome {
                    Outcome::Passed => out.push_str("/>\n"),
                    Outcome::Failed { expected, seen } if result.is_expected_failure() => {
                        let _ = writeln!(
                            out,
                            ">\n      <skipped message=\"expected failure: {}\">expected: {}\nseen: {}</skipped>\n    </testcase>",
                            xml_escape(result.expected_failure.as_deref().unwrap_or_default()),
                            xml_escape(expected),
                            xml_escape(seen)
                        );
                    }
                    Outcome::Failed { expected, seen } => {
                        let _ = writeln!(
                            out,
                            ">\n      <failure type=\"{}\" message=\"{}\">expected: {}\nseen: {}\nsource: {}</failure>\n    </testcase>",
                            result.info.level,
                            xml_escape(&result.info.requirement),
                            xml_escape(expected),
                            xml_escape(seen),
                            xml_escape(&result.info.source)
                        );
                    }
                    Outcome::Skipped { reason } => {
                        let _ = writeln!(
                            out,
                            ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                            xml_escape(reason)
                        );
                    }
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    suite: &'static str,
    suite_version: &'static str,
    plugin: JsonPlugin<'a>,
    level: LevelFilter,
    claims: &'a [Claim],
    profiles: &'a [String],
    harness_error: Option<&'a str>,
    stopped_waiting_after: Option<&'a str>,
    calls: JsonCalls,
    unmatched_expectations: &'a [Unmatched],
    summary: Summary,
    exit_code: u8,
    cases: Vec<JsonCase<'a>>,
}

#[derive(Serialize)]
struct JsonCalls {
    sent: usize,
    given_up: usize,
}

#[derive(Serialize)]
struct JsonPlugin<'a> {
    name: &'a str,
    socket: &'a str,
}

#[derive(Serialize)]
struct JsonCase<'a> {
    id: &'a str,
    group: crate::case::Group,
    level: Level,
    requirement: &'a str,
    source: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seen: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusals: Option<RefusalCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused_by_failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_failure: Option<&'a str>,
    duration_ms: u64,
}

impl<'a> From<&'a CaseResult> for JsonCase<'a> {
    fn from(result: &'a CaseResult) -> Self {
        let (status, expected, seen, reason) = match &result.outcome {
            Outcome::Passed => ("passed", None, None, None),
            Outcome::Failed { expected, seen } => {
                ("failed", Some(expected.as_str()), Some(seen.as_str()), None)
            }
            Outcome::Skipped { reason } => ("skipped", None, None, Some(reason.as_str())),
        };
        JsonCase {
            id: &result.info.id,
            group: result.info.group,
            level: result.info.level,
            requirement: &result.info.requirement,
            source: &result.info.source,
            status,
            expected,
            seen,
            reason,
            refusals: Some(result.refusal_counts()).filter(RefusalCounts::any),
            refused_by_failure: result
                .refused_by_failure()
                .map(|r| format!("{}: {}", r.call, r.verdict)),
            expected_failure: result.expected_failure.as_deref(),
            duration_ms: u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Group;

    fn report_with(outcomes: Vec<(Level, Outcome)>) -> Report {
        Report {
            plugin_name: "p".into(),
            plugin_socket: "/run/p.sock".into(),
            level: LevelFilter::All,
            claims: vec![],
            profiles: vec![],
            harness_error: None,
            stopped_waiting_after: None,
            calls_sent: 0,
            calls_given_up: 0,
            unmatched_expectations: Vec::new(),
            results: outcomes
                .into_iter()
                .enumerate()
                .map(|(i, (level, outcome))| CaseResult {
                    info: CaseInfo {
                        id: format!("protocol.case-{i}"),
                        group: Group::Protocol,
                        level,
                        requirement: "A <requirement> & more.".into(),
                        source: "test".into(),
                    },
                    outcome,
                    duration: Duration::from_millis(3),
                    refusals: Vec::new(),
                    expected_failure: None,
                })
                .collect(),
        }
    }

    #[test]
    fn exit_code_is_zero_when_only_should_cases_fail() {
        let report = report_with(vec![
            (Level::Must, Outcome::Passed),
            (Level::Should, Outcome::failed("a", "b")),
        ]);
        assert_eq!(report.exit_code(), EXIT_OK);
    }

    #[test]
    fn exit_code_is_one_when_a_must_case_fails() {
        let report = report_with(vec![(Level::Must, Outcome::failed("a", "b"))]);
        assert_eq!(report.exit_code(), EXIT_MUST_FAILED);
    }

    #[test]
    fn exit_code_is_two_when_the_harness_could_not_run() {
        let mut report = report_with(vec![(Level::Must, Outcome::Passed)]);
        report.harness_error = Some("no socket".into());
        assert_eq!(report.exit_code(), EXIT_HARNESS);
    }

    #[test]
    fn text_report_closes_with_the_count_line() {
        let report = report_with(vec![
            (Level::Must, Outcome::Passed),
            (Level::Must, Outcome::failed("deny", "allow")),
            (Level::May, Outcome::skipped("n/a")),
        ]);
        let text = report.to_text();
        assert!(text.contains("not ok protocol.case-1 (MUST)\n"));
        assert!(text.contains("    expected: deny\n    seen: allow\n"));
        assert!(text.ends_with("conformance: 1 passed, 1 failed, 1 skipped\n"));
    }

    #[test]
    fn exit_code_is_zero_when_the_only_must_failure_is_expected() {
        let mut report = report_with(vec![(Level::Must, Outcome::failed("a", "b"))]);
        report.results[0].expected_failure = Some("known".into());
        assert_eq!(report.exit_code(), EXIT_OK);
        assert_eq!(report.summary().expected_failures, 1);
    }

    #[test]
    fn text_marks_an_expected_failure_and_an_unexpected_pass() {
        let mut report = report_with(vec![
            (Level::Must, Outcome::failed("a", "b")),
            (Level::Must, Outcome::Passed),
        ]);
        for result in &mut report.results {
            result.expected_failure = Some("known".into());
        }
        let text = report.to_text();
        assert!(text.contains("not ok protocol.case-0 (MUST) # expected failure: known\n"));
        assert!(text.contains(
            "ok protocol.case-1 (MUST) # unexpectedly passed (listed as expected to fail: known)\n"
        ));
        assert_eq!(report.summary().unexpected_passes, 1);
    }

    fn refused(verdict: crate::target::Verdict) -> SeenRefusal {
        SeenRefusal {
            call: "Request POST /v1.41/containers/create".into(),
            well_formed: true,
            verdict,
        }
    }

    #[test]
    fn a_security_case_passed_by_a_dropped_connection_says_so() {
        let mut report = report_with(vec![(Level::Must, Outcome::Passed)]);
        report.results[0].info.group = Group::Security;
        report.results[0].refusals = vec![refused(crate::target::Verdict::Unanswered {
            reason: "connection closed".into(),
        })];
        assert!(report
            .to_text()
            .contains("refused by the plugin failing, not by a deny"));
        assert_eq!(report.summary().refused_by_failure, 1);
    }

    #[test]
    fn a_security_case_passed_by_denies_is_not_flagged() {
        let mut report = report_with(vec![(Level::Must, Outcome::Passed)]);
        report.results[0].info.group = Group::Security;
        report.results[0].refusals = vec![refused(crate::target::Verdict::Deny {
            msg: "no".into(),
            err: String::new(),
        })];
        assert_eq!(report.summary().refused_by_failure, 0);
        assert_eq!(report.results[0].refusal_counts().deny, 1);
    }

    #[test]
    fn junit_report_escapes_markup_in_texts() {
        let report = report_with(vec![(Level::Must, Outcome::failed("<deny>", "\"allow\""))]);
        let xml = report.to_junit();
        assert!(xml.contains("message=\"A &lt;requirement&gt; &amp; more.\""));
        assert!(xml.contains("expected: &lt;deny&gt;\nseen: &quot;allow&quot;"));
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;
    use crate::case::Group;

    const SCHEMA: &str = include_str!("../report.schema.json");

    /// Every key of `value` is a property of `schema`, and every required one is present.
    fn assert_keys_match(value: &serde_json::Value, schema: &serde_json::Value, at: &str) {
        let object = value
            .as_object()
            .unwrap_or_else(|| panic!("{at} is not an object"));
        let properties = schema["properties"].as_object().expect("properties");
        for key in object.keys() {
            assert!(
                properties.contains_key(key),
                "{at}.{key} is not in the schema"
            );
        }
        for key in schema["required"].as_array().expect("required") {
            let key = key.as_str().expect("a key");
            assert!(
                object.contains_key(key),
                "{at}.{key} is required by the schema"
            );
        }
    }

    #[test]
    fn json_report_has_exactly_the_fields_the_schema_documents() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
        let results = [
            Outcome::Passed,
            Outcome::failed("deny", "allow"),
            Outcome::skipped("n/a"),
        ]
        .into_iter()
        .map(|outcome| CaseResult {
            info: CaseInfo {
                id: "security.x".into(),
                group: Group::Security,
                level: Level::Must,
                requirement: "R.".into(),
                source: "S".into(),
            },
            outcome,
            duration: Duration::from_millis(1),
            refusals: vec![SeenRefusal {
                call: "Request POST /containers/create".into(),
                well_formed: true,
                verdict: crate::target::Verdict::Failed {
                    status: 500,
                    text: "boom".into(),
                },
            }],
            expected_failure: Some("known".into()),
        })
        .collect();
        let report = Report {
            plugin_name: "p".into(),
            plugin_socket: "/p.sock".into(),
            level: LevelFilter::All,
            claims: vec![Claim::NoHostEscape],
            profiles: vec!["moby-20.10".into()],
            harness_error: None,
            stopped_waiting_after: Some("protocol.latency.bounded".into()),
            calls_sent: 3,
            calls_given_up: 1,
            unmatched_expectations: vec![Unmatched {
                pattern: "security.typo".into(),
                line: 1,
            }],
            results,
        };
        let json = report.to_json();
        assert_keys_match(&json, &schema, "report");
        assert_keys_match(&json["plugin"], &schema["properties"]["plugin"], "plugin");
        assert_keys_match(
            &json["summary"],
            &schema["properties"]["summary"],
            "summary",
        );
        assert_keys_match(&json["calls"], &schema["properties"]["calls"], "calls");
        for unmatched in json["unmatched_expectations"].as_array().expect("array") {
            let items = &schema["properties"]["unmatched_expectations"]["items"];
            assert_keys_match(unmatched, items, "unmatched_expectations[]");
        }
        let case_schema = &schema["properties"]["cases"]["items"];
        for case in json["cases"].as_array().expect("cases") {
            assert_keys_match(case, case_schema, "case");
            assert_keys_match(
                &case["refusals"],
                &case_schema["properties"]["refusals"],
                "case.refusals",
            );
        }
        assert!(json["cases"][0]["refused_by_failure"].is_string());
        assert!(json["cases"][1]["expected_failure"].is_string());
        assert_eq!(
            json["schema_version"],
            schema["properties"]["schema_version"]["const"]
        );
    }
}
