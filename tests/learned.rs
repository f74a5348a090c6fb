//! Roll-ups learned from the misses: built from the workload's shapes,
//! within their budget, answering the misses they contain with the answer
//! a scan gives, off when switched off, dropped with their data version.

use std::time::{Duration, Instant};

use polars_query_cache::{AggFn, CachedQuery, DeriveMode, Filter, Query, Source, Value};
use proptest::prelude::*;

use crate::common;

fn frame() -> polars::prelude::DataFrame {
    common::frame(&common::rows(2_000, 31))
}

/// Twelve misses of one shape (grouped by `cat`, filtered on `k` and
/// `cat`): the learner builds a roll-up once a few would have paid for it.
fn variants(of: impl Fn(i64) -> Query) -> Vec<Query> {
    (0..4)
        .flat_map(|k| ["alpha", "beta", "gamma"].map(|c| of(k).ne("cat", c)))
        .collect()
}

/// Asks the first `n` of `queries`, then plans.
fn learn_from(cache: &CachedQuery, queries: &[Query], n: usize) {
    for q in &queries[..n] {
        assert_eq!(cache.get(q).unwrap().source(), Source::Computed);
    }
    cache.learn_rollups_now();
}

fn by_cat(k: i64) -> Query {
    Query::new()
        .eq("k", k)
        .group_by(["cat"])
        .sum("x")
        .mean("y")
        .len()
}

#[test]
fn a_learned_rollup_answers_the_variants_of_a_shape() {
    let cache = CachedQuery::from_frame(frame()).unwrap();
    let queries = variants(by_cat);
    learn_from(&cache, &queries, 6);
    let info = cache.cache_info();
    assert_eq!(info.learned_rollups.len(), 1, "{info:?}");
    let learned = &info.learned_rollups[0];
    assert!(
        learned.query.contains("cat") && learned.query.contains('k'),
        "{learned:?}"
    );
    let computations = info.computations;
    for q in &queries[6..] {
        let answer = cache.get(q).unwrap();
        assert_eq!(answer.source(), Source::Derived);
        let fresh = cache.get_uncached(q).unwrap();
        common::assert_same(
            &common::frame_cells(&answer),
            &common::frame_cells(&fresh),
            "from the learned roll-up",
        );
    }
    // Other shapes it contains: a roll-up to fewer groups, a wider filter.
    let rolled = Query::new().group_by(["k"]).sum("x");
    let answer = cache.get(&rolled).unwrap();
    assert_eq!(answer.source(), Source::Derived);
    common::assert_same(
        &common::frame_cells(&answer),
        &common::frame_cells(&cache.get_uncached(&rolled).unwrap()),
        "rolled up",
    );
    let info = cache.cache_info();
    assert_eq!(info.computations, computations, "no scan after learning");
    assert_eq!(info.learned_rollups[0].answered, 7);
}

#[test]
fn switched_off_or_without_room_nothing_is_learned() {
    let off = CachedQuery::builder()
        .learned_rollups(false)
        .build_from_frame(frame())
        .unwrap();
    let exact_off = CachedQuery::builder()
        .derive(DeriveMode::Off)
        .build_from_frame(frame())
        .unwrap();
    let tiny = CachedQuery::builder()
        .learned_rollup_bytes(64)
        .build_from_frame(frame())
        .unwrap();
    let queries = variants(by_cat);
    for cache in [&off, &exact_off, &tiny] {
        learn_from(cache, &queries, 6);
        assert!(cache.cache_info().learned_rollups.is_empty());
        assert_eq!(cache.get(&queries[6]).unwrap().source(), Source::Computed);
    }
    // Switched back on, the default budget is back.
    let on = CachedQuery::builder()
        .learned_rollups(false)
        .learned_rollups(true)
        .build_from_frame(frame())
        .unwrap();
    learn_from(&on, &queries, 6);
    assert_eq!(on.cache_info().learned_rollups.len(), 1);
}

