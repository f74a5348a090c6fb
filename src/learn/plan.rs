//! Which roll-ups to build: the greedy view selection of Harinarayan,
//! Rajaraman and Ullman ("Implementing Data Cubes Efficiently", SIGMOD
//! 1996), by benefit per byte.
//!
//! The candidates are the group-by sets of the misses seen and the unions
//! of two of them (a view that serves both), each holding every aggregate
//! the workload asks for. A miss costs the rows it
//! reads: the whole table, or the rows of the smallest chosen view that
//! contains its shape. A view's benefit is what it saves over the misses
//! it could answer, weighted by how often each came, less the scan that
//! builds it when it is not built yet (a view that would save less than
//! one scan is not worth one); each round picks the view of the most
//! benefit per estimated byte that still fits the budget.

use std::collections::BTreeSet;

use super::workload::{Part, Shape};

/// A chosen roll-up: what it groups by and holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    pub(crate) group: BTreeSet<usize>,
    pub(crate) parts: BTreeSet<Part>,
    /// Its estimated rows.
    pub(crate) rows: u64,
}

/// What the planner knows of the table.
pub(crate) struct Table<'a> {
    pub(crate) rows: u64,
    /// What building a view costs, in rows a miss reads: a roll-up
    /// aggregates every row, which costs several times a filtered miss.
    pub(crate) build_rows: f64,
    /// Distinct values (nulls counted as one) of each column, where known.
    pub(crate) distinct: &'a dyn Fn(usize) -> u64,
}

impl Table<'_> {
    /// The rows of a roll-up grouped by `group`: the product of the
    /// columns' distinct counts, at most the table's rows.
    fn rows_of(&self, group: &BTreeSet<usize>) -> u64 {
        group
            .iter()
            .try_fold(1u64, |n, &c| {
                let n = n.saturating_mul((self.distinct)(c).max(1));
                (n < self.rows).then_some(n)
            })
            .unwrap_or(self.rows)
    }
}

/// Estimated bytes of a roll-up: 8 bytes a cell and a little for each row.
fn bytes_of(rows: u64, group: &BTreeSet<usize>, parts: &BTreeSet<Part>) -> u64 {
    rows.saturating_mul(8 * (group.len() + parts.len()) as u64 + 8)
}

/// A view held already: its group, its parts and its rows.
pub(crate) type Held = (BTreeSet<usize>, BTreeSet<Part>, u64);

