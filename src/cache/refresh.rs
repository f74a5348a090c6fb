//! Re-reading the CSV file a cache was built from, and swapping in the new
//! version when its content changed.

use std::sync::Arc;

use super::{CachedQuery, rollups};
use crate::Result;
use crate::dataset::{Dataset, Fingerprint, Origin};

/// What [`CachedQuery::refresh`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshOutcome {
    /// The fingerprint before the refresh.
    pub old: Fingerprint,
    /// The fingerprint now.
    pub new: Fingerprint,
}

impl RefreshOutcome {
    /// Whether the data changed (and every old entry was dropped).
    pub fn changed(&self) -> bool {
        self.old != self.new
    }
}

impl CachedQuery {
    /// Re-reads the CSV file the cache was built from. When its content (or
    /// nothing at all) changed, the new version is swapped in and every
    /// entry of the old one is dropped; requests already running on the old
    /// version finish on it, and their answers can never be served for the
    /// new one (the fingerprint is part of every key).
    ///
    /// A cache built from a frame has nothing to re-read: the outcome says
    /// nothing changed.
    pub fn refresh(&self) -> Result<RefreshOutcome> {
        let _one_at_a_time = self.refresh_lock.lock();
        let current = self.dataset();
        let old = current.fingerprint();
        let Origin::Csv { path, options } = current.origin() else {
            return Ok(RefreshOutcome { old, new: old });
        };
        let fresh = match self.config.snapshot_dir() {
            Some(dir) => Dataset::from_csv_with_snapshots(path, options, &dir)?,
            None => Dataset::from_csv(path, options)?,
        }
        .with_name(current.name());
        let new = fresh.fingerprint();
        if new != old {
            let fresh = Arc::new(fresh);
            let rollups = rollups::build(&self.config.rollups, &fresh)?;
            for (key, _) in &rollups {
                self.derive_index.add(key);
            }
            *self.dataset.write() = fresh;
            *self.rollups.write() = rollups;
            self.derive_index.forget_dataset(old);
            self.learner.forget(new, &self.derive_index);
            self.invalidate_where(|key| key.dataset() != new);
            self.tiers.replace_dataset(old, new, path);
            tracing::info!(%old, %new, "dataset changed; old entries dropped");
        }
        Ok(RefreshOutcome { old, new })
    }
}
