//! Latency histograms, tallies and ratios: the arithmetic behind every figure `bench` prints.
//!
//! Latencies go into an HDR histogram (3 significant digits, 1 ns to 1 h) so p99.9 stays
//! exact enough at millions of calls without keeping every sample.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency the histogram holds exactly; slower calls are recorded as this.
const MAX_TRACKED_NANOS: u64 = 3_600_000_000_000;

/// A latency histogram in nanoseconds.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty histogram.
    pub fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, MAX_TRACKED_NANOS, 3)
            .expect("constant histogram bounds are valid");
        Self { histogram }
    }

    /// Adds one call's latency.
    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(nanos.max(1));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latencies) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms with the same bounds always merge");
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency at `percentile` (0 to 100), zero when nothing was recorded.
    pub fn percentile(&self, percentile: f64) -> Duration {
        if self.histogram.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.histogram.value_at_percentile(percentile))
    }

    /// The summary a report prints.
    pub fn summary(&self) -> LatencySummary {
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        let mean = if self.histogram.is_empty() {
            0.0
        } else {
            self.histogram.mean() / 1e3
        };
        LatencySummary {
            p50_us: micros(self.percentile(50.0)),
            p99_us: micros(self.percentile(99.0)),
            p999_us: micros(self.percentile(99.9)),
            max_us: if self.histogram.is_empty() {
                0.0
            } else {
                self.histogram.max() as f64 / 1e3
            },
            mean_us: mean,
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Slowest call.
    pub max_us: f64,
    /// Arithmetic mean.
    pub mean_us: f64,
}

/// How a single call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200 with `"Allow": true`.
    Allowed,
    /// HTTP 200 without `"Allow": true` (not an error: a decision).
    Denied,
    /// An answer other than HTTP 200 with a JSON reply.
    BadStatus,
    /// Connecting, writing, reading or the call timeout failed.
    Transport,
}

/// Everything counted for one target over the measured time.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Latency of every call that got an answer.
    pub latencies: Latencies,
    /// Calls allowed.
    pub allowed: u64,
    /// Calls denied.
    pub denied: u64,
    /// Non-200 answers or replies that are not JSON.
    pub bad_status: u64,
    /// Transport failures.
    pub transport: u64,
    /// Wall time the target was under load.
    pub elapsed: Duration,
    /// CPU time the target's process spent while under load, when readable.
    pub cpu: Option<Duration>,
}

impl Tally {
    /// Counts one call; a transport failure has no meaningful latency and is not recorded.
    pub fn count(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Allowed => self.allowed += 1,
            Outcome::Denied => self.denied += 1,
            Outcome::BadStatus => self.bad_status += 1,
            Outcome::Transport => {
                self.transport += 1;
                return;
            }
        }
        self.latencies.record(latency);
    }

    /// Adds another tally's counts and latencies (its elapsed time is not added: slices of
    /// one run add their times explicitly).
    pub fn absorb(&mut self, other: &Tally) {
        self.latencies.merge(&other.latencies);
        self.allowed += other.allowed;
        self.denied += other.denied;
        self.bad_status += other.bad_status;
        self.transport += other.transport;
    }

    /// Every call made, answered or not.
    pub fn calls(&self) -> u64 {
        self.allowed + self.denied + self.bad_status + self.transport
    }

    /// Transport failures plus bad answers.
    pub fn errors(&self) -> u64 {
        self.bad_status + self.transport
    }

    /// CPU microseconds the target spent per answered call: the figure least moved by
    /// other load on the machine.
    pub fn cpu_per_call_us(&self) -> Option<f64> {
        let answered = self.calls() - self.transport;
        let cpu = self.cpu?;
        (answered > 0).then(|| cpu.as_secs_f64() * 1e6 / answered as f64)
    }

    /// Answered calls per second of load.
    pub fn throughput(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds == 0.0 {
            0.0
        } else {
            (self.calls() - self.transport) as f64 / seconds
        }
    }
}

