//! The counters of the tiers below memory, which
//! [`CacheInfo`](crate::CacheInfo) reports. Both exist whatever the
//! features: a cache without a Redis tier reports its counters as zeros.

use std::sync::atomic::AtomicU64;

/// Counters of the disk tier.
#[derive(Default)]
pub(crate) struct DiskCounters {
    pub(crate) hits: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) rejected: AtomicU64,
    /// Of `rejected`: entries without the MAC the tier secret requires, or
    /// with a wrong one.
    pub(crate) forged: AtomicU64,
    /// Of `rejected`: entries whose frame is not what their key implies.
    pub(crate) wrong_schema: AtomicU64,
    pub(crate) evictions: AtomicU64,
}

/// Counters of the Redis tier.
#[derive(Default)]
pub(crate) struct RedisCounters {
    pub(crate) hits: AtomicU64,
    pub(crate) writes: AtomicU64,
    /// Connection failures and timeouts (each opened the breaker).
    pub(crate) errors: AtomicU64,
    /// Commands Redis answered with an error (out of memory, wrong type).
    pub(crate) refused: AtomicU64,
    pub(crate) rejected: AtomicU64,
    /// Values and messages without the MAC the secret requires, or with a
    /// wrong one.
    pub(crate) forged: AtomicU64,
    /// Of `rejected`: values whose frame is not what their key implies.
    pub(crate) wrong_schema: AtomicU64,
    pub(crate) waits: AtomicU64,
    pub(crate) bypassed: AtomicU64,
    /// Invalidation messages ignored: malformed, unsigned or forged.
    pub(crate) bad_messages: AtomicU64,
}
