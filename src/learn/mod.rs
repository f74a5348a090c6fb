//! Roll-ups learned from the workload: the cache watches the shapes of the
//! misses it computes and, within a byte budget of its own, builds the
//! roll-ups that would have answered most of them (see [`plan`]). Built on
//! a thread of their own, never blocking a hit or a miss; replaced as the
//! workload shifts; dropped with their data version. Misses they contain
//! are then derived from them like from any cached answer.

mod plan;
mod workload;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::cache::Entry;
use crate::dataset::{Dataset, Fingerprint};
use crate::derive::{DeriveIndex, DeriveMode};
use crate::normalize::{self, CanonicalQuery, QueryKey};
use crate::query::{Agg, AggFn, Query};

use plan::{Planned, Table};
use workload::{Shape, Workload};

/// A roll-up the cache learned, as [`CacheInfo`](crate::CacheInfo) reports
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LearnedRollup {
    /// The roll-up, in SQL words.
    pub query: String,
    /// Its rows.
    pub rows: u64,
    /// Its estimated bytes.
    pub bytes: u64,
    /// Misses answered from it since it was built.
    pub answered: u64,
}

/// One learned roll-up, held outside the memory tier.
struct View {
    /// What it groups by and holds, as planned.
    group: BTreeSet<usize>,
    parts: BTreeSet<workload::Part>,
    key: QueryKey,
    entry: Arc<Entry>,
    answered: AtomicU64,
}

/// Misses between two plans.
const PLAN_EVERY: u64 = 8;

/// The learner of one cache.
pub(crate) struct Learner {
    shared: Arc<Shared>,
}

struct Shared {
    /// The byte budget; 0 turns learning off.
    budget: u64,
    mode: DeriveMode,
    workload: Mutex<Workload>,
    views: RwLock<Vec<View>>,
    /// The data version views are built for; a build for another one is
    /// thrown away.
    version: Mutex<Fingerprint>,
    /// Misses recorded since the last plan.
    fresh: AtomicU64,
    /// A plan is running (on its thread, or called for).
    planning: AtomicBool,
    /// Each column's distinct values, measured once per data version.
    distinct: Mutex<Option<(Fingerprint, Vec<u64>)>>,
    /// Time spent computing the misses recorded, and building views, to
    /// weigh a build against the misses it saves.
    miss_time: Timing,
    build_time: Timing,
}

/// Clears the planning flag when a plan ends, even by a panic (a Polars
/// bug while building a view): learning goes on, and `learn_now` does not
/// wait forever.
struct Planning<'a>(&'a AtomicBool);

impl Drop for Planning<'_> {
    fn drop(&mut self) {
        self.0.store(false, Relaxed);
    }
}

/// A running total of durations.
#[derive(Default)]
struct Timing {
    nanos: AtomicU64,
    count: AtomicU64,
}

