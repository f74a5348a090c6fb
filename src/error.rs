//! The crate's one error type.
//!
//! Every fallible function returns [`Result<T>`]. Errors caused by the caller
//! (a bad query, a malformed file) say how to fix the problem and answer
//! `true` to [`Error::is_user_error`], so servers can map them to 4xx and
//! command lines to a distinct exit code.

use std::path::PathBuf;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `polars-query-cache`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query names a column the dataset does not have.
    #[error("unknown column `{column}`{}; columns: {}", did_you_mean(.suggestions), .available.join(", "))]
    UnknownColumn {
        /// The name as the query spelled it.
        column: String,
        /// Existing names close to it, best first.
        suggestions: Vec<String>,
        /// Every column of the dataset.
        available: Vec<String>,
    },

    /// A filter value cannot be read as the column's type.
    #[error("column `{column}` holds {expected}, but the filter value {value} is not one; {hint}")]
    WrongValueType {
        /// The filtered column.
        column: String,
        /// What the column holds, in words ("integers", "dates").
        expected: &'static str,
        /// The offending value as the query gave it.
        value: String,
        /// How to write a value that fits.
        hint: &'static str,
    },

    /// An operator that the column's type does not support (`lt` on a
    /// boolean column, say).
    #[error("`{op}` cannot be used on column `{column}` of type {dtype}")]
    InvalidOperator {
        /// The operator, as in the JSON form.
        op: &'static str,
        /// The filtered column.
        column: String,
        /// The column's type.
        dtype: String,
    },

    /// An aggregate that the column's type does not support (`sum` of
    /// strings, say).
    #[error("`{func}` cannot aggregate column `{column}` of type {dtype}; {hint}")]
    InvalidAggregate {
        /// The aggregate function, as in the JSON form.
        func: &'static str,
        /// The aggregated column.
        column: String,
        /// The column's type.
        dtype: String,
        /// What would work instead.
        hint: &'static str,
    },

    /// Two output columns would have the same name.
    #[error("output column `{name}` appears twice; give one of them another `alias`")]
    AliasClash {
        /// The repeated output name.
        name: String,
    },

    /// A query that is well formed JSON (or built in Rust) but asks for
    /// something that has no meaning.
    #[error("invalid query: {0}")]
    InvalidQuery(String),

    /// The JSON form of a query could not be read.
    #[error("malformed query JSON: {0}")]
    QueryJson(#[from] serde_json::Error),

    /// A CSV file that cannot be loaded as a table.
    #[error("malformed CSV `{}`{}: {message}", .path.display(), at_line(*.line))]
    MalformedCsv {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the first bad record, when it could be found.
        line: Option<u64>,
        /// What is wrong with it.
        message: String,
    },

    /// A file or directory could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path the operation was on.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The Redis tier cannot be set up (a bad URL, a refused password).
    /// Once running, Redis failures are never errors: the tier is bypassed.
    #[error("redis: {0}")]
    Redis(String),

    /// Polars failed while computing a result.
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),

    /// A computation registered with [`memoize`](crate::CachedQuery::memoize)
    /// failed, or the cache could not complete a request it had started (a
    /// panic in a computation, say). The message is the original one.
    #[error("computation failed: {0}")]
    Compute(String),
}

impl Error {
    /// True when the caller can fix the error by changing the query or the
    /// input file; false for I/O and internal failures.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query};
    /// # let df = polars::df!("year" => [2023i64, 2024])?;
    /// let cache = CachedQuery::from_frame(df)?;
    /// let err = cache.get(&Query::new().eq("yaer", 2024).len()).unwrap_err();
    /// assert!(err.is_user_error());
    /// assert!(err.to_string().contains("did you mean `year`?"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::UnknownColumn { .. }
                | Error::WrongValueType { .. }
                | Error::InvalidOperator { .. }
                | Error::InvalidAggregate { .. }
                | Error::AliasClash { .. }
                | Error::InvalidQuery(_)
                | Error::QueryJson(_)
                | Error::MalformedCsv { .. }
        )
    }

    /// True when the error is about the query (as opposed to the data file or
    /// the machine): the 400 class of a server.
    pub fn is_query_error(&self) -> bool {
        self.is_user_error() && !matches!(self, Error::MalformedCsv { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A copy for the other callers that waited on the same computation.
    /// Errors that cannot be cloned keep their kind where possible and their
    /// message always.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Error::UnknownColumn {
                column,
                suggestions,
                available,
            } => Error::UnknownColumn {
                column: column.clone(),
                suggestions: suggestions.clone(),
                available: available.clone(),
            },
            Error::InvalidQuery(m) => Error::InvalidQuery(m.clone()),
            Error::Redis(m) => Error::Redis(m.clone()),
            Error::Io { path, source } => Error::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Error::MalformedCsv {
                path,
                line,
                message,
            } => Error::MalformedCsv {
                path: path.clone(),
                line: *line,
                message: message.clone(),
            },
            Error::Polars(e) => Error::Compute(format!("polars: {e}")),
            other => Error::Compute(other.to_string()),
        }
    }
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        many => format!(
            "; did you mean one of {}?",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn at_line(line: Option<u64>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}
