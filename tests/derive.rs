//! Semantic reuse: answers derived from cached answers that contain them
//! equal a fresh computation; what cannot be derived is computed.

use std::sync::OnceLock;

use polars_query_cache::{
    Agg, AggFn, CachedQuery, DeriveMode, Filter, Predicate, Query, Source, Value,
};
use proptest::prelude::*;

use crate::common;

const GROUPS: [&str; 4] = ["cat", "k", "b", "d"];

fn frame() -> polars::prelude::DataFrame {
    static FRAME: OnceLock<polars::prelude::DataFrame> = OnceLock::new();
    FRAME
        .get_or_init(|| common::frame(&common::rows(3_000, 21)))
        .clone()
}

fn group_filter(column: &'static str) -> BoxedStrategy<Filter> {
    let value: BoxedStrategy<Value> = match column {
        "cat" => proptest::sample::select(&["alpha", "beta", "gamma", "omega"][..])
            .prop_map(Value::from)
            .boxed(),
        "k" => (0i64..4).prop_map(Value::Int).boxed(),
        "b" => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => (19_000i64..19_060)
            .prop_map(|d| {
                let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                    + chrono::Days::new(d as u64);
                Value::Str(date.format("%Y-%m-%d").to_string())
            })
            .boxed(),
    };
    let ordered = column != "b";
    prop_oneof![
        value.clone().prop_map(Predicate::Eq),
        proptest::collection::vec(value.clone(), 1..3).prop_map(Predicate::In),
        value.clone().prop_map(move |v| if ordered {
            Predicate::Ge(v)
        } else {
            Predicate::Ne(v)
        }),
        Just(Predicate::IsNotNull),
    ]
    .prop_map(move |p| Filter::new(column, p))
    .boxed()
}

fn other_filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (-20i64..20).prop_map(|v| Filter::new("x", Predicate::Ge(Value::Int(v)))),
        (-100i64..100).prop_map(|v| Filter::new("y", Predicate::Lt(Value::Int(v)))),
        Just(Filter::new("y", Predicate::IsNotNull)),
    ]
}

