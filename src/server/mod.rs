//! The HTTP API and dashboard page (feature `server`).
//!
//! [`app`] builds the router from a [`CachedQuery`]; tests drive it with
//! `tower::ServiceExt::oneshot`, and [`serve`] runs it on a socket.
//! [`router`] builds it over an [`AppState`] made first, which the Arrow
//! Flight SQL endpoint (`crate::flight`, feature `flight`) can share: one
//! cache, one token, one admission control, and with [`serve_gated`] one
//! [`Gate`] for the connections of both.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the dashboard page |
//! | `POST /api/query` | a query's answer: JSON (`{"columns", "rows", "source", "elapsed_us"}`), or CSV / Arrow IPC by `Accept` |
//! | `POST /api/sql` | the answer to `{"sql": "SELECT ... FROM <dataset> ..."}` (see [`crate::sql`]), in the formats, limits and errors of `/api/query`; columns in `SELECT` order |
//! | `POST /api/chart` | a query's answer as an SVG line or bar chart (`?kind=line\|bar\|auto&series=<column>&top=<n>&format=<spec>`); with `Accept: application/json`, the numbers drawn |
//! | `GET /api/schema` | columns, types, distinct and null counts, values of small columns, the page layout (one memoized computation) |
//! | `GET /api/stats` | the cache statistics (the `pqc --stats` JSON) |
//! | `POST /api/invalidate` | drop a query, a column's entries, a value's, or all |
//! | `POST /api/refresh` | re-read the data file |
//! | `GET /healthz` | `ok` (never needs the token; nor do the page and its assets) |
//! | `GET /metrics` | Prometheus text |
//!
//! Polars work runs on tokio's blocking pool; answers already in memory are
//! served on the async workers directly, so slow misses never stall hits.
//!
//! # One client costs at most its own request
//!
//! - **Admission**: at most [`Limits::max_computations`] answers compute at
//!   once and [`Limits::max_queued`] requests wait for a slot; beyond that a
//!   request gets `429` with `Retry-After` at once (`pqc_http_rejected_total`
//!   in `/metrics`). A request for an answer already being computed waits
//!   for that computation as a future, holding no slot and no thread, and
//!   never longer than [`Limits::timeout`].
//! - **Output bounded before it is built**: aggregates per query, cells per
//!   response in every format, points per chart; large bodies are built on
//!   the blocking pool.
//! - **Connections** ([`serve_with`], [`Connections`], [`Gate`]): a deadline for each
//!   request's headers (which also closes idle keep-alive connections), for
//!   all of its body ([`Limits::body_timeout`]) and for each write of the
//!   answer (a client that stops reading), and caps on open connections,
//!   in all and from one address.
//! - **Bytes in flight**: answers built and not yet sent hold their size in
//!   a budget ([`Limits::max_pending_bytes`]); beyond it, `429`.
//! - **Browsers** ([`OriginPolicy`]): every POST body must be
//!   `application/json` and come from the server's own origin (or an
//!   allowed one); on loopback, only loopback host names are answered (DNS
//!   rebinding).
//! - A panic in a handler is that request's `500`; error messages quote
//!   user text only in short excerpts.
//!
//! # Access log
//!
//! Each response is logged at `DEBUG` (target `tower_http::trace`) with its
//! method, path, status and latency: `pqc -v serve`, or
//! `RUST_LOG=tower_http=debug`. The query string is left out, since it may
//! carry `?token=`.

mod admission;
mod api;
mod body;
mod chart;
mod column_stats;
mod connections;
mod dashboard;
mod declared;
mod error;
mod flights;
mod gate;
mod limits;
mod metrics;
mod number_format;
mod origin;
mod page;
mod plot;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;
use tokio::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub(crate) use connections::WriteDeadline;
pub use connections::{Connections, ctrl_c, serve, serve_gated, serve_with, shutdown_signal};
pub use declared::{DeclaredDashboard, DeclaredMeasure};
pub use error::AppError;
pub use gate::Gate;
pub(crate) use gate::Pass;
pub use limits::Limits;
pub use origin::{LocalAddr, OriginPolicy};

use admission::Admission;
use flights::{Flights, Joined, follow};
use metrics::{Metrics, Scrape};

use crate::normalize::QueryKey;
use crate::{CachedQuery, Frame, Query, Source};