/// In exact mode a float mean is never rolled up, so a shape with one is
/// not learned; an integer sum is.
#[test]
fn exact_mode_learns_only_exact_rollups() {
    let cache = CachedQuery::builder()
        .derive(DeriveMode::Exact)
        .build_from_frame(frame())
        .unwrap();
    learn_from(&cache, &variants(by_cat), 6);
    assert!(cache.cache_info().learned_rollups.is_empty());
    let ints = variants(|k| Query::new().eq("k", k).group_by(["cat"]).sum("x").max("x"));
    learn_from(&cache, &ints, 6);
    assert_eq!(cache.cache_info().learned_rollups.len(), 1);
    let answer = cache.get(&ints[11]).unwrap();
    assert_eq!(answer.source(), Source::Derived);
    assert!(
        answer
            .dataframe()
            .equals_missing(cache.get_uncached(&ints[11]).unwrap().dataframe())
    );
}

/// Without being asked, the cache plans on a thread of its own every few
/// misses: the roll-up appears while queries go on.
#[test]
fn the_learner_runs_in_the_background() {
    let cache = CachedQuery::from_frame(frame()).unwrap();
    let days = ["2022-01-10", "2022-01-20", "2022-02-01", "2022-02-15"];
    for (i, day) in days.iter().cycle().take(12).enumerate() {
        cache
            .get(
                &Query::new()
                    .ge("d", *day)
                    .group_by(["b"])
                    .max("y")
                    .count("x")
                    .limit(i + 1),
            )
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while cache.cache_info().learned_rollups.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no roll-up learned in the background"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let q = Query::new().ge("d", "2022-01-05").group_by(["b"]).max("y");
    assert_eq!(cache.get(&q).unwrap().source(), Source::Derived);
}

/// A roll-up is kept while the misses it answers go on, however many
/// misses no roll-up can answer come between: the misses it answers are
/// the demand for it (they used to go unrecorded, so its shapes faded from
/// the workload and it was dropped while still in use).
#[test]
fn a_rollup_answering_misses_is_kept() {
    let cache = CachedQuery::from_frame(frame()).unwrap();
    learn_from(&cache, &variants(by_cat), 6);
    let learned = cache.cache_info().learned_rollups;
    assert_eq!(learned.len(), 1, "{learned:?}");
    for n in 1..=500 {
        let answered = by_cat(2 + (n % 2) as i64).ne("cat", "beta").limit(n);
        assert_eq!(
            cache.get(&answered).unwrap().source(),
            Source::Derived,
            "request {n}"
        );
        // Grouped by a column of about as many values as rows: no
        // roll-up is worth building for it.
        let scanned = Query::new().gt("x", 0).group_by(["y"]).sum("x").limit(n);
        assert_eq!(cache.get(&scanned).unwrap().source(), Source::Computed);
    }
    cache.learn_rollups_now();
    let info = cache.cache_info();
    assert_eq!(info.learned_rollups.len(), 1, "{info:?}");
    assert_eq!(info.learned_rollups[0].query, learned[0].query);
    assert!(info.learned_rollups[0].answered >= 2, "{info:?}");
}

/// When the workload moves to another shape, its roll-up is built and
/// the one nothing asks for any more is dropped.
#[test]
fn a_shift_in_the_workload_replaces_the_rollups() {
    let cache = CachedQuery::from_frame(frame()).unwrap();
    learn_from(&cache, &variants(by_cat), 6);
    let before = cache.cache_info().learned_rollups;
    assert_eq!(before.len(), 1, "{before:?}");
    let by_b = |n: usize| {
        Query::new()
            .eq("k", (n % 4) as i64)
            .group_by(["b"])
            .sum("x")
            .limit(n)
    };
    for n in 1..=500 {
        let answer = cache.get(&by_b(n)).unwrap();
        common::assert_same(
            &common::frame_cells(&answer),
            &common::frame_cells(&cache.get_uncached(&by_b(n)).unwrap()),
            "after the shift",
        );
    }
    cache.learn_rollups_now();
    let info = cache.cache_info();
    assert_eq!(info.learned_rollups.len(), 1, "{info:?}");
    let after = &info.learned_rollups[0];
    assert_ne!(after.query, before[0].query, "{info:?}");
    assert!(after.answered > 0, "{info:?}");
    assert_eq!(
        cache.get(&by_b(501)).unwrap().source(),
        Source::Derived,
        "{info:?}"
    );
}

#[test]
fn a_refresh_drops_what_was_learned() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("sales.csv");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"), &csv).unwrap();
    let cache = CachedQuery::from_csv(&csv).unwrap();
    let q = |year: i64, category: &str| {
        Query::new()
            .eq("year", year)
            .ne("category", category)
            .group_by(["region"])
            .sum("units")
    };
    let queries: Vec<Query> = [2021, 2022, 2023]
        .into_iter()
        .flat_map(|y| ["Books", "Games"].map(|c| q(y, c)))
        .collect();
    learn_from(&cache, &queries, 6);
    assert_eq!(cache.cache_info().learned_rollups.len(), 1);
    let mut text = std::fs::read_to_string(&csv).unwrap();
    let last = text.lines().last().unwrap().to_owned();
    text.push_str(&last);
    text.push('\n');
    std::fs::write(&csv, text).unwrap();
    assert!(cache.refresh().unwrap().changed());
    assert!(cache.cache_info().learned_rollups.is_empty());
    assert_eq!(
        cache.get(&q(2024, "Books")).unwrap().source(),
        Source::Computed
    );
}

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (0i64..4).prop_map(|k| Filter::new("k", polars_query_cache::Predicate::Eq(Value::Int(k)))),
        proptest::sample::select(&["alpha", "beta", "gamma"][..])
            .prop_map(|c| Filter::new("cat", polars_query_cache::Predicate::Ne(Value::from(c)))),
        any::<bool>()
            .prop_map(|b| Filter::new("b", polars_query_cache::Predicate::Eq(Value::Bool(b)))),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    (
        proptest::collection::vec(filter(), 0..3),
        proptest::sample::subsequence(&["cat", "k", "b"][..], 0..=2),
        proptest::sample::subsequence(
            &[
                (AggFn::Sum, "x"),
                (AggFn::Mean, "y"),
                (AggFn::Min, "y"),
                (AggFn::Max, "x"),
                (AggFn::Count, "y"),
                (AggFn::Len, ""),
            ][..],
            1..=3,
        ),
    )
        .prop_map(|(filters, groups, aggs)| {
            let q = Query {
                filters,
                ..Query::default()
            }
            .group_by(groups);
            let aggs = aggs.into_iter().map(|(func, column)| match func {
                AggFn::Len => polars_query_cache::Agg::len(),
                func => polars_query_cache::Agg::new(func, column),
            });
            common::with_aliased(q, aggs)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the workload, after learning every answer is the scan's.
    #[test]
    fn answers_after_learning_equal_a_scan(
        seen in proptest::collection::vec(query(), 1..10),
        later in proptest::collection::vec(query(), 1..10),
    ) {
        let cache = CachedQuery::from_frame(frame()).unwrap();
        for q in &seen {
            cache.get(q).unwrap();
        }
        cache.learn_rollups_now();
        let budget = 64u64 << 20;
        let info = cache.cache_info();
        prop_assert!(info.learned_rollups.iter().map(|r| r.bytes).sum::<u64>() <= budget);
        for q in seen.iter().chain(&later) {
            let answer = cache.get(q).unwrap();
            let fresh = cache.get_uncached(q).unwrap();
            common::assert_same(&common::frame_cells(&answer), &common::frame_cells(&fresh), &q.to_json());
        }
    }
}
