//! The HTTP handlers.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use polars::prelude::*;
use serde::Deserialize;
use serde_json::{Value as Json_, json};

use super::AppState;
use super::chart::{bar_svg, line_svg};
use super::column_stats::schema_stats;
use super::dashboard::Dashboard;
use super::error::AppError;
use super::plot::{ChartParams, Kind, plot, too_many_points};
use crate::output::{columns_json, rows_json};
use crate::{Frame, Query};

/// The body of `/api/query` and `/api/chart`: a query in its JSON form.
fn parse_query(state: &AppState, body: &Bytes) -> Result<Query, AppError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| AppError::BadRequest("the body is not UTF-8".to_owned()))?;
    let query = Query::from_json(text)?;
    state.limits().check(&query)?;
    Ok(query)
}

/// How a response body is encoded, from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    Csv,
    Arrow,
}

const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

fn encoding(headers: &HeaderMap) -> Encoding {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains(ARROW_STREAM) {
        Encoding::Arrow
    } else if accept.contains("text/csv") {
        Encoding::Csv
    } else {
        Encoding::Json
    }
}

pub async fn query(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let query = parse_query(&state, &body)?;
    let started = Instant::now();
    let frame = state.answer(query).await?;
    respond(&state, &headers, frame, started.elapsed()).await
}

/// The body of `/api/sql`: `{"sql": "SELECT ..."}`. JSON rather than
/// `text/plain`, so that a browser cannot send it from another site
/// without the origin check seeing it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlBody {
    sql: String,
}

pub async fn sql(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let request: SqlBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "invalid body: {}; send {{\"sql\": \"SELECT ...\"}}",
            crate::error::excerpt_quoted(&e.to_string())
        ))
    })?;
    let statement = crate::sql::parse(&request.sql, state.cache().dataset().name())?;
    state.limits().check(&statement.query)?;
    let started = Instant::now();
    let answer = state.answer(statement.query.clone()).await?;
    let frame = statement.present(answer)?;
    respond(&state, &headers, frame, started.elapsed()).await
}

/// An answer in the encoding the `Accept` header asks for, each bounded
/// before it is built: the response of `/api/query` and `/api/sql`.
async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    frame: Frame,
    elapsed: std::time::Duration,
) -> Result<Response, AppError> {
    state
        .metrics()
        .observe_query(frame.source().is_hit(), elapsed);
    let limits = state.limits();
    limits.check_cells(frame.height(), frame.width())?;
    let cells = frame.height().saturating_mul(frame.width());
    match encoding(headers) {
        Encoding::Json => {
            let max = limits.max_json_rows;
            if frame.height() > max {
                return Err(AppError::OverLimit(format!(
                    "the answer has {} rows, more than the {max} a JSON response may hold; add a `limit`, \
                     or ask for text/csv or {ARROW_STREAM}",
                    frame.height()
                )));
            }
            let source = frame.source().name();
            let elapsed_us = elapsed.as_micros() as u64;
            let body = state
                .encode(cells, move || {
                    serde_json::to_vec(&json!({
                        "columns": columns_json(&frame),
                        "rows": rows_json(&frame),
                        "source": source,
                        "elapsed_us": elapsed_us,
                    }))
                    .map_err(|e| AppError::Internal(e.to_string()))
                })
                .await?;
            Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Encoding::Csv => {
            let body = state
                .encode(cells, move || {
                    encoded(&frame, |df, out| CsvWriter::new(out).finish(df))
                })
                .await?;
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
        }
        Encoding::Arrow => {
            let body = state
                .encode(cells, move || {
                    encoded(&frame, |df, out| IpcStreamWriter::new(out).finish(df))
                })
                .await?;
            Ok(([(header::CONTENT_TYPE, ARROW_STREAM)], body).into_response())
        }
    }
}

fn encoded(
    frame: &Frame,
    write: impl FnOnce(&mut DataFrame, &mut Vec<u8>) -> PolarsResult<()>,
) -> Result<Vec<u8>, AppError> {
    let mut df = frame.dataframe().clone();
    let mut body = Vec::new();
    write(&mut df, &mut body).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(body)
}

pub async fn chart(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let params = ChartParams::from_uri(&uri)?;
    let query = parse_query(&state, &body)?;
    // One deadline for the answer, the "other" queries and the drawing.
    let deadline = state.deadline();
    let (plot, kind) = plot(&state, deadline, query, &params).await?;
    let points = plot.points();
    let max = state.limits().max_chart_points;
    if points > max {
        // Checked in `plot` before the layout: kept here as a backstop.
        return Err(too_many_points(points, max));
    }
    // What would be drawn, as numbers: for tooltips, tables and tests.
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        let body = json!({
            "kind": if kind == Kind::Bar { "bar" } else { "line" },
            "title": plot.title,
            "x": plot.x_name,
            "labels": plot.labels,
            // Where each label sits on a numeric x axis; null when evenly
            // spaced.
            "positions": plot.positions,
            "series": plot.series.iter().map(|(name, values)| json!({"name": name, "values": values})).collect::<Vec<_>>(),
        });
        return Ok(Json(body).into_response());
    }
    let svg = state
        .encode_by(
            points,
            move || {
                match kind {
                    Kind::Bar => bar_svg(&plot),
                    Kind::Line | Kind::Auto => line_svg(&plot),
                }
                .map(String::into_bytes)
            },
            deadline,
        )
        .await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

pub async fn schema(State(state): State<AppState>) -> Result<Json<Json_>, AppError> {
    let cache = Arc::clone(state.cache());
    let declared = state.declared().cloned();
    let listing = state
        .compute(move || -> Result<Json_, AppError> {
            let dataset = cache.dataset();
            // One memoized computation per data version for every column.
            let stats = schema_stats(&cache)?;
            let columns: Vec<Json_> = stats
                .iter()
                .map(|c| {
                    let mut entry = json!({
                        "name": c.name, "type": c.kind.name(), "dtype": c.dtype.to_string(),
                        "nulls": c.nulls,
                    });
                    if let Some(distinct) = c.distinct {
                        entry["distinct"] = distinct.into();
                    }
                    if let Some(values) = c.values.as_ref().filter(|v| !v.is_empty()) {
                        entry["values"] = values.iter().map(|v| c.json(v)).collect();
                    }
                    entry
                })
                .collect();
            Ok(json!({
                "rows": dataset.rows(),
                "fingerprint": dataset.fingerprint().to_string(),
                "columns": columns,
                "dashboard": match &declared {
                    Some(declared) => Dashboard::declared(declared, &stats),
                    None => Dashboard::infer(dataset.rows(), &stats),
                },
            }))
        })
        .await?;
    Ok(Json(listing))
}

pub async fn stats(State(state): State<AppState>) -> Result<Json<crate::CacheInfo>, AppError> {
    let cache = Arc::clone(state.cache());
    Ok(Json(state.offload(move || Ok(cache.cache_info())).await?))
}

/// What `/api/invalidate` drops: exactly one of these forms.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invalidate {
    /// One query (and every query equivalent to it).
    query: Option<Json_>,
    /// Every entry that involves this column...
    column: Option<String>,
    /// ...or, with `column`, whose answer may involve rows where the column
    /// holds this value.
    value: Option<Json_>,
    /// Everything.
    #[serde(default)]
    all: bool,
}

