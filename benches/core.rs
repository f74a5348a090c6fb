//! Core figures on a generated sales table (10 million rows by default;
//! `PQC_BENCH_ROWS` changes it): hit latency including normalization, miss
//! cost against plain Polars running the same lazy plan on the same frame,
//! load time, and memory of the loaded frame against the file size.
//!
//! Run: `cargo bench --bench core`. The CSV is generated once into
//! `target/pqc-bench/` (or `$PQC_BENCH_DIR`) and reused.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use polars_query_cache::{CachedQuery, Query, sample};

mod common;

fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn two_filters() -> Query {
    Query::new()
        .eq("category", "Books")
        .is_in("year", [2023, 2024])
        .group_by(["month"])
        .sum("revenue")
}

fn benches(c: &mut Criterion) {
    let path = common::csv(common::rows(10_000_000));
    let file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    let before = resident_bytes();
    let started = Instant::now();
    let cache = CachedQuery::from_csv(&path).expect("load");
    let load = started.elapsed();
    let resident = resident_bytes().saturating_sub(before);
    let dataset = cache.dataset();
    eprintln!(
        "load: {} rows, file {:.1} MiB, load {:.2} s, frame estimated {:.1} MiB ({:.0}% of file), RSS growth {:.1} MiB",
        dataset.rows(),
        file_bytes as f64 / 1048576.0,
        load.as_secs_f64(),
        dataset.estimated_size() as f64 / 1048576.0,
        100.0 * dataset.estimated_size() as f64 / file_bytes as f64,
        resident as f64 / 1048576.0,
    );
    drop(dataset);

    let mut load_group = c.benchmark_group("load");
    load_group.sample_size(10);
    load_group.throughput(Throughput::Bytes(file_bytes));
    load_group.bench_function("csv", |b| {
        b.iter(|| black_box(CachedQuery::from_csv(&path).expect("load")))
    });
    load_group.finish();

    // Hit: normalization of a two-filter query plus the lookup.
    let q = two_filters();
    cache.get(&q).expect("warm");
    let mut hit = c.benchmark_group("hit");
    hit.throughput(Throughput::Elements(1));
    hit.bench_function("two_filters_get", |b| {
        b.iter(|| black_box(cache.get(black_box(&q)).expect("hit")))
    });
    // Normalization alone, as for a request the memo has not seen.
    let dataset = cache.dataset();
    hit.bench_function("two_filters_normalize_only", |b| {
        b.iter(|| {
            black_box(
                polars_query_cache::normalize::normalize(black_box(&q), &dataset)
                    .expect("normalize"),
            )
        })
    });
    // Reference points: a std HashMap probe with a struct key, and the same
    // probe after building the key from the query (what a hand-rolled
    // HashMap<(String, Vec<i64>), DataFrame> memo costs).
    #[derive(Hash, PartialEq, Eq)]
    struct Key {
        category: String,
        years: Vec<i64>,
        group: String,
        agg: String,
    }
    let key = || Key {
        category: "Books".into(),
        years: vec![2023, 2024],
        group: "month".into(),
        agg: "sum:revenue".into(),
    };
    let map: HashMap<Key, u64> = [(key(), 1)].into_iter().collect();
    let probe = key();
    hit.bench_function("std_hashmap_probe", |b| {
        b.iter(|| black_box(map.get(black_box(&probe))))
    });
    hit.bench_function("std_hashmap_build_key_and_probe", |b| {
        b.iter(|| black_box(map.get(&key())))
    });
    hit.finish();

    // Miss: the cache computing (normalize, plan, collect, store) against
    // plain Polars collecting the same plan on the same frame.
    let mut miss = c.benchmark_group("miss");
    miss.sample_size(20);
    let plan_q = two_filters();
    miss.bench_function("cached_get_miss", |b| {
        b.iter_batched(
            || cache.clear(),
            |()| black_box(cache.get(&plan_q).expect("miss")),
            BatchSize::PerIteration,
        )
    });
    // The baseline builds its plan each time too, as a caller without the
    // cache would (the same plan the cache runs: `CachedQuery::plan`).
    miss.bench_function("plain_polars_collect", |b| {
        b.iter(|| {
            black_box(
                cache
                    .plan(&plan_q)
                    .expect("plan")
                    .collect()
                    .expect("collect"),
            )
        })
    });
    let heavy = Query::new()
        .group_by(["region", "product"])
        .sum("revenue")
        .mean("price")
        .len();
    miss.bench_function("cached_get_miss_group_by_2", |b| {
        b.iter_batched(
            || cache.clear(),
            |()| black_box(cache.get(&heavy).expect("miss")),
            BatchSize::PerIteration,
        )
    });
    miss.bench_function("plain_polars_collect_group_by_2", |b| {
        b.iter(|| {
            black_box(
                cache
                    .plan(&heavy)
                    .expect("plan")
                    .collect()
                    .expect("collect"),
            )
        })
    });
    miss.finish();

    // A dashboard stream: 200 distinct queries, Zipf 1.1, already warm.
    let queries = sample::dashboard_queries(200, 7);
    cache.prewarm(&queries);
    let stream = sample::zipf_stream(queries.len(), 10_000, 1.1, 9);
    let mut dash = c.benchmark_group("dashboard_stream");
    dash.throughput(Throughput::Elements(stream.len() as u64));
    dash.sample_size(20);
    dash.bench_function("warm_zipf_10k_requests", |b| {
        b.iter(|| {
            for &i in &stream {
                black_box(cache.get(&queries[i]).expect("hit"));
            }
        })
    });
    dash.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
