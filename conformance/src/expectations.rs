//! Known failures (`--expect-failures FILE`), as rustls keeps BoGo's: a CI job that runs the
//! suite against a plugin lists the cases it knows that plugin fails, each with its reason, and
//! stays green until something changes: a listed case that fails is reported apart and does not
//! fail the run, and a listed case that now passes is reported so the list can shrink.
//!
//! The file holds one `CASE-ID-OR-GLOB = reason` a line; blank lines and lines starting with
//! `#` are ignored.

use std::fmt;

use globset::{Glob, GlobMatcher};

/// One entry of the file.
#[derive(Debug, Clone)]
struct Entry {
    pattern: String,
    matcher: GlobMatcher,
    reason: String,
    line: usize,
}

/// The known failures of one plugin.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    entries: Vec<Entry>,
}

/// A line of the file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ExpectationsError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub problem: String,
}

impl Expectations {
    /// Reads the file's text.
    pub fn parse(text: &str) -> Result<Expectations, ExpectationsError> {
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let error = |problem: String| ExpectationsError { line, problem };
            let (pattern, reason) = content.split_once('=').ok_or_else(|| {
                error("expected `CASE-ID-OR-GLOB = reason`, found no `=`".to_owned())
            })?;
            let (pattern, reason) = (pattern.trim(), reason.trim());
            if pattern.is_empty() {
                return Err(error("no case id or glob before `=`".to_owned()));
            }
            if reason.is_empty() {
                return Err(error(format!("{pattern} has no reason after `=`")));
            }
            let matcher = Glob::new(pattern)
                .map_err(|e| error(format!("{pattern} is not a valid glob: {e}")))?
                .compile_matcher();
            entries.push(Entry {
                pattern: pattern.to_owned(),
                matcher,
                reason: reason.to_owned(),
                line,
            });
        }
        Ok(Expectations { entries })
    }

    /// The reason case `id` is expected to fail, from the first entry that matches it.
    pub fn reason_for(&self, id: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.matcher.is_match(id))
            .map(|e| e.reason.as_str())
    }

    /// The entries that match none of `ids`: a typo, or cases this run did not select.
    pub fn unmatched<'a>(&self, ids: impl IntoIterator<Item = &'a str> + Clone) -> Vec<Unmatched> {
        self.entries
            .iter()
            .filter(|e| !ids.clone().into_iter().any(|id| e.matcher.is_match(id)))
            .map(|e| Unmatched {
                pattern: e.pattern.clone(),
                line: e.line,
            })
            .collect()
    }

    /// Whether the file listed nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// An entry that matched no case of the run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unmatched {
    /// The id or glob as written.
    pub pattern: String,
    /// Its line in the file.
    pub line: usize,
}

impl fmt::Display for Unmatched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (line {})", self.pattern, self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_globs_carry_their_reasons() {
        let expectations = Expectations::parse(
            "# known\n\nsecurity.create.privileged.top-level = reads HostConfig only\nhardening.* = not claimed\n",
        )
        .expect("valid");
        assert_eq!(
            expectations.reason_for("security.create.privileged.top-level"),
            Some("reads HostConfig only")
        );
        assert_eq!(
            expectations.reason_for("hardening.create.runtime"),
            Some("not claimed")
        );
        assert_eq!(
            expectations.reason_for("security.create.privileged.plain"),
            None
        );
    }

    #[test]
    fn the_first_matching_entry_gives_the_reason() {
        let expectations =
            Expectations::parse("security.exec.privileged = first\nsecurity.* = second\n")
                .expect("valid");
        assert_eq!(
            expectations.reason_for("security.exec.privileged"),
            Some("first")
        );
    }

    #[test]
    fn a_line_without_a_reason_is_refused_with_its_number() {
        let error = Expectations::parse("# header\nsecurity.exec.privileged =\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.problem.contains("no reason"), "{error}");
    }

    #[test]
    fn a_line_without_an_equals_sign_is_refused() {
        let error = Expectations::parse("security.exec.privileged\n").unwrap_err();
        assert_eq!(error.line, 1);
    }

    #[test]
    fn an_invalid_glob_is_refused() {
        let error = Expectations::parse("security.[ = broken\n").unwrap_err();
        assert!(error.problem.contains("not a valid glob"), "{error}");
    }

    #[test]
    fn entries_matching_no_case_are_reported() {
        let expectations =
            Expectations::parse("security.exec.* = a\nsecurity.typo = b\n").expect("valid");
        let unmatched = expectations.unmatched(["security.exec.privileged"]);
        assert_eq!(
            unmatched,
            vec![Unmatched {
                pattern: "security.typo".into(),
                line: 2
            }]
        );
    }
}
