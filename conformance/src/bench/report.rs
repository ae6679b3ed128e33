//! The bench report: per-target figures, ratios to the reference, as text or JSON.

use serde::Serialize;

use super::load::Memory;
use super::mix::MixKind;
use super::stats::{ratio, LatencySummary, Tally};

/// Version of the JSON report layout; bumped on any incompatible change.
pub const REPORT_VERSION: u32 = 1;

/// Everything one `bench` run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// The mix sent.
    pub mix: MixKind,
    /// Concurrent connections per target.
    pub connections: usize,
    /// Measured seconds per target.
    pub duration_s: f64,
    /// Unmeasured seconds per target before measuring.
    pub warmup_s: f64,
    /// The plugin under test.
    pub plugin: TargetReport,
    /// The do-nothing reference, when one was given.
    pub reference: Option<TargetReport>,
    /// Plugin figures divided by the reference's.
    pub ratios: Option<Ratios>,
}

/// What one target did under the mix.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// Its socket.
    pub socket: String,
    /// Calls made in the measured time.
    pub calls: u64,
    /// Calls allowed.
    pub allowed: u64,
    /// Calls denied (decisions, not errors).
    pub denied: u64,
    /// Transport failures and timeouts.
    pub transport_errors: u64,
    /// Answers other than HTTP 200 with a JSON reply.
    pub status_errors: u64,
    /// Seconds under measured load.
    pub elapsed_s: f64,
    /// Answered calls per second.
    pub throughput_per_s: f64,
    /// Latency percentiles of answered calls.
    pub latency: LatencySummary,
    /// CPU microseconds the process spent per answered call, when readable.
    pub cpu_us_per_call: Option<f64>,
    /// Memory of the process behind the socket, after the run.
    pub memory: Option<Memory>,
    /// Why memory is missing, when it is.
    pub memory_unavailable: Option<String>,
    /// The unmeasured setup (teaching owned containers), when the mix has one.
    pub setup: Option<SetupReport>,
}

/// The unmeasured setup of a mix.
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    /// Setup calls the mix asked for.
    pub planned: u64,
    /// Setup calls made (fewer than planned when the setup limit stopped it).
    pub calls: u64,
    /// Setup calls that failed or were not allowed.
    pub failed: u64,
    /// Seconds the setup took.
    pub elapsed_s: f64,
}

impl TargetReport {
    /// Builds the figures of one target.
    pub fn new(
        socket: String,
        tally: &Tally,
        memory: Result<Memory, String>,
        setup: Option<SetupReport>,
    ) -> Self {
        let (memory, memory_unavailable) = match memory {
            Ok(memory) => (Some(memory), None),
            Err(reason) => (None, Some(reason)),
        };
        Self {
            socket,
            calls: tally.calls(),
            allowed: tally.allowed,
            denied: tally.denied,
            transport_errors: tally.transport,
            status_errors: tally.bad_status,
            elapsed_s: tally.elapsed.as_secs_f64(),
            throughput_per_s: tally.throughput(),
            latency: tally.latencies.summary(),
            cpu_us_per_call: tally.cpu_per_call_us(),
            memory,
            memory_unavailable,
            setup,
        }
    }

    /// Transport and status errors together.
    pub fn errors(&self) -> u64 {
        self.transport_errors + self.status_errors
    }
}

/// Plugin divided by reference: above 1 means more throughput, or more latency or memory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratios {
    /// Throughput ratio.
    pub throughput: Option<f64>,
    /// Median latency ratio.
    pub p50: Option<f64>,
    /// p99 latency ratio.
    pub p99: Option<f64>,
    /// p99.9 latency ratio.
    pub p999: Option<f64>,
    /// CPU-per-call ratio.
    pub cpu_per_call: Option<f64>,
    /// Peak resident memory ratio.
    pub peak_memory: Option<f64>,
}

impl Ratios {
    /// The ratios of `plugin` to `reference`.
    pub fn between(plugin: &TargetReport, reference: &TargetReport) -> Self {
        let peak = |t: &TargetReport| t.memory.map(|m| m.peak_kib as f64);
        Self {
            throughput: ratio(plugin.throughput_per_s, reference.throughput_per_s),
            p50: ratio(plugin.latency.p50_us, reference.latency.p50_us),
            p99: ratio(plugin.latency.p99_us, reference.latency.p99_us),
            p999: ratio(plugin.latency.p999_us, reference.latency.p999_us),
            cpu_per_call: plugin
                .cpu_us_per_call
                .zip(reference.cpu_us_per_call)
                .and_then(|(p, r)| ratio(p, r)),
            peak_memory: peak(plugin)
                .zip(peak(reference))
                .and_then(|(p, r)| ratio(p, r)),
        }
    }
}

