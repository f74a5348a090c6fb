//! Tiers below memory: the disk tier, the Redis tier, and the codec they
//! share (Arrow IPC with a verified header).

pub mod codec;
pub(crate) mod disk;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
