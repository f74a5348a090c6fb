//! `/metrics`: one `prometheus-client` registry, encoded in the Prometheus
//! text format.
//!
//! The server's own metrics (request latency by outcome, error responses)
//! are typed metrics updated as requests are answered. The cache's
//! statistics and the admission gate live elsewhere and are read at scrape
//! time by a [`Collector`], the crate's way to export values another
//! component keeps.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use axum::http::StatusCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric, prometheus_text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::admission::Admission;
use super::body::Budget;
use crate::{CacheInfo, CachedQuery};

/// The `Content-Type` of the exposition.
pub(crate) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// The label of `pqc_query_duration_seconds`.
type Outcome = [(&'static str, &'static str); 1];

/// The server's metrics and the registry that exports them with the
/// cache's.
pub(crate) struct Metrics {
    registry: Registry,
    /// `/api/query` answered from memory.
    query_hit: Histogram,
    /// `/api/query` computed (or waited for a computation).
    query_miss: Histogram,
    /// The mean of `query_miss`, which the registry's histogram does not
    /// give back: the `Retry-After` of a refused request is made of it.
    miss_time: MeanTime,
    client_errors: Counter,
    server_errors: Counter,
}

impl Metrics {
    /// The registry, with the cache and the admission gate read at each
    /// scrape.
    pub(crate) fn new(scrape: Scrape) -> Metrics {
        let mut registry = Registry::default();
        let latency: Family<Outcome, Histogram> =
            Family::new_with_constructor(|| Histogram::new(BUCKETS));
        let query_hit = latency.get_or_create_owned(&[("outcome", "hit")]);
        let query_miss = latency.get_or_create_owned(&[("outcome", "miss")]);
        registry.register_with_unit(
            "pqc_query_duration",
            "Latency of /api/query by outcome",
            Unit::Seconds,
            latency,
        );
        let client_errors = Counter::default();
        registry.register(
            "pqc_http_client_errors",
            "Requests answered with a 4xx status",
            client_errors.clone(),
        );
        let server_errors = Counter::default();
        registry.register(
            "pqc_http_server_errors",
            "Requests answered with a 5xx status",
            server_errors.clone(),
        );
        registry.register_collector(Box::new(scrape));
        Metrics {
            registry,
            query_hit,
            query_miss,
            miss_time: MeanTime::default(),
            client_errors,
            server_errors,
        }
    }

    /// Records how long one `/api/query` took to find its answer.
    pub(crate) fn observe_query(&self, hit: bool, elapsed: Duration) {
        if hit {
            self.query_hit.observe(elapsed.as_secs_f64());
        } else {
            self.query_miss.observe(elapsed.as_secs_f64());
            self.miss_time.observe(elapsed);
        }
    }

    /// The mean time of a miss, if there was one.
    pub(crate) fn mean_miss(&self) -> Option<Duration> {
        self.miss_time.mean()
    }

    /// Counts a response by its status.
    pub(crate) fn count_status(&self, status: StatusCode) {
        if status.is_client_error() {
            self.client_errors.inc();
        } else if status.is_server_error() {
            self.server_errors.inc();
        }
    }

