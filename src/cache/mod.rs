//! [`CachedQuery`]: the memoizing layer between callers and the dataset.

mod builder;
mod entry;
mod fill;
mod requests;
mod rollups;
mod single_flight;
mod stats;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;
use moka::sync::Cache;
use parking_lot::{Mutex, RwLock};
use polars::prelude::{DataFrame, LazyFrame};
use rayon::prelude::*;
use serde::Serialize;

pub use builder::CachedQueryBuilder;
pub use stats::{CacheInfo, QueryCount};

use entry::Entry;
use single_flight::{Flights, Role};
use stats::{Counters, load, micros};

use crate::dataset::{Dataset, Fingerprint, Origin};
use crate::derive::DeriveIndex;
use crate::frame::{Frame, Source};
use crate::normalize::{self, BuildPassThrough, KeyBody, KeyedQuery, Projection, QueryKey};
use crate::query::Query;
use crate::tier::disk::DiskTier;
use crate::{Error, Result, exec};

type MemoryTier = Cache<QueryKey, Arc<Entry>, BuildPassThrough>;

/// A dataset loaded once, and a cache of the answers to queries over it.
///
/// `CachedQuery` is `Send + Sync`: share one (in an `Arc`) between threads.
/// Every method takes `&self`.
///
/// ```
/// use polars_query_cache::{CachedQuery, Query, Source};
///
/// # let df = polars::df!("category" => ["Books", "Games", "Books"], "year" => [2023i64, 2024, 2024],
/// #                      "revenue" => [10.0, 20.0, 30.0])?;
/// let cache = CachedQuery::from_frame(df)?;
/// let query = Query::new().eq("category", "Books").group_by(["year"]).sum("revenue");
/// let first = cache.get(&query)?;
/// let again = cache.get(&query)?;
/// assert_eq!(first.source(), Source::Computed);
/// assert_eq!(again.source(), Source::Memory);
/// assert!(std::sync::Arc::ptr_eq(first.shared(), again.shared())); // no copy on a hit
/// assert_eq!(cache.cache_info().computations, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CachedQuery {
    dataset: RwLock<Arc<Dataset>>,
    memory: MemoryTier,
    requests: requests::RequestMemo,
    disk: Option<DiskTier>,
    derive_index: Arc<DeriveIndex>,
    /// Declared roll-ups: pinned, outside the memory budget.
    rollups: RwLock<Vec<(QueryKey, Arc<Entry>)>>,
    #[cfg(feature = "redis")]
    redis: Option<crate::tier::redis::RedisTier>,
    flights: Flights<(Arc<Entry>, Source)>,
    counters: Arc<Counters>,
    config: CachedQueryBuilder,
    refresh_lock: Mutex<()>,
}

/// What [`CachedQuery::prewarm`] did.
#[derive(Debug, Default, Serialize)]
pub struct PrewarmReport {
    /// Queries given.
    pub requested: usize,
    /// Queries that were already cached.
    pub already_cached: usize,
    /// Queries computed now.
    pub computed: usize,
    /// Queries that failed, by position, with their error messages.
    pub failed: Vec<(usize, String)>,
    /// Wall time, in microseconds.
    pub elapsed_us: u64,
}

/// What [`CachedQuery::refresh`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshOutcome {
    /// The fingerprint before the refresh.
    pub old: Fingerprint,
    /// The fingerprint now.
    pub new: Fingerprint,
}

impl RefreshOutcome {
    /// Whether the data changed (and every old entry was dropped).
    pub fn changed(&self) -> bool {
        self.old != self.new
    }
}

impl CachedQuery {
    /// A builder to set limits and load options.
    pub fn builder() -> CachedQueryBuilder {
        CachedQueryBuilder::default()
    }

