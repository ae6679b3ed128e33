//! What the gate costs an API client: the same calls through the gate's unix socket, straight
//! to dockerd's TLS port (with a certificate for the same user), and on dockerd's own unix
//! socket, in one run.
//!
//! As `conformance bench` does for plugins: N keep-alive HTTP/1.1 connections per target,
//! each sending the call back to back; after an unmeasured warm-up the measured time is cut
//! into one-second slices, each target in turn, the order reversed every other slice
//! (A B C, C B A, ...), so other load on the machine falls on all alike; every figure is also
//! given as a ratio gate / other target.
//!
//! ```text
//! api_bench --gate /run/docker.sock --tls 127.0.0.1:2376 --cert-dir DIR [--daemon-socket PATH] \
//!     [--path /_ping --path /v1.41/containers/json] [--connections 8] [--duration 10] [--warmup 2]
//! ```
//!
//! DIR holds `ca.pem`, `cert.pem` and `key.pem`, as `DOCKER_CERT_PATH` does. Exit 0 measured
//! without errors, 1 some calls failed, 2 could not run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;

/// API calls through the gate and straight to dockerd, compared in one run.
#[derive(Debug, Parser)]
struct Args {
    /// The gate's socket.
    #[arg(long)]
    gate: PathBuf,
    /// dockerd's TLS port.
    #[arg(long)]
    tls: SocketAddr,
    /// The user's certificate directory for the direct target (ca.pem, cert.pem, key.pem).
    #[arg(long)]
    cert_dir: PathBuf,
    /// dockerd's own unix socket, measured as a third target (callers there are anonymous).
    #[arg(long)]
    daemon_socket: Option<PathBuf>,
    /// The calls (GET), each measured on its own.
    #[arg(long = "path", default_values_t = ["/_ping".to_owned(), "/v1.41/containers/json".to_owned()])]
    paths: Vec<String>,
    /// Concurrent keep-alive connections per target.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Measured seconds per target and path.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unmeasured seconds per target and path before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

/// How a target is reached.
#[derive(Debug, Clone)]
enum Dial {
    Unix(PathBuf),
    Tls(SocketAddr, Arc<ClientConfig>),
}

type Sender = SendRequest<Empty<Bytes>>;

impl Dial {
    async fn connect(&self) -> Result<Sender> {
        let sender = match self {
            Dial::Unix(path) => handshake(UnixStream::connect(path).await?).await?,
            Dial::Tls(address, config) => {
                let tcp = TcpStream::connect(address).await?;
                tcp.set_nodelay(true)?;
                let name = ServerName::try_from("localhost")?;
                let tls = TlsConnector::from(Arc::clone(config))
                    .connect(name, tcp)
                    .await?;
                handshake(tls).await?
            }
        };
        Ok(sender)
    }
}

async fn handshake<S>(stream: S) -> Result<Sender>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// What one target did over the measured slices.
#[derive(Debug)]
struct Tally {
    calls: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            calls: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        }
    }

    fn per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn micros(&self, quantile: f64) -> u64 {
        self.latency.value_at_quantile(quantile)
    }
}

/// One target: how to reach it and its open connections, kept across slices.
struct Target {
    dial: Dial,
    connections: Vec<Option<Sender>>,
}

impl Target {
    /// Runs every connection until `until`, counting into `tally` when given.
    async fn run(&mut self, path: &str, until: Instant, tally: Option<&mut Tally>) {
        let started = Instant::now();
        let workers: Vec<_> = self
            .connections
            .iter_mut()
            .map(|slot| {
                let dial = self.dial.clone();
                let path = path.to_owned();
                let connection = slot.take();
                tokio::spawn(worker(dial, connection, path, until))
            })
            .collect();
        let mut sum = Tally::new();
        for (slot, worker) in self.connections.iter_mut().zip(workers) {
            match worker.await {
                Ok((connection, tally)) => {
                    *slot = connection;
                    sum.calls += tally.calls;
                    sum.errors += tally.errors;
                    sum.latency.add(&tally.latency).expect("same bounds");
                }
                Err(_) => sum.errors += 1,
            }
        }
        if let Some(tally) = tally {
            tally.calls += sum.calls;
            tally.errors += sum.errors;
            tally.elapsed += started.elapsed();
            tally.latency.add(&sum.latency).expect("same bounds");
        }
    }
}

