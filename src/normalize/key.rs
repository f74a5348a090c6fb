//! The canonical form of a query and the key the tiers store it under.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use polars::prelude::{PlSmallStr, SortMultipleOptions};

use std::hash::BuildHasher;

use super::constraint::Constraint;
use crate::dataset::Fingerprint;
use crate::query::AggFn;

/// Bumped whenever the canonical form or the meaning of a key changes, so
/// entries persisted by an older release are never read as answers.
///
/// 2: filter values are compared in their own type (a float bound on a
/// `Float32` column is no longer rounded to `f32`), and bounds beyond a
/// column's type no longer reach Polars.
pub const KEY_FORMAT_VERSION: u32 = 2;

/// A column of the dataset, by position (names are kept for display).
#[derive(Debug, Clone)]
pub struct ColumnRef {
    pub(crate) index: usize,
    pub(crate) name: PlSmallStr,
}

impl ColumnRef {
    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl PartialEq for ColumnRef {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}

impl Eq for ColumnRef {}

impl Hash for ColumnRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.index.hash(state);
    }
}

/// The condition on one column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnFilter {
    /// The column.
    pub column: ColumnRef,
    /// All the query asks of it.
    pub constraint: Constraint,
}

/// An aggregate in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CanonicalAgg {
    /// The function.
    pub func: AggFn,
    /// The column, `None` for `len`.
    pub column: Option<ColumnRef>,
}

impl CanonicalAgg {
    /// The name of its column in the cached frame: the default output name.
    pub(crate) fn name(&self) -> String {
        match &self.column {
            Some(c) => crate::query::default_name(self.func, &c.name).to_string(),
            None => self.func.name().to_owned(),
        }
    }

    fn order(&self) -> (AggFn, usize) {
        (self.func, self.column.as_ref().map_or(0, |c| c.index + 1))
    }
}

impl PartialOrd for CanonicalAgg {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CanonicalAgg {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

/// A column of the cached frame: a group key or an aggregate, by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputRef {
    /// The n-th group-by column.
    Group(usize),
    /// The n-th aggregate.
    Agg(usize),
}

/// One sort key of the cached frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CanonicalSort {
    /// The column sorted on.
    pub target: OutputRef,
    /// Largest first.
    pub descending: bool,
}

/// How rows are ordered by sort keys, wherever they are sorted: nulls last
/// (as SQL's `ORDER BY` puts them), ties in their previous order.
/// `descending` has one entry per sort key.
pub(crate) fn sort_options(descending: Vec<bool>) -> SortMultipleOptions {
    SortMultipleOptions::default()
        .with_order_descending_multi(descending)
        .with_nulls_last(true)
        .with_maintain_order(true)
}

/// A query with every equivalence rule applied: two queries that must give
/// the same answer have equal canonical forms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CanonicalQuery {
    /// At most one condition per column, by column position. Empty when
    /// `contradiction` is set.
    pub filters: Vec<ColumnFilter>,
    /// No row can match: the answer is computed on an empty frame.
    pub contradiction: bool,
    /// Group-by columns by position.
    pub group_by: Vec<ColumnRef>,
    /// Aggregates, sorted and distinct.
    pub aggs: Vec<CanonicalAgg>,
    /// Row order before `group_by`'s; includes the caller's group order when
    /// a limit makes it decide which rows are kept.
    pub sort: Vec<CanonicalSort>,
    /// Maximum number of rows.
    pub limit: Option<usize>,
}

impl CanonicalQuery {
    /// The condition on `column`, if the query filters on it.
    pub fn constraint(&self, column: &str) -> Option<&Constraint> {
        self.filters
            .iter()
            .find(|f| &*f.column.name == column)
            .map(|f| &f.constraint)
    }

    /// Whether the query filters on `column`.
    pub fn filters_on(&self, column: &str) -> bool {
        self.constraint(column).is_some()
    }

    /// Whether `column` appears anywhere in the query.
    pub fn uses_column(&self, column: &str) -> bool {
        self.filters_on(column)
            || self.group_by.iter().any(|c| &*c.name == column)
            || self
                .aggs
                .iter()
                .any(|a| a.column.as_ref().is_some_and(|c| &*c.name == column))
    }

    /// The names of the cached frame's columns, in order.
    pub(crate) fn output_names(&self) -> Vec<String> {
        self.group_by
            .iter()
            .map(|c| c.name.to_string())
            .chain(self.aggs.iter().map(CanonicalAgg::name))
            .collect()
    }

    fn output_name(&self, target: OutputRef) -> String {
        match target {
            OutputRef::Group(i) => self.group_by[i].name.to_string(),
            OutputRef::Agg(i) => self.aggs[i].name(),
        }
    }
}

