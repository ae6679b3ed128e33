//! Getting the plugin's unix socket: bound safely at a path, or handed over by systemd.
//!
//! dockerd finds a plugin by its socket file, so a second plugin process must never take the
//! socket of one that is still serving, while a socket left behind by a crash must not keep
//! the plugin from starting again.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::UnixListener;

use super::ServerError;

/// The socket's permission bits: owner and group (dockerd runs as root) may connect.
pub const SOCKET_MODE: u32 = 0o660;

/// Binds a unix socket at `path` for the plugin, with mode 0660.
///
/// Creates the parent directory. A socket file already at `path` is probed first: if some
/// process answers on it, binding is refused ([`ServerError::SocketInUse`]); if nobody
/// listens, the stale file is removed and replaced. Anything at `path` that is not a socket
/// (a regular file, a directory, a symlink) is left alone and refused.
///
/// Must be called from within a tokio runtime.
pub fn bind_unix(path: &Path) -> Result<UnixListener, ServerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|source| ServerError::CreateDir {
            path: parent.to_owned(),
            source,
        })?;
    }
    remove_stale_socket(path)?;
    let listener = UnixListener::bind(path).map_err(|source| ServerError::Bind {
        path: path.to_owned(),
        source,
    })?;
    fs::set_permissions(path, fs::Permissions::from_mode(SOCKET_MODE)).map_err(|source| {
        ServerError::Permissions {
            path: path.to_owned(),
            source,
        }
    })?;
    tracing::debug!(path = %path.display(), "bound plugin socket");
    Ok(listener)
}

/// Clears the way for a bind at `path`, or says why it must not be cleared.
fn remove_stale_socket(path: &Path) -> Result<(), ServerError> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ServerError::Inspect {
                path: path.to_owned(),
                source,
            })
        }
    };
    if !metadata.file_type().is_socket() {
        return Err(ServerError::NotASocket {
            path: path.to_owned(),
        });
    }
    match probe_socket(path) {
        SocketState::Live => Err(ServerError::SocketInUse {
            path: path.to_owned(),
        }),
        SocketState::Gone => Ok(()),
        SocketState::Stale => {
            tracing::info!(path = %path.display(), "replacing a stale plugin socket");
            match fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(ServerError::RemoveStale {
                    path: path.to_owned(),
                    source,
                }),
            }
        }
        SocketState::Unknown(source) => Err(ServerError::Probe {
            path: path.to_owned(),
            source,
        }),
    }
}

/// What a connection attempt tells about a socket file.
#[derive(Debug)]
enum SocketState {
    /// Someone accepted, or would accept once its backlog drains.
    Live,
    /// Nobody listens: left behind by a process that is gone.
    Stale,
    /// The file vanished between looking at it and connecting.
    Gone,
    /// The probe failed in a way that says nothing about a listener (e.g. permissions).
    Unknown(io::Error),
}

/// Connects without blocking, so a live server with a full backlog cannot hang the probe.
fn probe_socket(path: &Path) -> SocketState {
    let attempt = Socket::new(Domain::UNIX, Type::STREAM, None).and_then(|socket| {
        socket.set_nonblocking(true)?;
        socket.connect(&SockAddr::unix(path)?)
    });
    match attempt {
        Ok(()) => SocketState::Live,
        Err(err) => match err.kind() {
            io::ErrorKind::ConnectionRefused => SocketState::Stale,
            io::ErrorKind::NotFound => SocketState::Gone,
            // A unix socket's backlog is full: a listener exists.
            io::ErrorKind::WouldBlock => SocketState::Live,
            _ => SocketState::Unknown(err),
        },
    }
}

/// The listening socket systemd (or `systemd-socket-activate`) passed to this process, if any.
///
/// Follows `sd_listen_fds(3)`: only when `LISTEN_FDS` is set and `LISTEN_PID` names this
/// process; the first passed descriptor is used and must be a listening unix stream socket.
/// Returns `Ok(None)` when nothing was passed to us. Call it once, early, from within a tokio
/// runtime: the variables are removed from the environment once read.
pub fn systemd_listener() -> Result<Option<UnixListener>, ServerError> {
    let fds = std::env::var("LISTEN_FDS").ok();
    let pid = std::env::var("LISTEN_PID").ok();
    let count = match passed_fd_count(fds.as_deref(), pid.as_deref(), std::process::id())? {
        Some(count) => count,
        None => return Ok(None),
    };
    if count > 1 {
        tracing::warn!(
            count,
            "several sockets were passed; serving on the first only"
        );
    }
    let mut passed = listenfd::ListenFd::from_env();
    let listener = passed
        .take_unix_listener(0)
        .map_err(ServerError::PassedSocket)?
        .ok_or(ServerError::PassedSocketMissing)?;
    listener
        .set_nonblocking(true)
        .map_err(ServerError::PassedSocket)?;
    let listener = UnixListener::from_std(listener).map_err(ServerError::PassedSocket)?;
    tracing::info!("serving on the socket passed by the service manager");
    Ok(Some(listener))
}

/// Reads `LISTEN_FDS`/`LISTEN_PID` as `sd_listen_fds` does: the count of passed descriptors
/// when they are meant for `own_pid`, `None` when nothing was passed to this process.
pub(crate) fn passed_fd_count(
    listen_fds: Option<&str>,
    listen_pid: Option<&str>,
    own_pid: u32,
) -> Result<Option<usize>, ServerError> {
    let Some(listen_fds) = listen_fds else {
        return Ok(None);
    };
    let Some(listen_pid) = listen_pid else {
        tracing::debug!("LISTEN_FDS without LISTEN_PID: not meant for this process");
        return Ok(None);
    };
    let for_us = listen_pid
        .trim()
        .parse::<u32>()
        .is_ok_and(|pid| pid == own_pid);
    if !for_us {
        tracing::debug!(
            listen_pid,
            "LISTEN_PID names another process; ignoring LISTEN_FDS"
        );
        return Ok(None);
    }
    let count: usize = listen_fds
        .trim()
        .parse()
        .map_err(|_| ServerError::ListenFdsInvalid {
            value: listen_fds.to_owned(),
        })?;
    Ok((count > 0).then_some(count))
}

/// The path a listener is bound to, for logs; `None` for unnamed or abstract sockets.
pub(crate) fn listener_path(listener: &UnixListener) -> Option<PathBuf> {
    listener
        .local_addr()
        .ok()
        .and_then(|addr| addr.as_pathname().map(Path::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_passed_when_listen_fds_is_unset() {
        assert!(passed_fd_count(None, Some("42"), 42).unwrap().is_none());
    }

    #[test]
    fn passed_fds_count_when_listen_pid_is_ours() {
        assert_eq!(passed_fd_count(Some("2"), Some("42"), 42).unwrap(), Some(2));
    }

    #[test]
    fn passed_fds_ignored_when_listen_pid_names_another_process() {
        assert!(passed_fd_count(Some("1"), Some("41"), 42)
            .unwrap()
            .is_none());
    }

    #[test]
    fn passed_fds_ignored_without_listen_pid() {
        assert!(passed_fd_count(Some("1"), None, 42).unwrap().is_none());
    }

    #[test]
    fn zero_passed_fds_means_nothing_passed() {
        assert!(passed_fd_count(Some("0"), Some("42"), 42)
            .unwrap()
            .is_none());
    }

    #[test]
    fn non_numeric_listen_fds_is_an_error() {
        let err = passed_fd_count(Some("three"), Some("42"), 42).unwrap_err();
        assert!(matches!(err, ServerError::ListenFdsInvalid { .. }), "{err}");
    }
}
