//! The Redis tier against real `redis-server`s: the shared one on
//! 127.0.0.1:6379 (under a key prefix of each test's own), and servers the
//! fault tests start on free ports and kill.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use polars::prelude::*;
use polars_query_cache::tier::redis::RedisOptions;
use polars_query_cache::tier::{TierSecret, codec};
use polars_query_cache::{CachedQuery, Error, Query, Source, sample};

use crate::common::{self, Child};

const SHARED: &str = "redis://127.0.0.1:6379";

fn shared_redis() -> bool {
    let up = std::net::TcpStream::connect("127.0.0.1:6379").is_ok();
    common::available("redis-server on 127.0.0.1:6379", up)
}

fn unique_prefix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "pqc-test:{}:{}:{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        Instant::now().elapsed().as_nanos()
    )
}

/// Default options for `url`, under `prefix`.
pub(crate) fn options(url: &str, prefix: &str) -> RedisOptions {
    let mut o = RedisOptions::new(url);
    o.prefix = prefix.to_owned();
    o
}

/// The bundled sample CSV.
pub(crate) fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sales.csv")
}

fn cache(url: &str, prefix: &str) -> CachedQuery {
    CachedQuery::builder()
        .redis_options(options(url, prefix))
        .build_from_csv(sample())
        .unwrap()
}

/// A query of the sample.
pub(crate) fn q() -> Query {
    Query::new()
        .eq("category", "Toys")
        .group_by(["region"])
        .sum("revenue")
        .len()
}

fn keys(url: &str, prefix: &str) -> Vec<String> {
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let mut found: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query(&mut con)
        .unwrap();
    // Values only: not compute locks, nor the record of the file's version.
    found.retain(|k| !k.ends_with(":lock") && !k.contains(":source:"));
    found
}

/// A redis-server of the test's own, killed when dropped.
pub(crate) struct OwnRedis {
    port: u16,
    child: Option<Child>,
    args: Vec<String>,
}

impl OwnRedis {
    /// Starts one with these extra arguments (`None` without redis-server).
    pub(crate) fn start(args: &[&str]) -> Option<OwnRedis> {
        if !common::available("redis-server", common::program_exists("redis-server")) {
            return None;
        }
        let mut server = OwnRedis {
            port: common::free_port(),
            child: None,
            args: args.iter().map(|s| s.to_string()).collect(),
        };
        server.restart();
        Some(server)
    }

    fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(Child(child));
        assert!(
            common::wait_for_port(self.port, Duration::from_secs(10)),
            "redis-server did not start"
        );
    }

    fn kill(&mut self) {
        self.child = None;
    }

    /// Its `redis://` URL.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

#[test]
fn a_second_instance_answers_from_redis_without_computing() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    let a = cache(SHARED, &prefix);
    let computed = a.get(&q()).unwrap();
    assert_eq!(a.cache_info().redis_writes, 1);
    let b = cache(SHARED, &prefix);
    let shared = b.get(&q()).unwrap();
    assert_eq!(shared.source(), Source::Redis);
    assert!(shared.dataframe().equals_missing(computed.dataframe()));
    assert_eq!(
        b.get(&q()).unwrap().source(),
        Source::Memory,
        "promoted to memory"
    );
    let info = b.cache_info();
    assert_eq!(
        (info.computations, info.redis_hits, info.hits, info.misses),
        (0, 1, 2, 0)
    );
    // Another prefix shares nothing.
    let other = cache(SHARED, &unique_prefix());
    assert_eq!(other.get(&q()).unwrap().source(), Source::Computed);
}

