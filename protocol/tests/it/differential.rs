//! Integration tests: differential. The canonicaliser against Go's own encoding/json.
//!
//! `protocol/oracle` (stdlib-only Go, structs laid out like dockerd 20.10.24's) is built with
//! `go build` into the target directory and kept running for the whole test binary; every body
//! goes through both and the two answers must be the same object, or both a refusal.
//! Bodies are generated from a catalogue of the real fields, then mutated the ways a bypass
//! would: key case, Kelvin sign and long s, `\u` escapes, duplicate keys, repeated nested
//! objects that merge, nulls, single strings for lists, top-level HostConfig fields, wrong
//! types, invalid UTF-8, trailing content. Without `go` the tests skip (and fail under `CI`).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use protocol::body::{
    decode, document, BodyError, ContainerCreate, ContainerUpdate, DocumentKind, ExecCreate,
    HostConfig, NetworkCreate, PluginPrivilege, PluginSettings, ServiceSpec, VolumeCreate,
};
use protocol::AuthzReply;
use serde::Serialize;
use serde_json::Value;

/// The long-lived oracle process.
struct Oracle {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    /// The oracle's answer for one body: the model as JSON, or `None` for a refusal.
    fn ask(&mut self, kind: &str, body: &[u8]) -> Result<Option<Value>> {
        self.ask_for(serde_json::json!({"kind": kind, "body": STANDARD.encode(body)}))
    }

    /// The oracle's whole decoded value for one body, as Go marshals it, or `None` for a
    /// refusal.
    fn ask_document(&mut self, kind: &str, body: &[u8]) -> Result<Option<Value>> {
        self.ask_for(
            serde_json::json!({"kind": kind, "body": STANDARD.encode(body), "document": true}),
        )
    }

    fn ask_for(&mut self, line: Value) -> Result<Option<Value>> {
        let kind = line["kind"].clone();
        writeln!(self.stdin, "{line}").context("writing to the oracle")?;
        self.stdin.flush()?;
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .context("reading the oracle")?;
        let value: Value =
            serde_json::from_str(&answer).with_context(|| format!("oracle said {answer:?}"))?;
        match value.get("error").and_then(Value::as_str) {
            Some("input") => bail!("the oracle did not understand kind {kind}"),
            Some(_) if value.as_object().is_some_and(|o| o.len() == 1) => Ok(None),
            _ => Ok(Some(value)),
        }
    }
}

