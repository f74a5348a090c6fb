//! Arrow Flight SQL over the cache, from Rust on both ends: the HTTP API and
//! a Flight SQL endpoint on one shared state (one cache, one token, one
//! connection gate), then a `FlightSqlServiceClient` that does what ADBC's
//! driver does: handshake, `GetFlightInfo`, `DoGet`, and a prepared
//! statement. The answer arrives as arrow-rs record batches.
//!
//! ```sh
//! cargo run --release --example flight_sql
//! ```

use std::sync::Arc;

use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use polars_query_cache::server::{self, AppState, Connections, Gate, ServerConfig};
use polars_query_cache::{CachedQuery, flight};
use tokio::net::TcpListener;
use tonic::transport::Endpoint;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv");
const SQL: &str = "SELECT category, SUM(revenue) AS revenue, COUNT(*) AS orders FROM sales \
                   WHERE year = 2024 GROUP BY category ORDER BY revenue DESC";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache = Arc::new(CachedQuery::from_csv(DATA)?);
    let config = ServerConfig {
        token: Some("s3cret".into()),
        ..ServerConfig::default()
    };
    let state = AppState::new(Arc::clone(&cache), config);
    let connections = Connections::default();
    let gate = Gate::new(&connections);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        rx.wait_for(|s| *s).await.ok();
    };

    let http = TcpListener::bind("127.0.0.1:0").await?;
    let grpc = TcpListener::bind("127.0.0.1:0").await?;
    let (http_address, grpc_address) = (http.local_addr()?, grpc.local_addr()?);
    let http = tokio::spawn(server::serve_gated(
        http,
        server::router(state.clone()),
        connections.clone(),
        gate.clone(),
        stopped(stopping.clone()),
    ));
    let flight_config = flight::FlightConfig {
        connections,
        gate: Some(gate),
        ..flight::FlightConfig::default()
    };
    let grpc = tokio::spawn(flight::serve(grpc, state, flight_config, stopped(stopping)));
    println!("HTTP on http://{http_address}/, Flight SQL on grpc://{grpc_address}");

    let channel = Endpoint::new(format!("http://{grpc_address}"))?
        .connect()
        .await?;
    let mut client = FlightSqlServiceClient::new(channel);
    client.handshake("example", "s3cret").await?;

    let info = client.execute(SQL.to_owned(), None).await?;
    let ticket = info.endpoint[0].ticket.clone().ok_or("no ticket")?;
    let batches: Vec<_> = client.do_get(ticket).await?.try_collect().await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    println!(
        "{rows} categories, columns {:?}",
        batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
    );

    // A prepared statement: the handle is the statement, the answer the
    // same cache entry.
    let mut prepared = client.prepare(SQL.to_owned(), None).await?;
    let info = prepared.execute().await?;
    let ticket = info.endpoint[0].ticket.clone().ok_or("no ticket")?;
    let again: Vec<_> = client.do_get(ticket).await?.try_collect().await?;
    assert_eq!(again, batches);
    prepared.close().await?;

    let stats = cache.cache_info();
    println!("computations: {}, hits: {}", stats.computations, stats.hits);
    assert_eq!(stats.computations, 1, "one entry for every call");

    stop.send_replace(true);
    http.await??;
    grpc.await??;
    Ok(())
}