/// What one `/api/invalidate` request drops.
enum Target {
    Query(Query),
    Column(String),
    Value(String, crate::Value),
    All,
}

pub async fn invalidate(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Json_>, AppError> {
    let request: Invalidate = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "invalid body: {}",
            crate::error::excerpt_quoted(&e.to_string())
        ))
    })?;
    let target = match request {
        Invalidate {
            query: Some(q),
            column: None,
            value: None,
            all: false,
        } => {
            let query: Query = serde_json::from_value(q).map_err(|e| {
                AppError::BadRequest(format!(
                    "invalid query: {}",
                    crate::error::excerpt_quoted(&e.to_string())
                ))
            })?;
            state.limits().check(&query)?;
            Target::Query(query)
        }
        Invalidate {
            query: None,
            column: Some(column),
            value: None,
            all: false,
        } => Target::Column(column),
        Invalidate {
            query: None,
            column: Some(column),
            value: Some(value),
            all: false,
        } => {
            let value = crate::Value::from_json(value).map_err(AppError::BadRequest)?;
            Target::Value(column, value)
        }
        Invalidate {
            query: None,
            column: None,
            value: None,
            all: true,
        } => Target::All,
        _ => {
            return Err(AppError::BadRequest(
                "send one of {\"query\": {...}}, {\"column\": \"c\"}, {\"column\": \"c\", \"value\": v} or {\"all\": true}"
                    .to_owned(),
            ));
        }
    };
    // Dropping touches every tier (files, Redis): off the async workers.
    let cache = Arc::clone(state.cache());
    let dropped = state
        .offload(move || {
            Ok(match target {
                Target::Query(query) => usize::from(cache.invalidate(&query)?),
                Target::Column(column) => cache.invalidate_column(&column)?,
                Target::Value(column, value) => cache.invalidate_value(&column, value)?,
                Target::All => {
                    let before = cache.cache_info().entries as usize;
                    cache.clear();
                    before
                }
            })
        })
        .await?;
    Ok(Json(json!({ "dropped": dropped })))
}

pub async fn refresh(State(state): State<AppState>) -> Result<Json<Json_>, AppError> {
    state.refresh().await.map(Json)
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    // Rendering reads the cache's statistics: off the async workers.
    let scraped = state.clone();
    let text = state
        .offload(move || {
            scraped
                .metrics()
                .render()
                .map_err(|e| AppError::Internal(format!("encoding the metrics: {e}")))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], text).into_response())
}
