//! Which cached entries could be sources, found without scanning them all:
//! entries are indexed by their dataset and their exact filters, and a
//! query looks up each subset of its own filters.

use std::collections::HashMap;

use parking_lot::RwLock;

use crate::dataset::Fingerprint;
use crate::normalize::{CanonicalQuery, ColumnFilter, KeyBody, QueryKey};

/// More filters than this and only the query's full filter set and the
/// empty set are looked up (2^n subsets would be too many).
const MAX_SUBSET_FILTERS: usize = 6;

type Slot = (Fingerprint, Vec<ColumnFilter>);

/// Candidate sources by dataset and filters, and which derived entries came
/// from which source.
#[derive(Default)]
pub(crate) struct DeriveIndex {
    by_filters: RwLock<HashMap<Slot, Vec<QueryKey>>>,
    derived_from: RwLock<HashMap<QueryKey, Vec<QueryKey>>>,
}

fn slot(key: &QueryKey) -> Option<(Slot, &CanonicalQuery)> {
    match key.body() {
        KeyBody::Query(q) if q.limit.is_none() && !q.contradiction => {
            Some(((key.dataset(), q.filters.clone()), q))
        }
        _ => None,
    }
}

impl DeriveIndex {
    /// Records an entry that may serve as a source.
    pub(crate) fn add(&self, key: &QueryKey) {
        if let Some((slot, _)) = slot(key) {
            let mut index = self.by_filters.write();
            let keys = index.entry(slot).or_default();
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }

    /// Forgets an entry (evicted, expired or invalidated).
    pub(crate) fn remove(&self, key: &QueryKey) {
        if let Some((slot, _)) = slot(key) {
            let mut index = self.by_filters.write();
            if let Some(keys) = index.get_mut(&slot) {
                keys.retain(|k| k != key);
                if keys.is_empty() {
                    index.remove(&slot);
                }
            }
        }
    }

    /// The indexed entries whose filters are a subset of `q`'s.
    pub(crate) fn candidates(&self, dataset: Fingerprint, q: &CanonicalQuery) -> Vec<QueryKey> {
        let n = q.filters.len();
        let index = self.by_filters.read();
        if index.is_empty() {
            return Vec::new();
        }
        let masks: Vec<u64> = if n <= MAX_SUBSET_FILTERS {
            (0..1u64 << n).collect()
        } else {
            vec![0, u64::MAX]
        };
        let mut found = Vec::new();
        for mask in masks {
            let filters: Vec<ColumnFilter> = q
                .filters
                .iter()
                .enumerate()
                .filter(|(i, _)| *i >= 64 || mask & (1 << i) != 0)
                .map(|(_, f)| f.clone())
                .collect();
            if let Some(keys) = index.get(&(dataset, filters)) {
                found.extend(keys.iter().cloned());
            }
        }
        found
    }

    /// Records that `derived` was computed from `source`.
    pub(crate) fn link(&self, source: &QueryKey, derived: &QueryKey) {
        self.derived_from
            .write()
            .entry(source.clone())
            .or_default()
            .push(derived.clone());
    }

    /// The entries derived from `source`, forgotten here.
    pub(crate) fn take_derived(&self, source: &QueryKey) -> Vec<QueryKey> {
        self.derived_from.write().remove(source).unwrap_or_default()
    }

    /// Forgets everything of one dataset version.
    pub(crate) fn forget_dataset(&self, dataset: Fingerprint) {
        self.by_filters.write().retain(|(d, _), _| *d != dataset);
        self.derived_from
            .write()
            .retain(|k, _| k.dataset() != dataset);
    }
}
