//! Prometheus text exposition: the cache's counters, and request latency
//! histograms by where the answer came from.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::CacheInfo;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// A latency histogram with fixed buckets, updated lock-free.
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(elapsed.as_nanos() as u64, Relaxed);
    }

    /// The mean of the observations, if there are any.
    pub fn mean(&self) -> Option<Duration> {
        let count: u64 = self.counts.iter().map(|c| c.load(Relaxed)).sum();
        (count > 0).then(|| Duration::from_nanos(self.sum_nanos.load(Relaxed) / count))
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.counts[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(
            out,
            "{name}_sum{{{labels}}} {}",
            self.sum_nanos.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// The server's own counters.
#[derive(Default)]
pub struct Metrics {
    /// `/api/query` answered from memory.
    pub query_hit: Histogram,
    /// `/api/query` computed (or waited for a computation).
    pub query_miss: Histogram,
    /// Requests answered with a 4xx.
    pub client_errors: AtomicU64,
    /// Requests answered with a 5xx.
    pub server_errors: AtomicU64,
}

/// The admission gate's state, for [`Metrics::render`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AdmissionCounts {
    /// Computations running now.
    pub running: usize,
    /// Requests waiting for a computation slot now.
    pub queued: usize,
    /// Requests refused with `429` so far.
    pub rejected: u64,
    /// Bytes of answers built and not yet sent.
    pub pending_bytes: usize,
}

impl Metrics {
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// The exposition text.
    pub fn render(&self, info: &CacheInfo, admission: AdmissionCounts) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "pqc_cache_hits_total",
            "Requests answered from a cache tier.",
            info.hits,
        );
        counter(
            "pqc_cache_misses_total",
            "Requests no tier could answer.",
            info.misses,
        );
        counter(
            "pqc_cache_computations_total",
            "Computations run.",
            info.computations,
        );
        counter(
            "pqc_cache_memory_hits_total",
            "Hits answered by the memory tier.",
            info.memory_hits,
        );
        counter(
            "pqc_cache_coalesced_total",
            "Misses that waited for another caller's computation.",
            info.coalesced,
        );
        counter(
            "pqc_cache_errors_total",
            "Computations that failed.",
            info.errors,
        );
        counter(
            "pqc_cache_evictions_total",
            "Entries evicted to stay within the byte budget.",
            info.evictions,
        );
        counter(
            "pqc_cache_expirations_total",
            "Entries whose time to live or idle ran out.",
            info.expirations,
        );
        counter(
            "pqc_cache_not_cached_total",
            "Results over the per-entry cap, returned but not stored.",
            info.not_cached,
        );
        counter(
            "pqc_tier_forged_total",
            "Disk or Redis entries and invalidation messages rejected as unsigned or wrongly signed.",
            info.tier_forged,
        );
        counter(
            "pqc_tier_wrong_schema_total",
            "Disk or Redis entries rejected for not holding what their key implies.",
            info.tier_wrong_schema,
        );
        counter(
            "pqc_redis_refused_total",
            "Redis writes refused by a full Redis (the breaker stays closed).",
            info.redis_refused,
        );
        counter(
            "pqc_redis_bad_messages_total",
            "Malformed or unsigned invalidation messages the subscriber skipped.",
            info.redis_bad_messages,
        );
        counter(
            "pqc_http_client_errors_total",
            "Requests answered with a 4xx status.",
            self.client_errors.load(Relaxed),
        );
        counter(
            "pqc_http_server_errors_total",
            "Requests answered with a 5xx status.",
            self.server_errors.load(Relaxed),
        );
        counter(
            "pqc_http_rejected_total",
            "Requests refused with 429 because every computation slot and queue place was taken.",
            admission.rejected,
        );
        let mut gauge = |name: &str, help: &str, value: f64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "pqc_cache_entries",
            "Entries in the memory tier.",
            info.entries as f64,
        );
        gauge(
            "pqc_cache_bytes",
            "Estimated bytes held by the memory tier.",
            info.bytes as f64,
        );
        gauge(
            "pqc_cache_max_bytes",
            "The memory tier's byte budget.",
            info.max_bytes as f64,
        );
        gauge("pqc_cache_hit_ratio", "Hits over requests.", info.hit_ratio);
        gauge(
            "pqc_http_computations_running",
            "Answers being computed now.",
            admission.running as f64,
        );
        gauge(
            "pqc_http_computations_queued",
            "Requests waiting for a computation slot.",
            admission.queued as f64,
        );
        gauge(
            "pqc_http_pending_bytes",
            "Bytes of answers built and not yet sent.",
            admission.pending_bytes as f64,
        );
        gauge(
            "pqc_cache_compute_seconds",
            "Total time spent computing.",
            info.compute_time_us as f64 / 1e6,
        );
        let name = "pqc_query_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Latency of /api/query by outcome.\n# TYPE {name} histogram"
        );
        self.query_hit.render(&mut out, name, "outcome=\"hit\"");
        self.query_miss.render(&mut out, name, "outcome=\"miss\"");
        out
    }
}