fn target_dir() -> PathBuf {
    // The test binary lives in target/<profile>/deps/.
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

fn build_and_start_oracle() -> Result<Option<Oracle>> {
    let go_missing = Command::new("go").arg("version").output().is_err();
    if go_missing {
        if std::env::var_os("CI").is_some() {
            bail!("`go` is required under CI (apt-get install golang-go)");
        }
        eprintln!("SKIP differential tests: `go` is not installed (apt-get install golang-go)");
        return Ok(None);
    }
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oracle");
    let binary = target_dir().join("body-oracle");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(&source)
        .env("GOPROXY", "off")
        .env(
            "GOCACHE",
            std::env::var_os("GOCACHE")
                .unwrap_or_else(|| target_dir().join("go-cache").into_os_string()),
        )
        .env("GOFLAGS", "-mod=mod")
        .status()
        .context("running go build for the oracle")?;
    if !status.success() {
        bail!("go build of {} failed", source.display());
    }
    let mut child = Command::new(&binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stdin = child.stdin.take().context("oracle stdin")?;
    let stdout = BufReader::new(child.stdout.take().context("oracle stdout")?);
    Ok(Some(Oracle {
        _child: child,
        stdin,
        stdout,
    }))
}

/// The shared oracle, or `None` when `go` is missing outside CI.
fn oracle() -> Option<&'static Mutex<Oracle>> {
    static ORACLE: OnceLock<Option<Mutex<Oracle>>> = OnceLock::new();
    ORACLE
        .get_or_init(|| {
            build_and_start_oracle()
                .expect("building the Go oracle")
                .map(Mutex::new)
        })
        .as_ref()
}

/// The Rust side for `kind`: the model as JSON, or `None` for a refusal.
fn canonical(kind: &str, body: &[u8]) -> Option<Value> {
    fn json<T: Serialize>(result: Result<T, BodyError>) -> Option<Value> {
        result
            .ok()
            .map(|v| serde_json::to_value(v).expect("model serializes"))
    }
    match kind {
        "container_create" => json(decode::<ContainerCreate>(body)),
        "host_config" => json(decode::<HostConfig>(body)),
        "exec_create" => json(decode::<ExecCreate>(body)),
        "volume_create" => json(decode::<VolumeCreate>(body)),
        "network_create" => json(decode::<NetworkCreate>(body)),
        "container_update" => json(decode::<ContainerUpdate>(body)),
        "service_spec" => json(decode::<ServiceSpec>(body)),
        "plugin_privileges" => json(decode::<Vec<PluginPrivilege>>(body)),
        "plugin_settings" => json(decode::<PluginSettings>(body)),
        "authz_reply" => json(decode::<AuthzReply>(body)),
        other => panic!("unknown kind {other}"),
    }
}

/// Both sides' answers for one body; `Err` describes a disagreement.
fn compare(oracle: &Mutex<Oracle>, kind: &str, body: &[u8]) -> Result<(), String> {
    let go = oracle
        .lock()
        .map_err(|_| "oracle lock poisoned".to_owned())?
        .ask(kind, body)
        .map_err(|e| format!("{e:#}"))?;
    let rust = canonical(kind, body);
    if go == rust {
        Ok(())
    } else {
        Err(format!(
            "{kind} body {:?}\n  go:   {}\n  rust: {}",
            String::from_utf8_lossy(body),
            go.map_or("refused".to_owned(), |v| v.to_string()),
            rust.map_or("refused".to_owned(), |v| v.to_string()),
        ))
    }
}

// ---- Body generation. ----

/// What a field holds, for generating plausible (and implausible) values.
#[derive(Debug)]
enum Gen {
    /// A string from these samples.
    Str(&'static [&'static str]),
    Bool,
    Int,
    /// A list of strings from these samples.
    Strings(&'static [&'static str]),
    /// A `StrSlice`: a list, or a single string.
    StrSlice(&'static [&'static str]),
    /// A string map with keys and values from these samples.
    StrMap(&'static [&'static str]),
    /// An object with these fields.
    Obj(&'static [(&'static str, Gen)]),
    /// A list of these.
    List(&'static Gen),
}

const PATHS: &[&str] = &[
    "/",
    "/etc",
    "//etc/../",
    "/var/run/docker.sock",
    "data",
    "",
    "/x/./y",
];
const CAPS: &[&str] = &[
    "SYS_ADMIN",
    "sys_admin",
    "ſys_admın",
    "CAP_NET_ADMIN",
    "all",
    "chown",
];
const WORDS: &[&str] = &[
    "host",
    "default",
    "container:x",
    "private",
    "bind",
    "none",
    "ro",
    "",
    "é\u{212A}",
];
const BINDS: &[&str] = &[
    "/:/host",
    "/etc:/x:ro",
    "vol:/data",
    "/anon",
    "//:/h:rw,rslave",
];
const OPTS: &[&str] = &["type", "o", "device", "bind", "/", "none", "Device"];

