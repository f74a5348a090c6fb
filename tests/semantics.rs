//! The SQL null rules and the other documented semantics, on a hand-made
//! table whose answers are known.

use polars::prelude::*;
use polars_query_cache::{Agg, AggFn, CachedQuery, Query};

use crate::common::{self, Cell};

fn cache() -> CachedQuery {
    let df = df!(
        "g" => [Some("a"), Some("a"), Some("b"), None, Some("b"), Some("c")],
        "v" => [Some(1i64), None, Some(3), Some(4), None, None],
        "f" => [Some(1.5f64), Some(2.5), None, None, None, None],
    )
    .unwrap();
    CachedQuery::from_frame(df).unwrap()
}

fn rows(q: &Query) -> Vec<Vec<Cell>> {
    common::frame_cells(&cache().get(q).unwrap())
}

fn int(i: i64) -> Cell {
    Cell::Int(i)
}

fn s(v: &str) -> Cell {
    Cell::Str(v.to_owned())
}

#[test]
fn comparisons_with_null_are_never_true() {
    let count = |q: Query| match rows(&q.len())[0][0] {
        Cell::Int(n) => n,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(count(Query::new().ne("v", 1)), 2); // 3 and 4, not the nulls
    assert_eq!(count(Query::new().not_in("v", [1, 3])), 1);
    assert_eq!(count(Query::new().is_null("v")), 3);
    assert_eq!(count(Query::new().is_not_null("v")), 3);
    assert_eq!(count(Query::new().ne("g", "a")), 3);
}

#[test]
fn null_is_its_own_group_sorted_last() {
    let got = rows(&Query::new().group_by(["g"]).len());
    let want = vec![
        vec![s("a"), int(2)],
        vec![s("b"), int(2)],
        vec![s("c"), int(1)],
        vec![Cell::Null, int(1)],
    ];
    common::assert_same(&got, &want, "group by g");
}

#[test]
fn aggregates_over_nothing_follow_sql() {
    let q = Query::new()
        .group_by(["g"])
        .sum("v")
        .mean("v")
        .min("v")
        .max("v")
        .count("v")
        .len()
        .agg(Agg::new(AggFn::NUnique, "v"))
        .agg(Agg::new(AggFn::Median, "v"))
        .agg(Agg::new(AggFn::Std, "v"))
        .agg(Agg::new(AggFn::Var, "v"))
        .agg(Agg::new(AggFn::First, "v"))
        .agg(Agg::new(AggFn::Last, "v"))
        .eq("g", "c");
    let got = rows(&q);
    // Group c has one row whose v is null.
    let n = Cell::Null;
    let want = vec![vec![
        s("c"),
        n.clone(),
        n.clone(),
        n.clone(),
        n.clone(),
        int(0),
        int(1),
        int(0),
        n.clone(),
        n.clone(),
        n.clone(),
        n.clone(),
        n,
    ]];
    common::assert_same(&got, &want, "group c");
}

#[test]
fn first_last_and_n_unique_skip_nulls() {
    let q = Query::new()
        .group_by(["g"])
        .agg(Agg::new(AggFn::First, "v"))
        .agg(Agg::new(AggFn::Last, "v"))
        .agg(Agg::new(AggFn::NUnique, "v"))
        .eq("g", "a");
    common::assert_same(
        &rows(&q),
        &[vec![s("a"), int(1), int(1), int(1)]],
        "group a",
    );
}

#[test]
fn no_group_by_gives_one_row_even_when_nothing_matched() {
    let q = Query::new()
        .eq("g", "zzz")
        .sum("v")
        .len()
        .count("f")
        .mean("f");
    common::assert_same(
        &rows(&q),
        &[vec![Cell::Null, int(0), int(0), Cell::Null]],
        "nothing matched",
    );
    let q = Query::new().eq("v", 1).eq("v", 3).sum("v").len();
    common::assert_same(&rows(&q), &[vec![Cell::Null, int(0)]], "contradiction");
}

#[test]
fn group_by_with_nothing_matched_has_no_rows_but_its_columns() {
    let frame = cache()
        .get(&Query::new().eq("g", "zzz").group_by(["g"]).sum("v"))
        .unwrap();
    assert_eq!(frame.height(), 0);
    assert_eq!(frame.get_column_names(), ["g", "sum_v"]);
    assert_eq!(frame.column("g").unwrap().dtype(), &DataType::String);
}

#[test]
fn std_and_var_of_one_value_are_null() {
    let q = Query::new()
        .agg(Agg::new(AggFn::Std, "v"))
        .agg(Agg::new(AggFn::Var, "v"))
        .eq("v", 3);
    common::assert_same(&rows(&q), &[vec![Cell::Null, Cell::Null]], "one value");
}

#[test]
fn sort_and_limit_for_top_n() {
    let q = Query::new()
        .group_by(["g"])
        .agg(Agg::len().alias("n"))
        .sort_by("n", true)
        .limit(2);
    // a and b tie at 2: ties fall back to the group key, ascending.
    common::assert_same(
        &rows(&q),
        &[vec![s("a"), int(2)], vec![s("b"), int(2)]],
        "top 2",
    );
    let q = Query::new()
        .group_by(["g"])
        .sum("v")
        .sort_by("sum_v", false);
    // Nulls last whatever the direction.
    let got = rows(&q);
    assert!(matches!(got.last().unwrap()[1], Cell::Null));
}

#[test]
fn group_by_without_aggregates_lists_distinct_keys() {
    common::assert_same(
        &rows(&Query::new().group_by(["g"])),
        &[vec![s("a")], vec![s("b")], vec![s("c")], vec![Cell::Null]],
        "distinct g",
    );
}
