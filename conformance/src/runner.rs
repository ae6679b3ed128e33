//! Selects cases (level, globs, claims), runs them against the plugin and collects a
//! [`Report`]; the CLI and the tests both drive the suite through here.
//!
//! The protocol and robustness cases run first, one at a time, in their listed order: they
//! time the plugin and hold its connections, so nothing else may share it meanwhile. If the
//! plugin fails the latency or concurrency case, no later call waits longer than the latency
//! bound (a slow or serialising plugin has had its verdict; waiting on each of hundreds of calls
//! would only turn it into a hang). The remaining cases are independent of each other and run
//! up to `jobs` at a time. Cases that judge the whole run go last.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use globset::{Glob, GlobSet, GlobSetBuilder};

use fake_dockerd::ProfileName;

use crate::case::{Claim, Group, Level, Outcome};
use crate::expectations::Expectations;
use crate::groups;
use crate::registry::{Case, Check};
use crate::report::{CaseResult, Report};
use crate::target::{SeenRefusal, Target};

/// The id of the activation case.
pub const ACTIVATE_CASE_ID: &str = "protocol.activate.implements-authz";

/// The cases whose failure shows the plugin cannot answer in time; after one fails, no call
/// waits longer than the latency bound.
pub const PATIENCE_CASE_IDS: [&str; 2] =
    ["protocol.connection.concurrent", "protocol.latency.bounded"];

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
    /// How many independent cases run at once.
    pub jobs: usize,
    /// Cases known to fail, reported apart (`--expect-failures`).
    pub expectations: Expectations,
}

async fn run_check(ctx: &Ctx, case: &Case) -> Outcome {
    match &case.check {
        Check::Probe(probe) | Check::RunWide { probe, .. } => probe(ctx).await,
        Check::Vector(vector) => groups::security::run(ctx, vector).await,
        Check::CapturedEscape(recording) => groups::security::run_captured(ctx, recording).await,
        Check::Replay(recording) => groups::replay::run(ctx, recording).await,
        Check::Fuzz(target) => groups::fuzz::run(ctx, *target).await,
    }
}

/// Runs one case with its own refusal log.
async fn run_one(ctx: &Ctx, case: &Case, claims: &BTreeSet<Claim>) -> CaseResult {
    let started = Instant::now();
    let (target, log) = ctx.target.for_case();
    let case_ctx = Ctx {
        target,
        ..ctx.clone()
    };
    let outcome = match case.info.group.required_claim() {
        _ if ctx.managed && case.info.id == ACTIVATE_CASE_ID => {
            Outcome::skipped("dockerd never activates a managed plugin")
        }
        Some(claim) if !claims.contains(&claim) => {
            Outcome::skipped(format!("the plugin does not claim {claim}"))
        }
        _ => run_check(&case_ctx, case).await,
    };
    match &outcome {
        Outcome::Passed => tracing::info!(id = %case.info.id, "ok"),
        Outcome::Failed { seen, .. } => tracing::info!(id = %case.info.id, %seen, "not ok"),
        Outcome::Skipped { reason } => tracing::debug!(id = %case.info.id, %reason, "skipped"),
    }
    CaseResult {
        info: case.info.clone(),
        outcome,
        duration: started.elapsed(),
        refusals: log.refusals(),
        expected_failure: ctx
            .expectations
            .reason_for(&case.info.id)
            .map(str::to_owned),
    }
}

/// Whether a case must run alone, in order: it times the plugin or holds its connections.
fn runs_alone(case: &Case) -> bool {
    matches!(case.info.group, Group::Protocol | Group::Robustness)
}

/// Runs the selected cases against the plugin.
///
/// The socket must exist and accept a connection, or the report carries a harness error
/// (exit 2) and no case runs. Everything else the plugin does, activation included, is a case
/// outcome: a plugin whose manifest dockerd refuses fails a MUST case (exit 1).
pub async fn run(ctx: &Ctx, cases: &[Case], selection: &Selection) -> Report {
    let mut report = Report::new(ctx, selection);
    let selected: Vec<&Case> = cases.iter().filter(|c| selection.selects(c)).collect();
    if let Err(error) = ctx.target.reachable().await {
        tracing::error!(%error, "the plugin cannot be reached; no case can run");
        report.harness_error = Some(error.to_string());
        report.results = selected
            .iter()
            .map(|case| CaseResult {
                info: case.info.clone(),
                outcome: Outcome::skipped("the plugin cannot be reached"),
                duration: Duration::ZERO,
                refusals: Vec::new(),
                expected_failure: ctx
                    .expectations
                    .reason_for(&case.info.id)
                    .map(str::to_owned),
            })
            .collect();
        return report;
    }
    if !ctx.managed {
        // dockerd activates a legacy plugin before its first call, whichever cases run; how
        // the plugin answers is the activation case's to judge.
        if let Err(error) = ctx.target.activate().await {
            tracing::warn!(%error, "activation failed; running the cases anyway");
        }
    }
    let claims = selection.claims().clone();
    let mut results: Vec<Option<CaseResult>> = vec![None; selected.len()];
    for (slot, case) in selected.iter().enumerate().filter(|(_, c)| runs_alone(c)) {
        let result = run_one(ctx, case, &claims).await;
        if PATIENCE_CASE_IDS.contains(&case.info.id.as_str())
            && result.outcome.is_failed()
            && !ctx.target.is_impatient()
        {
            tracing::warn!(id = %case.info.id, bound = ?ctx.latency_bound,
                "the plugin cannot answer in time: later calls wait at most the latency bound");
            ctx.target.stop_waiting_beyond(ctx.latency_bound);
            report.stopped_waiting_after = Some(case.info.id.clone());
        }
        results[slot] = Some(result);
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(ctx.jobs.max(1)));
    let mut running = tokio::task::JoinSet::new();
    for (slot, case) in selected.iter().enumerate().filter(|(_, c)| !runs_alone(c)) {
        let (ctx, case, claims) = (ctx.clone(), (*case).clone(), claims.clone());
        let permits = Arc::clone(&permits);
        running.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (slot, run_one(&ctx, &case, &claims).await)
        });
    }
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok((slot, result)) => results[slot] = Some(result),
            Err(e) => tracing::error!(error = %e, "a case panicked"),
        }
    }
    let mut results: Vec<CaseResult> = results
        .into_iter()
        .zip(&selected)
        .map(|(result, case)| {
            result.unwrap_or_else(|| CaseResult {
                info: case.info.clone(),
                outcome: Outcome::failed("the case to finish", "the case panicked"),
                duration: Duration::ZERO,
                refusals: Vec::new(),
                expected_failure: ctx
                    .expectations
                    .reason_for(&case.info.id)
                    .map(str::to_owned),
            })
        })
        .collect();
    judge_run_wide(&selected, &mut results);
    report.results = results;
    report.calls_sent = ctx.target.calls_sent();
    report.calls_given_up = ctx.target.calls_given_up();
    report.unmatched_expectations = ctx
        .expectations
        .unmatched(report.results.iter().map(|r| r.info.id.as_str()));
    report
}

/// Decides the run-wide cases whose probe passed, over every refusal the run saw.
fn judge_run_wide(selected: &[&Case], results: &mut [CaseResult]) {
    let everything: Vec<SeenRefusal> = results
        .iter()
        .flat_map(|r| r.refusals.iter().cloned())
        .collect();
    for (case, result) in selected.iter().zip(results.iter_mut()) {
        if let (Check::RunWide { judge, .. }, Outcome::Passed) = (&case.check, &result.outcome) {
            result.outcome = judge(&everything);
        }
    }
}
