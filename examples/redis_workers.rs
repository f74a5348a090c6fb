//! Several workers sharing one Redis: what one worker computes is every
//! worker's hit, concurrent misses on one question compute once among all of
//! them, and an invalidation on one reaches the others. Each worker here is
//! a thread with a cache of its own, as each process of a web server (or
//! each host) has.
//!
//! Redis being down fails nothing: every worker still answers, computing on
//! its own; this example then says so and stops.
//!
//! ```sh
//! redis-server --daemonize yes   # if none runs on 127.0.0.1:6379
//! cargo run --release --example redis_workers
//! REDIS_URL=redis://:password@host:6379/0 cargo run --release --example redis_workers
//! ```

use std::sync::Barrier;
use std::time::{Duration, Instant};

use polars_query_cache::tier::redis::RedisOptions;
use polars_query_cache::{CachedQuery, Query, Source};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv");
const WORKERS: usize = 4;

fn worker(url: &str, prefix: &str) -> polars_query_cache::Result<CachedQuery> {
    let mut redis = RedisOptions::new(url);
    // Every worker of one deployment uses the same prefix; this example's
    // own keeps its values apart from a real deployment's.
    redis.prefix = prefix.to_owned();
    CachedQuery::builder()
        .redis_options(redis)
        // Values nobody asks for any more leave Redis by themselves.
        .redis_time_to_live(Duration::from_secs(60))
        .build_from_csv(DATA)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("pqc-example:{}", std::process::id());
    let workers: Vec<CachedQuery> = (0..WORKERS)
        .map(|_| worker(&url, &prefix))
        .collect::<Result<_, _>>()?;

    let by_region = Query::new()
        .eq("year", 2024)
        .group_by(["region"])
        .sum("revenue");
    let first = workers[0].get(&by_region)?;
    let info = workers[0].cache_info();
    if info.redis_errors + info.redis_bypassed > 0 {
        eprintln!(
            "Redis at {url} is not reachable, so the workers share nothing: each one \
             answered on its own (the answer is still right: {} rows, {}). Start a \
             redis-server, or point REDIS_URL at one.",
            first.height(),
            first.source(),
        );
        return Ok(());
    }

    // Computed by worker 0: a hit from Redis for worker 1.
    let shared = workers[1].get(&by_region)?;
    println!("worker 1: {}", shared.source());
    assert_eq!(shared.source(), Source::Redis);

    // All workers at once on questions nobody asked yet.
    let dashboard = [
        Query::new().group_by(["category"]).sum("revenue").len(),
        Query::new()
            .eq("channel", "Online")
            .group_by(["month"])
            .sum("units"),
        Query::new().group_by(["region", "channel"]).mean("revenue"),
    ];
    let start = Barrier::new(WORKERS);
    let sources: Vec<Source> = std::thread::scope(|scope| {
        let running: Vec<_> = workers
            .iter()
            .map(|cache| {
                let (start, dashboard) = (&start, &dashboard);
                scope.spawn(move || {
                    start.wait();
                    dashboard
                        .iter()
                        .map(|q| cache.get(q).map(|frame| frame.source()))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        running
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Result<Vec<_>, _>>()
    })?
    .concat();
    // A worker that finds another computing the same answer waits for it
    // (a lock in Redis) and reads it from Redis.
    let computed = sources.iter().filter(|&&s| s == Source::Computed).count();
    let from_redis = sources.iter().filter(|&&s| s == Source::Redis).count();
    println!(
        "{WORKERS} workers asked {} questions each: {computed} computed (without Redis, {}), \
         {from_redis} read from Redis",
        dashboard.len(),
        sources.len(),
    );

    // An invalidation on one worker reaches the others' memory.
    assert!(workers[1].get_cached(&by_region)?.is_some());
    workers[0].invalidate(&by_region)?;
    let sent = Instant::now();
    while workers[1].get_cached(&by_region)?.is_some() {
        if sent.elapsed() > Duration::from_secs(5) {
            return Err("the invalidation did not reach worker 1 within 5 s".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "invalidated on worker 0, gone from worker 1 after {:?}",
        sent.elapsed()
    );

    // This example's values; a deployment would keep them.
    workers[0].clear();
    Ok(())
}
