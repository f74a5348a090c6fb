//! Data beyond one CSV in memory, in one run each:
//! - `scan`: a miss on a Parquet file in scan mode (a streaming query over
//!   the file, projection and predicate pushed into it) against the same
//!   miss on the table in memory, and plain Polars on the frame;
//! - `append`: a refresh after 1% of rows were appended to the CSV (only
//!   the new rows parsed, declared roll-ups merged) against a full reload
//!   (the whole file parsed, the roll-ups computed again).
//!
//! Run: `cargo bench --bench inputs` (`PQC_BENCH_ROWS`, default 10 million).

use std::hint::black_box;
use std::io::Write;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use polars::prelude::*;
use polars_query_cache::{CachedQuery, Dataset, LoadOptions, Query};

mod common;

/// A dashboard miss: one category's months, two aggregates.
fn miss() -> Query {
    Query::new()
        .eq("category", "Books")
        .ge("year", 2023)
        .group_by(["month"])
        .sum("revenue")
        .count("units")
}

fn scan(c: &mut Criterion) {
    let rows = common::rows(10_000_000);
    let csv = common::csv(rows);
    let parquet = common::dir().join(format!("sales-{rows}-seed42.parquet"));
    let loaded = Dataset::from_csv(&csv, &LoadOptions::default()).expect("load");
    if !parquet.exists() {
        let mut frame = loaded.frame().expect("in memory").clone();
        let tmp = parquet.with_extension("tmp");
        let file = std::fs::File::create(&tmp).expect("create parquet");
        ParquetWriter::new(file)
            .finish(&mut frame)
            .expect("write parquet");
        std::fs::rename(&tmp, &parquet).expect("rename parquet");
    }
    drop(loaded);
    let memory = CachedQuery::builder()
        .build_from_path(&parquet)
        .expect("load parquet");
    let scanned = CachedQuery::builder()
        .load_options(LoadOptions::default().with_scan(true))
        .build_from_path(&parquet)
        .expect("scan parquet");
    let q = miss();
    let plain = memory.plan(&q).expect("plan");
    let mut group = c.benchmark_group("scan");
    group.sample_size(10);
    group.bench_function("miss/memory", |b| {
        b.iter(|| black_box(memory.get_uncached(&q).expect("memory")))
    });
    group.bench_function("miss/scan_parquet", |b| {
        b.iter(|| black_box(scanned.get_uncached(&q).expect("scan")))
    });
    group.bench_function("plain_polars", |b| {
        b.iter(|| black_box(plain.clone().collect().expect("polars")))
    });
    group.bench_function("hit/scan_parquet", |b| {
        scanned.get(&q).expect("fill");
        b.iter(|| black_box(scanned.get(&q).expect("hit")))
    });
    group.finish();
}

fn rollups() -> Vec<Query> {
    vec![
        Query::new()
            .group_by(["category", "year", "month", "region"])
            .sum("revenue")
            .count("revenue")
            .sum("units")
            .len(),
        Query::new()
            .group_by(["date"])
            .sum("revenue")
            .max("price")
            .min("price"),
    ]
}

fn append(c: &mut Criterion) {
    let rows = common::rows(10_000_000);
    let base = common::csv(rows);
    // The rows appended: the first 1% of another table, without its header.
    let extra = common::csv(rows / 100);
    let extra = std::fs::read(&extra).expect("read extra");
    let body = &extra[extra.iter().position(|&b| b == b'\n').expect("a header") + 1..];
    let work = common::dir().join("append-work.csv");
    let fresh_copy = || {
        std::fs::copy(&base, &work).expect("copy");
        CachedQuery::builder()
            .rollups(rollups())
            .snapshots(false)
            .build_from_path(&work)
            .expect("load")
    };
    let grow = || {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&work)
            .expect("open");
        file.write_all(body).expect("append");
    };
    let mut group = c.benchmark_group("append");
    group.sample_size(10);
    group.bench_function("refresh_appended_1pct", |b| {
        b.iter_batched(
            || {
                let cache = fresh_copy();
                grow();
                cache
            },
            |cache| {
                let outcome = cache.refresh().expect("refresh");
                assert!(outcome.appended_rows.is_some());
                assert_eq!(cache.cache_info().rollups_merged, 2);
                cache
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("full_reload", |b| {
        b.iter_batched(
            || {
                drop(fresh_copy());
                grow();
            },
            |()| {
                black_box(
                    CachedQuery::builder()
                        .rollups(rollups())
                        .snapshots(false)
                        .build_from_path(&work)
                        .expect("reload"),
                )
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let _ = std::fs::remove_file(&work);
}

criterion_group!(benches, scan, append);
criterion_main!(benches);