static DRIVER: [(&str, Gen); 2] = [
    ("Name", Gen::Str(&["local", "", "x"])),
    ("Options", Gen::StrMap(OPTS)),
];
static VOLUME_OPTIONS: [(&str, Gen); 3] = [
    ("NoCopy", Gen::Bool),
    ("Labels", Gen::StrMap(WORDS)),
    ("DriverConfig", Gen::Obj(&DRIVER)),
];
static BIND_OPTIONS: [(&str, Gen); 2] = [
    ("Propagation", Gen::Str(WORDS)),
    ("NonRecursive", Gen::Bool),
];
static MOUNT: [(&str, Gen); 7] = [
    ("Type", Gen::Str(&["bind", "volume", "tmpfs", "BIND"])),
    ("Source", Gen::Str(PATHS)),
    ("Target", Gen::Str(PATHS)),
    ("ReadOnly", Gen::Bool),
    ("BindOptions", Gen::Obj(&BIND_OPTIONS)),
    ("VolumeOptions", Gen::Obj(&VOLUME_OPTIONS)),
    (
        "TmpfsOptions",
        Gen::Obj(&[("SizeBytes", Gen::Int), ("Mode", Gen::Int)]),
    ),
];
static DEVICE: [(&str, Gen); 3] = [
    ("PathOnHost", Gen::Str(PATHS)),
    ("PathInContainer", Gen::Str(PATHS)),
    ("CgroupPermissions", Gen::Str(&["rwm", "r"])),
];
static DEVICE_REQUEST: [(&str, Gen); 5] = [
    ("Driver", Gen::Str(WORDS)),
    ("Count", Gen::Int),
    ("DeviceIDs", Gen::Strings(WORDS)),
    (
        "Capabilities",
        Gen::List(&Gen::Strings(&["gpu", "compute"])),
    ),
    ("Options", Gen::StrMap(WORDS)),
];
/// HostConfig fields a policy reads, plus a few it does not (type-checked all the same).
static HOST_CONFIG: [(&str, Gen); 28] = [
    ("Binds", Gen::Strings(BINDS)),
    ("Mounts", Gen::List(&Gen::Obj(&MOUNT))),
    ("VolumesFrom", Gen::Strings(WORDS)),
    ("VolumeDriver", Gen::Str(WORDS)),
    ("Privileged", Gen::Bool),
    ("CapAdd", Gen::StrSlice(CAPS)),
    ("CapDrop", Gen::StrSlice(CAPS)),
    (
        "SecurityOpt",
        Gen::Strings(&["seccomp=unconfined", "apparmor:unconfined", "label=disable"]),
    ),
    ("NetworkMode", Gen::Str(WORDS)),
    ("PidMode", Gen::Str(WORDS)),
    ("IpcMode", Gen::Str(WORDS)),
    ("UTSMode", Gen::Str(WORDS)),
    ("UsernsMode", Gen::Str(WORDS)),
    ("CgroupnsMode", Gen::Str(WORDS)),
    ("Devices", Gen::List(&Gen::Obj(&DEVICE))),
    ("DeviceCgroupRules", Gen::Strings(&["a *:* rwm", "c 1:3 r"])),
    ("DeviceRequests", Gen::List(&Gen::Obj(&DEVICE_REQUEST))),
    (
        "Sysctls",
        Gen::StrMap(&["kernel.x", "net.ipv4.ip_forward", "1"]),
    ),
    ("CgroupParent", Gen::Str(PATHS)),
    ("Runtime", Gen::Str(WORDS)),
    ("MaskedPaths", Gen::Strings(PATHS)),
    ("ReadonlyPaths", Gen::Strings(PATHS)),
    ("Links", Gen::Strings(WORDS)),
    ("Memory", Gen::Int),
    ("BlkioWeight", Gen::Int),
    ("Init", Gen::Bool),
    ("ConsoleSize", Gen::List(&Gen::Int)),
    (
        "PortBindings",
        Gen::Obj(&[("80/tcp", Gen::List(&Gen::Obj(&PORT_BINDING)))]),
    ),
];
static PORT_BINDING: [(&str, Gen); 2] = [
    ("HostIp", Gen::Str(WORDS)),
    ("HostPort", Gen::Str(&["80", ""])),
];
static ENDPOINT: [(&str, Gen); 2] = [
    ("Aliases", Gen::Strings(WORDS)),
    ("IPAMConfig", Gen::Obj(&[("IPv4Address", Gen::Str(WORDS))])),
];
static NETWORKING: [(&str, Gen); 1] = [(
    "EndpointsConfig",
    Gen::Obj(&[
        ("bridge", Gen::Obj(&ENDPOINT)),
        ("host", Gen::Obj(&ENDPOINT)),
    ]),
)];
/// A create body: Config fields, the HostConfig object, and HostConfig fields at the top.
static CREATE: [(&str, Gen); 16] = [
    ("Image", Gen::Str(&["busybox", "x"])),
    ("User", Gen::Str(&["root", "0", ""])),
    ("Cmd", Gen::StrSlice(&["sh", "-c", "id"])),
    ("Labels", Gen::StrMap(WORDS)),
    (
        "Volumes",
        Gen::Obj(&[("/data", Gen::Obj(&[])), ("/x", Gen::Obj(&[]))]),
    ),
    ("Tty", Gen::Bool),
    ("StopTimeout", Gen::Int),
    (
        "Healthcheck",
        Gen::Obj(&[("Test", Gen::Strings(WORDS)), ("Interval", Gen::Int)]),
    ),
    ("HostConfig", Gen::Obj(&HOST_CONFIG)),
    ("NetworkingConfig", Gen::Obj(&NETWORKING)),
    ("Privileged", Gen::Bool),
    ("Binds", Gen::Strings(BINDS)),
    ("CapAdd", Gen::StrSlice(CAPS)),
    ("VolumeDriver", Gen::Str(WORDS)),
    ("NetworkMode", Gen::Str(WORDS)),
    ("Mounts", Gen::List(&Gen::Obj(&MOUNT))),
];
static EXEC: [(&str, Gen); 6] = [
    ("User", Gen::Str(&["root", ""])),
    ("Privileged", Gen::Bool),
    ("Cmd", Gen::Strings(&["sh", "id"])),
    ("Env", Gen::Strings(&["A=1"])),
    ("WorkingDir", Gen::Str(PATHS)),
    ("Tty", Gen::Bool),
];
static VOLUME: [(&str, Gen); 4] = [
    ("Name", Gen::Str(WORDS)),
    ("Driver", Gen::Str(&["local", ""])),
    ("DriverOpts", Gen::StrMap(OPTS)),
    ("Labels", Gen::StrMap(WORDS)),
];
static NETWORK: [(&str, Gen); 4] = [
    ("Name", Gen::Str(WORDS)),
    ("Driver", Gen::Str(&["bridge", "macvlan"])),
    ("Labels", Gen::StrMap(WORDS)),
    ("Internal", Gen::Bool),
];
static UPDATE: [(&str, Gen); 6] = [
    ("Devices", Gen::List(&Gen::Obj(&DEVICE))),
    ("DeviceCgroupRules", Gen::Strings(&["a *:* rwm"])),
    ("DeviceRequests", Gen::List(&Gen::Obj(&DEVICE_REQUEST))),
    ("CgroupParent", Gen::Str(PATHS)),
    ("Memory", Gen::Int),
    (
        "RestartPolicy",
        Gen::Obj(&[("Name", Gen::Str(WORDS)), ("MaximumRetryCount", Gen::Int)]),
    ),
];
static PRIVILEGES: [(&str, Gen); 3] = [
    (
        "Seccomp",
        Gen::Obj(&[("Mode", Gen::Str(&["unconfined", "default"]))]),
    ),
    (
        "AppArmor",
        Gen::Obj(&[("Mode", Gen::Str(&["disabled", "default"]))]),
    ),
    (
        "SELinuxContext",
        Gen::Obj(&[("Disable", Gen::Bool), ("User", Gen::Str(WORDS))]),
    ),
];
static CONTAINER_SPEC: [(&str, Gen); 5] = [
    ("Image", Gen::Str(&["busybox"])),
    ("Mounts", Gen::List(&Gen::Obj(&MOUNT))),
    ("CapabilityAdd", Gen::Strings(CAPS)),
    ("Sysctls", Gen::StrMap(&["kernel.x", "1"])),
    ("Privileges", Gen::Obj(&PRIVILEGES)),
];
static ATTACHMENT: [(&str, Gen); 2] = [
    ("Target", Gen::Str(WORDS)),
    ("Aliases", Gen::Strings(WORDS)),
];
static TASK: [(&str, Gen); 3] = [
    ("ContainerSpec", Gen::Obj(&CONTAINER_SPEC)),
    ("Networks", Gen::List(&Gen::Obj(&ATTACHMENT))),
    ("ForceUpdate", Gen::Int),
];
static SERVICE: [(&str, Gen); 5] = [
    ("Name", Gen::Str(WORDS)),
    ("Labels", Gen::StrMap(WORDS)),
    ("TaskTemplate", Gen::Obj(&TASK)),
    ("Networks", Gen::List(&Gen::Obj(&ATTACHMENT))),
    (
        "Mode",
        Gen::Obj(&[("Replicated", Gen::Obj(&[("Replicas", Gen::Int)]))]),
    ),
];
static PRIVILEGE: Gen = Gen::Obj(&[
    ("Name", Gen::Str(&["mount", "network", "device"])),
    ("Description", Gen::Str(WORDS)),
    ("Value", Gen::Strings(PATHS)),
]);
static REPLY: [(&str, Gen); 3] = [
    ("Allow", Gen::Bool),
    ("Msg", Gen::Str(WORDS)),
    ("Err", Gen::Str(WORDS)),
];