    /// Loads a CSV file with default options and limits.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<CachedQuery> {
        CachedQuery::builder().build_from_csv(path)
    }

    /// Wraps a frame with default limits.
    pub fn from_frame(frame: DataFrame) -> Result<CachedQuery> {
        CachedQuery::builder().build_from_frame(frame)
    }

    pub(crate) fn new(config: CachedQueryBuilder, dataset: Dataset) -> Result<CachedQuery> {
        let counters = Arc::new(Counters::default());
        let listener_counters = Arc::clone(&counters);
        let derive_index = Arc::new(DeriveIndex::default());
        let listener_index = Arc::clone(&derive_index);
        let mut memory = Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|key: &QueryKey, entry: &Arc<Entry>| entry.weight(key))
            .eviction_listener(move |key: Arc<QueryKey>, _entry, cause| {
                match cause {
                    RemovalCause::Size => Counters::add(&listener_counters.evictions, 1),
                    RemovalCause::Expired => Counters::add(&listener_counters.expirations, 1),
                    RemovalCause::Explicit => {}
                    // Replaced by a new value under the same key: still a source.
                    RemovalCause::Replaced => return,
                }
                listener_index.remove(&key);
            });
        if let Some(ttl) = config.time_to_live {
            memory = memory.time_to_live(ttl);
        }
        if let Some(tti) = config.time_to_idle {
            memory = memory.time_to_idle(tti);
        }
        let disk = config.disk_dir.as_ref().map(|dir| {
            DiskTier::open(
                &dir.join("results"),
                config.disk_max_bytes,
                config.time_to_live,
                config.tier_secret.clone(),
            )
        });
        if let (Some(disk), Origin::Csv { path, .. }) = (&disk, dataset.origin()) {
            disk.adopt(dataset.fingerprint(), path);
        }
        let memory = memory.build_with_hasher(BuildPassThrough);
        #[cfg(feature = "redis")]
        let redis = match &config.redis {
            Some(options) => {
                let tier = crate::tier::redis::RedisTier::connect(
                    options.clone(),
                    config.tier_secret.clone(),
                    config.redis_entry_ttl(),
                )?;
                tier.subscribe(forget_invalidated(memory.clone(), options.prefix.clone()));
                if let Origin::Csv { path, .. } = dataset.origin() {
                    tier.adopt(dataset.fingerprint(), path, None);
                }
                Some(tier)
            }
            None => None,
        };
        let dataset = Arc::new(dataset);
        let rollups = rollups::build(&config.rollups, &dataset)?;
        for (key, _) in &rollups {
            derive_index.add(key);
        }
        Ok(CachedQuery {
            dataset: RwLock::new(dataset),
            derive_index,
            rollups: RwLock::new(rollups),
            memory,
            requests: requests::RequestMemo::new(),
            disk,
            #[cfg(feature = "redis")]
            redis,
            flights: Flights::new(),
            counters,
            config,
            refresh_lock: Mutex::new(()),
        })
    }

    /// The current version of the dataset. Holding it keeps it alive: a
    /// refresh swaps in a new one without disturbing its readers.
    pub fn dataset(&self) -> Arc<Dataset> {
        Arc::clone(&self.dataset.read())
    }

    /// Answers `query`, from the cache when it can.
    ///
    /// A hit costs a normalization and a lookup, and hands out the cached
    /// frame itself (see [`Frame`]). On a miss, concurrent callers of the same
    /// key wait for one computation.
    pub fn get(&self, query: &Query) -> Result<Frame> {
        let dataset = self.dataset();
        let KeyedQuery {
            key,
            query: canonical,
            projection,
        } = self.requests.normalize(query, &dataset)?;
        self.lookup(&dataset, &key, &projection, |ds| {
            exec::execute(&canonical, ds)
        })
    }

    /// Answers `query` only if a tier holds the answer; never computes.
    /// A found answer counts as a hit; an absent one counts nothing, so a
    /// caller can try this first and fall back to [`get`](Self::get) (as the
    /// server does to keep hits off its blocking pool).
    pub fn get_cached(&self, query: &Query) -> Result<Option<Frame>> {
        let dataset = self.dataset();
        let KeyedQuery {
            key, projection, ..
        } = self.requests.normalize(query, &dataset)?;
        match self.memory.get(&key) {
            Some(entry) => {
                self.count_hit(&entry);
                projection.apply(&entry.frame, Source::Memory).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Answers a query given in its JSON form.
    pub fn get_json(&self, json: &str) -> Result<Frame> {
        self.get(&Query::from_json(json)?)
    }

    /// Computes `query` without reading or writing any tier: for checks and
    /// benchmarks. The statistics are not touched.
    pub fn get_uncached(&self, query: &Query) -> Result<Frame> {
        let dataset = self.dataset();
        let normalized = normalize::normalize(query, &dataset)?;
        let frame = Arc::new(exec::execute(&normalized.query, &dataset)?);
        normalized.projection.apply(&frame, Source::Computed)
    }

    /// The Polars lazy plan the cache runs for `query` on a miss: what a
    /// caller without the cache would run. Benchmarks use it as the baseline.
    pub fn plan(&self, query: &Query) -> Result<LazyFrame> {
        let dataset = self.dataset();
        let normalized = normalize::normalize(query, &dataset)?;
        Ok(exec::lazy_frame(&normalized.query, &dataset))
    }

    /// The canonical key of `query`: equal for every query with the same
    /// answer on the current data.
    pub fn key(&self, query: &Query) -> Result<QueryKey> {
        Ok(self.requests.normalize(query, &self.dataset())?.key)
    }

    /// Memoizes any computation over the dataset, the way Flask-Caching's
    /// `@cache.memoize` does for a function: keyed on `name` plus `args`
    /// serialized canonically (object keys sorted), stored in the same tiers
    /// with the same limits, statistics and invalidation as queries. The
    /// result is a whole frame.
    ///
    /// `compute` receives the current dataset's frame. Keep `name` unique per
    /// function: two functions under one name would share entries.
    ///
    /// ```
    /// use polars::prelude::*;
    /// use polars_query_cache::CachedQuery;
    ///
    /// # let df = df!("category" => ["a", "b", "a"], "units" => [1i64, 2, 3])?;
    /// let cache = CachedQuery::from_frame(df)?;
    /// let top = |n: u32| {
    ///     cache.memoize("top_units", &n, |df| {
    ///         df.clone().lazy().sort(["units"], SortMultipleOptions::default().with_order_descending(true))
    ///             .limit(n).collect()
    ///     })
    /// };
    /// assert_eq!(top(2)?.height(), 2);
    /// assert_eq!(top(2)?.source(), polars_query_cache::Source::Memory);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn memoize<A, F, E>(&self, name: &str, args: &A, compute: F) -> Result<Frame>
    where
        A: Serialize + ?Sized,
        F: FnOnce(&DataFrame) -> Result<DataFrame, E>,
        E: Into<Error>,
    {
        let dataset = self.dataset();
        let key = self.memo_key(&dataset, name, args)?;
        let projection = Projection::Identity;
        let mut compute = Some(compute);
        self.lookup(&dataset, &key, &projection, |ds| match compute.take() {
            Some(f) => f(ds.frame()).map_err(Into::into),
            None => Err(Error::Compute("memoized function called twice".to_owned())),
        })
    }

    fn memo_key<A: Serialize + ?Sized>(
        &self,
        dataset: &Dataset,
        name: &str,
        args: &A,
    ) -> Result<QueryKey> {
        let args = crate::canonical_json::to_string(&serde_json::to_value(args)?);
        Ok(QueryKey::new(
            dataset.fingerprint(),
            KeyBody::Function {
                name: name.to_owned(),
                args,
            },
        ))
    }

    fn lookup(
        &self,
        dataset: &Arc<Dataset>,
        key: &QueryKey,
        projection: &Projection,
        compute: impl FnOnce(&Dataset) -> Result<DataFrame>,
    ) -> Result<Frame> {
        if let Some(entry) = self.memory.get(key) {
            self.count_hit(&entry);
            return projection.apply(&entry.frame, Source::Memory);
        }
        let (result, role) = self.flights.run(key, || self.fill(dataset, key, compute));
        let (entry, source) = match result {
            Ok(found) => found,
            Err(e) => {
                Counters::add(&self.counters.misses, 1);
                Counters::add(&self.counters.errors, u64::from(role == Role::Leader));
                return Err(e);
            }
        };
        let source = match (role, source) {
            (Role::Leader, Source::Memory) => {
                self.count_hit(&entry);
                Source::Memory
            }
            (Role::Leader, Source::Derived) => {
                Counters::add(&self.counters.hits, 1);
                Counters::add(&self.counters.derived_hits, 1);
                Source::Derived
            }
            (Role::Leader, source @ (Source::Disk | Source::Redis)) => {
                Counters::add(&self.counters.hits, 1);
                Counters::add(&self.counters.saved_nanos, entry.cost.as_nanos() as u64);
                source
            }
            (Role::Leader, source) => {
                Counters::add(&self.counters.misses, 1);
                source
            }
            (Role::Follower, _) => {
                Counters::add(&self.counters.misses, 1);
                Counters::add(&self.counters.coalesced, 1);
                Source::Coalesced
            }
        };
        projection.apply(&entry.frame, source)
    }

    fn count_hit(&self, entry: &Entry) {
        Counters::add(&self.counters.hits, 1);
        Counters::add(&self.counters.memory_hits, 1);
        Counters::add(&entry.hits, 1);
        Counters::add(&self.counters.saved_nanos, entry.cost.as_nanos() as u64);
    }

    /// Computes, in parallel, every query that is not cached yet, so the
    /// first real requests are hits.
    pub fn prewarm(&self, queries: &[Query]) -> PrewarmReport {
        let started = Instant::now();
        let outcomes: Vec<(usize, Result<Source>)> = queries
            .par_iter()
            .enumerate()
            .map(|(i, q)| (i, self.get(q).map(|f| f.source())))
            .collect();
        let mut report = PrewarmReport {
            requested: queries.len(),
            ..PrewarmReport::default()
        };
        for (i, outcome) in outcomes {
            match outcome {
                Ok(Source::Computed) => report.computed += 1,
                Ok(_) => report.already_cached += 1,
                Err(e) => report.failed.push((i, e.to_string())),
            }
        }
        report.elapsed_us = started.elapsed().as_micros() as u64;
        report
    }

    /// Drops the entry of `query` (and so of every query equivalent to it).
    /// Returns whether there was one.
    pub fn invalidate(&self, query: &Query) -> Result<bool> {
        let key = self.key(query)?;
        Ok(self.remove(&key))
    }

    fn remove(&self, key: &QueryKey) -> bool {
        // Answers derived from this one go with it.
        for derived in self.derive_index.take_derived(key) {
            self.remove(&derived);
        }
        let in_memory = self.memory.remove(key).is_some();
        let on_disk = self.disk.as_ref().is_some_and(|d| d.remove(key));
        // Last: the published invalidation also reaches this process's own
        // subscriber, which must not be the one to find the entry first.
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            redis.remove(key);
        }
        in_memory || on_disk
    }

    /// Drops the entry of a memoized computation with these arguments.
    pub fn invalidate_memoized<A: Serialize + ?Sized>(&self, name: &str, args: &A) -> Result<bool> {
        let key = self.memo_key(&self.dataset(), name, args)?;
        Ok(self.remove(&key))
    }

    /// Drops every entry whose key satisfies `predicate`, for example every
    /// query that filters on a column, or every call of a memoized function.
    /// Returns how many were dropped.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query};
    /// # let df = polars::df!("category" => ["a", "b"], "units" => [1i64, 2])?;
    /// let cache = CachedQuery::from_frame(df)?;
    /// cache.get(&Query::new().eq("category", "a").sum("units"))?;
    /// cache.get(&Query::new().sum("units"))?;
    /// let dropped = cache.invalidate_where(|key| key.query().is_some_and(|q| q.filters_on("category")));
    /// assert_eq!(dropped, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The disk tier applies the predicate to the entries whose keys this
    /// process has written or read; [`clear`](Self::clear) and
    /// [`refresh`](Self::refresh) reach every entry.
    pub fn invalidate_where(&self, predicate: impl Fn(&QueryKey) -> bool) -> usize {
        let doomed: Vec<Arc<QueryKey>> = self
            .memory
            .iter()
            .filter(|(key, _)| predicate(key))
            .map(|(key, _)| key)
            .collect();
        let mut dropped: std::collections::HashSet<QueryKey, BuildPassThrough> = doomed
            .iter()
            .filter(|key| self.memory.remove(key.as_ref()).is_some())
            .map(|key| QueryKey::clone(key))
            .collect();
        if let Some(disk) = &self.disk {
            dropped.extend(disk.remove_where(&predicate));
        }
        let derived: Vec<QueryKey> = dropped
            .iter()
            .flat_map(|key| self.derive_index.take_derived(key))
            .collect();
        for key in derived {
            if self.remove(&key) {
                dropped.insert(key);
            }
        }
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            for key in &dropped {
                redis.remove(key);
            }
        }
        dropped.len()
    }

    /// Drops every entry that involves `column` (filters, groups or
    /// aggregates it), and every memoized computation (which may read any
    /// column). Returns how many were dropped.
    pub fn invalidate_column(&self, column: &str) -> Result<usize> {
        let dataset = self.dataset();
        if dataset.column_index(column).is_none() {
            return Err(dataset.unknown_column(column));
        }
        Ok(self.invalidate_where(|key| key.query().is_none_or(|q| q.uses_column(column))))
    }

    /// Drops every entry whose answer could depend on the rows where
    /// `column` equals `value`: the queries that filter on `column` with a
    /// condition `value` satisfies, those that do not filter on it at all,
    /// and every memoized computation. Returns how many were dropped.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query};
    /// # let df = polars::df!("category" => ["a", "b"], "units" => [1i64, 2])?;
    /// let cache = CachedQuery::from_frame(df)?;
    /// cache.get(&Query::new().eq("category", "a").sum("units"))?;
    /// cache.get(&Query::new().eq("category", "b").sum("units"))?;
    /// cache.get(&Query::new().sum("units"))?;
    /// // Rows of category "a" changed: its query and the total go, "b" stays.
    /// assert_eq!(cache.invalidate_value("category", "a")?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn invalidate_value(&self, column: &str, value: impl Into<crate::Value>) -> Result<usize> {
        let dataset = self.dataset();
        let index = dataset
            .column_index(column)
            .ok_or_else(|| dataset.unknown_column(column))?;
        let value = normalize::coerce_value(&value.into(), &dataset.columns()[index])?;
        Ok(self.invalidate_where(|key| match key.query() {
            None => true,
            Some(q) => match (q.constraint(column), &value) {
                (None, _) => true,
                (Some(c), Some(v)) => c.accepts(v),
                // A value no row can hold (2.5 in an integer column).
                (Some(_), None) => false,
            },
        }))
    }

    /// Drops every entry. The statistics are kept; see
    /// [`reset_stats`](Self::reset_stats).
    pub fn clear(&self) {
        self.memory.invalidate_all();
        self.memory.run_pending_tasks();
        let dataset = self.dataset().fingerprint();
        self.derive_index.forget_dataset(dataset);
        for (key, _) in self.rollups.read().iter() {
            self.derive_index.add(key);
        }
        if let Some(disk) = &self.disk {
            disk.remove_dataset(dataset);
        }
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            redis.remove_dataset(dataset);
        }
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.counters.reset();
    }

    /// Re-reads the CSV file the cache was built from. When its content (or
    /// nothing at all) changed, the new version is swapped in and every
    /// entry of the old one is dropped; requests already running on the old
    /// version finish on it, and their answers can never be served for the
    /// new one (the fingerprint is part of every key).
    ///
    /// A cache built from a frame has nothing to re-read: the outcome says
    /// nothing changed.
    pub fn refresh(&self) -> Result<RefreshOutcome> {
        let _one_at_a_time = self.refresh_lock.lock();
        let current = self.dataset();
        let old = current.fingerprint();
        let Origin::Csv { path, options } = current.origin() else {
            return Ok(RefreshOutcome { old, new: old });
        };
        let fresh = match self.config.snapshot_dir() {
            Some(dir) => Dataset::from_csv_with_snapshots(path, options, &dir)?,
            None => Dataset::from_csv(path, options)?,
        };
        let new = fresh.fingerprint();
        if new != old {
            let fresh = Arc::new(fresh);
            let rollups = rollups::build(&self.config.rollups, &fresh)?;
            for (key, _) in &rollups {
                self.derive_index.add(key);
            }
            *self.dataset.write() = fresh;
            *self.rollups.write() = rollups;
            self.derive_index.forget_dataset(old);
            self.invalidate_where(|key| key.dataset() != new);
            if let Some(disk) = &self.disk {
                disk.remove_dataset(old);
                disk.adopt(new, path);
            }
            #[cfg(feature = "redis")]
            if let Some(redis) = &self.redis {
                // In the background: the old values are unreachable already.
                redis.adopt(new, path, Some(old));
            }
            tracing::info!(%old, %new, "dataset changed; old entries dropped");
        }
        Ok(RefreshOutcome { old, new })
    }

    /// A snapshot of the statistics.
    pub fn cache_info(&self) -> CacheInfo {
        self.memory.run_pending_tasks();
        let c = &self.counters;
        let (hits, misses) = (load(&c.hits), load(&c.misses));
        let mut top: Vec<QueryCount> = self
            .memory
            .iter()
            .map(|(key, entry)| QueryCount {
                query: key.to_string(),
                hits: load(&entry.hits),
                compute_time_us: entry.cost.as_micros() as u64,
                bytes: entry.bytes,
            })
            .filter(|q| q.hits > 0)
            .collect();
        top.sort_by(|a, b| b.hits.cmp(&a.hits).then_with(|| a.query.cmp(&b.query)));
        top.truncate(self.config.top_queries);
        let (disk_entries, disk_bytes) = self.disk.as_ref().map_or((0, 0), DiskTier::usage);
        let [
            redis_hits,
            redis_writes,
            redis_errors,
            redis_rejected,
            redis_waits,
            redis_bypassed,
        ] = self.redis_counts();
        let [
            tier_forged,
            tier_wrong_schema,
            redis_refused,
            redis_bad_messages,
        ] = self.integrity_counts();
        let (rollup_count, rollup_bytes) = {
            let rollups = self.rollups.read();
            (
                rollups.len() as u64,
                rollups.iter().map(|(_, e)| e.bytes).sum(),
            )
        };
        let [
            disk_hits,
            disk_writes,
            disk_errors,
            disk_rejected,
            disk_evictions,
        ] = self.disk_counts();
        CacheInfo {
            hits,
            misses,
            computations: load(&c.computations),
            memory_hits: load(&c.memory_hits),
            disk_hits,
            disk_writes,
            disk_errors,
            disk_rejected,
            disk_evictions,
            disk_entries,
            disk_bytes,
            derived_hits: load(&c.derived_hits),
            rollups: rollup_count,
            rollup_bytes,
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
            coalesced: load(&c.coalesced),
            errors: load(&c.errors),
            not_cached: load(&c.not_cached),
            entries: self.memory.entry_count(),
            bytes: self.memory.weighted_size(),
            max_bytes: self.config.max_bytes,
            evictions: load(&c.evictions),
            expirations: load(&c.expirations),
            compute_time_us: micros(load(&c.compute_nanos)),
            time_saved_us: micros(load(&c.saved_nanos)),
            hit_ratio: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
            top_queries: top,
        }
    }

    /// Hits, writes, errors, rejected entries and evictions of the disk
    /// tier (all 0 without one).
    fn disk_counts(&self) -> [u64; 5] {
        match &self.disk {
            Some(d) => {
                let c = &d.counters;
                [&c.hits, &c.writes, &c.errors, &c.rejected, &c.evictions].map(load)
            }
            None => [0; 5],
        }
    }

    /// Hits, writes, errors, rejected values, waits and bypasses of the
    /// Redis tier (all 0 without one).
    #[cfg(feature = "redis")]
    fn redis_counts(&self) -> [u64; 6] {
        match &self.redis {
            Some(r) => {
                let c = &r.counters;
                [
                    &c.hits,
                    &c.writes,
                    &c.errors,
                    &c.rejected,
                    &c.waits,
                    &c.bypassed,
                ]
                .map(load)
            }
            None => [0; 6],
        }
    }

    #[cfg(not(feature = "redis"))]
    fn redis_counts(&self) -> [u64; 6] {
        [0; 6]
    }

    /// The configured time to live, if any.
    pub fn time_to_live(&self) -> Option<Duration> {
        self.config.time_to_live
    }
}

impl std::fmt::Debug for CachedQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedQuery")
            .field("dataset", &self.dataset().fingerprint())
            .field("entries", &self.memory.entry_count())
            .finish()
    }
}

/// What the Redis subscriber does with another worker's invalidation: drop
/// the matching memory entries.
#[cfg(feature = "redis")]
fn forget_invalidated(
    memory: MemoryTier,
    prefix: String,
) -> impl Fn(crate::tier::redis::Invalidation) + Send + 'static {
    use crate::tier::redis::{Invalidation, name};
    move |invalidation| {
        let doomed: Vec<Arc<QueryKey>> = memory
            .iter()
            .filter(|(key, _)| match &invalidation {
                Invalidation::Key(target) => name(&prefix, key) == *target,
                Invalidation::Dataset(dataset) => key.dataset() == *dataset,
            })
            .map(|(key, _)| key)
            .collect();
        for key in doomed {
            memory.invalidate(key.as_ref());
        }
    }
}
