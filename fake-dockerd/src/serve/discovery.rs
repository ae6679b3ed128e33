//! Finding an authz plugin by name the way dockerd 20.10 does, retries included.
//!
//! Order and formats follow moby v20.10.24 `pkg/plugins/discovery.go`: a socket
//! `NAME.sock` or `NAME/NAME.sock` in the socket directory, then `NAME.spec` (a URL) or
//! `NAME.json` (`{"Addr": URL}`), each directly or in `NAME/`, in every spec directory.
//! Retrying follows the profile's [`crate::profile::RetryRule`] (see `serve::connect_plugin`).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Where plugins are looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPaths {
    /// The directory of plugin sockets (`/run/docker/plugins`).
    pub sockets: PathBuf,
    /// The directories of spec files, in order (`/etc/docker/plugins`, `/usr/lib/docker/plugins`).
    pub specs: Vec<PathBuf>,
}

impl SearchPaths {
    /// dockerd's own paths on Linux.
    pub fn dockerd() -> Self {
        SearchPaths {
            sockets: PathBuf::from("/run/docker/plugins"),
            specs: vec![
                PathBuf::from("/etc/docker/plugins"),
                PathBuf::from("/usr/lib/docker/plugins"),
            ],
        }
    }

    /// One directory standing in for all of dockerd's (`--plugin-dir`), same layout.
    pub fn single(dir: &Path) -> Self {
        SearchPaths {
            sockets: dir.to_path_buf(),
            specs: vec![dir.to_path_buf()],
        }
    }
}

