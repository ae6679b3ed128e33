//! `fake-dockerd fidelity`: crafted requests recorded through a real dockerd, sent again
//! through `serve`'s daemon, with a per-request report of any difference.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use fake_dockerd::fidelity::check::{check, load_crafted, Verdict};
use fake_dockerd::ProfileName;

/// Check that `serve --profile P` gives a plugin the messages a real dockerd gave it.
///
/// REAL_DIR holds crafted requests recorded through a real dockerd with `record-plugin`, as
/// captures/make-captures.sh writes captures/fidelity/: NAME.exchange.jsonl (client side)
/// and NAME.jsonl (plugin side). Each request is sent again, byte for byte, through serve's
/// daemon with a recording plugin and an upstream answering what the real daemon answered;
/// plugin messages (ids and times aside) and client results must be identical.
///
/// Prints one `PASS name` or `FAIL name` line per request, each difference under it.
/// Exit status: 0 all identical, 1 a difference, 2 the check could not run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory of crafted requests recorded through the real daemon.
    real_dir: PathBuf,
    /// The daemon profile to check: moby-pre-2024, moby-20.10, moby-27.1 or moby-29.3.
    #[arg(long, default_value = "moby-20.10")]
    profile: ProfileName,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let crafted = load_crafted(&args.real_dir)
        .with_context(|| format!("reading {}", args.real_dir.display()))?;
    let work = tempfile::Builder::new()
        .prefix("fdfid.")
        .tempdir()
        .context("creating a work directory")?;
    let verdicts = check(args.profile, &crafted, work.path())
        .await
        .with_context(|| {
            format!(
                "running {} through serve --profile {}",
                args.real_dir.display(),
                args.profile
            )
        })?;
    for verdict in &verdicts {
        print!("{}", render(verdict));
    }
    let failed = verdicts.iter().filter(|v| !v.passed()).count();
    println!(
        "fidelity --profile {}: {} identical, {} different",
        args.profile,
        verdicts.len() - failed,
        failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `PASS name (...)` or `FAIL name (...)` and one indented line per difference.
fn render(verdict: &Verdict) -> String {
    let word = if verdict.passed() { "PASS" } else { "FAIL" };
    let mut text = format!(
        "{word} {} ({} plugin calls, HTTP {}; fake-dockerd: {} calls, HTTP {})\n",
        verdict.name,
        verdict.recorded_calls,
        verdict.real.status,
        verdict.produced_calls,
        verdict.produced.status
    );
    for m in &verdict.mismatches {
        text += &format!(
            "    call {} {}: real dockerd {:?}, fake-dockerd {:?}\n",
            m.index, m.field, m.recorded, m.produced
        );
    }
    text
}
