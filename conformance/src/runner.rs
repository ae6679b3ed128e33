//! Selects cases (level, globs, claims), activates the plugin, runs each case and collects a
//! [`Report`]; the CLI and the tests both drive the suite through here.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use globset::{Glob, GlobSet, GlobSetBuilder};

use fake_dockerd::ProfileName;

use crate::case::{Claim, Level, Outcome};
use crate::groups;
use crate::registry::{Case, Check};
use crate::report::{CaseResult, Report};
use crate::target::Target;

/// The id of the activation case; activation also gates every other case.
pub const ACTIVATE_CASE_ID: &str = "protocol.activate.implements-authz";

/// Which levels to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelFilter {
    /// MUST cases only.
    Must,
    /// MUST and SHOULD cases.
    Should,
    /// Every case.
    #[default]
    All,
}

impl LevelFilter {
    /// Whether a case of `level` runs under this filter.
    pub fn admits(self, level: Level) -> bool {
        match self {
            LevelFilter::Must => level == Level::Must,
            LevelFilter::Should => level <= Level::Should,
            LevelFilter::All => true,
        }
    }
}

/// A `--case` or `--skip` pattern that is not a valid glob.
#[derive(Debug, thiserror::Error)]
#[error("invalid case pattern {pattern:?}: {source}")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What globset said.
    pub source: globset::Error,
}

/// Which cases to run and what the plugin claims.
#[derive(Debug, Clone)]
pub struct Selection {
    level: LevelFilter,
    include: Option<GlobSet>,
    skip: GlobSet,
    claims: BTreeSet<Claim>,
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, PatternError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|source| PatternError {
            pattern: pattern.clone(),
            source,
        })?;
        builder.add(glob);
    }
    builder.build().map_err(|source| PatternError {
        pattern: patterns.join(","),
        source,
    })
}

impl Selection {
    /// Builds a selection; `include` empty means every case.
    pub fn new(
        level: LevelFilter,
        include: &[String],
        skip: &[String],
        claims: impl IntoIterator<Item = Claim>,
    ) -> Result<Self, PatternError> {
        Ok(Selection {
            level,
            include: if include.is_empty() {
                None
            } else {
                Some(glob_set(include)?)
            },
            skip: glob_set(skip)?,
            claims: claims.into_iter().collect(),
        })
    }

    /// The level filter.
    pub fn level(&self) -> LevelFilter {
        self.level
    }

    /// The claims the plugin makes.
    pub fn claims(&self) -> &BTreeSet<Claim> {
        &self.claims
    }

    /// Whether the case is part of this run at all (level and globs).
    pub fn selects(&self, case: &Case) -> bool {
        let id = case.info.id.as_str();
        self.level.admits(case.info.level)
            && self.include.as_ref().is_none_or(|set| set.is_match(id))
            && !self.skip.is_match(id)
    }
}

/// Everything a case may use while it runs.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The plugin under test.
    pub target: Target,
    /// The plugin is a managed (v2) one: dockerd never sends those `Plugin.Activate`, so the
    /// run does not require it.
    pub managed: bool,
    /// The daemon profiles security vectors are passed through.
    pub profiles: Vec<ProfileName>,
    /// The longest an ordinary call may take (`protocol.latency.*`).
    pub latency_bound: Duration,
    /// How many generated bodies each fuzz case tries.
    pub fuzz_cases: u32,
}

async fn run_case(ctx: &Ctx, case: &Case) -> Outcome {
    match &case.check {
        Check::Probe(probe) => probe(ctx).await,
        Check::Vector(vector) => groups::security::run(ctx, vector).await,
        Check::CapturedEscape(recording) => groups::security::run_captured(ctx, recording).await,
        Check::Replay(recording) => groups::replay::run(ctx, recording).await,
        Check::Fuzz(target) => groups::fuzz::run(ctx, *target).await,
    }
}

/// Runs the selected cases against the plugin.
///
/// The plugin is activated first (a managed plugin is only connected to): if that fails the
/// report carries a harness error (exit 2) and every other case is skipped.
pub async fn run(ctx: &Ctx, cases: &[Case], selection: &Selection) -> Report {
    let mut report = Report::new(ctx, selection);
    let gate = if ctx.managed {
        ctx.target.reachable().await
    } else {
        ctx.target.activate().await.map(|_| ())
    };
    let activation = gate.err().map(|e| e.to_string());
    if let Some(error) = &activation {
        tracing::error!(%error, "the plugin cannot be reached or activated; no case can run");
        report.harness_error = Some(error.clone());
    }
    for case in cases.iter().filter(|c| selection.selects(c)) {
        let started = Instant::now();
        let outcome = match (&activation, case.info.group.required_claim()) {
            (Some(error), _) if case.info.id == ACTIVATE_CASE_ID => Outcome::failed(
                "Plugin.Activate answers HTTP 200 {\"Implements\":[\"authz\"]}",
                error.clone(),
            ),
            (Some(_), _) => Outcome::skipped("activation failed"),
            (None, _) if ctx.managed && case.info.id == ACTIVATE_CASE_ID => {
                Outcome::skipped("dockerd never activates a managed plugin")
            }
            (None, Some(claim)) if !selection.claims.contains(&claim) => {
                Outcome::skipped(format!("the plugin does not claim {claim}"))
            }
            (None, _) => run_case(ctx, case).await,
        };
        match &outcome {
            Outcome::Passed => tracing::info!(id = %case.info.id, "ok"),
            Outcome::Failed { seen, .. } => tracing::info!(id = %case.info.id, %seen, "not ok"),
            Outcome::Skipped { reason } => tracing::debug!(id = %case.info.id, %reason, "skipped"),
        }
        report.results.push(CaseResult {
            info: case.info.clone(),
            outcome,
            duration: started.elapsed(),
        });
    }
    report
}
