//! Dropping entries: one query's, a memoized call's, those a predicate, a
//! column or a value selects, or all of them. Each reaches every tier, and
//! through Redis every worker; answers derived from a dropped one go with
//! it.

use std::sync::Arc;

use serde::Serialize;

use super::CachedQuery;
use super::tiers::KeySet;
use crate::Result;
use crate::normalize::{self, QueryKey};
use crate::query::{Query, Value};

impl CachedQuery {
    /// Drops the entry of `query` (and so of every query equivalent to it).
    /// Returns whether there was one.
    pub fn invalidate(&self, query: &Query) -> Result<bool> {
        let key = self.key(query)?;
        Ok(self.remove(&key))
    }

    fn remove(&self, key: &QueryKey) -> bool {
        // Answers derived from this one go with it.
        for derived in self.derive_index.take_derived(key) {
            self.remove(&derived);
        }
        let in_memory = self.memory.remove(key).is_some();
        let in_tiers = self.tiers.remove(key);
        in_memory || in_tiers
    }

    /// Drops the entry of a memoized computation with these arguments.
    pub fn invalidate_memoized<A: Serialize + ?Sized>(&self, name: &str, args: &A) -> Result<bool> {
        let key = self.memo_key(&self.dataset(), name, args)?;
        Ok(self.remove(&key))
    }

    /// Drops every entry whose key satisfies `predicate`, for example every
    /// query that filters on a column, or every call of a memoized function.
    /// Returns how many were dropped.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query};
    /// # let df = polars::df!("category" => ["a", "b"], "units" => [1i64, 2])?;
    /// let cache = CachedQuery::from_frame(df)?;
    /// cache.get(&Query::new().eq("category", "a").sum("units"))?;
    /// cache.get(&Query::new().sum("units"))?;
    /// let dropped = cache.invalidate_where(|key| key.query().is_some_and(|q| q.filters_on("category")));
    /// assert_eq!(dropped, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The disk tier applies the predicate to the entries whose keys this
    /// process has written or read; [`clear`](Self::clear) and
    /// [`refresh`](Self::refresh) reach every entry.
    pub fn invalidate_where(&self, predicate: impl Fn(&QueryKey) -> bool) -> usize {
        let doomed: Vec<Arc<QueryKey>> = self
            .memory
            .iter()
            .filter(|(key, _)| predicate(key))
            .map(|(key, _)| key)
            .collect();
        let from_memory: KeySet = doomed
            .iter()
            .filter(|key| self.memory.remove(key.as_ref()).is_some())
            .map(|key| QueryKey::clone(key))
            .collect();
        let mut dropped = self.tiers.remove_where(&predicate, from_memory);
        // `remove` drops each derived key from every tier and tells Redis
        // once; a key dropped above already is not dropped again.
        let derived: Vec<QueryKey> = dropped
            .iter()
            .flat_map(|key| self.derive_index.take_derived(key))
            .filter(|key| !dropped.contains(key))
            .collect();
        for key in derived {
            if self.remove(&key) {
                dropped.insert(key);
            }
        }
        dropped.len()
    }

    /// Drops every entry that involves `column` (filters, groups or
    /// aggregates it), and every memoized computation (which may read any
    /// column). Returns how many were dropped.
    pub fn invalidate_column(&self, column: &str) -> Result<usize> {
        let dataset = self.dataset();
        if dataset.column_index(column).is_none() {
            return Err(dataset.unknown_column(column));
        }
        Ok(self.invalidate_where(|key| key.query().is_none_or(|q| q.uses_column(column))))
    }

    /// Drops every entry whose answer could depend on the rows where
    /// `column` equals `value`: the queries that filter on `column` with a
    /// condition `value` satisfies, those that do not filter on it at all,
    /// and every memoized computation. Returns how many were dropped.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query};
    /// # let df = polars::df!("category" => ["a", "b"], "units" => [1i64, 2])?;
    /// let cache = CachedQuery::from_frame(df)?;
    /// cache.get(&Query::new().eq("category", "a").sum("units"))?;
    /// cache.get(&Query::new().eq("category", "b").sum("units"))?;
    /// cache.get(&Query::new().sum("units"))?;
    /// // Rows of category "a" changed: its query and the total go, "b" stays.
    /// assert_eq!(cache.invalidate_value("category", "a")?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn invalidate_value(&self, column: &str, value: impl Into<Value>) -> Result<usize> {
        let dataset = self.dataset();
        let index = dataset
            .column_index(column)
            .ok_or_else(|| dataset.unknown_column(column))?;
        let value = normalize::coerce_value(&value.into(), &dataset.columns()[index])?;
        Ok(self.invalidate_where(|key| match key.query() {
            None => true,
            Some(q) => match (q.constraint(column), &value) {
                (None, _) => true,
                (Some(c), Some(v)) => c.accepts(v),
                // A value no row can hold (2.5 in an integer column).
                (Some(_), None) => false,
            },
        }))
    }

    /// Drops every entry. The statistics are kept; see
    /// [`reset_stats`](Self::reset_stats).
    pub fn clear(&self) {
        self.memory.invalidate_all();
        self.memory.run_pending_tasks();
        let dataset = self.dataset().fingerprint();
        self.derive_index.forget_dataset(dataset);
        for (key, _) in self.rollups.read().iter() {
            self.derive_index.add(key);
        }
        // Roll-ups, declared or learned, are of the data, not answers.
        for key in self.learner.keys() {
            self.derive_index.add(&key);
        }
        self.tiers.remove_dataset(dataset);
    }
}