#[test]
fn a_second_process_answers_from_redis() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    let dir = tempfile::tempdir().unwrap();
    let run = |stats: &Path| {
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
            .arg("query")
            .arg(sample())
            .args([
                "--filter",
                "category=Toys",
                "--group-by",
                "region",
                "--agg",
                "sum:revenue",
                "--redis",
                SHARED,
                "--redis-prefix",
                &prefix,
                "--format",
                "csv",
            ])
            .arg("--stats")
            .arg(stats)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stats: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(stats).unwrap()).unwrap();
        (String::from_utf8(out.stdout).unwrap(), stats)
    };
    let (first, stats) = run(&dir.path().join("1.json"));
    assert_eq!(stats["computations"], 1);
    let (second, stats) = run(&dir.path().join("2.json"));
    assert_eq!(first, second);
    assert_eq!(
        (stats["computations"].as_u64(), stats["redis_hits"].as_u64()),
        (Some(0), Some(1)),
        "{stats}"
    );
}

#[test]
fn eight_threads_in_each_of_two_instances_compute_once() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    sixteen_threads_of_two_instances_compute_once([cache(SHARED, &prefix), cache(SHARED, &prefix)]);
}

/// Eight threads on each of two caches that share one Redis ask at once
/// for one slow memoized computation: it runs once, the other cache's
/// first thread waits on the Redis lock, and every thread gets its answer.
/// (The Redis Cluster tests run it too.)
pub(crate) fn sixteen_threads_of_two_instances_compute_once(caches: [CachedQuery; 2]) {
    let caches = caches.map(Arc::new);
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (cache, barrier) = (Arc::clone(&caches[i % 2]), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                cache
                    .memoize("slow", &"once", |df| {
                        // Slow enough that every thread of both instances arrives meanwhile.
                        std::thread::sleep(Duration::from_millis(400));
                        df.clone()
                            .lazy()
                            .group_by([col("region")])
                            .agg([len()])
                            .sort(["region"], Default::default())
                            .collect()
                    })
                    .unwrap()
            })
        })
        .collect();
    let frames: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let computations: u64 = caches.iter().map(|c| c.cache_info().computations).sum();
    assert_eq!(computations, 1);
    let waited: u64 = caches.iter().map(|c| c.cache_info().redis_waits).sum();
    assert_eq!(
        waited, 1,
        "the other instance's leader waited on the Redis lock"
    );
    assert!(
        frames
            .iter()
            .all(|f| f.dataframe().equals_missing(frames[0].dataframe()))
    );
}

#[test]
fn eight_threads_in_each_of_two_processes_compute_once() {
    if !shared_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sales.csv");
    sample::write_sales_csv(std::fs::File::create(&data).unwrap(), 400_000, 3, |_| {}).unwrap();
    two_processes_of_eight_threads_compute_once(&data, SHARED, &unique_prefix());
}

/// Two `pqc bench` processes of eight threads each, sharing the Redis at
/// `url` under `prefix`, ask for one expensive query over `data`: it is
/// computed once in all, and every request is answered. Returns each
/// process's statistics. (The Redis Cluster tests run it too.)
pub(crate) fn two_processes_of_eight_threads_compute_once(
    data: &Path,
    url: &str,
    prefix: &str,
) -> [serde_json::Value; 2] {
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("one.ndjson");
    std::fs::write(&queries, r#"{"group_by": ["product", "region", "month"], "aggs": [{"fn": "median", "column": "price"}, {"fn": "std", "column": "revenue"}, {"fn": "n_unique", "column": "units"}]}"#).unwrap();
    let spawn = |n: usize| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
            .arg("bench")
            .arg(data)
            .arg("--queries")
            .arg(&queries)
            .args([
                "--requests",
                "8",
                "--threads",
                "8",
                "--baseline-sample",
                "0",
                "--reload-baseline",
                "0",
                "--quiet",
            ])
            .args(["--redis", url, "--redis-prefix", prefix])
            .arg("--json")
            .arg(dir.path().join(format!("{n}.json")))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let children = [spawn(1), spawn(2)];
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let stats = |n: usize| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("{n}.json"))).unwrap(),
        )
        .unwrap()
    };
    let (one, two) = (stats(1), stats(2));
    let computations = one["stats"]["computations"].as_u64().unwrap()
        + two["stats"]["computations"].as_u64().unwrap();
    assert_eq!(computations, 1, "{one}\n{two}");
    for s in [&one, &two] {
        assert_eq!(
            s["hits"].as_u64().unwrap() + s["misses"].as_u64().unwrap(),
            8
        );
    }
    [one, two]
}

