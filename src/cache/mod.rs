//! [`CachedQuery`]: the memoizing layer between callers and the dataset.

mod builder;
mod entry;
mod fill;
mod invalidate;
mod refresh;
mod requests;
mod rollups;
mod single_flight;
mod sql;
mod stats;
mod tiers;
#[cfg(feature = "watch")]
mod watch;

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
pub use refresh::RefreshOutcome;
pub use stats::{CacheInfo, QueryCount};
#[cfg(feature = "watch")]
pub use watch::Watcher;

pub(crate) use entry::Entry;
use single_flight::{Flights, Role};
use stats::Counters;
use tiers::Tiers;

use crate::dataset::Dataset;
use crate::derive::DeriveIndex;
use crate::frame::{Frame, Source};
use crate::learn::Learner;
use crate::normalize::{self, BuildPassThrough, KeyBody, Projection, QueryKey};
use crate::query::Query;
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
    requests: requests::NormalizedRequests,
    /// Disk and Redis.
    tiers: Tiers,
    derive_index: Arc<DeriveIndex>,
    /// Declared roll-ups: pinned, outside the memory budget.
    rollups: RwLock<Vec<(QueryKey, Arc<Entry>)>>,
    /// Roll-ups learned from the misses, in a budget of their own.
    learner: Learner,
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
        let memory = memory.build_with_hasher(BuildPassThrough);
        let dataset = match &config.name {
            Some(name) => dataset.with_name(name.clone()),
            None => dataset,
        };
        let tiers = Tiers::open(&config, &dataset, forget_in(memory.clone()))?;
        let dataset = Arc::new(dataset);
        let rollups = rollups::build(&config.rollups, &dataset)?;
        for (key, _) in &rollups {
            derive_index.add(key);
        }
        let learner = Learner::new(
            config.learned_rollup_bytes,
            config.derive,
            dataset.fingerprint(),
        );
        Ok(CachedQuery {
            dataset: RwLock::new(dataset),
            derive_index,
            rollups: RwLock::new(rollups),
            learner,
            memory,
            requests: requests::NormalizedRequests::new(),
            tiers,
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
        let keyed = self.requests.normalize(query, &dataset)?;
        self.lookup(&dataset, keyed.key(), keyed.projection(), |ds| {
            exec::execute(keyed.query(), ds)
        })
    }

    /// Answers `query` only if a tier holds the answer; never computes.
    /// A found answer counts as a hit; an absent one counts nothing, so a
    /// caller can try this first and fall back to [`get`](Self::get) (as the
    /// server does to keep hits off its blocking pool).
    pub fn get_cached(&self, query: &Query) -> Result<Option<Frame>> {
        let dataset = self.dataset();
        let keyed = self.requests.normalize(query, &dataset)?;
        match self.memory.get(keyed.key()) {
            Some(entry) => {
                self.count_hit(&entry);
                keyed
                    .projection()
                    .apply(&entry.frame, Source::Memory)
                    .map(Some)
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
        exec::lazy_frame(&normalized.query, &dataset)
    }

    /// The canonical key of `query`: equal for every query with the same
    /// answer on the current data.
    pub fn key(&self, query: &Query) -> Result<QueryKey> {
        Ok(self.requests.normalize(query, &self.dataset())?.into_key())
    }

    /// Plans and builds the learned roll-ups now, on this thread, from the
    /// misses seen so far (the cache otherwise does so on a thread of its
    /// own every few misses). For tests and warm-up scripts: after
    /// [`prewarm`](Self::prewarm), the roll-ups that contain the warmed
    /// queries' shapes answer their variants without a scan.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query, Source};
    ///
    /// let cache = CachedQuery::from_csv("data/sales.csv")?;
    /// let by_category = |year: i64, channel: &str| {
    ///     Query::new().eq("year", year).ne("channel", channel).group_by(["category"]).sum("units")
    /// };
    /// for year in [2021, 2022, 2023] {
    ///     for channel in ["Online", "Store"] {
    ///         cache.get(&by_category(year, channel))?;
    ///     }
    /// }
    /// // Six misses of one shape: worth a roll-up by category, year and
    /// // channel.
    /// cache.learn_rollups_now();
    /// let other_year = by_category(2024, "Online");
    /// assert_eq!(cache.get(&other_year)?.source(), Source::Derived);
    /// assert_eq!(cache.cache_info().learned_rollups[0].answered, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn learn_rollups_now(&self) {
        self.learner.learn_now(&self.dataset(), &self.derive_index);
    }

    /// Whether `query` is one of the roll-ups declared on the builder
    /// ([`CachedQueryBuilder::rollup`]), computed at load and pinned: equal
    /// queries written differently count.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query};
    ///
    /// let rollup = Query::new().group_by(["category", "month"]).sum("revenue");
    /// let cache = CachedQuery::builder().rollup(rollup).build_from_csv("data/sales.csv")?;
    /// assert!(cache.has_rollup(&Query::new().sum("revenue").group_by(["month", "category"]))?);
    /// assert!(!cache.has_rollup(&Query::new().group_by(["month"]).sum("revenue"))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_rollup(&self, query: &Query) -> Result<bool> {
        let key = self.key(query)?;
        Ok(self.rollups.read().iter().any(|(pinned, _)| *pinned == key))
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
        self.memoize_dataset(name, args, |dataset| match dataset.frame() {
            Some(frame) => compute(frame).map_err(Into::into),
            None => Err(Error::InvalidInput(
                "memoize runs on the table in memory; this dataset is scanned (scan mode)"
                    .to_owned(),
            )),
        })
    }

    /// [`memoize`](Self::memoize) of a function of the dataset rather than
    /// of its frame: it also runs on a scanned one.
    pub(crate) fn memoize_dataset<A, F>(&self, name: &str, args: &A, compute: F) -> Result<Frame>
    where
        A: Serialize + ?Sized,
        F: FnOnce(&Dataset) -> Result<DataFrame>,
    {
        let dataset = self.dataset();
        let key = self.memo_key(&dataset, name, args)?;
        let projection = Projection::Identity;
        let mut compute = Some(compute);
        self.lookup(&dataset, &key, &projection, |ds| match compute.take() {
            Some(f) => f(ds),
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

/// What another worker's invalidation does here: drop the entries of
/// `memory` whose keys it names.
fn forget_in(memory: MemoryTier) -> impl Fn(&dyn Fn(&QueryKey) -> bool) + Send + 'static {
    move |drops| {
        let doomed: Vec<Arc<QueryKey>> = memory
            .iter()
            .filter(|(key, _)| drops(key))
            .map(|(key, _)| key)
            .collect();
        for key in doomed {
            memory.invalidate(key.as_ref());
        }
    }
}
