//! The abuse suite: a real `pqc serve` on a generated million-row table,
//! driven as a careless or hostile client would, over loopback sockets.
//! Every loop here is bounded in count and time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Child, entry_files};

const ROWS: u64 = 1_000_000;

/// The generated table, made once per build directory (`pqc gen` is
/// deterministic for a seed, so a file left by an earlier run is the same).
fn table() -> &'static PathBuf {
    static TABLE: OnceLock<PathBuf> = OnceLock::new();
    TABLE.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("abuse-{ROWS}.csv"));
        if !path.exists() {
            let partial = path.with_extension(format!("{}.partial", std::process::id()));
            let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
                .args(["gen", "--rows", &ROWS.to_string(), "--seed", "7", "--out"])
                .arg(&partial)
                .arg("--quiet")
                .status()
                .unwrap();
            assert!(status.success(), "pqc gen failed");
            std::fs::rename(&partial, &path).unwrap();
        }
        path
    })
}

/// A `pqc serve` process on the table, killed when dropped.
struct Server {
    port: u16,
    child: Child,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let port = common::free_port();
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
            .arg("serve")
            .arg(table())
            .args(["--bind", &format!("127.0.0.1:{port}"), "--quiet"])
            .args(extra)
            .spawn()
            .unwrap();
        let child = Child(child);
        assert!(
            common::wait_for_port(port, Duration::from_secs(60)),
            "pqc serve did not start"
        );
        Server { port, child }
    }

    fn post(&self, path: &str, body: &str) -> Response {
        self.send("POST", path, &[("Content-Type", "application/json")], body)
    }

    fn get(&self, path: &str) -> Response {
        self.send("GET", path, &[], "")
    }

    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        request(self.port, method, path, headers, body)
    }

    /// The server process's resident memory, in bytes.
    fn resident_bytes(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.0.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.1 request on a fresh connection, closed after the answer.
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    Response {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

#[test]
fn the_overflowing_range_is_answered_correctly() {
    let server = Server::start(&[]);
    let query = r#"{"filters":[{"column":"order_id","op":"between","value":[-5000000000000000000,5000000000000000000]},
                  {"column":"order_id","op":"ne","value":5}],"aggs":[{"fn":"len"}]}"#;
    let answer = server.post("/api/query", query);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["rows"][0][0], ROWS - 1);
    // The same request where it used to skip the limits.
    let dropped = server.post("/api/invalidate", &format!(r#"{{"query": {query}}}"#));
    assert_eq!(dropped.status, 200, "{}", dropped.body);
    let everything = r#"{"filters":[{"column":"order_id","op":"between","value":[-9223372036854775808,9223372036854775807]},
                        {"column":"order_id","op":"not_in","value":[1, 2, 9223372036854775807]}],"aggs":[{"fn":"len"}]}"#;
    let answer = server.post("/api/query", everything);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["rows"][0][0], ROWS - 2);
}

