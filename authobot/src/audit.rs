//! The audit log: one JSON line per decision, to stderr or a file.
//!
//! A line carries who, what route, the verdict, the rule and how long deciding took. It is
//! built from the parsed route and the decision only: request bodies (`/auth` passwords),
//! headers (`X-Registry-Auth`), query strings (build args) and deny messages never reach it.
//!
//! It is written on every call, so it borrows what it prints, reuses the route the decision
//! parsed, and formats the time and the JSON by hand (the same bytes `serde_json` writes for
//! the record, at a third of the cost) into one reused buffer that goes out in a single
//! write: no line is held back in memory, so none is lost when the plugin is killed.
//!
//! A line that cannot be written (a full or failing disk) is never left torn in the file:
//! what was written of it is cut back. It is counted as lost, reported in the diagnostic
//! log, and the call is refused unless `--on-audit-failure allow` says otherwise.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use protocol::route;
use protocol::{AuthzRequest, Phase};
use serde::Serialize;
use time::OffsetDateTime;

use crate::decision::{Decision, RegoResult, RegoTrace};

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord<'a> {
    /// When the decision was made, RFC 3339 UTC.
    pub time: Rfc3339Utc,
    /// The TLS user name; empty for anonymous callers.
    pub user: &'a str,
    /// `request` or `response`.
    pub phase: &'static str,
    /// The HTTP method.
    pub method: &'a str,
    /// The route template dockerd will run (`/containers/{name}/exec`), empty if unroutable.
    pub route: &'static str,
    /// The decoded path without version prefix or query; for an unroutable call, the raw
    /// target up to its query.
    pub path: Cow<'a, str>,
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The rule that decided.
    pub rule: &'a str,
    /// How long the decision took, in microseconds.
    pub micros: u64,
    /// When a Rego policy was asked, its decision log: decision id, query and result
    /// (never the input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rego: Option<&'a RegoTrace>,
}

impl<'a> AuditRecord<'a> {
    /// The record of `decision` on `request`.
    pub fn new(
        phase: Phase,
        request: &'a AuthzRequest,
        decision: &'a Decision,
        micros: u64,
        now: OffsetDateTime,
    ) -> AuditRecord<'a> {
        let (route, path) = match &decision.route {
            Some(routed) => (routed.template, Cow::Borrowed(routed.path.as_str())),
            // The decision stopped before routing (or did not route at all): route it here.
            None => match route::parse(&request.request_method, &request.request_uri) {
                Ok(parsed) => (parsed.template, Cow::Owned(parsed.path)),
                Err(_) => (
                    "",
                    Cow::Borrowed(
                        request
                            .request_uri
                            .split(['?', '#'])
                            .next()
                            .unwrap_or_default(),
                    ),
                ),
            },
        };
        AuditRecord {
            time: Rfc3339Utc(now),
            user: &request.user,
            phase: match phase {
                Phase::Request => "request",
                Phase::Response => "response",
            },
            method: &request.request_method,
            route,
            path,
            decision: if decision.allow { "allow" } else { "deny" },
            rule: &decision.rule,
            micros,
            rego: decision.rego.as_deref(),
        }
    }
}

