//! The load loop: keep-alive HTTP/1.1 connections to one plugin socket, each worker sending
//! whole units back to back, and the plugin's memory read from /proc through the socket's peer.
//!
//! Each worker owns one connection (hyper's http1 client, no pool in the way) so that N
//! workers really are N concurrent connections, as N concurrent daemon API calls would be.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::UnixStream;

use protocol::wire::PLUGIN_ACCEPT;
use protocol::AuthzReply;

use super::mix::{Call, Mix};
use super::stats::{Outcome, Tally};

/// One target under load: its socket, call timeout and open connections.
#[derive(Debug)]
pub struct Target {
    socket: PathBuf,
    timeout: Duration,
    connections: Vec<Option<SendRequest<Full<bytes::Bytes>>>>,
    next_unit: Arc<AtomicU64>,
}

/// Which units a run hands out: the measured ones from a shared counter, or setup ones up to
/// a bound.
#[derive(Debug, Clone, Copy)]
enum Units {
    Measured { until: Instant },
    Setup { count: u64, until: Instant },
}

impl Target {
    /// A target with `connections` connections opened lazily on first use.
    pub fn new(socket: PathBuf, connections: usize, timeout: Duration) -> Self {
        Self {
            socket,
            timeout,
            connections: (0..connections.max(1)).map(|_| None).collect(),
            next_unit: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Runs measured units on every connection until `duration` has passed; returns what was
    /// counted, with its elapsed wall time.
    pub async fn run_for(&mut self, mix: &Arc<Mix>, duration: Duration) -> Tally {
        let until = Instant::now() + duration;
        self.run(mix, Units::Measured { until }).await
    }

    /// Runs setup units `0..mix.setup_units()` spread over every connection, stopping early
    /// when `limit` has passed.
    pub async fn run_setup(&mut self, mix: &Arc<Mix>, limit: Duration) -> Tally {
        let count = mix.setup_units();
        let until = Instant::now() + limit;
        let counter = Arc::new(AtomicU64::new(0));
        let measured = std::mem::replace(&mut self.next_unit, counter);
        let tally = self.run(mix, Units::Setup { count, until }).await;
        self.next_unit = measured;
        tally
    }

    async fn run(&mut self, mix: &Arc<Mix>, units: Units) -> Tally {
        let started = Instant::now();
        let workers: Vec<_> = self
            .connections
            .iter_mut()
            .map(|slot| {
                let worker = Worker {
                    socket: self.socket.clone(),
                    timeout: self.timeout,
                    connection: slot.take(),
                    mix: Arc::clone(mix),
                    next_unit: Arc::clone(&self.next_unit),
                    tally: Tally::default(),
                };
                tokio::spawn(worker.run(units))
            })
            .collect();
        let mut total = Tally::default();
        for (slot, worker) in self.connections.iter_mut().zip(workers) {
            match worker.await {
                Ok((connection, tally)) => {
                    *slot = connection;
                    total.absorb(&tally);
                }
                Err(join_error) => {
                    tracing::error!("a load worker failed: {join_error}");
                    total.transport += 1;
                }
            }
        }
        total.elapsed = started.elapsed();
        total
    }
}

struct Worker {
    socket: PathBuf,
    timeout: Duration,
    connection: Option<SendRequest<Full<bytes::Bytes>>>,
    mix: Arc<Mix>,
    next_unit: Arc<AtomicU64>,
    tally: Tally,
}

impl Worker {
    async fn run(mut self, units: Units) -> (Option<SendRequest<Full<bytes::Bytes>>>, Tally) {
        loop {
            let k = self.next_unit.fetch_add(1, Ordering::Relaxed);
            let calls = match units {
                Units::Measured { until } => {
                    if Instant::now() >= until {
                        break;
                    }
                    self.mix.unit(k)
                }
                Units::Setup { count, until } => {
                    if k >= count || Instant::now() >= until {
                        break;
                    }
                    self.mix.setup_unit(k)
                }
            };
            for call in &calls {
                let started = Instant::now();
                let outcome = self.call(call).await;
                self.tally.count(outcome, started.elapsed());
            }
        }
        (self.connection, self.tally)
    }

    async fn call(&mut self, call: &Call) -> Outcome {
        match tokio::time::timeout(self.timeout, self.exchange(call)).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => {
                tracing::debug!("call to {} failed: {error:#}", self.socket.display());
                self.connection = None;
                Outcome::Transport
            }
            Err(_) => {
                tracing::debug!("call to {} timed out", self.socket.display());
                self.connection = None;
                Outcome::Transport
            }
        }
    }

    async fn exchange(&mut self, call: &Call) -> anyhow::Result<Outcome> {
        let connection = match &mut self.connection {
            Some(connection) if !connection.is_closed() => connection,
            slot => slot.insert(connect(&self.socket).await?),
        };
        connection.ready().await?;
        let request = hyper::Request::post(call.phase.path())
            .header(hyper::header::HOST, "plugin")
            .header(hyper::header::ACCEPT, PLUGIN_ACCEPT)
            .body(Full::new(call.envelope.clone()))?;
        let response = connection.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if status != hyper::StatusCode::OK {
            return Ok(Outcome::BadStatus);
        }
        Ok(match serde_json::from_slice::<AuthzReply>(&body) {
            Ok(reply) if reply.allow => Outcome::Allowed,
            Ok(_) => Outcome::Denied,
            Err(_) => Outcome::BadStatus,
        })
    }
}

async fn connect(socket: &Path) -> anyhow::Result<SendRequest<Full<bytes::Bytes>>> {
    let stream = UnixStream::connect(socket).await?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!("plugin connection ended: {error}");
        }
    });
    Ok(sender)
}

