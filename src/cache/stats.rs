//! Hit / miss statistics, in the spirit of `functools.lru_cache`'s
//! `cache_info()`, with the figures a tiered cache of frames needs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::Serialize;

/// Counters updated on every request; cheap enough for the hit path
/// (relaxed atomics).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) memory_hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) coalesced: AtomicU64,
    pub(crate) derived_hits: AtomicU64,
    pub(crate) computations: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) not_cached: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) expirations: AtomicU64,
    pub(crate) compute_nanos: AtomicU64,
    pub(crate) saved_nanos: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn reset(&self) {
        for c in [
            &self.hits,
            &self.memory_hits,
            &self.misses,
            &self.coalesced,
            &self.derived_hits,
            &self.computations,
            &self.errors,
            &self.not_cached,
            &self.evictions,
            &self.expirations,
            &self.compute_nanos,
            &self.saved_nanos,
        ] {
            c.store(0, Relaxed);
        }
    }
}

/// A snapshot of the cache's statistics.
///
/// `hits + misses` is the number of requests answered (or failed after the
/// lookup). A miss either ran a computation or waited for the one another
/// caller was running for the same key (`coalesced`), so
/// `computations <= misses`.
///
/// ```
/// use polars_query_cache::{CachedQuery, Query};
///
/// let cache = CachedQuery::from_csv("data/sales.csv")?;
/// let q = Query::new().eq("year", 2024).group_by(["category"]).sum("revenue");
/// cache.get(&q)?; // a miss: computed
/// cache.get(&q)?; // a hit, from memory
/// cache.get(&Query::new().eq("year", 2024).group_by(["category"]).len())?;
///
/// let info = cache.cache_info();
/// assert_eq!((info.hits, info.misses, info.computations), (1, 2, 2));
/// assert_eq!((info.memory_hits, info.entries), (1, 2));
/// assert!(info.bytes > 0 && info.hit_ratio > 0.3);
/// // As JSON, the shape `pqc --stats` and the server's `/api/stats` print.
/// let json: serde_json::Value = serde_json::from_str(&info.to_json())?;
/// assert_eq!(json["hits"], 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheInfo {
    /// Requests answered from a cache tier.
    pub hits: u64,
    /// Requests no tier could answer.
    pub misses: u64,
    /// Computations run (each a scan of the dataset or a memoized function).
    pub computations: u64,
    /// Hits answered by the memory tier.
    pub memory_hits: u64,
    /// Hits answered by deriving from another cached answer (filter
    /// narrowing or roll-up), without scanning the dataset.
    pub derived_hits: u64,
    /// Declared roll-ups held (pinned, outside `max_bytes`).
    pub rollups: u64,
    /// Estimated bytes of the declared roll-ups.
    pub rollup_bytes: u64,
    /// Hits answered by the disk tier.
    pub disk_hits: u64,
    /// Entries written to the disk tier.
    pub disk_writes: u64,
    /// Disk operations that failed (unreadable directory, full disk, ...);
    /// each was logged and the query answered without the disk.
    pub disk_errors: u64,
    /// Disk entries that failed verification (truncated, flipped bytes,
    /// another format version, another key): deleted, never served.
    pub disk_rejected: u64,
    /// Disk entries deleted to stay within the disk budget.
    pub disk_evictions: u64,
    /// Entries on disk.
    pub disk_entries: u64,
    /// Bytes of the entries on disk.
    pub disk_bytes: u64,
    /// Hits answered by the Redis tier.
    pub redis_hits: u64,
    /// Values written to Redis.
    pub redis_writes: u64,
    /// Redis connections that failed and commands that timed out (each
    /// opened the breaker).
    pub redis_errors: u64,
    /// Redis values that failed verification (damaged, forged, of another
    /// key or another shape): ignored, never served.
    pub redis_rejected: u64,
    /// Misses that waited for another worker's computation through Redis.
    pub redis_waits: u64,
    /// Lookups that skipped Redis while its breaker was open.
    pub redis_bypassed: u64,
    /// Commands Redis answered with an error, such as a write refused by
    /// a full Redis (`OOM ... maxmemory`): the breaker stays closed and
    /// reads go on.
    pub redis_refused: u64,
    /// Invalidation messages the subscriber ignored: malformed, or (with a
    /// tier secret) unsigned or wrongly signed. The subscriber keeps its
    /// connection and applies the messages after them.
    pub redis_bad_messages: u64,
    /// Disk entries, Redis values and invalidation messages refused for
    /// their MAC: none, or not the one the
    /// [`tier_secret`](crate::CachedQueryBuilder::tier_secret) gives
    /// (also counted in `disk_rejected`, `redis_rejected` or
    /// `redis_bad_messages`).
    pub tier_forged: u64,
    /// Disk entries and Redis values whose frame was not what their key
    /// implies (column count, names, types, row count): never served
    /// (also counted in `disk_rejected` or `redis_rejected`).
    pub tier_wrong_schema: u64,
    /// Misses answered by a computation another caller was already running.
    pub coalesced: u64,
    /// Computations that failed (their error went to every waiting caller).
    pub errors: u64,
    /// Results returned but not stored, being over the per-entry byte cap.
    pub not_cached: u64,
    /// Entries in the memory tier.
    pub entries: u64,
    /// Estimated bytes held by the memory tier.
    pub bytes: u64,
    /// The memory tier's byte budget.
    pub max_bytes: u64,
    /// Entries removed to stay within the byte budget.
    pub evictions: u64,
    /// Entries removed because their time to live or to idle ran out.
    pub expirations: u64,
    /// Total time spent computing, in microseconds.
    pub compute_time_us: u64,
    /// Computing time the hits avoided (the cost of each hit entry's
    /// computation, summed), in microseconds.
    pub time_saved_us: u64,
    /// The fraction of requests that were hits (0 when there were none).
    pub hit_ratio: f64,
    /// The most-hit entries currently in memory, most hits first.
    pub top_queries: Vec<QueryCount>,
}

