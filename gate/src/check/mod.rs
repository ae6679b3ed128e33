//! `authobot gate --check`: what in this host's setup would let a user reach dockerd without
//! going through the gate, or make the gate's identities worthless.
//!
//! It reads the running daemon (by its pidfile) rather than its configuration: the sockets
//! it really listens on, probed as a user without credentials would. Then the gate's own
//! files: who can read the keys or replace the CA dockerd trusts. Users are the accounts of
//! /etc/passwd with their groups of /etc/group; root is never counted (it can always go
//! around).

pub mod access;
pub mod listeners;
pub mod probe;

use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use access::{Access, Credentials, PathModes};
use probe::TcpProbe;

use crate::ca::{self, CA_CERT, CA_KEY, DAEMON_KEY};
use crate::userdb::{self, UserDb};

/// Where `--check` looks.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// dockerd's pidfile (`--pidfile`, `/run/docker.pid` by default).
    pub daemon_pidfile: PathBuf,
    /// The gate's state directory (its CA).
    pub state_dir: PathBuf,
    /// The host's accounts.
    pub accounts: UserDb,
}

/// One way around the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// A unix socket of dockerd's API that a user can connect to.
    DaemonSocket,
    /// A TCP listener serving the API without TLS.
    TcpWithoutTls,
    /// A TCP listener serving the API over TLS without requiring a client certificate.
    TcpWithoutClientVerification,
    /// A TCP listener accepting client certificates of a CA other than the gate's.
    TcpTrustsOtherCa,
    /// A private key of the gate's state directory that a user can read.
    KeyReadable,
    /// The CA certificate dockerd trusts can be replaced by a user.
    CaReplaceable,
}

impl Finding {
    /// The stable id printed in front of each finding.
    pub fn id(self) -> &'static str {
        match self {
            Finding::DaemonSocket => "daemon-socket",
            Finding::TcpWithoutTls => "tcp-without-tls",
            Finding::TcpWithoutClientVerification => "tcp-without-client-verification",
            Finding::TcpTrustsOtherCa => "tcp-trusts-other-ca",
            Finding::KeyReadable => "key-readable",
            Finding::CaReplaceable => "ca-replaceable",
        }
    }
}

/// What the check saw and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// What was looked at, and anything odd that is not a way around the gate.
    pub notes: Vec<String>,
    /// The ways around the gate, each with its explanation.
    pub findings: Vec<(Finding, String)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        for (finding, message) in &self.findings {
            writeln!(f, "FOUND {}: {message}", finding.id())?;
        }
        match self.findings.len() {
            0 => writeln!(f, "no way around the gate found"),
            1 => writeln!(f, "1 way around the gate found"),
            n => writeln!(f, "{n} ways around the gate found"),
        }
    }
}

/// Why the check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A file the check needs could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The pidfile does not hold a pid.
    #[error("{} does not hold a process id", path.display())]
    Pidfile {
        /// The pidfile.
        path: PathBuf,
    },
}

