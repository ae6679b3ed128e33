//! Test harness for `fake-dockerd serve` and `record`: in-test plugins, the fake-dockerd
//! process, the real docker CLI, and a throwaway real dockerd for `--upstream`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use protocol::server::{self, ServerConfig};
use protocol::{ActivateManifest, AuthzPlugin, AuthzReply, AuthzRequest, Phase};

/// The docker CLI: `$FAKE_DOCKERD_TEST_DOCKER_CLI` if set, else the one the captures were
/// made with (/usr/local/bin/docker, CLI 28), else Debian's from docker.io on PATH. Tests
/// that need one skip (or fail under CI) without it.
pub fn docker_cli() -> Option<PathBuf> {
    if let Some(chosen) = std::env::var_os("FAKE_DOCKERD_TEST_DOCKER_CLI") {
        return Some(PathBuf::from(chosen));
    }
    let preferred = PathBuf::from("/usr/local/bin/docker");
    if preferred.exists() {
        return Some(preferred);
    }
    which("docker")
}

/// Whether a missing tool must fail the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Skips the calling test with a printed reason, or panics when CI is set.
pub fn skip(reason: &str) {
    assert!(!in_ci(), "CI is set, so this cannot be skipped: {reason}");
    eprintln!("SKIPPED: {reason}");
}

/// The `User-Agent` the docker CLI sends (`Docker-Client/28.2.2 (linux)`).
pub fn docker_cli_user_agent() -> Option<String> {
    let cli = docker_cli()?;
    let out = Command::new(cli)
        .args(["version", "--format", "{{.Client.Version}}"])
        .env("DOCKER_HOST", "unix:///nonexistent")
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!version.is_empty()).then(|| format!("Docker-Client/{version} (linux)"))
}

/// Whether the docker CLI is installed; prints the skip reason when it is not.
pub fn docker_cli_available() -> bool {
    if docker_cli().is_some() {
        return true;
    }
    skip("no docker CLI is installed (/usr/local/bin/docker or docker on PATH)");
    false
}

/// Every call a test plugin received, in order.
pub type CallLog = Arc<Mutex<Vec<(Phase, AuthzRequest)>>>;

/// An authz plugin for tests: allows everything except calls of the `deny` rule's phase
/// whose URI contains its text, which it denies with its message; logs every call.
#[derive(Debug)]
pub struct TestPlugin {
    pub deny: Option<Deny>,
    pub calls: CallLog,
    pub implements: Vec<String>,
    pub activations: Arc<AtomicUsize>,
}

impl AuthzPlugin for TestPlugin {
    fn authz_request(&self, request: &AuthzRequest) -> AuthzReply {
        self.decide(Phase::Request, request)
    }

    fn authz_response(&self, request: &AuthzRequest) -> AuthzReply {
        self.decide(Phase::Response, request)
    }

    fn manifest(&self) -> ActivateManifest {
        self.activations.fetch_add(1, Ordering::SeqCst);
        ActivateManifest {
            implements: self.implements.clone(),
        }
    }
}

impl TestPlugin {
    fn decide(&self, phase: Phase, request: &AuthzRequest) -> AuthzReply {
        self.calls.lock().unwrap().push((phase, request.clone()));
        match &self.deny {
            Some(deny) if deny.phase == phase && request.request_uri.contains(&deny.uri_part) => {
                AuthzReply::deny(deny.message.clone())
            }
            _ => AuthzReply::allow(),
        }
    }
}

/// What a [`TestPlugin`] denies: calls of `phase` whose `RequestUri` contains `uri_part`.
#[derive(Debug, Clone)]
pub struct Deny {
    pub phase: Phase,
    pub uri_part: String,
    pub message: String,
}

impl Deny {
    /// Denies request-phase calls whose URI contains `uri_part`.
    pub fn request(uri_part: &str, message: &str) -> Option<Deny> {
        Some(Deny {
            phase: Phase::Request,
            uri_part: uri_part.into(),
            message: message.into(),
        })
    }

    /// Denies response-phase calls whose URI contains `uri_part`.
    pub fn response(uri_part: &str, message: &str) -> Option<Deny> {
        Some(Deny {
            phase: Phase::Response,
            uri_part: uri_part.into(),
            message: message.into(),
        })
    }
}