impl CacheInfo {
    /// Total time spent computing.
    pub fn compute_time(&self) -> Duration {
        Duration::from_micros(self.compute_time_us)
    }

    /// Computing time the hits avoided.
    pub fn time_saved(&self) -> Duration {
        Duration::from_micros(self.time_saved_us)
    }

    /// The statistics as JSON, the form of `pqc --stats` and `/api/stats`.
    pub fn to_json(&self) -> String {
        // Numbers and strings only: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// How often one cached entry was hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryCount {
    /// The canonical query, in SQL words.
    pub query: String,
    /// Hits since the entry was stored.
    pub hits: u64,
    /// What computing it cost, in microseconds.
    pub compute_time_us: u64,
    /// Its estimated size in bytes.
    pub bytes: u64,
}

pub(crate) fn micros(nanos: u64) -> u64 {
    nanos / 1_000
}

pub(crate) fn load(counter: &AtomicU64) -> u64 {
    counter.load(Relaxed)
}

impl super::CachedQuery {
    /// Forged entries and messages, entries of the wrong shape (disk and
    /// Redis together), Redis refusals and ignored messages.
    pub(super) fn integrity_counts(&self) -> [u64; 4] {
        let [disk_forged, disk_wrong_schema] = self.disk.as_ref().map_or([0; 2], |d| {
            [&d.counters.forged, &d.counters.wrong_schema].map(load)
        });
        #[cfg(feature = "redis")]
        let [redis_forged, redis_wrong_schema, refused, bad_messages] =
            self.redis.as_ref().map_or([0; 4], |r| {
                let c = &r.counters;
                [&c.forged, &c.wrong_schema, &c.refused, &c.bad_messages].map(load)
            });
        #[cfg(not(feature = "redis"))]
        let [redis_forged, redis_wrong_schema, refused, bad_messages] = [0; 4];
        [
            disk_forged + redis_forged,
            disk_wrong_schema + redis_wrong_schema,
            refused,
            bad_messages,
        ]
    }
}
