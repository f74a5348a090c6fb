//! Semantic reuse: a query answered by deriving from a cached answer that
//! contains it, against computing it from the base frame (plain Polars, the
//! same plan the cache would run), in the same run.
//!
//! Run: `cargo bench --bench derive` (`PQC_BENCH_ROWS`, default 10 million).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use polars_query_cache::{CachedQuery, Query, Source};

mod common;

fn benches(c: &mut Criterion) {
    let csv = common::csv(common::rows(10_000_000));
    let cache = CachedQuery::from_csv(&csv).expect("load");
    // The dashboard's source: every category, year, month and region.
    let source = Query::new()
        .group_by(["category", "year", "month", "region"])
        .sum("revenue")
        .count("revenue")
        .sum("units")
        .len();
    cache.get(&source).expect("source");
    let cases = [
        (
            "narrow",
            Query::new()
                .eq("category", "Books")
                .eq("year", 2024)
                .group_by(["category", "year", "month", "region"])
                .sum("revenue"),
        ),
        (
            "rollup",
            Query::new()
                .eq("category", "Books")
                .group_by(["month"])
                .mean("revenue")
                .sum("units"),
        ),
        (
            "rollup_all",
            Query::new().group_by(["year"]).sum("revenue").len(),
        ),
    ];
    let mut group = c.benchmark_group("derive");
    group.sample_size(20);
    for (name, q) in &cases {
        assert_eq!(
            cache.get(q).expect("derive").source(),
            Source::Derived,
            "{name}"
        );
        group.bench_function(format!("{name}/derived"), |b| {
            b.iter_batched(
                || cache.invalidate(q).expect("invalidate"),
                |_| black_box(cache.get(q).expect("derived")),
                BatchSize::PerIteration,
            )
        });
        group.bench_function(format!("{name}/computed"), |b| {
            b.iter(|| black_box(cache.plan(q).expect("plan").collect().expect("collect")))
        });
    }
    group.finish();
}

criterion_group!(derive, benches);
criterion_main!(derive);
