//! The explorer page in a real headless browser: time from a click to the
//! drawn chart on the generated table, with the inferred layout and with a
//! declared dashboard (its roll-up pinned at start), in one run.
//!
//! Each server is what `pqc serve FILE` and `pqc serve FILE --dashboard
//! FILE.json` build (the same builder, roll-ups and check), served in this
//! process. Debian's chromium, driven through chromedriver, loads the page;
//! after its first update, a fixed sequence of control changes (seeded: filter
//! values ticked and unticked, the dimension, the series, the measure column
//! and its aggregate) is played, the same in both layouts. Each change is
//! timed in the page with `performance.now()`, from just before the control
//! changes to the moment `body[data-updates]` increments (table and chart
//! drawn), and to the next frame after it. `/api/stats` gives the
//! computations the clicks caused. The plain-Polars baseline runs the
//! queries of a sample of the views (read off the page's address after each
//! click) with `CachedQuery::plan(&q)?.collect()` on the same frame.
//!
//! Run: `cargo bench --bench explorer`. Environment: `PQC_BENCH_ROWS`
//! (default 10,000,000), `PQC_EXPLORER_CLICKS` (default 200),
//! `PQC_BENCH_DIR` (where the CSV is generated).

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder};
use polars_query_cache::sample::SplitMix64;
use polars_query_cache::server::{DeclaredDashboard, ServerConfig, app, serve};
use polars_query_cache::{CachedQuery, Query};
use serde_json::{Value, json};

mod common;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The declared dashboard: the inferred layout's common controls, with
/// every (column, aggregate) pair the clicks can reach declared under the
/// label the inferred page gives it, so both layouts send the same queries.
const DECLARED: &str = r#"{"title": "Sales (explorer bench)",
 "filters": ["category", "region", "channel", "year"],
 "dimensions": ["month", "category", "region", "channel", "year"],
 "measures": [
   {"column": "revenue", "fn": "sum", "label": "revenue (sum)"},
   {"column": "revenue", "fn": "mean", "label": "revenue (mean)"},
   {"column": "price", "fn": "sum", "label": "price (sum)"},
   {"column": "price", "fn": "mean", "label": "price (mean)"},
   {"column": "discount", "fn": "mean", "label": "discount (mean)"},
   {"column": "discount", "fn": "sum", "label": "discount (sum)"},
   {"fn": "len", "label": "rows (len)"}]}"#;

/// What the clicks choose from: controls both layouts offer.
fn click_space() -> Value {
    json!({
        "filters": ["category", "region", "channel", "year"],
        "dimensions": ["month", "category", "region", "channel", "year"],
        "measures": ["revenue", "price", "discount", ""],
        "aggregates": ["sum", "mean"],
    })
}

/// One control change, timed in the page. Arguments: the click space, two
/// random numbers, the callback. The change is chosen from the controls'
/// current state, so the same numbers give the same sequence in both
/// layouts.
const CLICK: &str = r##"
const [space, a, b, done] = arguments;
const body = document.body;
const before = Number(body.dataset.updates || 0);
const pick = (list, r) => list[r % list.length];
let act, what;
const kind = a % 100;
if (kind < 50) {
  const column = pick(space.filters, b);
  const inputs = document.querySelectorAll("#filter-" + CSS.escape(column) + " input");
  const input = inputs[(b >>> 8) % inputs.length];
  what = "toggle " + column + "=" + input.value;
  act = () => input.click();
} else {
  const choices = (id, values) => {
    const select = document.getElementById(id);
    return values.filter((v) => v !== select.value
      && [...select.options].some((o) => o.value === v && !o.disabled));
  };
  let id = kind < 70 ? "dimension" : kind < 80 ? "series" : kind < 92 ? "measure-column" : "measure-fn";
  const values = (id) => id === "dimension" ? space.dimensions
    : id === "series" ? [""].concat(space.dimensions)
    : id === "measure-column" ? space.measures : space.aggregates;
  if (!choices(id, values(id)).length) id = "dimension";
  const value = pick(choices(id, values(id)), b);
  const select = document.getElementById(id);
  what = id + "=" + value;
  act = () => {
    select.value = value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  };
}
let started = 0;
const observer = new MutationObserver(() => {
  if (Number(body.dataset.updates) <= before) return;
  observer.disconnect();
  const updated = performance.now() - started;
  requestAnimationFrame(() => setTimeout(() => done({
    updated,
    frame: performance.now() - started,
    what,
    address: location.search,
    errors: Number(body.dataset.errors || 0),
    status: document.getElementById("status").textContent,
  }), 0));
});
observer.observe(body, { attributes: true, attributeFilter: ["data-updates"] });
started = performance.now();
act();
"##;