/// The plugin process's memory, from /proc/PID/status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// The process behind the socket.
    pub pid: i32,
    /// Peak resident set size (VmHWM) in KiB.
    pub peak_kib: u64,
    /// Resident set size now (VmRSS) in KiB.
    pub current_kib: u64,
}

/// The pid of the process listening on `socket`, from the connection's peer credentials.
pub async fn plugin_pid(socket: &Path) -> Result<i32, String> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|error| format!("cannot connect: {error}"))?;
    let credentials = stream
        .peer_cred()
        .map_err(|error| format!("no peer credentials: {error}"))?;
    credentials
        .pid()
        .ok_or_else(|| "the kernel gave no peer pid".to_owned())
}

/// CPU time all live threads of `pid` have run so far, from /proc/PID/task/*/schedstat
/// (nanoseconds, unlike the 10 ms ticks of /proc/PID/stat).
pub fn process_cpu(pid: i32) -> Option<Duration> {
    let mut total = 0u64;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let schedstat = fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += schedstat_run_nanos(&schedstat)?;
    }
    Some(Duration::from_nanos(total))
}

/// The first field of a schedstat line: nanoseconds spent on a CPU.
pub fn schedstat_run_nanos(schedstat: &str) -> Option<u64> {
    schedstat.split_whitespace().next()?.parse().ok()
}

/// Reads the memory of the process listening on `socket`, or says why it cannot.
pub async fn plugin_memory(socket: &Path) -> Result<Memory, String> {
    let pid = plugin_pid(socket).await?;
    let status_path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&status_path)
        .map_err(|error| format!("cannot read {status_path}: {error}"))?;
    let peak_kib = status_kib(&status, "VmHWM").ok_or("no VmHWM line")?;
    let current_kib = status_kib(&status, "VmRSS").ok_or("no VmRSS line")?;
    Ok(Memory {
        pid,
        peak_kib,
        current_kib,
    })
}

/// The value in kB of a `/proc/PID/status` line such as `VmHWM: 10240 kB`.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str =
        "Name:\tallow_all\nVmPeak:\t  20000 kB\nVmHWM:\t    8123 kB\nVmRSS:\t    7000 kB\n";

    #[test]
    fn reads_peak_and_current_resident_size_from_proc_status() {
        assert_eq!(status_kib(STATUS, "VmHWM"), Some(8123));
        assert_eq!(status_kib(STATUS, "VmRSS"), Some(7000));
    }

    #[test]
    fn a_missing_status_field_is_none() {
        assert_eq!(status_kib(STATUS, "VmSwap"), None);
    }

    #[test]
    fn cpu_time_is_the_first_schedstat_field() {
        assert_eq!(
            schedstat_run_nanos("123456789 4242 17\n"),
            Some(123_456_789)
        );
        assert_eq!(schedstat_run_nanos(""), None);
    }

    #[test]
    fn this_process_has_spent_cpu_time() {
        let pid = std::process::id() as i32;
        assert!(process_cpu(pid).is_some_and(|cpu| cpu > Duration::ZERO));
    }

    #[tokio::test]
    async fn reads_this_process_memory_through_a_socket_it_serves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("self.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let accept = tokio::spawn(async move { listener.accept().await.map(|_| ()) });
        let memory = plugin_memory(&path).await.unwrap();
        accept.await.unwrap().unwrap();
        assert_eq!(memory.pid, std::process::id() as i32);
        assert!(memory.peak_kib >= memory.current_kib && memory.current_kib > 0);
    }
}
