//! Re-reading the files a cache was built from, and swapping in the new
//! version when their content changed: only the new rows when the files
//! only grew, the whole table otherwise.

use std::sync::Arc;

use super::stats::Counters;
use super::{CachedQuery, rollups};
use crate::Result;
use crate::dataset::{Appended, Dataset, Fingerprint, Origin};

/// What [`CachedQuery::refresh`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshOutcome {
    /// The fingerprint before the refresh.
    pub old: Fingerprint,
    /// The fingerprint now.
    pub new: Fingerprint,
    /// The rows read from what was appended, when the files only grew
    /// and only the new rows were read; `None` after a full reload (or no
    /// change).
    pub appended_rows: Option<usize>,
}

impl RefreshOutcome {
    /// Whether the data changed (and every old entry was dropped).
    pub fn changed(&self) -> bool {
        self.old != self.new
    }
}

impl CachedQuery {
    /// Re-reads the files the cache was built from. When their content (or
    /// nothing at all) changed, the new version is swapped in and every
    /// entry of the old one is dropped; requests already running on the old
    /// version finish on it, and their answers can never be served for the
    /// new one (the fingerprint is part of every key).
    ///
    /// When the files only grew (rows appended to a CSV file, its old bytes
    /// unchanged; files added after the last of a set), only the new rows
    /// are read, and the declared roll-ups are merged with the new rows'
    /// partial aggregates instead of computed again
    /// ([`CacheInfo::rollups_merged`](crate::CacheInfo::rollups_merged)).
    ///
    /// A cache built from a frame or bytes has nothing to re-read: the
    /// outcome says nothing changed.
    pub fn refresh(&self) -> Result<RefreshOutcome> {
        let refreshed = self.refresh_inner();
        if refreshed.is_err() {
            Counters::add(&self.counters.refresh_errors, 1);
        }
        refreshed
    }

    fn refresh_inner(&self) -> Result<RefreshOutcome> {
        let _one_at_a_time = self.refresh_lock.lock();
        let current = self.dataset();
        let old = current.fingerprint();
        let unchanged = RefreshOutcome {
            old,
            new: old,
            appended_rows: None,
        };
        let Origin::Files { path, options, .. } = current.origin() else {
            return Ok(unchanged);
        };
        match current.appended() {
            Ok(Some(appended)) => return self.swap_appended(&current, appended),
            Ok(None) => {}
            // Whatever stopped the append (a file that changed meanwhile,
            // an added file that does not fit), a whole load decides.
            Err(error) => {
                tracing::warn!(%error, "reading only the appended rows failed; loading the data again")
            }
        }
        // Hashing costs a read of the files, parsing much more: a touched
        // but unchanged file (`touch`, a save of the same bytes) is not
        // parsed again beside the table in memory. A scan is opened again
        // instead: its files' stamps changed, and until they are taken
        // anew every scan would refuse them as changed.
        if !current.is_scanned() && current.fingerprint_on_disk()? == Some(old) {
            return Ok(unchanged);
        }
        let fresh = match self.config.snapshot_dir() {
            Some(dir) => Dataset::from_path_with_snapshots(path, options, &dir)?,
            None => Dataset::from_path(path, options)?,
        }
        .with_name(current.name());
        let new = fresh.fingerprint();
        if new == old && fresh.is_scanned() {
            // The same content under new stamps: every entry still holds.
            *self.dataset.write() = Arc::new(fresh);
        } else if new != old {
            let fresh = Arc::new(fresh);
            let rollups = rollups::build(&self.config.rollups, &fresh)?;
            Counters::add(&self.counters.rollups_rebuilt, rollups.len() as u64);
            self.swap(&current, fresh, rollups);
            tracing::info!(%old, %new, "dataset changed; old entries dropped");
        }
        Ok(RefreshOutcome {
            old,
            new,
            appended_rows: None,
        })
    }

    /// Swaps in a version made by appending, its roll-ups merged.
    fn swap_appended(&self, current: &Dataset, appended: Appended) -> Result<RefreshOutcome> {
        let old = current.fingerprint();
        let fresh = Arc::new(appended.dataset);
        let new = fresh.fingerprint();
        let (rollups, updated) = rollups::update(
            &self.config.rollups,
            &self.rollups.read(),
            &fresh,
            &appended.rows,
            self.config.derive,
        )?;
        Counters::add(&self.counters.rollups_merged, updated.merged);
        Counters::add(&self.counters.rollups_rebuilt, updated.rebuilt);
        Counters::add(&self.counters.appends, 1);
        let rows = appended.rows.rows();
        self.swap(current, fresh, rollups);
        tracing::info!(%old, %new, rows, merged = updated.merged, rebuilt = updated.rebuilt, "rows appended; old entries dropped");
        Ok(RefreshOutcome {
            old,
            new,
            appended_rows: Some(rows),
        })
    }

    /// Puts `fresh` and its roll-ups in place of `current` and drops every
    /// entry of `current`'s version, in every tier.
    fn swap(&self, current: &Dataset, fresh: Arc<Dataset>, rollups: rollups::Rollups) {
        let (old, new) = (current.fingerprint(), fresh.fingerprint());
        for (key, _) in &rollups {
            self.derive_index.add(key);
        }
        *self.dataset.write() = fresh;
        *self.rollups.write() = rollups;
        self.derive_index.forget_dataset(old);
        self.learner.forget(new, &self.derive_index);
        self.invalidate_where(|key| key.dataset() != new);
        if let Some(source) = current.source_identity() {
            self.tiers.replace_dataset(old, new, &source);
        }
    }
}