    /// The exposition text. Reads the cache's statistics, which may touch
    /// the disk tier: call it off the async workers.
    pub(crate) fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// A mean of durations, updated lock-free.
#[derive(Default)]
struct MeanTime {
    nanos: AtomicU64,
    count: AtomicU64,
}

impl MeanTime {
    fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    fn mean(&self) -> Option<Duration> {
        let count = self.count.load(Relaxed);
        (count > 0).then(|| Duration::from_nanos(self.nanos.load(Relaxed) / count))
    }
}

/// What `/metrics` reads from other components at each scrape: the
/// cache's statistics and the admission gate's state.
pub(crate) struct Scrape {
    pub(crate) cache: Arc<CachedQuery>,
    pub(crate) admission: Arc<Admission>,
    pub(crate) bodies: Arc<Budget>,
}

impl fmt::Debug for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrape").finish_non_exhaustive()
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        // Every field by name, so that a statistic added to `CacheInfo` and
        // not exported here does not compile.
        let CacheInfo {
            hits,
            misses,
            computations,
            memory_hits,
            derived_hits,
            rollups,
            rollup_bytes,
            rollups_merged,
            rollups_rebuilt,
            appends,
            refresh_errors,
            learned_rollups,
            disk_hits,
            disk_writes,
            disk_errors,
            disk_rejected,
            disk_evictions,
            disk_entries,
            disk_bytes,
            redis_hits,
            redis_writes,
            redis_errors,
            redis_rejected,
            redis_waits,
            redis_bypassed,
            redis_refused,
            redis_bad_messages,
            tier_forged,
            tier_wrong_schema,
            coalesced,
            errors,
            not_cached,
            entries,
            bytes,
            max_bytes,
            evictions,
            expirations,
            compute_time_us,
            time_saved_us,
            hit_ratio,
            // Query text as a label would make a series of every distinct
            // query; `/api/stats` lists them.
            top_queries: _,
        } = self.cache.cache_info();
        let mut out = Exposition(&mut encoder);
        out.counter(
            "pqc_cache_hits",
            "Requests answered from a cache tier.",
            hits,
        )?;
        out.counter("pqc_cache_misses", "Requests no tier could answer.", misses)?;
        out.counter("pqc_cache_computations", "Computations run.", computations)?;
        out.counter(
            "pqc_cache_memory_hits",
            "Hits answered by the memory tier.",
            memory_hits,
        )?;
        out.counter(
            "pqc_cache_derived_hits",
            "Hits derived from another cached answer (filter narrowing or roll-up).",
            derived_hits,
        )?;
        out.counter(
            "pqc_cache_rollups_merged",
            "Declared roll-ups updated after an append by merging the new rows' aggregates.",
            rollups_merged,
        )?;
        out.counter(
            "pqc_cache_rollups_rebuilt",
            "Declared roll-ups computed again over the whole table by a refresh.",
            rollups_rebuilt,
        )?;
        out.counter(
            "pqc_cache_appends",
            "Refreshes that read only the rows appended to the data files.",
            appends,
        )?;
        out.counter(
            "pqc_cache_refresh_errors",
            "Refreshes that failed; the version before stayed.",
            refresh_errors,
        )?;
        out.counter(
            "pqc_cache_coalesced",
            "Misses that waited for another caller's computation.",
            coalesced,
        )?;
        out.counter("pqc_cache_errors", "Computations that failed.", errors)?;
        out.counter(
            "pqc_cache_evictions",
            "Entries evicted to stay within the byte budget.",
            evictions,
        )?;
        out.counter(
            "pqc_cache_expirations",
            "Entries whose time to live or idle ran out.",
            expirations,
        )?;
        out.counter(
            "pqc_cache_not_cached",
            "Results over the per-entry cap, returned but not stored.",
            not_cached,
        )?;
        out.counter(
            "pqc_cache_time_saved_seconds",
            "Computing time the hits avoided.",
            seconds(time_saved_us),
        )?;
        out.counter(
            "pqc_disk_hits",
            "Hits answered by the disk tier.",
            disk_hits,
        )?;
        out.counter(
            "pqc_disk_writes",
            "Entries written to the disk tier.",
            disk_writes,
        )?;
        out.counter(
            "pqc_disk_errors",
            "Disk operations that failed (each answered without the disk).",
            disk_errors,
        )?;
        out.counter(
            "pqc_disk_rejected",
            "Disk entries that failed verification: deleted, never served.",
            disk_rejected,
        )?;
        out.counter(
            "pqc_disk_evictions",
            "Disk entries deleted to stay within the disk budget.",
            disk_evictions,
        )?;
        out.counter(
            "pqc_redis_hits",
            "Hits answered by the Redis tier.",
            redis_hits,
        )?;
        out.counter("pqc_redis_writes", "Values written to Redis.", redis_writes)?;
        out.counter(
            "pqc_redis_errors",
            "Redis connections that failed and commands that timed out (each opened the breaker).",
            redis_errors,
        )?;
        out.counter(
            "pqc_redis_rejected",
            "Redis values that failed verification: ignored, never served.",
            redis_rejected,
        )?;
        out.counter(
            "pqc_redis_waits",
            "Misses that waited for another worker's computation through Redis.",
            redis_waits,
        )?;
        out.counter(
            "pqc_redis_bypassed",
            "Commands that went without Redis: breaker open, or every connection busy.",
            redis_bypassed,
        )?;
        out.counter(
            "pqc_redis_refused",
            "Redis writes refused by a full Redis (the breaker stays closed).",
            redis_refused,
        )?;
        out.counter(
            "pqc_redis_bad_messages",
            "Malformed or unsigned invalidation messages the subscriber skipped.",
            redis_bad_messages,
        )?;
        out.counter(
            "pqc_tier_forged",
            "Disk or Redis entries and invalidation messages rejected as unsigned or wrongly signed.",
            tier_forged,
        )?;
        out.counter(
            "pqc_tier_wrong_schema",
            "Disk or Redis entries rejected for not holding what their key implies.",
            tier_wrong_schema,
        )?;
        out.counter(
            "pqc_http_rejected",
            "Requests refused with 429 because every computation slot and queue place was taken.",
            self.admission.rejected(),
        )?;
        out.gauge("pqc_cache_entries", "Entries in the memory tier.", entries)?;
        out.gauge(
            "pqc_cache_bytes",
            "Estimated bytes held by the memory tier.",
            bytes,
        )?;
        out.gauge(
            "pqc_cache_max_bytes",
            "The memory tier's byte budget.",
            max_bytes,
        )?;
        out.gauge(
            "pqc_cache_rollups",
            "Declared roll-ups held (pinned, outside the byte budget).",
            rollups,
        )?;
        out.gauge(
            "pqc_cache_rollup_bytes",
            "Estimated bytes of the declared roll-ups.",
            rollup_bytes,
        )?;
        out.gauge(
            "pqc_cache_learned_rollups",
            "Roll-ups learned from the misses (outside the byte budget).",
            learned_rollups.len() as u64,
        )?;
        out.gauge(
            "pqc_cache_learned_rollup_bytes",
            "Estimated bytes of the learned roll-ups.",
            learned_rollups.iter().map(|r| r.bytes).sum::<u64>(),
        )?;
        // The misses the current roll-ups answered: it drops when one is
        // replaced, so a gauge.
        out.gauge(
            "pqc_cache_learned_rollup_answers",
            "Misses answered from the learned roll-ups held now.",
            learned_rollups.iter().map(|r| r.answered).sum::<u64>(),
        )?;
        out.gauge("pqc_cache_hit_ratio", "Hits over requests.", hit_ratio)?;
        // A gauge since it was first exported, though it only grows:
        // dashboards built on the name keep working.
        out.gauge(
            "pqc_cache_compute_seconds",
            "Total time spent computing.",
            seconds(compute_time_us),
        )?;
        out.gauge("pqc_disk_entries", "Entries on disk.", disk_entries)?;
        out.gauge(
            "pqc_disk_bytes",
            "Bytes of the entries on disk.",
            disk_bytes,
        )?;
        out.gauge(
            "pqc_http_computations_running",
            "Answers being computed now.",
            self.admission.running(),
        )?;
        out.gauge(
            "pqc_http_computations_queued",
            "Requests waiting for a computation slot.",
            self.admission.queued(),
        )?;
        out.gauge(
            "pqc_http_pending_bytes",
            "Bytes of answers built and not yet sent.",
            self.bodies.in_flight(),
        )
    }
}