/// Options for a Redis that a test kills: short timeouts and back-offs.
pub(crate) fn fault_options(url: &str, prefix: &str) -> RedisOptions {
    let mut o = options(url, prefix);
    o.retry_after = Duration::from_millis(50);
    o.max_retry_after = Duration::from_millis(400);
    o.connect_timeout = Duration::from_millis(200);
    o.response_timeout = Duration::from_millis(200);
    o
}

/// A cache on `data` with no memory tier to speak of, and no learned
/// roll-up to derive from: every request goes to Redis.
pub(crate) fn every_request_to_redis(options: &RedisOptions, data: &Path) -> CachedQuery {
    CachedQuery::builder()
        .max_bytes(0)
        .learned_rollups(false)
        .redis_options(options.clone())
        .build_from_csv(data)
        .unwrap()
}

/// Replays `requests` requests of a Zipf stream over `distinct`
/// dashboard queries through `cache`, calling `fault` with each request's
/// number before it (to kill or restart Redis). Every answer must equal
/// the uncached one, and Redis must have failed (the breaker opened and
/// bypassed it). Returns where each answer came from and how long it took.
pub(crate) fn replay_through_a_fault(
    cache: &CachedQuery,
    distinct: usize,
    requests: usize,
    mut fault: impl FnMut(usize),
) -> Vec<(Source, Duration)> {
    let queries = sample::dashboard_queries(distinct, 5);
    let expected: Vec<DataFrame> = queries
        .iter()
        .map(|q| cache.get_uncached(q).unwrap().into_dataframe())
        .collect();
    let stream = sample::zipf_stream(queries.len(), requests, 1.1, 8);
    let mut answers = Vec::with_capacity(requests);
    for (i, &qi) in stream.iter().enumerate() {
        fault(i);
        let started = Instant::now();
        let frame = cache.get(&queries[qi]).unwrap();
        answers.push((frame.source(), started.elapsed()));
        assert!(
            frame.dataframe().equals_missing(&expected[qi]),
            "request {i} differs"
        );
    }
    let info = cache.cache_info();
    assert!(info.redis_errors > 0, "{info:?}");
    assert!(
        info.redis_bypassed > 0,
        "the breaker bypassed Redis: {info:?}"
    );
    answers
}

#[test]
fn redis_killed_mid_stream_answers_every_query_and_comes_back() {
    let Some(mut server) = OwnRedis::start(&[]) else {
        return;
    };
    let cache = every_request_to_redis(&fault_options(&server.url(), "pqc-fault"), &sample());
    let answers = replay_through_a_fault(&cache, 30, 10_000, |i| {
        if i == 3_000 {
            server.kill();
        }
        if i == 6_000 {
            server.restart();
        }
    });
    let hits_after_restart = answers[6_001..]
        .iter()
        .filter(|(source, _)| *source == Source::Redis)
        .count();
    assert!(
        hits_after_restart > 1_000,
        "hits resumed after the restart: {hits_after_restart}"
    );
}

#[test]
fn a_garbage_value_and_a_value_of_another_key_are_ignored() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    let writer = cache(SHARED, &prefix);
    let other = Query::new()
        .eq("category", "Books")
        .group_by(["region"])
        .sum("revenue")
        .len();
    let expected = writer.get(&q()).unwrap();
    let [name] = keys(SHARED, &prefix).try_into().unwrap();
    writer.get(&other).unwrap();
    let other_name = keys(SHARED, &prefix)
        .into_iter()
        .find(|k| *k != name)
        .unwrap();
    let mut con = redis::Client::open(SHARED)
        .unwrap()
        .get_connection()
        .unwrap();

    redis::cmd("SET")
        .arg(&name)
        .arg(b"\x00garbage\xff".as_slice())
        .query::<()>(&mut con)
        .unwrap();
    let reader = cache(SHARED, &prefix);
    let answer = reader.get(&q()).unwrap();
    assert_eq!(answer.source(), Source::Computed);
    assert!(answer.dataframe().equals_missing(expected.dataframe()));
    assert_eq!(reader.cache_info().redis_rejected, 1);

    let planted: Vec<u8> = redis::cmd("GET").arg(&other_name).query(&mut con).unwrap();
    redis::cmd("SET")
        .arg(&name)
        .arg(planted)
        .query::<()>(&mut con)
        .unwrap();
    let reader = cache(SHARED, &prefix);
    let answer = reader.get(&q()).unwrap();
    assert_eq!(answer.source(), Source::Computed);
    assert!(answer.dataframe().equals_missing(expected.dataframe()));
    assert_eq!(reader.cache_info().redis_rejected, 1);
    // The recomputed answer overwrote the planted value.
    assert_eq!(
        cache(SHARED, &prefix).get(&q()).unwrap().source(),
        Source::Redis
    );
}

