//! Deriving an answer from a source entry's frame: filter its rows,
//! re-aggregate when rolling up, order and limit as the query says.

use polars::prelude::*;

use super::rules::{AggSource, Derivation};
use crate::Result;
use crate::dataset::{ColumnKind, Dataset};
use crate::exec::{filter_expr, order_and_limit};
use crate::normalize::CanonicalQuery;

/// Q's answer, computed from S's cached frame (in S's canonical layout) as
/// `how` says. The result has Q's canonical layout and the types a direct
/// computation gives.
pub(crate) fn derive(
    source: &DataFrame,
    s: &CanonicalQuery,
    q: &CanonicalQuery,
    how: &Derivation,
    dataset: &Dataset,
) -> Result<DataFrame> {
    let s_names = s.output_names();
    let q_names = q.output_names();
    let agg_column = |i: usize| col(s_names[s.group_by.len() + i].as_str());
    let mut lf = source.clone().lazy();
    // Answers hold categoricals as text: filter them as text.
    let extra = q
        .filters
        .iter()
        .filter(|f| !s.filters.contains(f))
        .map(|f| {
            let kind = match dataset.columns()[f.column.index].kind {
                ColumnKind::Categorical => ColumnKind::Str,
                kind => kind,
            };
            filter_expr(f, kind)
        });
    if let Some(predicate) = extra.reduce(|a, b| a.and(b)) {
        lf = lf.filter(predicate);
    }
    let keys: Vec<Expr> = q.group_by.iter().map(|c| col(c.name.as_str())).collect();
    let mut aggs = Vec::with_capacity(how.aggs.len());
    for (i, source_agg) in how.aggs.iter().enumerate() {
        let name = q_names[q.group_by.len() + i].as_str();
        let expr = match *source_agg {
            AggSource::Same(j) => agg_column(j),
            AggSource::Sum(j) => {
                // Null only when every rolled-up group's sum was null: no values.
                let c = agg_column(j);
                when(c.clone().count().eq(lit(0)))
                    .then(lit(Null {}))
                    .otherwise(c.sum())
            }
            AggSource::Count(j) => agg_column(j).sum(),
            AggSource::Min(j) => agg_column(j).min(),
            AggSource::Max(j) => agg_column(j).max(),
            AggSource::Mean { sum, count } => {
                // Per group without a roll-up; over the rolled-up groups with one.
                let (total, n) = if how.rollup {
                    (agg_column(sum).sum(), agg_column(count).sum())
                } else {
                    (agg_column(sum), agg_column(count))
                };
                let n = n.cast(DataType::Float64);
                when(n.clone().eq(lit(0.0)))
                    .then(lit(Null {}))
                    .otherwise(total.cast(DataType::Float64) / n)
            }
        };
        // The type a direct computation gives: the source's for everything
        // read or re-aggregated from one column of it, f64 for means.
        let dtype = match *source_agg {
            AggSource::Same(j)
            | AggSource::Sum(j)
            | AggSource::Count(j)
            | AggSource::Min(j)
            | AggSource::Max(j) => source.columns()[s.group_by.len() + j].dtype().clone(),
            AggSource::Mean { .. } => DataType::Float64,
        };
        aggs.push(expr.cast(dtype).alias(name));
    }
    lf = if !how.rollup {
        let mut columns = keys;
        columns.extend(aggs);
        lf.select(columns)
    } else if keys.is_empty() {
        lf.select(aggs)
    } else {
        lf.group_by(keys).agg(aggs)
    };
    Ok(order_and_limit(lf, q).collect()?)
}
