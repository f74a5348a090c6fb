//! What the one caller of a key (the single flight's leader) does on a
//! memory miss: look in the slower tiers, in order, then compute.
//!
//! memory -> disk -> Redis -> (Redis compute lock) -> compute, then store
//! the answer in every tier. An answer found in a slower tier is promoted to
//! the faster ones.

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
        if let Some(entry) = self.derive_from_cache(dataset, key) {
            return Ok((entry, Source::Derived));
        }
        if let Some(decoded) = self.disk.as_ref().and_then(|d| d.get(key)) {
            let entry = Arc::new(Entry::new(decoded.frame, decoded.cost));
            self.keep_in_memory(key, &entry);
            return Ok((entry, Source::Disk));
        }
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            use crate::tier::redis::Lock;
            let promote = |decoded: crate::tier::codec::Decoded| {
                let entry = Arc::new(Entry::new(decoded.frame, decoded.cost));
                if let Some(disk) = &self.disk {
                    disk.put(key, &entry.frame, entry.cost);
                }
                self.keep_in_memory(key, &entry);
                (entry, Source::Redis)
            };
            if let Some(decoded) = redis.get(key) {
                return Ok(promote(decoded));
            }
            match redis.lock(key) {
                Lock::Held(token) => {
                    let result = self.compute(dataset, key, compute);
                    redis.unlock(key, &token);
                    return result.map(|entry| (entry, Source::Computed));
                }
                Lock::Busy => {
                    if let Some(decoded) = redis.wait_for(key) {
                        return Ok(promote(decoded));
                    }
                }
                Lock::Unavailable => {}
            }
        }
        self.compute(dataset, key, compute)
            .map(|entry| (entry, Source::Computed))
    }

    /// Runs the computation and stores the answer in every tier.
    fn compute(
        &self,
        dataset: &Dataset,
        key: &QueryKey,
        compute: impl FnOnce(&Dataset) -> Result<DataFrame>,
    ) -> Result<Arc<Entry>> {
        let started = Instant::now();
        let frame = compute(dataset)?;
        let cost = started.elapsed();
        Counters::add(&self.counters.computations, 1);
        Counters::add(&self.counters.compute_nanos, cost.as_nanos() as u64);
        let entry = Arc::new(Entry::new(frame, cost));
        self.store(key, &entry);
        Ok(entry)
    }

    /// Stores a new answer in every tier.
    fn store(&self, key: &QueryKey, entry: &Arc<Entry>) {
        if let Some(disk) = &self.disk {
            disk.put(key, &entry.frame, entry.cost);
        }
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            redis.put(key, &entry.frame, entry.cost, self.config.time_to_live);
        }
        self.keep_in_memory(key, entry);
    }

    /// Derives the answer from the cached answer that contains it (the
    /// smallest, when several do), and stores it like a computed one.
    /// Derivation failing is logged; the caller then computes.
    fn derive_from_cache(&self, dataset: &Dataset, key: &QueryKey) -> Option<Arc<Entry>> {
        if self.config.derive == DeriveMode::Off {
            return None;
        }
        let q = key.query()?;
        let mut best: Option<(Arc<Entry>, QueryKey, crate::derive::Plan)> = None;
        let pinned = self.rollups.read();
        for candidate in self.derive_index.candidates(key.dataset(), q) {
            let Some(s) = candidate.query() else { continue };
            let Some(plan) = crate::derive::plan(q, s, dataset, self.config.derive) else {
                continue;
            };
            let entry = pinned
                .iter()
                .find(|(k, _)| *k == candidate)
                .map(|(_, e)| Arc::clone(e))
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
        let entry = Arc::new(Entry::new(frame, cost));
        self.store(key, &entry);
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