/// Polls until `done`, for at most three seconds.
fn eventually(done: impl FnMut() -> bool) -> bool {
    common::eventually(Duration::from_secs(3), done)
}

#[test]
fn invalidation_on_one_instance_drops_the_entry_in_the_other() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    let (a, b) = (cache(SHARED, &prefix), cache(SHARED, &prefix));
    a.get(&q()).unwrap();
    b.get(&q()).unwrap();
    assert!(b.get_cached(&q()).unwrap().is_some());
    // Let both subscribers settle before publishing.
    std::thread::sleep(Duration::from_millis(300));
    assert!(a.invalidate(&q()).unwrap());
    assert!(
        eventually(|| b.get_cached(&q()).unwrap().is_none()),
        "b still holds the entry"
    );
    assert!(keys(SHARED, &prefix).is_empty());
    // And clear() reaches the other instance too.
    a.get(&q()).unwrap();
    b.get(&q()).unwrap();
    a.clear();
    assert!(
        eventually(|| b.get_cached(&q()).unwrap().is_none()),
        "clear did not reach b"
    );
}

#[test]
fn a_derived_answer_is_invalidated_once_with_its_source() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    let cache = cache(SHARED, &prefix);
    let broad = Query::new().group_by(["category", "region"]).sum("units");
    let narrow = Query::new()
        .eq("category", "Toys")
        .group_by(["region"])
        .sum("units");
    cache.get(&broad).unwrap();
    assert_eq!(cache.get(&narrow).unwrap().source(), Source::Derived);
    let mut listener = connection(SHARED);
    let mut pubsub = listener.as_pubsub();
    pubsub.subscribe(format!("{prefix}:invalidate")).unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let broad_key = cache.key(&broad).unwrap();
    assert_eq!(cache.invalidate_where(|key| *key == broad_key), 2);
    let mut messages = Vec::new();
    while let Ok(message) = pubsub.get_message() {
        messages.push(message.get_payload::<String>().unwrap());
    }
    messages.sort();
    assert_eq!(messages.len(), 2, "one message a key: {messages:?}");
    assert_ne!(messages[0], messages[1], "{messages:?}");
}

#[test]
fn a_password_protected_server() {
    let Some(server) = OwnRedis::start(&["--requirepass", "s3cret"]) else {
        return;
    };
    let with_password = format!("redis://:s3cret@127.0.0.1:{}", server.port);
    let a = cache(&with_password, "pqc-auth");
    a.get(&q()).unwrap();
    assert_eq!(
        cache(&with_password, "pqc-auth")
            .get(&q())
            .unwrap()
            .source(),
        Source::Redis
    );
    let err = CachedQuery::builder()
        .redis(server.url())
        .build_from_csv(sample())
        .unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    assert!(err.to_string().contains("password in the URL"), "{err}");
    let wrong = format!("redis://:nope@127.0.0.1:{}", server.port);
    let err = CachedQuery::builder()
        .redis(wrong)
        .build_from_csv(sample())
        .unwrap_err();
    assert!(err.to_string().contains("password in the URL"), "{err}");
}

