//! Declared roll-ups: computed at load time, in parallel, and pinned.

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::entry::Entry;
use crate::dataset::Dataset;
use crate::normalize::{self, QueryKey};
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
            let keyed = normalize::normalize(query, dataset)?.keyed(dataset.fingerprint());
            let started = Instant::now();
            let frame = exec::execute(keyed.query(), dataset)?;
            Ok((
                keyed.into_key(),
                Arc::new(Entry::new(frame, started.elapsed())),
            ))
        })
        .collect()
}
