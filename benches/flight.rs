//! A cached 1,000-row answer fetched four ways in one run: Flight SQL
//! `DoGet` (and the full `GetFlightInfo` + `DoGet` round an ADBC client
//! makes), HTTP Arrow IPC (`POST /api/sql`, decoded with Polars), HTTP
//! JSON (decoded with serde_json), all over loopback from Rust against one
//! in-process server, and the same query computed by plain Polars.
//!
//! Run: `cargo bench --bench flight`. `PQC_BENCH_ROWS` sets the table's
//! rows (default 10,000,000, generated on first use).

use std::sync::Arc;
use std::time::Duration;

use arrow_flight::Ticket;
use arrow_flight::sql::client::FlightSqlServiceClient;
use axum::body::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::TryStreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use polars::prelude::*;
use polars_query_cache::flight::{self, FlightConfig};
use polars_query_cache::server::{self, AppState, ServerConfig};
use polars_query_cache::{CachedQuery, Query};
use tonic::transport::{Channel, Endpoint};

mod common;

/// 200 products x 5 regions: exactly 1,000 rows of 4 columns.
const SQL: &str = "SELECT product, region, SUM(revenue) AS revenue, COUNT(*) AS orders \
                   FROM sales GROUP BY product, region";

struct Setup {
    runtime: tokio::runtime::Runtime,
    cache: Arc<CachedQuery>,
    flight: FlightSqlServiceClient<Channel>,
    ticket: Ticket,
    http: Client<HttpConnector, Full<Bytes>>,
    http_url: String,
}

fn setup() -> Setup {
    let rows = common::rows(10_000_000);
    let path = common::csv(rows);
    let cache = Arc::new(
        CachedQuery::builder()
            .name("sales")
            .build_from_csv(&path)
            .expect("load"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let state = AppState::new(Arc::clone(&cache), ServerConfig::default());
    let (flight, ticket, http_url) = runtime.block_on(async {
        let http = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let http_url = format!("http://{}/api/sql", http.local_addr().expect("addr"));
        tokio::spawn(server::serve_with(
            http,
            server::router(state.clone()),
            server::Connections::default(),
            std::future::pending(),
        ));
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = grpc.local_addr().expect("addr");
        tokio::spawn(flight::serve(
            grpc,
            state,
            FlightConfig::default(),
            std::future::pending(),
        ));
        let channel = Endpoint::new(format!("http://{address}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let mut client = FlightSqlServiceClient::new(channel);
        // Computes the answer once; everything timed below is a hit.
        let info = client.execute(SQL.to_owned(), None).await.expect("execute");
        assert_eq!(info.total_records, 1_000);
        let ticket = info.endpoint[0].ticket.clone().expect("ticket");
        (client, ticket, http_url)
    });
    let http = Client::builder(TokioExecutor::new()).build_http();
    Setup {
        runtime,
        cache,
        flight,
        ticket,
        http,
        http_url,
    }
}

async fn post(setup: &Setup, accept: &str) -> Bytes {
    let body = serde_json::json!({ "sql": SQL }).to_string();
    let request = hyper::Request::post(&setup.http_url)
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = setup.http.request(request).await.expect("response");
    assert_eq!(response.status(), 200);
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

fn benches(c: &mut Criterion) {
    let mut setup = setup();
    let mut group = c.benchmark_group("flight_1000_rows");
    group.throughput(Throughput::Elements(1_000));
    group.measurement_time(Duration::from_secs(5));

    group.bench_function("flight_do_get", |b| {
        b.iter(|| {
            setup.runtime.block_on(async {
                let stream = setup
                    .flight
                    .do_get(setup.ticket.clone())
                    .await
                    .expect("do_get");
                let batches: Vec<_> = stream.try_collect().await.expect("batches");
                assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1_000);
            })
        })
    });
    group.bench_function("flight_execute_and_do_get", |b| {
        b.iter(|| {
            setup.runtime.block_on(async {
                let info = setup
                    .flight
                    .execute(SQL.to_owned(), None)
                    .await
                    .expect("execute");
                let ticket = info.endpoint[0].ticket.clone().expect("ticket");
                let stream = setup.flight.do_get(ticket).await.expect("do_get");
                let batches: Vec<_> = stream.try_collect().await.expect("batches");
                assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1_000);
            })
        })
    });
    let setup = &setup;
    group.bench_function("http_arrow_ipc", |b| {
        b.iter(|| {
            let body = setup
                .runtime
                .block_on(post(setup, "application/vnd.apache.arrow.stream"));
            let frame = IpcStreamReader::new(std::io::Cursor::new(body))
                .finish()
                .expect("ipc");
            assert_eq!(frame.height(), 1_000);
        })
    });
    group.bench_function("http_json", |b| {
        b.iter(|| {
            let body = setup.runtime.block_on(post(setup, "application/json"));
            let answer: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(answer["rows"].as_array().map(Vec::len), Some(1_000));
        })
    });
    group.finish();

    let mut baseline = c.benchmark_group("flight_1000_rows_baseline");
    baseline.sample_size(10);
    baseline.measurement_time(Duration::from_secs(10));
    let query = Query::from_sql(SQL, "sales").expect("sql");
    baseline.bench_function("plain_polars", |b| {
        b.iter(|| {
            let frame = setup.cache.get_uncached(&query).expect("compute");
            assert_eq!(frame.height(), 1_000);
        })
    });
    baseline.finish();
}

criterion_group!(flight, benches);
criterion_main!(flight);