/// JSON text assembled from parts, so keys and strings can be spelled any way Go accepts.
fn quote(text: &str, seed: u64) -> Vec<u8> {
    let mut out = vec![b'"'];
    for (i, c) in text.chars().enumerate() {
        let escape = seed.rotate_left(i as u32 * 7) % 5 == 1;
        match c {
            '"' | '\\' => out.extend_from_slice(format!("\\{c}").as_bytes()),
            c if escape || (c as u32) < 0x20 => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
    out
}

/// A key as a bypass would spell it: case flips, Kelvin sign, long s, or a near miss.
fn spell_key(name: &str, seed: u64) -> String {
    if seed % 23 == 22 {
        return format!("{name}\u{131}"); // a near miss: unknown key
    }
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            let bits = seed.rotate_right(i as u32 * 3) & 0b111;
            match (c, bits) {
                ('k' | 'K', 6..=7) => '\u{212A}',
                ('s' | 'S', 6..=7) => '\u{17F}',
                (c, 4..=5) if c.is_ascii_uppercase() => c.to_ascii_lowercase(),
                (c, 4..=5) => c.to_ascii_uppercase(),
                (c, _) => c,
            }
        })
        .collect()
}

fn join(open: u8, parts: Vec<Vec<u8>>, close: u8) -> Vec<u8> {
    let mut out = vec![open];
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(part);
    }
    out.push(close);
    out
}

