//! Where the testcontainers-rs end-to-end test finds the throwaway daemon that `vm/e2e.sh`
//! started, and how it recognises the plugin's refusal in a client error.
//!
//! The test runs only when the harness says where the daemon is; everywhere else (a plain
//! `cargo test`) it is skipped with [`SKIP_MESSAGE`].

/// Set by `vm/e2e.sh` to the throwaway daemon's address (`unix:///tmp/abe.../docker.sock`).
pub const DOCKER_HOST_VAR: &str = "AUTHOBOT_E2E_DOCKER_HOST";
/// Set by `vm/e2e.sh` to the locally made image (`authobot-e2e/busybox:latest`).
pub const IMAGE_VAR: &str = "AUTHOBOT_E2E_IMAGE";
/// Printed when the test is not run by the harness.
pub const SKIP_MESSAGE: &str = "skipped: no throwaway daemon (AUTHOBOT_E2E_DOCKER_HOST is unset); \
     `make e2e` (vm/e2e.sh) starts one with authobot in front and runs this test against it";

/// The daemon and image the test uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The daemon's address, also what testcontainers reads from `DOCKER_HOST`.
    pub docker_host: String,
    /// Image name without the tag.
    pub image: String,
    /// Image tag.
    pub tag: String,
}

/// Why the harness's settings cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// testcontainers reads `DOCKER_HOST`; if it points elsewhere the test would run against
    /// another daemon.
    #[error("DOCKER_HOST is {actual:?} but {DOCKER_HOST_VAR} is {expected:?}: testcontainers would use another daemon")]
    DockerHostMismatch {
        /// The harness's daemon.
        expected: String,
        /// What `DOCKER_HOST` holds.
        actual: Option<String>,
    },
    /// The image reference has no name.
    #[error("{IMAGE_VAR} holds no image name: {0:?}")]
    BadImage(String),
}

/// Reads the harness's settings through `var` (`std::env::var` in the test): `Ok(None)` when
/// the harness did not start a daemon.
pub fn target_from(var: impl Fn(&str) -> Option<String>) -> Result<Option<Target>, TargetError> {
    let Some(docker_host) = var(DOCKER_HOST_VAR).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let actual = var("DOCKER_HOST");
    if actual.as_deref() != Some(docker_host.as_str()) {
        return Err(TargetError::DockerHostMismatch {
            expected: docker_host,
            actual,
        });
    }
    let reference = var(IMAGE_VAR).unwrap_or_else(|| "authobot-e2e/busybox:latest".to_owned());
    let (image, tag) = split_image(&reference)?;
    Ok(Some(Target {
        docker_host,
        image,
        tag,
    }))
}

/// Splits `name[:tag]` into name and tag (`latest` when absent). A colon before the last `/`
/// belongs to a registry's port, not to a tag.
pub fn split_image(reference: &str) -> Result<(String, String), TargetError> {
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match reference[last_slash..].rfind(':') {
        Some(i) => (
            &reference[..last_slash + i],
            &reference[last_slash + i + 1..],
        ),
        None => (reference, "latest"),
    };
    if name.is_empty() || name.ends_with('/') || tag.is_empty() {
        return Err(TargetError::BadImage(reference.to_owned()));
    }
    Ok((name.to_owned(), tag.to_owned()))
}

/// True when `message` carries dockerd's authorization-denied text for authobot, installed as
/// a legacy plugin (`authobot`) or a managed one (`authobot:latest`).
pub fn is_plugin_denial(message: &str) -> bool {
    [
        "authorization denied by plugin authobot: ",
        "authorization denied by plugin authobot:latest: ",
    ]
    .iter()
    .any(|prefix| message.contains(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn no_harness_daemon_means_skip() {
        assert_eq!(target_from(vars(&[("DOCKER_HOST", "unix:///x")])), Ok(None));
    }

    #[test]
    fn docker_host_must_point_at_the_harness_daemon() {
        let got = target_from(vars(&[
            (DOCKER_HOST_VAR, "unix:///a"),
            ("DOCKER_HOST", "unix:///b"),
        ]));
        assert!(matches!(got, Err(TargetError::DockerHostMismatch { .. })));
    }

    #[test]
    fn reads_daemon_and_image_from_the_harness() {
        let got = target_from(vars(&[
            (DOCKER_HOST_VAR, "unix:///a"),
            ("DOCKER_HOST", "unix:///a"),
            (IMAGE_VAR, "authobot-e2e/busybox:v1"),
        ]));
        assert_eq!(
            got,
            Ok(Some(Target {
                docker_host: "unix:///a".into(),
                image: "authobot-e2e/busybox".into(),
                tag: "v1".into()
            }))
        );
    }

    #[test]
    fn registry_port_is_not_a_tag() {
        assert_eq!(
            split_image("localhost:5000/busybox"),
            Ok(("localhost:5000/busybox".into(), "latest".into()))
        );
    }

    #[test]
    fn empty_tag_is_refused() {
        assert!(split_image("busybox:").is_err());
    }

    #[test]
    fn recognises_legacy_and_managed_denials_only() {
        assert!(is_plugin_denial("Docker responded with status code 403: authorization denied by plugin authobot: HostConfig.Privileged is not allowed"));
        assert!(is_plugin_denial(
            "authorization denied by plugin authobot:latest: no"
        ));
        assert!(!is_plugin_denial(
            "authorization denied by plugin other: no"
        ));
        assert!(!is_plugin_denial(
            "plugin authobot failed with error: connection refused"
        ));
    }
}
