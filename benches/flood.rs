//! Hit latency under a flood of misses: what admission control is for.
//!
//! A server on a generated table answers a few hit clients, first alone
//! (idle), then while `PQC_FLOOD_CLIENTS` more clients each send distinct
//! slow misses as fast as they are answered or refused. Both phases run in
//! one process, one after the other, on the same cores; the report gives
//! hit latency quantiles of each and what the flood got (200 or 429).
//!
//! Run: `cargo bench --bench flood`. Environment: `PQC_BENCH_ROWS`
//! (default 1,000,000), `PQC_FLOOD_CLIENTS` (default 48),
//! `PQC_FLOOD_SECONDS` (each phase, default 10).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use polars_query_cache::CachedQuery;
use polars_query_cache::server::{ServerConfig, app, serve};

mod common;

use common::http::{Connection, quantile_us};

/// Clients asking for cached answers in both phases.
const HIT_CLIENTS: usize = 4;

const HITS: [&str; 4] = [
    r#"{"filters": {"category": "Books"}, "group_by": ["year"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#,
    r#"{"filters": {"region": "North"}, "group_by": ["month"], "aggs": [{"fn": "mean", "column": "price"}]}"#,
    r#"{"group_by": ["channel"], "aggs": [{"fn": "len"}]}"#,
    r#"{"filters": {"year": [2023, 2024]}, "group_by": ["category"], "aggs": [{"fn": "sum", "column": "units"}]}"#,
];

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A miss no other request shares: a full scan with sort-based aggregates.
fn slow_miss(n: usize) -> String {
    format!(
        r#"{{"filters": [{{"column": "price", "op": "lt", "value": {}}}], "group_by": ["product", "region", "channel"],
            "aggs": [{{"fn": "median", "column": "revenue"}}, {{"fn": "n_unique", "column": "date"}}]}}"#,
        50.0 + n as f64 / 1000.0
    )
}

async fn hit_client(port: u16, which: usize, deadline: Instant) -> Vec<Duration> {
    let mut connection = Connection::open(port).await;
    let mut latencies = Vec::new();
    let mut i = which;
    while Instant::now() < deadline {
        let (status, latency) = connection.post("/api/query", HITS[i % HITS.len()]).await;
        assert_eq!(status, 200, "a hit failed");
        latencies.push(latency);
        i += 1;
    }
    latencies
}

#[derive(Default)]
struct FloodCounts {
    answered: AtomicUsize,
    refused: AtomicUsize,
    other: AtomicUsize,
}

async fn flood_client(
    port: u16,
    next: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    counts: Arc<FloodCounts>,
) {
    let mut connection = Connection::open(port).await;
    while !stop.load(Relaxed) {
        let body = slow_miss(next.fetch_add(1, Relaxed));
        let (status, _) = connection.post("/api/query", &body).await;
        match status {
            200 => &counts.answered,
            429 => {
                // A well-behaved client backs off a little.
                tokio::time::sleep(Duration::from_millis(20)).await;
                &counts.refused
            }
            _ => &counts.other,
        }
        .fetch_add(1, Relaxed);
    }
}

fn main() {
    let rows = common::rows(1_000_000);
    let flooders = env("PQC_FLOOD_CLIENTS", 48) as usize;
    let seconds = env("PQC_FLOOD_SECONDS", 10);
    let cache = Arc::new(CachedQuery::from_csv(common::csv(rows)).expect("load"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = ServerConfig::default();
    let limits = config.limits.clone();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(serve(listener, app(Arc::clone(&cache), config)));
        for hit in HITS {
            Connection::open(port).await.post("/api/query", hit).await;
        }
        let phase = |flood: bool| {
            let counts = Arc::new(FloodCounts::default());
            let stop = Arc::new(AtomicBool::new(false));
            let next = Arc::new(AtomicUsize::new(0));
            let counts_out = Arc::clone(&counts);
            async move {
                let flood_tasks: Vec<_> = (0..if flood { flooders } else { 0 })
                    .map(|_| {
                        tokio::spawn(flood_client(
                            port,
                            Arc::clone(&next),
                            Arc::clone(&stop),
                            Arc::clone(&counts),
                        ))
                    })
                    .collect();
                if flood {
                    // Let the flood fill every slot and queue place first.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                let deadline = Instant::now() + Duration::from_secs(seconds);
                let hits: Vec<_> = (0..HIT_CLIENTS)
                    .map(|c| tokio::spawn(hit_client(port, c, deadline)))
                    .collect();
                let mut latencies = Vec::new();
                for h in hits {
                    latencies.extend(h.await.expect("hit client"));
                }
                stop.store(true, Relaxed);
                for f in flood_tasks {
                    f.await.expect("flood client");
                }
                latencies.sort_unstable();
                (latencies, counts_out)
            }
        };
        let (idle, _) = phase(false).await;
        let (flooded, counts) = phase(true).await;
        println!(
            "flood: {rows} generated rows, {HIT_CLIENTS} hit clients, {flooders} flood clients of distinct misses, {seconds} s a phase; \
             max_computations {}, max_queued {}; server and clients on the same 2 cores",
            limits.max_computations, limits.max_queued
        );
        println!(
            "{:<14} {:>10} {:>10} {:>10} {:>10}",
            "hits", "requests", "p50 us", "p99 us", "max us"
        );
        for (name, l) in [("idle", &idle), ("under flood", &flooded)] {
            println!(
                "{:<14} {:>10} {:>10.1} {:>10.1} {:>10.1}",
                name,
                l.len(),
                quantile_us(l, 0.5),
                quantile_us(l, 0.99),
                quantile_us(l, 1.0)
            );
        }
        println!(
            "flood: {} answered, {} refused with 429, {} other",
            counts.answered.load(Relaxed),
            counts.refused.load(Relaxed),
            counts.other.load(Relaxed)
        );
        println!(
            "ratio: p99 under flood is {:.2}x the idle p99",
            quantile_us(&flooded, 0.99) / quantile_us(&idle, 0.99).max(1e-9)
        );
    });
}