fn string_value(samples: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        8 => (prop::sample::select(samples), any::<u64>()).prop_map(|(s, seed)| quote(s, seed)),
        1 => Just(br#""\ud800x""#.to_vec()),
        1 => Just(b"\"\xff\xfe/\"".to_vec()),
    ]
    .boxed()
}

/// A list element: mostly a string, sometimes `null` (which leaves a reused element as is).
fn string_element(samples: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![5 => string_value(samples), 1 => Just(b"null".to_vec())].boxed()
}

/// A value of the wrong type for whatever field it lands in.
fn wrong_type() -> BoxedStrategy<Vec<u8>> {
    prop::sample::select(vec![
        "1",
        "-1",
        "1.0",
        "1e3",
        "\"true\"",
        "true",
        "[]",
        "{}",
        "[1]",
        "\"x\"",
        "9223372036854775808",
        "-0",
    ])
    .prop_map(|s| s.as_bytes().to_vec())
    .boxed()
}

fn value(generator: &'static Gen, depth: u32) -> BoxedStrategy<Vec<u8>> {
    let right = match generator {
        Gen::Str(samples) => string_value(samples),
        Gen::Bool => any::<bool>()
            .prop_map(|b| b.to_string().into_bytes())
            .boxed(),
        Gen::Int => prop::sample::select(vec!["0", "1", "-1", "65535", "65536", "1024"])
            .prop_map(|s| s.as_bytes().to_vec())
            .boxed(),
        Gen::Strings(samples) => prop::collection::vec(string_element(samples), 0..6)
            .prop_map(|items| join(b'[', items, b']'))
            .boxed(),
        Gen::StrSlice(samples) => prop_oneof![
            prop::collection::vec(string_element(samples), 0..3)
                .prop_map(|items| join(b'[', items, b']')),
            string_value(samples),
        ]
        .boxed(),
        Gen::StrMap(samples) => prop::collection::vec(
            (string_value(samples), string_value(samples), any::<bool>()),
            0..4,
        )
        .prop_map(|entries| {
            let parts = entries
                .into_iter()
                .map(|(k, v, null)| {
                    let mut part = k;
                    part.push(b':');
                    part.extend(if null { b"null".to_vec() } else { v });
                    part
                })
                .collect();
            join(b'{', parts, b'}')
        })
        .boxed(),
        Gen::Obj(fields) => object(fields, depth),
        Gen::List(inner) => prop::collection::vec(value(inner, depth + 1), 0..5)
            .prop_map(|items| join(b'[', items, b']'))
            .boxed(),
    };
    prop_oneof![12 => right, 1 => Just(b"null".to_vec()), 1 => wrong_type()].boxed()
}

