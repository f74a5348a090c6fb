//! Declared roll-ups: computed at load time, in parallel, and pinned.

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::entry::Entry;
use crate::dataset::Dataset;
use crate::normalize::{self, KeyedQuery, QueryKey};
use crate::{Error, Query, Result, exec};

/// Computes every declared roll-up on `dataset`.
pub(super) fn build(queries: &[Query], dataset: &Dataset) -> Result<Vec<(QueryKey, Arc<Entry>)>> {
    queries
        .par_iter()
        .map(|query| {
            if !query.filters.is_empty() || query.limit.is_some() {
                return Err(Error::InvalidQuery(
                    "a roll-up has no filters and no limit: it must contain every group".to_owned(),
                ));
            }
            let KeyedQuery {
                key,
                query: canonical,
                ..
            } = normalize::normalize(query, dataset)?.keyed(dataset.fingerprint());
            let started = Instant::now();
            let frame = exec::execute(&canonical, dataset)?;
            Ok((key, Arc::new(Entry::new(frame, started.elapsed()))))
        })
        .collect()
}