/// Why a plugin could not be located.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// No socket and no spec file carries the name (dockerd's own wording).
    #[error("could not find plugin {0} in v1 plugin registry: plugin not found")]
    NotFound(String),
    /// A spec file exists but could not be read.
    #[error("cannot read plugin spec {}: {source}", path.display())]
    Read {
        /// The spec file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// A `.json` spec is not a JSON object with an `Addr`.
    #[error("invalid plugin spec {}: {reason}", path.display())]
    Invalid {
        /// The spec file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The spec names an address without a scheme (dockerd: `Unknown protocol`).
    #[error("Unknown protocol in plugin spec {}: {address:?}", path.display())]
    UnknownProtocol {
        /// The spec file.
        path: PathBuf,
        /// The address it holds.
        address: String,
    },
    /// The spec names a TCP or other non-unix address, which fake-dockerd does not dial.
    #[error("plugin {name} is at {address}: fake-dockerd only reaches plugins over unix sockets")]
    Unsupported {
        /// The plugin name.
        name: String,
        /// The address from its spec.
        address: String,
    },
}

/// The unix socket of plugin `name`, found as dockerd would find it.
pub fn locate(name: &str, paths: &SearchPaths) -> Result<PathBuf, DiscoveryError> {
    for candidate in candidates(&paths.sockets, name, "sock") {
        if std::fs::metadata(&candidate).is_ok_and(|m| m.file_type().is_socket()) {
            return Ok(candidate);
        }
    }
    let specs = paths.specs.iter().flat_map(|dir| {
        candidates(dir, name, "spec")
            .into_iter()
            .chain(candidates(dir, name, "json"))
    });
    for spec in specs {
        if std::fs::metadata(&spec).is_err() {
            continue;
        }
        let text = std::fs::read_to_string(&spec).map_err(|source| DiscoveryError::Read {
            path: spec.clone(),
            source,
        })?;
        let address = if spec.extension().is_some_and(|e| e == "json") {
            json_spec_address(&spec, &text)?
        } else {
            text.trim().to_owned()
        };
        return unix_address(name, &spec, &address);
    }
    Err(DiscoveryError::NotFound(name.to_owned()))
}

/// `DIR/NAME.EXT` then `DIR/NAME/NAME.EXT`, as `pluginPaths` lists them.
fn candidates(dir: &Path, name: &str, ext: &str) -> [PathBuf; 2] {
    let file = format!("{name}.{ext}");
    [dir.join(&file), dir.join(name).join(&file)]
}

fn json_spec_address(spec: &Path, text: &str) -> Result<String, DiscoveryError> {
    let invalid = |reason: String| DiscoveryError::Invalid {
        path: spec.to_path_buf(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    // Go decodes into a struct, so the key matches case-insensitively.
    let object = value
        .as_object()
        .ok_or_else(|| invalid("not a JSON object".into()))?;
    let address = object
        .iter()
        .rev()
        .find(|(key, _)| key.eq_ignore_ascii_case("addr"))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default();
    Ok(address.to_owned())
}

fn unix_address(name: &str, spec: &Path, address: &str) -> Result<PathBuf, DiscoveryError> {
    match address.split_once("://") {
        Some(("unix", path)) => Ok(PathBuf::from(path)),
        Some((scheme, _)) if !scheme.is_empty() => Err(DiscoveryError::Unsupported {
            name: name.to_owned(),
            address: address.to_owned(),
        }),
        _ => Err(DiscoveryError::UnknownProtocol {
            path: spec.to_path_buf(),
            address: address.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn layout() -> (tempfile::TempDir, SearchPaths) {
        let root = tempfile::tempdir().unwrap();
        let paths = SearchPaths {
            sockets: root.path().join("run"),
            specs: vec![root.path().join("etc"), root.path().join("lib")],
        };
        for dir in std::iter::once(&paths.sockets).chain(&paths.specs) {
            std::fs::create_dir_all(dir).unwrap();
        }
        (root, paths)
    }

    #[test]
    fn finds_a_socket_named_after_the_plugin() {
        let (_root, paths) = layout();
        let socket = paths.sockets.join("authz.sock");
        let _listener = UnixListener::bind(&socket).unwrap();
        assert_eq!(locate("authz", &paths).unwrap(), socket);
    }

    #[test]
    fn finds_a_socket_in_a_directory_named_after_the_plugin() {
        let (_root, paths) = layout();
        std::fs::create_dir(paths.sockets.join("authz")).unwrap();
        let socket = paths.sockets.join("authz/authz.sock");
        let _listener = UnixListener::bind(&socket).unwrap();
        assert_eq!(locate("authz", &paths).unwrap(), socket);
    }

    #[test]
    fn a_regular_file_named_like_a_socket_is_not_a_plugin() {
        let (_root, paths) = layout();
        std::fs::write(paths.sockets.join("authz.sock"), "").unwrap();
        assert!(matches!(
            locate("authz", &paths),
            Err(DiscoveryError::NotFound(_))
        ));
    }

    #[test]
    fn a_spec_file_gives_the_plugin_address() {
        let (_root, paths) = layout();
        std::fs::write(
            paths.specs[1].join("authz.spec"),
            "unix:///tmp/elsewhere.sock\n",
        )
        .unwrap();
        assert_eq!(
            locate("authz", &paths).unwrap(),
            PathBuf::from("/tmp/elsewhere.sock")
        );
    }

    #[test]
    fn a_json_spec_gives_the_plugin_address_from_addr() {
        let (_root, paths) = layout();
        std::fs::write(
            paths.specs[0].join("authz.json"),
            r#"{"Name":"authz","addr":"unix:///tmp/j.sock"}"#,
        )
        .unwrap();
        assert_eq!(
            locate("authz", &paths).unwrap(),
            PathBuf::from("/tmp/j.sock")
        );
    }

    #[test]
    fn the_socket_directory_wins_over_spec_files() {
        let (_root, paths) = layout();
        let socket = paths.sockets.join("authz.sock");
        let _listener = UnixListener::bind(&socket).unwrap();
        std::fs::write(paths.specs[0].join("authz.spec"), "unix:///tmp/other.sock").unwrap();
        assert_eq!(locate("authz", &paths).unwrap(), socket);
    }

    #[test]
    fn a_spec_without_a_scheme_is_an_unknown_protocol() {
        let (_root, paths) = layout();
        std::fs::write(paths.specs[0].join("authz.spec"), "/tmp/x.sock").unwrap();
        assert!(matches!(
            locate("authz", &paths),
            Err(DiscoveryError::UnknownProtocol { .. })
        ));
    }

    #[test]
    fn a_tcp_spec_is_refused_as_unsupported() {
        let (_root, paths) = layout();
        std::fs::write(paths.specs[0].join("authz.spec"), "tcp://127.0.0.1:8080").unwrap();
        assert!(matches!(
            locate("authz", &paths),
            Err(DiscoveryError::Unsupported { .. })
        ));
    }

    #[test]
    fn a_missing_plugin_is_reported_in_dockerds_words() {
        let (_root, paths) = layout();
        let error = locate("nope", &paths).unwrap_err();
        assert_eq!(
            error.to_string(),
            "could not find plugin nope in v1 plugin registry: plugin not found"
        );
    }
}