/// An object of some of `fields`, in any order, any repeated, keys spelled any way.
fn object(fields: &'static [(&'static str, Gen)], depth: u32) -> BoxedStrategy<Vec<u8>> {
    if fields.is_empty() || depth > 4 {
        return Just(b"{}".to_vec()).boxed();
    }
    // Half the objects draw their keys from a few fields only, so repeats are common.
    let all: Vec<usize> = (0..fields.len()).collect();
    let few = prop::sample::subsequence(all.clone(), 1..=fields.len().min(2));
    let pool = prop_oneof![Just(all), few];
    let entry = move |pool: Vec<usize>| {
        prop::sample::select(pool)
            .prop_flat_map(move |i| {
                let (name, generator) = &fields[i];
                (
                    Just(*name),
                    any::<u64>(),
                    any::<u64>(),
                    value(generator, depth + 1),
                )
            })
            .prop_map(|(name, key_seed, escape_seed, value)| {
                let mut part = quote(&spell_key(name, key_seed), escape_seed);
                part.push(b':');
                part.extend(value);
                part
            })
    };
    pool.prop_flat_map(move |pool| prop::collection::vec(entry(pool), 0..6))
        .prop_map(|entries| join(b'{', entries, b'}'))
        .boxed()
}

/// A whole body: mostly the object itself, sometimes with whitespace, trailing content, or
/// not an object at all.
fn body(top: BoxedStrategy<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        16 => top.clone(),
        1 => top.clone().prop_map(|mut b| { b.extend_from_slice(b" \n"); b }),
        1 => (top.clone(), prop::sample::select(vec!["}", "]", "x", "{}", "null"])).prop_map(|(mut b, tail)| {
            b.extend_from_slice(tail.as_bytes());
            b
        }),
        1 => top.clone().prop_map(|b| [b"\xEF\xBB\xBF".to_vec(), b].concat()),
        1 => top.prop_map(|b| [b"\r\n\t ".to_vec(), b].concat()),
        1 => prop::sample::select(vec!["null", "", " ", "[]", "\"x\"", "{", "{\"a\":}", "1"])
            .prop_map(|s| s.as_bytes().to_vec()),
    ]
    .boxed()
}

