//! The gate's local certificate authority: made on first start, kept root-only on disk.
//!
//! dockerd trusts this CA alone (`--tlscacert`), so every identity it sees on its TLS port
//! was issued here, by the gate, for the user the kernel named. The CA also signs the
//! daemon's own certificate (the gate checks it is talking to dockerd, not to whoever took
//! the port). User certificates live in memory only and are short-lived: nothing is ever
//! written for, or handed to, a user.
//!
//! Files in the state directory (mode 0700):
//!
//! | file | mode | read by |
//! |---|---|---|
//! | `ca.pem` | 0644 | dockerd `--tlscacert` |
//! | `ca-key.pem` | 0600 | the gate only |
//! | `daemon.pem` | 0644 | dockerd `--tlscert` |
//! | `daemon-key.pem` | 0600 | dockerd `--tlskey` |

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use crate::identity::Identity;

/// The CA certificate, as dockerd's `--tlscacert`.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key.
pub const CA_KEY: &str = "ca-key.pem";
/// The daemon's certificate, as dockerd's `--tlscert`.
pub const DAEMON_CERT: &str = "daemon.pem";
/// The daemon's private key, as dockerd's `--tlskey`.
pub const DAEMON_KEY: &str = "daemon-key.pem";
/// Held (flock) while the files are read or made, so two starts never make two CAs.
const LOCK: &str = ".lock";

/// The name the gate checks on the daemon's certificate (it dials a loopback address).
pub const DAEMON_NAME: &str = "localhost";

/// How long the CA and the daemon's certificate are valid. dockerd reads its certificate
/// only when it starts, so it cannot be short-lived; it is only ever served on loopback.
const LONG_LIVED: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How far back a user certificate's validity starts, for clocks read a moment apart.
const BACKDATE: Duration = Duration::from_secs(60);

/// Why the CA could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A file or directory of the state directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The lock of the state directory could not be taken.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: nix::Error,
    },
    /// A private key file can be read by someone else, or belongs to someone else.
    #[error("{} must be owned by uid {uid} and readable by it alone (mode {mode:o}, owner {owner}): fix it, or remove the state directory to make a new CA", path.display())]
    KeyExposed {
        /// The key file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
        /// Its owner.
        owner: u32,
        /// The gate's uid.
        uid: u32,
    },
    /// Half a CA: a certificate without its key or the other way round.
    #[error("{} exists but {} does not: remove the state directory to make a new CA", present.display(), missing.display())]
    Incomplete {
        /// The file that is there.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// A PEM file holds no readable certificate.
    #[error("{}: not a PEM certificate ({reason})", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        reason: String,
    },
    /// A certificate or key could not be made or read.
    #[error("{what}: {source}")]
    Certificate {
        /// What was being done.
        what: String,
        /// The rcgen error.
        source: rcgen::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_owned(),
        source,
    }
}

