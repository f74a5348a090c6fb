//! A canonical query as one Polars lazy plan:
//! `filter(all predicates) -> group_by(keys) -> agg(aggs) -> sort -> limit`.
//!
//! Polars' defaults differ from SQL in a few places; the plan corrects them
//! so that answers agree with DuckDB and PostgreSQL:
//! - a sum over no non-null value is null, not 0;
//! - `n_unique` does not count null;
//! - `first` and `last` skip nulls;
//! - nulls sort last;
//! - categorical outputs are plain strings, compared as text.

use polars::prelude::*;

use crate::Result;
use crate::dataset::{ColumnKind, Dataset};
use crate::normalize::{
    CanonicalAgg, CanonicalQuery, ColumnFilter, Constraint, OutputRef, Scalar, sort_options,
};
use crate::query::AggFn;

/// Computes the cached frame of `query` on `dataset`: on the in-memory
/// engine over its frame, or on the streaming engine over its files.
pub(crate) fn execute(query: &CanonicalQuery, dataset: &Dataset) -> Result<DataFrame> {
    run(query, dataset, Dataset::collect)
}

/// Computes a learned roll-up of every row on the streaming engine, which
/// groups by several columns faster. Its float sums may differ from the
/// in-memory engine's in the last bits (another summation order), like any
/// answer derived from a roll-up; in exact mode a learned roll-up holds no
/// float sum. Declared roll-ups answer their own query and run in memory.
pub(crate) fn execute_rollup(query: &CanonicalQuery, dataset: &Dataset) -> Result<DataFrame> {
    run(query, dataset, Dataset::collect_rollup)
}

/// The plan of `query`, run by `collect` (a contradiction's plan reads an
/// empty frame, on the in-memory engine).
fn run(
    query: &CanonicalQuery,
    dataset: &Dataset,
    collect: impl FnOnce(&Dataset, LazyFrame) -> Result<DataFrame>,
) -> Result<DataFrame> {
    let plan = lazy_frame(query, dataset)?;
    if query.contradiction {
        return Ok(plan.collect()?);
    }
    collect(dataset, plan)
}

/// The lazy plan of `query` on `dataset`. A contradiction runs on an empty
/// frame of the same schema: no scan, and Polars still gives every output
/// its type and the aggregates of nothing.
pub(crate) fn lazy_frame(query: &CanonicalQuery, dataset: &Dataset) -> Result<LazyFrame> {
    let mut lf = if query.contradiction {
        dataset.schema_frame().clear().lazy()
    } else {
        dataset.lazy()?
    };
    if let Some(predicate) = query
        .filters
        .iter()
        .map(|f| filter_expr(f, dataset.columns()[f.column.index].kind))
        .reduce(|a, b| a.and(b))
    {
        lf = lf.filter(predicate);
    }
    let aggs: Vec<Expr> = query.aggs.iter().map(|a| agg_expr(a, dataset)).collect();
    if query.group_by.is_empty() {
        lf = lf.select(aggs);
    } else {
        let keys: Vec<Expr> = query.group_by.iter().map(|c| col(&*c.name)).collect();
        lf = lf.group_by(keys).agg(aggs);
        let as_text: Vec<Expr> = query
            .group_by
            .iter()
            .filter(|c| dataset.columns()[c.index].kind == ColumnKind::Categorical)
            .map(|c| col(&*c.name).cast(DataType::String))
            .collect();
        if !as_text.is_empty() {
            lf = lf.with_columns(as_text);
        }
    }
    Ok(order_and_limit(lf, query))
}

/// Sorts by the query's `sort` keys, then by its group-by columns
/// (ascending, nulls last), and applies its `limit`.
pub(crate) fn order_and_limit(mut lf: LazyFrame, query: &CanonicalQuery) -> LazyFrame {
    if !query.group_by.is_empty() {
        let names = query.output_names();
        let mut by: Vec<PlSmallStr> = Vec::new();
        let mut descending = Vec::new();
        for s in &query.sort {
            let pos = match s.target {
                OutputRef::Group(i) => i,
                OutputRef::Agg(i) => query.group_by.len() + i,
            };
            by.push(names[pos].as_str().into());
            descending.push(s.descending);
        }
        for c in &query.group_by {
            if !by.iter().any(|b| b.as_str() == &*c.name) {
                by.push(c.name.clone());
                descending.push(false);
            }
        }
        lf = lf.sort(by, sort_options(descending));
    }
    if let Some(limit) = query.limit {
        lf = lf.limit(IdxSize::try_from(limit).unwrap_or(IdxSize::MAX));
    }
    lf
}

/// A filter value as a literal of its own type. `lit` would make numbers
/// "dynamic", cast to the column's type: an `f64` bound rounded to `f32`
/// on a `Float32` column, a `u64` above `i64::MAX` a panic. Typed, Polars
/// compares exactly: normalization leaves only integers the column's type
/// holds, and floats meet `Float32` values in `f64`. `UInt64` values stay
/// unsigned: next to an `i64`, Polars would compare both as `f64`.
fn literal(value: &Scalar) -> Expr {
    match value {
        Scalar::Bool(b) => lit(*b),
        Scalar::Int(i) => typed(*i),
        Scalar::UInt(u) => typed(*u),
        Scalar::Float(f) => typed(*f),
        Scalar::Str(s) => lit(s.as_str()),
        Scalar::Date(d) => typed(*d).cast(DataType::Date),
        // Compared with the column's physical values (see `filter_expr`):
        // no unit or time zone to match, exactly as normalized.
        Scalar::Datetime(t, _) => typed(*t),
    }
}

