//! The `conformance` command: runs the suite against a plugin socket, or lists the cases.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use conformance::expectations::Expectations;
use conformance::report::EXIT_HARNESS;
use conformance::{all_cases, run, Claim, Ctx, LevelFilter, Selection, Target};
use fake_dockerd::ProfileName;

/// A conformance suite for Docker authorization plugins.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the suite against a plugin listening on a unix socket.
    Run(RunArgs),
    /// Prints every case: id, level, group, requirement and source.
    List,
    /// Measures a plugin's throughput, latency and memory, against a reference plugin.
    Bench(conformance::bench::BenchArgs),
}

/// Report formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One line a case, then a count line.
    Text,
    /// The versioned JSON report (see README.md).
    Json,
    /// JUnit XML.
    Junit,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The plugin's socket: /run/docker/plugins/NAME.sock for a legacy plugin,
    /// /run/docker/plugins/<plugin-id>/NAME.sock for a managed one.
    #[arg(long)]
    plugin_socket: PathBuf,
    /// The plugin is a managed (v2) plugin: dockerd never activates those, so
    /// Plugin.Activate is not required (its case is skipped).
    #[arg(long)]
    managed: bool,
    /// The plugin name dockerd knows it by (used in messages).
    #[arg(long, default_value = "plugin")]
    plugin_name: String,
    /// The daemon profile whose body forwarding the security vectors go through
    /// (moby-pre-2024, moby-20.10, moby-27.1, moby-29.3), or `all`.
    #[arg(long, default_value = "all")]
    profile: String,
    /// Which levels to run.
    #[arg(long, value_enum, default_value_t = LevelFilter::All)]
    level: LevelFilter,
    /// Run only cases whose id matches this glob (repeatable).
    #[arg(long = "case", value_name = "GLOB")]
    cases: Vec<String>,
    /// Skip cases whose id matches this glob (repeatable).
    #[arg(long = "skip", value_name = "GLOB")]
    skips: Vec<String>,
    /// What the plugin claims beyond the protocol (comma-separated or repeated):
    /// no-host-escape (security, fuzz), ordinary-use (replay), hardening (hardening).
    #[arg(long, value_delimiter = ',')]
    claims: Vec<Claim>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// How long one call may take before it counts as unanswered, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    call_timeout_ms: u64,
    /// The latency bound for ordinary calls, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    latency_bound_ms: u64,
    /// How many generated bodies each fuzz case tries.
    #[arg(long, default_value_t = 256)]
    fuzz_cases: u32,
    /// How many independent cases (security, hardening, replay, fuzz) run at once; the
    /// protocol and robustness cases always run one at a time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Cases known to fail, one `CASE-ID-OR-GLOB = reason` a line: reported apart, and a
    /// listed MUST failure does not fail the run.
    #[arg(long, value_name = "FILE")]
    expect_failures: Option<PathBuf>,
}

fn list() {
    for case in all_cases() {
        let info = &case.info;
        println!(
            "{}\t{}\t{}\t{}\t{}",
            info.id, info.level, info.group, info.requirement, info.source
        );
    }
}

async fn run_suite(args: RunArgs) -> anyhow::Result<u8> {
    let selection = Selection::new(args.level, &args.cases, &args.skips, args.claims)
        .context("reading --case/--skip")?;
    let profiles = if args.profile == "all" {
        ProfileName::ALL.to_vec()
    } else {
        vec![args
            .profile
            .parse::<ProfileName>()
            .context("reading --profile")?]
    };
    let expectations = match &args.expect_failures {
        None => Expectations::default(),
        Some(path) => {
            let text =
                fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Expectations::parse(&text).with_context(|| format!("reading {}", path.display()))?
        }
    };
    let ctx = Ctx {
        managed: args.managed,
        jobs: usize::from(args.jobs),
        expectations,
        profiles,
        target: Target::new(
            args.plugin_socket,
            args.plugin_name,
            Duration::from_millis(args.call_timeout_ms),
        ),
        latency_bound: Duration::from_millis(args.latency_bound_ms),
        fuzz_cases: args.fuzz_cases,
    };
    let report = run(&ctx, &all_cases(), &selection).await;
    let rendered = match args.format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json_pretty(),
        Format::Junit => report.to_junit(),
    };
    match &args.out {
        Some(path) => fs::write(path, rendered)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None => print!("{rendered}"),
    }
    Ok(report.exit_code())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match cli.command {
        Command::List => {
            list();
            ExitCode::SUCCESS
        }
        Command::Bench(args) => conformance::bench::main(args),
        Command::Run(args) => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("conformance: cannot start the async runtime: {error}");
                    return ExitCode::from(EXIT_HARNESS);
                }
            };
            match runtime.block_on(run_suite(args)) {
                Ok(code) => ExitCode::from(code),
                Err(error) => {
                    eprintln!("conformance: {error:#}");
                    ExitCode::from(EXIT_HARNESS)
                }
            }
        }
    }
}
