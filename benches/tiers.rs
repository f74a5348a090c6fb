//! The persisted tiers: a hit on disk and on Redis for results of 10, 1,000
//! and 100,000 rows, against computing the same result (plain Polars, same
//! run); and a restart from the dataset snapshot against parsing the CSV.
//!
//! Run: `cargo bench --bench tiers` (needs a redis-server on
//! 127.0.0.1:6379 for the Redis figures; `PQC_BENCH_ROWS` sets the table
//! size, default 10 million).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use polars_query_cache::{CachedQuery, Query, Source};

mod common;

/// A query whose answer has exactly `n` rows: one per order.
fn rows_query(n: i64) -> Query {
    Query::new()
        .le("order_id", n)
        .group_by(["order_id"])
        .sum("revenue")
        .mean("price")
}

fn benches(c: &mut Criterion) {
    let csv = common::csv(common::rows(10_000_000));
    let dir = tempfile::tempdir().expect("tempdir");

    // Snapshot restart against parsing: the first build parses and writes
    // the snapshot; every later one reads it.
    let mut restart = c.benchmark_group("restart");
    restart.sample_size(10);
    restart.bench_function("parse_csv", |b| {
        b.iter(|| black_box(CachedQuery::from_csv(&csv).expect("load")))
    });
    let snapshots = dir.path().join("snap");
    CachedQuery::builder()
        .disk_dir(&snapshots)
        .build_from_csv(&csv)
        .expect("first load");
    restart.bench_function("from_snapshot", |b| {
        b.iter(|| {
            black_box(
                CachedQuery::builder()
                    .disk_dir(&snapshots)
                    .build_from_csv(&csv)
                    .expect("load"),
            )
        })
    });
    restart.finish();

    // No memory tier (budget 0): every lookup reads the tier under test.
    let disk = CachedQuery::builder()
        .max_bytes(0)
        .disk_dir(dir.path().join("disk"))
        .build_from_csv(&csv)
        .expect("load");
    let redis_url = "redis://127.0.0.1:6379";
    let redis = std::net::TcpStream::connect("127.0.0.1:6379")
        .ok()
        .map(|_| {
            let mut options = polars_query_cache::tier::redis::RedisOptions::new(redis_url);
            options.prefix = format!("pqc-bench:{}", std::process::id());
            CachedQuery::builder()
                .max_bytes(0)
                .redis_options(options)
                .build_from_csv(&csv)
                .expect("load")
        });
    if redis.is_none() {
        eprintln!("no redis-server on 127.0.0.1:6379: skipping the Redis figures");
    }
    let mut group = c.benchmark_group("tier_hit");
    for n in [10i64, 1_000, 100_000] {
        let q = rows_query(n);
        assert_eq!(disk.get(&q).expect("warm").height() as i64, n);
        assert_eq!(disk.get(&q).expect("hit").source(), Source::Disk);
        group.bench_with_input(BenchmarkId::new("disk", n), &q, |b, q| {
            b.iter(|| black_box(disk.get(q).expect("hit")))
        });
        if let Some(redis) = &redis {
            redis.get(&q).expect("warm");
            assert_eq!(redis.get(&q).expect("hit").source(), Source::Redis);
            group.bench_with_input(BenchmarkId::new("redis", n), &q, |b, q| {
                b.iter(|| black_box(redis.get(q).expect("hit")))
            });
        }
        group.bench_with_input(BenchmarkId::new("compute", n), &q, |b, q| {
            b.iter(|| black_box(disk.plan(q).expect("plan").collect().expect("collect")))
        });
    }
    group.finish();
    if let Some(redis) = &redis {
        redis.clear();
    }
}

criterion_group!(tiers, benches);
criterion_main!(tiers);
