//! Every route, error and limit of the HTTP API, driven with `oneshot`
//! (no socket).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use polars::prelude::*;
use polars_query_cache::CachedQuery;
use polars_query_cache::server::{Limits, ServerConfig, app};
use serde_json::{Value, json};
use tower::ServiceExt;

fn sample_cache() -> Arc<CachedQuery> {
    Arc::new(CachedQuery::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv")).unwrap())
}

fn router(config: ServerConfig) -> (Arc<CachedQuery>, Router) {
    let cache = sample_cache();
    (Arc::clone(&cache), app(cache, config))
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn post(path: &str, body: impl Into<String>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.into()))
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

const BOOKS_BY_MONTH: &str = r#"{"filters": {"category": "Books", "year": 2024}, "group_by": ["month"],
    "aggs": [{"fn": "sum", "column": "revenue", "alias": "total"}]}"#;

#[tokio::test]
async fn query_as_json_then_a_hit() {
    let (_, app) = router(ServerConfig::default());
    let (status, headers, body) = send(&app, post("/api/query", BOOKS_BY_MONTH)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let first = json_of(&body);
    assert_eq!(first["columns"], json!(["month", "total"]));
    assert_eq!(first["rows"].as_array().unwrap().len(), 12);
    assert_eq!(first["source"], "computed");
    assert!(first["elapsed_us"].is_u64());
    let (_, _, body) = send(&app, post("/api/query", BOOKS_BY_MONTH)).await;
    let second = json_of(&body);
    assert_eq!(second["source"], "memory");
    assert_eq!(second["rows"], first["rows"]);
}

#[tokio::test]
async fn query_as_csv_and_arrow() {
    let (_, app) = router(ServerConfig::default());
    let request = Request::post("/api/query")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "text/csv")
        .body(Body::from(BOOKS_BY_MONTH))
        .unwrap();
    let (status, headers, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with("month,total\n1,"), "{text}");
    assert_eq!(text.lines().count(), 13);
    let request = Request::post("/api/query")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/vnd.apache.arrow.stream")
        .body(Body::from(BOOKS_BY_MONTH))
        .unwrap();
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    let frame = IpcStreamReader::new(std::io::Cursor::new(body))
        .finish()
        .unwrap();
    assert_eq!(frame.shape(), (12, 2));
}

