//! The crate's one error type.
//!
//! Every fallible function returns [`Result<T>`]. Errors caused by the caller
//! (a bad query, a malformed file) say how to fix the problem and answer
//! `true` to [`Error::is_user_error`], so servers can map them to 4xx and
//! command lines to a distinct exit code.
//!
//! Messages quote what the caller wrote, but only an [`excerpt`] of it: a
//! 1 MB column name makes an error of a few hundred bytes, not of 1 MB.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `polars-query-cache`.
///
/// Cloning is cheap: the errors of other crates are held in an [`Arc`], so
/// that every caller waiting on one computation receives its error, of the
/// same variant, as the caller that ran it does.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query names a column the dataset does not have.
    #[error("unknown column `{}`{}; columns: {}", excerpt(.column), did_you_mean(.suggestions), list(.available))]
    UnknownColumn {
        /// The name as the query spelled it.
        column: String,
        /// Existing names close to it, best first.
        suggestions: Vec<String>,
        /// Every column of the dataset.
        available: Vec<String>,
    },

    /// A filter value cannot be read as the column's type.
    #[error("column `{}` holds {expected}, but the filter value {} is not one; {hint}", excerpt(.column), excerpt(.value))]
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
    #[error("`{op}` cannot be used on column `{}` of type {dtype}", excerpt(.column))]
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
    #[error("`{func}` cannot aggregate column `{}` of type {dtype}; {hint}", excerpt(.column))]
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
    #[error("output column `{}` appears twice; give one of them another `alias`", excerpt(.name))]
    AliasClash {
        /// The repeated output name.
        name: String,
    },

    /// A query that is well formed JSON (or built in Rust) but asks for
    /// something that has no meaning.
    #[error("invalid query: {}", excerpt_quoted(.0))]
    InvalidQuery(String),

    /// SQL text the parser cannot read (or too long to try).
    #[error("SQL syntax error{}: {}", at(*.line, *.column), excerpt_quoted(.message))]
    SqlSyntax {
        /// What the parser expected and what it found.
        message: String,
        /// The 1-based line of the error; 0 when not known.
        line: u64,
        /// The 1-based column of the error, in characters; 0 when not known.
        column: u64,
    },

    /// SQL that parses but uses a construct outside the subset that
    /// translates into a [`Query`](crate::Query) (a join, `OR`, a
    /// subquery, ...). Nothing is ever approximated: the message names the
    /// construct, where it is, what to write instead and what is supported.
    #[error("unsupported SQL{}: {} is not supported; {}. {}", at(*.line, *.column), excerpt(.construct), excerpt_quoted(.hint), crate::sql::SUBSET)]
    SqlUnsupported {
        /// The construct, in SQL words (`OR`, `JOIN`, `SELECT *`, the
        /// function `upper`).
        construct: String,
        /// The 1-based line where it starts; 0 when not known.
        line: u64,
        /// The 1-based column where it starts, in characters; 0 when not known.
        column: u64,
        /// What to write instead.
        hint: String,
    },

    /// SQL within the subset that still has no meaning: a column neither
    /// grouped nor aggregated, an ordinal past the end of
    /// the `SELECT` list, a number out of range.
    #[error("invalid SQL{}: {}", at(*.line, *.column), excerpt_quoted(.message))]
    SqlInvalid {
        /// What is wrong and how to fix it.
        message: String,
        /// The 1-based line of the offending part; 0 when not known.
        line: u64,
        /// The 1-based column of the offending part, in characters; 0 when
        /// not known.
        column: u64,
    },

    /// SQL that reads from a table other than the dataset: the only table
    /// there is. A Flight SQL client gets it as `NotFound`.
    #[error("invalid SQL{}: unknown table `{}`; the dataset is called `{}` (FROM {})", at(*.line, *.column), excerpt(.table), excerpt(.dataset), excerpt(&crate::sql::quoted_ident(.dataset)))]
    SqlUnknownTable {
        /// The table the statement names.
        table: String,
        /// The dataset's [name](crate::Dataset::name), the table to name.
        dataset: String,
        /// The 1-based line of the table's name; 0 when not known.
        line: u64,
        /// The 1-based column of the table's name, in characters; 0 when
        /// not known.
        column: u64,
    },

    /// The JSON form of a query could not be read.
    #[error("malformed query JSON: {}", excerpt_quoted(&.0.to_string()))]
    QueryJson(#[source] Arc<serde_json::Error>),

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

    /// A Parquet, Arrow IPC or NDJSON file that cannot be loaded as a
    /// table: damaged, truncated, or not of its format.
    #[error("malformed {format} file `{}`: {message}", .path.display())]
    MalformedFile {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: crate::dataset::Format,
        /// What is wrong with it.
        message: String,
    },

    /// The files of one dataset do not share one schema.
    #[error("`{}` does not match the dataset's first file `{}`: {message}", .path.display(), .first.display())]
    SchemaMismatch {
        /// The file that differs.
        path: PathBuf,
        /// The first file of the set, whose schema the others must have.
        first: PathBuf,
        /// The column that differs.
        column: String,
        /// How it differs.
        message: String,
    },

    /// A scanned dataset's file changed after it was opened: its rows are
    /// no longer those of the fingerprint, so nothing is computed from it
    /// until the cache is refreshed ([`CachedQuery::refresh`](crate::CachedQuery::refresh)).
    #[error("`{}` changed since the dataset was opened; refresh it", .path.display())]
    DataChanged {
        /// The file that changed.
        path: PathBuf,
    },

    /// What a dataset is to be read from names no usable files: an empty
    /// glob or directory, files of several formats, a bad pattern.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A file or directory could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path the operation was on.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// The Redis tier cannot be set up (a bad URL, a refused password).
    /// Once running, Redis failures are never errors: the tier is bypassed.
    #[error("redis: {0}")]
    Redis(String),

    /// Polars failed while computing a result.
    #[error("polars: {0}")]
    Polars(#[source] Arc<polars::error::PolarsError>),

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
                | Error::SqlSyntax { .. }
                | Error::SqlUnsupported { .. }
                | Error::SqlInvalid { .. }
                | Error::SqlUnknownTable { .. }
                | Error::MalformedCsv { .. }
                | Error::MalformedFile { .. }
                | Error::SchemaMismatch { .. }
                | Error::InvalidInput(_)
        )
    }

    /// True when the error is about the query (as opposed to the data file or
    /// the machine): the 400 class of a server.
    pub fn is_query_error(&self) -> bool {
        self.is_user_error()
            && !matches!(
                self,
                Error::MalformedCsv { .. }
                    | Error::MalformedFile { .. }
                    | Error::SchemaMismatch { .. }
                    | Error::InvalidInput(_)
            )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::QueryJson(Arc::new(e))
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        Error::Polars(Arc::new(e))
    }
}

