//! Queries: what to filter, how to group, what to aggregate.
//!
//! A [`Query`] is plain data, built in Rust with chained methods or read from
//! its JSON form (see [`Query::from_json`]). It is not checked against any
//! schema until it meets a dataset; see [`crate::normalize`].

mod agg;
mod filter;
mod json;
mod value;

pub use agg::{Agg, AggFn};
pub(crate) use agg::{DefaultName, default_name};
pub use filter::{Filter, Op, Predicate};
pub use value::Value;

/// One output column to order rows by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortKey {
    /// An output column: a group-by column or an aggregate's output name.
    pub column: String,
    /// Largest first. Nulls come last either way.
    #[serde(default)]
    pub descending: bool,
}

/// A filter / group-by / aggregate query.
///
/// ```
/// use polars_query_cache::{Agg, AggFn, Query};
///
/// let q = Query::new()
///     .eq("category", "Books")
///     .is_in("year", [2023, 2024])
///     .group_by(["month"])
///     .agg(Agg::new(AggFn::Sum, "revenue").alias("total"))
///     .len()
///     .sort_by("total", true)
///     .limit(10);
/// assert_eq!(q, Query::from_json(&q.to_json())?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Conditions on rows, ANDed.
    pub filters: Vec<Filter>,
    /// Columns to group by; empty means one group of all matching rows.
    pub group_by: Vec<String>,
    /// Output columns computed per group.
    pub aggs: Vec<Agg>,
    /// Output order; ties and the default follow the group-by columns.
    pub sort: Vec<SortKey>,
    /// Keep at most this many rows (after sorting).
    pub limit: Option<usize>,
}

impl Query {
    /// An empty query: no filter, no group, no aggregate.
    pub fn new() -> Self {
        Query::default()
    }

    /// Adds a filter.
    #[must_use]
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    fn with(self, column: &str, predicate: Predicate) -> Self {
        self.filter(Filter::new(column, predicate))
    }

    /// Keeps rows where `column = value`.
    #[must_use]
    pub fn eq(self, column: &str, value: impl Into<Value>) -> Self {
        self.with(column, Predicate::Eq(value.into()))
    }

    /// Keeps rows where `column <> value` (nulls are not kept).
    #[must_use]
    pub fn ne(self, column: &str, value: impl Into<Value>) -> Self {
        self.with(column, Predicate::Ne(value.into()))
    }

    /// Keeps rows where `column < value`.
    #[must_use]
    pub fn lt(self, column: &str, value: impl Into<Value>) -> Self {
        self.with(column, Predicate::Lt(value.into()))
    }

    /// Keeps rows where `column <= value`.
    #[must_use]
    pub fn le(self, column: &str, value: impl Into<Value>) -> Self {
        self.with(column, Predicate::Le(value.into()))
    }

    /// Keeps rows where `column > value`.
    #[must_use]
    pub fn gt(self, column: &str, value: impl Into<Value>) -> Self {
        self.with(column, Predicate::Gt(value.into()))
    }

    /// Keeps rows where `column >= value`.
    #[must_use]
    pub fn ge(self, column: &str, value: impl Into<Value>) -> Self {
        self.with(column, Predicate::Ge(value.into()))
    }

    /// Keeps rows whose `column` equals one of `values`.
    #[must_use]
    pub fn is_in<V: Into<Value>>(self, column: &str, values: impl IntoIterator<Item = V>) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.with(column, Predicate::In(values))
    }

    /// Keeps rows whose `column` is not null and equals none of `values`.
    #[must_use]
    pub fn not_in<V: Into<Value>>(self, column: &str, values: impl IntoIterator<Item = V>) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.with(column, Predicate::NotIn(values))
    }

    /// Keeps rows where `low <= column <= high`.
    #[must_use]
    pub fn between(self, column: &str, low: impl Into<Value>, high: impl Into<Value>) -> Self {
        self.with(column, Predicate::Between(low.into(), high.into()))
    }

    /// Keeps rows where `column` is null.
    #[must_use]
    pub fn is_null(self, column: &str) -> Self {
        self.with(column, Predicate::IsNull)
    }

    /// Keeps rows where `column` is not null.
    #[must_use]
    pub fn is_not_null(self, column: &str) -> Self {
        self.with(column, Predicate::IsNotNull)
    }

    /// Adds group-by columns.
    #[must_use]
    pub fn group_by<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.group_by.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Adds an aggregate.
    #[must_use]
    pub fn agg(mut self, agg: Agg) -> Self {
        self.aggs.push(agg);
        self
    }

    /// Adds `sum(column)`.
    #[must_use]
    pub fn sum(self, column: &str) -> Self {
        self.agg(Agg::new(AggFn::Sum, column))
    }

    /// Adds `mean(column)`.
    #[must_use]
    pub fn mean(self, column: &str) -> Self {
        self.agg(Agg::new(AggFn::Mean, column))
    }

    /// Adds `min(column)`.
    #[must_use]
    pub fn min(self, column: &str) -> Self {
        self.agg(Agg::new(AggFn::Min, column))
    }

    /// Adds `max(column)`.
    #[must_use]
    pub fn max(self, column: &str) -> Self {
        self.agg(Agg::new(AggFn::Max, column))
    }

    /// Adds `count(column)`: its non-null values.
    #[must_use]
    pub fn count(self, column: &str) -> Self {
        self.agg(Agg::new(AggFn::Count, column))
    }

    /// Adds `len`: the number of rows.
    #[must_use]
    pub fn len(self) -> Self {
        self.agg(Agg::len())
    }

    /// Adds a sort key on an output column.
    #[must_use]
    pub fn sort_by(mut self, column: &str, descending: bool) -> Self {
        self.sort.push(SortKey {
            column: column.to_owned(),
            descending,
        });
        self
    }

    /// Keeps at most `n` rows.
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// The names of the output columns, in order: group-by columns, then
    /// aggregates.
    pub fn output_names(&self) -> Vec<String> {
        self.group_by
            .iter()
            .cloned()
            .chain(self.aggs.iter().map(Agg::output_name))
            .collect()
    }
}
