//! The query server inside your own axum app: `server::app` is an ordinary
//! `Router` (the dashboard page, `/api/query`, `/api/stats`, `/metrics`, ...)
//! to merge with your routes, and your handlers can use the same cache.
//!
//! ```sh
//! # serves http://127.0.0.1:3000/ (the dashboard) and /report until Ctrl-C
//! cargo run --release --example axum_embed
//! # starts on a free port, asks itself three questions, stops (what CI runs)
//! cargo run --release --example axum_embed -- --check
//! ```

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use polars_query_cache::server::{self, Connections, ServerConfig};
use polars_query_cache::{CachedQuery, Query};
use tokio::net::TcpListener;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv");

/// A page of this app's own, answered from the shared cache.
async fn report(State(cache): State<Arc<CachedQuery>>) -> Result<String, (StatusCode, String)> {
    let by_region = Query::new()
        .group_by(["region"])
        .sum("revenue")
        .sort_by("sum_revenue", true);
    // A miss runs Polars: on the blocking pool, not on the async workers.
    let frame = tokio::task::spawn_blocking(move || cache.get(&by_region))
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(format!("Revenue by region ({})\n{frame}\n", frame.source()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache = Arc::new(CachedQuery::from_csv(DATA)?);
    let app = Router::new()
        .route("/report", get(report))
        .with_state(Arc::clone(&cache))
        .merge(server::app(Arc::clone(&cache), ServerConfig::default()));

    let check = std::env::args().skip(1).any(|a| a == "--check");
    let listener = TcpListener::bind(if check {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3000"
    })
    .await?;
    let address = listener.local_addr()?;
    if !check {
        println!("http://{address}/ (the dashboard) and http://{address}/report");
        // The crate's accept loop: header, body and write deadlines and
        // connection caps that `axum::serve` does not have.
        server::serve(listener, app).await?;
        return Ok(());
    }

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let running = tokio::spawn(server::serve_with(
        listener,
        app,
        Connections::default(),
        shutdown,
    ));
    let questions = [
        ("GET", "/report", ""),
        (
            "POST",
            "/api/query",
            r#"{"filters": {"year": 2024}, "group_by": ["channel"], "aggs": [{"fn": "len"}]}"#,
        ),
        ("GET", "/api/stats", ""),
    ];
    for (method, path, body) in questions {
        let (status, text) =
            tokio::task::spawn_blocking(move || request(address, method, path, body)).await??;
        let start: Vec<&str> = text.lines().take(12).collect();
        println!("{method} {path}: {status}\n{}\n", start.join("\n"));
        if status != 200 {
            return Err(format!("{method} {path} answered {status}").into());
        }
    }
    let _ = stop.send(());
    running.await??;
    Ok(())
}

/// One HTTP/1.1 request, as curl would send it: (status, body).
fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(address)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_owned()))
}