#[test]
fn a_dead_redis_at_start_fails_soft() {
    let port = common::free_port();
    let mut o = options(&format!("redis://127.0.0.1:{port}"), "pqc-dead");
    o.retry_after = Duration::from_millis(50);
    let cache = CachedQuery::builder()
        .redis_options(o)
        .build_from_csv(sample())
        .unwrap();
    let answer = cache.get(&q()).unwrap();
    assert!(
        answer
            .dataframe()
            .equals_missing(cache.get_uncached(&q()).unwrap().dataframe())
    );
    assert!(cache.cache_info().redis_errors >= 1);
}

#[test]
fn each_probe_of_a_refusing_redis_fails_at_once() {
    let port = common::free_port();
    let mut o = options(&format!("redis://127.0.0.1:{port}"), "pqc-refused");
    o.retry_after = Duration::from_millis(20);
    o.max_retry_after = Duration::from_millis(20);
    // Long enough that waiting it out would show.
    o.connect_timeout = Duration::from_secs(5);
    let cache = CachedQuery::builder()
        .max_bytes(0)
        .redis_options(o)
        .build_from_csv(sample())
        .unwrap();
    for _ in 0..5 {
        // Past the back-off: the next command probes Redis.
        std::thread::sleep(Duration::from_millis(30));
        let started = Instant::now();
        cache.get(&q()).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a probe waited {:?}",
            started.elapsed()
        );
    }
    assert!(cache.cache_info().redis_errors >= 5);
}

/// One HTTP/1.1 request over a fresh connection: (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn two_server_processes_share_work_through_redis() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    let serve = || {
        let port = common::free_port();
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
            .arg("serve")
            .arg(sample())
            .args([
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--redis",
                SHARED,
                "--redis-prefix",
                &prefix,
                "--quiet",
            ])
            .spawn()
            .unwrap();
        let child = Child(child);
        assert!(
            common::wait_for_port(port, Duration::from_secs(20)),
            "pqc serve did not start"
        );
        (port, child)
    };
    let ((one, _a), (two, _b)) = (serve(), serve());
    let body = r#"{"filters": {"category": "Sports", "year": 2022}, "group_by": ["month"], "aggs": [{"fn": "sum", "column": "units"}]}"#;
    let (status, first) = http(one, "POST", "/api/query", body);
    assert_eq!(status, 200, "{first}");
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["source"], "computed");
    let (status, second) = http(two, "POST", "/api/query", body);
    assert_eq!(status, 200);
    let second: serde_json::Value = serde_json::from_str(&second).unwrap();
    assert_eq!(second["source"], "redis");
    assert_eq!(first["rows"], second["rows"]);
    let (_, stats) = http(two, "GET", "/api/stats", "");
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(
        (stats["redis_hits"].as_u64(), stats["computations"].as_u64()),
        (Some(1), Some(0))
    );
}

fn cache_with(url: &str, prefix: &str, secret: Option<&str>) -> CachedQuery {
    let builder = CachedQuery::builder().redis_options(options(url, prefix));
    match secret {
        Some(s) => builder.tier_secret(s),
        None => builder,
    }
    .build_from_csv(sample())
    .unwrap()
}

fn connection(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

#[test]
fn forged_truncated_and_misshapen_values_are_never_served() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    planted_values_are_never_served(
        &|secret| cache_with(SHARED, &prefix, secret),
        &|| keys(SHARED, &prefix),
        &mut connection(SHARED),
    );
}