/// How the server runs: limits, an optional bearer token, and what it
/// accepts from browsers.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Request limits.
    pub limits: Limits,
    /// When set, every API route needs `Authorization: Bearer <token>` (or
    /// `?token=<token>`). The page and its assets hold no data and need
    /// none: the page takes the token from the address's fragment
    /// (`/#token=...`), which browsers never send, so it stays out of
    /// access logs.
    pub token: Option<String>,
    /// Origins and host names accepted from browsers.
    pub origins: OriginPolicy,
    /// The page's layout, declared; inferred from the data when `None`.
    /// Set it with [`with_dashboard`](Self::with_dashboard), which checks
    /// that the cache answers every view it offers from memory.
    pub dashboard: Option<DeclaredDashboard>,
}

impl ServerConfig {
    /// Serves `dashboard` as the page's layout, once
    /// [`DeclaredDashboard::check`] finds that `cache` (built with
    /// `.rollups(dashboard.rollups())`) answers all of its views from
    /// memory. See [`DeclaredDashboard`] for an example.
    pub fn with_dashboard(
        mut self,
        dashboard: DeclaredDashboard,
        cache: &CachedQuery,
    ) -> crate::Result<ServerConfig> {
        dashboard.check(cache)?;
        self.dashboard = Some(dashboard);
        Ok(self)
    }
}

/// The state handlers share: one cache, the limits, the counters.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    cache: Arc<CachedQuery>,
    config: ServerConfig,
    /// The digest of `config.token`, compared with the digest of what a
    /// request sends.
    token: Option<blake3::Hash>,
    metrics: Metrics,
    admission: Arc<Admission>,
    /// Answers being computed, with the request that asked first.
    answers: Arc<Flights<QueryKey, (Arc<Query>, Frame)>>,
    refreshes: Arc<Flights<(), serde_json::Value>>,
    /// Turns for work off the async workers that is not a computation:
    /// building large bodies, statistics, invalidation.
    side_work: Arc<tokio::sync::Semaphore>,
    /// The bytes of response bodies not yet sent.
    bodies: Arc<body::Budget>,
}

