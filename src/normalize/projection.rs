//! One caller's view of a shared answer: which columns of the cached frame,
//! under which names, in which row order.
//!
//! Output names are compared without building them: the hit path only
//! materializes a name when the caller's view differs from the cached frame.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use polars::prelude::{DataFrame, PlSmallStr};

use super::MAX_SUGGESTED_LEN;
use super::key::{CanonicalAgg, CanonicalSort, ColumnRef, OutputRef, sort_options};
use crate::dataset::Dataset;
use crate::frame::{Frame, Source};
use crate::query::{Agg, DefaultName, Query, SortKey, default_name};
use crate::{Error, Result};

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

impl Projection {
    /// Presents the cached frame the way one caller asked for it: its column
    /// order, its names, its group order. When the caller asked for exactly
    /// the cached shape this is an `Arc` clone.
    pub(crate) fn apply(&self, cached: &Arc<DataFrame>, source: Source) -> Result<Frame> {
        let (columns, resort) = match self {
            Projection::Identity => return Ok(Frame::new(Arc::clone(cached), source)),
            Projection::Reshape { columns, resort } => (columns, resort),
        };
        let columns = columns
            .iter()
            .map(|(pos, name)| cached.columns()[*pos].clone().with_name(name.clone()))
            .collect();
        let mut frame = DataFrame::new(cached.height(), columns)?;
        if let Some(by) = resort {
            let names: Vec<_> = by.iter().map(|(n, _)| n.clone()).collect();
            let descending: Vec<bool> = by.iter().map(|(_, d)| *d).collect();
            frame = frame.sort(names, sort_options(descending))?;
        }
        Ok(Frame::new(Arc::new(frame), source))
    }
}

/// An output column's name as the query implies it.
#[derive(Debug, Clone, Copy)]
enum OutName<'a> {
    /// A group-by column, an alias, or `len`.
    Text(&'a str),
    /// An aggregate without alias.
    Default(DefaultName<'a>),
}

impl OutName<'_> {
    #[inline]
    fn matches(&self, s: &str) -> bool {
        match self {
            OutName::Text(t) => *t == s,
            OutName::Default(name) => name.matches(s),
        }
    }

    #[inline]
    fn same(&self, other: &OutName<'_>) -> bool {
        match (*self, *other) {
            (OutName::Text(a), b) => b.matches(a),
            (a, OutName::Text(b)) => a.matches(b),
            (OutName::Default(a), OutName::Default(b)) => a == b,
        }
    }

    fn to_small_str(self) -> PlSmallStr {
        match self {
            OutName::Text(t) => PlSmallStr::from(t),
            OutName::Default(default) => {
                // Inline for short names: no allocation. Writing to a
                // string cannot fail.
                let mut name = PlSmallStr::EMPTY;
                let _ = write!(name, "{default}");
                name
            }
        }
    }
}

impl std::fmt::Display for OutName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutName::Text(t) => f.write_str(t),
            OutName::Default(name) => name.fmt(f),
        }
    }
}

/// The caller's output columns, in the caller's order and under the
/// caller's names, each pointing at its column of the cached frame.
pub(super) struct Outputs<'q> {
    columns: Vec<(OutputRef, OutName<'q>)>,
    by_name: OutputNames,
    /// The number of group-by columns of the cached frame.
    groups: usize,
    /// The number of columns of the cached frame.
    width: usize,
    /// The cached frame has the group columns in schema order, then the
    /// aggregates in canonical order under their default names: a caller
    /// asking exactly that gets the frame itself.
    identity: bool,
}

impl<'q> Outputs<'q> {
    /// The outputs of `query`, whose group-by columns and aggregates are
    /// `group_by` and `aggs` in canonical form.
    #[inline]
    pub(super) fn new(
        query: &'q Query,
        dataset: &Dataset,
        group_by: &[ColumnRef],
        aggs: &[CanonicalAgg],
    ) -> Result<Outputs<'q>> {
        let mut identity = query.group_by.len() == group_by.len() && query.aggs.len() == aggs.len();
        let mut columns: Vec<(OutputRef, OutName<'q>)> =
            Vec::with_capacity(query.group_by.len() + query.aggs.len());
        for name in &query.group_by {
            let index = dataset.column_index(name).unwrap_or_default();
            let pos = group_by
                .iter()
                .position(|c| c.index == index)
                .unwrap_or_default();
            identity &= pos == columns.len();
            columns.push((OutputRef::Group(pos), OutName::Text(name)));
        }
        for wanted in &query.aggs {
            let pos = aggs
                .iter()
                .position(|a| is_canonical_of(a, wanted))
                .unwrap_or_default();
            let cached_name = match &wanted.column {
                Some(column) => OutName::Default(default_name(wanted.func, column)),
                None => OutName::Text(wanted.func.name()),
            };
            let name = match &wanted.alias {
                Some(alias) => OutName::Text(alias),
                None => cached_name,
            };
            identity &= group_by.len() + pos == columns.len() && name.same(&cached_name);
            columns.push((OutputRef::Agg(pos), name));
        }
        let by_name = OutputNames::new(&columns)?;
        Ok(Outputs {
            columns,
            by_name,
            groups: group_by.len(),
            width: group_by.len() + aggs.len(),
            identity,
        })
    }