impl AuditRecord<'_> {
    /// Appends the record to `out` as one JSON object and a newline: the bytes
    /// `serde_json::to_vec` writes for it, keys in field order.
    pub fn encode_line(&self, out: &mut Vec<u8>) {
        let mut time = [0u8; RFC3339_MAX];
        let time_len = self.time.write_into(&mut time);
        out.extend_from_slice(b"{\"time\":\"");
        out.extend_from_slice(&time[..time_len]);
        out.extend_from_slice(b"\",\"user\":");
        push_json_string(out, self.user);
        out.extend_from_slice(b",\"phase\":");
        push_json_string(out, self.phase);
        out.extend_from_slice(b",\"method\":");
        push_json_string(out, self.method);
        out.extend_from_slice(b",\"route\":");
        push_json_string(out, self.route);
        out.extend_from_slice(b",\"path\":");
        push_json_string(out, &self.path);
        out.extend_from_slice(b",\"decision\":");
        push_json_string(out, self.decision);
        out.extend_from_slice(b",\"rule\":");
        push_json_string(out, self.rule);
        out.extend_from_slice(b",\"micros\":");
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut micros = self.micros;
        loop {
            start -= 1;
            digits[start] = b'0' + (micros % 10) as u8;
            micros /= 10;
            if micros == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[start..]);
        if let Some(rego) = self.rego {
            out.extend_from_slice(b",\"rego\":{\"decision_id\":");
            push_json_string(out, &rego.decision_id);
            out.extend_from_slice(b",\"query\":");
            push_json_string(out, &rego.query);
            out.extend_from_slice(b",\"result\":");
            match rego.result {
                RegoResult::Bool(true) => out.extend_from_slice(b"true"),
                RegoResult::Bool(false) => out.extend_from_slice(b"false"),
                other => push_json_string(out, &other.to_string()),
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Appends `text` as a JSON string, escaped as `serde_json` escapes it: `"` and `\`, the
/// short forms `\b \f \n \r \t`, other control characters as `\u00xx`, and nothing else.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Names, methods and paths seldom need escaping: find the first byte that does.
    let Some(first) = first_to_escape(bytes) else {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    };
    let mut plain_from = 0;
    for (at, &byte) in bytes.iter().enumerate().skip(first) {
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..at]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        plain_from = at + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

/// Whether JSON needs `byte` escaped.
fn must_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Where the first byte [`must_escape`] is, eight bytes at a time: every line carries a
/// path of up to a hundred bytes, and byte by byte the scan was a third of the encoding.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // The high bit of a byte of `(x - n) & !x` is set for some byte iff some byte of x is
    // below n (for n <= 0x80); with n = 1 on `x ^ c`, iff some byte equals c.
    let below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGH_BITS != 0;
    let mut scanned = 0;
    for chunk in bytes.chunks_exact(8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of eight bytes"));
        if below(word, 0x20)
            || below(word ^ (ONES * u64::from(b'"')), 1)
            || below(word ^ (ONES * u64::from(b'\\')), 1)
        {
            break;
        }
        scanned += 8;
    }
    bytes[scanned..]
        .iter()
        .position(|&b| must_escape(b))
        .map(|at| scanned + at)
}

/// A time written as RFC 3339 in UTC, exactly as `time`'s `Rfc3339` writes it
/// (`2026-11-29T02:40:02.5Z`: nanoseconds without trailing zeros, none when zero), but into a
/// buffer on the stack instead of a fresh `String`. A year outside 0..=9999, which RFC 3339
/// cannot write, gives an empty string as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339Utc(pub OffsetDateTime);

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const RFC3339_MAX: usize = 30;

impl Rfc3339Utc {
    /// Writes the time into `out`, returning how many bytes were written (0 for a year RFC
    /// 3339 cannot write).
    fn write_into(&self, out: &mut [u8; RFC3339_MAX]) -> usize {
        let utc = self.0.to_offset(time::UtcOffset::UTC);
        let (year, month, day) = utc.to_calendar_date();
        let Ok(year) = u32::try_from(year) else {
            return 0;
        };
        if year > 9999 {
            return 0;
        }
        let (hour, minute, second, nanos) = utc.to_hms_nano();
        let mut len = 0;
        for (value, width, separator) in [
            (year, 4, b'-'),
            (u32::from(u8::from(month)), 2, b'-'),
            (u32::from(day), 2, b'T'),
            (u32::from(hour), 2, b':'),
            (u32::from(minute), 2, b':'),
            (u32::from(second), 2, b'.'),
        ] {
            len = put_digits(out, len, value, width);
            out[len] = separator;
            len += 1;
        }
        if nanos == 0 {
            // No fraction: the '.' just written becomes the 'Z'.
            len -= 1;
        } else {
            let (mut fraction, mut width) = (nanos, 9);
            while fraction % 10 == 0 {
                fraction /= 10;
                width -= 1;
            }
            len = put_digits(out, len, fraction, width);
        }
        out[len] = b'Z';
        len + 1
    }
}

/// Writes `value` as `width` decimal digits, zero-padded, at `out[at..]`; returns the end.
fn put_digits(out: &mut [u8], at: usize, mut value: u32, width: usize) -> usize {
    for slot in out[at..at + width].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    at + width
}

impl Serialize for Rfc3339Utc {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = [0u8; RFC3339_MAX];
        let len = self.write_into(&mut buffer);
        // Only ASCII digits and separators were written.
        serializer.serialize_str(std::str::from_utf8(&buffer[..len]).unwrap_or_default())
    }
}

/// What to do with a call whose audit line cannot be written (`--on-audit-failure`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnFailure {
    /// Refuse the call: nothing happens that the audit trail does not show (auditd's
    /// `disk_full_action = halt`, for an authorization plugin). The default.
    #[default]
    Deny,
    /// Answer as decided and count the lost line: the daemon stays usable with no trail.
    Allow,
}

/// Where the lines go: a file is cut back after a partial write, so no line is ever torn.
enum Out {
    File(File),
    Stream(Box<dyn Write + Send>),
}

/// The sink and the buffer lines are encoded into, reused from line to line.
struct Sink {
    out: Out,
    line: Vec<u8>,
    /// A partial line could not be cut back: the next line starts on a line of its own.
    torn: bool,
    /// When losses were last reported in the log; `None` while lines are written.
    reported: Option<Instant>,
}

/// A line longer than this gives its buffer back rather than keep it for every later line.
const KEPT_LINE_CAPACITY: usize = 64 * 1024;

/// While lines are being lost, a log line says how many at most this often.
const LOSS_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Where audit lines go. Writes are serialised so lines never interleave.
pub struct AuditLog {
    sink: Mutex<Sink>,
    on_failure: OnFailure,
    /// Lines that could not be written since the plugin started.
    lost: AtomicU64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

impl AuditLog {
    /// An audit log writing to `sink` (stderr, or a test's buffer).
    pub fn new(sink: Box<dyn Write + Send>) -> AuditLog {
        AuditLog::with_out(Out::Stream(sink))
    }

    /// An audit log appending to `file` (opened for appending).
    pub fn to_file(file: File) -> AuditLog {
        AuditLog::with_out(Out::File(file))
    }

    fn with_out(out: Out) -> AuditLog {
        AuditLog {
            sink: Mutex::new(Sink {
                out,
                line: Vec::with_capacity(256),
                torn: false,
                reported: None,
            }),
            on_failure: OnFailure::default(),
            lost: AtomicU64::new(0),
        }
    }

    /// The same log, doing `on_failure` with calls whose line cannot be written.
    pub fn on_failure(self, on_failure: OnFailure) -> AuditLog {
        AuditLog { on_failure, ..self }
    }

    /// What is done with calls whose line cannot be written.
    pub fn failure_action(&self) -> OnFailure {
        self.on_failure
    }

    /// How many lines could not be written since the plugin started.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Writes one line, whole, in one write (one write(2) on a file or stderr, whose
    /// `flush` is a no-op; a buffered sink is still flushed so no line waits in memory).
    /// A line that cannot be written whole is not written at all (a file is cut back to
    /// where it was), counted as lost and reported through tracing, and the error returned.
    pub fn write(&self, record: &AuditRecord<'_>) -> io::Result<()> {
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Sink {
            out,
            line,
            torn,
            reported,
        } = &mut *sink;
        line.clear();
        if *torn {
            line.push(b'\n');
        }
        record.encode_line(line);
        let written = match out {
            Out::File(file) => append_whole(file, line, torn),
            Out::Stream(stream) => stream.write_all(line).and_then(|()| stream.flush()),
        };
        match &written {
            Ok(()) => {
                if reported.take().is_some() {
                    tracing::warn!(lost_records = self.lost(), "the audit log is written again");
                }
            }
            Err(e) => {
                let lost = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
                if reported.is_none_or(|at| at.elapsed() >= LOSS_REPORT_INTERVAL) {
                    *reported = Some(Instant::now());
                    let action = match self.on_failure {
                        OnFailure::Deny => "calls are refused until it can",
                        OnFailure::Allow => "calls are answered without a trail",
                    };
                    tracing::error!(error = %e, lost_records = lost, "audit record lost: the audit log cannot be written; {action}");
                }
            }
        }
        if line.capacity() > KEPT_LINE_CAPACITY {
            *line = Vec::new();
        }
        written
    }
}

/// Appends `line` to `file`, all of it or none: a write that stops part way (a full disk
/// takes what fits, then refuses the rest) is cut back to where it started. When even
/// that fails, `torn` is set so the next line begins on a line of its own.
fn append_whole(file: &mut File, line: &[u8], torn: &mut bool) -> io::Result<()> {
    let mut written = 0;
    while written < line.len() {
        match file.write(&line[written..]) {
            Ok(0) => {
                let e = io::Error::from(io::ErrorKind::WriteZero);
                return Err(cut_back(file, written, e, torn));
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(cut_back(file, written, e, torn)),
        }
    }
    *torn = false;
    Ok(())
}

/// Removes the last `written` bytes of `file`, the start of a line that failed with `e`.
fn cut_back(file: &File, written: usize, e: io::Error, torn: &mut bool) -> io::Error {
    if written == 0 {
        return e;
    }
    let cut = file
        .metadata()
        .and_then(|meta| file.set_len(meta.len().saturating_sub(written as u64)));
    if let Err(undo) = cut {
        tracing::error!(error = %undo, "a partly written audit line could not be cut back");
        *torn = true;
    }
    e
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::format_description::well_known::Rfc3339;

    use super::*;

    fn written(time: OffsetDateTime) -> String {
        serde_json::to_value(Rfc3339Utc(time))
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn time_is_written_like_the_time_crate_writes_rfc3339() {
        for (seconds, nanos) in [
            (0, 0),
            (1_795_920_002, 0),
            (1_795_920_002, 500_000_000),
            (1_795_920_002, 123_456_789),
            (1_795_920_002, 1),
            (1_795_920_002, 120_000),
            (253_402_300_799, 999_999_999),
        ] {
            let time = OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                + time::Duration::nanoseconds(nanos);
            assert_eq!(written(time), time.format(&Rfc3339).unwrap());
        }
    }

    #[test]
    fn time_in_another_offset_is_written_in_utc() {
        let utc = OffsetDateTime::from_unix_timestamp(1_795_920_002).unwrap();
        let local = utc.to_offset(time::macros::offset!(+02:00));
        assert_eq!(written(local), "2026-11-29T02:40:02Z");
    }

    #[test]
    fn a_year_rfc3339_cannot_write_gives_an_empty_time() {
        let time = OffsetDateTime::from_unix_timestamp(-62_167_219_201).unwrap();
        assert_eq!(time.format(&Rfc3339).ok(), None);
        assert_eq!(written(time), "");
    }

    fn record<'a>(user: &'a str, method: &'a str, path: &'a str, rule: &'a str) -> AuditRecord<'a> {
        AuditRecord {
            time: Rfc3339Utc(OffsetDateTime::from_unix_timestamp(1_795_920_002).unwrap()),
            user,
            phase: "request",
            method,
            route: "/containers/{name}/exec",
            path: Cow::Borrowed(path),
            decision: "deny",
            rule,
            micros: 1234,
            rego: None,
        }
    }

    fn serde_line(record: &AuditRecord<'_>) -> String {
        let mut line = serde_json::to_string(record).unwrap();
        line.push('\n');
        line
    }

    fn encoded(record: &AuditRecord<'_>) -> String {
        let mut line = Vec::new();
        record.encode_line(&mut line);
        String::from_utf8(line).unwrap()
    }

    #[test]
    fn line_is_the_json_serde_writes_for_the_record() {
        let record = record("alice", "POST", "/containers/web/exec", "no-privileged");
        assert_eq!(
            encoded(&record),
            "{\"time\":\"2026-11-29T02:40:02Z\",\"user\":\"alice\",\"phase\":\"request\",\"method\":\"POST\",\"route\":\"/containers/{name}/exec\",\"path\":\"/containers/web/exec\",\"decision\":\"deny\",\"rule\":\"no-privileged\",\"micros\":1234}\n"
        );
        assert_eq!(encoded(&record), serde_line(&record));
    }

    #[test]
    fn a_rego_decision_logs_its_id_query_and_result() {
        for result in [
            RegoResult::Bool(true),
            RegoResult::Bool(false),
            RegoResult::Undefined,
            RegoResult::NotBoolean("object"),
            RegoResult::Failed,
        ] {
            let trace = RegoTrace::new("data.docker.authz.allow".into(), result);
            let mut record = record("", "POST", "/containers/create", "rego");
            record.rego = Some(&trace);
            let line = encoded(&record);
            assert_eq!(line, serde_line(&record));
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(value["rego"]["query"], "data.docker.authz.allow");
            assert_eq!(value["rego"]["decision_id"].as_str().unwrap().len(), 36);
        }
    }

    #[test]
    fn quotes_backslashes_and_control_characters_are_escaped_as_serde_escapes_them() {
        let record = record(
            "a\"b\\c",
            "P\u{0}\u{1f}\u{7f}",
            "/x\n\r\t\u{8}\u{c}/é/𝄞",
            "r",
        );
        assert_eq!(encoded(&record), serde_line(&record));
    }

    #[test]
    fn the_largest_duration_is_written_in_full() {
        let mut record = record("", "GET", "/_ping", "system");
        record.micros = u64::MAX;
        assert_eq!(encoded(&record), serde_line(&record));
        record.micros = 0;
        assert_eq!(encoded(&record), serde_line(&record));
    }

    #[test]
    fn the_first_byte_to_escape_is_found_at_any_offset_of_a_word() {
        for byte in 0..=u8::MAX {
            for at in 0..24 {
                let mut text = vec![b'a'; 24];
                text[at] = byte;
                let expected = must_escape(byte).then_some(at);
                assert_eq!(first_to_escape(&text), expected, "byte {byte:#x} at {at}");
            }
        }
    }

    proptest! {
        #[test]
        fn any_record_is_encoded_as_serde_encodes_it(
            user in any::<String>(),
            method in any::<String>(),
            path in any::<String>(),
            micros in any::<u64>(),
        ) {
            let mut record = record(&user, &method, &path, "default");
            record.micros = micros;
            prop_assert_eq!(encoded(&record), serde_line(&record));
        }

        #[test]
        fn any_time_is_written_like_the_time_crate(
            seconds in -62_167_219_200i64..253_402_300_800,
            nanos in 0i64..1_000_000_000,
        ) {
            let time = OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                + time::Duration::nanoseconds(nanos);
            prop_assert_eq!(written(time), time.format(&Rfc3339).unwrap());
        }
    }
}