impl AppState {
    /// State over a cache.
    pub fn new(cache: Arc<CachedQuery>, config: ServerConfig) -> AppState {
        let admission = Arc::new(Admission::new(
            config.limits.max_computations,
            config.limits.max_queued,
        ));
        let side_work = config.limits.max_computations.max(1);
        let bodies = Arc::new(body::Budget::new(config.limits.max_pending_bytes));
        let metrics = Metrics::new(Scrape {
            cache: Arc::clone(&cache),
            admission: Arc::clone(&admission),
            bodies: Arc::clone(&bodies),
        });
        AppState(Arc::new(Inner {
            cache,
            token: config.token.as_deref().map(token_digest),
            config,
            metrics,
            admission,
            answers: Flights::new(),
            refreshes: Flights::new(),
            side_work: Arc::new(tokio::sync::Semaphore::new(side_work)),
            bodies,
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

    /// Whether a token is required.
    pub(crate) fn requires_token(&self) -> bool {
        self.0.token.is_some()
    }

    /// Whether `given` is the token, compared in constant time (a request
    /// needs none when no token is set).
    pub(crate) fn is_token(&self, given: &str) -> bool {
        match &self.0.token {
            Some(token) => same_token(given, token),
            None => true,
        }
    }

    /// The declared dashboard, if any.
    pub(crate) fn declared(&self) -> Option<&DeclaredDashboard> {
        self.0.config.dashboard.as_ref()
    }

    /// The server's metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Answers a query: from memory on this task; else by joining the
    /// computation of an equal query already under way; else by computing
    /// on the blocking pool once admitted. Never waits past the request
    /// timeout (the computation goes on, and its answer is cached).
    pub async fn answer(&self, query: Query) -> Result<Frame, AppError> {
        self.answer_by(query, self.deadline()).await
    }

    /// When a request that starts now must have its answer: one deadline
    /// for everything a request waits on, so a chart that asks three
    /// queries and draws still waits at most the request timeout.
    pub(crate) fn deadline(&self) -> Instant {
        Instant::now() + self.limits().timeout
    }

    /// [`answer`](Self::answer), waiting until `deadline`.
    pub(crate) async fn answer_by(
        &self,
        query: Query,
        deadline: Instant,
    ) -> Result<Frame, AppError> {
        if let Some(frame) = self.cache().get_cached(&query)? {
            return Ok(frame);
        }
        let key = self.cache().key(&query)?;
        let query = Arc::new(query);
        loop {
            match self.0.answers.join(key.clone()) {
                Joined::Follow(receiver) => {
                    match follow(receiver, deadline, &self.still_computing()).await? {
                        // The same request: the leader's answer is ours.
                        Some(Ok((asked, frame))) if *asked == *query => {
                            return Ok(Frame::new(Arc::clone(frame.shared()), Source::Coalesced));
                        }
                        // An equivalent one: ours in our columns, from memory.
                        Some(Ok(_)) => {
                            if let Some(frame) = self.cache().get_cached(&query)? {
                                return Ok(frame);
                            }
                            // Not kept in memory (over the per-entry cap, or
                            // evicted already): compute our own.
                        }
                        Some(Err(e)) => return Err(e),
                        // The leader went away before computing.
                        None => {}
                    }
                }
                Joined::Lead(leader) => {
                    let turn = self.0.admission.admit(deadline, self.retry_after()).await?;
                    let cache = Arc::clone(self.cache());
                    let asked = Arc::clone(&query);
                    let (sender, receiver) = tokio::sync::oneshot::channel();
                    // Detached, so that the computation, its slot and its
                    // followers outlive a client that hangs up.
                    tokio::spawn(async move {
                        let computing = Arc::clone(&asked);
                        let result =
                            tokio::task::spawn_blocking(move || cache.get(&computing)).await;
                        drop(turn);
                        let result = match result {
                            Ok(Ok(frame)) => Ok(frame),
                            Ok(Err(e)) => Err(AppError::from(e)),
                            Err(join) => {
                                Err(AppError::Internal(format!("query task failed: {join}")))
                            }
                        };
                        leader.finish(result.clone().map(|frame| (asked, frame)));
                        let _ = sender.send(result);
                    });
                    return match tokio::time::timeout_at(deadline, receiver).await {
                        Ok(Ok(result)) => result,
                        Ok(Err(_)) => Err(AppError::Internal("the query task vanished".to_owned())),
                        Err(_) => Err(AppError::Timeout(self.still_computing())),
                    };
                }
            }
        }
    }

    /// Runs `work` on the blocking pool once admitted, like a miss: for the
    /// other routes that compute (the schema's distinct values).
    pub(crate) async fn compute<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let deadline = self.deadline();
        let turn = self.0.admission.admit(deadline, self.retry_after()).await?;
        on_blocking_pool(turn, deadline, work, &self.still_computing()).await
    }

    /// Builds a response body on the blocking pool when it is large, so a
    /// big answer does not hold an async worker (and every request queued
    /// on it) while it is serialized.
    pub(crate) async fn encode(
        &self,
        cells: usize,
        build: impl FnOnce() -> Result<Vec<u8>, AppError> + Send + 'static,
    ) -> Result<axum::body::Body, AppError> {
        self.encode_by(cells, build, self.deadline()).await
    }

    /// [`encode`](Self::encode), waiting until `deadline`.
    pub(crate) async fn encode_by(
        &self,
        cells: usize,
        build: impl FnOnce() -> Result<Vec<u8>, AppError> + Send + 'static,
        deadline: Instant,
    ) -> Result<axum::body::Body, AppError> {
        /// Below this many cells a body takes microseconds: build it here.
        const INLINE_CELLS: usize = 4096;
        let bytes = if cells <= INLINE_CELLS {
            build()?
        } else {
            self.offload_by(build, deadline).await?
        };
        self.0.bodies.body(bytes)
    }

    /// Holds `bytes` of the budget of answers not yet sent
    /// ([`Limits::max_pending_bytes`]) until the permit is dropped: a
    /// streamed answer (Flight SQL) counts against the same budget as
    /// HTTP's bodies, so clients that do not read cannot pile answers up.
    pub(crate) fn hold_answer_bytes(
        &self,
        bytes: usize,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        self.0.bodies.hold(bytes)
    }

    /// Runs work that is not a computation (statistics, invalidation,
    /// building a body) on the blocking pool, a few at a time, within the
    /// request timeout: none of it may hold an async worker.
    pub(crate) async fn offload<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        self.offload_by(work, self.deadline()).await
    }

    /// [`offload`](Self::offload), waiting until `deadline`.
    pub(crate) async fn offload_by<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
        deadline: Instant,
    ) -> Result<T, AppError> {
        let turn = tokio::time::timeout_at(deadline, Arc::clone(&self.0.side_work).acquire_owned())
            .await
            .map_err(|_| AppError::Timeout(BUSY.to_owned()))?
            .map_err(|e| AppError::Internal(e.to_string()))?;
        on_blocking_pool(turn, deadline, work, BUSY).await
    }

    /// Re-reads the data once however many ask at once, waiting no longer
    /// than the request timeout.
    pub(crate) async fn refresh(&self) -> Result<serde_json::Value, AppError> {
        let deadline = self.deadline();
        const STILL: &str =
            "the data is still being re-read; its answers are served once it is done";
        loop {
            match self.0.refreshes.join(()) {
                Joined::Follow(receiver) => {
                    if let Some(outcome) = follow(receiver, deadline, STILL).await? {
                        return outcome;
                    }
                }
                Joined::Lead(leader) => {
                    // A re-read is a computation like any other: it takes
                    // a turn, so a loop of refreshes cannot crowd out queries.
                    let turn = self.0.admission.admit(deadline, self.retry_after()).await?;
                    let cache = Arc::clone(self.cache());
                    let (sender, receiver) = tokio::sync::oneshot::channel();
                    tokio::spawn(async move {
                        let outcome = tokio::task::spawn_blocking(move || cache.refresh()).await;
                        drop(turn);
                        let outcome = match outcome {
                            Ok(Ok(o)) => Ok(serde_json::json!({
                                "changed": o.changed(),
                                "old": o.old.to_string(),
                                "new": o.new.to_string(),
                            })),
                            Ok(Err(e)) => Err(AppError::from(e)),
                            Err(join) => Err(AppError::Internal(format!("refresh failed: {join}"))),
                        };
                        leader.finish(outcome.clone());
                        let _ = sender.send(outcome);
                    });
                    return match tokio::time::timeout_at(deadline, receiver).await {
                        Ok(Ok(outcome)) => outcome,
                        Ok(Err(_)) => {
                            Err(AppError::Internal("the refresh task vanished".to_owned()))
                        }
                        Err(_) => Err(AppError::Timeout(STILL.to_owned())),
                    };
                }
            }
        }
    }

    fn still_computing(&self) -> String {
        format!(
            "the answer is still being computed after {:.1} s; it will be cached when done, so ask again shortly",
            self.limits().timeout.as_secs_f64()
        )
    }

    /// How long a refused client should wait: about as long as the queue
    /// ahead of it takes to drain, from the mean computation time.
    fn retry_after(&self) -> Duration {
        let mean = self.0.metrics.mean_miss().unwrap_or(Duration::from_secs(1));
        let admission = &self.0.admission;
        let rounds = 1 + admission.queued() / admission.max_computations();
        let wait = mean.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX));
        wait.clamp(Duration::from_secs(1), Duration::from_secs(60))
    }
}

