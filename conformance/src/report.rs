//! Reports: text for people, JSON (versioned schema, documented in README.md) for machines,
//! JUnit XML for CI dashboards; and the exit code CI acts on.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::case::{CaseInfo, Claim, Level, Outcome};
use crate::runner::{Ctx, LevelFilter, Selection};

/// The version of the JSON report schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Exit code: no MUST case failed.
pub const EXIT_OK: u8 = 0;
/// Exit code: at least one MUST case failed.
pub const EXIT_MUST_FAILED: u8 = 1;
/// Exit code: the harness could not run (socket missing, activation failed, bad arguments).
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
    /// Results in run order.
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
        }
        summary
    }

    /// 2 when the harness could not run, 1 when a MUST case failed, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.harness_error.is_some() {
            EXIT_HARNESS
        } else if self.summary().must_failed > 0 {
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
        for result in &self.results {
            let info = &result.info;
            match &result.outcome {
                Outcome::Passed => {
                    let _ = writeln!(out, "ok {} ({})", info.id, info.level);
                }
                Outcome::Failed { expected, seen } => {
                    let _ = writeln!(out, "not ok {} ({})", info.id, info.level);
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
            summary.failed,
            summary.skipped
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
            let failures = members.iter().filter(|r| r.outcome.is_failed()).count();
            let skipped = members
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Skipped { .. }))
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
    summary: Summary,
    exit_code: u8,
    cases: Vec<JsonCase<'a>>,
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
                id: "protocol.x".into(),
                group: Group::Protocol,
                level: Level::Must,
                requirement: "R.".into(),
                source: "S".into(),
            },
            outcome,
            duration: Duration::from_millis(1),
        })
        .collect();
        let report = Report {
            plugin_name: "p".into(),
            plugin_socket: "/p.sock".into(),
            level: LevelFilter::All,
            claims: vec![Claim::NoHostEscape],
            profiles: vec!["moby-20.10".into()],
            harness_error: None,
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
        for case in json["cases"].as_array().expect("cases") {
            assert_keys_match(case, &schema["properties"]["cases"]["items"], "case");
        }
        assert_eq!(
            json["schema_version"],
            schema["properties"]["schema_version"]["const"]
        );
    }
}