/// A source query and a query derivable from it.
fn pair() -> impl Strategy<Value = (Query, Query)> {
    (
        proptest::sample::subsequence(&GROUPS[..], 1..=3),
        proptest::collection::vec(other_filter(), 0..2),
        proptest::sample::subsequence(&["x", "y"][..], 1..=2),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_flat_map(|(groups, s_filters, measures, with_narrow_only, seed)| {
            let extra: Vec<BoxedStrategy<Filter>> =
                groups.iter().map(|g| group_filter(g)).collect();
            let kept = proptest::sample::subsequence(groups.clone(), 0..=groups.len());
            (
                Just((groups, s_filters, measures, with_narrow_only, seed)),
                extra,
                kept,
            )
        })
        .prop_map(
            |((groups, s_filters, measures, with_narrow_only, seed), extra, kept)| {
                let mut s = Query {
                    filters: s_filters.clone(),
                    ..Query::default()
                }
                .group_by(groups.clone())
                .len();
                for m in &measures {
                    s = s.sum(m).count(m).min(m).max(m);
                }
                if with_narrow_only {
                    s = s
                        .agg(Agg::new(AggFn::Median, measures[0]))
                        .agg(Agg::new(AggFn::First, measures[0]));
                }
                let rollup = kept.len() < groups.len();
                let mut q = Query {
                    filters: s_filters,
                    ..Query::default()
                };
                // Extra filters on some of the source's group columns.
                for (i, f) in extra.into_iter().enumerate() {
                    if seed >> i & 1 == 1 {
                        q = q.filter(f);
                    }
                }
                q = q.group_by(kept);
                let m = measures[(seed >> 8) as usize % measures.len()];
                q = match (seed >> 10) % 4 {
                    0 => q.sum(m).len(),
                    1 => q.mean(m).count(m),
                    2 => q.min(m).max(m).len(),
                    _ => q.mean(m).sum(m).min(m),
                };
                if !rollup && with_narrow_only {
                    q = q
                        .agg(Agg::new(AggFn::Median, m).alias("med"))
                        .agg(Agg::new(AggFn::First, m).alias("first"));
                    if m != measures[0] {
                        // Only the first measure has a median and first in the source.
                        q.aggs.truncate(q.aggs.len() - 2);
                    }
                }
                (s, q)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn derived_answers_equal_fresh_computations((source, query) in pair()) {
        let cache = CachedQuery::from_frame(frame()).unwrap();
        cache.get(&source).unwrap();
        let answer = cache.get(&query).unwrap();
        let same_key = cache.key(&source).unwrap() == cache.key(&query).unwrap();
        prop_assert!(
            answer.source() == Source::Derived || (same_key && answer.source() == Source::Memory),
            "not derived: {} from {}", query.to_json(), source.to_json()
        );
        prop_assert_eq!(cache.cache_info().computations, 1);
        let fresh = cache.get_uncached(&query).unwrap();
        prop_assert_eq!(fresh.dtypes(), answer.dtypes());
        common::assert_same(&common::frame_cells(&answer), &common::frame_cells(&fresh), &query.to_json());
    }

    #[test]
    fn exact_mode_derives_bit_identical_answers((source, query) in pair()) {
        let cache = CachedQuery::builder().derive(DeriveMode::Exact).build_from_frame(frame()).unwrap();
        cache.get(&source).unwrap();
        let answer = cache.get(&query).unwrap();
        let context = format!("{} from {}", query.to_json(), source.to_json());
        let same_key = cache.key(&source).unwrap() == cache.key(&query).unwrap();
        if same_key {
            prop_assert_eq!(answer.source(), Source::Memory, "{}", context);
        } else if exactly_derivable(&source, &query) {
            prop_assert_eq!(answer.source(), Source::Derived, "not derived in exact mode: {}", context);
        } else {
            prop_assert_eq!(answer.source(), Source::Computed, "derived in exact mode: {}", context);
        }
        let info = cache.cache_info();
        prop_assert_eq!(info.derived_hits, u64::from(answer.source() == Source::Derived));
        prop_assert_eq!(info.computations, 1 + u64::from(answer.source() == Source::Computed));
        if answer.source() == Source::Derived {
            let fresh = cache.get_uncached(&query).unwrap();
            prop_assert!(answer.dataframe().equals_missing(fresh.dataframe()), "{}", context);
        }
    }
}

/// A condition on a group column of the source and one it contains (the
/// query's): a set and a subset, a half-open range and a range inside it,
/// `is_not_null` and any value. Holes (`not_in`) on either side.
fn implied_pair() -> impl Strategy<Value = (&'static str, Vec<Predicate>, Vec<Predicate>)> {
    let k = (0i64..4, 0i64..4, 0i64..3).prop_map(|(a, j, l)| {
        let (lo, hi) = (a.min(j), a.max(j));
        prop_oneof![
            Just((
                vec![Predicate::In(vec![
                    Value::Int(lo),
                    Value::Int(hi),
                    Value::Int(3)
                ])],
                vec![Predicate::Eq(Value::Int(hi))],
            )),
            Just((
                vec![Predicate::Ge(Value::Int(lo))],
                vec![Predicate::Between(Value::Int(hi), Value::Int(hi + l))],
            )),
            Just((
                vec![Predicate::Ge(Value::Int(lo)), Predicate::Ne(Value::Int(hi))],
                vec![Predicate::Gt(Value::Int(hi))],
            )),
            Just((
                vec![Predicate::IsNotNull],
                vec![Predicate::Lt(Value::Int(hi))]
            )),
        ]
    });
    let day = |d: i64| {
        let date =
            chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Days::new(d as u64);
        Value::Str(date.format("%Y-%m-%d").to_string())
    };
    let d = (19_000i64..19_060, 0i64..30, 0i64..30).prop_map(move |(a, j, l)| {
        (
            vec![Predicate::Ge(day(a))],
            vec![Predicate::Between(day(a + j), day(a + j + l))],
        )
    });
    let cats = ["alpha", "beta", "gamma", "omega"];
    let cat = (0usize..4, 0usize..4).prop_map(move |(a, b)| {
        (
            vec![Predicate::NotIn(vec![Value::from(cats[a])])],
            vec![
                Predicate::In(vec![Value::from(cats[b]), Value::from(cats[(b + 1) % 4])]),
                Predicate::Ne(Value::from(cats[a])),
            ],
        )
    });
    prop_oneof![
        k.prop_flat_map(|s| s).prop_map(|(w, n)| ("k", w, n)),
        d.prop_map(|(w, n)| ("d", w, n)),
        cat.prop_map(|(w, n)| ("cat", w, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A cached answer whose condition on a column it groups by contains
    /// the query's answers the query by narrowing (then rolling up).
    #[test]
    fn implied_filters_derive_the_fresh_answer(
        (column, wide, narrow) in implied_pair(),
        keep_column in any::<bool>(),
        measure in proptest::sample::select(&["x", "y"][..]),
    ) {
        let cache = CachedQuery::from_frame(frame()).unwrap();
        let other = if column == "b" { "k" } else { "b" };
        let mut source = Query::new().group_by([column, other]).len();
        source = source.sum(measure).count(measure).min(measure).max(measure);
        for p in &wide {
            source = source.filter(Filter::new(column, p.clone()));
        }
        cache.get(&source).unwrap();
        let mut query = Query::new()
            .group_by(if keep_column { vec![column] } else { vec![other] })
            .mean(measure)
            .min(measure)
            .len();
        for p in &narrow {
            query = query.filter(Filter::new(column, p.clone()));
        }
        let answer = cache.get(&query).unwrap();
        let context = format!("{} from {}", query.to_json(), source.to_json());
        let same_key = cache.key(&source).unwrap() == cache.key(&query).unwrap();
        prop_assert!(
            answer.source() == Source::Derived || same_key,
            "not derived: {}", context
        );
        let fresh = cache.get_uncached(&query).unwrap();
        common::assert_same(&common::frame_cells(&answer), &common::frame_cells(&fresh), &context);
    }
}

/// A condition the source's does not contain is computed, not derived.
#[test]
fn a_wider_condition_than_the_sources_is_computed() {
    let cache = CachedQuery::from_frame(frame()).unwrap();
    cache
        .get(
            &Query::new()
                .is_in("k", [1, 2])
                .group_by(["k", "cat"])
                .sum("x"),
        )
        .unwrap();
    for wider in [
        Query::new().is_in("k", [1, 3]).group_by(["cat"]).sum("x"),
        Query::new().ge("k", 1).group_by(["k"]).sum("x"),
        Query::new().is_not_null("k").group_by(["cat"]).sum("x"),
        // Contained, but with a filter on a column the source does not
        // group by.
        Query::new()
            .eq("b", true)
            .eq("k", 1)
            .group_by(["k"])
            .sum("x"),
    ] {
        let answer = cache.get(&wider).unwrap();
        assert_eq!(answer.source(), Source::Computed, "{}", wider.to_json());
    }
    let narrower = Query::new().eq("k", 2).eq("cat", "beta").sum("x");
    assert_eq!(cache.get(&narrower).unwrap().source(), Source::Derived);
}

/// Whether exact mode derives `query` from `source` (a pair of `pair()`,
/// which approximate mode always derives): with the same groups, anything
/// but a mean the source lacks (a division that may round differently);
/// rolled up, anything but float sums and means (another summation order).
/// `x` is the integer measure, `y` the float one.
fn exactly_derivable(source: &Query, query: &Query) -> bool {
    let rollup = query.group_by.len() < source.group_by.len();
    !query.aggs.iter().any(|a| match a.func {
        AggFn::Mean => !rollup || a.column.as_deref() == Some("y"),
        AggFn::Sum => rollup && a.column.as_deref() == Some("y"),
        _ => false,
    })
}

fn source() -> Query {
    Query::new()
        .ge("x", 0)
        .group_by(["cat", "k"])
        .sum("y")
        .count("y")
        .len()
        .agg(Agg::new(AggFn::Median, "y"))
}

#[test]
fn what_cannot_be_derived_is_computed() {
    let cache = CachedQuery::from_frame(frame()).unwrap();
    cache.get(&source()).unwrap();
    let computed = [
        // A filter on a column the source did not group by.
        Query::new()
            .ge("x", 0)
            .eq("b", true)
            .group_by(["cat"])
            .sum("y"),
        // A median under a roll-up.
        Query::new()
            .ge("x", 0)
            .group_by(["cat"])
            .agg(Agg::new(AggFn::Median, "y")),
        // The source has a filter the query lacks.
        Query::new().group_by(["cat"]).sum("y"),
        // An aggregate the source does not have.
        Query::new().ge("x", 0).group_by(["cat", "k"]).max("y"),
        // A group the source did not group by.
        Query::new().ge("x", 0).group_by(["cat", "d"]).sum("y"),
    ];
    for q in computed {
        assert_eq!(
            cache.get(&q).unwrap().source(),
            Source::Computed,
            "{}",
            q.to_json()
        );
    }
    // A source with a limit is incomplete.
    let limited = CachedQuery::from_frame(frame()).unwrap();
    limited
        .get(&Query::new().group_by(["cat", "k"]).sum("y").limit(3))
        .unwrap();
    assert_eq!(
        limited
            .get(&Query::new().group_by(["cat"]).sum("y"))
            .unwrap()
            .source(),
        Source::Computed
    );
    // And with derivation off nothing is derived.
    let off = CachedQuery::builder()
        .derive(DeriveMode::Off)
        .build_from_frame(frame())
        .unwrap();
    off.get(&source()).unwrap();
    assert_eq!(
        off.get(&Query::new().ge("x", 0).group_by(["cat"]).sum("y"))
            .unwrap()
            .source(),
        Source::Computed
    );
}

#[test]
fn derived_entries_are_counted_cached_and_dropped_with_their_source() {
    let cache = CachedQuery::from_frame(frame()).unwrap();
    let narrowed = Query::new()
        .ge("x", 0)
        .eq("cat", "beta")
        .group_by(["cat"])
        .sum("y")
        .mean("y");
    cache.get(&source()).unwrap();
    assert_eq!(cache.get(&narrowed).unwrap().source(), Source::Derived);
    assert_eq!(cache.get(&narrowed).unwrap().source(), Source::Memory);
    let info = cache.cache_info();
    assert_eq!(
        (info.computations, info.derived_hits, info.hits, info.misses),
        (1, 1, 2, 1)
    );
    assert!(cache.invalidate(&source()).unwrap());
    assert!(
        cache.get_cached(&narrowed).unwrap().is_none(),
        "the derived entry went with its source"
    );
}

#[test]
fn refresh_drops_derived_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "g,h,v\na,x,1\na,y,2\nb,x,3\n").unwrap();
    let cache = CachedQuery::from_csv(&path).unwrap();
    let by_gh = Query::new().group_by(["g", "h"]).sum("v");
    let by_g = Query::new().group_by(["g"]).sum("v");
    cache.get(&by_gh).unwrap();
    assert_eq!(cache.get(&by_g).unwrap().source(), Source::Derived);
    std::fs::write(&path, "g,h,v\na,x,10\na,y,20\nb,x,30\n").unwrap();
    assert!(cache.refresh().unwrap().changed());
    let fresh = cache.get(&by_g).unwrap();
    assert_eq!(fresh.source(), Source::Computed);
    assert_eq!(
        fresh
            .column("sum_v")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<i64>(),
        Some(30)
    );
}

#[test]
fn declared_rollups_answer_without_scanning() {
    let rollup = Query::new()
        .group_by(["cat", "k", "b"])
        .sum("y")
        .count("y")
        .sum("x")
        .count("x")
        .len()
        .min("y")
        .max("y");
    let cache = CachedQuery::builder()
        .rollup(rollup.clone())
        .max_bytes(0)
        .build_from_frame(frame())
        .unwrap();
    let info = cache.cache_info();
    assert_eq!((info.rollups, info.computations), (1, 0));
    assert!(info.rollup_bytes > 0);
    for q in [
        Query::new().group_by(["cat"]).mean("y"),
        Query::new().eq("k", 2).group_by(["b"]).sum("x").len(),
        Query::new()
            .is_in("cat", ["alpha", "beta"])
            .min("y")
            .max("y"),
        rollup.clone(),
    ] {
        let answer = cache.get(&q).unwrap();
        assert_eq!(answer.source(), Source::Derived, "{}", q.to_json());
        common::assert_same(
            &common::frame_cells(&answer),
            &common::frame_cells(&cache.get_uncached(&q).unwrap()),
            &q.to_json(),
        );
    }
    assert_eq!(cache.cache_info().computations, 0);
    // A roll-up must contain every group.
    let err = CachedQuery::builder()
        .rollup(Query::new().eq("k", 1).group_by(["cat"]).len())
        .build_from_frame(frame())
        .unwrap_err();
    assert!(err.to_string().contains("no filters"), "{err}");
}