/// Values planted in the Redis behind `open` (a cache with the secret it
/// is given, sharing that Redis with every other it opens), whose values
/// `values` lists and `con` reaches, are never served: unsigned, signed
/// with another secret, truncated, holding another query's frame. (The
/// Redis Cluster tests run it too.)
pub(crate) fn planted_values_are_never_served(
    open: &dyn Fn(Option<&str>) -> CachedQuery,
    values: &dyn Fn() -> Vec<String>,
    con: &mut dyn redis::ConnectionLike,
) {
    const SECRET: &str = "the workers' secret";
    let secret = Some(SECRET);
    let writer = open(secret);
    let expected = writer.get(&q()).unwrap();
    let [name] = values().try_into().unwrap();
    let key = writer.key(&q()).unwrap();
    let good: Vec<u8> = redis::cmd("GET").arg(&name).query(con).unwrap();
    let lie = expected
        .dataframe()
        .clone()
        .lazy()
        .with_column(col("sum_revenue") * lit(3.0))
        .collect()
        .unwrap();
    let other_shape = writer
        .get(&Query::new().group_by(["channel"]).max("units"))
        .unwrap()
        .into_dataframe();
    let ours = TierSecret::new(SECRET);
    let text = key.stable_text();
    // (what, bytes, counted as forged, counted as of the wrong shape)
    let plants: Vec<(&str, Vec<u8>, u64, u64)> = vec![
        (
            "unsigned",
            codec::encode(text, &lie, Duration::ZERO).unwrap(),
            1,
            0,
        ),
        (
            "another secret",
            codec::encode_with(text, &lie, Duration::ZERO, Some(&TierSecret::new("guess")))
                .unwrap(),
            1,
            0,
        ),
        ("truncated", good[..good.len() - 30].to_vec(), 0, 0),
        (
            "another query's frame, signed",
            codec::encode_with(text, &other_shape, Duration::ZERO, Some(&ours)).unwrap(),
            0,
            1,
        ),
    ];
    for (what, bytes, forged, wrong_schema) in plants {
        redis::cmd("SET")
            .arg(&name)
            .arg(bytes)
            .query::<()>(con)
            .unwrap();
        let reader = open(secret);
        let answer = reader.get(&q()).unwrap();
        assert_eq!(answer.source(), Source::Computed, "{what}");
        assert!(
            answer.dataframe().equals_missing(expected.dataframe()),
            "{what}"
        );
        let info = reader.cache_info();
        assert_eq!(
            (
                info.redis_rejected,
                info.tier_forged,
                info.tier_wrong_schema,
                info.redis_hits
            ),
            (1, forged, wrong_schema, 0),
            "{what}: {info:?}"
        );
        // The recomputed answer overwrote the planted value.
        assert_eq!(
            open(secret).get(&q()).unwrap().source(),
            Source::Redis,
            "{what}"
        );
    }
    // Without a secret, the misshapen value is still refused.
    redis::cmd("SET")
        .arg(&name)
        .arg(codec::encode(text, &other_shape, Duration::ZERO).unwrap())
        .query::<()>(con)
        .unwrap();
    let reader = open(None);
    assert_eq!(reader.get(&q()).unwrap().source(), Source::Computed);
    assert_eq!(reader.cache_info().tier_wrong_schema, 1);
}

#[test]
fn garbage_on_the_channel_does_not_stop_invalidation() {
    if !shared_redis() {
        return;
    }
    for secret in [None, Some("s3cret")] {
        let prefix = unique_prefix();
        let (a, b) = (
            cache_with(SHARED, &prefix, secret),
            cache_with(SHARED, &prefix, secret),
        );
        a.get(&q()).unwrap();
        b.get(&q()).unwrap();
        // Let both subscribers settle before publishing.
        std::thread::sleep(Duration::from_millis(300));
        let mut con = connection(SHARED);
        let channel = format!("{prefix}:invalidate");
        let fingerprint = b.dataset().fingerprint();
        let mut junk: Vec<Vec<u8>> = vec![
            b"\xff\xfe not UTF-8".to_vec(),
            b"".to_vec(),
            b"drop table".to_vec(),
            b"all not-hex".to_vec(),
            vec![b'k'; 100_000],
        ];
        if secret.is_some() {
            // Well formed, but unsigned: with a secret, not obeyed.
            junk.push(format!("all {fingerprint}").into_bytes());
        }
        for message in &junk {
            redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(message.as_slice())
                .query::<()>(&mut con)
                .unwrap();
        }
        assert!(a.invalidate(&q()).unwrap());
        assert!(
            eventually(|| b.get_cached(&q()).unwrap().is_none()),
            "b still holds the entry ({secret:?})"
        );
        let info = b.cache_info();
        assert_eq!(info.redis_bad_messages, junk.len() as u64, "{info:?}");
        // With a secret, every readable message without a valid MAC is a
        // forgery (all but the one that is not UTF-8).
        assert_eq!(
            info.tier_forged,
            if secret.is_some() {
                junk.len() as u64 - 1
            } else {
                0
            },
            "{info:?}"
        );
        // And the subscriber is still there for the next one.
        a.get(&q()).unwrap();
        b.get(&q()).unwrap();
        a.clear();
        assert!(
            eventually(|| b.get_cached(&q()).unwrap().is_none()),
            "clear did not reach b ({secret:?})"
        );
    }
}

