//! TLS client settings per identity: a certificate issued on first use, kept in memory and
//! issued anew once half its lifetime has passed.
//!
//! Keeping the settings (not only the certificate) per user also keeps rustls's session
//! cache per user, so a user's next connections resume their TLS session instead of a full
//! handshake, and one user's session can never be resumed under another's name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::{ClientConfig, RootCertStore};

use crate::ca::{CaError, LocalCa};
use crate::identity::Identity;

/// Why no TLS settings could be made for a user.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA could not issue or be read.
    #[error(transparent)]
    Ca(#[from] CaError),
    /// rustls refused the certificate, key or trust anchor.
    #[error("TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
}

/// One identity's settings and when to replace them.
#[derive(Debug)]
struct Issued {
    config: Arc<ClientConfig>,
    renew_at: Instant,
}

/// The TLS client settings of every identity the gate has relayed.
#[derive(Debug)]
pub struct ClientSettings {
    ca: LocalCa,
    roots: Arc<RootCertStore>,
    lifetime: Duration,
    issued: Mutex<HashMap<Identity, Issued>>,
}

impl ClientSettings {
    /// Settings trusting only `ca` for the daemon's certificate, issuing user certificates
    /// valid for `lifetime`.
    pub fn new(ca: LocalCa, lifetime: Duration) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add(ca.certificate()?)?;
        Ok(ClientSettings {
            ca,
            roots: Arc::new(roots),
            lifetime,
            issued: Mutex::new(HashMap::new()),
        })
    }

    /// The settings to dial dockerd as `identity`.
    pub fn for_identity(&self, identity: &Identity) -> Result<Arc<ClientConfig>, TlsError> {
        let now = Instant::now();
        if let Some(issued) = self.lock().get(identity) {
            if now < issued.renew_at {
                return Ok(Arc::clone(&issued.config));
            }
        }
        let credentials = self.ca.issue_user(identity, self.lifetime)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(Arc::clone(&self.roots))
            .with_client_auth_cert(vec![credentials.certificate], credentials.key)?;
        let config = Arc::new(config);
        tracing::debug!(user = %identity.name, not_after = %credentials.not_after, "issued a certificate");
        self.lock().insert(
            identity.clone(),
            Issued {
                config: Arc::clone(&config),
                renew_at: now + self.lifetime / 2,
            },
        );
        Ok(config)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Identity, Issued>> {
        // A panic while holding the map leaves it whole (inserts are single calls).
        self.issued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
