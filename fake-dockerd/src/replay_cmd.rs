//! `fake-dockerd replay`: captures through a profile's authz chain to a plugin socket.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use fake_dockerd::capture::{read_capture, Expectation};
use fake_dockerd::chain::AuthzChain;
use fake_dockerd::replay::{render_text, replay_capture};
use fake_dockerd::{Profile, ProfileName};
use protocol::client::PluginClient;

/// Replay captures through a daemon profile's authz chain to a plugin and report, per call,
/// what the plugin was sent, what it answered and what the client would have seen.
///
/// Exit status: 0 when every expectation held, 1 when any client result differs from its
/// expectation, 2 on errors (unreadable capture, bad arguments).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture files (JSON Lines: capture format v1 exchanges or record-plugin lines).
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// The plugin's unix socket.
    #[arg(long)]
    plugin_socket: PathBuf,
    /// The plugin's name in daemon messages (`authorization denied by plugin NAME`).
    #[arg(long, default_value = "plugin")]
    plugin_name: String,
    /// The daemon profile: moby-pre-2024, moby-20.10, moby-27.1 or moby-29.3.
    #[arg(long, default_value = "moby-20.10")]
    profile: ProfileName,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Expected client results, JSON Lines `{"status":403,"message":"..."}`, one per replayed
    /// line across all captures in order; they override expectations inside the captures.
    #[arg(long)]
    expect: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// Readable, one block per call.
    Text,
    /// One JSON object per replayed line.
    Json,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut expectations: Vec<Expectation> = match &args.expect {
        None => Vec::new(),
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .with_context(|| format!("{} is not JSON Lines of expectations", path.display()))?,
    };
    let mut expectations = expectations.drain(..);
    let client = PluginClient::new(&args.plugin_socket);
    let chain = AuthzChain::new(Profile::get(args.profile), vec![(args.plugin_name, client)]);
    let mut unexpected = false;
    for path in &args.captures {
        let lines = read_capture(path)?;
        let label = path.display().to_string();
        for report in replay_capture(&chain, &label, &lines, &mut expectations).await {
            unexpected |= report.unexpected();
            match args.format {
                Format::Text => print!("{}", render_text(&report)),
                Format::Json => println!("{}", serde_json::to_string(&report)?),
            }
        }
    }
    Ok(if unexpected {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