#[test]
fn a_full_redis_refuses_writes_but_reads_go_on_and_the_breaker_stays_closed() {
    let Some(server) = OwnRedis::start(&["--maxmemory-policy", "noeviction"]) else {
        return;
    };
    let url = server.url();
    let stored = Query::new()
        .eq("category", "Books")
        .group_by(["year"])
        .len();
    let writer = cache(&url, "pqc-full");
    writer.get(&q()).unwrap();
    writer.get(&stored).unwrap();
    assert_eq!(writer.cache_info().redis_writes, 2);
    let mut con = connection(&url);
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1")
        .query::<()>(&mut con)
        .unwrap();
    let reader = cache(&url, "pqc-full");
    // A miss: Redis refuses the lock and the write.
    let fresh = Query::new().group_by(["channel"]).sum("units");
    assert_eq!(reader.get(&fresh).unwrap().source(), Source::Computed);
    // Reads go on, right after the refusals.
    assert_eq!(reader.get(&q()).unwrap().source(), Source::Redis);
    assert_eq!(reader.get(&stored).unwrap().source(), Source::Redis);
    let info = reader.cache_info();
    assert!(info.redis_refused >= 1, "{info:?}");
    assert_eq!(
        (
            info.redis_errors,
            info.redis_bypassed,
            info.redis_writes,
            info.redis_hits
        ),
        (0, 0, 0, 2),
        "{info:?}"
    );
    // Room again: writes resume.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query::<()>(&mut con)
        .unwrap();
    reader
        .get(&Query::new().group_by(["region"]).sum("units"))
        .unwrap();
    assert_eq!(reader.cache_info().redis_writes, 1);
}

#[test]
fn a_lock_shorter_than_the_computation_is_renewed_and_both_compute_once() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    let open = || {
        let mut o = options(SHARED, &prefix);
        o.lock_timeout = Duration::from_millis(300);
        Arc::new(
            CachedQuery::builder()
                .redis_options(o)
                .build_from_csv(sample())
                .unwrap(),
        )
    };
    let caches = [open(), open()];
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = caches
        .iter()
        .map(|cache| {
            let (cache, barrier) = (Arc::clone(cache), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                cache
                    .memoize("slow", &"renewed", |df| {
                        // Five lock lives.
                        std::thread::sleep(Duration::from_millis(1_500));
                        df.clone().lazy().select([len()]).collect()
                    })
                    .unwrap()
            })
        })
        .collect();
    let frames: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let info: Vec<_> = caches.iter().map(|c| c.cache_info()).collect();
    assert_eq!(
        info.iter().map(|i| i.computations).sum::<u64>(),
        1,
        "{info:?}"
    );
    assert_eq!(info.iter().map(|i| i.redis_waits).sum::<u64>(), 1);
    assert!(frames[0].dataframe().equals_missing(frames[1].dataframe()));
    // Released when done.
    let mut con = connection(SHARED);
    let locks: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*:lock"))
        .query(&mut con)
        .unwrap();
    assert!(locks.is_empty(), "{locks:?}");
}

fn pttl(url: &str, name: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(name)
        .query(&mut connection(url))
        .unwrap()
}