/// The roll-ups to hold within `budget` bytes for `shapes` (each with its
/// weight), most useful first. A view `held` already, or one that rolls up
/// from one held or chosen, costs no scan.
pub(crate) fn plan(
    shapes: &[(Shape, f64)],
    table: &Table<'_>,
    budget: u64,
    held: &[Held],
) -> Vec<Planned> {
    let mut groups: BTreeSet<BTreeSet<usize>> =
        shapes.iter().map(|(s, _)| s.group.clone()).collect();
    let singles: Vec<BTreeSet<usize>> = groups.iter().cloned().collect();
    for (i, a) in singles.iter().enumerate() {
        for b in &singles[i + 1..] {
            groups.insert(a.union(b).copied().collect());
        }
    }
    // What a new candidate holds: every aggregate the workload asks for,
    // not only those of the shapes seen grouped within it. A dashboard
    // asks each measure by each dimension, and a view built without the
    // measure its next miss wants was scanned again with it; a few more
    // aggregates cost a build little beside its grouping. The views held
    // are candidates as they are, so that a new aggregate does not call
    // for scanning them all again: only the shapes that need it weigh a
    // new build.
    let parts: BTreeSet<Part> = shapes
        .iter()
        .flat_map(|(s, _)| s.parts.iter().copied())
        .collect();
    let mut candidates: Vec<(BTreeSet<usize>, BTreeSet<Part>, u64)> = groups
        .into_iter()
        .filter_map(|group| {
            let rows = table.rows_of(&group);
            // A view as large as the table saves no reading.
            (rows < table.rows / 2).then_some((group, parts.clone(), rows))
        })
        .collect();
    for view in held {
        if !candidates.contains(view) && view.2 < table.rows / 2 {
            candidates.push(view.clone());
        }
    }
    // Rows each shape reads now: the table's until a view serves it.
    let mut cost: Vec<u64> = vec![table.rows; shapes.len()];
    let mut chosen: Vec<Planned> = Vec::new();
    let mut left = budget;
    let mut taken = vec![false; candidates.len()];
    loop {
        let mut best: Option<(usize, f64)> = None;
        for (c, (group, parts, rows)) in candidates.iter().enumerate() {
            let bytes = bytes_of(*rows, group, parts);
            if taken[c] || bytes > left {
                continue;
            }
            let saved: f64 = shapes
                .iter()
                .zip(&cost)
                .filter(|((s, _), _)| s.group.is_subset(group) && s.parts.is_subset(parts))
                .map(|((_, w), cost)| w * cost.saturating_sub(*rows) as f64)
                .sum();
            // Held, or rolled up from a view held or chosen: no scan.
            let rolled = chosen
                .iter()
                .map(|c| (&c.group, &c.parts))
                .chain(held.iter().map(|(g, p, _)| (g, p)))
                .any(|(g, p)| group.is_subset(g) && parts.is_subset(p));
            let build = if rolled { 0.0 } else { table.build_rows };
            let benefit = saved - build;
            let per_byte = benefit / bytes.max(1) as f64;
            if benefit > 0.0 && best.is_none_or(|(_, b)| per_byte > b) {
                best = Some((c, per_byte));
            }
        }
        let Some((c, _)) = best else { break };
        taken[c] = true;
        let (group, parts, rows) = &candidates[c];
        left -= bytes_of(*rows, group, parts);
        for ((s, _), cost) in shapes.iter().zip(cost.iter_mut()) {
            if s.group.is_subset(group) && s.parts.is_subset(parts) {
                *cost = (*cost).min(*rows);
            }
        }
        chosen.push(Planned {
            group: group.clone(),
            parts: parts.clone(),
            rows: *rows,
        });
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::AggFn;

    fn shape(group: &[usize], parts: &[Part]) -> Shape {
        Shape {
            group: group.iter().copied().collect(),
            parts: parts.iter().copied().collect(),
        }
    }

    const SUM: Part = (AggFn::Sum, Some(9));

    /// Columns 0..4 have 10 values each, column 5 has a million.
    fn table(distinct: &dyn Fn(usize) -> u64) -> Table<'_> {
        Table {
            rows: 10_000_000,
            build_rows: 10_000_000.0,
            distinct,
        }
    }

    #[test]
    fn one_view_serves_the_shapes_it_contains() {
        let d = |c: usize| if c == 5 { 1_000_000 } else { 10 };
        let shapes = [
            (shape(&[0], &[SUM]), 5.0),
            (shape(&[0, 1], &[SUM]), 3.0),
            (shape(&[1], &[SUM]), 1.0),
        ];
        let chosen = plan(&shapes, &table(&d), 1 << 20, &[]);
        // [0, 1] (100 rows) serves all three; nothing else is needed
        // more than a little, and the first pick is the cheapest per byte.
        assert!(
            chosen.iter().any(|p| p.group == [0, 1].into()),
            "{chosen:?}"
        );
        assert!(chosen.iter().all(|p| p.parts.contains(&SUM)));
    }

    #[test]
    fn the_budget_and_the_table_size_bound_the_choice() {
        let d = |c: usize| if c == 5 { 1_000_000 } else { 10 };
        // A shape grouped by the million-valued column and two others: its
        // view would be as large as the table.
        let shapes = [
            (shape(&[5, 0, 1], &[SUM]), 100.0),
            (shape(&[0], &[SUM]), 3.0),
        ];
        let chosen = plan(&shapes, &table(&d), 1 << 20, &[]);
        assert_eq!(chosen.len(), 1, "{chosen:?}");
        assert_eq!(chosen[0].group, [0].into());
        // No room at all: nothing.
        assert!(plan(&shapes, &table(&d), 8, &[]).is_empty());
    }

    #[test]
    fn a_view_saving_less_than_its_scan_is_built_only_if_held() {
        let d = |_| 10;
        let once = [(shape(&[0], &[SUM]), 1.0)];
        assert!(plan(&once, &table(&d), 1 << 20, &[]).is_empty());
        let held = plan(
            &once,
            &table(&d),
            1 << 20,
            &[([0].into(), [SUM].into(), 10)],
        );
        assert_eq!(held.len(), 1, "a view held already costs no scan");
    }

    #[test]
    fn a_view_rolled_up_from_a_chosen_one_costs_no_scan() {
        let d = |_| 10;
        // Twice a scan's worth of misses grouped by [0, 1], once by [0]:
        // [0] alone would not pay for its scan, but it rolls up from
        // [0, 1] for nothing, and serves its shape from 10 rows, not 100.
        let shapes = [(shape(&[0, 1], &[SUM]), 2.5), (shape(&[0], &[SUM]), 0.5)];
        let chosen = plan(&shapes, &table(&d), 1 << 20, &[]);
        let groups: Vec<_> = chosen.iter().map(|p| p.group.clone()).collect();
        assert_eq!(groups.len(), 2, "{chosen:?}");
        assert!(groups.contains(&[0, 1].into()) && groups.contains(&[0].into()));
    }

    #[test]
    fn a_new_aggregate_rebuilds_only_the_views_its_shapes_need() {
        let d = |_| 10;
        let max: Part = (AggFn::Max, Some(9));
        // [0] and [1] are held with the sum; a max now comes by [1] alone,
        // once: worth no scan, so both views stay as they are.
        let held = [
            ([0].into(), [SUM].into(), 10),
            ([1].into(), [SUM].into(), 10),
        ];
        let shapes = [
            (shape(&[0], &[SUM]), 4.0),
            (shape(&[1], &[SUM]), 4.0),
            (shape(&[1], &[max]), 0.5),
        ];
        let chosen = plan(&shapes, &table(&d), 1 << 20, &held);
        let mut kept: Vec<_> = chosen
            .iter()
            .map(|p| (p.group.clone(), p.parts.clone()))
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            vec![([0].into(), [SUM].into()), ([1].into(), [SUM].into())]
        );
        // Asked often, the max is worth one scan: a view by [1] with both.
        let shapes = [
            shapes[0].clone(),
            shapes[1].clone(),
            (shape(&[1], &[max]), 4.0),
        ];
        let chosen = plan(&shapes, &table(&d), 1 << 20, &held);
        assert!(
            chosen
                .iter()
                .any(|p| p.group == [1].into() && p.parts == [SUM, max].into()),
            "{chosen:?}"
        );
        assert!(
            !chosen
                .iter()
                .any(|p| p.group == [0].into() && p.parts.contains(&max)),
            "{chosen:?}"
        );
    }

    #[test]
    fn every_view_holds_every_aggregate_asked() {
        let d = |_| 10;
        let max: Part = (AggFn::Max, Some(9));
        // A sum asked by [0], a max by [1]: the next miss by [0] may want
        // the max.
        let shapes = [(shape(&[0], &[SUM]), 3.0), (shape(&[1], &[max]), 3.0)];
        let chosen = plan(&shapes, &table(&d), 1 << 20, &[]);
        assert!(!chosen.is_empty());
        for p in &chosen {
            assert_eq!(p.parts, [SUM, max].into(), "{chosen:?}");
        }
    }
}
