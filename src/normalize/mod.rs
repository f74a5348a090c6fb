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
mod output;
mod scalar;

use std::collections::HashMap;
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
use output::OutName;

/// How to present a cached frame to one caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// The cached frame already has the caller's columns, names and row
    /// order: hand it over as it is.
    Identity,
    /// Pick, rename and possibly re-sort columns.
    Reshape {
        /// For each output column: its position in the cached frame and its name.
        columns: Arc<[(usize, PlSmallStr)]>,
        /// Output columns (and directions) to re-sort by, when the caller
        /// listed the group-by columns in another order than the cached frame
        /// is sorted in.
        resort: Option<Arc<[(PlSmallStr, bool)]>>,
    },
}

/// A query ready for the cache.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The shared key.
    pub key: QueryKey,
    /// This caller's view of the shared answer.
    pub projection: Projection,
}

/// Normalizes `query` against `dataset`.
pub fn normalize(query: &Query, dataset: &Dataset) -> Result<Normalized> {
    let column = |name: &str| -> Result<(ColumnRef, &ColumnInfo)> {
        let index = dataset
            .column_index(name)
            .ok_or_else(|| unknown_column(dataset, name))?;
        let info = &dataset.columns()[index];
        Ok((
            ColumnRef {
                index,
                name: dataset.names()[index].clone(),
            },
            info,
        ))
    };

    // Filters: fold every predicate on a column into one constraint.
    let mut per_column: Vec<(ColumnRef, &ColumnInfo, constraint::Accumulator)> = Vec::new();
    for filter in &query.filters {
        let (col, info) = column(&filter.column)?;
        let slot = match per_column.iter().position(|(c, _, _)| c.index == col.index) {
            Some(slot) => slot,
            None => {
                per_column.push((col, info, constraint::Accumulator::default()));
                per_column.len() - 1
            }
        };
        per_column[slot].2.add(&filter.predicate, info)?;
    }
    per_column.sort_unstable_by_key(|(c, _, _)| c.index);
    let mut filters = Vec::with_capacity(per_column.len());
    let mut contradiction = false;
    for (col, info, acc) in per_column {
        match acc.finish(info) {
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
    let mut group_by = Vec::with_capacity(query.group_by.len());
    for name in &query.group_by {
        group_by.push(column(name)?.0);
    }
    group_by.sort_unstable_by_key(|c| c.index);
    group_by.dedup();

    // Aggregates: a sorted set.
    let mut aggs = Vec::with_capacity(query.aggs.len());
    for agg in &query.aggs {
        aggs.push(canonical_agg(agg, dataset)?);
    }
    aggs.sort_unstable();
    aggs.dedup();

    if group_by.is_empty() && aggs.is_empty() {
        return Err(Error::InvalidQuery(
            "a query needs at least one aggregate or group-by column, e.g. {\"aggs\": [{\"fn\": \"len\"}]}"
                .to_owned(),
        ));
    }

    // Output columns: the caller's order and names. The cached frame has
    // the group columns in schema order, then the aggregates in canonical
    // order under their default names: a caller asking exactly that gets
    // the frame itself.
    let mut identity = query.group_by.len() == group_by.len() && query.aggs.len() == aggs.len();
    let mut outputs: Vec<(OutputRef, OutName<'_>)> =
        Vec::with_capacity(query.group_by.len() + query.aggs.len());
    for name in &query.group_by {
        let index = dataset.column_index(name).unwrap_or_default();
        let pos = group_by
            .iter()
            .position(|c| c.index == index)
            .unwrap_or_default();
        identity &= pos == outputs.len();
        outputs.push((OutputRef::Group(pos), OutName::Text(name)));
    }
    for requested in &query.aggs {
        let agg = canonical_agg(requested, dataset)?;
        let pos = aggs.iter().position(|a| *a == agg).unwrap_or_default();
        let cached_name = match &requested.column {
            Some(column) => OutName::Default(agg.func, column),
            None => OutName::Text(agg.func.name()),
        };
        let name = match &requested.alias {
            Some(alias) => OutName::Text(alias),
            None => cached_name,
        };
        identity &= group_by.len() + pos == outputs.len() && name.same(&cached_name);
        outputs.push((OutputRef::Agg(pos), name));
    }
    let by_name = OutputNames::new(&outputs)?;

    // Sort keys refer to output names.
    // Distinct targets: two aliases of one aggregate are one column.
    let slot = |target: OutputRef| match target {
        OutputRef::Group(i) => i,
        OutputRef::Agg(i) => group_by.len() + i,
    };
    let mut sorted = Vec::new();
    if !query.sort.is_empty() {
        sorted.resize(group_by.len() + aggs.len(), false);
    }
    let mut sort = Vec::with_capacity(query.sort.len().min(sorted.len()));
    for key in &query.sort {
        let Some(at) = by_name.find(&outputs, &key.column) else {
            let names: Vec<String> = outputs.iter().map(|(_, n)| n.to_string()).collect();
            return Err(Error::UnknownColumn {
                column: key.column.clone(),
                suggestions: suggestions(&key.column, &names),
                available: names,
            });
        };
        let target = outputs[at].0;
        if !std::mem::replace(&mut sorted[slot(target)], true) {
            sort.push(CanonicalSort {
                target,
                descending: key.descending,
            });
        }
    }
    // The caller's group order, when it is not the schema order.
    let caller_groups = || {
        outputs.iter().filter_map(|(t, name)| match t {
            OutputRef::Group(_) => Some((*t, name)),
            OutputRef::Agg(_) => None,
        })
    };
    let mut previous = None;
    let schema_order = caller_groups().all(|(t, _)| {
        let in_order = previous.is_none_or(|p| p < t);
        previous = Some(t);
        in_order
    });
    let mut resort = None;
    if !schema_order {
        if query.limit.is_some() {
            // The tie-break decides which rows survive the limit: it is part of the answer.
            for (target, _) in caller_groups() {
                if !sort.iter().any(|s| s.target == target) {
                    sort.push(CanonicalSort {
                        target,
                        descending: false,
                    });
                }
            }
        } else {
            let mut by: Vec<(PlSmallStr, bool)> = sort
                .iter()
                .map(|s| (name_of(&outputs, s.target).to_small_str(), s.descending))
                .collect();
            by.extend(caller_groups().map(|(_, name)| (name.to_small_str(), false)));
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
    let projection = if identity && resort.is_none() {
        Projection::Identity
    } else {
        let columns = outputs
            .into_iter()
            .map(|(target, name)| {
                let pos = match target {
                    OutputRef::Group(i) => i,
                    OutputRef::Agg(i) => canonical.group_by.len() + i,
                };
                (pos, name.to_small_str())
            })
            .collect();
        Projection::Reshape {
            columns,
            resort: resort.map(Arc::from),
        }
    };
    let key = QueryKey::new(dataset.fingerprint(), KeyBody::Query(canonical));
    Ok(Normalized { key, projection })
}

/// Finds output columns by name. A query may list thousands of outputs and
/// sort keys: past a few, names are hashed so that checking them costs
/// linear time, not quadratic.
enum OutputNames {
    /// Few outputs: compared one by one, no allocation.
    Few,
    /// Each name and the position of its output.
    Many(HashMap<String, usize>),
}

impl OutputNames {
    /// Up to this many outputs are compared one by one.
    const FEW: usize = 32;

    /// The index of `outputs`, or the error for the first name repeated.
    fn new(outputs: &[(OutputRef, OutName<'_>)]) -> Result<OutputNames> {
        let clash = |name: &OutName<'_>| Error::AliasClash {
            name: name.to_string(),
        };
        if outputs.len() <= Self::FEW {
            for (i, (_, name)) in outputs.iter().enumerate() {
                if outputs[..i].iter().any(|(_, other)| other.same(name)) {
                    return Err(clash(name));
                }
            }
            return Ok(OutputNames::Few);
        }
        let mut map = HashMap::with_capacity(outputs.len());
        for (i, (_, name)) in outputs.iter().enumerate() {
            if map.insert(name.to_string(), i).is_some() {
                return Err(clash(name));
            }
        }
        Ok(OutputNames::Many(map))
    }

    /// The position in `outputs` of the output named `name`.
    fn find(&self, outputs: &[(OutputRef, OutName<'_>)], name: &str) -> Option<usize> {
        match self {
            OutputNames::Few => outputs.iter().position(|(_, n)| n.matches(name)),
            OutputNames::Many(map) => map.get(name).copied(),
        }
    }
}

/// Names longer than this get no "did you mean": no column is named like
/// that by mistake, and the similarity measure costs the product of the
/// two lengths.
const MAX_SUGGESTED_LEN: usize = 256;

/// The error for a column `dataset` lacks, with suggestions only when
/// computing them is cheap.
fn unknown_column(dataset: &Dataset, name: &str) -> Error {
    if name.len() <= MAX_SUGGESTED_LEN {
        return dataset.unknown_column(name);
    }
    Error::UnknownColumn {
        column: name.to_owned(),
        suggestions: Vec::new(),
        available: dataset.columns().iter().map(|c| c.name.clone()).collect(),
    }
}

/// Output names close to `name`, among those of a reasonable length.
fn suggestions(name: &str, names: &[String]) -> Vec<String> {
    if name.len() > MAX_SUGGESTED_LEN {
        return Vec::new();
    }
    let short: Vec<String> = names
        .iter()
        .filter(|n| n.len() <= MAX_SUGGESTED_LEN)
        .cloned()
        .collect();
    crate::dataset::closest(name, &short)
}

fn name_of<'a>(outputs: &[(OutputRef, OutName<'a>)], target: OutputRef) -> OutName<'a> {
    outputs
        .iter()
        .find(|(t, _)| *t == target)
        .map_or(OutName::Text(""), |(_, n)| *n)
}

/// `value` read as a value of `column`, or `None` when no value of the
/// column can equal it (a fraction for an integer column).
pub(crate) fn coerce_value(value: &crate::Value, column: &ColumnInfo) -> Result<Option<Scalar>> {
    Ok(match scalar::coerce(value, column)? {
        scalar::Coerced::Exact(s) => Some(s),
        scalar::Coerced::Fraction(_) | scalar::Coerced::Below | scalar::Coerced::Above => None,
    })
}

fn canonical_agg(agg: &crate::query::Agg, dataset: &Dataset) -> Result<CanonicalAgg> {
    match (&agg.column, agg.func) {
        (None, AggFn::Len) => Ok(CanonicalAgg {
            func: AggFn::Len,
            column: None,
        }),
        (Some(_), AggFn::Len) => Err(Error::InvalidQuery(
            "`len` counts rows and takes no column; use `count` to count a column's non-null values".to_owned(),
        )),
        (None, func) => Err(Error::InvalidQuery(format!("`{}` needs a `column`", func.name()))),
        (Some(name), func) => {
            let index = dataset.column_index(name).ok_or_else(|| unknown_column(dataset, name))?;
            let info = &dataset.columns()[index];
            check_aggregate(func, info)?;
            Ok(CanonicalAgg {
                func,
                column: Some(ColumnRef {
                    index,
                    name: dataset.names()[index].clone(),
                }),
            })
        }
    }
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