#[test]
fn values_carry_a_time_to_live() {
    if !shared_redis() {
        return;
    }
    let day = 24 * 3600 * 1000;
    let prefix = unique_prefix();
    cache(SHARED, &prefix).get(&q()).unwrap();
    let [name] = keys(SHARED, &prefix).try_into().unwrap();
    let ttl = pttl(SHARED, &name);
    assert!(day - 60_000 < ttl && ttl <= day, "{ttl} ms");

    let prefix = unique_prefix();
    CachedQuery::builder()
        .redis_options(options(SHARED, &prefix))
        .redis_time_to_live(Duration::from_secs(60))
        .build_from_csv(sample())
        .unwrap()
        .get(&q())
        .unwrap();
    let [name] = keys(SHARED, &prefix).try_into().unwrap();
    let ttl = pttl(SHARED, &name);
    assert!(50_000 < ttl && ttl <= 60_000, "{ttl} ms");

    // The cache's own time to live, when shorter, wins.
    let prefix = unique_prefix();
    CachedQuery::builder()
        .redis_options(options(SHARED, &prefix))
        .time_to_live(Duration::from_secs(5))
        .build_from_csv(sample())
        .unwrap()
        .get(&q())
        .unwrap();
    let [name] = keys(SHARED, &prefix).try_into().unwrap();
    let ttl = pttl(SHARED, &name);
    assert!(0 < ttl && ttl <= 5_000, "{ttl} ms");
}

#[test]
fn old_versions_are_purged_and_live_locks_kept() {
    if !shared_redis() {
        return;
    }
    let prefix = unique_prefix();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("t.csv");
    std::fs::write(&data, "category,units\nBooks,1\nGames,2\n").unwrap();
    let open = || {
        CachedQuery::builder()
            .redis_options(options(SHARED, &prefix))
            .build_from_csv(&data)
            .unwrap()
    };
    let queries = [
        Query::new().sum("units"),
        Query::new().group_by(["category"]).len(),
        Query::new().eq("category", "Books").len(),
    ];
    let of = |fingerprint: polars_query_cache::Fingerprint| {
        let marker = format!("{prefix}:{{{fingerprint}}}:");
        keys(SHARED, &prefix)
            .into_iter()
            .filter(|k| k.starts_with(&marker))
            .count()
    };
    let a = open();
    for query in &queries {
        a.get(query).unwrap();
    }
    let first = a.dataset().fingerprint();
    assert_eq!(of(first), 3);
    // Another worker computing a key of this version: its lock is live.
    let mut con = connection(SHARED);
    let lock = format!("{prefix}:{{{first}}}:0123456789abcdef0123456789abcdef:lock");
    redis::cmd("SET")
        .arg(&lock)
        .arg("token")
        .arg("PX")
        .arg(60_000)
        .query::<()>(&mut con)
        .unwrap();
    // clear() deletes this version's values, not the lock.
    a.clear();
    assert_eq!(of(first), 0);
    let exists = |con: &mut redis::Connection| -> bool {
        redis::cmd("EXISTS").arg(&lock).query(con).unwrap()
    };
    assert!(exists(&mut con), "clear() deleted a live lock");
    for query in &queries {
        a.get(query).unwrap();
    }
    assert_eq!(of(first), 3);

    // A refresh that finds new data deletes the old values in the background.
    std::fs::write(&data, "category,units\nBooks,10\nGames,20\n").unwrap();
    assert!(a.refresh().unwrap().changed());
    let second = a.dataset().fingerprint();
    assert!(
        eventually(|| of(first) == 0),
        "{} old values left",
        of(first)
    );
    assert!(exists(&mut con), "the purge deleted a live lock");
    for query in &queries {
        a.get(query).unwrap();
    }
    assert_eq!(of(second), 3);
    drop(a);

    // A worker starting on a newer version of the file deletes the values
    // of the version the last one recorded.
    std::fs::write(&data, "category,units\nBooks,100\n").unwrap();
    let c = open();
    assert_ne!(c.dataset().fingerprint(), second);
    assert!(
        eventually(|| of(second) == 0),
        "{} old values left",
        of(second)
    );
    assert!(exists(&mut con));
}
