//! Schema-aware normalization: a [`Query`] read against a [`Dataset`]
//! becomes a [`QueryKey`] that is equal for every query with the same answer,
//! plus the [`Projection`] that turns the shared answer into the columns, names
//! and row order this caller asked for.
//!
//! All the equivalence rules live here and in `constraint`:
//! filter order and duplicates, `in [x]` = `eq x`, `between` = `ge` + `le`,
//! intersected ranges, contradictions, values coerced to the column's type,
//! group-by and aggregate order, aliases.

mod constraint;
mod key;
mod scalar;

use std::sync::Arc;

use polars::prelude::PlSmallStr;

pub use constraint::{Bound, Constraint};
pub(crate) use key::BuildPassThrough;
pub use key::{
    CanonicalAgg, CanonicalQuery, CanonicalSort, ColumnFilter, ColumnRef, KEY_FORMAT_VERSION,
    KeyBody, OutputRef, QueryKey,
};
pub use scalar::Scalar;

use crate::dataset::{ColumnInfo, ColumnKind, Dataset};
use crate::query::{AggFn, Query};
use crate::{Error, Result};

/// How to present a cached frame to one caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// For each output column: its position in the cached frame and its name.
    pub(crate) columns: Vec<(usize, PlSmallStr)>,
    /// Group columns (output names) to re-sort by, when the caller listed
    /// them in another order than the cached frame is sorted in.
    pub(crate) resort: Option<Vec<(PlSmallStr, bool)>>,
    /// The cached frame already looks like this: hand it over as it is.
    pub(crate) identity: bool,
}

/// A query ready for the cache.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The shared key.
    pub key: QueryKey,
    /// This caller's view of the shared answer.
    pub projection: Arc<Projection>,
}

