//! Schema-aware normalization: a [`Query`] read against a [`Dataset`]
//! becomes a [`CanonicalQuery`] that is equal for every query with the same
//! answer, plus the [`Projection`] that turns the shared answer into the
//! columns, names and row order this caller asked for. The cache keys the
//! answer by the canonical query ([`Normalized::keyed`]).
//!
//! All the equivalence rules live here and in `constraint`:
//! filter order and duplicates, `in [x]` = `eq x`, `between` = `ge` + `le`,
//! intersected ranges, contradictions, values coerced to the column's type,
//! group-by and aggregate order, aliases.

mod constraint;
mod key;
mod projection;
mod scalar;

pub use constraint::{Bound, Constraint};
pub(crate) use key::{BuildPassThrough, sort_options};
pub use key::{
    CanonicalAgg, CanonicalQuery, CanonicalSort, ColumnFilter, ColumnRef, KEY_FORMAT_VERSION,
    KeyBody, OutputRef, QueryKey,
};
pub use projection::Projection;
pub use scalar::Scalar;

use crate::dataset::{ColumnInfo, ColumnKind, Dataset, Fingerprint};
use crate::query::{Agg, AggFn, Query};
use crate::{Error, Result};
use projection::Outputs;

/// A query ready for the cache.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The canonical form, equal for every query with the same answer.
    pub query: CanonicalQuery,
    /// This caller's view of the shared answer.
    pub projection: Projection,
}

impl Normalized {
    /// Adds the key the answer is cached under for the data version
    /// `dataset`. The key holds the canonical query: one allocation for
    /// both, and one reference count to clone on a hit.
    #[inline]
    pub fn keyed(self, dataset: Fingerprint) -> KeyedQuery {
        KeyedQuery {
            key: QueryKey::new(dataset, KeyBody::Query(self.query)),
            projection: self.projection,
        }
    }
}

/// A normalized query and the key its answer is cached under. Only
/// [`Normalized::keyed`] makes one, so its key always names a query.
#[derive(Debug, Clone)]
pub struct KeyedQuery {
    key: QueryKey,
    projection: Projection,
}

impl KeyedQuery {
    /// The shared key.
    #[inline]
    pub fn key(&self) -> &QueryKey {
        &self.key
    }

    /// The canonical form the key names: what runs on a miss.
    #[inline]
    pub fn query(&self) -> &CanonicalQuery {
        match self.key.body() {
            KeyBody::Query(query) => query,
            // `keyed` is the only constructor, and it keys a query.
            KeyBody::Function { .. } => unreachable!("a keyed query's key names a function"),
        }
    }

    /// This caller's view of the shared answer.
    #[inline]
    pub fn projection(&self) -> &Projection {
        &self.projection
    }

    /// The key alone.
    #[inline]
    pub fn into_key(self) -> QueryKey {
        self.key
    }
}

/// Normalizes `query` against `dataset`.
pub fn normalize(query: &Query, dataset: &Dataset) -> Result<Normalized> {
    let (filters, contradiction) = constraint::fold_filters(&query.filters, dataset)?;
    let group_by = group_set(&query.group_by, dataset)?;
    let aggs = aggregate_set(&query.aggs, dataset)?;
    require_output(&group_by, &aggs)?;
    let outputs = Outputs::new(query, dataset, &group_by, &aggs)?;
    let mut sort = outputs.sort_keys(&query.sort)?;
    let resort = outputs.order_groups(&mut sort, query.limit);
    let projection = outputs.projection(resort);
    let query = CanonicalQuery {
        filters,
        contradiction,
        group_by,
        aggs,
        sort,
        limit: query.limit,
    };
    Ok(Normalized { query, projection })
}

/// The column of `dataset` named `name`.
fn column<'d>(dataset: &'d Dataset, name: &str) -> Result<(ColumnRef, &'d ColumnInfo)> {
    let index = dataset
        .column_index(name)
        .ok_or_else(|| unknown_column(dataset, name))?;
    let column = ColumnRef {
        index,
        name: dataset.names()[index].clone(),
    };
    Ok((column, &dataset.columns()[index]))
}

/// The group-by columns as a set, in schema order.
fn group_set(names: &[String], dataset: &Dataset) -> Result<Vec<ColumnRef>> {
    let mut group_by = Vec::with_capacity(names.len());
    for name in names {
        group_by.push(column(dataset, name)?.0);
    }
    group_by.sort_unstable_by_key(|c| c.index);
    group_by.dedup();
    Ok(group_by)
}

/// The aggregates as a sorted set.
fn aggregate_set(aggs: &[Agg], dataset: &Dataset) -> Result<Vec<CanonicalAgg>> {
    let mut set = Vec::with_capacity(aggs.len());
    for agg in aggs {
        set.push(canonical_agg(agg, dataset)?);
    }
    set.sort_unstable();
    set.dedup();
    Ok(set)
}

/// An error unless the query has an output column.
fn require_output(group_by: &[ColumnRef], aggs: &[CanonicalAgg]) -> Result<()> {
    if group_by.is_empty() && aggs.is_empty() {
        return Err(Error::InvalidQuery(
            "a query needs at least one aggregate or group-by column, e.g. {\"aggs\": [{\"fn\": \"len\"}]}"
                .to_owned(),
        ));
    }
    Ok(())
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

/// `value` read as a value of `column`, or `None` when no value of the
/// column can equal it (a fraction for an integer column).
pub(crate) fn coerce_value(value: &crate::Value, column: &ColumnInfo) -> Result<Option<Scalar>> {
    Ok(match scalar::coerce(value, column)? {
        scalar::Coerced::Exact(s) => Some(s),
        scalar::Coerced::Fraction(_)
        | scalar::Coerced::Gap(..)
        | scalar::Coerced::Below
        | scalar::Coerced::Above => None,
    })
}

fn canonical_agg(agg: &Agg, dataset: &Dataset) -> Result<CanonicalAgg> {
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
            let (column, info) = column(dataset, name)?;
            check_aggregate(func, info)?;
            Ok(CanonicalAgg {
                func,
                column: Some(column),
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
