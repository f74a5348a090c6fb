//! Configuration of a [`CachedQuery`], set once on a consuming builder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use polars::prelude::DataFrame;

use super::CachedQuery;
use crate::Query;
use crate::Result;
use crate::dataset::{Dataset, LoadOptions};
use crate::derive::DeriveMode;
use crate::tier::TierSecret;

/// Builds a [`CachedQuery`]. Every setter names the limit it sets.
///
/// ```
/// use std::time::Duration;
/// use polars_query_cache::CachedQuery;
///
/// # let df = polars::df!("year" => [2023i64, 2024])?;
/// let cache = CachedQuery::builder()
///     .max_bytes(64 << 20)
///     .time_to_live(Duration::from_secs(3600))
///     .build_from_frame(df)?;
/// assert_eq!(cache.cache_info().max_bytes, 64 << 20);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct CachedQueryBuilder {
    pub(crate) max_bytes: u64,
    pub(crate) max_entry_bytes: Option<u64>,
    pub(crate) time_to_live: Option<Duration>,
    pub(crate) time_to_idle: Option<Duration>,
    pub(crate) load_options: LoadOptions,
    pub(crate) load_progress: Option<ProgressHook>,
    pub(crate) name: Option<String>,
    pub(crate) top_queries: usize,
    pub(crate) disk_dir: Option<PathBuf>,
    pub(crate) disk_max_bytes: u64,
    pub(crate) snapshots: bool,
    pub(crate) derive: DeriveMode,
    pub(crate) rollups: Vec<Query>,
    pub(crate) learned_rollup_bytes: u64,
    pub(crate) tier_secret: Option<TierSecret>,
    #[cfg(feature = "redis")]
    pub(crate) redis: Option<crate::tier::redis::RedisOptions>,
    #[cfg(feature = "redis")]
    pub(crate) redis_time_to_live: Duration,
}

impl Default for CachedQueryBuilder {
    fn default() -> Self {
        CachedQueryBuilder {
            max_bytes: 512 << 20,
            max_entry_bytes: None,
            time_to_live: None,
            time_to_idle: None,
            load_options: LoadOptions::default(),
            load_progress: None,
            name: None,
            top_queries: 10,
            disk_dir: None,
            disk_max_bytes: 4 << 30,
            snapshots: true,
            derive: DeriveMode::default(),
            rollups: Vec::new(),
            learned_rollup_bytes: 64 << 20,
            tier_secret: None,
            #[cfg(feature = "redis")]
            redis: None,
            #[cfg(feature = "redis")]
            redis_time_to_live: Duration::from_secs(24 * 3600),
        }
    }
}

impl CachedQueryBuilder {
    /// The memory tier's budget in bytes, weighing each result by Polars'
    /// `estimated_size` plus a small fixed overhead. The least valuable
    /// entries (moka's TinyLFU) are evicted to stay under it.
    ///
    /// Default: 512 MiB.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The largest result kept in memory. A larger one is returned to the
    /// caller but not stored, so one huge answer cannot flush the cache.
    ///
    /// Default: a quarter of [`max_bytes`](Self::max_bytes) (and never more
    /// than 4 GiB, moka's per-entry limit).
    pub fn max_entry_bytes(mut self, bytes: u64) -> Self {
        self.max_entry_bytes = Some(bytes);
        self
    }

