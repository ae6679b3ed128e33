//! The `authobot gate` command: its flags, and serving, `--init` and `--check`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::unistd::{chown, Gid};

use crate::ca::{LocalCa, CA_CERT, DAEMON_CERT, DAEMON_KEY};
use crate::check::{self, CheckOptions};
use crate::identity::Resolver;
use crate::relay::{self, Gate};
use crate::tls::ClientSettings;
use crate::userdb::UserDb;

/// Relay the local users of a host to dockerd's TLS port, each under their own name.
///
/// Each connection to the gate's socket is relayed to dockerd over TLS with a certificate,
/// issued by the gate's own CA, whose CommonName is the calling user's login name (from the
/// kernel's SO_PEERCRED): dockerd hands its authorization plugin `User: <name>`. Exit codes:
/// 0 stopped cleanly (or --init done, or --check found nothing), 1 --check found a way
/// around the gate, 2 an error.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// The socket users call (mode 0660, group --socket-group). Ignored when systemd passes
    /// a socket (LISTEN_FDS).
    #[arg(long, value_name = "PATH", default_value = "/run/docker.sock")]
    pub socket: PathBuf,
    /// The group allowed to call the gate's socket.
    #[arg(long, value_name = "GROUP", default_value = "docker")]
    pub socket_group: String,
    /// dockerd's TLS listener (`-H tcp://ADDR --tlsverify`); a loopback address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2376")]
    pub daemon: SocketAddr,
    /// Where the gate keeps its CA and the daemon's certificate (made on first start).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/authobot-gate")]
    pub state_dir: PathBuf,
    /// The name root (uid 0) is relayed under; no other user may carry it.
    #[arg(long, value_name = "NAME", default_value = "root")]
    pub root_identity: String,
    /// How long a user certificate is valid, in minutes (a new one is issued after half).
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub cert_lifetime_mins: u64,
    /// Make the CA and the daemon's certificate if missing, print dockerd's TLS flags, exit.
    #[arg(long, conflicts_with = "check")]
    pub init: bool,
    /// Say what in this host's setup lets a user go around the gate; exit 0 when nothing
    /// does, 1 when something does.
    #[arg(long)]
    pub check: bool,
    /// dockerd's pidfile, read by --check to find the running daemon.
    #[arg(long, value_name = "FILE", default_value = "/run/docker.pid")]
    pub daemon_pidfile: PathBuf,
}

/// Runs `authobot gate`.
pub fn run(args: GateArgs) -> Result<ExitCode> {
    if args.check {
        let report = check::run(&CheckOptions {
            daemon_pidfile: args.daemon_pidfile,
            state_dir: args.state_dir,
            accounts: UserDb::system(),
        })?;
        print!("{report}");
        return Ok(if report.findings.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if !args.daemon.ip().is_loopback() {
        bail!(
            "--daemon {} is not a loopback address: dockerd's TLS port must not be reachable from other hosts",
            args.daemon
        );
    }
    let ca = LocalCa::open_or_create(&args.state_dir)
        .with_context(|| format!("cannot open the gate CA in {}", args.state_dir.display()))?;
    if args.init {
        print!("{}", dockerd_flags(ca.dir(), args.daemon));
        return Ok(ExitCode::SUCCESS);
    }
    let lifetime = Duration::from_secs(args.cert_lifetime_mins.max(1) * 60);
    let settings = ClientSettings::new(ca, lifetime).context("cannot set up TLS")?;
    let gate = Arc::new(Gate::new(
        Resolver::new(UserDb::system(), &args.root_identity),
        settings,
        args.daemon,
    ));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = listen(&args.socket, &args.socket_group)?;
        tracing::info!(daemon = %args.daemon, root_identity = %args.root_identity, "gate open");
        relay::serve(listener, gate, protocol::server::shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The socket systemd passed, or `socket` bound (a stale one replaced, a live one refused)
/// with mode 0660 and group `group`.
fn listen(socket: &Path, group: &str) -> Result<tokio::net::UnixListener> {
    if let Some(listener) =
        protocol::server::systemd_listener().context("cannot use the socket in LISTEN_FDS")?
    {
        return Ok(listener);
    }
    let gid = UserDb::system()
        .gid_of(group)
        .with_context(|| format!("cannot look up group {group:?}"))?
        .with_context(|| format!("no group {group:?} in /etc/group (--socket-group)"))?;
    let listener = protocol::server::bind_unix(socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    chown(socket, None, Some(Gid::from_raw(gid)))
        .with_context(|| format!("cannot give {} to group {group}", socket.display()))?;
    tracing::info!(socket = %socket.display(), group, "listening");
    Ok(listener)
}

/// The dockerd flags that make it trust the gate (and nothing else) on `daemon`.
fn dockerd_flags(dir: &Path, daemon: SocketAddr) -> String {
    let file = |name: &str| dir.join(name).display().to_string();
    format!(
        "-H tcp://{daemon} --tlsverify --tlscacert {} --tlscert {} --tlskey {}\n",
        file(CA_CERT),
        file(DAEMON_CERT),
        file(DAEMON_KEY)
    )
}