#[tokio::test]
async fn query_errors_are_400_with_a_message() {
    let (_, app) = router(ServerConfig::default());
    for (body, needle) in [
        (
            r#"{"filters": {"categry": "Books"}, "aggs": [{"fn": "len"}]}"#,
            "did you mean `category`?",
        ),
        (
            r#"{"filters": {"year": "twenty"}, "aggs": [{"fn": "len"}]}"#,
            "whole number",
        ),
        (
            r#"{"aggs": [{"fn": "sum", "column": "category"}]}"#,
            "cannot aggregate",
        ),
        (
            r#"{"aggs": [{"fn": "len"}], "extra": 1}"#,
            "unknown field `extra`",
        ),
        (r#"{"aggs": "#, "malformed query JSON"),
        ("\u{0}\u{1}", "malformed query JSON"),
    ] {
        let (status, _, bytes) = send(&app, post("/api/query", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let error = json_of(&bytes)["error"].as_str().unwrap().to_owned();
        assert!(error.contains(needle), "{body}: {error}");
    }
    let bad_utf8 = Request::post("/api/query")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(vec![0xff, 0xfe]))
        .unwrap();
    let (status, _, bytes) = send(&app, bad_utf8).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json_of(&bytes)["error"].as_str().unwrap().contains("UTF-8"));
}

#[tokio::test]
async fn every_limit() {
    let limits = Limits {
        max_body_bytes: 2_000,
        max_filters: 2,
        max_in_list: 3,
        max_group_by: 1,
        max_aggs: 2,
        max_json_rows: 10,
        max_cells: 30,
        max_chart_points: 5,
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let (_, app) = router(ServerConfig {
        limits,
        ..ServerConfig::default()
    });
    let cases = [
        (
            r#"{"filters": {"year": 2024, "month": 1, "units": 2}, "aggs": [{"fn": "len"}]}"#,
            "too many filters",
        ),
        (
            r#"{"filters": {"month": [1, 2, 3, 4]}, "aggs": [{"fn": "len"}]}"#,
            "too many values",
        ),
        (
            r#"{"group_by": ["year", "month"], "aggs": [{"fn": "len"}]}"#,
            "too many group-by columns",
        ),
        (
            r#"{"group_by": ["month"], "aggs": [{"fn": "len"}]}"#,
            "add a `limit`",
        ),
        (
            r#"{"aggs": [{"fn": "len"}, {"fn": "sum", "column": "units"}, {"fn": "max", "column": "units"}]}"#,
            "too many aggregates",
        ),
        (
            r#"{"group_by": ["month"], "aggs": [{"fn": "len"}, {"fn": "sum", "column": "units"}]}"#,
            "cells",
        ),
    ];
    for (body, needle) in cases {
        let (status, _, bytes) = send(&app, post("/api/query", body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            json_of(&bytes)["error"].as_str().unwrap().contains(needle),
            "{body}"
        );
    }
    let chart = r#"{"group_by": ["month"], "aggs": [{"fn": "len"}]}"#;
    let (status, _, bytes) = send(&app, post("/api/chart", chart)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json_of(&bytes)["error"]
            .as_str()
            .unwrap()
            .contains("12 points")
    );
    // Within the row limit with a `limit`, or as CSV, the same answer is fine.
    let (status, _, _) = send(
        &app,
        post(
            "/api/query",
            r#"{"group_by": ["month"], "aggs": [{"fn": "len"}], "limit": 10}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let csv = Request::post("/api/query")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "text/csv")
        .body(Body::from(
            r#"{"group_by": ["month"], "aggs": [{"fn": "len"}]}"#,
        ))
        .unwrap();
    assert_eq!(send(&app, csv).await.0, StatusCode::OK);
    let huge = format!(
        r#"{{"aggs": [{{"fn": "len"}}], "pad": "{}"}}"#,
        "x".repeat(5_000)
    );
    let (status, _, bytes) = send(&app, post("/api/query", huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        json_of(&bytes)["error"]
            .as_str()
            .unwrap()
            .contains("2000 bytes")
    );
}

#[tokio::test]
async fn a_slow_miss_times_out_but_finishes_into_the_cache() {
    let frame = df!("k" => (0..400_000i64).map(|i| i % 50_000).collect::<Vec<_>>(), "v" => (0..400_000i64).collect::<Vec<_>>()).unwrap();
    let cache = Arc::new(CachedQuery::from_frame(frame).unwrap());
    let limits = Limits {
        timeout: Duration::from_micros(1),
        ..Limits::default()
    };
    let app = app(
        Arc::clone(&cache),
        ServerConfig {
            limits,
            ..ServerConfig::default()
        },
    );
    let body = r#"{"group_by": ["k"], "aggs": [{"fn": "median", "column": "v"}, {"fn": "std", "column": "v"}], "limit": 5}"#;
    let (status, _, bytes) = send(&app, post("/api/query", body)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        json_of(&bytes)["error"]
            .as_str()
            .unwrap()
            .contains("will be cached")
    );
    // The computation went on: soon it is a hit, served without the pool.
    for _ in 0..200 {
        if cache.cache_info().entries == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _, bytes) = send(&app, post("/api/query", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&bytes)["source"], "memory");
}

#[tokio::test]
async fn chart_is_svg() {
    let (_, app) = router(ServerConfig::default());
    let (status, headers, body) = send(&app, post("/api/chart", BOOKS_BY_MONTH)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
    let svg = String::from_utf8(body).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("total by month") && svg.contains("<polyline"),
        "{svg}"
    );
    let (status, _, _) = send(&app, post("/api/chart", r#"{"group_by": ["category"]}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn schema_lists_types_values_and_the_dashboard() {
    let (cache, app) = router(ServerConfig::default());
    let (status, _, body) = send(&app, get("/api/schema")).await;
    assert_eq!(status, StatusCode::OK);
    let schema = json_of(&body);
    assert_eq!(schema["rows"], 5000);
    let column = |name: &str| {
        schema["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(column("category")["type"], "categorical");
    assert_eq!(column("category")["values"].as_array().unwrap().len(), 8);
    assert_eq!(column("year")["values"], json!([2021, 2022, 2023, 2024]));
    assert!(
        column("order_id").get("values").is_none(),
        "5000 distinct values are not listed"
    );
    assert!(column("revenue").get("values").is_none());
    let frame = cache.dataset().frame().unwrap().clone();
    let discount = frame.column("discount").unwrap();
    assert!(discount.null_count() > 0);
    assert_eq!(column("discount")["nulls"], discount.null_count());
    assert_eq!(column("category")["distinct"], 8);
    let dashboard = &schema["dashboard"];
    let filters = dashboard["filters"].as_array().unwrap();
    assert_eq!(filters[0], "category");
    assert!(filters.contains(&json!("year")), "{filters:?}");
    for filter in filters {
        let values = &column(filter.as_str().unwrap())["values"];
        assert!(
            values.as_array().is_some_and(|v| v.len() >= 2),
            "{filter} lists its values"
        );
    }
    assert_eq!(dashboard["x"], "month");
    assert_eq!(dashboard["dimensions"][0], "month");
    assert_eq!(dashboard["aggregates"].as_array().unwrap().len(), 7);
    let ranges = dashboard["ranges"].as_array().unwrap();
    assert!(ranges.contains(&json!({"column": "year", "min": 2021, "max": 2024})));
    let measures = dashboard["measures"].as_array().unwrap();
    assert_eq!(
        measures.last().unwrap(),
        &json!({"label": "rows (len)", "fn": "len"})
    );
    assert!(measures.iter().all(|m| m["column"] != "order_id"));
}

/// In scan mode the server answers as over the table in memory: the same
/// schema listing (text is text, not categorical) and the same answers.
#[tokio::test]
async fn a_scanned_dataset_is_served_as_a_loaded_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv");
    let scanned = Arc::new(
        CachedQuery::builder()
            .load_options(polars_query_cache::LoadOptions::default().with_scan(true))
            .build_from_path(path)
            .unwrap(),
    );
    let (_, loaded) = router(ServerConfig::default());
    let scanned = app(scanned, ServerConfig::default());
    let (status, _, body) = send(&scanned, get("/api/schema")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (_, _, loaded_body) = send(&loaded, get("/api/schema")).await;
    let (scan_schema, memory_schema) = (json_of(&body), json_of(&loaded_body));
    for (a, b) in scan_schema["columns"]
        .as_array()
        .unwrap()
        .iter()
        .zip(memory_schema["columns"].as_array().unwrap())
    {
        assert_eq!(a["name"], b["name"]);
        assert_eq!(a["nulls"], b["nulls"], "{}", a["name"]);
        // A scan counts and lists only the columns with few values in its
        // first rows (it never holds every distinct id); those agree.
        if !a["distinct"].is_null() {
            assert_eq!(a["distinct"], b["distinct"], "{}", a["name"]);
            assert_eq!(a["values"], b["values"], "{}", a["name"]);
        }
    }
    let listed = |name: &str| {
        scan_schema["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == name && c["values"].is_array())
    };
    for name in ["category", "region", "year", "month"] {
        assert!(listed(name), "{name} is listed in scan mode");
    }
    assert!(!listed("order_id"));
    let ranges = |schema: &Value| schema["dashboard"]["ranges"].clone();
    assert_eq!(ranges(&scan_schema), ranges(&memory_schema));
    assert_eq!(
        scan_schema["dashboard"]["x"],
        memory_schema["dashboard"]["x"]
    );
    let (status, _, scan_rows) = send(&scanned, post("/api/query", BOOKS_BY_MONTH)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, memory_rows) = send(&loaded, post("/api/query", BOOKS_BY_MONTH)).await;
    let (scan_rows, memory_rows) = (json_of(&scan_rows), json_of(&memory_rows));
    assert_eq!(scan_rows["rows"].as_array().unwrap().len(), 12);
    for (a, b) in scan_rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(memory_rows["rows"].as_array().unwrap())
    {
        assert_eq!(a[0], b[0]);
        let (x, y) = (a[1].as_f64().unwrap(), b[1].as_f64().unwrap());
        assert!((x - y).abs() <= 1e-9 * y.abs(), "{x} {y}");
    }
}

/// The listing and the layout come from one computation over every column,
/// once per data version.
#[tokio::test]
async fn schema_costs_one_computation_then_none() {
    let (_, app) = router(ServerConfig::default());
    let computations = |app: Router| async move {
        let (_, _, body) = send(&app, get("/api/stats")).await;
        json_of(&body)["computations"].as_u64().unwrap()
    };
    let before = computations(app.clone()).await;
    assert_eq!(send(&app, get("/api/schema")).await.0, StatusCode::OK);
    let first = computations(app.clone()).await;
    assert_eq!(first - before, 1, "the first schema request");
    let (status, _, body) = send(&app, get("/api/schema")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(json_of(&body)["columns"].as_array().unwrap().len() > 1);
    assert_eq!(computations(app.clone()).await, first, "the second");
}

#[tokio::test]
async fn stats_invalidate_and_refresh() {
    let (cache, app) = router(ServerConfig::default());
    send(&app, post("/api/query", BOOKS_BY_MONTH)).await;
    send(&app, post("/api/query", BOOKS_BY_MONTH)).await;
    send(
        &app,
        post(
            "/api/query",
            r#"{"filters": {"category": "Games"}, "aggs": [{"fn": "len"}]}"#,
        ),
    )
    .await;
    let (status, _, body) = send(&app, get("/api/stats")).await;
    assert_eq!(status, StatusCode::OK);
    let stats = json_of(&body);
    assert_eq!(
        (
            stats["hits"].as_u64(),
            stats["misses"].as_u64(),
            stats["entries"].as_u64()
        ),
        (Some(1), Some(2), Some(2))
    );

    let drop = |body: &str| post("/api/invalidate", body.to_owned());
    let (status, _, body) = send(&app, drop(&format!(r#"{{"query": {BOOKS_BY_MONTH}}}"#))).await;
    assert_eq!(
        (status, json_of(&body)["dropped"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    send(&app, post("/api/query", BOOKS_BY_MONTH)).await;
    let (_, _, body) = send(&app, drop(r#"{"column": "category", "value": "Games"}"#)).await;
    assert_eq!(json_of(&body)["dropped"], 1, "only the Games query");
    let (_, _, body) = send(&app, drop(r#"{"column": "month"}"#)).await;
    assert_eq!(json_of(&body)["dropped"], 1, "the query grouped by month");
    send(&app, post("/api/query", BOOKS_BY_MONTH)).await;
    let (_, _, body) = send(&app, drop(r#"{"all": true}"#)).await;
    assert_eq!(json_of(&body)["dropped"], 1);
    assert_eq!(cache.cache_info().entries, 0);
    for (body, status) in [
        (r#"{}"#, StatusCode::BAD_REQUEST),
        (r#"{"all": true, "column": "x"}"#, StatusCode::BAD_REQUEST),
        (r#"{"column": "nope"}"#, StatusCode::BAD_REQUEST),
        (
            r#"{"column": "year", "value": "x"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (r#"{"colour": 1}"#, StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(send(&app, drop(body)).await.0, status, "{body}");
    }

    let (status, _, body) = send(&app, post("/api/refresh", "")).await;
    assert_eq!(status, StatusCode::OK);
    let refresh = json_of(&body);
    assert_eq!(refresh["changed"], false);
    assert_eq!(refresh["old"], refresh["new"]);
}

#[tokio::test]
async fn health_metrics_and_page() {
    let (_, app) = router(ServerConfig::default());
    send(&app, post("/api/query", BOOKS_BY_MONTH)).await;
    send(&app, post("/api/query", BOOKS_BY_MONTH)).await;
    send(&app, post("/api/query", "{")).await;
    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"ok".as_slice())
    );
    let (status, headers, body) = send(&app, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(body).unwrap();
    for line in [
        "pqc_cache_hits_total 1",
        "pqc_cache_misses_total 1",
        "pqc_cache_computations_total 1",
        "pqc_cache_entries 1",
        "pqc_http_client_errors_total 1",
        "pqc_query_duration_seconds_count{outcome=\"hit\"} 1",
        "pqc_query_duration_seconds_count{outcome=\"miss\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let (status, headers, body) = send(&app, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("/assets/dashboard.js")
    );
    for asset in ["/assets/dashboard.js", "/assets/dashboard.css"] {
        assert_eq!(send(&app, get(asset)).await.0, StatusCode::OK);
    }
    assert_eq!(send(&app, get("/nope")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_token_guards_everything_but_healthz() {
    let (_, app) = router(ServerConfig {
        token: Some("s3cret".to_owned()),
        ..ServerConfig::default()
    });
    // The page and its assets hold no data: the page takes the token from
    // the address's fragment and sends it with every API call.
    for public in ["/healthz", "/", "/assets/dashboard.js"] {
        assert_eq!(send(&app, get(public)).await.0, StatusCode::OK, "{public}");
    }
    for request in [
        get("/api/schema"),
        get("/api/stats"),
        get("/metrics"),
        post("/api/query", BOOKS_BY_MONTH),
    ] {
        let (status, _, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(json_of(&body)["error"].as_str().unwrap().contains("Bearer"));
    }
    let wrong = Request::get("/api/stats")
        .header(header::AUTHORIZATION, "Bearer s3cres")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, wrong).await.0, StatusCode::UNAUTHORIZED);
    let right = Request::get("/api/stats")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, right).await.0, StatusCode::OK);
    assert_eq!(
        send(&app, get("/api/stats?token=s3cret")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn internal_errors_do_not_leak() {
    // A memoized computation that fails is a 500 with no detail.
    let cache = sample_cache();
    let result = cache.memoize("fails", &1, |_| {
        Err::<DataFrame, _>(polars_query_cache::Error::Compute("secret detail".into()))
    });
    assert!(result.is_err());
    let response = polars_query_cache::server::AppError::from(result.unwrap_err());
    let response = axum::response::IntoResponse::into_response(response);
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(!String::from_utf8_lossy(&body).contains("secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_concurrent_requests_share_one_computation_even_uncached() {
    // A cache that keeps nothing: followers cannot find the answer in
    // memory afterwards, so they must take the leader's.
    let frame = df!("k" => (0..1_000_000i64).map(|i| i % 50_000).collect::<Vec<_>>(), "v" => (0..1_000_000i64).collect::<Vec<_>>()).unwrap();
    let cache = Arc::new(
        CachedQuery::builder()
            .max_bytes(0)
            .build_from_frame(frame)
            .unwrap(),
    );
    let app = app(Arc::clone(&cache), ServerConfig::default());
    let body = r#"{"group_by": ["k"], "aggs": [{"fn": "median", "column": "v"}], "limit": 3}"#;
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { send(&app, post("/api/query", body)).await })
        })
        .collect();
    let mut sources = Vec::new();
    let mut rows = Vec::new();
    for r in requests {
        let (status, _, bytes) = r.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        let answer = json_of(&bytes);
        sources.push(answer["source"].as_str().unwrap().to_owned());
        rows.push(answer["rows"].clone());
    }
    assert!(rows.iter().all(|r| *r == rows[0]));
    let computed = sources.iter().filter(|s| *s == "computed").count();
    assert_eq!(
        computed as u64,
        cache.cache_info().computations,
        "{sources:?}"
    );
    assert!(computed < 8, "no request shared a computation: {sources:?}");
    assert!(sources.iter().any(|s| s == "coalesced"), "{sources:?}");
}

fn chart_json(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// The rows of `/api/query` for `body`.
async fn rows(app: &Router, body: &str) -> Vec<Value> {
    let (status, _, bytes) = send(app, post("/api/query", body)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    json_of(&bytes)["rows"].as_array().unwrap().clone()
}

/// What `/api/chart` draws for `body`, as numbers.
async fn chart_data(app: &Router, path: &str, body: &str) -> Value {
    let (status, _, bytes) = send(app, chart_json(path, body)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    json_of(&bytes)
}

fn series_names(chart: &Value) -> Vec<String> {
    chart["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The first series' value at the category labelled `label`.
fn drawn(chart: &Value, series: usize, label: &str) -> f64 {
    let labels = chart["labels"].as_array().unwrap();
    let at = labels.iter().position(|l| l == label).unwrap();
    chart["series"][series]["values"][at].as_f64().unwrap()
}

/// Whether the SVG writes `text` as a text element (a label, a legend).
fn has_text(svg: &str, text: &str) -> bool {
    svg.contains(&format!(">\n{text}\n</text>"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test]
async fn a_bar_chart_has_one_bar_per_category() {
    let (_, app) = router(ServerConfig::default());
    let body = r#"{"group_by": ["category"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#;
    let categories = rows(&app, body).await;
    assert_eq!(categories.len(), 8);
    // `auto`: a bar chart for text along x.
    let (status, _, svg) = send(&app, post("/api/chart", body)).await;
    assert_eq!(status, StatusCode::OK);
    let svg = String::from_utf8(svg).unwrap();
    let bars = svg.matches(r##"fill="#1F77B4""##).count();
    assert_eq!(bars, categories.len(), "{svg}");
    for row in &categories {
        let name = row[0].as_str().unwrap();
        assert!(has_text(&svg, name), "no label {name}: {svg}");
    }
    assert!(
        !svg.contains(r#"stroke-width="2""#),
        "a bar chart draws no line"
    );
    // The same with `kind=bar` explicitly; `kind=line` draws a line.
    let (_, _, explicit) = send(&app, post("/api/chart?kind=bar", body)).await;
    assert_eq!(String::from_utf8(explicit).unwrap(), svg);
    let (_, _, line) = send(&app, post("/api/chart?kind=line", body)).await;
    assert!(
        String::from_utf8(line)
            .unwrap()
            .contains(r#"stroke-width="2""#)
    );
    // Numbers along x: a line by default.
    let (_, _, months) = send(&app, post("/api/chart", BOOKS_BY_MONTH)).await;
    assert!(
        String::from_utf8(months)
            .unwrap()
            .contains(r#"stroke-width="2""#)
    );
}

#[tokio::test]
async fn top_folds_the_rest_into_other_for_any_aggregate() {
    let (_, app) = router(ServerConfig::default());
    // 200 products: the 12 largest and "other" by default.
    let sum = r#"{"group_by": ["product"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#;
    let chart = chart_data(&app, "/api/chart?kind=bar", sum).await;
    assert_eq!(chart["labels"].as_array().unwrap().len(), 13);
    let (_, _, svg) = send(&app, post("/api/chart?kind=bar", sum)).await;
    let svg = String::from_utf8(svg).unwrap();
    assert_eq!(svg.matches(r##"fill="#1F77B4""##).count(), 13, "{svg}");
    assert!(has_text(&svg, "other"));

    for top in [3usize, 12] {
        let mut all: Vec<(String, f64)> = rows(&app, sum)
            .await
            .iter()
            .map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_f64().unwrap()))
            .collect();
        let total: f64 = all.iter().map(|(_, v)| v).sum();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        let chart = chart_data(&app, &format!("/api/chart?top={top}"), sum).await;
        let labels = chart["labels"].as_array().unwrap();
        assert_eq!(labels.len(), top + 1);
        for (name, value) in &all[..top] {
            assert!(close(drawn(&chart, 0, name), *value), "{name}");
        }
        let kept: f64 = all[..top].iter().map(|(_, v)| v).sum();
        assert!(close(drawn(&chart, 0, "other"), total - kept));
    }

    // A mean does not add up: "other" is the mean over the other rows.
    let mean = r#"{"group_by": ["product"], "aggs": [{"fn": "mean", "column": "revenue"}]}"#;
    let mut all: Vec<(String, f64)> = rows(&app, mean)
        .await
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_f64().unwrap()))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    let chart = chart_data(&app, "/api/chart?top=5", mean).await;
    let kept: Vec<&str> = all[..5].iter().map(|(n, _)| n.as_str()).collect();
    let direct = rows(
        &app,
        &json!({"filters": [{"column": "product", "op": "not_in", "value": kept}],
                "aggs": [{"fn": "mean", "column": "revenue"}]})
        .to_string(),
    )
    .await;
    let other = drawn(&chart, 0, "other");
    assert!(
        close(other, direct[0][0].as_f64().unwrap()),
        "{other} {direct:?}"
    );
    let naive: f64 = all[5..].iter().map(|(_, v)| v).sum::<f64>() / (all.len() - 5) as f64;
    assert!(!close(other, naive), "the mean of means is not the mean");
}

#[tokio::test]
async fn series_draw_one_line_or_bar_group_each() {
    let (_, app) = router(ServerConfig::default());
    let body = r#"{"group_by": ["month", "year"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#;
    let (status, _, svg) = send(&app, post("/api/chart?series=year", body)).await;
    assert_eq!(status, StatusCode::OK);
    let svg = String::from_utf8(svg).unwrap();
    // One line a year, and its legend's stroke, each in its colour.
    let strokes = |colour: &str| {
        svg.matches(&format!(
            r#"<polyline fill="none" opacity="1" stroke="{colour}" stroke-width="2""#
        ))
        .count()
    };
    for colour in ["#1F77B4", "#FF7F0E", "#2CA02C", "#D62728"] {
        assert_eq!(strokes(colour), 2, "{colour}: {svg}");
    }
    assert_eq!(strokes("#9467BD"), 0, "a fifth line: {svg}");
    for year in 2021..=2024 {
        assert!(has_text(&svg, &year.to_string()), "{year}: {svg}");
    }
    let chart = chart_data(&app, "/api/chart?series=year", body).await;
    assert_eq!(chart["kind"], "line");
    assert_eq!(series_names(&chart), ["2021", "2022", "2023", "2024"]);
    let direct = rows(
        &app,
        r#"{"filters": {"year": 2023, "month": 7}, "aggs": [{"fn": "sum", "column": "revenue"}]}"#,
    )
    .await;
    assert!(close(drawn(&chart, 2, "7"), direct[0][0].as_f64().unwrap()));

    // Bars: more than 8 series fold into "other", by their total.
    let products =
        r#"{"group_by": ["region", "product"], "aggs": [{"fn": "mean", "column": "units"}]}"#;
    let chart = chart_data(&app, "/api/chart?series=product&kind=bar", products).await;
    let names = series_names(&chart);
    assert_eq!(names.len(), 9);
    assert_eq!(names[8], "other");
    let kept = &names[..8];
    let direct = rows(
        &app,
        &json!({"filters": [{"column": "product", "op": "not_in", "value": kept},
                            {"column": "region", "op": "eq", "value": "East"}],
                "aggs": [{"fn": "mean", "column": "units"}]})
        .to_string(),
    )
    .await;
    assert!(close(
        drawn(&chart, 8, "East"),
        direct[0][0].as_f64().unwrap()
    ));
    let (_, _, svg) = send(&app, post("/api/chart?series=product&kind=bar", products)).await;
    let svg = String::from_utf8(svg).unwrap();
    assert!(has_text(&svg, "other") && has_text(&svg, "East"), "{svg}");
}

#[tokio::test]
async fn bad_chart_parameters_are_400() {
    let (_, app) = router(ServerConfig::default());
    let body = r#"{"group_by": ["month", "category"], "aggs": [{"fn": "len"}]}"#;
    let cases = [
        ("/api/chart?kind=pie", "pie"),
        ("/api/chart?colour=red", "unknown chart parameter `colour`"),
        ("/api/chart?series=region", "series `region` is not among"),
        ("/api/chart?series=month", "exactly [x, month]"),
        ("/api/chart?top=0", "positive"),
        ("/api/chart?top=many", "positive"),
        (
            "/api/chart?top=3",
            "`top` needs a query grouped by its x column",
        ),
    ];
    for (path, expected) in cases {
        let (status, _, bytes) = send(&app, post(path, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        let message = json_of(&bytes)["error"].as_str().unwrap().to_owned();
        assert!(message.contains(expected), "{path}: {message}");
    }
    // A long series name is quoted as an excerpt: the message stays short.
    let long = "s".repeat(20_000);
    let (status, _, bytes) = send(&app, post(&format!("/api/chart?series={long}"), body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = json_of(&bytes)["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("is not among") && message.len() < 1024,
        "{} bytes: {}",
        message.len(),
        &message[..200.min(message.len())]
    );
    // The token may ride in the address: not an unknown parameter.
    let (status, _, _) = send(&app, post("/api/chart?token=x&series=category", body)).await;
    assert_eq!(status, StatusCode::OK);
}

const DECLARED: &str = r#"{"title": "Sales",
    "filters": ["category", "channel"],
    "dimensions": ["month", "region", "year"],
    "measures": [{"column": "revenue", "fn": "sum", "label": "Revenue", "format": "$,.0f"},
                 {"column": "revenue", "fn": "mean", "label": "Average order"},
                 {"column": "units", "fn": "max", "label": "Largest order"},
                 {"fn": "len", "label": "Orders"}]}"#;

// Multi-threaded: building the roll-up runs Polars, which blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_dashboard_answers_every_view_without_computing() {
    use polars_query_cache::server::DeclaredDashboard;
    let declared = DeclaredDashboard::from_json(DECLARED).unwrap();
    let cache = CachedQuery::builder()
        .rollups(declared.rollups())
        .build_from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"))
        .unwrap();
    let config = ServerConfig::default()
        .with_dashboard(declared, &cache)
        .unwrap();
    let cache = Arc::new(cache);
    let app = app(Arc::clone(&cache), config);
    let (_, _, bytes) = send(&app, get("/api/schema")).await;
    let schema = json_of(&bytes);
    let dashboard = &schema["dashboard"];
    assert_eq!(dashboard["title"], "Sales");
    assert_eq!(dashboard["declared"], true);
    assert_eq!(dashboard["x"], "month");
    assert_eq!(dashboard["filters"], json!(["category", "channel"]));
    assert_eq!(dashboard["dimensions"], json!(["month", "region", "year"]));
    assert_eq!(dashboard["aggregates"], json!(["sum", "mean", "max"]));
    assert_eq!(dashboard["measures"][0]["format"], "$,.0f");
    assert_eq!(
        dashboard["measures"][3],
        json!({"label": "Orders", "fn": "len"})
    );
    let ranged: Vec<&str> = dashboard["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["column"].as_str().unwrap())
        .collect();
    assert_eq!(
        ranged,
        ["year", "month"],
        "ranges only where the roll-up groups"
    );

    let computations = |bytes: &[u8]| json_of(bytes)["computations"].as_u64().unwrap();
    let (_, _, bytes) = send(&app, get("/api/stats")).await;
    let before = computations(&bytes);

    let measures: Vec<Value> = dashboard["measures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match &m["column"] {
            Value::Null => json!({"fn": "len"}),
            column => json!({"fn": m["fn"], "column": column}),
        })
        .collect();
    let values = |column: &str| -> Vec<Value> {
        schema["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == column)
            .unwrap()["values"]
            .as_array()
            .unwrap()
            .clone()
    };
    let mut views = Vec::new();
    for measure in &measures {
        for x in ["month", "region", "year"] {
            views.push(json!({"group_by": [x], "aggs": [measure]}));
        }
        for filter in ["category", "channel"] {
            for value in values(filter) {
                views.push(
                    json!({"filters": [{"column": filter, "op": "in", "value": [value]}],
                                  "group_by": ["month"], "aggs": [measure]}),
                );
            }
        }
        views.push(
            json!({"filters": [{"column": "category", "op": "in", "value": ["Books", "Toys"]},
                                      {"column": "channel", "op": "in", "value": ["Online"]}],
                          "group_by": ["month", "region"], "aggs": [measure]}),
        );
    }
    for view in &views {
        let (status, _, bytes) = send(&app, post("/api/query", view.to_string())).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_ne!(json_of(&bytes)["source"], "computed", "{view}");
        let (status, _, _) = send(&app, post("/api/chart", view.to_string())).await;
        assert_eq!(status, StatusCode::OK, "{view}");
    }
    // Bars with series and "other" for a mean: the folded rest too.
    let series = r#"{"filters": [{"column": "channel", "op": "in", "value": ["Store"]}],
        "group_by": ["region", "year"], "aggs": [{"fn": "mean", "column": "revenue"}]}"#;
    for path in [
        "/api/chart?series=year&top=2",
        "/api/chart?kind=bar&series=year",
    ] {
        let (status, _, _) = send(&app, post(path, series)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, _, bytes) = send(&app, get("/api/stats")).await;
    assert_eq!(computations(&bytes), before, "{} views", views.len());
    assert!(json_of(&bytes)["derived_hits"].as_u64().unwrap() > 0);
}

#[test]
fn a_declared_dashboard_naming_an_unknown_column_is_refused() {
    use polars_query_cache::server::DeclaredDashboard;
    let typo = DECLARED.replace(r#"["category", "channel"]"#, r#"["catgory", "channel"]"#);
    let declared = DeclaredDashboard::from_json(&typo).unwrap();
    let refused = CachedQuery::builder()
        .rollups(declared.rollups())
        .build_from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("unknown column `catgory`"), "{refused}");
    let refused = declared.check(&sample_cache()).unwrap_err().to_string();
    assert!(
        refused.contains("`catgory`; did you mean `category`?"),
        "{refused}"
    );
    // A cache built without the roll-up would scan on every click.
    let declared = DeclaredDashboard::from_json(DECLARED).unwrap();
    let refused = ServerConfig::default()
        .with_dashboard(declared.clone(), &sample_cache())
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(".rollups(dashboard.rollups())"),
        "{refused}"
    );
    let other_rollup = CachedQuery::builder()
        .rollup(
            polars_query_cache::Query::new()
                .group_by(["category"])
                .len(),
        )
        .build_from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"))
        .unwrap();
    assert!(declared.check(&other_rollup).is_err());
    // A sum of text is refused when the roll-up is built, by its name.
    let text_sum = DECLARED.replace(
        r#"{"column": "units", "fn": "max""#,
        r#"{"column": "region", "fn": "sum""#,
    );
    let declared = DeclaredDashboard::from_json(&text_sum).unwrap();
    let refused = CachedQuery::builder()
        .rollups(declared.rollups())
        .build_from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"))
        .unwrap_err();
    assert!(
        matches!(&refused, polars_query_cache::Error::InvalidAggregate { column, .. } if column == "region"),
        "{refused}"
    );
    // A number format the page and the chart cannot write.
    let format = DECLARED.replace("$,.0f", "$,.0e");
    let refused = DeclaredDashboard::from_json(&format)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("format `$,.0e`") && refused.contains("`$,.0f`"),
        "{refused}"
    );
    let median = DECLARED.replace(r#""fn": "mean""#, r#""fn": "median""#);
    let refused = DeclaredDashboard::from_json(&median)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("`median` cannot be answered from a roll-up"),
        "{refused}"
    );
}

#[cfg(feature = "cli")]
#[test]
fn pqc_serve_refuses_a_dashboard_naming_an_unknown_column() {
    let dir = std::env::temp_dir().join(format!("pqc-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dashboard.json");
    // `pqc serve DATA --dashboard FILE` with `declaration` in FILE: its
    // exit code and what it wrote to stderr.
    let serve = |declaration: String| {
        std::fs::write(&file, declaration).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pqc"))
            .args([
                "serve",
                concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"),
            ])
            .arg("--dashboard")
            .arg(&file)
            .args(["--bind", "127.0.0.1:0"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = serve(DECLARED.replace("\"units\"", "\"unitz\""));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--dashboard") && stderr.contains("`unitz`"),
        "{stderr}"
    );
    // A measure whose aggregate does not apply to its column's type.
    let (code, stderr) = serve(DECLARED.replace(
        r#"{"column": "units", "fn": "max""#,
        r#"{"column": "region", "fn": "sum""#,
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--dashboard") && stderr.contains("`sum` cannot aggregate column `region`"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn null_categories_and_series_are_labelled_null() {
    let frame = df!(
        "shop" => [Some("a"), None, Some("b"), None, Some("a")],
        "kind" => [Some("x"), Some("y"), None, Some("x"), Some("y")],
        "amount" => [1.0, 2.0, 3.0, 4.0, 5.0],
    )
    .unwrap();
    let app = app(
        Arc::new(CachedQuery::from_frame(frame).unwrap()),
        ServerConfig::default(),
    );
    let body = r#"{"group_by": ["shop", "kind"], "aggs": [{"fn": "sum", "column": "amount"}]}"#;
    let chart = chart_data(&app, "/api/chart?series=kind&top=1", body).await;
    assert_eq!(chart["kind"], "bar");
    // `a` (6) is the top one, `null` is never folded, `b` is "other".
    assert_eq!(chart["labels"], json!(["a", "null", "other"]));
    assert_eq!(series_names(&chart), ["x", "y", "null"]);
    assert_eq!(drawn(&chart, 0, "null"), 4.0);
    assert_eq!(drawn(&chart, 2, "other"), 3.0);
    let (status, _, svg) = send(&app, post("/api/chart?series=kind", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(has_text(&String::from_utf8(svg).unwrap(), "null"));
}

/// Review leftovers of the explorer: a null category on a numeric x axis,
/// an answer without rows, a datetime series folded into "other" for an
/// aggregate that does not fold, and the y axis in a declared format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_of_awkward_answers_are_drawn_right() {
    // Twelve hours, one row each: hour h has amount h + 1, shop `a` when
    // that is odd.
    let stamps = Series::new(
        "at".into(),
        (0..12i64)
            .map(|h| 1_710_028_800_000 + h * 3_600_000)
            .collect::<Vec<_>>(),
    )
    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
    .unwrap();
    let n: Vec<Option<i64>> = (0..12).map(|h| (h % 4 != 2).then_some(h % 4)).collect();
    let shop: Vec<&str> = (0..12)
        .map(|h| if h % 2 == 0 { "a" } else { "b" })
        .collect();
    let amount: Vec<f64> = (0..12).map(|h| f64::from(h + 1)).collect();
    let frame = DataFrame::new(
        12,
        vec![
            Series::new("n".into(), n).into(),
            Series::new("shop".into(), shop).into(),
            Series::new("amount".into(), amount).into(),
            stamps.into(),
        ],
    )
    .unwrap();
    let app = app(
        Arc::new(CachedQuery::from_frame(frame).unwrap()),
        ServerConfig::default(),
    );

    // Numeric x: placed by value, unless a category is null.
    let by_n = r#"{"group_by": ["n"], "aggs": [{"fn": "sum", "column": "amount"}]}"#;
    let chart = chart_data(&app, "/api/chart?kind=line", by_n).await;
    assert_eq!(chart["labels"], json!(["0", "1", "3", "null"]));
    assert_eq!(chart["positions"], Value::Null, "{chart}");
    let some = r#"{"filters": [{"column": "n", "op": "is_not_null"}], "group_by": ["n"],
                  "aggs": [{"fn": "sum", "column": "amount"}]}"#;
    let chart = chart_data(&app, "/api/chart?kind=line", some).await;
    assert_eq!(chart["positions"], json!([0.0, 1.0, 3.0]), "{chart}");

    // No rows, with a series: an empty chart, not a refusal.
    let none = r#"{"filters": [{"column": "shop", "op": "eq", "value": "zzz"}],
                  "group_by": ["n", "shop"], "aggs": [{"fn": "sum", "column": "amount"}]}"#;
    let chart = chart_data(&app, "/api/chart?series=shop", none).await;
    assert_eq!(chart["labels"], json!([]));
    assert!(
        chart["title"].as_str().unwrap().ends_with("(no rows)"),
        "{chart}"
    );
    let (status, _, svg) = send(&app, post("/api/chart?series=shop", none)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(svg).unwrap().starts_with("<svg"));

    // A mean by a datetime series: the eight hours of the largest means
    // (amounts 5 to 12) are kept; "other" is the mean of the other four
    // hours' rows, asked of the cache with a `not_in` on `at` (a mean does
    // not fold): shop `a` has amounts 1 and 3 there, `b` 2 and 4.
    let mean = r#"{"group_by": ["shop", "at"], "aggs": [{"fn": "mean", "column": "amount"}]}"#;
    let chart = chart_data(&app, "/api/chart?series=at", mean).await;
    let names = series_names(&chart);
    assert_eq!((names.len(), names[8].as_str()), (9, "other"), "{names:?}");
    assert_eq!(drawn(&chart, 8, "a"), 2.0);
    assert_eq!(drawn(&chart, 8, "b"), 3.0);

    // The y axis in a declared format.
    let (status, _, svg) = send(&app, post("/api/chart?format=%24%2C.2f", by_n)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(svg).unwrap().contains("$"));
    let (status, _, bytes) = send(&app, post("/api/chart?format=%25%25", by_n)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json_of(&bytes)["error"]
            .as_str()
            .unwrap()
            .contains("`$,.0f`")
    );
}

#[tokio::test]
async fn a_chart_with_too_many_points_or_too_large_a_top_is_refused_up_front() {
    let limits = Limits {
        max_in_list: 3,
        max_chart_points: 5,
        ..Limits::default()
    };
    let (_, app) = router(ServerConfig {
        limits,
        ..ServerConfig::default()
    });
    let sum = r#"{"group_by": ["product"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#;
    for (path, needles) in [
        ("/api/chart?top=6", ["`top` 6", "points"]),
        // 4 bars and "other" are 5 points, but a `not_in` of 4 values is
        // over the list limit.
        ("/api/chart?top=4", ["`top` 4", "`not_in`"]),
    ] {
        let (status, _, bytes) = send(&app, chart_json(path, sum)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let error = json_of(&bytes)["error"].as_str().unwrap().to_owned();
        for needle in needles {
            assert!(error.contains(needle), "{path}: {error}");
        }
    }

    // Every row its own category and series: 3000 categories by 9 series
    // drawn is refused before the 9M cells are laid out.
    let n = 3000i64;
    let frame = df!(
        "a" => (0..n).map(|i| format!("a{i}")).collect::<Vec<_>>(),
        "b" => (0..n).map(|i| format!("b{i}")).collect::<Vec<_>>(),
        "y" => vec![1.0; n as usize],
    )
    .unwrap();
    let app = polars_query_cache::server::app(
        Arc::new(CachedQuery::from_frame(frame).unwrap()),
        ServerConfig::default(),
    );
    let body = r#"{"group_by": ["a", "b"], "aggs": [{"fn": "sum", "column": "y"}]}"#;
    let (status, _, bytes) = send(&app, chart_json("/api/chart?series=b&kind=line", body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = json_of(&bytes)["error"].as_str().unwrap().to_owned();
    assert!(error.contains("27000 points"), "{error}");
}

#[tokio::test]
async fn float_categories_and_series_are_never_folded() {
    let frame = df!(
        "x" => [Some(1.0), Some(f64::NAN), Some(2.0), Some(3.0), None, Some(f64::NAN), Some(f64::INFINITY)],
        "amount" => [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
    )
    .unwrap();
    let app = polars_query_cache::server::app(
        Arc::new(CachedQuery::from_frame(frame).unwrap()),
        ServerConfig::default(),
    );
    let mean = r#"{"group_by": ["x"], "aggs": [{"fn": "mean", "column": "amount"}]}"#;
    let direct = rows(&app, mean).await;
    let chart = chart_data(&app, "/api/chart?top=1&kind=bar", mean).await;
    let labels: Vec<&str> = chart["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    // No "other" that a `not_in` would fill with the NaN rows again.
    assert!(!labels.contains(&"other"), "{labels:?}");
    assert_eq!(labels.len(), direct.len(), "{labels:?}");
    for label in ["NaN", "null", "inf"] {
        assert!(labels.contains(&label), "{labels:?}");
    }
    let mut drawn: Vec<f64> = chart["series"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mut asked: Vec<f64> = direct.iter().map(|r| r[1].as_f64().unwrap()).collect();
    drawn.sort_by(f64::total_cmp);
    asked.sort_by(f64::total_cmp);
    assert_eq!(drawn, asked);
    assert_eq!(drawn.iter().sum::<f64>(), 1.0 + 4.0 + 3.0 + 4.0 + 5.0 + 7.0);

    // A float series: NaN and null are two series, not one.
    let frame = df!(
        "shop" => ["a", "a", "a", "b"],
        "kind" => [Some(f64::NAN), None, Some(1.0), Some(f64::NAN)],
        "amount" => [1.0, 2.0, 3.0, 4.0],
    )
    .unwrap();
    let app = polars_query_cache::server::app(
        Arc::new(CachedQuery::from_frame(frame).unwrap()),
        ServerConfig::default(),
    );
    let body = r#"{"group_by": ["shop", "kind"], "aggs": [{"fn": "sum", "column": "amount"}]}"#;
    let chart = chart_data(&app, "/api/chart?series=kind&top=1", body).await;
    assert_eq!(chart["labels"], json!(["a", "b"]));
    let mut names = series_names(&chart);
    names.sort();
    assert_eq!(names, ["1.0", "NaN", "null"]);
    let nan = series_names(&chart)
        .iter()
        .position(|n| n == "NaN")
        .unwrap();
    assert_eq!(drawn_at(&chart, nan, "a"), Some(1.0));
    assert_eq!(drawn_at(&chart, nan, "b"), Some(4.0));
}

fn drawn_at(chart: &Value, series: usize, label: &str) -> Option<f64> {
    let labels = chart["labels"].as_array().unwrap();
    let at = labels.iter().position(|l| l == label).unwrap();
    chart["series"][series]["values"][at].as_f64()
}

#[tokio::test]
async fn an_other_over_infinite_values_is_never_a_finite_number() {
    let frame = df!(
        "shop" => ["a", "b", "c", "d"],
        "amount" => [1.0, 2.0, f64::INFINITY, 5.0],
    )
    .unwrap();
    let app = polars_query_cache::server::app(
        Arc::new(CachedQuery::from_frame(frame).unwrap()),
        ServerConfig::default(),
    );
    let sum = r#"{"group_by": ["shop"], "aggs": [{"fn": "sum", "column": "amount"}]}"#;
    let chart = chart_data(&app, "/api/chart?top=1", sum).await;
    assert_eq!(chart["labels"], json!(["d", "other"]));
    assert_eq!(drawn_at(&chart, 0, "d"), Some(5.0));
    // The folded values hold +inf: not the 3.0 the finite ones add to.
    assert_eq!(drawn_at(&chart, 0, "other"), None, "{chart}");
    assert!(
        chart["title"].as_str().unwrap().contains("left out"),
        "{chart}"
    );
    let (status, _, _) = send(&app, post("/api/chart?top=1", sum)).await;
    assert_eq!(status, StatusCode::OK);
}

fn sql_body(sql: &str) -> String {
    json!({ "sql": sql }).to_string()
}

#[tokio::test]
async fn sql_is_answered_like_a_query_in_select_order() {
    let (cache, app) = router(ServerConfig::default());
    let text = "SELECT SUM(revenue) AS total, month FROM sales \
                WHERE category = 'Books' AND year = 2024 GROUP BY month";
    let (status, _, body) = send(&app, post("/api/sql", sql_body(text))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let by_sql = json_of(&body);
    assert_eq!(by_sql["columns"], json!(["total", "month"]));
    assert_eq!(by_sql["source"], "computed");
    // The JSON twin is the same entry.
    let (_, _, body) = send(&app, post("/api/query", BOOKS_BY_MONTH)).await;
    let by_json = json_of(&body);
    assert_eq!(by_json["source"], "memory");
    let swapped: Vec<Value> = by_json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| json!([row[1], row[0]]))
        .collect();
    assert_eq!(by_sql["rows"], Value::Array(swapped));
    assert_eq!(cache.cache_info().computations, 1);

    // The other encodings, by Accept.
    let csv = Request::post("/api/sql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "text/csv")
        .body(Body::from(sql_body(text)))
        .unwrap();
    let (status, _, body) = send(&app, csv).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .starts_with("total,month\n")
    );

    // The statistics show the entry as SQL that is answered from it.
    let (_, _, body) = send(&app, get("/api/stats")).await;
    let stats = json_of(&body);
    let top = stats["top_queries"][0]["sql"].as_str().unwrap().to_owned();
    assert_eq!(
        top,
        "SELECT month, SUM(revenue) FROM sales WHERE year = 2024 AND category = 'Books' GROUP BY month"
    );
    let (_, _, body) = send(&app, post("/api/sql", sql_body(&top))).await;
    assert_eq!(json_of(&body)["source"], "memory");
}

#[tokio::test]
async fn bad_sql_is_400_with_the_message() {
    let (_, app) = router(ServerConfig::default());
    for (body, needle) in [
        (
            sql_body("SELECT COUNT(*) FROM sales WHERE year = 2024 OR year = 2023"),
            "unsupported SQL at line 1, column 34: OR is not supported",
        ),
        (
            sql_body("SELECT COUNT(*) FROM sales WHERE"),
            "SQL syntax error at line 1, column 33",
        ),
        (
            sql_body("SELECT COUNT(*) FROM orders"),
            "unknown table `orders`; the dataset is called `sales`",
        ),
        (
            sql_body("SELECT COUNT(*) FROM sales WHERE categry = 'Books'"),
            "did you mean `category`?",
        ),
        (
            r#"{"query": "SELECT COUNT(*) FROM sales"}"#.to_owned(),
            "send {\"sql\": \"SELECT ...\"}",
        ),
        ("SELECT COUNT(*) FROM sales".to_owned(), "invalid body"),
    ] {
        let (status, _, bytes) = send(&app, post("/api/sql", body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let error = json_of(&bytes)["error"].as_str().unwrap().to_owned();
        assert!(error.contains(needle), "{body}: {error}");
    }
    // SQL text is not a JSON body: a browser could send it cross-site.
    let plain = Request::post("/api/sql")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("SELECT COUNT(*) FROM sales"))
        .unwrap();
    assert_eq!(
        send(&app, plain).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn sql_has_the_limits_and_the_token_of_query() {
    let (_, app) = router(ServerConfig {
        token: Some("s3cret".to_owned()),
        limits: Limits {
            max_filters: 1,
            max_body_bytes: 2_000,
            ..Limits::default()
        },
        ..ServerConfig::default()
    });
    let text = sql_body("SELECT COUNT(*) FROM sales WHERE year = 2024 AND month = 1");
    let (status, _, body) = send(&app, post("/api/sql", text.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(json_of(&body)["error"].as_str().unwrap().contains("Bearer"));
    let with_token = |body: String| {
        Request::post("/api/sql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, "Bearer s3cret")
            .body(Body::from(body))
            .unwrap()
    };
    let (status, _, body) = send(&app, with_token(text)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("too many filters")
    );
    let (status, _, _) = send(&app, with_token(sql_body("SELECT COUNT(*) FROM sales"))).await;
    assert_eq!(status, StatusCode::OK);
    let huge = sql_body(&format!(
        "SELECT COUNT(*) FROM sales -- {}",
        "x".repeat(5_000)
    ));
    let (status, _, _) = send(&app, with_token(huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
