//! Which cached entries could be sources, found without scanning them all:
//! entries are indexed by their dataset and the columns they filter, and a
//! query looks up each subset of its own filtered columns (a source may
//! filter a column more loosely than the query: an implied filter).

use std::collections::{HashMap, HashSet};

use parking_lot::RwLock;

use crate::dataset::Fingerprint;
use crate::normalize::{CanonicalQuery, KeyBody, QueryKey};

/// More filters than this and only the query's full filter set and the
/// empty set are looked up (2^n subsets would be too many).
const MAX_SUBSET_FILTERS: usize = 6;

/// A dataset version and the indexes of the columns filtered, ascending.
type Slot = (Fingerprint, Vec<usize>);

/// Candidate sources by dataset and filters, and which derived entries came
/// from which source.
#[derive(Default)]
pub(crate) struct DeriveIndex {
    by_columns: RwLock<HashMap<Slot, Vec<QueryKey>>>,
    links: RwLock<Links>,
}

/// Derived entries by source and the other way round, so that a derived
/// entry that leaves the cache takes its link with it: the links never
/// outnumber the entries.
#[derive(Default)]
struct Links {
    derived: HashMap<QueryKey, HashSet<QueryKey>>,
    source: HashMap<QueryKey, QueryKey>,
}

fn slot(key: &QueryKey) -> Option<(Slot, &CanonicalQuery)> {
    match key.body() {
        KeyBody::Query(q) if q.limit.is_none() && !q.contradiction => {
            let columns = q.filters.iter().map(|f| f.column.index).collect();
            Some(((key.dataset(), columns), q))
        }
        _ => None,
    }
}

impl DeriveIndex {
    /// Records an entry that may serve as a source.
    pub(crate) fn add(&self, key: &QueryKey) {
        if let Some((slot, _)) = slot(key) {
            let mut index = self.by_columns.write();
            let keys = index.entry(slot).or_default();
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }

    /// Forgets an entry (evicted, expired or invalidated). Entries derived
    /// from it keep their link, so invalidating it still takes them.
    pub(crate) fn remove(&self, key: &QueryKey) {
        self.links.write().unlink(key);
        if let Some((slot, _)) = slot(key) {
            let mut index = self.by_columns.write();
            if let Some(keys) = index.get_mut(&slot) {
                keys.retain(|k| k != key);
                if keys.is_empty() {
                    index.remove(&slot);
                }
            }
        }
    }

    /// The indexed entries whose filtered columns are a subset of `q`'s
    /// (filters are in column order, so each subset is one slot).
    pub(crate) fn candidates(&self, dataset: Fingerprint, q: &CanonicalQuery) -> Vec<QueryKey> {
        let n = q.filters.len();
        let index = self.by_columns.read();
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
            let columns: Vec<usize> = q
                .filters
                .iter()
                .enumerate()
                .filter(|(i, _)| *i >= 64 || mask & (1 << i) != 0)
                .map(|(_, f)| f.column.index)
                .collect();
            if let Some(keys) = index.get(&(dataset, columns)) {
                found.extend(keys.iter().cloned());
            }
        }
        found
    }

    /// Records that `derived` was computed from `source` (replacing any
    /// earlier source of `derived`).
    pub(crate) fn link(&self, source: &QueryKey, derived: &QueryKey) {
        let mut links = self.links.write();
        links.unlink(derived);
        links
            .derived
            .entry(source.clone())
            .or_default()
            .insert(derived.clone());
        links.source.insert(derived.clone(), source.clone());
    }

    /// The entries derived from `source`, forgotten here.
    pub(crate) fn take_derived(&self, source: &QueryKey) -> Vec<QueryKey> {
        let mut links = self.links.write();
        let derived = links.derived.remove(source).unwrap_or_default();
        for d in &derived {
            links.source.remove(d);
        }
        derived.into_iter().collect()
    }

    /// How many derived entries are linked to a source.
    #[cfg(test)]
    fn linked(&self) -> usize {
        let links = self.links.read();
        debug_assert_eq!(
            links.source.len(),
            links.derived.values().map(HashSet::len).sum::<usize>()
        );
        links.source.len()
    }

    /// Forgets everything of one dataset version.
    pub(crate) fn forget_dataset(&self, dataset: Fingerprint) {
        self.by_columns.write().retain(|(d, _), _| *d != dataset);
        let mut links = self.links.write();
        links.derived.retain(|k, _| k.dataset() != dataset);
        links.source.retain(|k, _| k.dataset() != dataset);
    }
}

impl Links {
    /// Forgets that `derived` came from its source.
    fn unlink(&mut self, derived: &QueryKey) {
        let Some(source) = self.source.remove(derived) else {
            return;
        };
        if let Some(set) = self.derived.get_mut(&source) {
            set.remove(derived);
            if set.is_empty() {
                self.derived.remove(&source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::KeyBody;

    fn key(name: &str) -> QueryKey {
        QueryKey::new(
            crate::dataset::Fingerprint(7),
            KeyBody::Function {
                name: name.to_owned(),
                args: String::new(),
            },
        )
    }

    #[test]
    fn links_are_never_duplicated_and_leave_with_their_entry() {
        let index = DeriveIndex::default();
        let (a, b, d) = (key("a"), key("b"), key("d"));
        index.link(&a, &d);
        index.link(&a, &d);
        assert_eq!(index.linked(), 1, "derived twice from one source: one link");
        index.link(&b, &d);
        assert_eq!(index.linked(), 1, "derived again from another source");
        assert!(index.take_derived(&a).is_empty());
        index.remove(&d);
        assert_eq!(index.linked(), 0, "an evicted derived entry takes its link");
        assert!(index.take_derived(&b).is_empty());
        index.link(&a, &d);
        index.remove(&a);
        assert_eq!(
            index.take_derived(&a),
            vec![d],
            "a source's links outlive its eviction"
        );
        assert_eq!(index.linked(), 0);
    }
}