/// At most this many bytes of one piece of user text go into a message.
const EXCERPT_BYTES: usize = 64;

/// At most this many names of a list go into a message.
const LISTED_NAMES: usize = 16;

/// A whole message quoting user text in ways [`excerpt_quoted`] cannot
/// see is cut at this many bytes.
const MESSAGE_BYTES: usize = 512;

/// `text` as quoted in an error message: itself when short, else its first
/// 64 bytes (cut on a character boundary), `…` and its length in bytes.
///
/// Every message that embeds what a caller wrote goes through here, so an
/// error never costs more than a few hundred bytes to build, log or send.
pub(crate) fn excerpt(text: &str) -> Cow<'_, str> {
    cut(text, EXCERPT_BYTES)
}

/// `text` cut to `max` bytes on a character boundary, with `…` and its
/// length in bytes when it was longer.
pub(crate) fn cut(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len()))
}

/// A message from elsewhere (serde's, or one built around user text):
/// every span between backticks or double quotes is cut to an
/// [`excerpt`], then the whole to 512 bytes. serde quotes input that way:
/// "unknown variant `…`", "invalid type: string \"…\"".
pub(crate) fn excerpt_quoted(message: &str) -> Cow<'_, str> {
    if message.len() <= EXCERPT_BYTES {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len().min(4 * MESSAGE_BYTES));
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest.as_bytes()[open];
        out.push_str(&rest[..=open]);
        let inside = &rest[open + 1..];
        let close = closing_quote(inside, quote).unwrap_or(inside.len());
        out.push_str(&excerpt(&inside[..close]));
        // The closing quote (if any) is copied with the next piece.
        rest = &inside[close..];
        if let Some(after) = rest.strip_prefix(quote as char) {
            out.push(quote as char);
            rest = after;
        }
        if out.len() > MESSAGE_BYTES {
            break;
        }
    }
    out.push_str(&cut(rest, MESSAGE_BYTES));
    Cow::Owned(cut(&out, MESSAGE_BYTES).into_owned())
}

