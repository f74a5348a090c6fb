//! Declared roll-ups: computed at load time, in parallel, and pinned; after
//! an append, merged with the added rows' partial aggregates.

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use polars::prelude::DataFrame;

use super::entry::Entry;
use crate::dataset::{ColumnKind, Dataset};
use crate::derive::{self, AggSource, Derivation, DeriveMode};
use crate::normalize::{self, CanonicalQuery, QueryKey};
use crate::query::AggFn;
use crate::{Error, Query, Result, exec};

/// Declared roll-ups with their keys, in declaration order.
pub(super) type Rollups = Vec<(QueryKey, Arc<Entry>)>;

/// How [`update`] came by each roll-up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Updated {
    /// Merged from the old answer and the added rows' answer.
    pub(super) merged: u64,
    /// Computed again over the whole table: an aggregate that does not
    /// merge (`mean` alone, `median`, `n_unique`, ...), a float sum under
    /// an exact derive mode, or types that changed.
    pub(super) rebuilt: u64,
}

/// The declared roll-ups of `fresh`, a version that appended the rows of
/// `added` to the version `old` was built on: each merged from its old
/// answer and `added`'s answer where its aggregates merge (the roll-up
/// algebra of derived answers: sums add, counts add, min of mins, max of
/// maxes), else computed again.
pub(super) fn update(
    queries: &[Query],
    old: &[(QueryKey, Arc<Entry>)],
    fresh: &Dataset,
    added: &Dataset,
    mode: DeriveMode,
) -> Result<(Rollups, Updated)> {
    let done: Vec<(QueryKey, Arc<Entry>, bool)> = queries
        .par_iter()
        .zip(old)
        .map(|(query, (_, before))| {
            let keyed = normalize::normalize(query, fresh)?.keyed(fresh.fingerprint());
            let started = Instant::now();
            let merged = match merging(keyed.query(), fresh, mode) {
                Some(how) => merge(&before.frame, keyed.query(), &how, added, fresh)?,
                None => None,
            };
            let was_merged = merged.is_some();
            let frame = match merged {
                Some(frame) => frame,
                None => exec::execute(keyed.query(), fresh)?,
            };
            Ok((
                keyed.into_key(),
                Arc::new(Entry::new(frame, started.elapsed())),
                was_merged,
            ))
        })
        .collect::<Result<_>>()?;
    let mut updated = Updated::default();
    let rollups = done
        .into_iter()
        .map(|(key, entry, merged)| {
            if merged {
                updated.merged += 1;
            } else {
                updated.rebuilt += 1;
            }
            (key, entry)
        })
        .collect();
    Ok((rollups, updated))
}

/// How `q`'s answer re-aggregates over two partial answers of itself, or
/// `None` when one of its aggregates does not (or `mode` forbids it).
fn merging(q: &CanonicalQuery, dataset: &Dataset, mode: DeriveMode) -> Option<Derivation> {
    if mode == DeriveMode::Off {
        return None;
    }
    let aggs = q
        .aggs
        .iter()
        .enumerate()
        .map(|(i, agg)| {
            let float = agg
                .column
                .as_ref()
                .is_some_and(|c| dataset.columns()[c.index].kind == ColumnKind::Float);
            match agg.func {
                // Another summation order: equal to the last bits only.
                AggFn::Sum if float && mode == DeriveMode::Exact => None,
                AggFn::Sum => Some(AggSource::Sum(i)),
                AggFn::Count | AggFn::Len => Some(AggSource::Count(i)),
                AggFn::Min => Some(AggSource::Min(i)),
                AggFn::Max => Some(AggSource::Max(i)),
                // A mean needs its sum and count, which the answer lacks.
                _ => None,
            }
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Derivation { rollup: true, aggs })
}

/// `before` and `added`'s answer to `q` as one answer, or `None` when
/// their types differ (a column widened by the append).
fn merge(
    before: &DataFrame,
    q: &CanonicalQuery,
    how: &Derivation,
    added: &Dataset,
    fresh: &Dataset,
) -> Result<Option<DataFrame>> {
    let delta = exec::execute(q, added)?;
    if delta.schema() != before.schema() {
        return Ok(None);
    }
    let mut both = before.clone();
    both.vstack_mut_owned(delta)?;
    derive::derive(&both, q, q, how, fresh).map(Some)
}

/// Computes every declared roll-up on `dataset`.
pub(super) fn build(queries: &[Query], dataset: &Dataset) -> Result<Rollups> {
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
