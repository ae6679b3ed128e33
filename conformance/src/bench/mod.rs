//! `conformance bench`: what a plugin costs the daemon, measured against a do-nothing
//! reference plugin in the same run.
//!
//! Both targets get the same mix over the same number of keep-alive connections; the
//! measured time is cut into one-second slices that alternate between them (ABBA...), so
//! that load from other processes on the machine falls on both alike. Every figure is also
//! printed as a ratio plugin / reference, the only number worth comparing across machines.

pub mod load;
pub mod mix;
pub mod report;
pub mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use crate::report::{EXIT_HARNESS, EXIT_MUST_FAILED, EXIT_OK};
use load::Target;
use mix::{Mix, MixKind};
use report::{BenchReport, Ratios, SetupReport, TargetReport, REPORT_VERSION};
use stats::Tally;

/// Length of one alternation slice of the measured time.
const SLICE: Duration = Duration::from_secs(1);

/// Report formats of `bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchFormat {
    /// A table: plugin, reference, ratio.
    Text,
    /// The versioned JSON report (see the crate README).
    Json,
}

/// Measures throughput, latency percentiles, errors and peak memory of a plugin under a
/// request mix, optionally against a reference plugin in the same run.
///
/// Exit codes: 0 measured without errors, 1 measured but some calls failed (transport errors
/// or non-200 answers), 2 the benchmark could not run.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The plugin under test.
    #[arg(long)]
    pub plugin_socket: PathBuf,
    /// A do-nothing reference plugin on the same server stack (e.g. protocol's allow_all
    /// example); every figure is then also given as a ratio to it.
    #[arg(long)]
    pub reference_socket: Option<PathBuf>,
    /// Concurrent keep-alive connections per target.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Measured seconds per target.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured seconds per target before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// The request mix: the recorded CLI workflow, container creates and starts, or calls
    /// naming owned containers.
    #[arg(long, value_enum, default_value = "workflow")]
    pub mix: MixKind,
    /// How many owned containers the ownership mix teaches before measuring.
    #[arg(long, default_value_t = 100_000)]
    pub owned: u64,
    /// The longest the unmeasured setup may take, in seconds; the report says how many
    /// containers were taught when it stops early.
    #[arg(long, default_value_t = 900.0)]
    pub setup_limit: f64,
    /// The capture directory the mixes are built from (holding workflow/).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../captures"))]
    pub captures: PathBuf,
    /// How long one call may take before it counts as a transport error, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub call_timeout_ms: u64,
    /// Threads driving the load (the rest of the machine is left to the plugins).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: BenchFormat,
}

/// Runs `bench` from the command line: prints the report, returns the exit code.
pub fn main(args: BenchArgs) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("conformance bench: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_HARNESS);
        }
    };
    let report = match runtime.block_on(bench(&args)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("conformance bench: {error:#}");
            return ExitCode::from(EXIT_HARNESS);
        }
    };
    let rendered = match args.format {
        BenchFormat::Text => report.to_text(),
        BenchFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("conformance bench: rendering the JSON report: {error}");
                return ExitCode::from(EXIT_HARNESS);
            }
        },
    };
    print!("{rendered}");
    ExitCode::from(if report.has_errors() {
        EXIT_MUST_FAILED
    } else {
        EXIT_OK
    })
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("{flag} {value} is not a duration"))
}

/// Splits `duration` into alternation slices of about [`SLICE`]: (count, length).
pub fn slices(duration: Duration) -> (u32, Duration) {
    let count = (duration.as_secs_f64() / SLICE.as_secs_f64())
        .ceil()
        .max(1.0) as u32;
    (count, duration / count)
}

/// Which target goes first in slice `slice` (ABBA order over two targets).
pub fn slice_order(slice: u32, targets: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..targets).collect();
    if slice % 2 == 1 {
        order.reverse();
    }
    order
}

