//! What the memory tier stores for one key.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use polars::prelude::DataFrame;

use crate::normalize::QueryKey;

/// A cached result with what it cost and how often it was used.
pub(crate) struct Entry {
    pub(crate) frame: Arc<DataFrame>,
    pub(crate) cost: Duration,
    pub(crate) bytes: u64,
    pub(crate) hits: AtomicU64,
}

/// What an entry adds to the key's own allocation: a rough, fixed overhead
/// so that many tiny results still count against the budget.
const ENTRY_OVERHEAD: usize = 256;

/// The key's own allocations besides its canonical content.
const KEY_OVERHEAD: usize = 128;

impl Entry {
    pub(crate) fn new(frame: DataFrame, cost: Duration) -> Entry {
        let bytes = (frame.estimated_size() + ENTRY_OVERHEAD) as u64;
        Entry {
            frame: Arc::new(frame),
            cost,
            bytes,
            hits: AtomicU64::new(0),
        }
    }

    /// The weight moka counts against the budget (it takes a `u32`): the
    /// frame, and the key, whose canonical form holds every filter value
    /// (a long `in` list is kilobytes) and whose text form is kept once a
    /// slower tier has used it.
    pub(crate) fn weight(&self, key: &QueryKey) -> u32 {
        let key_bytes = 2 * key.stable_text().len() + KEY_OVERHEAD;
        u32::try_from(self.bytes.saturating_add(key_bytes as u64)).unwrap_or(u32::MAX)
    }
}
