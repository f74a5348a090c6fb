//! Every normalization rule: the variants cost one computation and return
//! equal frames, each in the column order and names its caller asked for.

use polars_query_cache::{Agg, AggFn, CachedQuery, Query, Source};

use crate::common;

fn cache() -> CachedQuery {
    CachedQuery::from_frame(common::frame(&common::rows(300, 5))).unwrap()
}

/// Runs every variant through one cache: one computation in all, and every
/// answer equal to the first (after its own projection).
fn assert_one_entry(variants: &[Query]) {
    let cache = cache();
    let first = cache.get(&variants[0]).unwrap();
    assert_eq!(first.source(), Source::Computed);
    for v in &variants[1..] {
        let frame = cache.get(v).unwrap();
        assert_eq!(frame.source(), Source::Memory, "not a hit: {}", v.to_json());
        let uncached = cache.get_uncached(v).unwrap();
        assert!(
            frame.dataframe().equals_missing(uncached.dataframe()),
            "{} differs from a fresh computation",
            v.to_json()
        );
        let names: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, v.output_names());
    }
    assert_eq!(cache.cache_info().computations, 1);
    assert_eq!(cache.cache_info().entries, 1);
}

fn base() -> Query {
    Query::new().group_by(["k"]).sum("x")
}

#[test]
fn filter_order_and_duplicates() {
    assert_one_entry(&[
        base().eq("cat", "alpha").gt("x", 0),
        base().gt("x", 0).eq("cat", "alpha"),
        base()
            .gt("x", 0)
            .eq("cat", "alpha")
            .eq("cat", "alpha")
            .gt("x", 0),
    ]);
}

#[test]
fn in_of_one_is_eq_and_in_lists_are_sets() {
    assert_one_entry(&[
        base().eq("cat", "beta"),
        base().is_in("cat", ["beta"]),
        base().is_in("cat", ["beta", "beta"]),
    ]);
    assert_one_entry(&[
        base().is_in("k", [3, 1, 2]),
        base().is_in("k", [1, 2, 3, 2, 1]),
        base()
            .is_in("k", [1, 2, 3, 4])
            .is_in("k", [0, 1, 2, 3])
            .is_in("k", [3, 2, 1]),
    ]);
}

#[test]
fn in_lists_intersect() {
    assert_one_entry(&[
        base().is_in("k", [1, 2]),
        base().is_in("k", [0, 1, 2]).is_in("k", [1, 2, 3]),
    ]);
}

#[test]
fn between_is_ge_and_le() {
    assert_one_entry(&[
        base().between("x", -5, 5),
        base().ge("x", -5).le("x", 5),
        base().le("x", 5).ge("x", -5),
    ]);
}

#[test]
fn ranges_intersect_and_integer_bounds_are_inclusive() {
    assert_one_entry(&[
        base().between("x", -3, 7),
        base().gt("x", -4).lt("x", 8),
        base()
            .ge("x", -10)
            .le("x", 10)
            .gt("x", -4)
            .lt("x", 8)
            .ge("x", -3),
        base().gt("x", -3.5).lt("x", 7.2),
    ]);
}

#[test]
fn a_range_that_closes_on_one_value_is_eq() {
    assert_one_entry(&[
        base().eq("x", 4),
        base().between("x", 4, 4),
        base().ge("x", 4).le("x", 4),
        base().gt("x", 3).lt("x", 5),
    ]);
}

#[test]
fn values_are_coerced_to_the_column_type() {
    assert_one_entry(&[
        base().eq("k", 2),
        base().eq("k", "2"),
        base().eq("k", 2.0),
        base().eq("k", "2.0"),
    ]);
    assert_one_entry(&[
        Query::new().group_by(["k"]).count("y").eq("y", 5),
        Query::new().group_by(["k"]).count("y").eq("y", 5.0),
        Query::new().group_by(["k"]).count("y").eq("y", "5"),
    ]);
}

#[test]
fn ne_on_a_boolean_is_eq_of_the_other_value() {
    assert_one_entry(&[
        base().eq("b", true),
        base().ne("b", false),
        base().not_in("b", [false]),
    ]);
}

