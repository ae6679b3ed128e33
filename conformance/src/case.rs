//! The case model: stable ids, levels, groups, claims and outcomes, shared by the registry,
//! the runner and every report format.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How binding a requirement is, in the RFC 2119 sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// A plugin that fails it is unsafe or unusable behind dockerd; fails the run (exit 1).
    Must,
    /// Expected of a good plugin; reported, never fails the run.
    Should,
    /// Optional behaviour; reported for information.
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        })
    }
}

/// The families of cases; the policy-dependent ones run only when the plugin claims them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// The plugin protocol itself: activation, reply shape, phases, connections, latency.
    Protocol,
    /// Hostile or broken callers: the plugin fails closed and keeps serving others.
    Robustness,
    /// Host-escape vectors, held against plugins that claim `no-host-escape`.
    Security,
    /// Resource and hardening choices that do not by themselves reach the host, held against
    /// plugins that claim `hardening`.
    Hardening,
    /// Recorded ordinary CLI workflows, held against plugins that claim `ordinary-use`.
    Replay,
    /// Generated bodies hiding dangerous fields, judged by the protocol crate's canonicaliser.
    Fuzz,
}

impl Group {
    /// The claim a plugin must make for this group to be held against it, if any.
    pub fn required_claim(self) -> Option<Claim> {
        match self {
            Group::Protocol | Group::Robustness => None,
            Group::Security | Group::Fuzz => Some(Claim::NoHostEscape),
            Group::Hardening => Some(Claim::Hardening),
            Group::Replay => Some(Claim::OrdinaryUse),
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Group::Protocol => "protocol",
            Group::Robustness => "robustness",
            Group::Security => "security",
            Group::Hardening => "hardening",
            Group::Replay => "replay",
            Group::Fuzz => "fuzz",
        })
    }
}

/// What a plugin promises beyond the protocol; each claim switches a policy-dependent group on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Claim {
    /// The plugin stops every way out to the host (DESIGN.md section 5): security and fuzz.
    NoHostEscape,
    /// The plugin lets the ordinary CLI workflows through: replay.
    OrdinaryUse,
    /// The plugin also refuses resource and hardening choices (confinement layers turned
    /// off, cgroup placement, runtimes, namespaced sysctls...): hardening.
    Hardening,
}

impl Claim {
    /// Every claim, in the order `list` prints them.
    pub const ALL: [Claim; 3] = [Claim::NoHostEscape, Claim::OrdinaryUse, Claim::Hardening];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Claim::NoHostEscape => "no-host-escape",
            Claim::OrdinaryUse => "ordinary-use",
            Claim::Hardening => "hardening",
        }
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A claim name that is not one of [`Claim::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown claim {0:?} (known: no-host-escape, ordinary-use, hardening)")]
pub struct UnknownClaim(pub String);

impl FromStr for Claim {
    type Err = UnknownClaim;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Claim::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownClaim(s.to_owned()))
    }
}

/// What a case checks and where the requirement comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseInfo {
    /// Stable dotted id, `group.topic.detail`; never reused for another requirement.
    pub id: String,
    /// The family the case belongs to.
    pub group: Group,
    /// How binding the requirement is.
    pub level: Level,
    /// The requirement, one sentence.
    pub requirement: String,
    /// Where it comes from: a moby source path, a CVE, or a behaviour seen on a real daemon.
    pub source: String,
}

/// The result of running one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The plugin met the requirement.
    Passed,
    /// The plugin did not; both texts are for a human reading the report.
    Failed {
        /// What the requirement asked for.
        expected: String,
        /// What the plugin did instead.
        seen: String,
    },
    /// The case did not run or could not apply.
    Skipped {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// A failure with its two texts.
    pub fn failed(expected: impl Into<String>, seen: impl Into<String>) -> Self {
        Outcome::Failed {
            expected: expected.into(),
            seen: seen.into(),
        }
    }

    /// A skip with its reason.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Outcome::Skipped {
            reason: reason.into(),
        }
    }

    /// Whether the requirement was found unmet.
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}