/// A literal of exactly `value`'s type.
fn typed(value: impl Into<polars::prelude::Scalar>) -> Expr {
    lit(value.into())
}

fn list(values: &[Scalar]) -> Expr {
    let name = PlSmallStr::EMPTY;
    let series = match values.first() {
        Some(Scalar::Bool(_)) => {
            Series::new(name, values.iter().filter_map(as_bool).collect::<Vec<_>>())
        }
        Some(Scalar::Int(_)) => {
            Series::new(name, values.iter().filter_map(as_int).collect::<Vec<_>>())
        }
        Some(Scalar::UInt(_)) => {
            Series::new(name, values.iter().filter_map(as_uint).collect::<Vec<_>>())
        }
        Some(Scalar::Float(_)) => {
            Series::new(name, values.iter().filter_map(as_float).collect::<Vec<_>>())
        }
        Some(Scalar::Datetime(..)) => Series::new(
            name,
            values.iter().filter_map(as_timestamp).collect::<Vec<_>>(),
        ),
        Some(Scalar::Date(_)) => {
            let days = Series::new(name, values.iter().filter_map(as_date).collect::<Vec<_>>());
            return lit(days).cast(DataType::Date).implode(false);
        }
        Some(Scalar::Str(_)) | None => {
            Series::new(name, values.iter().filter_map(as_str).collect::<Vec<_>>())
        }
    };
    // `is_in` takes a list: one literal list, not a column of values.
    lit(series).implode(false)
}

fn as_bool(s: &Scalar) -> Option<bool> {
    if let Scalar::Bool(b) = s {
        Some(*b)
    } else {
        None
    }
}
fn as_int(s: &Scalar) -> Option<i64> {
    if let Scalar::Int(i) = s {
        Some(*i)
    } else {
        None
    }
}
fn as_uint(s: &Scalar) -> Option<u64> {
    if let Scalar::UInt(u) = s {
        Some(*u)
    } else {
        None
    }
}
fn as_float(s: &Scalar) -> Option<f64> {
    if let Scalar::Float(f) = s {
        Some(*f)
    } else {
        None
    }
}
fn as_date(s: &Scalar) -> Option<i32> {
    if let Scalar::Date(d) = s {
        Some(*d)
    } else {
        None
    }
}
fn as_timestamp(s: &Scalar) -> Option<i64> {
    if let Scalar::Datetime(t, _) = s {
        Some(*t)
    } else {
        None
    }
}
fn as_str(s: &Scalar) -> Option<&str> {
    if let Scalar::Str(v) = s {
        Some(v)
    } else {
        None
    }
}

/// The filter as a Polars predicate on a column of `kind`.
pub(crate) fn filter_expr(filter: &ColumnFilter, kind: ColumnKind) -> Expr {
    let column = col(&*filter.column.name);
    // Datetimes compare as their physical `i64`, which normalization has
    // already put in the column's unit and time zone.
    let column = if kind == ColumnKind::Datetime {
        column.to_physical()
    } else {
        column
    };
    // Categoricals compare with text directly for equality; ranges are by
    // text order, so those go through strings.
    let ordered = if kind == ColumnKind::Categorical {
        column.clone().cast(DataType::String)
    } else {
        column.clone()
    };
    match &filter.constraint {
        Constraint::IsNull => column.is_null(),
        Constraint::NotNull => column.is_not_null(),
        Constraint::OneOf(values) if values.len() == 1 => column.eq(literal(&values[0])),
        Constraint::OneOf(values) => column.is_in(list(values), false),
        Constraint::Range { low, high, exclude } => {
            let mut parts = vec![column.clone().is_not_null()];
            if let Some(b) = low {
                let v = literal(&b.value);
                parts.push(if b.inclusive {
                    ordered.clone().gt_eq(v)
                } else {
                    ordered.clone().gt(v)
                });
            }
            if let Some(b) = high {
                let v = literal(&b.value);
                parts.push(if b.inclusive {
                    ordered.clone().lt_eq(v)
                } else {
                    ordered.clone().lt(v)
                });
            }
            if !exclude.is_empty() {
                parts.push(column.is_in(list(exclude), false).not());
            }
            parts
                .into_iter()
                .reduce(|a, b| a.and(b))
                .unwrap_or_else(|| lit(true))
        }
    }
}

fn agg_expr(agg: &CanonicalAgg, dataset: &Dataset) -> Expr {
    let name = agg.name();
    let Some(column) = &agg.column else {
        return len().alias(name);
    };
    let raw = col(&*column.name);
    let info = &dataset.columns()[column.index];
    let values = if info.kind == ColumnKind::Categorical {
        raw.clone().cast(DataType::String)
    } else {
        raw.clone()
    };
    // Polars sums 32-bit integers in 32 bits; SQL (and callers) expect no overflow.
    let summed = if info.kind == ColumnKind::Int
        && !matches!(info.dtype, DataType::Int64 | DataType::UInt64)
    {
        raw.clone().cast(DataType::Int64)
    } else {
        values.clone()
    };
    let expr = match agg.func {
        AggFn::Sum => when(raw.clone().count().eq(lit(0)))
            .then(lit(Null {}))
            .otherwise(summed.sum()),
        AggFn::Mean => values.mean(),
        AggFn::Min => values.min(),
        AggFn::Max => values.max(),
        AggFn::Count => raw.count(),
        AggFn::Len => len(),
        AggFn::NUnique => raw.drop_nulls().n_unique(),
        AggFn::Median => values.median(),
        AggFn::Std => values.std(1),
        AggFn::Var => values.var(1),
        AggFn::First => values.drop_nulls().first(),
        AggFn::Last => values.drop_nulls().last(),
    };
    expr.alias(name)
}