/// Runs `cases` generated bodies of `kind` through both sides.
fn differential(kind: &str, strategy: BoxedStrategy<Vec<u8>>, cases: u32) {
    let Some(oracle) = oracle() else {
        return;
    };
    // BODY_DIFFERENTIAL_SCALE=N runs N times the cases (a longer soak than CI's).
    let scale: u32 = std::env::var("BODY_DIFFERENTIAL_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let config = Config {
        cases: cases.saturating_mul(scale.max(1)),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&body(strategy), |bytes| {
        compare(oracle, kind, &bytes).map_err(TestCaseError::fail)
    });
    if let Err(err) = result {
        panic!("canonicaliser and Go disagree (minimal body after shrinking):\n{err}");
    }
}

#[test]
fn container_create_bodies_decode_as_go_does() {
    differential("container_create", object(&CREATE, 0), 4_000);
}

#[test]
fn old_api_start_bodies_decode_as_go_does() {
    differential("host_config", object(&CREATE, 0), 1_000);
}

#[test]
fn exec_create_bodies_decode_as_go_does() {
    differential("exec_create", object(&EXEC, 0), 1_000);
}

#[test]
fn volume_and_network_create_bodies_decode_as_go_does() {
    differential("volume_create", object(&VOLUME, 0), 700);
    differential("network_create", object(&NETWORK, 0), 300);
}

#[test]
fn container_update_bodies_decode_as_go_does() {
    differential("container_update", object(&UPDATE, 0), 1_000);
}

#[test]
fn service_spec_bodies_decode_as_go_does() {
    differential("service_spec", object(&SERVICE, 0), 1_000);
}

#[test]
fn plugin_bodies_decode_as_go_does() {
    let privileges = prop::collection::vec(value(&PRIVILEGE, 0), 0..3)
        .prop_map(|items| join(b'[', items, b']'))
        .boxed();
    differential("plugin_privileges", privileges, 600);
    differential("plugin_settings", value(&Gen::Strings(OPTS), 0), 400);
}

#[test]
fn authz_replies_decode_as_dockerds_plugin_client_does() {
    differential("authz_reply", object(&REPLY, 0), 1_000);
}