impl fmt::Display for CanonicalQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let aggs: Vec<String> = self
            .aggs
            .iter()
            .map(|a| match &a.column {
                Some(c) => format!("{}({})", a.func.name(), c.name),
                None => format!("{}()", a.func.name()),
            })
            .collect();
        write!(f, "SELECT ")?;
        let groups: Vec<&str> = self.group_by.iter().map(|c| &*c.name).collect();
        let select: Vec<String> = groups.iter().map(|s| s.to_string()).chain(aggs).collect();
        write!(f, "{}", select.join(", "))?;
        if self.contradiction {
            write!(f, " WHERE FALSE")?;
        } else if !self.filters.is_empty() {
            let conds: Vec<String> = self
                .filters
                .iter()
                .map(|c| c.constraint.describe(&c.column.name))
                .collect();
            write!(f, " WHERE {}", conds.join(" AND "))?;
        }
        if !groups.is_empty() {
            write!(f, " GROUP BY {}", groups.join(", "))?;
        }
        if !self.sort.is_empty() {
            let keys: Vec<String> = self
                .sort
                .iter()
                .map(|s| {
                    format!(
                        "{}{}",
                        self.output_name(s.target),
                        if s.descending { " DESC" } else { "" }
                    )
                })
                .collect();
            write!(f, " ORDER BY {}", keys.join(", "))?;
        }
        if let Some(limit) = self.limit {
            write!(f, " LIMIT {limit}")?;
        }
        Ok(())
    }
}

/// What a key identifies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyBody {
    /// A filter / group-by / aggregate query.
    Query(CanonicalQuery),
    /// An arbitrary function of the frame, memoized with
    /// [`memoize`](crate::CachedQuery::memoize).
    Function {
        /// The computation's name.
        name: String,
        /// Its arguments as canonical JSON (object keys sorted).
        args: String,
    },
}

/// The key of one cached result: the dataset version plus the canonical
/// query. Cloning it clones an `Arc`.
///
/// Keys compare by their whole content, never by hash alone; the hash is
/// computed once and reused by every lookup.
///
/// ```
/// use polars_query_cache::{CachedQuery, Query};
///
/// let cache = CachedQuery::from_csv("data/sales.csv")?;
/// // Two spellings of one question: one key, so one cache entry.
/// let a = cache.key(&Query::new().is_in("year", [2024]).eq("category", "Books").group_by(["month"]).len())?;
/// let b = cache.key(&Query::new().eq("category", "Books").eq("year", "2024").group_by(["month"]).len())?;
/// assert_eq!(a, b);
/// assert_ne!(a, cache.key(&Query::new().eq("year", 2023).eq("category", "Books").group_by(["month"]).len())?);
///
/// // It names the data version and the canonical query.
/// assert_eq!(a.dataset(), cache.dataset().fingerprint());
/// assert!(a.query().is_some_and(|q| q.filters_on("year") && !q.uses_column("revenue")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct QueryKey(Arc<KeyInner>);

struct KeyInner {
    hash: u64,
    dataset: Fingerprint,
    body: KeyBody,
    stable: OnceLock<String>,
}

impl QueryKey {
    pub(crate) fn new(dataset: Fingerprint, body: KeyBody) -> QueryKey {
        // Fast on the many small writes of a key; fixed seed so the hash
        // is reproducible (persisted tiers use `stable_text`, not this).
        let mut hasher = foldhash::fast::FixedState::with_seed(0x7071_6300).build_hasher();
        KEY_FORMAT_VERSION.hash(&mut hasher);
        dataset.hash(&mut hasher);
        body.hash(&mut hasher);
        QueryKey(Arc::new(KeyInner {
            hash: hasher.finish(),
            dataset,
            body,
            stable: OnceLock::new(),
        }))
    }

    /// The dataset version the key belongs to.
    pub fn dataset(&self) -> Fingerprint {
        self.0.dataset
    }

    /// What the key identifies.
    pub fn body(&self) -> &KeyBody {
        &self.0.body
    }

    /// The canonical query, unless this is a memoized computation.
    pub fn query(&self) -> Option<&CanonicalQuery> {
        match &self.0.body {
            KeyBody::Query(q) => Some(q),
            KeyBody::Function { .. } => None,
        }
    }

    /// The name given to [`memoize`](crate::CachedQuery::memoize), if
    /// this is the key of a memoized function.
    pub fn memo_name(&self) -> Option<&str> {
        match &self.0.body {
            KeyBody::Function { name, .. } => Some(name),
            KeyBody::Query(_) => None,
        }
    }

    /// A text form that is the same in every process and release with the
    /// same [`KEY_FORMAT_VERSION`]: what persisted tiers store and compare.
    pub fn stable_text(&self) -> &str {
        self.0
            .stable
            .get_or_init(|| format!("pqc-key-v{KEY_FORMAT_VERSION}|{}|{self}", self.0.dataset))
    }
}

impl fmt::Display for QueryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.body {
            KeyBody::Query(q) => write!(f, "{q}"),
            KeyBody::Function { name, args } => write!(f, "memoize {name}({args})"),
        }
    }
}

impl fmt::Debug for QueryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QueryKey({} @ {})", self, self.0.dataset)
    }
}

impl PartialEq for QueryKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash
                && self.0.dataset == other.0.dataset
                && self.0.body == other.0.body)
    }
}

impl Eq for QueryKey {}

impl Hash for QueryKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

/// A hasher for keys that already carry their hash: it passes it through.
#[derive(Default, Clone, Copy)]
pub(crate) struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached if something other than a key is hashed: mix safely.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Builds [`PassThroughHasher`]s.
#[derive(Default, Clone, Copy)]
pub(crate) struct BuildPassThrough;

impl std::hash::BuildHasher for BuildPassThrough {
    type Hasher = PassThroughHasher;

    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher::default()
    }
}
