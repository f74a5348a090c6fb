//! Hit / miss statistics, in the spirit of `functools.lru_cache`'s
//! `cache_info()`, with the figures a tiered cache of frames needs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::Serialize;

use super::CachedQuery;
use crate::tier::counters::{DiskCounters, RedisCounters};

/// Declares [`Counters`] and its `reset` from one list of names, so that
/// no counter can be left out of a reset.
/// [`cache_info`](CachedQuery::cache_info) destructures the struct whole:
/// a counter it does not report does not compile either.
macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Counters updated on every request; cheap enough for the hit path
        /// (relaxed atomics).
        #[derive(Default)]
        pub(crate) struct Counters {
            $(pub(crate) $name: AtomicU64,)*
        }

        impl Counters {
            pub(crate) fn reset(&self) {
                $(self.$name.store(0, Relaxed);)*
            }
        }
    };
}

counters! {
    hits,
    memory_hits,
    misses,
    coalesced,
    derived_hits,
    computations,
    errors,
    not_cached,
    evictions,
    expirations,
    compute_nanos,
    saved_nanos,
    appends,
    rollups_merged,
    rollups_rebuilt,
    refresh_errors,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
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
    /// Declared roll-ups brought up to date after an append by merging the
    /// appended rows' partial aggregates into them, without a scan of the
    /// table.
    pub rollups_merged: u64,
    /// Declared roll-ups computed again over the whole table by a refresh
    /// (a full reload, or an append whose aggregates do not merge).
    pub rollups_rebuilt: u64,
    /// Refreshes that read only rows appended to the files (see
    /// [`CachedQuery::refresh`](crate::CachedQuery::refresh)).
    pub appends: u64,
    /// Refreshes that failed (a malformed file, files that no longer share
    /// a schema): the version before stayed. `--watch` logs each.
    pub refresh_errors: u64,
    /// The roll-ups learned from the misses (outside `max_bytes`, within
    /// [`learned_rollup_bytes`](crate::CachedQueryBuilder::learned_rollup_bytes)),
    /// each with the misses it answered.
    pub learned_rollups: Vec<crate::LearnedRollup>,
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
    /// Commands that went without Redis: its breaker was open, or every
    /// pooled connection stayed busy for the connect timeout.
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
    /// The canonical query as SQL that [`CachedQuery::sql`] (and the
    /// server's `/api/sql`) reads back as this same entry; `None` for a
    /// [`memoize`](CachedQuery::memoize)d function.
    pub sql: Option<String>,
    /// Hits since the entry was stored.
    pub hits: u64,
    /// What computing it cost, in microseconds.
    pub compute_time_us: u64,
    /// Its estimated size in bytes.
    pub bytes: u64,
}

fn micros(nanos: u64) -> u64 {
    nanos / 1_000
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Relaxed)
}

impl CachedQuery {
    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.counters.reset();
    }

    /// A snapshot of the statistics.
    pub fn cache_info(&self) -> CacheInfo {
        self.memory.run_pending_tasks();
        // Every counter struct is destructured whole, so that a counter
        // added to one does not compile until it is reported here.
        let Counters {
            hits,
            memory_hits,
            misses,
            coalesced,
            derived_hits,
            computations,
            errors,
            not_cached,
            evictions,
            expirations,
            compute_nanos,
            saved_nanos,
            appends,
            rollups_merged,
            rollups_rebuilt,
            refresh_errors,
        } = &*self.counters;
        let no_disk = DiskCounters::default();
        let DiskCounters {
            hits: disk_hits,
            writes: disk_writes,
            errors: disk_errors,
            rejected: disk_rejected,
            forged: disk_forged,
            wrong_schema: disk_wrong_schema,
            evictions: disk_evictions,
        } = self.tiers.disk_counters().unwrap_or(&no_disk);
        let no_redis = RedisCounters::default();
        let RedisCounters {
            hits: redis_hits,
            writes: redis_writes,
            errors: redis_errors,
            refused: redis_refused,
            rejected: redis_rejected,
            forged: redis_forged,
            wrong_schema: redis_wrong_schema,
            waits: redis_waits,
            bypassed: redis_bypassed,
            bad_messages: redis_bad_messages,
        } = self.tiers.redis_counters().unwrap_or(&no_redis);
        let (hits, misses) = (load(hits), load(misses));
        let (disk_entries, disk_bytes) = self.tiers.disk_usage();
        let (rollups, rollup_bytes) = {
            let rollups = self.rollups.read();
            (
                rollups.len() as u64,
                rollups.iter().map(|(_, e)| e.bytes).sum(),
            )
        };
        CacheInfo {
            hits,
            misses,
            computations: load(computations),
            memory_hits: load(memory_hits),
            disk_hits: load(disk_hits),
            disk_writes: load(disk_writes),
            disk_errors: load(disk_errors),
            disk_rejected: load(disk_rejected),
            disk_evictions: load(disk_evictions),
            disk_entries,
            disk_bytes,
            derived_hits: load(derived_hits),
            rollups,
            rollup_bytes,
            rollups_merged: load(rollups_merged),
            rollups_rebuilt: load(rollups_rebuilt),
            appends: load(appends),
            refresh_errors: load(refresh_errors),
            learned_rollups: self.learner.info(),
            redis_hits: load(redis_hits),
            redis_writes: load(redis_writes),
            redis_errors: load(redis_errors),
            redis_rejected: load(redis_rejected),
            redis_waits: load(redis_waits),
            redis_bypassed: load(redis_bypassed),
            redis_refused: load(redis_refused),
            redis_bad_messages: load(redis_bad_messages),
            tier_forged: load(disk_forged) + load(redis_forged),
            tier_wrong_schema: load(disk_wrong_schema) + load(redis_wrong_schema),
            coalesced: load(coalesced),
            errors: load(errors),
            not_cached: load(not_cached),
            entries: self.memory.entry_count(),
            bytes: self.memory.weighted_size(),
            max_bytes: self.config.max_bytes,
            evictions: load(evictions),
            expirations: load(expirations),
            compute_time_us: micros(load(compute_nanos)),
            time_saved_us: micros(load(saved_nanos)),
            hit_ratio: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
            top_queries: self.top_queries(),
        }
    }

    /// The most-hit entries in memory, most hits first.
    fn top_queries(&self) -> Vec<QueryCount> {
        let mut top: Vec<(QueryCount, std::sync::Arc<crate::QueryKey>)> = self
            .memory
            .iter()
            .map(|(key, entry)| {
                let count = QueryCount {
                    query: key.to_string(),
                    sql: None,
                    hits: load(&entry.hits),
                    compute_time_us: entry.cost.as_micros() as u64,
                    bytes: entry.bytes,
                };
                (count, key)
            })
            .filter(|(q, _)| q.hits > 0)
            .collect();
        top.sort_by(|(a, _), (b, _)| b.hits.cmp(&a.hits).then_with(|| a.query.cmp(&b.query)));
        top.truncate(self.config.top_queries);
        // As SQL only the few shown.
        let dataset = self.dataset();
        top.into_iter()
            .map(|(mut count, key)| {
                count.sql = key
                    .query()
                    .map(|q| crate::sql::canonical_sql(q, dataset.name()));
                count
            })
            .collect()
    }
}