/// One connection sending `GET path` back to back until `until`.
async fn worker(
    dial: Dial,
    mut connection: Option<Sender>,
    path: String,
    until: Instant,
) -> (Option<Sender>, Tally) {
    let mut tally = Tally::new();
    while Instant::now() < until {
        let started = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(5), async {
            let sender = match &mut connection {
                Some(sender) if !sender.is_closed() => sender,
                slot => slot.insert(dial.connect().await?),
            };
            sender.ready().await?;
            let request = hyper::Request::get(path.as_str())
                .header(hyper::header::HOST, "docker")
                .body(Empty::new())?;
            let response = sender.send_request(request).await?;
            let ok = response.status().is_success();
            response.into_body().collect().await?;
            anyhow::Ok(ok)
        })
        .await;
        match outcome {
            Ok(Ok(true)) => {
                tally.calls += 1;
                let micros = started.elapsed().as_micros().max(1) as u64;
                let _ = tally.latency.record(micros);
            }
            Ok(Ok(false)) => tally.errors += 1,
            Ok(Err(_)) | Err(_) => {
                tally.errors += 1;
                connection = None;
            }
        }
    }
    (connection, tally)
}

fn direct_tls(dir: &Path) -> Result<Arc<ClientConfig>> {
    let read = |name: &str| dir.join(name);
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(read("ca.pem")).context("ca.pem")?)?;
    let chain = vec![CertificateDer::from_pem_file(read("cert.pem")).context("cert.pem")?];
    let key = PrivateKeyDer::from_pem_file(read("key.pem")).context("key.pem")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?,
    ))
}

async fn bench(args: &Args) -> Result<bool> {
    let mut dials = vec![
        ("gate", Dial::Unix(args.gate.clone())),
        ("tls", Dial::Tls(args.tls, direct_tls(&args.cert_dir)?)),
    ];
    if let Some(socket) = &args.daemon_socket {
        dials.push(("unix", Dial::Unix(socket.clone())));
    }
    println!(
        "api_bench: {} connections per target, {} s measured per target and path in 1 s slices (order reversed every other slice), {} s warm-up",
        args.connections, args.duration, args.warmup
    );
    println!(
        "{:<24} {:<11} {:>10} {:>9} {:>9} {:>7}",
        "path", "target", "calls/s", "p50 µs", "p99 µs", "errors"
    );
    let mut clean = true;
    for path in &args.paths {
        let mut targets: Vec<Target> = dials
            .iter()
            .map(|(_, dial)| Target {
                dial: dial.clone(),
                connections: (0..args.connections.max(1)).map(|_| None).collect(),
            })
            .collect();
        for target in &mut targets {
            let until = Instant::now() + Duration::from_secs(args.warmup);
            target.run(path, until, None).await;
        }
        let mut tallies: Vec<Tally> = targets.iter().map(|_| Tally::new()).collect();
        for slice in 0..args.duration.max(1) {
            let mut order: Vec<usize> = (0..targets.len()).collect();
            if slice % 2 == 1 {
                order.reverse();
            }
            for index in order {
                let until = Instant::now() + Duration::from_secs(1);
                targets[index]
                    .run(path, until, Some(&mut tallies[index]))
                    .await;
            }
        }
        for ((name, _), tally) in dials.iter().zip(&tallies) {
            println!(
                "{:<24} {:<11} {:>10.0} {:>9} {:>9} {:>7}",
                path,
                name,
                tally.per_second(),
                tally.micros(0.5),
                tally.micros(0.99),
                tally.errors
            );
            clean &= tally.errors == 0 && tally.calls > 0;
        }
        let gate = &tallies[0];
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        for ((name, _), other) in dials.iter().zip(&tallies).skip(1) {
            println!(
                "{:<24} {:<11} {:>9.2}x {:>8.2}x {:>8.2}x",
                path,
                format!("gate/{name}"),
                ratio(gate.per_second(), other.per_second()),
                ratio(gate.micros(0.5) as f64, other.micros(0.5) as f64),
                ratio(gate.micros(0.99) as f64, other.micros(0.99) as f64),
            );
        }
    }
    Ok(clean)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("api_bench: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(bench(&args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("api_bench: {error:#}");
            ExitCode::from(2)
        }
    }
}
