//! The dashboard in a real headless browser (Debian's chromium, driven
//! through chromedriver): load the page, change the selectors, see the
//! chart and the table change, and the statistics count a hit when a
//! selection comes back. A screenshot is saved as a test artifact.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use polars_query_cache::CachedQuery;
use polars_query_cache::server::{ServerConfig, app, serve};
use serde_json::json;

use crate::common::{self, Child};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Where test artifacts go: `$PQC_ARTIFACTS`, or `target/pqc-artifacts`.
fn artifacts() -> PathBuf {
    let dir = std::env::var_os("PQC_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| "target".into());
            target.join("pqc-artifacts")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn updates(client: &Client) -> u64 {
    let value = client
        .execute("return document.body.dataset.updates", vec![])
        .await
        .unwrap();
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Waits until the page finished `n` updates.
async fn until_updates(client: &Client, n: u64) {
    let started = Instant::now();
    while updates(client).await < n {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the page did not finish update {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Picks `value` in the `<select>` at `css`, then waits for the page's
/// update number `n`.
async fn select(client: &Client, css: &str, value: &str, n: u64) {
    let element = client.find(Locator::Css(css)).await.unwrap();
    element.select_by_value(value).await.unwrap();
    until_updates(client, n).await;
}

async fn hits(client: &Client) -> u64 {
    text(client, "#stat-hits")
        .await
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn table(client: &Client) -> Vec<String> {
    let mut rows = Vec::new();
    for row in client
        .find_all(Locator::Css("#table tbody tr"))
        .await
        .unwrap()
    {
        rows.push(row.text().await.unwrap());
    }
    rows
}

async fn chart(client: &Client) -> String {
    client
        .find(Locator::Css("#chart svg"))
        .await
        .unwrap()
        .html(false)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_updates_and_counts_a_hit() {
    let found = std::path::Path::new(CHROMIUM).exists() && common::program_exists("chromedriver");
    if !common::available("chromium and chromedriver", found) {
        return;
    }
    // The server, in this process, on a free port.
    let cache = Arc::new(
        CachedQuery::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv")).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        app(Arc::clone(&cache), ServerConfig::default()),
    ));

    let port = common::free_port();
    let _driver = Child(
        std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        common::wait_for_port(port, Duration::from_secs(20)),
        "chromedriver did not start"
    );
    let profile = tempfile::tempdir().unwrap();
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900", format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromedriver session");

    client.goto(&format!("http://{address}/")).await.unwrap();
    until_updates(&client, 1).await;
    assert_eq!(
        text(&client, "#status").await,
        "",
        "the page reported an error"
    );
    assert_eq!(text(&client, "#last-source").await, "computed");
    let all_rows = table(&client).await;
    assert_eq!(all_rows.len(), 12, "one row a month: {all_rows:?}");
    let all_chart = chart(&client).await;
    assert!(all_chart.contains("polyline"), "no line in the chart");

    // Pick one category: new numbers, a new chart, computed.
    select(&client, "#filter-category", "Games", 2).await;
    assert_eq!(text(&client, "#last-source").await, "computed");
    let games_rows = table(&client).await;
    assert_eq!(games_rows.len(), 12);
    assert_ne!(games_rows, all_rows);
    assert_ne!(chart(&client).await, all_chart);

    // A year and another measure, too.
    select(&client, "#filter-year", "2023", 3).await;
    select(&client, "#measure", "1", 4).await;
    assert_eq!(text(&client, "#status").await, "");

    // Back to the first selection: the cache answers, and counts the hit.
    let hits_before = hits(&client).await;
    select(&client, "#measure", "0", 5).await;
    select(&client, "#filter-year", "", 6).await;
    select(&client, "#filter-category", "", 7).await;
    assert_eq!(text(&client, "#last-source").await, "memory");
    assert_eq!(table(&client).await, all_rows);
    assert_eq!(chart(&client).await, all_chart);
    let hits_after = hits(&client).await;
    assert!(
        hits_after > hits_before,
        "hits {hits_before} -> {hits_after}"
    );
    assert_eq!(cache.cache_info().hits, hits_after);

    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let path = artifacts().join("dashboard.png");
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    client.close().await.unwrap();
}
