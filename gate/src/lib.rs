//! The gate: a unix socket that relays each local caller to dockerd over TLS, as themselves.
//!
//! dockerd tells its authorization plugins who is calling only when the client used TLS
//! (`User` is the client certificate's CommonName); on its unix socket everyone is
//! anonymous. The gate takes the unix socket's place: it reads each connection's peer
//! credentials from the kernel, names the user, and relays the connection byte for byte to
//! dockerd's loopback TLS port with a certificate its own CA issued for that user.
//!
//! - [`identity`]: SO_PEERCRED to a user name (uid 0 to the root identity), or a refusal.
//! - [`userdb`]: the host's accounts and groups, from /etc/passwd and /etc/group.
//! - [`ca`]: the local CA, made on first start; user certificates issued in memory.
//! - [`tls`]: per-user TLS settings, renewed before their certificate expires.
//! - [`relay`]: the accept loop and the byte relay.
//! - [`check`]: `--check`, what in the host's setup lets a user go around the gate.
//! - [`cli`]: the `authobot gate` command.

pub mod ca;
pub mod check;
pub mod cli;
pub mod identity;
pub mod relay;
pub mod tls;
pub mod userdb;
