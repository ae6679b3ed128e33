//! The `authobot` binary: serve the plugin, check a policy, explain a decision.
//!
//! A thin wrapper around the library: argument parsing, file and socket handling, signals.
//!
//! Exit codes: 0 success (served until stopped; policy valid; explained call allowed),
//! 1 a negative answer (policy invalid; explained call denied), 2 an error (bad arguments,
//! unreadable input, socket or startup failure).

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use authobot::audit::{AuditLog, OnFailure};
use authobot::decide::decide_with;
use authobot::explain;
use authobot::ownership::maintenance;
use authobot::ownership::store::{Store, StoreOptions};
use authobot::ownership::{NothingOwned, OwnershipView};
use authobot::plugin::Authobot;
use authobot::policy::{Policy, PolicyErrors};
use authobot::rego::{RegoError, RegoOptions, RegoPolicy, DEFAULT_QUERY};
use authobot::response::learn_response;
use authobot::rules::RULES;
use clap::{Parser, Subcommand, ValueEnum};
use protocol::server::{self, ServerConfig};
use protocol::AuthzRequest;
use tokio::signal::unix::{signal, SignalKind};

/// The default socket: where dockerd discovers a legacy plugin named `authobot`.
const DEFAULT_SOCKET: &str = "/run/docker/plugins/authobot.sock";

/// The default state directory: the ownership record (`ownership.journal`) lives there.
const DEFAULT_STATE_DIR: &str = "/var/lib/authobot";