/// `measured / reference`, or `None` when the reference is zero (no meaningful ratio).
pub fn ratio(measured: f64, reference: f64) -> Option<f64> {
    (reference != 0.0).then(|| measured / reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform_micros(range: std::ops::RangeInclusive<u64>) -> Latencies {
        let mut latencies = Latencies::new();
        for micros in range {
            latencies.record(Duration::from_micros(micros));
        }
        latencies
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= expected * 0.002
    }

    #[test]
    fn percentiles_of_a_uniform_spread_land_on_its_ranks() {
        let summary = uniform_micros(1..=1000).summary();
        assert!(close(summary.p50_us, 500.0), "{summary:?}");
        assert!(close(summary.p99_us, 990.0), "{summary:?}");
        assert!(close(summary.p999_us, 999.0), "{summary:?}");
        assert!(close(summary.max_us, 1000.0), "{summary:?}");
        assert!(close(summary.mean_us, 500.5), "{summary:?}");
    }

    #[test]
    fn a_tail_of_two_calls_in_a_thousand_shows_at_p999_not_p99() {
        let mut latencies = Latencies::new();
        for _ in 0..9980 {
            latencies.record(Duration::from_micros(10));
        }
        for _ in 0..20 {
            latencies.record(Duration::from_millis(50));
        }
        let summary = latencies.summary();
        assert!(close(summary.p50_us, 10.0), "{summary:?}");
        assert!(close(summary.p99_us, 10.0), "{summary:?}");
        assert!(close(summary.p999_us, 50_000.0), "{summary:?}");
        assert!(close(summary.max_us, 50_000.0), "{summary:?}");
    }

    #[test]
    fn empty_histogram_reports_zero_everywhere() {
        let summary = Latencies::new().summary();
        assert_eq!(summary.p50_us, 0.0);
        assert_eq!(summary.p999_us, 0.0);
        assert_eq!(summary.max_us, 0.0);
        assert_eq!(summary.mean_us, 0.0);
    }

    #[test]
    fn latencies_beyond_an_hour_are_clamped_not_dropped() {
        let mut latencies = Latencies::new();
        latencies.record(Duration::from_secs(7200));
        assert_eq!(latencies.count(), 1);
        assert!(latencies.percentile(100.0) >= Duration::from_secs(3599));
    }

    #[test]
    fn merging_keeps_every_sample_of_both() {
        let mut low = uniform_micros(1..=500);
        low.merge(&uniform_micros(501..=1000));
        assert_eq!(low.count(), 1000);
        assert!(close(low.summary().p50_us, 500.0));
    }

    #[test]
    fn transport_failures_count_as_errors_without_a_latency() {
        let mut tally = Tally::default();
        tally.count(Outcome::Allowed, Duration::from_micros(5));
        tally.count(Outcome::Denied, Duration::from_micros(5));
        tally.count(Outcome::BadStatus, Duration::from_micros(5));
        tally.count(Outcome::Transport, Duration::from_secs(5));
        assert_eq!(tally.calls(), 4);
        assert_eq!(tally.errors(), 2);
        assert_eq!(tally.latencies.count(), 3);
    }

    #[test]
    fn throughput_is_answered_calls_per_second_of_load() {
        let mut tally = Tally::default();
        for _ in 0..300 {
            tally.count(Outcome::Allowed, Duration::from_micros(1));
        }
        tally.count(Outcome::Transport, Duration::ZERO);
        tally.elapsed = Duration::from_millis(1500);
        assert!((tally.throughput() - 200.0).abs() < 1e-9);
    }

    #[test]
    fn cpu_per_call_divides_cpu_time_by_answered_calls() {
        let mut tally = Tally::default();
        for _ in 0..400 {
            tally.count(Outcome::Allowed, Duration::from_micros(1));
        }
        tally.count(Outcome::Transport, Duration::ZERO);
        assert_eq!(tally.cpu_per_call_us(), None);
        tally.cpu = Some(Duration::from_millis(10));
        assert!((tally.cpu_per_call_us().unwrap() - 25.0).abs() < 1e-9);
    }

    #[test]
    fn throughput_without_elapsed_time_is_zero() {
        assert_eq!(Tally::default().throughput(), 0.0);
    }

    #[test]
    fn absorbing_adds_counts_and_samples() {
        let mut total = Tally::default();
        let mut part = Tally::default();
        part.count(Outcome::Denied, Duration::from_micros(3));
        total.absorb(&part);
        total.absorb(&part);
        assert_eq!(total.denied, 2);
        assert_eq!(total.latencies.count(), 2);
    }

    #[test]
    fn ratio_divides_by_the_reference() {
        assert_eq!(ratio(80.0, 100.0), Some(0.8));
        assert_eq!(ratio(3.0, 1.5), Some(2.0));
    }

    #[test]
    fn ratio_against_a_zero_reference_is_absent() {
        assert_eq!(ratio(5.0, 0.0), None);
    }
}