/// Waits for the first update of a freshly loaded page.
const SETTLED: &str = r#"
const done = arguments[arguments.length - 1];
const check = () => Number(document.body.dataset.updates || 0) >= 1 && document.body.dataset.busy !== "true"
  ? done(Number(document.body.dataset.errors || 0)) : setTimeout(check, 20);
check();
"#;

const STATS: &str = r#"
const done = arguments[arguments.length - 1];
fetch("/api/stats").then((r) => r.json()).then(done, (e) => done({ error: String(e) }));
"#;

/// A process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// chromedriver and one headless chromium session.
async fn browser(profile: &std::path::Path) -> (Client, Killed) {
    let port = free_port();
    let driver = Killed(
        std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver (apt install chromium-driver)"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities.as_object().expect("object").clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromedriver session");
    (client, driver)
}

/// One click as the page measured it.
struct Click {
    updated_ms: f64,
    frame_ms: f64,
    what: String,
    address: String,
}

/// What one layout measured.
struct Run {
    clicks: Vec<Click>,
    computations: u64,
    stats_after: Value,
}

fn counter(stats: &Value, name: &str) -> u64 {
    stats.get(name).and_then(Value::as_u64).unwrap_or(0)
}

/// Serves `cache`, loads the page, plays `n` clicks.
async fn run(name: &str, cache: Arc<CachedQuery>, config: ServerConfig, n: usize) -> Run {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(serve(listener, app(cache, config)));
    let profile = tempfile::tempdir().expect("profile dir");
    let (client, _driver) = browser(profile.path()).await;
    client
        .update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(120)),
            Some(Duration::from_secs(60)),
            None,
        ))
        .await
        .expect("script timeout");
    let loading = Instant::now();
    client
        .goto(&format!("http://127.0.0.1:{port}/"))
        .await
        .expect("open the page");
    let errors = client
        .execute_async(SETTLED, vec![])
        .await
        .expect("first update");
    assert_eq!(errors, json!(0), "{name}: errors on the first load");
    println!(
        "{name}: first load settled in {:.2} s",
        loading.elapsed().as_secs_f64()
    );
    let before = client.execute_async(STATS, vec![]).await.expect("stats");
    let mut rng = SplitMix64::new(42);
    let mut clicks = Vec::with_capacity(n);
    for i in 0..n {
        // Chromium ignores history changes beyond 200 in 10 s, so the
        // clicks are paced to at most one every 60 ms (untimed).
        let pace = tokio::time::sleep(Duration::from_millis(60));
        let args = vec![click_space(), json!(rng.next_u32()), json!(rng.next_u32())];
        let out = client.execute_async(CLICK, args).await.expect("a click");
        let text = |key: &str| out[key].as_str().unwrap_or_default().to_string();
        assert_eq!(out["errors"], json!(0), "{name}: page errors after {out}");
        assert_eq!(text("status"), "", "{name}: the page reports an error");
        clicks.push(Click {
            updated_ms: out["updated"].as_f64().expect("updated"),
            frame_ms: out["frame"].as_f64().expect("frame"),
            what: text("what"),
            address: text("address"),
        });
        pace.await;
        if (i + 1) % 25 == 0 {
            println!(
                "{name}: {} clicks, last {} in {:.1} ms",
                i + 1,
                clicks[i].what,
                clicks[i].updated_ms
            );
        }
    }
    let after = client.execute_async(STATS, vec![]).await.expect("stats");
    client.close().await.expect("close the browser");
    server.abort();
    Run {
        clicks,
        computations: counter(&after, "computations") - counter(&before, "computations"),
        stats_after: after,
    }
}

/// Decodes what `encodeURIComponent` encoded.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query the page sends for the view in its address
/// (`?f.<col>=v1,v2&x=<col>&s=<col>&m=<col>&a=<fn>`).
fn query_of_address(address: &str) -> Query {
    let mut filters = Vec::new();
    let (mut x, mut s, mut m, mut a) = (None, None, None, "len".to_string());
    for pair in address.trim_start_matches('?').split('&') {
        let Some((key, raw)) = pair.split_once('=') else {
            continue;
        };
        let key = percent_decode(key);
        match key.as_str() {
            "x" => x = Some(percent_decode(raw)),
            "s" => s = Some(percent_decode(raw)),
            "m" => m = Some(percent_decode(raw)),
            "a" => a = percent_decode(raw),
            _ => {
                if let Some(column) = key.strip_prefix("f.") {
                    let values: Vec<Value> = raw
                        .split(',')
                        .map(percent_decode)
                        .map(|v| v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n)))
                        .collect();
                    filters.push(json!({"column": column, "op": "in", "value": values}));
                }
            }
        }
    }
    let mut agg = json!({"fn": a});
    if let Some(m) = m.filter(|m| !m.is_empty()) {
        agg["column"] = json!(m);
    }
    let group_by: Vec<String> = x.into_iter().chain(s).filter(|c| !c.is_empty()).collect();
    let query = json!({"filters": filters, "group_by": group_by, "aggs": [agg]});
    Query::from_json(&query.to_string()).expect("the page's query")
}

