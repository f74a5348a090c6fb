//! What the one caller of a key (the single flight's leader) does on a
//! memory miss: look in the slower tiers, in order, then compute.
//!
//! memory -> disk -> Redis -> (Redis compute lock) -> compute, then store
//! the answer in every tier. An answer found in a slower tier is promoted to
//! the faster ones.
//!
//! What a persisted tier gives back is checked against what its key says
//! the frame must hold (the schema of the query's plan, and its row bounds)
//! before it is used; a frame computed here that would fail that check is
//! not persisted.

use std::sync::Arc;
use std::time::Instant;

use polars::prelude::DataFrame;

use super::CachedQuery;
use super::entry::Entry;
use super::stats::Counters;
use crate::Result;
use crate::dataset::Dataset;
use crate::derive::DeriveMode;
use crate::frame::Source;
use crate::normalize::QueryKey;
use crate::tier::Once;
use crate::tier::codec::{Decoded, Expected};

/// What a key says its frame must hold.
enum Shape {
    /// A memoized computation: its key says nothing of its frame.
    Any,
    /// A query: the schema of its plan, and its row bounds.
    Known(Expected),
    /// A query whose plan's schema cannot be resolved: nothing persisted
    /// can be checked, so nothing persisted is used.
    Unknown,
}

impl Shape {
    fn of(dataset: &Dataset, key: &QueryKey) -> Shape {
        let Some(q) = key.query() else {
            return Shape::Any;
        };
        match crate::exec::lazy_frame(q, dataset).and_then(|lf| dataset.schema_of(lf)) {
            Ok(schema) => {
                // Without groups: one row (or none under `limit 0`); with
                // groups, no more than the rows grouped (nor the limit).
                let (min, max) = if q.group_by.is_empty() {
                    let one = q.limit.map_or(1, |l| l.min(1));
                    (one, one)
                } else {
                    let rows = dataset.rows();
                    (0, q.limit.map_or(rows, |l| l.min(rows)))
                };
                Shape::Known(Expected::schema(schema).rows(min, Some(max)))
            }
            Err(e) => {
                tracing::warn!(error = %e, query = %key, "cannot resolve the schema of a query; not reading it from the disk or Redis tier");
                Shape::Unknown
            }
        }
    }

    /// Whether entries read from a persisted tier may be used.
    fn readable(&self) -> bool {
        !matches!(self, Shape::Unknown)
    }

    fn expected(&self) -> Option<&Expected> {
        match self {
            Shape::Known(expected) => Some(expected),
            Shape::Any | Shape::Unknown => None,
        }
    }

    /// Whether a frame computed here may be persisted: a frame the check
    /// would refuse is kept in memory only (and logged: a bug).
    fn admits(&self, key: &QueryKey, frame: &DataFrame) -> bool {
        match self {
            Shape::Any => true,
            Shape::Unknown => false,
            Shape::Known(expected) => match expected.check(frame) {
                Ok(()) => true,
                Err(why) => {
                    tracing::warn!(reason = %why, query = %key, "a computed frame differs from its plan's schema; not persisting it");
                    false
                }
            },
        }
    }
}

impl CachedQuery {
    pub(super) fn fill(
        &self,
        dataset: &Dataset,
        key: &QueryKey,
        compute: impl FnOnce(&Dataset) -> Result<DataFrame>,
    ) -> Result<(Arc<Entry>, Source)> {
        // A flight that finished just before this one began has stored its
        // answer already: take it rather than look further.
        if let Some(entry) = self.memory.get(key) {
            return Ok((entry, Source::Memory));
        }
        let shape = self.tiers.any().then(|| Shape::of(dataset, key));
        let shape = shape.as_ref();
        if let Some(entry) = self.derive_from_cache(dataset, key, shape) {
            return Ok((entry, Source::Derived));
        }
        let readable = shape.is_some_and(Shape::readable);
        let expected = shape.and_then(Shape::expected);
        if readable && let Some((found, source)) = self.tiers.get(key, expected) {
            return Ok((self.adopt_found(key, found), source));
        }
        // With Redis, one worker computes while the others wait for its
        // answer (only when they can check what they read).
        let once = self.tiers.compute_once(key, readable, expected, || {
            self.compute(dataset, key, shape, compute)
        });
        match once {
            Once::Computed(result) => result.map(|entry| (entry, Source::Computed)),
            Once::Found(found) => Ok((self.adopt_found(key, found), Source::Redis)),
        }
    }

    /// Keeps in memory an answer a slower tier held (which the tiers have
    /// copied to the faster ones below memory already).
    fn adopt_found(&self, key: &QueryKey, found: Decoded) -> Arc<Entry> {
        let entry = Arc::new(Entry::new(found.frame, found.cost));
        self.keep_in_memory(key, &entry);
        entry
    }