/// A Docker authorization plugin that refuses every way out of a container onto its host.
///
/// Exit codes: 0 success, 1 policy invalid (check) or call denied (explain), 2 error.
#[derive(Debug, Parser)]
#[command(name = "authobot", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the plugin on a unix socket (or the socket systemd passes in LISTEN_FDS).
    ///
    /// SIGHUP reloads the policy file: a valid one is swapped in atomically, an invalid one
    /// is reported and the old policy stays. SIGTERM or SIGINT stop the server.
    Serve(ServeArgs),
    /// Print the counters of a running plugin (what `serve --metrics PATH` serves).
    Status {
        /// The metrics socket the plugin was started with.
        #[arg(long, value_name = "PATH")]
        metrics: PathBuf,
    },
    /// Validate a policy file: prints every problem with its line number; exit 1 if any.
    Check {
        /// The policy file to check (TOML, or a `.rego` Rego policy).
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        #[command(flatten)]
        rego: RegoArgs,
    },
    /// Decide one AuthZReq message (JSON, as dockerd sends it) and show why.
    ///
    /// The input is a bare message or one line of a plugin-side capture
    /// (`{"phase":"Request","message":{...}}`, as in captures/). Prints the decision, the
    /// rule and the canonical fields read. Exit 0 if allowed, 1 if denied.
    Explain {
        /// The message file, or `-` for stdin.
        #[arg(value_name = "FILE", default_value = "-")]
        input: PathBuf,
        /// The policy file (TOML, or a `.rego` Rego policy); without it, the embedded default
        /// policy.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        #[command(flatten)]
        rego: RegoArgs,
        /// Decide the response phase (AuthZRes) instead of the request phase.
        #[arg(long)]
        response: bool,
        /// Decide against the ownership record in DIR (read without locking, so a running
        /// plugin is not disturbed; nothing is written). Without it, nothing is recorded as
        /// owned.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Output for people (text) or tools (json).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List the built-in rules and what each refuses.
    Rules,
    /// Check or repair the ownership record in a state directory.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Relay local users to dockerd's TLS port, each under their own name (the gate).
    Gate {
        #[command(flatten)]
        args: gate::cli::GateArgs,
        /// The format of diagnostic logs on stderr.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The unix socket to listen on (ignored under systemd socket activation).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// The policy file (TOML, or a `.rego` Rego policy); without it, the embedded default
    /// policy.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    #[command(flatten)]
    rego: RegoArgs,
    /// Append the audit log (one JSON line per decision) to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// What to do with a call whose audit line cannot be written (a full or failing disk):
    /// refuse it (no call goes unaudited), or answer it and count the lost line.
    #[arg(long, value_enum, default_value_t = OnFailure::Deny)]
    on_audit_failure: OnFailure,
    /// The format of diagnostic logs on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Where the ownership record lives (`ownership.journal`, created if missing). One
    /// plugin at a time: a second one on the same directory refuses to start.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// How often the ownership journal is fdatasynced when it has changed. Every learned
    /// change is written before the daemon gets its answer, so a killed plugin loses
    /// nothing; a power loss can lose the last interval. 0 fdatasyncs before every
    /// answer that changed the record (power-loss safe, slower).
    #[arg(long, value_name = "MS", default_value_t = 100)]
    fsync_interval_ms: u64,
    /// Serve counters in Prometheus text format on this unix socket (`GET /metrics`).
    #[arg(long, value_name = "PATH")]
    metrics: Option<PathBuf>,
    /// Connections served at once; one more is refused with a deny.
    #[arg(long, value_name = "N", default_value_t = 512)]
    max_connections: usize,
    /// Bytes of calls being read and decided at once, across connections; a call past it
    /// is refused with a deny.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_bytes_in_flight: usize,
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Check every line of the ownership journal: exit 0 if a plugin starts on it, 1 if it
    /// is damaged (each problem named by line), 2 if it cannot be read. Safe while a plugin
    /// serves: takes no lock, writes nothing.
    Check {
        /// The state directory.
        #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// Keep the first LINE lines of a damaged journal and drop the rest. The journal is
    /// copied to `ownership.journal.backup-TIME` first. Refused while a plugin serves the
    /// directory.
    Repair {
        /// The state directory.
        #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// The last line to keep (`state check` says how many are sound; 0 starts afresh).
        #[arg(long, value_name = "LINE")]
        drop_after: u64,
    },
}

/// How a `.rego` policy file is run (a TOML policy's `[rego]` table says the same).
#[derive(Debug, Clone, clap::Args)]
struct RegoArgs {
    /// The rule of a `.rego` policy whose value decides (opa-docker-authz's `-allowPath`;
    /// `/docker/authz/allow` is read as `data.docker.authz.allow`).
    #[arg(long, value_name = "QUERY", default_value = DEFAULT_QUERY)]
    rego_query: String,
    /// Allow `HEAD /_ping` without asking a `.rego` policy (opa-docker-authz's `-skip-ping`).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    rego_skip_ping: bool,
}

impl RegoArgs {
    fn options(&self) -> RegoOptions {
        RegoOptions {
            query: self.rego_query.clone(),
            builtin_rules: false,
            skip_ping: self.rego_skip_ping,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging(args.log_format);
            serve(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Status { metrics } => status(&metrics),
        Command::Check { policy, rego } => check(&policy, &rego),
        Command::Explain {
            input,
            policy,
            rego,
            response,
            state_dir,
            format,
        } => explain(
            &input,
            policy.as_deref(),
            &rego,
            response,
            state_dir.as_deref(),
            format,
        ),
        Command::Gate { args, log_format } => {
            init_logging(log_format);
            gate::cli::run(args)
        }
        Command::Rules => {
            for rule in RULES.iter().chain(authobot::ownership::rules::RULES) {
                println!("{:<24} {}", rule.id, rule.summary);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::State { command } => state(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("authobot: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::stderr().is_terminal())
        .with_writer(io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Why a policy file could not be used.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not a valid policy.
    #[error("{}", located(.path, .errors))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Its problems.
        errors: PolicyErrors,
    },
    /// The `.rego` file does not compile for its query (file, line and message).
    #[error("{0}")]
    Rego(RegoError),
}

fn located(path: &Path, errors: &PolicyErrors) -> String {
    errors
        .0
        .iter()
        .map(|e| format!("{}:{e}", path.display()).replacen(":line ", ":", 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `path` names a Rego policy rather than a TOML one.
fn is_rego(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "rego")
}

fn load_policy(path: Option<&Path>, rego: &RegoArgs) -> Result<Policy, LoadError> {
    let Some(path) = path else {
        return Ok(Policy::embedded_default());
    };
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    if is_rego(path) {
        return RegoPolicy::compile(path, &text, rego.options())
            .map(Policy::from_rego)
            .map_err(LoadError::Rego);
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    Policy::parse_in(&text, dir).map_err(|errors| LoadError::Invalid {
        path: path.to_owned(),
        errors,
    })
}

fn check(path: &Path, rego: &RegoArgs) -> Result<ExitCode> {
    match load_policy(Some(path), rego) {
        Ok(policy) => {
            match policy.rego() {
                Some(r) if policy.profiles().is_empty() => {
                    println!("{}: valid Rego policy, query {}", path.display(), r.query())
                }
                Some(r) => println!(
                    "{}: valid policy, {} profile(s), then the Rego policy {} (query {})",
                    path.display(),
                    policy.profiles().len(),
                    r.file().display(),
                    r.query()
                ),
                None => println!(
                    "{}: valid policy, {} profile(s)",
                    path.display(),
                    policy.profiles().len()
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (LoadError::Invalid { .. } | LoadError::Rego(_))) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

fn state(command: StateCommand) -> Result<ExitCode> {
    match command {
        StateCommand::Check { state_dir } => {
            let checked = maintenance::check(&state_dir)?;
            print!("{checked}");
            Ok(if checked.sound() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        StateCommand::Repair {
            state_dir,
            drop_after,
        } => {
            print!("{}", maintenance::repair(&state_dir, drop_after)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn explain(
    input: &Path,
    policy: Option<&Path>,
    rego: &RegoArgs,
    response: bool,
    state_dir: Option<&Path>,
    format: Format,
) -> Result<ExitCode> {
    let policy = load_policy(policy, rego)?;
    let mut text = String::new();
    if input == Path::new("-") {
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the message from stdin")?;
    } else {
        File::open(input)
            .and_then(|mut f| f.read_to_string(&mut text))
            .with_context(|| format!("cannot read {}", input.display()))?;
    }
    let (request, recorded_response) = read_message(&text).context(
        "the input is not an AuthZReq message (JSON with RequestMethod, RequestUri, ...)",
    )?;
    let store = state_dir
        .map(|dir| {
            Store::open_read_only(dir)
                .with_context(|| format!("cannot read the ownership record in {}", dir.display()))
        })
        .transpose()?;
    let owners: &dyn OwnershipView = match &store {
        Some(store) => store,
        None => &NothingOwned,
    };
    let decision = if response || recorded_response {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        learn_response(&request, owners, u64::try_from(now).unwrap_or_default()).0
    } else {
        decide_with(&policy, &request, owners)
    };
    let rendered = match format {
        Format::Text => explain::to_text(&decision),
        Format::Json => explain::to_json(&decision) + "\n",
    };
    io::stdout()
        .write_all(rendered.as_bytes())
        .context("cannot write to stdout")?;
    Ok(if decision.allow {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads a bare message, or a line of a plugin-side capture (`{"phase":..,"message":..}`),
/// returning whether the capture recorded it in the response phase.
fn read_message(text: &str) -> serde_json::Result<(AuthzRequest, bool)> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    match (value.get("phase"), value.get("message")) {
        (Some(phase), Some(message)) => Ok((
            serde_json::from_value(message.clone())?,
            phase == "Response",
        )),
        _ => Ok((serde_json::from_value(value)?, false)),
    }
}

fn open_audit(path: Option<&Path>, on_failure: OnFailure) -> Result<AuditLog> {
    let log = match path {
        None => AuditLog::new(Box::new(io::stderr())),
        Some(path) => AuditLog::to_file(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the audit log {}", path.display()))?,
        ),
    };
    Ok(log.on_failure(on_failure))
}

fn serve(args: ServeArgs) -> Result<()> {
    let policy = load_policy(args.policy.as_deref(), &args.rego)?;
    let options = StoreOptions {
        fsync_interval: Duration::from_millis(args.fsync_interval_ms),
    };
    let store = Store::open_with(&args.state_dir, options).with_context(|| {
        format!(
            "cannot open the ownership record in {}",
            args.state_dir.display()
        )
    })?;
    tracing::info!(record = %store.path().display(), "ownership record open");
    let audit = open_audit(args.audit_log.as_deref(), args.on_audit_failure)?;
    let plugin = Arc::new(Authobot::with_store(policy, audit, store));
    let config = ServerConfig {
        max_connections: Some(args.max_connections),
        max_body_bytes_in_flight: args.max_bytes_in_flight,
        ..ServerConfig::default()
    };
    let socket = args.socket;
    let policy_path = args.policy;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = match server::systemd_listener().context("cannot use LISTEN_FDS")? {
            Some(listener) => {
                tracing::info!("serving on the socket systemd passed in");
                listener
            }
            None => {
                if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                let listener = server::bind_unix(&socket)
                    .with_context(|| format!("cannot listen on {}", socket.display()))?;
                tracing::info!(socket = %socket.display(), "serving");
                listener
            }
        };
        if let Some(path) = &args.metrics {
            let metrics = server::bind_unix(path)
                .with_context(|| format!("cannot listen on {}", path.display()))?;
            let scraped = Arc::clone(&plugin);
            tokio::spawn(authobot::metrics::serve(
                metrics,
                Arc::new(move || scraped.metrics_text()),
            ));
            tracing::info!(metrics = %path.display(), "serving metrics");
        }
        // A file size limit (`ulimit -f`, systemd's LimitFSIZE) must fail a write the way a
        // full disk does, not kill the plugin: SIGXFSZ is caught and ignored.
        let mut too_large =
            signal(SignalKind::from_raw(nix::libc::SIGXFSZ)).context("cannot watch SIGXFSZ")?;
        tokio::spawn(async move { while too_large.recv().await.is_some() {} });
        let mut hangups = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
        let reloader = Arc::clone(&plugin);
        let rego = args.rego.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                reload(&reloader, policy_path.as_deref(), &rego);
            }
        });
        let plugin: Arc<dyn protocol::AuthzPlugin> = plugin;
        server::serve(listener, plugin, config, server::shutdown_signal())
            .await
            .context("the plugin server failed")
    })?;
    tracing::info!("stopped");
    Ok(())
}

fn status(metrics: &Path) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let text = runtime.block_on(authobot::metrics::fetch(metrics))?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn reload(plugin: &Authobot, path: Option<&Path>, rego: &RegoArgs) {
    let Some(path) = path else {
        tracing::info!("SIGHUP: serving the embedded default policy, nothing to reload");
        return;
    };
    match load_policy(Some(path), rego) {
        Ok(policy) => {
            plugin.replace_policy(policy);
            tracing::info!(policy = %path.display(), "SIGHUP: policy reloaded");
        }
        Err(e) => {
            tracing::error!(policy = %path.display(), error = %e, "SIGHUP: policy not reloaded, the old one stays");
        }
    }
}
