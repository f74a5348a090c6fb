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
        if let Some(disk) = &self.disk {
            disk.put(key, &entry.frame, cost);
        }
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            redis.put(key, &entry.frame, cost, self.config.time_to_live);
        }
        self.keep_in_memory(key, &entry);
        Ok(entry)
    }

    /// Stores an entry in memory unless it is over the per-entry cap.
    fn keep_in_memory(&self, key: &QueryKey, entry: &Arc<Entry>) {
        if entry.bytes <= self.config.entry_cap() {
            self.memory.insert(key.clone(), Arc::clone(entry));
        } else {
            Counters::add(&self.counters.not_cached, 1);
            tracing::debug!(bytes = entry.bytes, query = %key, "result over the per-entry cap: not kept in memory");
        }
    }
}