impl BenchReport {
    /// Any errors on any target.
    pub fn has_errors(&self) -> bool {
        self.plugin.errors() > 0 || self.reference.as_ref().is_some_and(|r| r.errors() > 0)
    }

    /// A human-readable table: one column per target, then the ratio.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "mix {:?}, {} connections, {:.1} s measured per target after {:.1} s warm-up\n",
            self.mix, self.connections, self.duration_s, self.warmup_s
        )
        .to_lowercase();
        let targets: Vec<&TargetReport> = std::iter::once(&self.plugin)
            .chain(&self.reference)
            .collect();
        let header = if self.reference.is_some() {
            format!(
                "{:<22}{:>14}{:>14}{:>10}\n",
                "", "plugin", "reference", "ratio"
            )
        } else {
            format!("{:<22}{:>14}\n", "", "plugin")
        };
        out.push_str(&header);
        let ratios = self.ratios;
        let mut row = |label: &str, value: &dyn Fn(&TargetReport) -> String, r: Option<f64>| {
            out.push_str(&format!("{label:<22}"));
            for target in &targets {
                out.push_str(&format!("{:>14}", value(target)));
            }
            if ratios.is_some() {
                let shown = r.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
                out.push_str(&format!("{shown:>10}"));
            }
            out.push('\n');
        };
        row(
            "throughput (calls/s)",
            &|t| format!("{:.0}", t.throughput_per_s),
            ratios.and_then(|r| r.throughput),
        );
        row(
            "p50 (us)",
            &|t| format!("{:.1}", t.latency.p50_us),
            ratios.and_then(|r| r.p50),
        );
        row(
            "p99 (us)",
            &|t| format!("{:.1}", t.latency.p99_us),
            ratios.and_then(|r| r.p99),
        );
        row(
            "p99.9 (us)",
            &|t| format!("{:.1}", t.latency.p999_us),
            ratios.and_then(|r| r.p999),
        );
        row(
            "cpu per call (us)",
            &|t| {
                t.cpu_us_per_call
                    .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"))
            },
            ratios.and_then(|r| r.cpu_per_call),
        );
        row(
            "peak memory (KiB)",
            &|t| {
                t.memory
                    .map_or_else(|| "-".to_owned(), |m| m.peak_kib.to_string())
            },
            ratios.and_then(|r| r.peak_memory),
        );
        row("calls", &|t| t.calls.to_string(), None);
        row("denied", &|t| t.denied.to_string(), None);
        row("errors", &|t| t.errors().to_string(), None);
        for target in &targets {
            if let Some(setup) = &target.setup {
                out.push_str(&format!(
                    "setup of {}: {} of {} calls in {:.1} s, {} failed or denied\n",
                    target.socket, setup.calls, setup.planned, setup.elapsed_s, setup.failed
                ));
            }
            if let Some(reason) = &target.memory_unavailable {
                out.push_str(&format!("memory of {}: {reason}\n", target.socket));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::Outcome;
    use std::time::Duration;

    fn target(latency_us: u64, calls: u64, peak_kib: u64) -> TargetReport {
        let mut tally = Tally::default();
        for _ in 0..calls {
            tally.count(Outcome::Allowed, Duration::from_micros(latency_us));
        }
        tally.elapsed = Duration::from_secs(1);
        let memory = Memory {
            pid: 1,
            peak_kib,
            current_kib: peak_kib,
        };
        TargetReport::new("s".into(), &tally, Ok(memory), None)
    }

    #[test]
    fn ratios_put_the_plugin_over_the_reference() {
        let ratios = Ratios::between(&target(200, 800, 3000), &target(100, 1000, 2000));
        assert!((ratios.throughput.unwrap() - 0.8).abs() < 1e-9);
        assert!((ratios.p99.unwrap() - 2.0).abs() < 0.01);
        assert!((ratios.peak_memory.unwrap() - 1.5).abs() < 1e-9);
    }

    #[test]
    fn memory_ratio_is_absent_when_either_side_is_unreadable() {
        let mut reference = target(100, 1000, 2000);
        reference.memory = None;
        assert_eq!(
            Ratios::between(&target(100, 1000, 2000), &reference).peak_memory,
            None
        );
    }

    #[test]
    fn text_report_has_a_ratio_column_only_with_a_reference() {
        let plugin = target(200, 800, 3000);
        let reference = target(100, 1000, 2000);
        let mut report = BenchReport {
            version: REPORT_VERSION,
            mix: MixKind::Create,
            connections: 8,
            duration_s: 1.0,
            warmup_s: 0.0,
            ratios: Some(Ratios::between(&plugin, &reference)),
            plugin,
            reference: Some(reference),
        };
        let text = report.to_text();
        assert!(text.contains("ratio"), "{text}");
        assert!(text.contains("0.80x"), "{text}");
        report.reference = None;
        report.ratios = None;
        assert!(!report.to_text().contains("ratio"));
    }
}
