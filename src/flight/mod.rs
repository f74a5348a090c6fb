//! Arrow Flight SQL (feature `flight`): every cached answer reachable from
//! ADBC, JDBC and `pyarrow.flight` clients, in Arrow.
//!
//! [`serve`] runs a Flight SQL endpoint over the same [`AppState`] as the
//! HTTP API (`pqc serve --flight 127.0.0.1:50051`), so both answer from
//! one cache, under one token, one set of [`Limits`] and one admission
//! control:
//!
//! - **Statements** go through the [SQL front end](crate::sql) and the
//!   cache: a statement and its JSON twin sent to `/api/query` are one key,
//!   one entry, one computation. `GetFlightInfo` answers the statement
//!   (from memory when it can; else computed once admitted) and hands out a
//!   ticket that is the statement itself; `DoGet` derives the answer again
//!   from the cache (a lookup) and streams it as Arrow record batches,
//!   handed over from the cached Polars frame through the Arrow C data
//!   interface without copying its buffers. Categorical columns arrive as
//!   their values (dictionaries hydrated), which every client reads.
//! - **Prepared statements** without parameters: their handle is the
//!   statement too, so the server keeps nothing per statement. One with a
//!   parameter (`?`, `$1`) is refused when it is prepared.
//! - **Metadata**: `GetSqlInfo`, `GetCatalogs`, `GetDbSchemas`,
//!   `GetTables` (with each table's Arrow schema when asked) and
//!   `GetTableTypes`. The dataset is listed as table `<name>` in catalog
//!   `pqc`, schema `main`; SQL names it alone (`FROM sales`).
//! - **The token** of [`ServerConfig::token`](crate::server::ServerConfig::token),
//!   compared in constant time: every call but the handshake needs
//!   `authorization: Bearer <token>`; the handshake takes basic
//!   authentication with the token as the password (any user name) and
//!   answers with that header, as ADBC and JDBC clients expect.
//!
//! # Status codes
//!
//! | what | code |
//! | --- | --- |
//! | SQL that does not parse, is outside the subset or means nothing; a bad query (unknown column, wrong value type); a forged ticket or handle; a prepared statement with parameters | `InvalidArgument`, with the front end's message (the construct and its line and column) |
//! | another table than the dataset | `NotFound` |
//! | no token or a wrong one | `Unauthenticated` |
//! | every computation slot and queue place taken (HTTP's `429`); a query or answer over a [limit](Limits) | `ResourceExhausted` |
//! | the answer still computing at the request timeout (it goes on and is cached: ask again) | `Unavailable` |
//! | updates, ingestion, transactions, Substrait, cancellation, `DoExchange` | `Unimplemented` |
//! | anything else | `Internal`, logged with its detail; the client gets none |
//!
//! # One client costs at most its own request
//!
//! Each statement is checked against the [`Limits`] of the HTTP API: the
//! SQL text against [`Limits::max_body_bytes`] (gRPC messages too, a
//! little above it), the query against the filter, list, group-by and
//! aggregate caps, the answer against [`Limits::max_cells`] before it is
//! sent. Misses take a computation slot like HTTP's (hits never wait);
//! connections count against the [`Gate`] the HTTP server uses when one is
//! shared ([`FlightConfig::gate`]); a connection must send its first bytes
//! within [`Connections::header_timeout`], loses a write that makes no
//! progress for [`Connections::write_timeout`], holds at most
//! [`FlightConfig::max_streams_per_connection`] calls at once, and is
//! closed gracefully after [`FlightConfig::max_connection_age`] (clients
//! reconnect). A panic in a call is that call's `Internal`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use arrow_flight::sql::client::FlightSqlServiceClient;
//! use futures::TryStreamExt;
//! use polars_query_cache::server::{AppState, ServerConfig};
//! use polars_query_cache::{CachedQuery, flight};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = Arc::new(CachedQuery::from_csv("data/sales.csv")?);
//! let config = ServerConfig { token: Some("s3cret".into()), ..ServerConfig::default() };
//! let state = AppState::new(cache, config);
//! // `server::router(state.clone())` would serve HTTP from the same state.
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let address = listener.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(flight::serve(listener, state, flight::FlightConfig::default(), async {
//!     stopped.await.ok();
//! }));
//!
//! // A client, as ADBC's driver does it: handshake, then the statement.
//! let channel = tonic::transport::Endpoint::new(format!("http://{address}"))?.connect().await?;
//! let mut client = FlightSqlServiceClient::new(channel);
//! client.handshake("anyone", "s3cret").await?;
//! let info = client
//!     .execute("SELECT region, COUNT(*) AS orders FROM sales GROUP BY region".into(), None)
//!     .await?;
//! let ticket = info.endpoint[0].ticket.clone().expect("a ticket");
//! let batches: Vec<_> = client.do_get(ticket).await?.try_collect().await?;
//! assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
//! assert_eq!(batches[0].schema().field(1).name(), "orders");
//!
//! stop.send(()).ok();
//! server.await??;
//! # Ok(())
//! # }
//! ```
//!
//! From Python (`pip install adbc-driver-flightsql polars pyarrow`), with
//! `pqc serve --flight 127.0.0.1:50051 --token s3cret`:
//!
//! ```python
//! import adbc_driver_flightsql.dbapi as flightsql
//! import polars as pl
//!
//! with flightsql.connect("grpc://127.0.0.1:50051",
//!                        db_kwargs={"username": "pqc", "password": "s3cret"}) as conn:
//!     df = pl.read_database("SELECT category, SUM(revenue) AS revenue FROM sales GROUP BY category", conn)
//! ```

mod auth;
mod guard;
mod listener;
mod metadata;
mod service;
mod statement;
mod status;
mod ticket;

use std::future::Future;
use std::io;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use tokio::net::TcpListener;
use tonic::Status;
use tonic::codegen::http;
use tonic::transport::Server;
use tower_http::catch_panic::CatchPanicLayer;

#[cfg(doc)]
use crate::server::Limits;
use crate::server::{AppState, Connections, Gate};

/// How the Flight SQL endpoint holds its connections; its request limits
/// and token are those of the [`AppState`] it serves.
#[derive(Debug, Clone)]
pub struct FlightConfig {
    /// Timeouts: the first bytes of a connection within `header_timeout`,
    /// each write within `write_timeout` (also how long a keep-alive ping
    /// may go unanswered), open calls given `shutdown_grace` at shutdown.
    /// Without a [`gate`](Self::gate), also the connection caps.
    /// Default: [`Connections::default`].
    pub connections: Connections,
    /// The gate to count connections against: a clone of the HTTP
    /// server's ([`serve_gated`](crate::server::serve_gated)) puts both
    /// endpoints under one cap. Default: `None`, a gate of its own.
    pub gate: Option<Gate>,
    /// Most calls open at once on one connection (HTTP/2 streams).
    /// Default: 64.
    pub max_streams_per_connection: u32,
    /// How long a connection stays open before it is closed gracefully
    /// (clients reconnect), which bounds idle ones. Default: 10 min.
    pub max_connection_age: Duration,
}

impl Default for FlightConfig {
    fn default() -> Self {
        FlightConfig {
            connections: Connections::default(),
            gate: None,
            max_streams_per_connection: 64,
            max_connection_age: Duration::from_secs(600),
        }
    }
}

/// How often an idle connection is pinged, to find peers that went away.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// Room for a request's protobuf envelope around its SQL text.
const ENVELOPE_BYTES: usize = 16 << 10;

/// The largest message sent: answers are split into messages of about
/// 2 MiB, so only a single row wider than this could need more.
const MAX_SENT_BYTES: usize = 64 << 20;

/// Serves Flight SQL over `state` on `listener` until `shutdown`
/// completes, then lets open calls finish for the
/// [shutdown grace](Connections::shutdown_grace).
///
/// Give it a clone of the [`AppState`] that the HTTP router serves
/// ([`router`](crate::server::router)), and a clone of its [`Gate`], to put
/// both endpoints on one cache and one set of limits.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    config: FlightConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let max_received = state.limits().max_body_bytes.saturating_add(ENVELOPE_BYTES);
    let gate = config
        .gate
        .clone()
        .unwrap_or_else(|| Gate::new(&config.connections));
    let grace = config.connections.shutdown_grace;
    let service = FlightServiceServer::new(guard::Guarded(service::FlightSql::new(state)))
        .max_decoding_message_size(max_received)
        .max_encoding_message_size(MAX_SENT_BYTES);
    let incoming = listener::incoming(listener, gate, config.connections.clone());
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        stopping.send(()).ok();
    };
    let serving = Server::builder()
        .layer(CatchPanicLayer::custom(panicked))
        .http2_keepalive_interval(Some(KEEPALIVE))
        .http2_keepalive_timeout(Some(config.connections.write_timeout))
        .max_concurrent_streams(Some(config.max_streams_per_connection.max(1)))
        // Age alone: tonic then sends GOAWAY and lets open calls finish.
        // With a grace period it only kills the connection at age + grace
        // (no GOAWAY), cutting answers mid-stream.
        .max_connection_age(config.max_connection_age)
        .http2_max_header_list_size(16 << 10)
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(serving);
    let out_of_grace = async {
        if stopped.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = &mut serving => served.map_err(io::Error::other),
        () = out_of_grace => {
            tracing::warn!("flight: open calls did not finish within the shutdown grace period");
            Ok(())
        }
    }
}

/// A panic in a call: that call's `Internal`, not its connection's end.
fn panicked(_panic: Box<dyn std::any::Any + Send + 'static>) -> http::Response<tonic::body::Body> {
    tracing::error!("flight: a call panicked");
    Status::internal("internal error; see the server log").into_http()
}