const BUSY: &str = "the server is busy; try again shortly";

/// Runs `work` on the blocking pool holding `turn` (given back when the
/// work ends, not when the caller stops waiting), waiting until `deadline`.
async fn on_blocking_pool<T: Send + 'static, Turn: Send + 'static>(
    turn: Turn,
    deadline: Instant,
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    still_running: &str,
) -> Result<T, AppError> {
    let task = tokio::task::spawn_blocking(move || {
        let result = work();
        drop(turn);
        result
    });
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(AppError::Internal(format!("task failed: {join}"))),
        Err(_) => Err(AppError::Timeout(still_running.to_owned())),
    }
}

/// The router: every route of the API and the page.
///
/// It is an ordinary [`Router`] with no state left to provide, so it can
/// be merged into an application's own; its token, origin rules and limits
/// apply to its routes only.
///
/// ```
/// use std::sync::Arc;
///
/// use axum::Router;
/// use axum::body::Body;
/// use axum::http::{Request, StatusCode};
/// use axum::routing::get;
/// use polars::df;
/// use polars_query_cache::CachedQuery;
/// use polars_query_cache::server::{self, ServerConfig};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sales = df!("region" => ["North", "South"], "revenue" => [120.0, 80.0])?;
/// let cache = Arc::new(CachedQuery::from_frame(sales)?);
/// let app = Router::new()
///     .route("/version", get(|| async { "1.0" }))
///     .merge(server::app(cache, ServerConfig::default()));
///
/// // On a socket: `server::serve(listener, app).await?`. Here, one request
/// // without one:
/// let query = r#"{"group_by": ["region"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#;
/// let request = Request::post("/api/query")
///     .header("content-type", "application/json")
///     .body(Body::from(query))?;
/// let response = app.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// # Ok(())
/// # }
/// ```
pub fn app(cache: Arc<CachedQuery>, config: ServerConfig) -> Router {
    router(AppState::new(cache, config))
}