    /// How long an entry lives after it is stored.
    ///
    /// Default: forever (until evicted, invalidated or the data changes).
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.time_to_live = Some(ttl);
        self
    }

    /// How long an entry lives after it was last read.
    ///
    /// Default: forever.
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.time_to_idle = Some(tti);
        self
    }

    /// How the data files are read: their format, scan mode, CSV options.
    ///
    /// Default: [`LoadOptions::default()`].
    pub fn load_options(mut self, options: LoadOptions) -> Self {
        self.load_options = options;
        self
    }

    /// Called as [`build_from_path`](Self::build_from_path) loads the
    /// files: `progress(done, total)` in bytes after each block or file
    /// (see [`Dataset::from_path_with_progress`]). `pqc` draws a bar with it.
    pub fn load_progress(
        mut self,
        progress: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
    ) -> Self {
        self.load_progress = Some(ProgressHook(std::sync::Arc::new(progress)));
        self
    }

    /// The table's name in SQL: what [`CachedQuery::sql`] expects after
    /// `FROM`, and what the statistics' SQL says. It survives
    /// [`refresh`](CachedQuery::refresh) and is not part of any key.
    ///
    /// ```
    /// use polars_query_cache::CachedQuery;
    ///
    /// let cache = CachedQuery::builder().name("orders").build_from_csv("data/sales.csv")?;
    /// assert_eq!(cache.sql("SELECT COUNT(*) FROM orders")?.height(), 1);
    /// assert!(cache.sql("SELECT COUNT(*) FROM sales").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Default: the CSV file's stem (`sales` for `data/sales.csv`), or
    /// `data` for a frame.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How many of the most-hit queries [`CacheInfo`](crate::CacheInfo)
    /// lists.
    ///
    /// Default: 10.
    pub fn top_queries(mut self, n: usize) -> Self {
        self.top_queries = n;
        self
    }

    /// A directory for the disk tier: results survive restarts and are
    /// shared by the processes that use the same directory. Each entry is
    /// one compressed Arrow IPC file with a verified header. The directory
    /// also holds snapshots of parsed CSV files (see
    /// [`snapshots`](Self::snapshots)).
    ///
    /// Default: none (memory only).
    pub fn disk_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.disk_dir = Some(dir.into());
        self
    }

    /// The disk tier's budget in bytes (of files); the least recently used
    /// entries are deleted to stay under it.
    ///
    /// Default: 4 GiB.
    pub fn disk_max_bytes(mut self, bytes: u64) -> Self {
        self.disk_max_bytes = bytes;
        self
    }

    /// With a [`disk_dir`](Self::disk_dir): keep a columnar snapshot of each
    /// parsed CSV there, and load it instead of parsing when the same file
    /// (same content, same options) is opened again.
    ///
    /// Default: `true`.
    pub fn snapshots(mut self, enabled: bool) -> Self {
        self.snapshots = enabled;
        self
    }

    /// A Redis server (or Redis Cluster) shared by every worker and host:
    /// one worker's computation is every worker's hit, concurrent misses
    /// across processes compute once, and invalidations reach every
    /// worker. URL: `redis://[:password@]host[:port][/db]` or
    /// `rediss://...`; a cluster:
    /// `redis+cluster://[:password@]host:port,host:port` (any of its
    /// nodes; `rediss+cluster://` for TLS). Redis being down never fails a
    /// query; see [`crate::tier::redis`].
    ///
    /// ```no_run
    /// use polars_query_cache::CachedQuery;
    /// let cache = CachedQuery::builder()
    ///     .redis("redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000")
    ///     .build_from_csv("sales.csv")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Default: none.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(self, url: impl Into<String>) -> Self {
        self.redis_options(crate::tier::redis::RedisOptions::new(url))
    }

    /// The Redis tier with every option set (prefix, timeouts, lock life).
    ///
    /// Default: none.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_options(mut self, options: crate::tier::redis::RedisOptions) -> Self {
        self.redis = Some(options);
        self
    }

    /// How long a value lives in Redis: Redis deletes it after this (or
    /// after [`time_to_live`](Self::time_to_live), when that is shorter),
    /// so values of keys nobody asks for any more do not pile up. Values
    /// of an older version of the data are deleted sooner, when a worker
    /// sees the new version.
    ///
    /// Default: 24 h.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_time_to_live(mut self, ttl: Duration) -> Self {
        self.redis_time_to_live = ttl;
        self
    }

    /// A secret shared by every process that shares the
    /// [`disk_dir`](Self::disk_dir) or the [Redis](Self::redis) server.
    /// Every disk file, Redis value and invalidation message is then signed
    /// with a keyed MAC (BLAKE3) over all of it (header, key, frame), and
    /// only entries and messages signed with this secret are used: anyone
    /// who can write to the directory or to Redis but does not know the
    /// secret cannot make a worker serve a planted answer or drop its
    /// entries. Refused ones are counted in
    /// [`CacheInfo::tier_forged`](crate::CacheInfo::tier_forged).
    ///
    /// Use at least 32 random bytes (`openssl rand -hex 32`); every process
    /// sharing the tiers needs the same one. Entries written without it (or
    /// with another) are recomputed and overwritten.
    ///
    /// Whatever the secret, every entry read from a tier is checked
    /// against what its key says it must hold (columns, names, types, row
    /// count) before it is used.
    ///
    /// ```
    /// use polars_query_cache::CachedQuery;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let cache = CachedQuery::builder()
    ///     .disk_dir(dir.path())
    ///     .tier_secret(b"3f1d... 32 random bytes, shared by every worker")
    ///     .build_from_csv("data/sales.csv")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Default: none (entries carry a checksum, which detects damage but
    /// not a forgery).
    pub fn tier_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.tier_secret = Some(TierSecret::new(secret));
        self
    }

    /// Whether a miss may be answered from a cached answer that contains
    /// it (filter narrowing, roll-up) instead of scanning the dataset.
    ///
    /// Default: [`DeriveMode::Approximate`].
    pub fn derive(mut self, mode: DeriveMode) -> Self {
        self.derive = mode;
        self
    }

    /// Declares a roll-up (a query without filters), computed at load time
    /// (all declared roll-ups in parallel) and pinned in memory, outside
    /// the [`max_bytes`](Self::max_bytes) budget: it is never evicted.
    /// Every query it contains is answered from it without scanning the
    /// base frame. Roll-ups are rebuilt when [`refresh`](CachedQuery::refresh)
    /// finds new data.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query, Source};
    ///
    /// let cache = CachedQuery::builder()
    ///     .rollup(Query::new().group_by(["category", "year", "month"]).sum("revenue").count("revenue").len())
    ///     .build_from_csv("data/sales.csv")?;
    /// let q = Query::new().eq("category", "Books").group_by(["month"]).mean("revenue");
    /// assert_eq!(cache.get(&q)?.source(), Source::Derived);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Default: none.
    pub fn rollup(mut self, query: Query) -> Self {
        self.rollups.push(query);
        self
    }

    /// The byte budget of the roll-ups the cache learns from its misses
    /// (apart from `max_bytes`): every few misses it picks, by benefit per
    /// byte, the roll-ups that would have answered most of them, builds
    /// them on a thread of its own, and derives the misses they contain
    /// from them. `0` turns learning off (see also
    /// [`learned_rollups`](Self::learned_rollups)).
    ///
    /// Default: 64 MiB.
    pub fn learned_rollup_bytes(mut self, bytes: u64) -> Self {
        self.learned_rollup_bytes = bytes;
        self
    }

    /// Turns the learned roll-ups on or off (off: a budget of 0; on: the
    /// default budget unless one was set).
    ///
    /// Default: on.
    pub fn learned_rollups(mut self, on: bool) -> Self {
        self.learned_rollup_bytes = match (on, self.learned_rollup_bytes) {
            (false, _) => 0,
            (true, 0) => Self::default().learned_rollup_bytes,
            (true, bytes) => bytes,
        };
        self
    }

    /// Declares several roll-ups at once (see [`rollup`](Self::rollup)):
    /// what a declared dashboard needs,
    /// `builder.rollups(dashboard.rollups())`.
    ///
    /// Default: none.
    pub fn rollups(mut self, queries: impl IntoIterator<Item = Query>) -> Self {
        self.rollups.extend(queries);
        self
    }

    /// Loads the CSV file at `path` and builds the cache over it.
    pub fn build_from_csv(self, path: impl AsRef<Path>) -> Result<CachedQuery> {
        let dataset = match self.snapshot_dir() {
            Some(dir) => Dataset::from_csv_with_snapshots(path, &self.load_options, &dir)?,
            None => Dataset::from_csv(path, &self.load_options)?,
        };
        CachedQuery::new(self, dataset)
    }

    /// Loads what `path` names (a file of any [`Format`](crate::Format), or
    /// a glob or a directory of them: see [`Dataset::from_path`]) and
    /// builds the cache over it. With
    /// [`LoadOptions::scan`](crate::LoadOptions::scan) the table is not
    /// loaded; each miss scans the files.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, LoadOptions, Query};
    ///
    /// let cache = CachedQuery::builder()
    ///     .load_options(LoadOptions::default().with_scan(true))
    ///     .build_from_path("data/sales.csv")?;
    /// assert!(cache.dataset().is_scanned());
    /// let answer = cache.get(&Query::new().group_by(["region"]).sum("revenue"))?;
    /// assert_eq!(answer.height(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_from_path(self, path: impl AsRef<Path>) -> Result<CachedQuery> {
        let snapshots = self.snapshot_dir();
        let dataset = match &self.load_progress {
            Some(ProgressHook(progress)) => Dataset::from_path_with_progress(
                path,
                &self.load_options,
                snapshots.as_deref(),
                &|done, total| progress(done, total),
            )?,
            None => match snapshots {
                Some(dir) => Dataset::from_path_with_snapshots(path, &self.load_options, &dir)?,
                None => Dataset::from_path(path, &self.load_options)?,
            },
        };
        CachedQuery::new(self, dataset)
    }

    pub(crate) fn snapshot_dir(&self) -> Option<PathBuf> {
        self.disk_dir
            .as_ref()
            .filter(|_| self.snapshots)
            .map(|d| d.join("snapshots"))
    }

    /// Builds the cache over CSV bytes the caller already has; `name` stands
    /// for the file in messages.
    pub fn build_from_csv_bytes(self, name: &str, bytes: Vec<u8>) -> Result<CachedQuery> {
        let dataset = Dataset::from_csv_bytes(name, bytes, &self.load_options)?;
        CachedQuery::new(self, dataset)
    }

    /// Builds the cache over a frame the caller already has.
    pub fn build_from_frame(self, frame: DataFrame) -> Result<CachedQuery> {
        let dataset = Dataset::from_frame(frame)?;
        CachedQuery::new(self, dataset)
    }

    /// The time to live of a Redis value: the Redis one, or the cache's
    /// when shorter.
    #[cfg(feature = "redis")]
    pub(crate) fn redis_entry_ttl(&self) -> Duration {
        self.time_to_live.map_or(self.redis_time_to_live, |ttl| {
            ttl.min(self.redis_time_to_live)
        })
    }

    pub(crate) fn entry_cap(&self) -> u64 {
        self.max_entry_bytes
            .unwrap_or(self.max_bytes / 4)
            .min(u64::from(u32::MAX))
    }
}

/// A load's progress callback, shared by the builder's clones.
#[derive(Clone)]
pub(crate) struct ProgressHook(std::sync::Arc<dyn Fn(u64, Option<u64>) + Send + Sync>);

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}