#[test]
fn a_flood_of_slow_misses_gets_answers_or_429s_while_hits_stay_fast() {
    let server = Server::start(&["--max-computations", "2", "--max-queued", "6"]);
    let hit = r#"{"filters": {"category": "Books"}, "group_by": ["year"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#;
    assert_eq!(server.post("/api/query", hit).status, 200);
    let before = server.resident_bytes();
    const FLOOD: usize = 48;
    let outcomes = std::thread::scope(|scope| {
        let misses: Vec<_> = (0..FLOOD)
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    // Each distinct, each a full scan with a sort-based aggregate.
                    let q = format!(
                        r#"{{"filters": [{{"column": "units", "op": "ge", "value": {}}},
                                         {{"column": "price", "op": "lt", "value": {}}}],
                            "group_by": ["product", "region", "channel"],
                            "aggs": [{{"fn": "median", "column": "revenue"}}, {{"fn": "n_unique", "column": "date"}}]}}"#,
                        1 + i % 3,
                        150 + i
                    );
                    server.post("/api/query", &q)
                })
            })
            .collect();
        let mut hit_times = Vec::new();
        while hit_times.len() < 200 && misses.iter().any(|m| !m.is_finished()) {
            let started = Instant::now();
            let answer = server.post("/api/query", hit);
            let health = server.get("/healthz");
            hit_times.push(started.elapsed());
            assert_eq!(answer.status, 200, "{}", answer.body);
            assert_eq!(answer.json()["source"], "memory");
            assert_eq!(health.status, 200);
        }
        let misses: Vec<Response> = misses.into_iter().map(|m| m.join().unwrap()).collect();
        (misses, hit_times)
    });
    let (misses, hit_times) = outcomes;
    let ok = misses.iter().filter(|r| r.status == 200).count();
    let busy: Vec<&Response> = misses.iter().filter(|r| r.status == 429).collect();
    for r in &misses {
        assert!(
            r.status == 200 || r.status == 429,
            "{} {}",
            r.status,
            r.body
        );
    }
    assert!(ok >= 2, "some misses are answered ({ok})");
    assert!(
        !busy.is_empty(),
        "48 misses against 2 slots and 6 places: some are refused"
    );
    for r in &busy {
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry));
    }
    assert!(!hit_times.is_empty());
    // Hits are not queued behind misses: each pair of requests is answered
    // in far less than one miss takes. (Generous, for a loaded 2-core CI.)
    let slowest = hit_times.iter().max().unwrap();
    assert!(*slowest < Duration::from_secs(2), "slowest hit {slowest:?}");
    let metrics = server.get("/metrics").body;
    let rejected: usize = metrics
        .lines()
        .find_map(|l| l.strip_prefix("pqc_http_rejected_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(rejected, busy.len());
    let after = server.resident_bytes();
    assert!(
        after < before + (1 << 30),
        "memory grew from {before} to {after} bytes"
    );
}

#[test]
fn amplifying_queries_and_huge_charts_are_refused_quickly() {
    let server = Server::start(&[]);
    let aggs: Vec<String> = (0..40)
        .map(|i| format!(r#"{{"fn": "sum", "column": "units", "alias": "a{i}"}}"#))
        .collect();
    let many = format!(r#"{{"aggs": [{}]}}"#, aggs.join(","));
    let refused = server.post("/api/query", &many);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("aggregates")
    );

    let per_order = r#"{"group_by": ["order_id"], "aggs": [{"fn": "sum", "column": "units"}]}"#;
    let chart = server.post("/api/chart", per_order);
    assert_eq!(chart.status, 422, "{}", chart.body);
    assert!(chart.body.len() < 1024, "{} bytes", chart.body.len());
    assert!(chart.json()["error"].as_str().unwrap().contains("points"));
    let json = server.post("/api/query", per_order);
    assert_eq!(json.status, 422);
    assert!(json.body.len() < 1024);

    let wide = r#"{"group_by": ["order_id"], "aggs": [
        {"fn": "sum", "column": "units"}, {"fn": "sum", "column": "price"}, {"fn": "sum", "column": "revenue"},
        {"fn": "min", "column": "units"}, {"fn": "min", "column": "price"}, {"fn": "min", "column": "revenue"},
        {"fn": "max", "column": "units"}, {"fn": "max", "column": "price"}, {"fn": "max", "column": "revenue"},
        {"fn": "mean", "column": "units"}, {"fn": "mean", "column": "price"}]}"#;
    let csv = server.send(
        "POST",
        "/api/query",
        &[("Content-Type", "application/json"), ("Accept", "text/csv")],
        wide,
    );
    assert_eq!(csv.status, 422, "{}", &csv.body[..csv.body.len().min(300)]);
    assert!(csv.json()["error"].as_str().unwrap().contains("cells"));

    // A long column name is quoted in a short excerpt.
    let long = "x".repeat(60_000);
    let unknown = server.post(
        "/api/query",
        &format!(r#"{{"group_by": ["{long}"], "aggs": [{{"fn": "len"}}]}}"#),
    );
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.len() < 2048, "{} bytes", unknown.body.len());
}

#[test]
fn half_open_and_idle_connections_are_closed() {
    let server = Server::start(&["--header-timeout", "1s", "--max-connections", "64"]);
    let started = Instant::now();
    let mut half_open: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            // Headers that never end.
            let _ = s.write_all(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            s
        })
        .collect();
    // A well-behaved client still gets through once slots free up.
    let answer = server.get("/healthz");
    assert_eq!(answer.status, 200);
    for s in &mut half_open {
        let mut buf = [0u8; 512];
        // The server closes (0 bytes) or answers 408 and closes; either way
        // the connection ends without the client finishing its headers.
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "half-open connections were closed by the server, not by the read timeout"
    );
    // An idle keep-alive connection is closed too.
    let mut idle = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let waited = Instant::now();
    let mut total = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match idle.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total.extend_from_slice(&buf[..n]),
        }
    }
    assert!(String::from_utf8_lossy(&total).starts_with("HTTP/1.1 200"));
    assert!(waited.elapsed() < Duration::from_secs(14));
}