/// The `q` quantile of sorted figures.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

fn sorted(figures: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = figures.collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Plain Polars on `sample` of the views: each query's lazy plan
/// collected, in milliseconds, sorted.
fn baseline(cache: &CachedQuery, clicks: &[Click], sample: usize) -> Vec<f64> {
    let step = (clicks.len() / sample.max(1)).max(1);
    sorted(clicks.iter().step_by(step).map(|click| {
        let query = query_of_address(&click.address);
        let started = Instant::now();
        let frame = cache
            .plan(&query)
            .expect("plan")
            .collect()
            .expect("collect");
        std::hint::black_box(frame);
        started.elapsed().as_secs_f64() * 1e3
    }))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    if !std::path::Path::new(CHROMIUM).exists() {
        eprintln!("explorer bench skipped: {CHROMIUM} is not installed");
        return;
    }
    let rows = common::rows(10_000_000);
    let n = std::env::var("PQC_EXPLORER_CLICKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let csv = common::csv(rows);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!("load average at start: {}", load_average());

    // (a) `pqc serve FILE`: the layout inferred from the schema.
    let started = Instant::now();
    let inferred = Arc::new(CachedQuery::from_csv(&csv).expect("load"));
    println!(
        "inferred: loaded {rows} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let a = runtime.block_on(run(
        "inferred",
        Arc::clone(&inferred),
        ServerConfig::default(),
        n,
    ));
    println!("baseline: plain Polars on a sample of the views");
    let plain = baseline(&inferred, &a.clicks, 40);
    drop(inferred);

    // (b) `pqc serve FILE --dashboard FILE.json`: the roll-up pinned at start.
    let declared = DeclaredDashboard::from_json(DECLARED).expect("the declaration");
    let started = Instant::now();
    let pinned = CachedQuery::builder()
        .rollups(declared.rollups())
        .build_from_csv(&csv)
        .expect("load");
    let config = ServerConfig::default()
        .with_dashboard(declared, &pinned)
        .expect("the declaration fits the data");
    println!(
        "declared: loaded {rows} rows and built the roll-up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let b = runtime.block_on(run("declared", Arc::new(pinned), config, n));

    let same = a
        .clicks
        .iter()
        .zip(&b.clicks)
        .all(|(x, y)| x.what == y.what && x.address == y.address);
    if let Some(i) = (0..n).find(|&i| {
        a.clicks[i].what != b.clicks[i].what || a.clicks[i].address != b.clicks[i].address
    }) {
        for j in i.saturating_sub(2)..=i {
            let (x, y) = (&a.clicks[j], &b.clicks[j]);
            println!(
                "click {j}: inferred {} {} ({:.1} ms), declared {} {} ({:.1} ms)",
                x.what, x.address, x.updated_ms, y.what, y.address, y.updated_ms
            );
        }
    }
    println!(
        "\n{n} clicks on {rows} rows; the same control changes and addresses in both layouts: {same}; load average at end: {}",
        load_average()
    );
    println!(
        "plain Polars, {} of the views: p50 {:.1} ms, p99 {:.1} ms",
        plain.len(),
        quantile(&plain, 0.5),
        quantile(&plain, 0.99)
    );
    println!(
        "| layout | click to data-updates p50 / p99 | to the next frame p50 / p99 | computations in the clicks | plain Polars p50 / click p50 |"
    );
    for (name, r) in [("inferred", &a), ("declared", &b)] {
        let updated = sorted(r.clicks.iter().map(|c| c.updated_ms));
        let frame = sorted(r.clicks.iter().map(|c| c.frame_ms));
        println!(
            "| {name} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {} | {:.1}x |",
            quantile(&updated, 0.5),
            quantile(&updated, 0.99),
            quantile(&frame, 0.5),
            quantile(&frame, 0.99),
            r.computations,
            quantile(&plain, 0.5) / quantile(&updated, 0.5),
        );
    }
    for (name, r) in [("inferred", &a), ("declared", &b)] {
        println!(
            "{name} stats after the clicks: hits {} (memory {}, derived {}), misses {}, computations {}",
            counter(&r.stats_after, "hits"),
            counter(&r.stats_after, "memory_hits"),
            counter(&r.stats_after, "derived_hits"),
            counter(&r.stats_after, "misses"),
            counter(&r.stats_after, "computations"),
        );
    }
}