fn cert_error(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> CaError {
    move |source| CaError::Certificate {
        what: what.into(),
        source,
    }
}

/// A user's credentials for one TLS connection to dockerd: a certificate and its key.
#[derive(Debug)]
pub struct UserCredentials {
    /// The certificate (CommonName = the user's name).
    pub certificate: CertificateDer<'static>,
    /// Its private key (PKCS#8), held in memory only.
    pub key: PrivateKeyDer<'static>,
    /// When the certificate stops being valid.
    pub not_after: OffsetDateTime,
}

/// The gate's CA, open.
pub struct LocalCa {
    dir: PathBuf,
    issuer: Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of any log.
        f.debug_struct("LocalCa")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Opens the CA in `dir`, making the directory, the CA and the daemon's certificate on
    /// first use. Refuses a private key that anyone but its owner (the caller) could read.
    pub fn open_or_create(dir: &Path) -> Result<LocalCa, CaError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_error(dir))?;
        let lock_path = dir.join(LOCK);
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        let _lock = Flock::lock(lock_file, FlockArg::LockExclusive).map_err(|(_, source)| {
            CaError::Lock {
                path: lock_path.clone(),
                source,
            }
        })?;
        let (cert_path, key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
        let ca = match (cert_path.exists(), key_path.exists()) {
            (true, true) => LocalCa::load(dir)?,
            (false, false) => LocalCa::create(dir)?,
            (true, false) => {
                return Err(CaError::Incomplete {
                    present: cert_path,
                    missing: key_path,
                })
            }
            (false, true) => {
                return Err(CaError::Incomplete {
                    present: key_path,
                    missing: cert_path,
                })
            }
        };
        let (daemon_cert, daemon_key) = (dir.join(DAEMON_CERT), dir.join(DAEMON_KEY));
        if daemon_key.exists() {
            check_private(&daemon_key)?;
        }
        if !daemon_cert.exists() || !daemon_key.exists() {
            ca.issue_daemon_certificate()?;
        }
        Ok(ca)
    }

    fn create(dir: &Path) -> Result<LocalCa, CaError> {
        let key = KeyPair::generate().map_err(cert_error("generating the CA key"))?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(
            DnType::CommonName,
            format!("authobot gate CA {}", host_name()),
        );
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - BACKDATE;
        params.not_after = now + LONG_LIVED;
        let issuer = params
            .self_signed(&key)
            .map_err(cert_error("signing the CA certificate"))?;
        write_file(&dir.join(CA_KEY), key.serialize_pem().as_bytes(), 0o600)?;
        write_file(&dir.join(CA_CERT), issuer.pem().as_bytes(), 0o644)?;
        tracing::info!(dir = %dir.display(), "made a new gate CA");
        Ok(LocalCa {
            dir: dir.to_owned(),
            issuer,
            key,
        })
    }

    fn load(dir: &Path) -> Result<LocalCa, CaError> {
        let key_path = dir.join(CA_KEY);
        check_private(&key_path)?;
        let key_pem = fs::read_to_string(&key_path).map_err(io_error(&key_path))?;
        let key = KeyPair::from_pem(&key_pem)
            .map_err(cert_error(format!("reading {}", key_path.display())))?;
        let cert_path = dir.join(CA_CERT);
        let cert_pem = fs::read_to_string(&cert_path).map_err(io_error(&cert_path))?;
        let params = CertificateParams::from_ca_cert_pem(&cert_pem)
            .map_err(cert_error(format!("reading {}", cert_path.display())))?;
        // Re-signed in memory only: what signing needs is the subject and the key
        // identifier, both read from the file.
        let issuer = params
            .self_signed(&key)
            .map_err(cert_error(format!("using {}", cert_path.display())))?;
        Ok(LocalCa {
            dir: dir.to_owned(),
            issuer,
            key,
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate as written to `ca.pem` (what the gate trusts dockerd's certificate
    /// by). Read from the file, so it is byte for byte what dockerd was given.
    pub fn certificate(&self) -> Result<CertificateDer<'static>, CaError> {
        read_certificate(&self.dir.join(CA_CERT))
    }

    fn issue_daemon_certificate(&self) -> Result<(), CaError> {
        let key = KeyPair::generate().map_err(cert_error("generating the daemon key"))?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, DAEMON_NAME);
        params.distinguished_name = name;
        params.subject_alt_names = vec![
            SanType::DnsName(
                DAEMON_NAME
                    .try_into()
                    .map_err(cert_error("the daemon name"))?,
            ),
            SanType::IpAddress([127, 0, 0, 1].into()),
            SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
        ];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - BACKDATE;
        params.not_after = now + LONG_LIVED;
        let certificate = params
            .signed_by(&key, &self.issuer, &self.key)
            .map_err(cert_error("signing the daemon certificate"))?;
        write_file(
            &self.dir.join(DAEMON_KEY),
            key.serialize_pem().as_bytes(),
            0o600,
        )?;
        write_file(
            &self.dir.join(DAEMON_CERT),
            certificate.pem().as_bytes(),
            0o644,
        )?;
        tracing::info!(dir = %self.dir.display(), "made the daemon's certificate");
        Ok(())
    }

    /// A fresh key and a certificate for `identity`, valid for `lifetime` from now: the
    /// CommonName is the identity's name (dockerd's `User`), and each group is a
    /// `urn:authobot:group:NAME` URI in the subject alternative names, for plugins that read
    /// `RequestPeerCertificates`.
    pub fn issue_user(
        &self,
        identity: &Identity,
        lifetime: Duration,
    ) -> Result<UserCredentials, CaError> {
        let what = |step: &str| format!("{step} for user {:?}", identity.name);
        let key = KeyPair::generate().map_err(cert_error(what("generating a key")))?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, identity.name.as_str());
        params.distinguished_name = name;
        params.subject_alt_names = identity
            .groups
            .iter()
            .filter_map(|group| group_uri(group).try_into().ok())
            .map(SanType::URI)
            .collect();
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - BACKDATE;
        params.not_after = now + lifetime;
        let not_after = params.not_after;
        let certificate = params
            .signed_by(&key, &self.issuer, &self.key)
            .map_err(cert_error(what("signing a certificate")))?;
        Ok(UserCredentials {
            certificate: certificate.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            not_after,
        })
    }
}

/// How a group is named in a user certificate: ASCII only (a URI), the rest percent-encoded.
pub fn group_uri(group: &str) -> String {
    let mut uri = String::from("urn:authobot:group:");
    for byte in group.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// Refuses a private key that is not the gate's alone.
fn check_private(path: &Path) -> Result<(), CaError> {
    let metadata = fs::metadata(path).map_err(io_error(path))?;
    let uid = nix::unistd::Uid::effective().as_raw();
    let mode = metadata.permissions().mode() & 0o7777;
    if metadata.uid() != uid || mode & 0o077 != 0 {
        return Err(CaError::KeyExposed {
            path: path.to_owned(),
            mode,
            owner: metadata.uid(),
            uid,
        });
    }
    Ok(())
}

/// Reads the first certificate of a PEM file.
pub fn read_certificate(path: &Path) -> Result<CertificateDer<'static>, CaError> {
    CertificateDer::from_pem_file(path).map_err(|error| CaError::Pem {
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

/// Writes `bytes` to `path` with `mode` through a temporary file renamed into place, so a
/// reader never sees half a key and a crash leaves no half-written file.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CaError> {
    let temporary = path.with_extension("new");
    let _ = fs::remove_file(&temporary);
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(mode)
        .open(&temporary)
        .map_err(io_error(&temporary))?;
    file.write_all(bytes).map_err(io_error(&temporary))?;
    file.sync_all().map_err(io_error(&temporary))?;
    fs::rename(&temporary, path).map_err(io_error(path))?;
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(dir))?;
    }
    Ok(())
}

/// This host's name, for the CA's name (so two hosts' CAs are told apart in errors).
fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}
