//! The shapes of the misses the cache computed, weighted by how often they
//! came and how recently.

use std::collections::{BTreeSet, HashMap};

use crate::dataset::{ColumnKind, Dataset};
use crate::derive::DeriveMode;
use crate::normalize::CanonicalQuery;
use crate::query::AggFn;

/// An aggregate a roll-up holds: its function and column position (`None`
/// for `len`).
pub(crate) type Part = (AggFn, Option<usize>);

/// What a roll-up needs to answer a miss: the columns to group by (the
/// miss's group-by and filter columns, so that its filters select whole
/// groups) and the aggregates that re-aggregate into the miss's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Shape {
    pub(crate) group: BTreeSet<usize>,
    pub(crate) parts: BTreeSet<Part>,
}

impl Shape {
    /// The shape of `q`, or `None` when no roll-up can answer it under
    /// `mode` (an aggregate that does not re-aggregate, a float sum or
    /// mean in exact mode, a contradiction).
    pub(crate) fn of(q: &CanonicalQuery, dataset: &Dataset, mode: DeriveMode) -> Option<Shape> {
        if q.contradiction || mode == DeriveMode::Off {
            return None;
        }
        let group: BTreeSet<usize> = q
            .group_by
            .iter()
            .map(|c| c.index)
            .chain(q.filters.iter().map(|f| f.column.index))
            .collect();
        let mut parts = BTreeSet::new();
        for agg in &q.aggs {
            let column = agg.column.as_ref().map(|c| c.index);
            let float = column.is_some_and(|i| dataset.columns()[i].kind == ColumnKind::Float);
            if float && mode == DeriveMode::Exact && matches!(agg.func, AggFn::Sum | AggFn::Mean) {
                return None;
            }
            for &part in crate::derive::rollup_parts(agg.func)? {
                parts.insert((part, column));
            }
        }
        Some(Shape { group, parts })
    }
}

/// Misses by shape, each weighted by its count, decaying with every miss
/// recorded (halved over [`HALF_LIFE`] of them), so that a shift in the
/// workload shows within a few dozen misses.
#[derive(Debug, Default)]
pub(crate) struct Workload {
    weights: HashMap<Shape, f64>,
    /// Misses recorded since the last snapshot decayed the weights.
    since_decay: u32,
}

/// The misses over which a shape's weight halves. Halving at every plan
/// (every 8 misses) forgot too fast: a roll-up serving a quarter of the
/// misses never saw the few misses its build costs, so the misses went on
/// scanning.
pub(crate) const HALF_LIFE: f64 = 64.0;

/// Shapes whose weight decayed below this are forgotten.
const FORGOTTEN: f64 = 0.05;

/// The most shapes kept: the planner looks at pairs of them.
const MAX_SHAPES: usize = 256;

impl Workload {
    pub(crate) fn add(&mut self, shape: Shape) {
        if self.weights.len() >= MAX_SHAPES && !self.weights.contains_key(&shape) {
            // The lightest shape makes room: the workload moved on.
            let lightest = self
                .weights
                .iter()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(s, _)| s.clone());
            if let Some(lightest) = lightest {
                self.weights.remove(&lightest);
            }
        }
        *self.weights.entry(shape).or_default() += 1.0;
        self.since_decay = self.since_decay.saturating_add(1);
    }

    /// The shapes and their weights, then decays every weight by the
    /// misses recorded since the last snapshot.
    pub(crate) fn take_snapshot(&mut self) -> Vec<(Shape, f64)> {
        let mut shapes: Vec<(Shape, f64)> =
            self.weights.iter().map(|(s, w)| (s.clone(), *w)).collect();
        shapes.sort_by(|a, b| a.0.cmp(&b.0));
        let decay = 0.5f64.powf(f64::from(self.since_decay) / HALF_LIFE);
        self.since_decay = 0;
        self.weights.retain(|_, w| {
            *w *= decay;
            *w >= FORGOTTEN
        });
        shapes
    }

    pub(crate) fn clear(&mut self) {
        self.weights.clear();
        self.since_decay = 0;
    }
}
