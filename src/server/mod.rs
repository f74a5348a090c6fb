//! The HTTP API and dashboard page (feature `server`).
//!
//! [`app`] builds the router from a [`CachedQuery`]; tests drive it with
//! `tower::ServiceExt::oneshot`, and [`serve`] runs it on a socket.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the dashboard page |
//! | `POST /api/query` | a query's answer: JSON (`{"columns", "rows", "source", "elapsed_us"}`), or CSV / Arrow IPC by `Accept` |
//! | `POST /api/chart` | a query's answer as an SVG line chart |
//! | `GET /api/schema` | columns, types, distinct values of small columns, the page layout |
//! | `GET /api/stats` | the cache statistics (the `pqc --stats` JSON) |
//! | `POST /api/invalidate` | drop a query, a column's entries, a value's, or all |
//! | `POST /api/refresh` | re-read the data file |
//! | `GET /healthz` | `ok` (never needs the token) |
//! | `GET /metrics` | Prometheus text |
//!
//! Polars work runs on tokio's blocking pool; answers already in memory are
//! served on the async workers directly, so slow misses never stall hits.

mod api;
mod chart;
mod dashboard;
mod error;
mod limits;
mod metrics;
mod page;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use dashboard::{Dashboard, Measure};
pub use error::AppError;
pub use limits::Limits;
pub use metrics::{Histogram, Metrics};

use crate::{CachedQuery, Frame, Query};

/// How the server runs: limits and an optional bearer token.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Request limits.
    pub limits: Limits,
    /// When set, every route but `/healthz` needs `Authorization: Bearer
    /// <token>` (or `?token=<token>`, which the page passes on).
    pub token: Option<String>,
}

/// The state handlers share: one cache, the limits, the counters.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    cache: Arc<CachedQuery>,
    config: ServerConfig,
    metrics: Metrics,
}

impl AppState {
    /// State over a cache.
    pub fn new(cache: Arc<CachedQuery>, config: ServerConfig) -> AppState {
        AppState(Arc::new(Inner {
            cache,
            config,
            metrics: Metrics::default(),
        }))
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<CachedQuery> {
        &self.0.cache
    }

    /// The request limits.
    pub fn limits(&self) -> &Limits {
        &self.0.config.limits
    }

    /// The server's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Answers a query: from memory on this task, else on the blocking pool
    /// within the request timeout.
    pub async fn answer(&self, query: Query) -> Result<Frame, AppError> {
        if let Some(frame) = self.cache().get_cached(&query)? {
            return Ok(frame);
        }
        let cache = Arc::clone(self.cache());
        let timeout = self.limits().timeout;
        let work = tokio::task::spawn_blocking(move || cache.get(&query));
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(result)) => Ok(result?),
            Ok(Err(join)) => Err(AppError::Internal(format!("query task failed: {join}"))),
            Err(_) => Err(AppError::Timeout(format!(
                "the answer is still being computed after {:.1} s; it will be cached when done, so ask again shortly",
                timeout.as_secs_f64()
            ))),
        }
    }
}

/// The router: every route of the API and the page.
pub fn app(cache: Arc<CachedQuery>, config: ServerConfig) -> Router {
    let state = AppState::new(cache, config);
    let body_limit = state.limits().max_body_bytes;
    Router::new()
        .route("/", get(page::index))
        .route("/assets/dashboard.js", get(page::script))
        .route("/assets/dashboard.css", get(page::style))
        .route("/api/query", post(api::query))
        .route("/api/chart", post(api::chart))
        .route("/api/schema", get(api::schema))
        .route("/api/stats", get(api::stats))
        .route("/api/invalidate", post(api::invalidate))
        .route("/api/refresh", post(api::refresh))
        .route("/metrics", get(api::metrics))
        .route("/healthz", get(api::healthz))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Checks the token, turns axum's body-limit rejection into our JSON error,
/// and counts error responses.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.0.config.token
        && request.uri().path() != "/healthz"
        && !authorized(&request, token)
    {
        Counters::client_error(&state);
        return AppError::Unauthorized.into_response();
    }
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() {
        Counters::client_error(&state);
    } else if status.is_server_error() {
        state
            .0
            .metrics
            .server_errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !is_json(&response) {
        return AppError::TooLarge(format!(
            "the request body is over the limit of {} bytes",
            state.limits().max_body_bytes
        ))
        .into_response();
    }
    response
}

struct Counters;

impl Counters {
    fn client_error(state: &AppState) {
        state
            .0
            .metrics
            .client_errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

fn authorized(request: &Request, token: &str) -> bool {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let param = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
    [bearer, param]
        .into_iter()
        .flatten()
        .any(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

/// Compares without stopping at the first difference, so response time
/// does not reveal how much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves `router` on `listener` until Ctrl-C.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await
}