fn seconds(micros: u64) -> f64 {
    micros as f64 / 1e6
}

/// Writes values read at scrape time, each with its help and type.
struct Exposition<'a, 'e>(&'a mut DescriptorEncoder<'e>);

impl Exposition<'_, '_> {
    /// `name` without `_total`: the encoder adds it.
    fn counter(&mut self, name: &str, help: &str, value: impl EncodeCounterValue) -> fmt::Result {
        let metric = self
            .0
            .encode_descriptor(name, help, None, MetricType::Counter)?;
        ConstCounter::new(value).encode(metric)
    }

    fn gauge(&mut self, name: &str, help: &str, value: impl EncodeGaugeValue) -> fmt::Result {
        let metric = self
            .0
            .encode_descriptor(name, help, None, MetricType::Gauge)?;
        ConstGauge::new(value).encode(metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        let frame = polars::df!("n" => [1i64, 2]).unwrap();
        Metrics::new(Scrape {
            cache: Arc::new(CachedQuery::from_frame(frame).unwrap()),
            admission: Arc::new(Admission::new(2, 4)),
            bodies: Arc::new(Budget::new(1 << 20)),
        })
    }

    #[test]
    fn every_tier_and_the_server_are_exported() {
        let metrics = metrics();
        metrics.observe_query(true, Duration::from_micros(30));
        metrics.observe_query(false, Duration::from_millis(3));
        metrics.count_status(StatusCode::NOT_FOUND);
        metrics.count_status(StatusCode::INTERNAL_SERVER_ERROR);
        metrics.count_status(StatusCode::OK);
        let text = metrics.render().unwrap();
        for line in [
            "pqc_cache_hits_total 0",
            "pqc_cache_derived_hits_total 0",
            "pqc_cache_rollups 0",
            "pqc_disk_hits_total 0",
            "pqc_disk_entries 0",
            "pqc_redis_waits_total 0",
            "pqc_redis_bypassed_total 0",
            "pqc_http_rejected_total 0",
            "pqc_http_computations_running 0",
            "pqc_http_client_errors_total 1",
            "pqc_http_server_errors_total 1",
            "pqc_query_duration_seconds_count{outcome=\"hit\"} 1",
            "pqc_query_duration_seconds_count{outcome=\"miss\"} 1",
            "pqc_query_duration_seconds_bucket{outcome=\"miss\",le=\"+Inf\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(metrics.mean_miss(), Some(Duration::from_millis(3)));
        // Every family once, with its type.
        let mut names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "{text}");
    }
}