/// Runs every check.
pub fn run(options: &CheckOptions) -> Result<Report, CheckError> {
    let read = |path: &Path| {
        fs::read_to_string(path).map_err(|source| CheckError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let accounts = credentials(&options.accounts).map_err(|source| CheckError::Read {
        path: options.accounts.passwd_path().to_owned(),
        source,
    })?;
    let pid: i32 =
        read(&options.daemon_pidfile)?
            .trim()
            .parse()
            .map_err(|_| CheckError::Pidfile {
                path: options.daemon_pidfile.clone(),
            })?;
    let listening = listeners::of_process(pid).map_err(|source| CheckError::Read {
        path: PathBuf::from(format!("/proc/{pid}")),
        source,
    })?;
    let mut report = Report::default();
    report.notes.push(format!(
        "dockerd is pid {pid} ({}); it listens on {}",
        options.daemon_pidfile.display(),
        describe_listeners(&listening)
    ));
    let gate_ca_subject = gate_ca_subject(&options.state_dir, &mut report);
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    for socket in &listening.unix {
        check_daemon_socket(&root, socket, &accounts, &mut report);
    }
    if listening.tcp.is_empty() {
        report
            .notes
            .push("dockerd has no TCP listener: the gate has nothing to relay to".into());
    }
    for address in &listening.tcp {
        check_tcp(*address, gate_ca_subject.as_deref(), &mut report);
    }
    check_state_dir(&options.state_dir, &accounts, &mut report);
    Ok(report)
}

fn describe_listeners(listening: &listeners::Listeners) -> String {
    let mut all: Vec<String> = listening
        .unix
        .iter()
        .map(|path| format!("unix:{path}"))
        .collect();
    all.extend(listening.tcp.iter().map(|address| format!("tcp:{address}")));
    if all.is_empty() {
        "nothing".into()
    } else {
        all.join(", ")
    }
}

/// Every account with the gids the kernel would give it at login.
fn credentials(accounts: &UserDb) -> io::Result<Vec<Credentials>> {
    let groups = accounts.groups()?;
    Ok(accounts
        .accounts()?
        .into_iter()
        .map(|account| {
            let mut gids: Vec<u32> = userdb::groups_of(&account, &groups)
                .into_iter()
                .map(|group| group.gid)
                .collect();
            gids.push(account.gid);
            Credentials {
                name: account.name,
                uid: account.uid,
                gids,
            }
        })
        .collect())
}

/// "alice, bob" or "every user".
fn who(path: &PathModes, accounts: &[Credentials], access: Access) -> Option<String> {
    if path.open_to_everyone(access) {
        return Some("every user".into());
    }
    let names: Vec<&str> = path
        .who(accounts, access)
        .into_iter()
        .map(|account| account.name.as_str())
        .collect();
    (!names.is_empty()).then(|| format!("users {}", names.join(", ")))
}

fn check_daemon_socket(root: &Path, socket: &str, accounts: &[Credentials], report: &mut Report) {
    if let Some(name) = socket.strip_prefix('@') {
        report.findings.push((
            Finding::DaemonSocket,
            format!("dockerd listens on the abstract unix socket @{name}: every process in its network namespace can connect, whatever its user"),
        ));
        return;
    }
    let path = Path::new(socket);
    let seen_from_here = root.join(path.strip_prefix("/").unwrap_or(path));
    let modes = match PathModes::read(root, path) {
        Ok(modes) => modes,
        Err(error) => {
            report.notes.push(format!(
                "cannot read the modes of dockerd's socket {socket}: {error}"
            ));
            return;
        }
    };
    let Some(users) = who(&modes, accounts, Access::Connect) else {
        return;
    };
    match probe::unix_answers_api(&seen_from_here) {
        Ok(false) => report.notes.push(format!(
            "{users} can connect to dockerd's socket {socket}, which does not serve the API"
        )),
        // Could not be asked (a path too long to dial from here...): counted as the API.
        Ok(true) | Err(_) => report.findings.push((
            Finding::DaemonSocket,
            format!("{users} can connect to dockerd's API socket {socket}: they reach the daemon without the gate, as anonymous callers (move it to a root-only directory, mode 0600)"),
        )),
    }
}

/// The gate CA's subject (DER, as a TLS server names it), if the CA exists.
fn gate_ca_subject(state_dir: &Path, report: &mut Report) -> Option<Vec<u8>> {
    let certificate = match ca::read_certificate(&state_dir.join(CA_CERT)) {
        Ok(certificate) => certificate,
        Err(error) => {
            report
                .notes
                .push(format!("no gate CA to compare with: {error}"));
            return None;
        }
    };
    let (_, parsed) = x509_parser::parse_x509_certificate(&certificate).ok()?;
    Some(parsed.tbs_certificate.subject.as_raw().to_vec())
}

fn check_tcp(address: SocketAddr, gate_ca_subject: Option<&[u8]>, report: &mut Report) {
    // A listener on every address is reached on loopback.
    let target = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), address.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), address.port())
        }
        _ => address,
    };
    match probe::tcp(target) {
        TcpProbe::PlainHttp => report.findings.push((
            Finding::TcpWithoutTls,
            format!("dockerd serves the API on {address} without TLS: whoever reaches it calls anonymously"),
        )),
        TcpProbe::TlsWithoutClientCertificate => report.findings.push((
            Finding::TcpWithoutClientVerification,
            format!("dockerd serves the API on {address} over TLS without requiring a client certificate (--tlsverify is off): whoever reaches it calls anonymously"),
        )),
        TcpProbe::ClientCertificateRequired { acceptable_issuers } => {
            let others: Vec<String> = acceptable_issuers
                .iter()
                .filter(|subject| Some(subject.as_slice()) != gate_ca_subject)
                .map(|subject| subject_text(subject))
                .collect();
            if !others.is_empty() {
                report.findings.push((
                    Finding::TcpTrustsOtherCa,
                    format!("dockerd on {address} also accepts client certificates issued by {}: their holders name themselves (--tlscacert should be the gate's ca.pem alone)", others.join("; ")),
                ));
            }
            if gate_ca_subject.is_some_and(|gate| !acceptable_issuers.iter().any(|s| s == gate)) {
                report.notes.push(format!(
                    "dockerd on {address} does not name the gate's CA as an issuer: the gate cannot relay to it"
                ));
            }
        }
        TcpProbe::NoAnswer { reason } => report
            .notes
            .push(format!("dockerd's listener {address} did not answer a probe: {reason}")),
    }
}

/// A DER subject as `CN=..., O=...`, or hex when it does not parse.
fn subject_text(subject: &[u8]) -> String {
    use x509_parser::prelude::FromDer;
    match x509_parser::x509::X509Name::from_der(subject) {
        Ok((_, name)) => format!("\"{name}\""),
        Err(_) => subject.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn check_state_dir(state_dir: &Path, accounts: &[Credentials], report: &mut Report) {
    let root = Path::new("/");
    for (file, consequence) in [
        (CA_KEY, "with the CA key anyone can issue themselves any identity, the admin's included"),
        (DAEMON_KEY, "with the daemon's key a process that takes dockerd's port can pass for dockerd to the gate"),
    ] {
        let path = state_dir.join(file);
        match PathModes::read(root, &absolute(&path)) {
            Ok(modes) => {
                if let Some(users) = who(&modes, accounts, Access::Read) {
                    report.findings.push((
                        Finding::KeyReadable,
                        format!("{users} can read {}: {consequence}", path.display()),
                    ));
                }
            }
            Err(error) => report
                .notes
                .push(format!("cannot read the modes of {}: {error}", path.display())),
        }
    }
    let ca = state_dir.join(CA_CERT);
    if let Ok(modes) = PathModes::read(root, &absolute(&ca)) {
        if let Some(users) = who(&modes, accounts, Access::Replace) {
            report.findings.push((
                Finding::CaReplaceable,
                format!("{users} can replace {} (it or a directory above it is theirs or writable by them): dockerd trusts whatever CA is there when it starts", ca.display()),
            ));
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
