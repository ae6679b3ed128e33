//! What dockerd 20.10 makes of decoded values before it acts on them.
//!
//! Decoding is only half of reading a request the daemon's way: capability names are
//! upper-cased (Unicode-aware) and prefixed (`oci/caps/utils.go`), bind specs are split and
//! their paths cleaned (`volume/mounts/linux_parser.go`), local volumes with bind options
//! mount a host path (`volume/local`), security options are split on `=` or the legacy `:`
//! (`daemon/daemon_unix.go`). Policies call these helpers instead of re-parsing strings.

use std::collections::BTreeMap;

use super::model::{Bind, HostConfig, Mount, VolumeCreate};
use super::BodyError;

/// Go's `strings.ToUpper`: every rune through `unicode.ToUpper`, one rune for one rune
/// (`ſ` -> `S`, `ı` -> `I`; `ß` stays, where Rust's full mapping would give `SS`).
pub fn go_to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(single), None) => single,
                _ => c,
            }
        })
        .collect()
}

/// Go's `path.Clean`: lexical, `//` and `.` dropped, `..` resolved, `/..` is `/`, "" is ".".
pub fn go_path_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Splits a `SecurityOpt` entry as 20.10's `parseSecurityOpt` does: `key=value`, else the
/// legacy `key:value`; the bare words `no-new-privileges` and `disable` mean
/// `("no-new-privileges", "true")` and `("label", "disable")`. Anything else comes back as
/// `(entry, "")`, which the daemon refuses. Keys are case-sensitive for the daemon.
pub fn parse_security_opt(opt: &str) -> (String, String) {
    match opt {
        "no-new-privileges" => return ("no-new-privileges".to_owned(), "true".to_owned()),
        "disable" => return ("label".to_owned(), "disable".to_owned()),
        _ => {}
    }
    let separator = if opt.contains('=') {
        '='
    } else if opt.contains(':') {
        ':'
    } else {
        return (opt.to_owned(), String::new());
    };
    match opt.split_once(separator) {
        Some((key, value)) => (key.to_owned(), value.to_owned()),
        None => (opt.to_owned(), String::new()),
    }
}

/// The host path a set of volume driver options mounts: the local driver bind-mounts
/// `device` when its `o` options ask for a bind (`type=none,o=bind,device=/x`; `rbind` and
/// any other `o` containing `bind` count). Applied whatever the driver name, since a
/// third-party driver may honour the same options. Option keys are case-sensitive, as the
/// local driver's are. The path comes back cleaned; symlinks are the kernel's business.
pub fn local_bind_device(options: &BTreeMap<String, String>) -> Option<String> {
    let o = options.get("o")?;
    if !o.contains("bind") {
        return None;
    }
    options.get("device").map(|device| go_path_clean(device))
}

impl HostConfig {
    /// `CapAdd` as 20.10's `NormalizeLegacyCapabilities` makes it: Go's Unicode-aware
    /// upper-casing, `ALL` kept, `CAP_` added when missing (`ſys_admın` -> `CAP_SYS_ADMIN`).
    /// Unknown names are kept; the daemon refuses them.
    pub fn normalized_cap_add(&self) -> Vec<String> {
        self.cap_add
            .iter()
            .map(|cap| {
                let upper = go_to_upper(cap);
                if upper == "ALL" || upper.starts_with("CAP_") {
                    upper
                } else {
                    format!("CAP_{upper}")
                }
            })
            .collect()
    }

    /// `Binds` as 20.10's `ParseMountRaw` reads them (`source:destination[:mode]`); an entry
    /// the daemon would refuse is an error.
    pub fn parsed_binds(&self) -> Result<Vec<Bind>, BodyError> {
        self.binds.iter().map(|raw| parse_bind(raw)).collect()
    }
}

impl Mount {
    /// The host path this mount exposes: a `bind` mount's cleaned source, or the device of a
    /// `volume` mount whose driver options bind a host path. The daemon refuses any other
    /// spelling of the type (`Bind`), so only the exact names count.
    pub fn host_path(&self) -> Option<String> {
        match self.kind.as_str() {
            "bind" => Some(go_path_clean(&self.source)),
            "volume" => self
                .volume_options
                .as_ref()
                .and_then(|options| options.driver_config.as_ref())
                .and_then(|driver| local_bind_device(&driver.options)),
            _ => None,
        }
    }
}

impl VolumeCreate {
    /// The host path a volume created with these driver options would mount.
    pub fn host_path(&self) -> Option<String> {
        local_bind_device(&self.driver_opts)
    }
}

fn invalid_bind(spec: &str, reason: &'static str) -> BodyError {
    BodyError::InvalidBind {
        spec: spec.to_owned(),
        reason,
    }
}

const PROPAGATION_MODES: [&str; 6] = [
    "private", "rprivate", "slave", "rslave", "shared", "rshared",
];

/// `linuxValidMountMode`: comma-separated options, at most one of each kind.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0usize; 5];
    for option in mode.split(',') {
        let kind = match option {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            o if PROPAGATION_MODES.contains(&o) => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        counts[kind] += 1;
    }
    counts.iter().all(|&n| n <= 1)
}