#[test]
fn cross_site_writes_are_refused() {
    let server = Server::start(&[]);
    let q = r#"{"group_by": ["year"], "aggs": [{"fn": "len"}]}"#;
    assert_eq!(server.post("/api/query", q).status, 200);
    let entries = || server.get("/api/stats").json()["entries"].as_u64().unwrap();
    assert_eq!(entries(), 1);
    // What a cross-site form or `fetch` without preflight can send.
    let plain = server.send(
        "POST",
        "/api/invalidate",
        &[("Content-Type", "text/plain")],
        r#"{"all":true}"#,
    );
    assert_eq!(plain.status, 415, "{}", plain.body);
    let foreign = server.send(
        "POST",
        "/api/invalidate",
        &[
            ("Content-Type", "application/json"),
            ("Origin", "https://evil.example"),
        ],
        r#"{"all":true}"#,
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let refresh = server.send(
        "POST",
        "/api/refresh",
        &[("Origin", "https://evil.example")],
        "",
    );
    assert_eq!(refresh.status, 403);
    assert_eq!(entries(), 1, "nothing was dropped");
    // A rebound name on loopback is refused, even for reads.
    let rebound = request_with_host(server.port, "evil.example:8080", "/api/stats");
    assert_eq!(rebound.status, 403, "{}", rebound.body);
    // The page itself may clear its cache.
    let own = server.send(
        "POST",
        "/api/invalidate",
        &[
            ("Content-Type", "application/json"),
            ("Origin", &format!("http://127.0.0.1:{}", server.port)),
        ],
        r#"{"all":true}"#,
    );
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(entries(), 0);
}

fn request_with_host(port: u16, host: &str, path: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    Response {
        status: head.split(' ').nth(1).unwrap().parse().unwrap(),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

const Q1: &str = r#"{"filters": {"category": "Books"}, "group_by": ["year"], "aggs": [{"fn": "sum", "column": "units"}]}"#;
const Q2: &str = r#"{"filters": {"category": "Games"}, "group_by": ["year"], "aggs": [{"fn": "sum", "column": "units"}]}"#;

fn counter(server: &Server, name: &str) -> u64 {
    let metrics = server.get("/metrics").body;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

#[test]
fn swapped_and_truncated_entries_in_the_cache_directory_are_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().to_str().unwrap();
    let flags = ["--cache-dir", cache_dir, "--tier-secret", "abuse-secret"];
    let (first, second) = {
        let server = Server::start(&flags);
        let first = server.post("/api/query", Q1).json();
        let second = server.post("/api/query", Q2).json();
        assert_eq!(
            (&first["source"], &second["source"]),
            (&"computed".into(), &"computed".into())
        );
        (first, second)
    };
    let files = entry_files(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    // Each file now holds the other query's (validly signed) answer.
    let (a, b) = (
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(&files[1]).unwrap(),
    );
    std::fs::write(&files[0], &b).unwrap();
    std::fs::write(&files[1], &a).unwrap();
    let server = Server::start(&flags);
    for (query, expected) in [(Q1, &first), (Q2, &second)] {
        let answer = server.post("/api/query", query).json();
        assert_eq!(answer["rows"], expected["rows"], "{query}");
        assert_eq!(answer["source"], "computed", "a swapped entry was served");
    }
    assert!(
        server.get("/api/stats").json()["disk_rejected"]
            .as_u64()
            .unwrap()
            >= 2
    );
    drop(server);
    // Truncated entries too.
    for f in entry_files(dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    }
    let server = Server::start(&flags);
    let answer = server.post("/api/query", Q1).json();
    assert_eq!(answer["rows"], first["rows"]);
    assert_eq!(answer["source"], "computed", "a truncated entry was served");
}

#[cfg(feature = "redis")]
#[test]
fn forged_redis_values_are_never_served_and_garbage_messages_do_not_stop_invalidation() {
    const REDIS: &str = "redis://127.0.0.1:6379";
    if !common::available(
        "redis-server on 127.0.0.1:6379",
        TcpStream::connect("127.0.0.1:6379").is_ok(),
    ) {
        return;
    }
    let prefix = format!("pqc-abuse:{}:{}", std::process::id(), common::free_port());
    let flags = [
        "--redis",
        REDIS,
        "--redis-prefix",
        &prefix,
        "--tier-secret",
        "abuse-secret",
    ];
    let one = Server::start(&flags);
    let two = Server::start(&flags);
    let first = one.post("/api/query", Q1).json();
    assert_eq!(first["source"], "computed");
    assert_eq!(two.post("/api/query", Q1).json()["source"], "redis");

    // A garbage invalidation message, then a real one: two still hears it.
    let mut con = redis::Client::open(REDIS)
        .unwrap()
        .get_connection()
        .unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg(format!("{prefix}:invalidate"))
        .arg(b"\xff\x00 not a message".as_slice())
        .query(&mut con)
        .unwrap();
    assert_eq!(one.post("/api/invalidate", r#"{"all": true}"#).status, 200);
    let mut reached = false;
    for _ in 0..100 {
        if two.get("/api/stats").json()["entries"] == 0 {
            reached = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        reached,
        "the invalidation after the garbage did not reach the other server"
    );
    assert!(counter(&two, "pqc_redis_bad_messages_total") >= 1);

    // Forged values: every value key of this prefix overwritten with
    // another query's signed value, then with junk.
    let second = one.post("/api/query", Q2).json();
    assert_eq!(one.post("/api/query", Q1).json()["source"], "computed");
    let mut values: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query(&mut con)
        .unwrap();
    values.retain(|k| !k.ends_with(":lock") && !k.contains(":source:"));
    assert_eq!(values.len(), 2, "{values:?}");
    let a: Vec<u8> = redis::cmd("GET").arg(&values[0]).query(&mut con).unwrap();
    let b: Vec<u8> = redis::cmd("GET").arg(&values[1]).query(&mut con).unwrap();
    let _: () = redis::cmd("SET")
        .arg(&values[0])
        .arg(b)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&values[1])
        .arg(a)
        .query(&mut con)
        .unwrap();
    let three = Server::start(&flags);
    for (query, expected) in [(Q1, &first), (Q2, &second)] {
        let answer = three.post("/api/query", query).json();
        assert_eq!(answer["rows"], expected["rows"], "{query}");
        assert_eq!(
            answer["source"], "computed",
            "a forged Redis value was served"
        );
    }
    assert!(
        three.get("/api/stats").json()["redis_rejected"]
            .as_u64()
            .unwrap()
            >= 2
    );
    let _: i64 = redis::cmd("DEL").arg(&values).query(&mut con).unwrap();
}