    /// The query's sort keys, which name output columns, as columns of the
    /// cached frame. Two names of one column (two aliases of one
    /// aggregate) sort once, by the first.
    #[inline]
    pub(super) fn sort_keys(&self, keys: &[SortKey]) -> Result<Vec<CanonicalSort>> {
        let mut sorted = Vec::new();
        if !keys.is_empty() {
            sorted.resize(self.width, false);
        }
        let mut sort = Vec::with_capacity(keys.len().min(sorted.len()));
        for key in keys {
            let Some(at) = self.by_name.find(&self.columns, &key.column) else {
                let names: Vec<String> = self.columns.iter().map(|(_, n)| n.to_string()).collect();
                return Err(Error::UnknownColumn {
                    column: key.column.clone(),
                    suggestions: suggestions(&key.column, &names),
                    available: names,
                });
            };
            let target = self.columns[at].0;
            if !std::mem::replace(&mut sorted[self.slot(target)], true) {
                sort.push(CanonicalSort {
                    target,
                    descending: key.descending,
                });
            }
        }
        Ok(sort)
    }

    /// Orders `sort`'s ties in the caller's group order when it differs
    /// from the schema order the cached frame is sorted in. Under a limit
    /// that order decides which rows survive, so it becomes part of the
    /// canonical sort; otherwise the cached frame is re-sorted for this
    /// caller, and the re-sort is returned.
    #[inline]
    pub(super) fn order_groups(
        &self,
        sort: &mut Vec<CanonicalSort>,
        limit: Option<usize>,
    ) -> Option<Resort> {
        let mut previous = None;
        let schema_order = self.caller_groups().all(|(t, _)| {
            let in_order = previous.is_none_or(|p| p < t);
            previous = Some(t);
            in_order
        });
        if schema_order {
            return None;
        }
        if limit.is_some() {
            for (target, _) in self.caller_groups() {
                if !sort.iter().any(|s| s.target == target) {
                    sort.push(CanonicalSort {
                        target,
                        descending: false,
                    });
                }
            }
            return None;
        }
        let mut by: Vec<(PlSmallStr, bool)> = sort
            .iter()
            .map(|s| (self.name_of(s.target).to_small_str(), s.descending))
            .collect();
        by.extend(
            self.caller_groups()
                .map(|(_, name)| (name.to_small_str(), false)),
        );
        Some(by)
    }

    /// How to present the cached frame to this caller, re-sorted by
    /// `resort` if given.
    #[inline]
    pub(super) fn projection(self, resort: Option<Resort>) -> Projection {
        if self.identity && resort.is_none() {
            return Projection::Identity;
        }
        let columns = self
            .columns
            .iter()
            .map(|(target, name)| (self.slot(*target), name.to_small_str()))
            .collect();
        Projection::Reshape {
            columns,
            resort: resort.map(Arc::from),
        }
    }

    /// The position of `target` in the cached frame.
    #[inline]
    fn slot(&self, target: OutputRef) -> usize {
        match target {
            OutputRef::Group(i) => i,
            OutputRef::Agg(i) => self.groups + i,
        }
    }

    /// The group-by outputs, in the caller's order.
    #[inline]
    fn caller_groups(&self) -> impl Iterator<Item = (OutputRef, &OutName<'q>)> {
        self.columns.iter().filter_map(|(t, name)| match t {
            OutputRef::Group(_) => Some((*t, name)),
            OutputRef::Agg(_) => None,
        })
    }

    #[inline]
    fn name_of(&self, target: OutputRef) -> OutName<'q> {
        self.columns
            .iter()
            .find(|(t, _)| *t == target)
            .map_or(OutName::Text(""), |(_, n)| *n)
    }
}

/// Whether `canonical` is the canonical form of `agg`, an aggregate of the
/// query it was normalized from. A column is found by its exact name, so
/// the names compare as the columns do, without looking the column up again.
#[inline]
fn is_canonical_of(canonical: &CanonicalAgg, agg: &Agg) -> bool {
    canonical.func == agg.func
        && match (&canonical.column, &agg.column) {
            (Some(column), Some(name)) => column.name() == name,
            (None, None) => true,
            _ => false,
        }
}

/// Output columns and directions to re-sort a cached frame by.
pub(super) type Resort = Vec<(PlSmallStr, bool)>;

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
