//! A bounded load test of `pqc serve`'s `/api/query` on loopback: the
//! server and this load generator in one process, on the same cores.
//! Keep-alive HTTP/1.1 connections replay a Zipf stream of dashboard
//! queries for a fixed time, against a caching server and, in the same run,
//! against one whose cache keeps nothing (every request computes).
//!
//! Run: `cargo bench --bench http_load`. Environment: `PQC_LOAD_ROWS`
//! (table rows; 0, the default, serves the bundled data/sales.csv),
//! `PQC_LOAD_CONNECTIONS` (default 32), `PQC_LOAD_SECONDS` (default 10).

use std::sync::Arc;
use std::time::{Duration, Instant};

use polars_query_cache::server::{ServerConfig, app, serve};
use polars_query_cache::{CachedQuery, sample};

mod common;

use common::http::{Connection, quantile_us};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

struct Outcome {
    requests: usize,
    errors: usize,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
}

/// One connection: requests until `deadline`, returning each latency.
async fn client(
    port: u16,
    bodies: Arc<Vec<String>>,
    stream: Arc<Vec<usize>>,
    start: usize,
    deadline: Instant,
) -> (Vec<Duration>, usize) {
    let mut connection = Connection::open(port).await;
    let (mut latencies, mut errors) = (Vec::new(), 0);
    let mut i = start;
    while Instant::now() < deadline {
        let body = &bodies[stream[i % stream.len()]];
        i += 1;
        let (status, latency) = connection.post("/api/query", body).await;
        errors += usize::from(status != 200);
        latencies.push(latency);
    }
    (latencies, errors)
}

fn run(cache: CachedQuery, connections: usize, seconds: u64) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cache = Arc::new(cache);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(serve(
            listener,
            app(Arc::clone(&cache), ServerConfig::default()),
        ));
        let queries = sample::dashboard_queries(50, 11);
        cache.prewarm(&queries);
        let bodies = Arc::new(queries.iter().map(|q| q.to_json()).collect::<Vec<_>>());
        let stream = Arc::new(sample::zipf_stream(queries.len(), 100_000, 1.1, 13));
        let started = Instant::now();
        let deadline = started + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..connections)
            .map(|c| {
                tokio::spawn(client(
                    port,
                    Arc::clone(&bodies),
                    Arc::clone(&stream),
                    c * 997,
                    deadline,
                ))
            })
            .collect();
        let mut latencies = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (l, e) = task.await.expect("client");
            latencies.extend(l);
            errors += e;
        }
        let seconds = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        Outcome {
            requests: latencies.len(),
            errors,
            seconds,
            p50_us: quantile_us(&latencies, 0.5),
            p99_us: quantile_us(&latencies, 0.99),
        }
    })
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let rows = env("PQC_LOAD_ROWS", 0);
    let connections = env("PQC_LOAD_CONNECTIONS", 32) as usize;
    let seconds = env("PQC_LOAD_SECONDS", 10);
    let open = |builder: polars_query_cache::CachedQueryBuilder| {
        if rows == 0 {
            builder
                .build_from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"))
                .expect("load")
        } else {
            builder.build_from_csv(common::csv(rows)).expect("load")
        }
    };
    let cached = run(open(CachedQuery::builder()), connections, seconds);
    // A budget of 0 keeps nothing: every request computes.
    let uncached = run(
        open(CachedQuery::builder().max_bytes(0)),
        connections,
        seconds,
    );
    let data = if rows == 0 {
        "data/sales.csv (5,000 rows)".to_owned()
    } else {
        format!("{rows} generated rows")
    };
    println!(
        "http_load: {data}, {connections} keep-alive connections, {seconds} s each, server and load generator on the same 2 cores"
    );
    println!(
        "{:<10} {:>10} {:>12} {:>10} {:>10} {:>8}",
        "server", "requests", "req/s", "p50 us", "p99 us", "errors"
    );
    for (name, o) in [("cached", &cached), ("no cache", &uncached)] {
        println!(
            "{:<10} {:>10} {:>12.0} {:>10.1} {:>10.1} {:>8}",
            name,
            o.requests,
            o.requests as f64 / o.seconds,
            o.p50_us,
            o.p99_us,
            o.errors
        );
    }
    println!(
        "ratio: {:.1}x the requests per second",
        (cached.requests as f64 / cached.seconds)
            / (uncached.requests as f64 / uncached.seconds).max(1e-9)
    );
}
