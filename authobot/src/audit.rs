//! The audit log: one JSON line per decision, to stderr or a file.
//!
//! A line carries who, what route, the verdict, the rule and how long deciding took. It is
//! built from the parsed route and the decision only: request bodies (`/auth` passwords),
//! headers (`X-Registry-Auth`), query strings (build args) and deny messages never reach it.
//!
//! It is written on every call, so it borrows what it prints, reuses the route the decision
//! parsed, formats the time by hand and encodes into one reused buffer that goes out in a
//! single write: no line is held back in memory, so none is lost when the plugin is killed.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Mutex;

use protocol::route;
use protocol::{AuthzRequest, Phase};
use serde::Serialize;
use time::OffsetDateTime;

use crate::decision::Decision;

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
        }
    }
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

/// The sink and the buffer lines are encoded into, reused from line to line.
struct Sink {
    out: Box<dyn Write + Send>,
    line: Vec<u8>,
}

/// A line longer than this gives its buffer back rather than keep it for every later line.
const KEPT_LINE_CAPACITY: usize = 64 * 1024;

/// Where audit lines go. Writes are serialised so lines never interleave.
pub struct AuditLog {
    sink: Mutex<Sink>,
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
            sink: Mutex::new(Sink {
                out: sink,
                line: Vec::with_capacity(256),
            }),
        }
    }

    /// Writes one line, whole, in one `write_all` (one write(2) on a file or stderr, whose
    /// `flush` is a no-op; a buffered sink is still flushed so no line waits in memory). A
    /// failing sink is reported through tracing, never to the daemon.
    pub fn write(&self, record: &AuditRecord<'_>) {
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Sink { out, line } = &mut *sink;
        line.clear();
        if let Err(e) = serde_json::to_writer(&mut *line, record) {
            tracing::error!(error = %e, "cannot encode an audit record");
            return;
        }
        line.push(b'\n');
        if let Err(e) = out.write_all(line).and_then(|()| out.flush()) {
            tracing::error!(error = %e, "cannot write the audit log");
        }
        if line.capacity() > KEPT_LINE_CAPACITY {
            *line = Vec::new();
        }
    }
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

    proptest! {
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
