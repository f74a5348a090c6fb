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
    /// Most rows in a JSON response (CSV and Arrow are not limited).
    /// Default: 100,000.
    pub max_json_rows: usize,
    /// How long a request may wait for its answer. A computation still
    /// running then goes on and its result is cached. Default: 30 s.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 << 10,
            max_filters: 32,
            max_in_list: 1_000,
            max_group_by: 8,
            max_json_rows: 100_000,
            timeout: Duration::from_secs(30),
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
        for f in &query.filters {
            if let Predicate::In(v) | Predicate::NotIn(v) = &f.predicate
                && v.len() > self.max_in_list
            {
                return over(
                    &format!("too many values in the list on `{}`", f.column),
                    v.len(),
                    self.max_in_list,
                );
            }
        }
        Ok(())
    }
}