/// Hand-picked bodies (one per line, `kind<TAB>body`) that pin the facts of DESIGN section 4.
#[test]
fn pinned_bodies_decode_as_go_does() {
    let Some(oracle) = oracle() else {
        return;
    };
    let table = include_str!("../data/body_differential.tsv");
    let mut failures = Vec::new();
    for line in table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (kind, body) = line.split_once('\t').expect("kind<TAB>body");
        if let Err(e) = compare(oracle, kind, body.as_bytes()) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Go allows exactly 10000 nested arrays and objects; one more is a syntax error.
#[test]
fn nesting_limit_is_gos() {
    let Some(oracle) = oracle() else {
        return;
    };
    for depth in [9_999, 10_000, 10_001] {
        // The outer object counts as one level; an unknown key is accepted exactly when the
        // syntax is.
        let body = format!(
            "{{\"Unknown\":{}{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        );
        compare(oracle, "container_create", body.as_bytes()).unwrap();
        compare(oracle, "authz_reply", body.as_bytes()).unwrap();
        let accepted = decode::<ContainerCreate>(body.as_bytes()).is_ok();
        assert_eq!(accepted, depth <= 10_000, "depth {depth}");
    }
}

/// Invalid UTF-8 of every kind, in keys and values, becomes U+FFFD byte by byte as in Go.
#[test]
fn invalid_utf8_is_replaced_as_go_does() {
    let Some(oracle) = oracle() else {
        return;
    };
    let sequences: [&[u8]; 9] = [
        b"\xc0\xaf",         // overlong
        b"\xed\xa0\x80",     // an encoded surrogate
        b"\xe2\x82",         // truncated
        b"\xf4\x90\x80\x80", // beyond U+10FFFF
        b"\xf0\x9f\x98\x80", // valid: one emoji
        b"\x80",             // a lone continuation byte
        b"\xf8\x88\x80\x80\x80",
        b"\xc2\xa0",     // valid: NBSP
        b"\xef\xbb\xbf", // valid: a BOM inside a string
    ];
    for sequence in sequences {
        let value = [
            b"{\"Image\":\"a".as_slice(),
            sequence,
            b"b\",\"User\":\"".as_slice(),
            sequence,
            b"\"}",
        ]
        .concat();
        compare(oracle, "container_create", &value).unwrap();
        let key = [b"{\"Privileged".as_slice(), sequence, b"\":true}"].concat();
        compare(oracle, "exec_create", &key).unwrap();
    }
}

// ---- Documents: the whole decoded value, as Go marshals it (Rego's `input.Body`). ----

fn document_kind(kind: &str) -> DocumentKind {
    match kind {
        "container_create" => DocumentKind::ContainerCreate,
        "host_config" => DocumentKind::HostConfig,
        "exec_create" => DocumentKind::ExecCreate,
        "volume_create" => DocumentKind::VolumeCreate,
        "network_create" => DocumentKind::NetworkCreate,
        "container_update" => DocumentKind::ContainerUpdate,
        "service_spec" => DocumentKind::ServiceSpec,
        "plugin_privileges" => DocumentKind::PluginPrivileges,
        "plugin_settings" => DocumentKind::PluginSettings,
        other => panic!("no document kind {other}"),
    }
}

/// Both sides' documents for one body; `Err` describes a disagreement.
fn compare_document(oracle: &Mutex<Oracle>, kind: &str, body: &[u8]) -> Result<(), String> {
    let go = oracle
        .lock()
        .map_err(|_| "oracle lock poisoned".to_owned())?
        .ask_document(kind, body)
        .map_err(|e| format!("{e:#}"))?;
    let rust = document(document_kind(kind), body).ok();
    if go == rust {
        Ok(())
    } else {
        Err(format!(
            "{kind} document of {:?}\n  go:   {}\n  rust: {}",
            String::from_utf8_lossy(body),
            go.map_or("refused".to_owned(), |v| v.to_string()),
            rust.map_or("refused".to_owned(), |v| v.to_string()),
        ))
    }
}

/// Runs `cases` generated bodies of `kind` through both sides' documents.
fn differential_document(kind: &str, strategy: BoxedStrategy<Vec<u8>>, cases: u32) {
    let Some(oracle) = oracle() else {
        return;
    };
    let scale: u32 = std::env::var("BODY_DIFFERENTIAL_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let config = Config {
        cases: cases.saturating_mul(scale.max(1)),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&body(strategy), |bytes| {
        compare_document(oracle, kind, &bytes).map_err(TestCaseError::fail)
    });
    if let Err(err) = result {
        panic!("document and Go's json.Marshal disagree (minimal body after shrinking):\n{err}");
    }
}

#[test]
fn create_documents_are_what_go_marshals() {
    differential_document("container_create", object(&CREATE, 0), 2_000);
    differential_document("host_config", object(&CREATE, 0), 500);
}

#[test]
fn other_documents_are_what_go_marshals() {
    differential_document("exec_create", object(&EXEC, 0), 400);
    differential_document("volume_create", object(&VOLUME, 0), 300);
    differential_document("network_create", object(&NETWORK, 0), 300);
    differential_document("container_update", object(&UPDATE, 0), 400);
    differential_document("service_spec", object(&SERVICE, 0), 600);
    let privileges = prop::collection::vec(value(&PRIVILEGE, 0), 0..3)
        .prop_map(|items| join(b'[', items, b']'))
        .boxed();
    differential_document("plugin_privileges", privileges, 200);
    differential_document("plugin_settings", value(&Gen::Strings(OPTS), 0), 200);
}

/// The hand-picked bodies of `body_differential.tsv` as documents.
#[test]
fn pinned_bodies_document_as_go_marshals() {
    let Some(oracle) = oracle() else {
        return;
    };
    let table = include_str!("../data/body_differential.tsv");
    let mut failures = Vec::new();
    for line in table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (kind, body) = line.split_once('\t').expect("kind<TAB>body");
        if kind == "authz_reply" {
            continue;
        }
        if let Err(e) = compare_document(oracle, kind, body.as_bytes()) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
