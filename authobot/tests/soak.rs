//! `make soak`: what authobot keeps, under the failures a reliability engineer tries
//! (issue 14): kill -9 under load, a full disk, a disk gone read-only, corrupted journals.
//! Each is bounded in time (SOAK_CYCLES, default 10, sets the kill -9 rounds) and talks to
//! the plugin over unix sockets only. The disk tests mount a tmpfs and an ext4 loop file
//! of their own, so they need root; all are left out of `make test`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authobot::ownership::journal::{JOURNAL_FILE, SYNCED_FILE};
use authobot::ownership::maintenance;
use authobot::ownership::store::Store;
use authobot::ownership::ObjectKind;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use protocol::client::PluginClient;
use protocol::{AuthzRequest, Phase};

const NEEDS_ROOT: &str = "mounts a filesystem of its own: run as root (make soak)";

/// An `authobot serve` child, SIGKILLed when dropped.
struct Served {
    child: Child,
    socket: PathBuf,
    metrics: PathBuf,
    stderr: PathBuf,
}

impl Served {
    /// Serves with its sockets in `run`, its record in `state`, auditing to `audit`.
    fn start(run: &Path, state: &Path, audit: &Path) -> Served {
        let socket = run.join("plugin.sock");
        let metrics = run.join("metrics.sock");
        let stderr = run.join(format!("stderr-{}.log", unique()));
        for stale in [&socket, &metrics] {
            let _ = fs::remove_file(stale);
        }
        let child = Command::new(assert_cmd::cargo::cargo_bin("authobot"))
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .arg("--metrics")
            .arg(&metrics)
            .arg("--state-dir")
            .arg(state)
            .arg("--audit-log")
            .arg(audit)
            .env("RUST_LOG", "info")
            .stderr(fs::File::create(&stderr).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .expect("authobot serve starts");
        let mut served = Served {
            child,
            socket,
            metrics,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !served.socket.exists() || !served.metrics.exists() {
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!("authobot serve exited ({status}): {}", served.log());
            }
            assert!(Instant::now() < deadline, "authobot serve never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        served
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap())
    }

    fn kill_9(mut self) {
        kill(self.pid(), Signal::SIGKILL).unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) -> String {
        kill(self.pid(), Signal::SIGTERM).unwrap();
        self.child.wait().unwrap();
        self.log()
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn status(&self) -> String {
        let output = Command::new(assert_cmd::cargo::cargo_bin("authobot"))
            .args(["status", "--metrics"])
            .arg(&self.metrics)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The daemon's successful answer to a `docker create` of container `n`.
fn created(n: u64) -> (String, AuthzRequest) {
    let id = format!("{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1).repeat(4);
    let call = AuthzRequest {
        request_method: "POST".into(),
        request_uri: format!("/v1.41/containers/create?name=soak{n}"),
        response_status_code: 201,
        response_body: format!(r#"{{"Id":"{id}","Warnings":[]}}"#).into_bytes(),
        ..AuthzRequest::default()
    };
    (id, call)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Sends creates numbered from `first` on `clients` connections until the plugin stops
/// answering or `limit` passes; returns the ids whose answer allowed (confirmed) and how
/// many were denied.
fn create_until_gone(
    socket: &Path,
    first: u64,
    clients: u64,
    limit: Duration,
) -> (Vec<String>, u64) {
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let denied = Arc::new(Mutex::new(0u64));
    runtime().block_on(async {
        let mut tasks = Vec::new();
        for client in 0..clients {
            let plugin = PluginClient::builder(socket)
                .timeout(Duration::from_secs(5))
                .build();
            let (confirmed, denied) = (Arc::clone(&confirmed), Arc::clone(&denied));
            tasks.push(tokio::spawn(async move {
                let started = Instant::now();
                let mut n = first + client;
                while started.elapsed() < limit {
                    let (id, call) = created(n);
                    n += clients;
                    match plugin.call(Phase::Response, &call).await {
                        Ok(answer) if answer.reply.as_ref().is_ok_and(|r| r.allow) => {
                            confirmed.lock().unwrap().push(id);
                        }
                        Ok(_) => *denied.lock().unwrap() += 1,
                        Err(_) => break,
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    let confirmed = confirmed.lock().unwrap().clone();
    let denied = *denied.lock().unwrap();
    (confirmed, denied)
}

fn owned_ids(state: &Path) -> std::collections::BTreeSet<String> {
    Store::open_read_only(state)
        .expect("the record reads")
        .all(ObjectKind::Container)
        .unwrap()
        .into_iter()
        .map(|owned| owned.id)
        .collect()
}

#[test]
#[ignore = "soak: make soak"]
fn every_confirmed_owner_survives_kill_9_under_load() {
    let cycles: u64 = std::env::var("SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let run = tempfile::tempdir().unwrap();
    let state = run.path().join("state");
    let audit = run.path().join("audit.jsonl");
    let mut confirmed = Vec::new();
    for cycle in 0..cycles {
        let served = Served::start(run.path(), &state, &audit);
        let socket = served.socket.clone();
        // Killed at a different moment of each round, mid-load.
        let kill_after = Duration::from_millis(300 + (cycle * 137) % 500);
        let loader = std::thread::spawn(move || {
            create_until_gone(&socket, cycle * 1_000_000, 8, Duration::from_secs(5))
        });
        std::thread::sleep(kill_after);
        served.kill_9();
        let (round, _) = loader.join().unwrap();
        assert!(!round.is_empty(), "round {cycle} confirmed nothing");
        confirmed.extend(round);
        let checked = maintenance::check(&state).unwrap();
        assert!(checked.sound(), "after kill -9 {cycle}:\n{checked}");
        let owned = owned_ids(&state);
        let lost: Vec<&String> = confirmed.iter().filter(|id| !owned.contains(*id)).collect();
        assert!(
            lost.is_empty(),
            "round {cycle}: {} confirmed owners lost",
            lost.len()
        );
    }
    let served = Served::start(run.path(), &state, &audit);
    let status = served.status();
    assert!(status.contains("authobot_journal_writable 1"), "{status}");
    served.stop();
    eprintln!(
        "{cycles} kill -9 rounds: {} confirmed creates, none lost",
        confirmed.len()
    );
}

/// A filesystem mounted for one test, unmounted (lazily: the plugin may still hold it)
/// when dropped.
struct Mounted {
    point: PathBuf,
    image: Option<PathBuf>,
}

impl Mounted {
    fn tmpfs(point: &Path, size: &str) -> Mounted {
        fs::create_dir_all(point).unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(point));
        Mounted {
            point: point.to_owned(),
            image: None,
        }
    }

    /// An ext4 filesystem in a loop file that goes read-only on the first error.
    fn ext4(point: &Path, image: &Path) -> Mounted {
        fs::create_dir_all(point).unwrap();
        run(Command::new("truncate").args(["-s", "16M"]).arg(image));
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(image));
        run(Command::new("mount")
            .args(["-o", "loop,errors=remount-ro"])
            .arg(image)
            .arg(point));
        Mounted {
            point: point.to_owned(),
            image: Some(image.to_owned()),
        }
    }

    /// Makes the ext4 filesystem fail as a disk error would: it turns read-only at once,
    /// for open files too.
    fn fail(&self) {
        let source = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(&self.point)
            .output()
            .unwrap();
        let device = String::from_utf8(source.stdout).unwrap();
        let name = Path::new(device.trim()).file_name().unwrap().to_owned();
        let trigger = Path::new("/sys/fs/ext4")
            .join(name)
            .join("trigger_fs_error");
        fs::write(&trigger, "1").unwrap_or_else(|e| panic!("{}: {e}", trigger.display()));
    }

    /// Unmounts (lazily), checks and repairs the filesystem, and mounts it again.
    fn repair_and_remount(&self) {
        run(Command::new("umount").arg("-l").arg(&self.point));
        let image = self.image.as_ref().expect("an ext4 image");
        // fsck exits 1 when it corrected errors: that is what it is here for.
        let fsck = Command::new("e2fsck")
            .args(["-f", "-y"])
            .arg(image)
            .output()
            .unwrap();
        assert!(fsck.status.code().is_some_and(|c| c <= 1), "{fsck:?}");
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(image)
            .arg(&self.point));
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.point).status();
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {output:?}");
}

fn require_root() {
    let id = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&id.stdout).trim(),
        "0",
        "{NEEDS_ROOT}"
    );
}

/// Fills the filesystem at `dir` with one file; returns it.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut file = fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
    // The last block may hold a little more: fill it byte by byte.
    while std::io::Write::write_all(&mut file, &[0]).is_ok() {}
    filler
}

fn audit_lines_are_whole(audit: &Path) -> usize {
    let text = fs::read_to_string(audit).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "torn audit log");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("torn audit line {line:?}: {e}"));
    }
    text.lines().count()
}

#[test]
#[ignore = "soak: make soak (root)"]
fn a_full_disk_refuses_calls_tears_no_line_and_recovers_when_space_is_freed() {
    require_root();
    let run = tempfile::tempdir().unwrap();
    let disk = Mounted::tmpfs(&run.path().join("disk"), "8m");
    let state = disk.point.join("state");
    let audit = disk.point.join("audit.jsonl");
    let served = Served::start(run.path(), &state, &audit);
    let (before, _) = create_until_gone(&served.socket, 0, 2, Duration::from_millis(200));
    assert!(!before.is_empty());

    let filler = fill(&disk.point);
    // What still fits in the last pages of the journal and the audit log is written, and
    // answered: a few lines, that must be kept like any others.
    let (fitted, _) = create_until_gone(&served.socket, 5_000_000, 2, Duration::from_millis(300));
    let (during, denied) =
        create_until_gone(&served.socket, 10_000_000, 2, Duration::from_millis(300));
    assert!(
        during.is_empty(),
        "{} creates allowed on a full disk",
        during.len()
    );
    assert!(denied > 0);
    audit_lines_are_whole(&audit);
    let checked = maintenance::check(&state).unwrap();
    assert!(checked.sound(), "on a full disk:\n{checked}");
    let status = served.status();
    assert!(
        !status.contains("authobot_audit_lost_records_total 0\n"),
        "{status}"
    );

    fs::remove_file(filler).unwrap();
    let (after, _) = create_until_gone(&served.socket, 20_000_000, 2, Duration::from_millis(300));
    assert!(!after.is_empty(), "nothing recorded once space was freed");
    let log = served.stop();
    assert!(log.contains("audit record lost"), "{log}");
    assert!(log.contains("the audit log is written again"), "{log}");
    audit_lines_are_whole(&audit);
    let owned = owned_ids(&state);
    for id in before.iter().chain(&fitted).chain(&after) {
        assert!(owned.contains(id), "confirmed {id} lost");
    }
}

#[test]
#[ignore = "soak: make soak (root)"]
fn a_disk_gone_read_only_refuses_learns_and_a_restart_after_repair_keeps_every_owner() {
    require_root();
    let run = tempfile::tempdir().unwrap();
    let disk = Mounted::ext4(&run.path().join("disk"), &run.path().join("disk.img"));
    let state = disk.point.join("state");
    let audit = run.path().join("audit.jsonl");
    let served = Served::start(run.path(), &state, &audit);
    let (before, _) = create_until_gone(&served.socket, 0, 2, Duration::from_millis(300));
    assert!(!before.is_empty());
    // What the plugin confirmed is in the page cache: fsynced before the disk fails.
    std::thread::sleep(Duration::from_millis(300));

    disk.fail();
    let (during, denied) =
        create_until_gone(&served.socket, 10_000_000, 2, Duration::from_millis(300));
    assert!(
        during.is_empty(),
        "{} creates allowed on a read-only disk",
        during.len()
    );
    assert!(denied > 0);
    let log = served.stop();
    assert!(log.contains("ownership change not recorded"), "{log}");
    assert!(log.contains("Read-only file system"), "{log}");

    disk.repair_and_remount();
    let served = Served::start(run.path(), &state, &audit);
    let owned = owned_ids(&state);
    for id in &before {
        assert!(owned.contains(id), "confirmed {id} lost");
    }
    let (after, _) = create_until_gone(&served.socket, 20_000_000, 2, Duration::from_millis(200));
    assert!(!after.is_empty());
    served.stop();
}

/// A journal of every kind of line: a compacted snapshot, then owns, forgets, renames.
fn sample_journal(state: &Path) {
    let store = Store::open(state).unwrap();
    for n in 0..6 {
        let (_, call) = created(n);
        let (decision, changes) = authobot::response::learn_response(&call, &store, 100);
        assert!(decision.allow);
        store.apply(&changes).unwrap();
    }
    store.compact().unwrap();
    for n in 6..9 {
        let (_, call) = created(n);
        let (_, changes) = authobot::response::learn_response(&call, &store, 100);
        store.apply(&changes).unwrap();
    }
    let mut removed = AuthzRequest {
        request_method: "DELETE".into(),
        request_uri: "/v1.41/containers/soak7".into(),
        response_status_code: 204,
        ..AuthzRequest::default()
    };
    let (_, changes) = authobot::response::learn_response(&removed, &store, 100);
    store.apply(&changes).unwrap();
    removed.request_method = "POST".into();
    removed.request_uri = "/v1.41/containers/soak8/rename?name=renamed".into();
    let (_, changes) = authobot::response::learn_response(&removed, &store, 100);
    store.apply(&changes).unwrap();
}

#[test]
#[ignore = "soak: make soak"]
fn every_single_bit_flip_and_every_cut_at_a_line_boundary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    sample_journal(&state);
    let path = state.join(JOURNAL_FILE);
    let whole = fs::read(&path).unwrap();
    assert!(fs::read_to_string(state.join(SYNCED_FILE)).is_ok());
    assert!(maintenance::check(&state).unwrap().sound());
    let mut flips = 0;
    for at in 0..whole.len() {
        for bit in 0..8 {
            let mut damaged = whole.clone();
            damaged[at] ^= 1 << bit;
            fs::write(&path, &damaged).unwrap();
            let checked = maintenance::check(&state).unwrap();
            assert!(
                !checked.sound(),
                "a flip of bit {bit} of byte {at} went unseen:\n{checked}"
            );
            assert!(Store::open_read_only(&state).is_err());
            flips += 1;
        }
    }
    let boundaries: Vec<usize> = whole
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(at, _)| at + 1)
        .collect();
    for &cut in &boundaries[..boundaries.len() - 1] {
        fs::write(&path, &whole[..cut]).unwrap();
        assert!(
            !maintenance::check(&state).unwrap().sound(),
            "a cut after byte {cut} went unseen"
        );
    }
    fs::write(&path, b"").unwrap();
    assert!(!maintenance::check(&state).unwrap().sound());
    fs::write(&path, &whole).unwrap();
    assert!(Store::open(&state).is_ok());
    eprintln!(
        "{flips} bit flips and {} cuts, every one refused",
        boundaries.len()
    );
}
