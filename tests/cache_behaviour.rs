//! The cache's contract: shared frames, byte bounds, TTL, statistics,
//! invalidation, memoize, prewarm, arrow export.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::Array as _;
use polars::prelude::*;
use polars_query_cache::{Agg, AggFn, CachedQuery, Query, Source};

use crate::common;

fn cache() -> CachedQuery {
    CachedQuery::from_frame(common::frame(&common::rows(2_000, 9))).unwrap()
}

#[test]
fn a_hit_shares_the_frame() {
    let cache = cache();
    let q = Query::new().group_by(["cat"]).sum("x");
    let a = cache.get(&q).unwrap();
    let b = cache.get(&q).unwrap();
    assert!(Arc::ptr_eq(a.shared(), b.shared()));
    // An aliased variant gets its own names over the same column buffers.
    let c = cache
        .get(
            &Query::new()
                .group_by(["cat"])
                .agg(Agg::new(AggFn::Sum, "x").alias("total")),
        )
        .unwrap();
    assert_eq!(c.source(), Source::Memory);
    let (ours, theirs) = (a.column("sum_x").unwrap(), c.column("total").unwrap());
    let ptr = |col: &Column| {
        col.as_materialized_series()
            .i64()
            .unwrap()
            .cont_slice()
            .unwrap()
            .as_ptr()
    };
    assert_eq!(ptr(ours), ptr(theirs));
}

#[test]
fn statistics_count_like_lru_cache_and_more() {
    let cache = cache();
    let q1 = Query::new().eq("cat", "alpha").len();
    let q2 = Query::new().eq("cat", "beta").len();
    cache.get(&q1).unwrap();
    cache.get(&q1).unwrap();
    cache.get(&q1).unwrap();
    cache.get(&q2).unwrap();
    let info = cache.cache_info();
    assert_eq!(
        (info.hits, info.misses, info.computations, info.memory_hits),
        (2, 2, 2, 2)
    );
    assert_eq!(info.entries, 2);
    assert!(info.bytes > 0 && info.bytes <= info.max_bytes);
    assert!((info.hit_ratio - 0.5).abs() < 1e-12);
    assert_eq!(info.top_queries.len(), 1);
    assert_eq!(info.top_queries[0].hits, 2);
    assert!(
        info.top_queries[0].query.contains("cat = \"alpha\""),
        "{}",
        info.top_queries[0].query
    );
    let json: serde_json::Value = serde_json::from_str(&info.to_json()).unwrap();
    for field in [
        "hits",
        "misses",
        "computations",
        "memory_hits",
        "entries",
        "bytes",
        "evictions",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    cache.reset_stats();
    assert_eq!(cache.cache_info().hits, 0);
}

#[test]
fn invalidate_one_where_and_all() {
    let cache = cache();
    let by_cat = Query::new().eq("cat", "alpha").len();
    let by_k = Query::new().eq("k", 1).len();
    let plain = Query::new().len();
    for q in [&by_cat, &by_k, &plain] {
        cache.get(q).unwrap();
    }
    // An equivalent spelling drops the same entry.
    assert!(
        cache
            .invalidate(&Query::new().is_in("cat", ["alpha"]).len())
            .unwrap()
    );
    assert!(!cache.invalidate(&by_cat).unwrap());
    assert_eq!(cache.get(&by_cat).unwrap().source(), Source::Computed);
    assert_eq!(
        cache.invalidate_where(|key| key.query().is_some_and(|q| q.filters_on("k"))),
        1
    );
    assert_eq!(cache.get(&by_k).unwrap().source(), Source::Computed);
    assert_eq!(cache.get(&plain).unwrap().source(), Source::Memory);
    cache.clear();
    assert_eq!(cache.cache_info().entries, 0);
    assert_eq!(cache.get(&plain).unwrap().source(), Source::Computed);
}

#[test]
fn time_to_live_expires_entries() {
    let cache = CachedQuery::builder()
        .time_to_live(Duration::from_millis(200))
        .build_from_frame(common::frame(&common::rows(100, 1)))
        .unwrap();
    let q = Query::new().len();
    cache.get(&q).unwrap();
    assert_eq!(cache.get(&q).unwrap().source(), Source::Memory);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(cache.get(&q).unwrap().source(), Source::Computed);
}

#[test]
fn time_to_idle_keeps_read_entries_and_expires_unread_ones() {
    let idle = Duration::from_secs(1);
    let cache = CachedQuery::builder()
        .time_to_idle(idle)
        .build_from_frame(common::frame(&common::rows(100, 1)))
        .unwrap();
    let read = Query::new().sum("x");
    let unread = Query::new().group_by(["cat"]).len();
    cache.get(&read).unwrap();
    cache.get(&unread).unwrap();
    // Reads a fifth of the idle limit apart, for well past the limit: a
    // time to live would have expired both by now.
    let started = std::time::Instant::now();
    while started.elapsed() < idle * 5 / 2 {
        std::thread::sleep(idle / 5);
        assert_eq!(
            cache.get(&read).unwrap().source(),
            Source::Memory,
            "a read entry expired after {:?}",
            started.elapsed()
        );
    }
    assert_eq!(cache.get(&unread).unwrap().source(), Source::Computed);
    assert_eq!(cache.cache_info().computations, 3);
}

#[test]
fn a_result_over_the_entry_cap_is_returned_not_cached() {
    let cache = CachedQuery::builder()
        .max_entry_bytes(2_000)
        .build_from_frame(common::frame(&common::rows(2_000, 4)))
        .unwrap();
    let big = Query::new().group_by(["cat", "k", "x", "d"]).len();
    let frame = cache.get(&big).unwrap();
    assert!(frame.estimated_size() > 2_000);
    assert_eq!(cache.get(&big).unwrap().source(), Source::Computed);
    let small = Query::new().len();
    cache.get(&small).unwrap();
    assert_eq!(cache.get(&small).unwrap().source(), Source::Memory);
    let info = cache.cache_info();
    assert_eq!(info.not_cached, 2);
    assert_eq!(info.entries, 1);
}

#[test]
fn memoize_keys_on_name_and_canonical_args() {
    let cache = cache();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let top = |args: serde_json::Value| {
        cache
            .memoize("top", &args, |df| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let n = args["n"].as_u64().unwrap() as IdxSize;
                Ok::<_, PolarsError>(df.head(Some(n as usize)))
            })
            .unwrap()
    };
    assert_eq!(top(serde_json::json!({"n": 3, "by": "x"})).height(), 3);
    assert_eq!(
        top(serde_json::json!({"by": "x", "n": 3})).source(),
        Source::Memory
    );
    assert_eq!(top(serde_json::json!({"n": 4, "by": "x"})).height(), 4);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    // Another name with the same args is another entry.
    let other = cache
        .memoize("other", &serde_json::json!({"n": 3, "by": "x"}), |df| {
            Ok::<_, PolarsError>(df.head(Some(1)))
        })
        .unwrap();
    assert_eq!(other.height(), 1);
    assert!(
        cache
            .invalidate_memoized("top", &serde_json::json!({"by": "x", "n": 3}))
            .unwrap()
    );
    assert_eq!(cache.invalidate_where(|k| k.memo_name() == Some("top")), 1);
    let info = cache.cache_info();
    assert_eq!((info.computations, info.hits, info.entries), (3, 1, 1));
}