/// Where the span opened by `quote` ends in `text`: the next unescaped
/// `quote` (serde escapes quotes inside a quoted string with `\`).
fn closing_quote(text: &str, quote: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Names for a message: each an [`excerpt`], at most 16 of them.
fn list(names: &[String]) -> String {
    let mut shown: Vec<Cow<'_, str>> = names
        .iter()
        .take(LISTED_NAMES)
        .map(|n| excerpt(n))
        .collect();
    if names.len() > LISTED_NAMES {
        shown.push(Cow::Owned(format!(
            "… ({} more)",
            names.len() - LISTED_NAMES
        )));
    }
    shown.join(", ")
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean `{}`?", excerpt(one)),
        many => format!(
            "; did you mean one of {}?",
            many.iter()
                .take(LISTED_NAMES)
                .map(|s| format!("`{}`", excerpt(s)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Where in a SQL text: ` at line 1, column 8`, or nothing when not known.
fn at(line: u64, column: u64) -> String {
    if line == 0 {
        return String::new();
    }
    format!(" at line {line}, column {column}")
}

fn at_line(line: Option<u64>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

/// The message a panic carried (`panic!("...")` gives a `&str` or a
/// `String`), for the error that takes its place.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_quoted_whole() {
        assert_eq!(excerpt("category"), "category");
        assert_eq!(
            excerpt_quoted("unknown variant `eqq`"),
            "unknown variant `eqq`"
        );
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary_with_its_length() {
        let text = format!("{}{}", "a".repeat(63), "é".repeat(1000));
        let cut = excerpt(&text);
        assert_eq!(cut, format!("{}… (2063 bytes)", "a".repeat(63)));
    }

    #[test]
    fn quoted_spans_are_cut_and_the_rest_kept() {
        let long = "x".repeat(10_000);
        let message =
            format!("unknown variant `{long}`, expected one of `eq`, `ne` at line 1 column 10020");
        let cut = excerpt_quoted(&message);
        assert!(cut.len() < 200, "{cut}");
        assert!(cut.starts_with("unknown variant `xxx"), "{cut}");
        assert!(
            cut.ends_with("… (10000 bytes)`, expected one of `eq`, `ne` at line 1 column 10020"),
            "{cut}"
        );
        // An escaped quote does not end a double-quoted span.
        let message = format!("invalid type: string \"a\\\"{long}\", expected a sequence");
        let cut = excerpt_quoted(&message);
        assert!(cut.ends_with("bytes)\", expected a sequence"), "{cut}");
        // Unquoted or unbalanced text is still bounded.
        assert!(excerpt_quoted(&long).len() <= 600);
        assert!(excerpt_quoted(&format!("`{long}")).len() <= 600);
        assert!(excerpt_quoted(&"`a` ".repeat(10_000)).len() <= 600);
    }

    #[test]
    fn lists_are_bounded() {
        let names: Vec<String> = (0..1000).map(|i| format!("column_{i}")).collect();
        let e = Error::UnknownColumn {
            column: "y".repeat(1 << 20),
            suggestions: vec!["z".repeat(1 << 20); 3],
            available: names,
        };
        let message = e.to_string();
        assert!(message.len() < 1024, "{message}");
        assert!(message.contains("… (984 more)"), "{message}");
    }
}
