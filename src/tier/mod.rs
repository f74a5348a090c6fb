//! Tiers below memory: the disk tier, and the codec that persisted tiers
//! share (Arrow IPC with a verified header).

pub mod codec;
pub(crate) mod disk;