/// Normalizes `query` against `dataset`.
pub fn normalize(query: &Query, dataset: &Dataset) -> Result<Normalized> {
    let column = |name: &str| -> Result<(ColumnRef, &ColumnInfo)> {
        let index = dataset
            .column_index(name)
            .ok_or_else(|| dataset.unknown_column(name))?;
        let info = &dataset.columns()[index];
        Ok((
            ColumnRef {
                index,
                name: Arc::clone(&dataset.names()[index]),
            },
            info,
        ))
    };

    // Filters: fold every predicate on a column into one constraint.
    let mut per_column: Vec<(ColumnRef, ColumnKind, constraint::Accumulator)> = Vec::new();
    for filter in &query.filters {
        let (col, info) = column(&filter.column)?;
        let slot = match per_column.iter().position(|(c, _, _)| c.index == col.index) {
            Some(slot) => slot,
            None => {
                per_column.push((col, info.kind, constraint::Accumulator::default()));
                per_column.len() - 1
            }
        };
        per_column[slot].2.add(&filter.predicate, info)?;
    }
    per_column.sort_unstable_by_key(|(c, _, _)| c.index);
    let mut filters = Vec::with_capacity(per_column.len());
    let mut contradiction = false;
    for (col, kind, acc) in per_column {
        match acc.finish(kind) {
            Some(constraint) => filters.push(ColumnFilter {
                column: col,
                constraint,
            }),
            None => contradiction = true,
        }
    }
    if contradiction {
        filters.clear();
    }

    // Group-by: a set, in schema order.
    let mut requested_groups = Vec::with_capacity(query.group_by.len());
    for name in &query.group_by {
        requested_groups.push(column(name)?.0);
    }
    let mut group_by = requested_groups.clone();
    group_by.sort_unstable_by_key(|c| c.index);
    group_by.dedup();

    // Aggregates: a sorted set; each requested one points into it.
    let mut requested_aggs = Vec::with_capacity(query.aggs.len());
    for agg in &query.aggs {
        let canonical = match (&agg.column, agg.func) {
            (None, AggFn::Len) => CanonicalAgg {
                func: AggFn::Len,
                column: None,
            },
            (Some(_), AggFn::Len) => {
                return Err(Error::InvalidQuery(
                    "`len` counts rows and takes no column; use `count` to count a column's non-null values"
                        .to_owned(),
                ));
            }
            (None, func) => {
                return Err(Error::InvalidQuery(format!(
                    "`{}` needs a `column`",
                    func.name()
                )));
            }
            (Some(name), func) => {
                let (col, info) = column(name)?;
                check_aggregate(func, info)?;
                CanonicalAgg {
                    func,
                    column: Some(col),
                }
            }
        };
        requested_aggs.push(canonical);
    }
    let mut aggs = requested_aggs.clone();
    aggs.sort_unstable();
    aggs.dedup();

    if group_by.is_empty() && aggs.is_empty() {
        return Err(Error::InvalidQuery(
            "a query needs at least one aggregate or group-by column, e.g. {\"aggs\": [{\"fn\": \"len\"}]}".to_owned(),
        ));
    }

    // Output columns: the caller's order and names.
    let mut outputs: Vec<(OutputRef, PlSmallStr)> =
        Vec::with_capacity(requested_groups.len() + requested_aggs.len());
    for col in &requested_groups {
        let pos = group_by.iter().position(|c| c == col).unwrap_or_default();
        outputs.push((OutputRef::Group(pos), PlSmallStr::from(&*col.name)));
    }
    for (agg, requested) in requested_aggs.iter().zip(&query.aggs) {
        let pos = aggs.iter().position(|a| a == agg).unwrap_or_default();
        outputs.push((
            OutputRef::Agg(pos),
            PlSmallStr::from(requested.output_name()),
        ));
    }
    for (i, (_, name)) in outputs.iter().enumerate() {
        if outputs[..i].iter().any(|(_, other)| other == name) {
            return Err(Error::AliasClash {
                name: name.to_string(),
            });
        }
    }

    // Sort keys refer to output names.
    let mut sort = Vec::with_capacity(query.sort.len());
    for key in &query.sort {
        let target = outputs
            .iter()
            .find(|(_, name)| name.as_str() == key.column)
            .map(|(t, _)| *t);
        let Some(target) = target else {
            let names: Vec<String> = outputs.iter().map(|(_, n)| n.to_string()).collect();
            return Err(Error::UnknownColumn {
                column: key.column.clone(),
                suggestions: crate::dataset::closest(&key.column, &names),
                available: names,
            });
        };
        if !sort.iter().any(|s: &CanonicalSort| s.target == target) {
            sort.push(CanonicalSort {
                target,
                descending: key.descending,
            });
        }
    }
    let caller_group_order: Vec<usize> = outputs
        .iter()
        .filter_map(|(t, _)| match t {
            OutputRef::Group(i) => Some(*i),
            OutputRef::Agg(_) => None,
        })
        .collect();
    let schema_order = caller_group_order.windows(2).all(|w| w[0] < w[1]);
    let mut resort = None;
    if !schema_order {
        if query.limit.is_some() {
            // The tie-break decides which rows survive the limit: it is part of the answer.
            for &g in &caller_group_order {
                let target = OutputRef::Group(g);
                if !sort.iter().any(|s| s.target == target) {
                    sort.push(CanonicalSort {
                        target,
                        descending: false,
                    });
                }
            }
        } else {
            let mut by: Vec<(PlSmallStr, bool)> = Vec::new();
            for s in &sort {
                by.push((name_of(&outputs, s.target), s.descending));
            }
            for &g in &caller_group_order {
                by.push((name_of(&outputs, OutputRef::Group(g)), false));
            }
            resort = Some(by);
        }
    }

    let canonical = CanonicalQuery {
        filters,
        contradiction,
        group_by,
        aggs,
        sort,
        limit: query.limit,
    };
    let cached_names = canonical.output_names();
    let columns: Vec<(usize, PlSmallStr)> = outputs
        .into_iter()
        .map(|(target, name)| {
            let pos = match target {
                OutputRef::Group(i) => i,
                OutputRef::Agg(i) => canonical.group_by.len() + i,
            };
            (pos, name)
        })
        .collect();
    let identity = resort.is_none()
        && columns.len() == cached_names.len()
        && columns
            .iter()
            .enumerate()
            .all(|(i, (pos, name))| *pos == i && name.as_str() == cached_names[i]);
    let key = QueryKey::new(dataset.fingerprint(), KeyBody::Query(canonical));
    Ok(Normalized {
        key,
        projection: Arc::new(Projection {
            columns,
            resort,
            identity,
        }),
    })
}

fn name_of(outputs: &[(OutputRef, PlSmallStr)], target: OutputRef) -> PlSmallStr {
    outputs
        .iter()
        .find(|(t, _)| *t == target)
        .map(|(_, n)| n.clone())
        .unwrap_or_default()
}

fn check_aggregate(func: AggFn, column: &ColumnInfo) -> Result<()> {
    let ok = match func {
        AggFn::Sum | AggFn::Mean | AggFn::Median | AggFn::Std | AggFn::Var => {
            column.kind.is_numeric()
        }
        AggFn::Min | AggFn::Max => column.kind != ColumnKind::Other,
        AggFn::Count | AggFn::Len | AggFn::NUnique | AggFn::First | AggFn::Last => true,
    };
    if ok {
        return Ok(());
    }
    Err(Error::InvalidAggregate {
        func: func.name(),
        column: column.name.clone(),
        dtype: column.dtype.to_string(),
        hint: if column.kind == ColumnKind::Other {
            "use count, n_unique, first or last"
        } else {
            "use count, n_unique, min, max, first or last, or a numeric column"
        },
    })
}
