//! Replay: pass captured exchanges through a profile's authz chain and report, per call,
//! what the plugin was sent, what it answered and what the client would have seen.
//!
//! Exchanges (capture format v1) run both phases as the daemon would; plugin-side recordings
//! (`record-plugin` lines) are re-sent to the plugin as the real daemon sent them, one call
//! each. For those the handler's answer is unknown: an allow is reported with the recorded
//! `ResponseStatusCode` in the response phase and 200 in the request phase.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use protocol::{AuthzRequest, Phase};
use serde::Serialize;

use crate::capture::{handler_result, CaptureLine, Exchange, Expectation};
use crate::chain::{AuthzChain, ChainCall, Denial, EndpointAnswer};

/// The report of one replayed capture line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineReport {
    /// The capture file.
    pub capture: String,
    /// 1-based position of the line among the file's capture lines.
    pub line: usize,
    /// The call's method.
    pub method: String,
    /// The call's raw target.
    pub target: String,
    /// The plugin calls made, in order.
    pub calls: Vec<CallReport>,
    /// What the client would have seen.
    pub client: Expectation,
    /// What the capture (or `--expect`) said the client should see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expectation>,
}

impl LineReport {
    /// Whether an expectation exists and the client result differs from it.
    pub fn unexpected(&self) -> bool {
        self.expected
            .as_ref()
            .is_some_and(|expected| !matches_expectation(expected, &self.client))
    }
}

/// An expectation without a message accepts any message with the same status.
fn matches_expectation(expected: &Expectation, seen: &Expectation) -> bool {
    expected.status == seen.status
        && (expected.message.is_none() || expected.message == seen.message)
}

/// One plugin call as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallReport {
    /// The plugin's name.
    pub plugin: String,
    /// `AuthZPlugin.AuthZReq` or `AuthZPlugin.AuthZRes`.
    pub call: &'static str,
    /// The message sent.
    pub sent: AuthzRequest,
    /// The HTTP status of the answer (absent when unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The raw answer body (text when UTF-8, else `base64:`), or the transport error.
    pub answer: String,
}

impl From<ChainCall> for CallReport {
    fn from(call: ChainCall) -> Self {
        let (status, answer) = match call.answer {
            EndpointAnswer::Answered { status, body, .. } => (Some(status), text(&body)),
            EndpointAnswer::Unreachable(error) => (None, error),
        };
        CallReport {
            plugin: call.plugin,
            call: call.phase.method_name(),
            sent: call.sent,
            status,
            answer,
        }
    }
}

fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.trim_end().to_owned(),
        Err(_) => format!("base64:{}", STANDARD.encode(bytes)),
    }
}

fn seen_from(denial: Denial) -> Expectation {
    Expectation {
        status: denial.status,
        message: (!denial.message.is_empty()).then_some(denial.message),
    }
}

/// Replays one exchange through both phases, as the daemon would run them.
pub async fn replay_exchange(
    chain: &AuthzChain,
    exchange: &Exchange,
) -> (Vec<CallReport>, Expectation) {
    let request = chain.authorize_request_traced(&exchange.request).await;
    let mut calls: Vec<CallReport> = request.calls.into_iter().map(Into::into).collect();
    if let Err(denial) = request.result {
        return (calls, seen_from(denial));
    }
    let response = chain
        .authorize_response_traced(&exchange.request, &exchange.response)
        .await;
    calls.extend(response.calls.into_iter().map(Into::into));
    let seen = match response.result {
        Ok(()) => handler_result(&exchange.response),
        Err(denial) => seen_from(denial),
    };
    (calls, seen)
}

/// Re-sends one recorded plugin message through the chain's plugins as it was.
async fn replay_plugin_call(
    chain: &AuthzChain,
    phase: Phase,
    message: &AuthzRequest,
) -> (Vec<CallReport>, Expectation) {
    let outcome = chain.send_recorded(phase, message.clone()).await;
    let calls = outcome.calls.into_iter().map(Into::into).collect();
    let seen = match outcome.result {
        Ok(()) => Expectation {
            status: message
                .response_status_code
                .try_into()
                .ok()
                .filter(|s| *s != 0)
                .unwrap_or(200),
            message: None,
        },
        Err(denial) => seen_from(denial),
    };
    (calls, seen)
}

/// Replays every line of one capture; `expectations` (from `--expect`) override the
/// capture's own, in order.
pub async fn replay_capture(
    chain: &AuthzChain,
    capture: &str,
    lines: &[CaptureLine],
    expectations: &mut dyn Iterator<Item = Expectation>,
) -> Vec<LineReport> {
    let mut reports = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let (method, target, (calls, client), own) = match line {
            CaptureLine::Exchange(exchange) => (
                exchange.request.method.clone(),
                exchange.request.target.clone(),
                replay_exchange(chain, exchange).await,
                exchange.expect.clone(),
            ),
            CaptureLine::PluginCall(call) => (
                call.message.request_method.clone(),
                call.message.request_uri.clone(),
                replay_plugin_call(chain, call.phase, &call.message).await,
                None,
            ),
        };
        reports.push(LineReport {
            capture: capture.to_owned(),
            line: index + 1,
            method,
            target,
            calls,
            client,
            expected: expectations.next().or(own),
        });
    }
    reports
}

/// The human-readable report of one line.
pub fn render_text(report: &LineReport) -> String {
    let mut out = format!(
        "{}#{} {} {}\n",
        report.capture, report.line, report.method, report.target
    );
    for call in &report.calls {
        let sent = serde_json::to_string(&call.sent).unwrap_or_default();
        out.push_str(&format!("  -> {} {} {}\n", call.plugin, call.call, sent));
        match call.status {
            Some(status) => out.push_str(&format!("  <- {status} {}\n", call.answer)),
            None => out.push_str(&format!("  <- unreachable: {}\n", call.answer)),
        }
    }
    let seen = describe(&report.client);
    match &report.expected {
        None => out.push_str(&format!("  client: {seen}\n")),
        Some(expected) if matches_expectation(expected, &report.client) => {
            out.push_str(&format!("  client: {seen} (as expected)\n"))
        }
        Some(expected) => out.push_str(&format!(
            "  client: {seen} UNEXPECTED, expected {}\n",
            describe(expected)
        )),
    }
    out
}

fn describe(seen: &Expectation) -> String {
    match &seen.message {
        Some(message) => format!("{} {message}", seen.status),
        None => seen.status.to_string(),
    }
}