/// `linuxParser.ParseMountRaw` then `parseMountSpec` (without the source-exists check).
fn parse_bind(raw: &str) -> Result<Bind, BodyError> {
    if raw.matches(':').count() > 2 {
        return Err(invalid_bind(raw, "more than two ':'"));
    }
    let parts: Vec<&str> = raw.splitn(3, ':').collect();
    if parts[0].is_empty() {
        return Err(invalid_bind(raw, "empty first field"));
    }
    let (source, target, mode) = match parts.as_slice() {
        [target] => ("", *target, ""),
        [source, target] => {
            if valid_mode(target) {
                return Err(invalid_bind(
                    raw,
                    "a destination with a mode is not a volume",
                ));
            }
            (*source, *target, "")
        }
        [source, target, mode] => (*source, *target, *mode),
        _ => return Err(invalid_bind(raw, "unparsable")),
    };
    if !valid_mode(mode) {
        return Err(invalid_bind(raw, "invalid mode"));
    }
    let host_path = source.starts_with('/');
    let read_only = mode.split(',').any(|o| o == "ro");
    let no_copy = mode.split(',').any(|o| o == "nocopy");
    let propagation = mode.split(',').any(|o| PROPAGATION_MODES.contains(&o));
    if target.is_empty() {
        return Err(invalid_bind(raw, "missing destination"));
    }
    let target_slashed = target.replace('\\', "/");
    if go_path_clean(&target_slashed) == "/" {
        return Err(invalid_bind(raw, "destination is the container's root"));
    }
    if !target_slashed.starts_with('/') {
        return Err(invalid_bind(raw, "destination must be absolute"));
    }
    if host_path {
        if no_copy {
            return Err(invalid_bind(raw, "nocopy on a bind mount"));
        }
    } else {
        if propagation {
            return Err(invalid_bind(raw, "propagation on a volume"));
        }
        if source.is_empty() && read_only {
            return Err(invalid_bind(raw, "read-only anonymous volume"));
        }
    }
    Ok(Bind {
        source: if host_path {
            go_path_clean(source)
        } else {
            source.to_owned()
        },
        destination: go_path_clean(target),
        mode: mode.to_owned(),
        read_only,
        host_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[&str]) -> Vec<String> {
        HostConfig {
            cap_add: list.iter().map(|s| s.to_string()).collect(),
            ..HostConfig::default()
        }
        .normalized_cap_add()
    }

    #[test]
    fn cap_names_are_upper_cased_unicode_aware_and_prefixed() {
        assert_eq!(caps(&["ſys_admın"]), ["CAP_SYS_ADMIN"]);
        assert_eq!(caps(&["cap_net_admin", "all"]), ["CAP_NET_ADMIN", "ALL"]);
    }

    #[test]
    fn go_upper_case_never_expands_a_rune() {
        assert_eq!(go_to_upper("ßﬀ"), "ßﬀ");
        // The Kelvin sign is upper case already: it stays, and names no capability.
        assert_eq!(caps(&["\u{212A}ill"]), ["CAP_\u{212A}ILL"]);
    }

    #[test]
    fn paths_clean_like_go() {
        for (input, want) in [
            ("", "."),
            ("//etc/./x/..//", "/etc"),
            ("/../..", "/"),
            ("a/../../b", "../b"),
            ("/a/b/../../c", "/c"),
            ("./", "."),
        ] {
            assert_eq!(go_path_clean(input), want, "{input:?}");
        }
    }

    #[test]
    fn binds_with_host_paths_are_cleaned_and_flagged() {
        let hc = HostConfig {
            binds: vec![
                "//etc/../:/host:ro,rslave".into(),
                "data:/data".into(),
                "/anon".into(),
            ],
            ..HostConfig::default()
        };
        let binds = hc.parsed_binds().unwrap();
        assert_eq!(
            binds[0],
            Bind {
                source: "/".into(),
                destination: "/host".into(),
                mode: "ro,rslave".into(),
                read_only: true,
                host_path: true,
            }
        );
        assert!(!binds[1].host_path && binds[1].source == "data");
        assert!(
            !binds[2].host_path && binds[2].source.is_empty() && binds[2].destination == "/anon"
        );
    }

    #[test]
    fn binds_the_daemon_refuses_are_errors() {
        for raw in [
            "/a:/b:ro:x",
            ":/b",
            "/a:/b:ro,ro",
            "/a:/",
            "/a:rel",
            "/foo:rw",
            "vol:/x:rshared",
            "/h:/x:nocopy",
        ] {
            let hc = HostConfig {
                binds: vec![raw.into()],
                ..HostConfig::default()
            };
            assert!(hc.parsed_binds().is_err(), "{raw}");
        }
    }

    #[test]
    fn local_volume_bind_options_expose_the_device() {
        let opts: BTreeMap<String, String> =
            [("type", "none"), ("o", "rbind,ro"), ("device", "/etc/../")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        assert_eq!(local_bind_device(&opts), Some("/".to_owned()));
        let volume = VolumeCreate {
            driver_opts: opts,
            ..VolumeCreate::default()
        };
        assert_eq!(volume.host_path(), Some("/".to_owned()));
        let plain: BTreeMap<String, String> = [("type".to_owned(), "tmpfs".to_owned())].into();
        assert_eq!(local_bind_device(&plain), None);
    }

    #[test]
    fn security_opts_split_like_the_daemon() {
        assert_eq!(
            parse_security_opt("seccomp=unconfined"),
            ("seccomp".into(), "unconfined".into())
        );
        assert_eq!(
            parse_security_opt("apparmor:unconfined"),
            ("apparmor".into(), "unconfined".into())
        );
        assert_eq!(
            parse_security_opt("label=type:x=y"),
            ("label".into(), "type:x=y".into())
        );
        assert_eq!(
            parse_security_opt("disable"),
            ("label".into(), "disable".into())
        );
        assert_eq!(
            parse_security_opt("no-new-privileges"),
            ("no-new-privileges".into(), "true".into())
        );
        assert_eq!(parse_security_opt("bogus"), ("bogus".into(), String::new()));
    }
}
