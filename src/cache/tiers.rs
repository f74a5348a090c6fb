//! The tiers below memory as one: the disk tier and the Redis tier (each
//! optional), so that every lookup, store and removal reaches both the same
//! way. Without the `redis` feature the Redis part is a type with no values
//! (see `tier::no_redis`), and the same code runs.

use std::collections::HashSet;
use std::time::Duration;

use polars::prelude::DataFrame;

use super::CachedQueryBuilder;
use crate::Result;
use crate::dataset::{Dataset, Fingerprint};
use crate::frame::Source;
use crate::normalize::{BuildPassThrough, QueryKey};
use crate::tier::codec::{Decoded, Expected};
use crate::tier::counters::{DiskCounters, RedisCounters};
use crate::tier::disk::DiskTier;
use crate::tier::{Once, RedisTier};

/// Keys, hashed as the memory tier hashes them.
pub(crate) type KeySet = HashSet<QueryKey, BuildPassThrough>;

/// The disk and Redis tiers, whichever are configured.
pub(crate) struct Tiers {
    disk: Option<DiskTier>,
    redis: Option<RedisTier>,
}

impl Tiers {
    /// Opens the configured tiers for `dataset`, and drops what they hold
    /// of older versions of its file. Other workers' invalidations reach
    /// `forget` (see `RedisTier::subscribe`), which
    /// drops the entries of this process's memory tier they name.
    pub(crate) fn open(
        config: &CachedQueryBuilder,
        dataset: &Dataset,
        #[cfg_attr(not(feature = "redis"), expect(unused_variables))] forget: impl Fn(
            &dyn Fn(&QueryKey) -> bool,
        ) + Send
        + 'static,
    ) -> Result<Tiers> {
        let source = dataset.source_identity();
        let disk = config.disk_dir.as_ref().map(|dir| {
            DiskTier::open(
                &dir.join("results"),
                config.disk_max_bytes,
                config.time_to_live,
                config.tier_secret.clone(),
            )
        });
        if let (Some(disk), Some(source)) = (&disk, &source) {
            disk.adopt(dataset.fingerprint(), source);
        }
        #[cfg(feature = "redis")]
        let redis = match &config.redis {
            Some(options) => {
                let tier = RedisTier::connect(
                    options.clone(),
                    config.tier_secret.clone(),
                    config.redis_entry_ttl(),
                )?;
                tier.subscribe(forget);
                Some(tier)
            }
            None => None,
        };
        #[cfg(not(feature = "redis"))]
        let redis: Option<RedisTier> = None;
        if let (Some(redis), Some(source)) = (&redis, &source) {
            redis.adopt(dataset.fingerprint(), source, None);
        }
        Ok(Tiers { disk, redis })
    }

    /// Whether any tier is configured.
    pub(crate) fn any(&self) -> bool {
        self.disk.is_some() || self.redis.is_some()
    }

    /// `key`'s answer from the first tier that holds a valid one (whose
    /// frame is what `expected` says, when given), and which tier that
    /// was. An answer found in Redis is copied to disk.
    pub(crate) fn get(
        &self,
        key: &QueryKey,
        expected: Option<&Expected>,
    ) -> Option<(Decoded, Source)> {
        if let Some(found) = self.disk.as_ref().and_then(|d| d.get(key, expected)) {
            return Some((found, Source::Disk));
        }
        let found = self.redis.as_ref()?.get(key, expected)?;
        self.promote(key, &found);
        Some((found, Source::Redis))
    }

    /// Runs `compute` for `key` once across the workers sharing Redis (see
    /// `RedisTier::compute_once`); without Redis,
    /// just runs it. An answer another worker computed is copied to disk.
    pub(crate) fn compute_once<T>(
        &self,
        key: &QueryKey,
        wait: bool,
        expected: Option<&Expected>,
        compute: impl FnOnce() -> T,
    ) -> Once<T> {
        let Some(redis) = &self.redis else {
            return Once::Computed(compute());
        };
        let once = redis.compute_once(key, wait, expected, compute);
        if let Once::Found(found) = &once {
            self.promote(key, found);
        }
        once
    }

    fn promote(&self, key: &QueryKey, found: &Decoded) {
        if let Some(disk) = &self.disk {
            disk.put(key, &found.frame, found.cost);
        }
    }

    /// Stores `frame` as `key`'s answer in every tier.
    pub(crate) fn put(&self, key: &QueryKey, frame: &DataFrame, cost: Duration) {
        if let Some(disk) = &self.disk {
            disk.put(key, frame, cost);
        }
        if let Some(redis) = &self.redis {
            redis.put(key, frame, cost);
        }
    }

    /// Drops `key`'s answer from every tier, and tells the other workers.
    /// Returns whether the disk held one.
    pub(crate) fn remove(&self, key: &QueryKey) -> bool {
        let on_disk = self.disk.as_ref().is_some_and(|d| d.remove(key));
        // Last: the published invalidation also reaches this process's own
        // subscriber, which must not be the one to find the entry first.
        if let Some(redis) = &self.redis {
            redis.remove(key);
        }
        on_disk
    }

    /// Drops the disk entries whose keys this process knows and `predicate`
    /// accepts, and the Redis values of those and of `dropped` (the keys
    /// already dropped from memory), telling the other workers. Returns
    /// every key dropped.
    pub(crate) fn remove_where(
        &self,
        predicate: &dyn Fn(&QueryKey) -> bool,
        mut dropped: KeySet,
    ) -> KeySet {
        if let Some(disk) = &self.disk {
            dropped.extend(disk.remove_where(predicate));
        }
        if let Some(redis) = &self.redis {
            for key in &dropped {
                redis.remove(key);
            }
        }
        dropped
    }

    /// Drops every answer of one dataset version, and tells the other
    /// workers.
    pub(crate) fn remove_dataset(&self, dataset: Fingerprint) {
        if let Some(disk) = &self.disk {
            disk.remove_dataset(dataset);
        }
        if let Some(redis) = &self.redis {
            redis.remove_dataset(dataset);
        }
    }

    /// Records `new` as the current version of `source` (a dataset's
    /// `source_identity`) after a refresh replaced `old`: the old version's
    /// answers go (Redis's in the background: they are unreachable already).
    pub(crate) fn replace_dataset(&self, old: Fingerprint, new: Fingerprint, source: &str) {
        if let Some(disk) = &self.disk {
            disk.remove_dataset(old);
            disk.adopt(new, source);
        }
        if let Some(redis) = &self.redis {
            redis.adopt(new, source, Some(old));
        }
    }

    /// The disk tier's counters, if there is one.
    pub(crate) fn disk_counters(&self) -> Option<&DiskCounters> {
        self.disk.as_ref().map(|d| &d.counters)
    }

    /// Entries and bytes on disk (0 without a disk tier).
    pub(crate) fn disk_usage(&self) -> (u64, u64) {
        self.disk.as_ref().map_or((0, 0), DiskTier::usage)
    }

    /// The Redis tier's counters, if there is one.
    pub(crate) fn redis_counters(&self) -> Option<&RedisCounters> {
        self.redis.as_ref().map(RedisTier::counters)
    }
}