#[test]
fn prewarm_computes_in_parallel_and_reports() {
    let cache = cache();
    let queries: Vec<Query> = (0..12)
        .map(|i| Query::new().ge("x", i - 6).group_by(["cat"]).mean("y"))
        .collect();
    cache.get(&queries[0]).unwrap();
    let mut with_bad = queries.clone();
    with_bad.push(Query::new().eq("nope", 1).len());
    let report = cache.prewarm(&with_bad);
    assert_eq!(report.requested, 13);
    assert_eq!(report.already_cached, 1);
    assert_eq!(report.computed, 11);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, 12);
    for q in &queries {
        assert_eq!(cache.get(q).unwrap().source(), Source::Memory);
    }
}

#[test]
fn record_batches_carry_the_same_values() {
    let cache = cache();
    let frame = cache
        .get(&Query::new().group_by(["cat", "d"]).sum("y").len())
        .unwrap();
    let batches = frame.to_record_batches().unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, frame.height());
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["cat", "d", "sum_y", "len"]);
    assert_eq!(schema.field(1).data_type(), &arrow_schema::DataType::Date32);
    let sums = batches[0]
        .column(2)
        .as_any()
        .downcast_ref::<arrow_array::Float64Array>()
        .unwrap();
    let expected = frame.column("sum_y").unwrap().f64().unwrap().get(0);
    assert_eq!(sums.is_null(0), expected.is_none());
    if let Some(v) = expected {
        assert_eq!(sums.value(0), v);
    }
}

#[test]
fn get_uncached_touches_no_statistics_or_entries() {
    let cache = cache();
    cache.get_uncached(&Query::new().len()).unwrap();
    let info = cache.cache_info();
    assert_eq!(
        (info.hits, info.misses, info.computations, info.entries),
        (0, 0, 0, 0)
    );
}

#[test]
fn the_request_memo_never_changes_an_answer() {
    let cache = cache();
    // More distinct requests than the memo holds (it starts afresh when
    // full), each asked twice: the second is a hit with the same answer.
    for i in 0..5_000i64 {
        let q = Query::new()
            .ge("x", i % 41 - 20)
            .lt("y", (i % 128) as f64 - 64.0)
            .len();
        let first = cache.get(&q).unwrap();
        let again = cache.get(&q).unwrap();
        assert_eq!(again.source(), Source::Memory);
        assert!(first.dataframe().equals_missing(again.dataframe()));
        if i % 500 == 0 {
            assert!(
                again
                    .dataframe()
                    .equals_missing(cache.get_uncached(&q).unwrap().dataframe())
            );
        }
    }
    // -0.0 and 0.0 are two requests for the memo but one key for the cache.
    let zero = cache.get(&Query::new().ge("y", 0.0).len()).unwrap();
    let negative_zero = cache.get(&Query::new().ge("y", -0.0).len()).unwrap();
    assert_eq!(negative_zero.source(), Source::Memory);
    assert!(zero.dataframe().equals_missing(negative_zero.dataframe()));
}