    /// Runs the computation and stores the answer in every tier.
    fn compute(
        &self,
        dataset: &Dataset,
        key: &QueryKey,
        shape: Option<&Shape>,
        compute: impl FnOnce(&Dataset) -> Result<DataFrame>,
    ) -> Result<Arc<Entry>> {
        let started = Instant::now();
        let frame = compute(dataset)?;
        let cost = started.elapsed();
        Counters::add(&self.counters.computations, 1);
        Counters::add(&self.counters.compute_nanos, cost.as_nanos() as u64);
        tracing::debug!(ms = cost.as_secs_f64() * 1e3, query = %key, "computed");
        let entry = Arc::new(Entry::new(frame, cost));
        self.store(key, &entry, shape);
        self.learn_from(key, Some(cost));
        Ok(entry)
    }

    /// Tells the learner of a miss of the current version: computed (in
    /// `cost`) or derived. Derived misses count too: they are the demand
    /// that keeps the roll-up answering them worth its bytes.
    fn learn_from(&self, key: &QueryKey, cost: Option<std::time::Duration>) {
        if let Some(q) = key.query() {
            let current = self.dataset();
            if current.fingerprint() == key.dataset() {
                self.learner.record(q, cost, &current, &self.derive_index);
            }
        }
    }

    /// Stores a new answer in every tier (the persisted ones only if it
    /// has the shape its key implies).
    fn store(&self, key: &QueryKey, entry: &Arc<Entry>, shape: Option<&Shape>) {
        // Computed on a version a refresh replaced meanwhile: the caller
        // gets its answer, but no tier keeps it (nothing would ever ask
        // for that version again, and the refresh already purged it).
        if self.dataset().fingerprint() != key.dataset() {
            return;
        }
        if shape.is_some_and(|s| s.admits(key, &entry.frame)) {
            self.tiers.put(key, &entry.frame, entry.cost);
        }
        self.keep_in_memory(key, entry);
    }

    /// Derives the answer from the cached answer that contains it (the
    /// smallest, when several do), and stores it like a computed one.
    /// Derivation failing is logged; the caller then computes.
    fn derive_from_cache(
        &self,
        dataset: &Dataset,
        key: &QueryKey,
        shape: Option<&Shape>,
    ) -> Option<Arc<Entry>> {
        if self.config.derive == DeriveMode::Off {
            return None;
        }
        let q = key.query()?;
        let mut best: Option<(Arc<Entry>, QueryKey, crate::derive::Derivation)> = None;
        // Whether a declared roll-up contains the query (the best source
        // may still be a smaller answer).
        let mut declared = false;
        let pinned = self.rollups.read();
        for candidate in self.derive_index.candidates(key.dataset(), q) {
            let Some(s) = candidate.query() else { continue };
            let Some(plan) = crate::derive::derivation(q, s, dataset, self.config.derive) else {
                continue;
            };
            let pin = pinned.iter().find(|(k, _)| *k == candidate);
            declared |= pin.is_some();
            let entry = pin
                .map(|(_, e)| Arc::clone(e))
                .or_else(|| self.learner.entry(&candidate))
                .or_else(|| self.memory.get(&candidate));
            let Some(entry) = entry else { continue };
            if best
                .as_ref()
                .is_none_or(|(b, _, _)| entry.frame.height() < b.frame.height())
            {
                best = Some((entry, candidate, plan));
            }
        }
        drop(pinned);
        let (source, source_key, plan) = best?;
        let s = source_key.query()?;
        let started = Instant::now();
        let frame = match crate::derive::derive(&source.frame, s, q, &plan, dataset) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!(error = %e, query = %key, "cannot derive an answer; computing it instead");
                return None;
            }
        };
        let cost = started.elapsed();
        self.learner.answered(&source_key);
        let entry = Arc::new(Entry::new(frame, cost));
        self.store(key, &entry, shape);
        // What a declared roll-up contains needs no learned one.
        if !declared {
            self.learn_from(key, None);
        }
        // Only an entry kept in memory is linked: the link leaves with it.
        if self.memory.contains_key(key) {
            self.derive_index.link(&source_key, key);
        }
        Some(entry)
    }

    /// Stores an entry in memory unless it is over the per-entry cap.
    fn keep_in_memory(&self, key: &QueryKey, entry: &Arc<Entry>) {
        if entry.bytes <= self.config.entry_cap() {
            self.memory.insert(key.clone(), Arc::clone(entry));
            self.derive_index.add(key);
        } else {
            Counters::add(&self.counters.not_cached, 1);
            tracing::debug!(bytes = entry.bytes, query = %key, "result over the per-entry cap: not kept in memory");
        }
    }
}
