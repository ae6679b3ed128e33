//! `fake-dockerd serve` and `fake-dockerd record` (serve's recording variant): run the
//! library entry points and give their errors context for the log.

use std::process::ExitCode;

use anyhow::Context;

/// Runs `serve` until SIGTERM or SIGINT.
pub async fn serve(args: fake_dockerd::serve::Args) -> anyhow::Result<ExitCode> {
    let listen = args.listen.clone();
    fake_dockerd::serve::run(args)
        .await
        .with_context(|| format!("serving the Docker API on {}", listen.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `record` until SIGTERM or SIGINT.
pub async fn record(args: fake_dockerd::record::Args) -> anyhow::Result<ExitCode> {
    let out = args.out.clone();
    fake_dockerd::record::run(args)
        .await
        .with_context(|| format!("recording to {}", out.display()))?;
    Ok(ExitCode::SUCCESS)
}
