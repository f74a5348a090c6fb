//! Tiers below memory: the disk tier, the Redis tier, the codec they share
//! (Arrow IPC with a verified header), and the secret that signs entries
//! and invalidation messages.

// Public only for the tests that forge and damage entries.
#[doc(hidden)]
pub mod codec;
pub(crate) mod counters;
pub(crate) mod disk;
#[cfg(not(feature = "redis"))]
mod no_redis;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod secret;

use std::fmt;

use xxhash_rust::xxh3::xxh3_128;

pub use secret::TierSecret;

#[cfg(not(feature = "redis"))]
pub(crate) use no_redis::RedisTier;
#[cfg(feature = "redis")]
pub(crate) use redis::RedisTier;

use crate::normalize::QueryKey;

/// What asking the Redis tier to compute a key once across workers gave.
pub(crate) enum Once<T> {
    /// This worker computed it (holding the compute lock, or without one
    /// when Redis could not give it).
    Computed(T),
    /// Another worker computed it: its value, read from Redis.
    #[cfg_attr(not(feature = "redis"), expect(dead_code))]
    Found(codec::Decoded),
}

/// The name of `key`'s entry in both persisted tiers (a disk file, a Redis
/// key, each under its dataset's name): the hash of the key's full text.
/// The entry itself holds that text, checked on every read, so a collision
/// can only miss.
pub(crate) fn entry_name(key: &QueryKey) -> impl fmt::Display {
    EntryName(xxh3_128(key.stable_text().as_bytes()))
}

struct EntryName(u128);

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}