/// A plugin served on `DIR/NAME.sock` from a thread of its own, stopped on drop.
pub struct RunningPlugin {
    pub calls: CallLog,
    activations: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningPlugin {
    /// Serves an allow-all plugin (but for `deny`) as `dir/name.sock`.
    pub fn start(dir: &Path, name: &str, deny: Option<Deny>) -> RunningPlugin {
        let calls = CallLog::default();
        RunningPlugin::serve(
            dir,
            name,
            TestPlugin {
                deny,
                calls: Arc::clone(&calls),
                implements: ActivateManifest::authz().implements,
                activations: Arc::default(),
            },
        )
    }

    /// Serves `plugin` as `dir/name.sock`.
    pub fn serve(dir: &Path, name: &str, plugin: TestPlugin) -> RunningPlugin {
        let calls = Arc::clone(&plugin.calls);
        let activations = Arc::clone(&plugin.activations);
        let mut running = RunningPlugin::serve_any(dir, name, Arc::new(plugin));
        running.calls = calls;
        running.activations = activations;
        running
    }

    /// Serves any plugin (authobot, say) as `dir/name.sock`; its calls are not logged here.
    pub fn serve_any(dir: &Path, name: &str, plugin: Arc<dyn AuthzPlugin>) -> RunningPlugin {
        let socket = dir.join(format!("{name}.sock"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, is_ready) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let listener = server::bind_unix(&socket).unwrap();
                ready.send(()).unwrap();
                let _ = server::serve(listener, plugin, ServerConfig::default(), async {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        is_ready.recv().unwrap();
        RunningPlugin {
            calls: CallLog::default(),
            activations: Arc::default(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// How many `Plugin.Activate` calls the plugin answered.
    pub fn activations(&self) -> usize {
        self.activations.load(Ordering::SeqCst)
    }

    /// The `RequestUri`s of the calls made in `phase`, in order.
    pub fn uris(&self, phase: Phase) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| *p == phase)
            .map(|(_, r)| r.request_uri.clone())
            .collect()
    }
}

impl Drop for RunningPlugin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A fake-dockerd child process, killed on drop.
pub struct FakeDockerd {
    child: Child,
    pub socket: PathBuf,
    pub stderr_path: PathBuf,
}

impl FakeDockerd {
    /// Runs `fake-dockerd ARGS...` whose API socket is `socket`, waiting until it listens.
    pub fn start(socket: &Path, args: &[&str]) -> FakeDockerd {
        let mut fake = FakeDockerd::spawn(socket, args);
        fake.wait_listening();
        fake
    }

    /// Runs `fake-dockerd serve` on `DIR/docker.sock` with the one authz plugin `plugin`
    /// from plugin directory `dir`, `extra` arguments after those, waiting until it listens.
    pub fn serve(dir: &Path, plugin: &str, extra: &[&str]) -> FakeDockerd {
        let mut fake = FakeDockerd::spawn_serve(dir, plugin, extra, None);
        fake.wait_listening();
        fake
    }

    /// [`FakeDockerd::serve`] logging at `rust_log` (a `RUST_LOG` filter).
    pub fn serve_logging(dir: &Path, plugin: &str, extra: &[&str], rust_log: &str) -> FakeDockerd {
        let mut fake = FakeDockerd::spawn_serve(dir, plugin, extra, Some(rust_log));
        fake.wait_listening();
        fake
    }

    /// Runs `fake-dockerd serve` as [`FakeDockerd::serve`] does, without waiting for it,
    /// with `RUST_LOG=rust_log` when given.
    pub fn spawn_serve(
        dir: &Path,
        plugin: &str,
        extra: &[&str],
        rust_log: Option<&str>,
    ) -> FakeDockerd {
        let socket = dir.join("docker.sock");
        let mut args = vec![
            "serve",
            "--listen",
            socket.to_str().unwrap(),
            "--authorization-plugin",
            plugin,
            "--plugin-dir",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        FakeDockerd::spawn_logging(&socket, &args, rust_log)
    }

    /// Runs `fake-dockerd ARGS...` without waiting for it.
    pub fn spawn(socket: &Path, args: &[&str]) -> FakeDockerd {
        FakeDockerd::spawn_logging(socket, args, None)
    }

    fn spawn_logging(socket: &Path, args: &[&str], rust_log: Option<&str>) -> FakeDockerd {
        let stderr_path = socket.with_extension("log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_fake-dockerd"));
        if let Some(rust_log) = rust_log {
            command.env("RUST_LOG", rust_log);
        }
        let child = command
            .args(args)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        FakeDockerd {
            child,
            socket: socket.to_path_buf(),
            stderr_path,
        }
    }

    /// Waits for the process to exit on its own, at most `limit`; its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("fake-dockerd exited with {status}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("fake-dockerd did not listen within 20 s: {}", self.log());
    }

    /// What fake-dockerd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Runs the docker CLI against this endpoint.
    pub fn docker(&self, args: &[&str]) -> Output {
        docker_at(&format!("unix://{}", self.socket.display()), args)
    }

    /// Stops the process with SIGTERM and waits for it.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for FakeDockerd {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Runs the docker CLI with `DOCKER_HOST=host` and a private, empty config directory.
pub fn docker_at(host: &str, args: &[&str]) -> Output {
    let config = std::env::temp_dir().join("fake-dockerd-tests-docker-config");
    std::fs::create_dir_all(&config).unwrap();
    Command::new(docker_cli().expect("a docker CLI (checked by the caller)"))
        .args(args)
        .env("DOCKER_HOST", host)
        .env("DOCKER_CONFIG", &config)
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_API_VERSION")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The CLI's stdout as text, after asserting the command succeeded.
pub fn ok_stdout(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}): stdout {:?} stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A real dockerd of this test process, started once, stopped when the process exits.
pub struct RealDockerd {
    pub socket: PathBuf,
    /// An image made from busybox-static, usable with `docker run IMAGE echo hi`.
    pub image: &'static str,
}

/// The shared throwaway dockerd, or `None` (after printing why) where none can run.
pub fn real_dockerd() -> Option<&'static RealDockerd> {
    static DAEMON: OnceLock<Result<RealDockerd, String>> = OnceLock::new();
    match DAEMON.get_or_init(start_real_dockerd) {
        Ok(daemon) => Some(daemon),
        Err(reason) => {
            skip(reason);
            None
        }
    }
}

fn start_real_dockerd() -> Result<RealDockerd, String> {
    let Some(cli) = docker_cli() else {
        return Err("no docker CLI is installed (apt: docker.io)".into());
    };
    let dockerd = which("dockerd").ok_or("dockerd is not installed (apt: docker.io)")?;
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("busybox is not installed (apt: busybox-static)")?;
    let root = std::env::temp_dir().join(format!("fake-dockerd-it-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let socket = root.join("docker.sock");
    // A watchdog shell stops the daemon (by its own pid) and removes its data once this
    // test process is gone: the harness has no hook that runs at exit.
    let script = format!(
        r#"{dockerd} -H unix://{root}/docker.sock --data-root {root}/data --exec-root {root}/exec \
            --pidfile {root}/docker.pid --iptables=false --ip-masq=false --bridge=none \
            --storage-driver=vfs >{root}/dockerd.log 2>&1 &
        daemon=$!
        while kill -0 {parent} 2>/dev/null; do sleep 1; done
        kill $daemon; wait $daemon
        rm -rf {root}"#,
        dockerd = dockerd.display(),
        root = root.display(),
        parent = std::process::id(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start dockerd: {e}"))?;
    let host = format!("unix://{}", socket.display());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if docker_at(&host, &["version"]).status.success() {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(root.join("dockerd.log")).unwrap_or_default();
            return Err(format!("dockerd did not come up within 60 s: {log}"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let image = "fake-dockerd-it-busybox:latest";
    import_busybox(&cli, &host, busybox, &root.join("rootfs"), image)?;
    Ok(RealDockerd { socket, image })
}

/// Makes an image of a busybox-static rootfs with `docker import`.
fn import_busybox(
    cli: &Path,
    host: &str,
    busybox: &str,
    rootfs: &Path,
    image: &str,
) -> Result<(), String> {
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    std::fs::copy(busybox, bin.join("busybox")).map_err(|e| e.to_string())?;
    for applet in ["sh", "echo", "cat", "sleep", "true", "false", "ls"] {
        let link = bin.join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", &link).map_err(|e| e.to_string())?;
        }
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let config = std::env::temp_dir().join("fake-dockerd-tests-docker-config");
    std::fs::create_dir_all(&config).map_err(|e| e.to_string())?;
    let imported = Command::new(cli)
        .args(["import", "-", image])
        .env("DOCKER_HOST", host)
        .env("DOCKER_CONFIG", &config)
        .stdin(tar.stdout.ok_or("no tar output")?)
        .output()
        .map_err(|e| e.to_string())?;
    if !imported.status.success() {
        return Err(format!(
            "docker import failed: {}",
            String::from_utf8_lossy(&imported.stderr)
        ));
    }
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
