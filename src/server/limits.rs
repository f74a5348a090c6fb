//! What one request may ask of the server.

use std::time::Duration;

use super::error::AppError;
use crate::query::{Predicate, Query};

/// Request limits. Each bounds the work or the memory one request can
/// cause; all are configurable (`pqc serve --help`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body in bytes. Default: 64 KiB.
    pub max_body_bytes: usize,
    /// Most filters in one query. Default: 32.
    pub max_filters: usize,
    /// Most values in one `in` / `not_in` list. Default: 1,000.
    pub max_in_list: usize,
    /// Most group-by columns. Default: 8.
    pub max_group_by: usize,
    /// Most aggregates in one query. Default: 32.
    pub max_aggs: usize,
    /// Most rows in a JSON response. Default: 100,000.
    pub max_json_rows: usize,
    /// Most cells (rows times columns) in any response, JSON, CSV or
    /// Arrow, checked before the body is built. Default: 10,000,000.
    pub max_cells: usize,
    /// Most bytes of response bodies built and not yet sent, together;
    /// beyond them a request gets `429`. Default: 256 MiB.
    pub max_pending_bytes: usize,
    /// Most points in a chart (rows times plotted columns), checked before
    /// it is drawn. Default: 10,000.
    pub max_chart_points: usize,
    /// Most answers computed at once; hits never count. Default: the
    /// number of cores.
    pub max_computations: usize,
    /// Most requests waiting for a computation slot; beyond them a request
    /// gets `429 Too Many Requests` at once. Default: 64.
    pub max_queued: usize,
    /// How long a request may wait for its answer, in the queue and
    /// computing. A computation still running then goes on and its result
    /// is cached. Default: 30 s.
    pub timeout: Duration,
    /// How long a client may take to send a request body. Default: 10 s.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 << 10,
            max_filters: 32,
            max_in_list: 1_000,
            max_group_by: 8,
            max_aggs: 32,
            max_json_rows: 100_000,
            max_cells: 10_000_000,
            max_pending_bytes: 256 << 20,
            max_chart_points: 10_000,
            max_computations: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_queued: 64,
            timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// Checks a query against the limits.
    pub fn check(&self, query: &Query) -> Result<(), AppError> {
        let over = |what: &str, n: usize, max: usize| {
            Err(AppError::OverLimit(format!(
                "{what}: {n}, the limit is {max}"
            )))
        };
        if query.filters.len() > self.max_filters {
            return over("too many filters", query.filters.len(), self.max_filters);
        }
        if query.group_by.len() > self.max_group_by {
            return over(
                "too many group-by columns",
                query.group_by.len(),
                self.max_group_by,
            );
        }
        if query.aggs.len() > self.max_aggs {
            return over("too many aggregates", query.aggs.len(), self.max_aggs);
        }
        for f in &query.filters {
            if let Predicate::In(v) | Predicate::NotIn(v) = &f.predicate
                && v.len() > self.max_in_list
            {
                return over(
                    &format!(
                        "too many values in the list on `{}`",
                        crate::error::excerpt(&f.column)
                    ),
                    v.len(),
                    self.max_in_list,
                );
            }
        }
        Ok(())
    }

    /// Checks an answer's size before a response body is built from it.
    pub fn check_cells(&self, rows: usize, columns: usize) -> Result<(), AppError> {
        let cells = rows.saturating_mul(columns);
        if cells > self.max_cells {
            return Err(AppError::OverLimit(format!(
                "the answer has {rows} rows of {columns} columns, {cells} cells, more than the \
                 {} a response may hold; add a `limit`, filter, or group by fewer columns",
                self.max_cells
            )));
        }
        Ok(())
    }
}
