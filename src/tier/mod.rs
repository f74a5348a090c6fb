//! Tiers below memory: the disk tier, the Redis tier, the codec they share
//! (Arrow IPC with a verified header), and the secret that signs entries
//! and invalidation messages.

// Public only for the tests that forge and damage entries.
#[doc(hidden)]
pub mod codec;
pub(crate) mod disk;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod secret;

pub use secret::TierSecret;