#[test]
fn contradictions_share_one_entry_and_give_one_row_without_group_by() {
    let variants = [
        Query::new().len().sum("x").eq("x", 1).eq("x", 2),
        Query::new().len().sum("x").gt("x", 5).lt("x", 3),
        Query::new().len().sum("x").is_null("k").eq("k", 1),
        Query::new().len().sum("x").eq("x", 2.5),
        Query::new()
            .len()
            .sum("x")
            .is_in("cat", ["alpha"])
            .is_in("cat", ["beta"]),
    ];
    assert_one_entry(&variants);
    let frame = cache().get(&variants[0]).unwrap();
    assert_eq!(frame.height(), 1);
    let cells = common::frame_cells(&frame);
    assert!(cells[0][0].approx_eq(&common::Cell::Int(0)));
    assert!(matches!(cells[0][1], common::Cell::Null));
}

#[test]
fn group_by_and_aggregate_order_and_aliases() {
    let a = Query::new().group_by(["cat", "k"]).sum("x").len().mean("y");
    let b = Query::new()
        .group_by(["k", "cat"])
        .agg(Agg::new(AggFn::Mean, "y").alias("avg_y"))
        .len()
        .agg(Agg::new(AggFn::Sum, "x").alias("total"));
    assert_one_entry(&[a, b.clone()]);
    // The caller who listed `k` first gets rows sorted by `k` first.
    let cache = cache();
    let frame = cache.get(&b).unwrap();
    let cells = common::frame_cells(&frame);
    for pair in cells.windows(2) {
        let order = common::cmp_cells(&pair[0][0], &pair[1][0])
            .then_with(|| common::cmp_cells(&pair[0][1], &pair[1][1]));
        assert_eq!(order, std::cmp::Ordering::Less);
    }
}

#[test]
fn json_and_builder_forms_are_one_key() {
    let cache = cache();
    let from_builder = cache
        .key(
            &Query::new()
                .eq("cat", "alpha")
                .is_in("k", [1, 2])
                .group_by(["b"])
                .len(),
        )
        .unwrap();
    let from_list = cache
        .key(&Query::from_json(r#"{"filters": [{"column": "k", "op": "in", "value": ["2", 1]},
             {"column": "cat", "op": "eq", "value": "alpha"}], "group_by": ["b"], "aggs": [{"fn": "len"}]}"#).unwrap())
        .unwrap();
    let from_object = cache
        .key(&Query::from_json(r#"{"filters": {"cat": "alpha", "k": [2, 1]}, "group_by": ["b"], "aggs": [{"fn": "len"}]}"#).unwrap())
        .unwrap();
    assert_eq!(from_builder, from_list);
    assert_eq!(from_builder, from_object);
}

#[test]
fn different_queries_are_different_keys() {
    let cache = cache();
    let keys = [
        Query::new().eq("k", 1).len(),
        Query::new().eq("k", 2).len(),
        Query::new().ge("k", 1).len(),
        Query::new().gt("y", 1).len(),
        Query::new().ge("y", 1).len(),
        Query::new().eq("k", 1).len().limit(1),
        Query::new().eq("k", 1).count("x"),
        Query::new().ne("k", 1).len(),
    ]
    .map(|q| cache.key(&q).unwrap());
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn consecutive_integers_are_a_range_and_short_ranges_with_holes_are_sets() {
    assert_one_entry(&[
        base().is_in("k", [1, 2]),
        base().between("k", 1, 2),
        base().gt("k", 0).lt("k", 3),
    ]);
    assert_one_entry(&[
        base().is_in("x", [1, 2, 4, 5]),
        base().between("x", 1, 5).ne("x", 3),
        base().between("x", 0, 6).not_in("x", [0, 3, 6]),
    ]);
    assert_one_entry(&[
        base().between("x", 2, 5),
        base().between("x", 1, 5).ne("x", 1),
    ]);
    assert_one_entry(&[
        base().is_in("d", ["2022-01-01", "2022-01-02"]),
        base().between("d", "2022-01-01", "2022-01-02"),
    ]);
}