/// Runs the whole benchmark and returns its report.
pub async fn bench(args: &BenchArgs) -> anyhow::Result<BenchReport> {
    let duration = seconds(args.duration, "--duration")?;
    let warmup = seconds(args.warmup, "--warmup")?;
    let setup_limit = seconds(args.setup_limit, "--setup-limit")?;
    let salt = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos() ^ t.as_secs() as u32);
    let mix = Mix::build(args.mix, &args.captures, salt, args.owned)
        .with_context(|| format!("building the {:?} mix", args.mix))?;
    let mix = Arc::new(mix);
    let timeout = Duration::from_millis(args.call_timeout_ms);
    let mut targets: Vec<Target> = std::iter::once(&args.plugin_socket)
        .chain(&args.reference_socket)
        .map(|socket| Target::new(socket.clone(), args.connections, timeout))
        .collect();
    for target in &targets {
        tokio::net::UnixStream::connect(target.socket())
            .await
            .with_context(|| format!("connecting to {}", target.socket().display()))?;
    }

    let mut setups = Vec::new();
    for target in &mut targets {
        let setup = if mix.setup_units() > 0 {
            let tally = target.run_setup(&mix, setup_limit).await;
            tracing::info!(
                "setup of {}: {} calls in {:?}",
                target.socket().display(),
                tally.calls(),
                tally.elapsed
            );
            Some(SetupReport {
                planned: mix.setup_units(),
                calls: tally.calls(),
                failed: tally.calls() - tally.allowed,
                elapsed_s: tally.elapsed.as_secs_f64(),
            })
        } else {
            None
        };
        setups.push(setup);
    }
    if !warmup.is_zero() {
        for target in &mut targets {
            target.run_for(&mix, warmup).await;
        }
    }
    let mut pids = Vec::new();
    for target in &targets {
        let pid = load::plugin_pid(target.socket()).await;
        if let Err(reason) = &pid {
            tracing::warn!("no CPU figures for {}: {reason}", target.socket().display());
        }
        pids.push(pid.ok());
    }
    let mut totals = vec![
        Tally {
            cpu: Some(Duration::ZERO),
            ..Tally::default()
        };
        targets.len()
    ];
    let (count, length) = slices(duration);
    for slice in 0..count {
        for index in slice_order(slice, targets.len()) {
            let cpu_before = pids[index].and_then(load::process_cpu);
            let tally = targets[index].run_for(&mix, length).await;
            let cpu_after = pids[index].and_then(load::process_cpu);
            let total = &mut totals[index];
            total.absorb(&tally);
            total.elapsed += tally.elapsed;
            total.cpu = match (total.cpu, cpu_before, cpu_after) {
                (Some(sum), Some(before), Some(after)) => Some(sum + after.saturating_sub(before)),
                _ => None,
            };
        }
    }

    let mut reports = Vec::new();
    for ((target, total), setup) in targets.iter().zip(&totals).zip(setups) {
        let memory = load::plugin_memory(target.socket()).await;
        let socket = target.socket().display().to_string();
        reports.push(TargetReport::new(socket, total, memory, setup));
    }
    let mut reports = reports.into_iter();
    let plugin = reports.next().expect("the plugin is always a target");
    let reference = reports.next();
    Ok(BenchReport {
        version: REPORT_VERSION,
        mix: args.mix,
        connections: args.connections,
        duration_s: duration.as_secs_f64(),
        warmup_s: warmup.as_secs_f64(),
        ratios: reference.as_ref().map(|r| Ratios::between(&plugin, r)),
        plugin,
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_time_is_cut_into_slices_of_about_a_second() {
        assert_eq!(
            slices(Duration::from_secs(10)),
            (10, Duration::from_secs(1))
        );
        assert_eq!(
            slices(Duration::from_millis(2500)),
            (3, Duration::from_millis(2500) / 3)
        );
    }

    #[test]
    fn a_short_run_is_one_slice() {
        assert_eq!(
            slices(Duration::from_millis(300)),
            (1, Duration::from_millis(300))
        );
    }

    #[test]
    fn two_targets_alternate_who_goes_first() {
        assert_eq!(slice_order(0, 2), [0, 1]);
        assert_eq!(slice_order(1, 2), [1, 0]);
        assert_eq!(slice_order(2, 2), [0, 1]);
        assert_eq!(slice_order(5, 1), [0]);
    }
}