/// The router of [`app`] over a state built already, which other
/// endpoints may share: the Flight SQL endpoint
/// ([`crate::flight::serve`]) given a clone of `state` answers from the
/// same cache under the same token, limits and admission control.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(page::index))
        .route("/assets/dashboard.js", get(page::script))
        .route("/assets/dashboard.css", get(page::style))
        .route("/api/query", post(api::query))
        .route("/api/sql", post(api::sql))
        .route("/api/chart", post(api::chart))
        .route("/api/schema", get(api::schema))
        .route("/api/stats", get(api::stats))
        .route("/api/invalidate", post(api::invalidate))
        .route("/api/refresh", post(api::refresh))
        .route("/metrics", get(api::metrics))
        .route("/healthz", get(api::healthz));
    harden(routes, state)
}

/// The layers every route runs inside, innermost first.
///
/// Two limits stay in the crate's own code although tower-http has layers
/// of the same name, because those layers do something else:
///
/// - The body limit and its deadline are one read ([`body::read`]):
///   `RequestBodyLimitLayer` answers an oversized `Content-Length` itself,
///   in plain text and before the guard counts it, and its request-body
///   timeout restarts with every chunk, so a client sending a byte every
///   few seconds would keep its connection for ever.
/// - The request timeout ([`Limits::timeout`]) bounds the wait for an
///   answer, in the queue and computing, not the whole request: the body
///   has its own deadline (`408`), and the answer to a timeout is a `503`
///   with `Retry-After` and a message saying that the computation goes on
///   and will be cached. `TimeoutLayer` gives an empty body from the
///   moment the request arrives.
///
/// Connection limits (headers, writes, counts per address) are in the
/// accept loop ([`serve_with`]), below any layer.
fn harden(routes: Router<AppState>, state: AppState) -> Router {
    routes
        // The guard reads bodies under their own limits.
        .layer(DefaultBodyLimit::disable())
        // A panic in a handler is that request's 500, not a dropped
        // connection; the guard outside it counts it.
        .layer(CatchPanicLayer::custom(|_panic| {
            AppError::Internal("a request handler panicked".to_owned()).into_response()
        }))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        // Outermost, so that refusals are logged with the status sent.
        // Failures are in the log line's status; internal errors log
        // their detail themselves.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(access_span)
                .on_request(())
                .on_failure(()),
        )
        .with_state(state)
}

/// The access log's span: the method and path, never the query string,
/// which may carry the token.
fn access_span(request: &Request) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
}

/// Routes anyone may fetch: no data behind them.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/healthz" | "/assets/dashboard.js" | "/assets/dashboard.css"
    )
}

/// Checks the token, reads the body under its limits, checks the origin
/// rules, and counts error responses.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = match admit(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused.into_response(),
    };
    state.0.metrics.count_status(response.status());
    response
}

async fn admit(state: &AppState, request: Request) -> Result<Request, AppError> {
    let (parts, body) = request.into_parts();
    if let Some(token) = &state.0.token
        && !is_public(parts.uri.path())
        && !authorized(&parts.headers, parts.uri.query(), token)
    {
        return Err(AppError::Unauthorized);
    }
    let limits = state.limits();
    let bytes = body::read(body, limits.max_body_bytes, limits.body_timeout).await?;
    let local = parts.extensions.get::<LocalAddr>().copied();
    state
        .0
        .config
        .origins
        .check(&parts.method, &parts.headers, local, !bytes.is_empty())?;
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// Whether the request carries the token whose digest is `token`.
fn authorized(headers: &axum::http::HeaderMap, query: Option<&str>, token: &blake3::Hash) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(scheme, value)| {
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(value.trim())
        });
    let param = query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
    [bearer, param]
        .into_iter()
        .flatten()
        .any(|given| same_token(given, token))
}

/// Whether `given` is the token whose digest is `token`. Digests have one
/// length whatever was sent, and are compared without stopping at the
/// first difference: response time reveals neither the token's length nor
/// how much of a guess was right.
fn same_token(given: &str, token: &blake3::Hash) -> bool {
    bool::from(token_digest(given).as_bytes().ct_eq(token.as_bytes()))
}

fn token_digest(token: &str) -> blake3::Hash {
    blake3::hash(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        let deep: Vec<&str> = Vec::new();
        deep[1]
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_for_that_request_alone() {
        let frame = polars::df!("n" => [1i64, 2]).unwrap();
        let cache = Arc::new(CachedQuery::from_frame(frame).unwrap());
        let state = AppState::new(cache, ServerConfig::default());
        let routes = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }));
        let app = harden(routes, state.clone());
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let boom = app.clone().oneshot(get("/boom")).await.unwrap();
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let fine = app.oneshot(get("/fine")).await.unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
        let text = state.metrics().render().unwrap();
        assert!(
            text.lines().any(|l| l == "pqc_http_server_errors_total 1"),
            "{text}"
        );
    }
}
