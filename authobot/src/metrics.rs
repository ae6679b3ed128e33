//! What an operator scrapes from a running plugin: decisions by phase, verdict and rule,
//! learns, the ownership journal (size, sequence, how far it is fsynced, whether it can be
//! written) and lost audit lines, in Prometheus text format on a unix socket
//! (`authobot serve --metrics PATH`; `authobot status --metrics PATH` prints it).
//!
//! Counting is on every call, so it is an atomic add found by a shared-lock lookup; the
//! lock is taken exclusively only the first time a rule decides.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use protocol::Phase;
use tokio::net::{UnixListener, UnixStream};

use crate::ownership::store::JournalStatus;

/// The Content-Type of Prometheus' text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counts by rule, for one phase and verdict.
type ByRule = RwLock<HashMap<Box<str>, AtomicU64>>;

/// The plugin's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Indexed by phase (request, response), then verdict (deny, allow).
    decisions: [[ByRule; 2]; 2],
    learns: AtomicU64,
    learns_refused: AtomicU64,
}

fn phase_index(phase: Phase) -> usize {
    match phase {
        Phase::Request => 0,
        Phase::Response => 1,
    }
}

impl Metrics {
    /// Counts one answer to the daemon.
    pub fn decided(&self, phase: Phase, allow: bool, rule: &str) {
        let by_rule = &self.decisions[phase_index(phase)][usize::from(allow)];
        let counted = by_rule
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(rule)
            .map(|count| count.fetch_add(1, Ordering::Relaxed))
            .is_some();
        if !counted {
            by_rule
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(rule.into())
                .or_default()
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a daemon answer learned from: recorded, or refused because it could not be.
    pub fn learned(&self, recorded: bool) {
        let counter = if recorded {
            &self.learns
        } else {
            &self.learns_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Everything, in Prometheus text format, with the journal's state and the audit log's
    /// losses read at this moment.
    pub fn render(&self, journal: Option<&JournalStatus>, audit_lost: u64) -> String {
        let mut out = String::with_capacity(2048);
        family(
            &mut out,
            "authobot_decisions_total",
            "counter",
            "Answers to the daemon, by phase, verdict and the rule that decided.",
        );
        for (phase, name) in [(Phase::Request, "request"), (Phase::Response, "response")] {
            for (allow, verdict) in [(true, "allow"), (false, "deny")] {
                let by_rule = self.decisions[phase_index(phase)][usize::from(allow)]
                    .read()
                    .unwrap_or_else(|e| e.into_inner());
                let mut rules: Vec<_> = by_rule.iter().collect();
                rules.sort_by(|a, b| a.0.cmp(b.0));
                for (rule, count) in rules {
                    let _ = writeln!(
                        out,
                        "authobot_decisions_total{{phase=\"{name}\",decision=\"{verdict}\",rule=\"{}\"}} {}",
                        label(rule),
                        count.load(Ordering::Relaxed)
                    );
                }
            }
        }
        sample(
            &mut out,
            "authobot_ownership_learns_total",
            "counter",
            "Daemon answers that taught ownership, recorded before the answer.",
            self.learns.load(Ordering::Relaxed),
        );
        sample(
            &mut out,
            "authobot_ownership_learns_refused_total",
            "counter",
            "Daemon answers that taught ownership but could not be recorded (call denied).",
            self.learns_refused.load(Ordering::Relaxed),
        );
        if let Some(journal) = journal {
            for (name, help, value) in [
                (
                    "authobot_journal_bytes",
                    "Size of the ownership journal.",
                    journal.bytes,
                ),
                (
                    "authobot_journal_lines",
                    "Lines of the ownership journal.",
                    journal.lines,
                ),
                (
                    "authobot_journal_seq",
                    "Sequence number of the journal's last line.",
                    journal.seq,
                ),
                (
                    "authobot_journal_durable_seq",
                    "Highest sequence number known to be fsynced.",
                    journal.durable_seq,
                ),
                (
                    "authobot_journal_writable",
                    "1 when learns can be recorded, 0 when the journal is removed, replaced or left uncut.",
                    u64::from(journal.writable),
                ),
                (
                    "authobot_owned_objects",
                    "Containers, exec sessions, volumes and networks in the ownership record.",
                    journal.objects,
                ),
            ] {
                sample(&mut out, name, "gauge", help, value);
            }
            family(
                &mut out,
                "authobot_journal_fsync_lag_seconds",
                "gauge",
                "How long the oldest change not yet fsynced has waited (0 when all are).",
            );
            let _ = writeln!(
                out,
                "authobot_journal_fsync_lag_seconds {:.3}",
                journal.fsync_lag.as_secs_f64()
            );
        }
        sample(
            &mut out,
            "authobot_audit_lost_records_total",
            "counter",
            "Audit lines that could not be written.",
            audit_lost,
        );
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the text format escapes it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `render()` to every `GET /metrics` on `listener` until the task is dropped.
pub async fn serve(listener: UnixListener, render: Arc<dyn Fn() -> String + Send + Sync>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, most likely: scraping can wait.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let render = Arc::clone(&render);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let render = Arc::clone(&render);
                async move { Ok::<_, Infallible>(answer(&request, render.as_ref())) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(
    request: &Request<hyper::body::Incoming>,
    render: &dyn Fn() -> String,
) -> Response<Full<Bytes>> {
    let (status, body) = if request.method() == Method::GET && request.uri().path() == "/metrics" {
        (StatusCode::OK, render())
    } else {
        (
            StatusCode::NOT_FOUND,
            "only GET /metrics is served here\n".into(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    response
}

/// Why the metrics of a running plugin could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Nothing answers on the socket.
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The exchange failed.
    #[error("GET /metrics failed: {0}")]
    Http(String),
}

/// Fetches `GET /metrics` from the socket at `path`.
pub async fn fetch(path: &Path) -> Result<String, FetchError> {
    let http = |e: &dyn std::fmt::Display| FetchError::Http(e.to_string());
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| FetchError::Connect {
            path: path.display().to_string(),
            source,
        })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http(&e))?;
    tokio::spawn(connection);
    let request = Request::get("/metrics")
        .header(http::header::HOST, "authobot")
        .body(Full::new(Bytes::new()))
        .map_err(|e| http(&e))?;
    let response = sender.send_request(request).await.map_err(|e| http(&e))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| http(&e))?
        .to_bytes();
    if status != StatusCode::OK {
        return Err(FetchError::Http(format!("status {status}")));
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_counted_by_phase_verdict_and_rule() {
        let metrics = Metrics::default();
        metrics.decided(Phase::Request, false, "no-privileged");
        metrics.decided(Phase::Request, false, "no-privileged");
        metrics.decided(Phase::Response, true, "response-phase");
        let text = metrics.render(None, 0);
        assert!(text.contains(
            "authobot_decisions_total{phase=\"request\",decision=\"deny\",rule=\"no-privileged\"} 2\n"
        ), "{text}");
        assert!(text.contains(
            "authobot_decisions_total{phase=\"response\",decision=\"allow\",rule=\"response-phase\"} 1\n"
        ), "{text}");
    }

    #[test]
    fn a_rule_name_is_escaped_as_a_label_value() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn every_sample_is_preceded_by_its_help_and_type() {
        let text = Metrics::default().render(None, 3);
        assert!(text.contains(
            "# HELP authobot_audit_lost_records_total Audit lines that could not be written.\n# TYPE authobot_audit_lost_records_total counter\nauthobot_audit_lost_records_total 3\n"
        ), "{text}");
    }
}
