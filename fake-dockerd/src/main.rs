//! The `fake-dockerd` binary: a thin clap dispatcher, one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod fidelity_cmd;
mod record_plugin_cmd;
mod replay_cmd;
mod serve_cmd;

/// dockerd's side of the Docker authorization plugin protocol, version by version.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    RecordPlugin(record_plugin_cmd::Args),
    Replay(replay_cmd::Args),
    Serve(fake_dockerd::serve::Args),
    Record(fake_dockerd::record::Args),
    Fidelity(fidelity_cmd::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match Cli::parse().command {
        Command::RecordPlugin(args) => record_plugin_cmd::run(args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Replay(args) => replay_cmd::run(args).await,
        Command::Serve(args) => serve_cmd::serve(args).await,
        Command::Record(args) => serve_cmd::record(args).await,
        Command::Fidelity(args) => fidelity_cmd::run(args).await,
    };
    result.unwrap_or_else(|error| {
        tracing::error!("{error:#}");
        ExitCode::from(2)
    })
}
