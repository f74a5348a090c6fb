//! When a cached answer contains another query's answer, exactly.
//!
//! A source entry S answers a query Q when:
//! - S is complete (no `limit`) and not a contradiction;
//! - each filter of S is one of Q's (the same condition on the same
//!   column) or, on a column S grouped by, contains Q's condition on that
//!   column (`year in [2023, 2024]` contains `year = 2024`; `price >= 10`
//!   contains `price between 20, 30`): an implied filter;
//! - each filter of Q that S lacks is on a column S grouped by (filter
//!   narrowing: it selects whole groups of S);
//! - Q groups by a subset of S's group-by columns (a roll-up when fewer);
//! - every aggregate of Q can be read off S: any aggregate S has, when no
//!   roll-up is needed; under a roll-up, `sum`, `count`, `len`, `min` and
//!   `max` from the same aggregate of S, and `mean` from S's `sum` and
//!   `count` of the column. `first`, `last`, `median`, `std`, `var` and
//!   `n_unique` do not roll up.

use crate::dataset::{ColumnKind, Dataset};
use crate::normalize::{CanonicalAgg, CanonicalQuery};
use crate::query::AggFn;

/// Which derived answers are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeriveMode {
    /// Never derive: every miss is computed from the dataset.
    Off,
    /// Derive only answers equal to a fresh computation bit for bit:
    /// filter narrowing, and roll-ups of integer sums, counts, min and max.
    /// Float sums and means are not rolled up.
    Exact,
    /// Also roll up float sums and means. They may differ from a direct
    /// scan in the last bits (another summation order): the relative error
    /// is below `n * f64::EPSILON * sum(|x|) / |sum(x)|` for `n` values,
    /// about 1e-12 for the sales table's positive amounts.
    #[default]
    Approximate,
}

/// How one aggregate of Q is read off S (positions are S's aggregates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggSource {
    /// The same aggregate of S, per group (no roll-up).
    Same(usize),
    /// The sum of S's values over the rolled-up groups, null when all are.
    Sum(usize),
    /// The sum of S's counts (never null).
    Count(usize),
    /// The smallest of S's values.
    Min(usize),
    /// The largest of S's values.
    Max(usize),
    /// The sum of S's sums over the sum of S's counts.
    Mean { sum: usize, count: usize },
}

/// How to derive Q from S.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Derivation {
    /// Q groups by fewer columns than S.
    pub(crate) rollup: bool,
    /// For each aggregate of Q, in Q's canonical order.
    pub(crate) aggs: Vec<AggSource>,
}

/// How to derive `q` from `s`, or `None` when `s` does not contain `q`'s
/// answer exactly (or `mode` forbids it).
pub(crate) fn derivation(
    q: &CanonicalQuery,
    s: &CanonicalQuery,
    dataset: &Dataset,
    mode: DeriveMode,
) -> Option<Derivation> {
    if mode == DeriveMode::Off || s.limit.is_some() || s.contradiction || q.contradiction {
        return None;
    }
    let implied = s.filters.iter().all(|f| {
        q.filters.iter().any(|g| {
            g.column == f.column
                && (g == f
                    || (s.group_by.contains(&f.column) && f.constraint.contains(&g.constraint)))
        })
    });
    if !implied {
        return None;
    }
    let narrowing_ok = q
        .filters
        .iter()
        .filter(|f| !s.filters.contains(f))
        .all(|f| s.group_by.contains(&f.column));
    if !narrowing_ok || !q.group_by.iter().all(|c| s.group_by.contains(c)) {
        return None;
    }
    let rollup = q.group_by.len() < s.group_by.len();
    let find = |func: AggFn, agg: &CanonicalAgg| {
        s.aggs
            .iter()
            .position(|a| a.func == func && a.column == agg.column)
    };
    let mut aggs = Vec::with_capacity(q.aggs.len());
    for agg in &q.aggs {
        if !rollup {
            // The same groups: read the aggregate off, or a mean off the
            // sum and count (a division that may round differently).
            let source = match (find(agg.func, agg), agg.func) {
                (Some(j), _) => AggSource::Same(j),
                (None, AggFn::Mean) if mode == DeriveMode::Approximate => AggSource::Mean {
                    sum: find(AggFn::Sum, agg)?,
                    count: find(AggFn::Count, agg)?,
                },
                (None, _) => return None,
            };
            aggs.push(source);
            continue;
        }
        let float = agg
            .column
            .as_ref()
            .is_some_and(|c| dataset.columns()[c.index].kind == ColumnKind::Float);
        let inexact = float && matches!(agg.func, AggFn::Sum | AggFn::Mean);
        if inexact && mode == DeriveMode::Exact {
            return None;
        }
        // Which aggregates roll up is said once, in `rollup_parts`.
        rollup_parts(agg.func)?;
        aggs.push(match agg.func {
            AggFn::Sum => AggSource::Sum(find(AggFn::Sum, agg)?),
            AggFn::Count => AggSource::Count(find(AggFn::Count, agg)?),
            AggFn::Len => AggSource::Count(find(AggFn::Len, agg)?),
            AggFn::Min => AggSource::Min(find(AggFn::Min, agg)?),
            AggFn::Max => AggSource::Max(find(AggFn::Max, agg)?),
            AggFn::Mean => AggSource::Mean {
                sum: find(AggFn::Sum, agg)?,
                count: find(AggFn::Count, agg)?,
            },
            _ => return None,
        });
    }
    Some(Derivation { rollup, aggs })
}

/// The aggregates of a source that a roll-up re-aggregates into `func`:
/// itself for `sum`, `count`, `len`, `min` and `max`, `sum` and `count`
/// for `mean`; `None` for those that do not roll up.
pub(crate) fn rollup_parts(func: AggFn) -> Option<&'static [AggFn]> {
    match func {
        AggFn::Sum => Some(&[AggFn::Sum]),
        AggFn::Count => Some(&[AggFn::Count]),
        AggFn::Len => Some(&[AggFn::Len]),
        AggFn::Min => Some(&[AggFn::Min]),
        AggFn::Max => Some(&[AggFn::Max]),
        AggFn::Mean => Some(&[AggFn::Sum, AggFn::Count]),
        AggFn::NUnique | AggFn::Median | AggFn::Std | AggFn::Var | AggFn::First | AggFn::Last => {
            None
        }
    }
}