impl Timing {
    fn add(&self, d: std::time::Duration) {
        self.nanos.fetch_add(d.as_nanos() as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    fn mean(&self) -> Option<f64> {
        let count = self.count.load(Relaxed);
        (count > 0).then(|| self.nanos.load(Relaxed) as f64 / count as f64)
    }
}

/// A view build, in misses, until one was timed: a roll-up aggregates
/// every row where a dashboard's miss aggregates the few its filters keep.
const BUILD_IN_MISSES: f64 = 4.0;

impl Learner {
    pub(crate) fn new(budget: u64, mode: DeriveMode, version: Fingerprint) -> Learner {
        Learner {
            shared: Arc::new(Shared {
                budget: if mode == DeriveMode::Off { 0 } else { budget },
                mode,
                workload: Mutex::new(Workload::default()),
                views: RwLock::new(Vec::new()),
                version: Mutex::new(version),
                fresh: AtomicU64::new(0),
                planning: AtomicBool::new(false),
                distinct: Mutex::new(None),
                miss_time: Timing::default(),
                build_time: Timing::default(),
            }),
        }
    }

    /// Records a miss, computed in `cost` or derived (`None`); every few
    /// misses, plans and builds on a thread of its own (one plan at a
    /// time).
    pub(crate) fn record(
        &self,
        q: &CanonicalQuery,
        cost: Option<std::time::Duration>,
        dataset: &Arc<Dataset>,
        index: &Arc<DeriveIndex>,
    ) {
        let shared = &self.shared;
        if shared.budget == 0 {
            return;
        }
        if let Some(cost) = cost {
            shared.miss_time.add(cost);
        }
        let Some(shape) = Shape::of(q, dataset, shared.mode) else {
            return;
        };
        shared.workload.lock().add(shape);
        if shared.fresh.fetch_add(1, Relaxed) + 1 < PLAN_EVERY
            || shared.planning.swap(true, Relaxed)
        {
            return;
        }
        let (shared, dataset, index) = (Arc::clone(shared), Arc::clone(dataset), Arc::clone(index));
        let spawned = std::thread::Builder::new()
            .name("pqc-learn".to_owned())
            .spawn(move || {
                let _done = Planning(&shared.planning);
                shared.plan_and_build(&dataset, &index);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the roll-up learner; trying again later");
            self.shared.planning.store(false, Relaxed);
        }
    }

    /// Plans and builds now, on this thread, after any plan under way.
    pub(crate) fn learn_now(&self, dataset: &Arc<Dataset>, index: &Arc<DeriveIndex>) {
        let shared = &self.shared;
        if shared.budget == 0 {
            return;
        }
        while shared.planning.swap(true, Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _done = Planning(&shared.planning);
        shared.plan_and_build(dataset, index);
    }

    /// The learned roll-up under `key`, if there is one.
    pub(crate) fn entry(&self, key: &QueryKey) -> Option<Arc<Entry>> {
        let views = self.shared.views.read();
        views
            .iter()
            .find(|v| v.key == *key)
            .map(|v| Arc::clone(&v.entry))
    }

    /// Counts a miss answered from the learned roll-up under `key`.
    pub(crate) fn answered(&self, key: &QueryKey) {
        if let Some(v) = self.shared.views.read().iter().find(|v| v.key == *key) {
            v.answered.fetch_add(1, Relaxed);
        }
    }

    /// The keys of the learned roll-ups, for the derive index.
    pub(crate) fn keys(&self) -> Vec<QueryKey> {
        self.shared
            .views
            .read()
            .iter()
            .map(|v| v.key.clone())
            .collect()
    }

    /// Drops every roll-up and what was learned: the data is now `version`.
    pub(crate) fn forget(&self, version: Fingerprint, index: &DeriveIndex) {
        let shared = &self.shared;
        *shared.version.lock() = version;
        shared.workload.lock().clear();
        shared.fresh.store(0, Relaxed);
        for view in shared.views.write().drain(..) {
            index.remove(&view.key);
        }
    }

    /// What `cache_info` reports.
    pub(crate) fn info(&self) -> Vec<LearnedRollup> {
        self.shared
            .views
            .read()
            .iter()
            .map(|v| LearnedRollup {
                query: v.key.to_string(),
                rows: v.entry.frame.height() as u64,
                bytes: v.entry.bytes,
                answered: v.answered.load(Relaxed),
            })
            .collect()
    }
}

impl Shared {
    fn plan_and_build(&self, dataset: &Arc<Dataset>, index: &DeriveIndex) {
        let version = dataset.fingerprint();
        if *self.version.lock() != version {
            return;
        }
        self.fresh.store(0, Relaxed);
        let mut shapes = self.workload.lock().take_snapshot();
        if shapes.is_empty() {
            return;
        }
        // What the planner weighs is the misses to come: each shape's
        // share of the misses seen, over the next `HALF_LIFE` of them.
        // Early on, the few misses seen are no measure of how many will
        // come, and weighing only them held the first roll-ups back until
        // dozens of misses had scanned.
        let seen: f64 = shapes.iter().map(|(_, w)| w).sum();
        let ahead = (workload::HALF_LIFE / seen).max(1.0);
        for (_, w) in &mut shapes {
            *w *= ahead;
        }
        let distinct = self.distinct(dataset, &shapes);
        let build_in_misses = match (self.build_time.mean(), self.miss_time.mean()) {
            (Some(build), Some(miss)) if miss > 0.0 => (build / miss).clamp(1.0, 1_000.0),
            _ => BUILD_IN_MISSES,
        };
        let table = Table {
            rows: dataset.rows() as u64,
            build_rows: build_in_misses * dataset.rows() as f64,
            distinct: &|c| distinct.get(c).copied().unwrap_or(u64::MAX),
        };
        let held: Vec<plan::Held> = self
            .views
            .read()
            .iter()
            .map(|v| {
                (
                    v.group.clone(),
                    v.parts.clone(),
                    v.entry.frame.height() as u64,
                )
            })
            .collect();
        let mut planned = plan::plan(&shapes, &table, self.budget, &held);
        // The finest first, so that a view contained in another is rolled
        // up from it rather than scanned.
        planned.sort_by_key(|p| std::cmp::Reverse(p.group.len()));
        // Keep what is planned and built already; build the rest, within
        // the budget as measured, not as estimated.
        let mut kept: Vec<(&Planned, QueryKey, Arc<Entry>)> = Vec::new();
        let mut used = 0u64;
        for p in &planned {
            let query = view_query(p, dataset);
            let keyed = match normalize::normalize(&query, dataset) {
                Ok(n) => n.keyed(version),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot build a learned roll-up");
                    continue;
                }
            };
            let key = keyed.into_key();
            let built = self
                .views
                .read()
                .iter()
                .find(|v| v.key == key)
                .map(|v| Arc::clone(&v.entry));
            let (entry, new) = match built {
                Some(entry) => (entry, false),
                None => {
                    let Some(q) = key.query() else { continue };
                    // Rolled up outside the lock, which a refresh waits
                    // for (and the queries behind it).
                    let views: Vec<(QueryKey, Arc<Entry>)> = self
                        .views
                        .read()
                        .iter()
                        .map(|v| (v.key.clone(), Arc::clone(&v.entry)))
                        .collect();
                    let sources = views
                        .iter()
                        .map(|(k, e)| (k, e))
                        .chain(kept.iter().map(|(_, k, e)| (k, e)));
                    let rolled = roll_up(q, sources, dataset, self.mode);
                    match rolled.or_else(|| self.build(q, &key, dataset)) {
                        Some(entry) => (entry, true),
                        None => continue,
                    }
                }
            };
            if used + entry.bytes > self.budget {
                continue;
            }
            used += entry.bytes;
            if new {
                // Answering at once, not when the whole plan is built:
                // the views after it take a scan each, and the misses it
                // answers meanwhile would scan too.
                self.publish(p, &key, &entry, version, index);
            }
            kept.push((p, key, entry));
        }
        let mut views = self.views.write();
        if *self.version.lock() != version {
            return;
        }
        for old in views.iter() {
            if !kept.iter().any(|(_, k, _)| *k == old.key) {
                index.remove(&old.key);
            }
        }
        let answered = |key: &QueryKey| {
            views
                .iter()
                .find(|v| v.key == *key)
                .map_or(0, |v| v.answered.load(Relaxed))
        };
        let next: Vec<View> = kept
            .into_iter()
            .map(|(planned, key, entry)| {
                index.add(&key);
                View {
                    group: planned.group.clone(),
                    parts: planned.parts.clone(),
                    answered: AtomicU64::new(answered(&key)),
                    key,
                    entry,
                }
            })
            .collect();
        *views = next;
        tracing::debug!(
            views = views.len(),
            bytes = used,
            "learned roll-ups planned"
        );
    }

    /// Adds a view built during a plan to those answering misses, if the
    /// budget has room for it beside every view held (the plan's end
    /// drops those it did not keep).
    fn publish(
        &self,
        planned: &Planned,
        key: &QueryKey,
        entry: &Arc<Entry>,
        version: Fingerprint,
        index: &DeriveIndex,
    ) {
        let mut views = self.views.write();
        let held: u64 = views.iter().map(|v| v.entry.bytes).sum();
        if *self.version.lock() != version || held + entry.bytes > self.budget {
            return;
        }
        index.add(key);
        views.push(View {
            group: planned.group.clone(),
            parts: planned.parts.clone(),
            key: key.clone(),
            entry: Arc::clone(entry),
            answered: AtomicU64::new(0),
        });
    }

    /// Builds a view by scanning the table (timed, to weigh the next
    /// builds against the misses they save).
    fn build(&self, q: &CanonicalQuery, key: &QueryKey, dataset: &Dataset) -> Option<Arc<Entry>> {
        let started = Instant::now();
        match crate::exec::execute_rollup(q, dataset) {
            Ok(frame) => {
                let took = started.elapsed();
                self.build_time.add(took);
                tracing::debug!(ms = took.as_secs_f64() * 1e3, rollup = %key, "built a learned roll-up");
                Some(Arc::new(Entry::new(frame, took)))
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot build a learned roll-up");
                None
            }
        }
    }

    /// Distinct values of each column (nulls as one value), measured once
    /// per data version for the columns the shapes group by.
    fn distinct(&self, dataset: &Dataset, shapes: &[(Shape, f64)]) -> Vec<u64> {
        let version = dataset.fingerprint();
        let mut known = self.distinct.lock();
        let counts = match known.take() {
            Some((v, counts)) if v == version => counts,
            _ => vec![u64::MAX; dataset.columns().len()],
        };
        let wanted: BTreeSet<usize> = shapes
            .iter()
            .flat_map(|(s, _)| s.group.iter().copied())
            .collect();
        let mut counts = counts;
        for c in wanted {
            if counts[c] == u64::MAX {
                counts[c] = dataset.distinct_count(c).map_or(u64::MAX, |n| n as u64);
            }
        }
        *known = Some((version, counts.clone()));
        counts
    }
}

/// The view `q` rolled up from the smallest of `sources` that contains it:
/// a roll-up of a few thousand rows instead of a scan of the table.
fn roll_up<'a>(
    q: &CanonicalQuery,
    sources: impl Iterator<Item = (&'a QueryKey, &'a Arc<Entry>)>,
    dataset: &Dataset,
    mode: DeriveMode,
) -> Option<Arc<Entry>> {
    let (source, s, how) = sources
        .filter_map(|(key, entry)| {
            let s = key.query()?;
            let how = crate::derive::derivation(q, s, dataset, mode)?;
            Some((entry, s, how))
        })
        .min_by_key(|(entry, _, _)| entry.frame.height())?;
    let started = Instant::now();
    match crate::derive::derive(&source.frame, s, q, &how, dataset) {
        Ok(frame) => Some(Arc::new(Entry::new(frame, started.elapsed()))),
        Err(e) => {
            tracing::warn!(error = %e, "cannot roll a learned roll-up up from another; scanning");
            None
        }
    }
}

/// The query that builds a planned roll-up: grouped by its columns, with
/// its aggregates, unfiltered.
fn view_query(p: &Planned, dataset: &Dataset) -> Query {
    let name = |c: usize| dataset.columns()[c].name.clone();
    let mut query = Query::new().group_by(p.group.iter().map(|&c| name(c)));
    for &(func, column) in &p.parts {
        query = query.agg(match (func, column) {
            (AggFn::Len, _) | (_, None) => Agg::len(),
            (func, Some(c)) => Agg::new(func, name(c)),
        });
    }
    query
}
