//! The audit log: one JSON line per decision, to stderr or a file.
//!
//! A line carries who, what route, the verdict, the rule and how long deciding took. It is
//! built from the parsed route and the decision only: request bodies (`/auth` passwords),
//! headers (`X-Registry-Auth`), query strings (build args) and deny messages never reach it.

use std::io::Write;
use std::sync::Mutex;

use protocol::route;
use protocol::{AuthzRequest, Phase};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::decision::Decision;

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// When the decision was made, RFC 3339 UTC.
    pub time: String,
    /// The TLS user name; empty for anonymous callers.
    pub user: String,
    /// `request` or `response`.
    pub phase: &'static str,
    /// The HTTP method.
    pub method: String,
    /// The route template dockerd will run (`/containers/{name}/exec`), empty if unroutable.
    pub route: String,
    /// The decoded path without version prefix or query; for an unroutable call, the raw
    /// target up to its query.
    pub path: String,
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The rule that decided.
    pub rule: String,
    /// How long the decision took, in microseconds.
    pub micros: u64,
}

impl AuditRecord {
    /// The record of `decision` on `request`.
    pub fn new(
        phase: Phase,
        request: &AuthzRequest,
        decision: &Decision,
        micros: u64,
        now: OffsetDateTime,
    ) -> AuditRecord {
        let (route, path) = match route::parse(&request.request_method, &request.request_uri) {
            Ok(parsed) => (parsed.template.to_owned(), parsed.path),
            Err(_) => (
                String::new(),
                request
                    .request_uri
                    .split(['?', '#'])
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ),
        };
        AuditRecord {
            time: now.format(&Rfc3339).unwrap_or_default(),
            user: request.user.clone(),
            phase: match phase {
                Phase::Request => "request",
                Phase::Response => "response",
            },
            method: request.request_method.clone(),
            route,
            path,
            decision: if decision.allow { "allow" } else { "deny" },
            rule: decision.rule.clone(),
            micros,
        }
    }
}

/// Where audit lines go. Writes are serialised so lines never interleave.
pub struct AuditLog {
    sink: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

impl AuditLog {
    /// An audit log writing to `sink`.
    pub fn new(sink: Box<dyn Write + Send>) -> AuditLog {
        AuditLog {
            sink: Mutex::new(sink),
        }
    }

    /// Writes one line. A failing sink is reported through tracing, never to the daemon.
    pub fn write(&self, record: &AuditRecord) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an audit record");
                return;
            }
        };
        line.push(b'\n');
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(e) = sink.write_all(&line).and_then(|()| sink.flush()) {
            tracing::error!(error = %e, "cannot write the audit log");
        }
    }
}
