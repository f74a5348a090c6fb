//! SQL text to [`Query`], and back: a subset of SQL for the people and
//! tools that already speak it.
//!
//! A SQL statement is translated into the crate's own query model, so it
//! goes through the same normalization, tiers and derived answers as a
//! query built in Rust or read from JSON: a SQL query and its JSON twin
//! have one key, one entry, one computation.
//!
//! ```
//! use polars_query_cache::{CachedQuery, Query, sql};
//!
//! let cache = CachedQuery::from_csv("data/sales.csv")?;
//! let text = "SELECT SUM(revenue) AS total, month FROM sales \
//!             WHERE category = 'Books' AND year IN (2023, 2024) \
//!             GROUP BY month ORDER BY total DESC LIMIT 3";
//! let answer = cache.sql(text)?;
//! // The columns in SELECT order, under their SQL names.
//! assert_eq!(answer.get_column_names(), ["total", "month"]);
//! assert_eq!(answer.height(), 3);
//!
//! // The same question as a `Query`: the same cache entry.
//! let parsed = sql::parse(text, "sales")?;
//! let built = Query::new().eq("category", "Books").is_in("year", [2023, 2024])
//!     .group_by(["month"]).agg(polars_query_cache::Agg::new(polars_query_cache::AggFn::Sum, "revenue").alias("total"))
//!     .sort_by("total", true).limit(3);
//! assert_eq!(parsed.query, built);
//! assert_eq!(cache.get(&built)?.source(), polars_query_cache::Source::Memory);
//!
//! // And back to SQL.
//! assert_eq!(
//!     built.to_sql("sales"),
//!     "SELECT month, SUM(revenue) AS total FROM sales \
//!      WHERE category = 'Books' AND year IN (2023, 2024) \
//!      GROUP BY month ORDER BY total DESC LIMIT 3"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The subset
//!
//! | clause | what it takes |
//! | --- | --- |
//! | `SELECT` | group-by columns and aggregates, each with an optional `AS name`, in any order: `COUNT(*)`, `COUNT(col)`, `COUNT(DISTINCT col)`, `SUM`, `AVG`, `MIN`, `MAX`, `MEDIAN`, `STDDEV_SAMP` (or `STDDEV`), `VAR_SAMP` (or `VARIANCE`), and the crate's `FIRST` and `LAST` (the first and last non-null value in file order) |
//! | `FROM` | the dataset, by its [name](crate::Dataset::name) (a column may be qualified with it: `sales.year`) |
//! | `WHERE` | comparisons (`=`, `<>`, `!=`, `<`, `<=`, `>`, `>=`) of a column with a literal on either side, `IN (...)`, `NOT IN (...)`, `BETWEEN ... AND ...`, `IS NULL`, `IS NOT NULL`, joined by `AND`, in parentheses or not |
//! | `GROUP BY` | columns, or ordinals of the `SELECT` list (`GROUP BY 1, 2`), or `ALL` |
//! | `ORDER BY` | output columns (by name or alias), ordinals, or an aggregate of the `SELECT` list, each `ASC` or `DESC` |
//! | `LIMIT` | a whole number |
//!
//! Literals are numbers, `'text'` (dates are written as text,
//! `'2024-03-31'`), `TRUE` and `FALSE`. Identifiers are matched as they
//! are spelled (quoted or not, `"Order Date"` for names that need it).
//!
//! Semantics are the crate's, which follow SQL: a comparison with null is
//! never true, nulls group together, aggregates skip nulls. Rows come in
//! the `ORDER BY` order, then by the `GROUP BY` columns, ascending; nulls
//! sort last in either direction (as DuckDB does; `NULLS LAST` may be
//! written, `NULLS FIRST` is refused). A column in `GROUP BY` need not be
//! selected; a column selected must be grouped.
//!
//! Everything else is an [`Error::SqlUnsupported`]
//! naming the construct and where it is (joins, `OR`, `NOT`, expressions,
//! `HAVING`, subqueries, window functions, `SELECT *`, `DISTINCT`,
//! `OFFSET`, several statements, ...): nothing is approximated. Text that
//! does not parse is an [`Error::SqlSyntax`];
//! SQL that parses but means nothing (an ungrouped column) an
//! [`Error::SqlInvalid`], and another table than the dataset an
//! [`Error::SqlUnknownTable`]. Positions are
//! sqlparser's spans: the line and column (in characters, from 1) where
//! the offending part starts, which for some constructs is inside them (a
//! join at its table, `NOT` at its operand).
//!
//! # Limits
//!
//! Text longer than [`MAX_SQL_BYTES`] is refused unread; so is nesting
//! deeper than [`MAX_DEPTH`] and more than [`MAX_OPERATORS`] operators and
//! keywords, so that hostile text costs a bounded amount of stack and time.

mod aggregate;
mod column;
mod filter;
mod literal;
mod parse;
mod refuse;
mod render;
mod select;

use std::sync::Arc;

use polars::prelude::DataFrame;

use crate::frame::Frame;
use crate::query::Query;
use crate::{Error, Result};

pub(crate) use render::canonical_sql;

/// `name` as SQL writes it: bare when it can be, else in double quotes.
pub(crate) fn quoted_ident(name: &str) -> String {
    render::ident(name)
}

/// The longest SQL text read: 256 KiB.
pub const MAX_SQL_BYTES: usize = 256 << 10;

/// The deepest nesting of parentheses read.
pub const MAX_DEPTH: usize = 32;

/// The most operators and keywords one statement may hold (each `AND`,
/// `=`, `IN`, `BETWEEN`, ...; values in a list and commas do not count):
/// an `AND` chain is a tree as deep as it is long.
pub const MAX_OPERATORS: usize = 1024;

/// What [`Error::SqlUnsupported`] says is
/// supported.
pub(crate) const SUBSET: &str = "Supported: SELECT group columns and aggregates \
    (COUNT(*), COUNT([DISTINCT] col), SUM, AVG, MIN, MAX, MEDIAN, STDDEV_SAMP, VAR_SAMP, \
    FIRST, LAST; each AS name or not) FROM the dataset [WHERE comparisons of a column with \
    a literal, IN, NOT IN, BETWEEN, IS [NOT] NULL, joined by AND] [GROUP BY columns or \
    ordinals] [ORDER BY output columns or ordinals, ASC or DESC] [LIMIT n]";

/// A SQL statement translated: the [`Query`] to answer, and how its
/// answer becomes the statement's columns.
///
/// The query's own output has the group-by columns first, then the
/// aggregates; SQL names its columns in `SELECT` order, may rename a
/// group-by column and may leave one out. [`present`](Self::present) does
/// that without copying any data.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlQuery {
    /// The query, in the crate's model: the one the cache keys and answers.
    pub query: Query,
    /// The statement's columns, in `SELECT` order.
    pub columns: Vec<SelectColumn>,
}

/// One column of a SQL answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectColumn {
    /// The column of the query's answer it shows (an output name of
    /// [`Query::output_names`]).
    pub source: String,
    /// Its name in the SQL answer.
    pub name: String,
}

impl SqlQuery {
    /// Whether the query's answer already has the statement's columns, in
    /// order and under their names.
    pub fn is_plain(&self) -> bool {
        let outputs = self.query.output_names();
        outputs.len() == self.columns.len()
            && outputs
                .iter()
                .zip(&self.columns)
                .all(|(out, c)| *out == c.source && c.source == c.name)
    }

    /// The answer to [`query`](Self::query) as the statement asked for it:
    /// its columns picked, ordered and named as in `SELECT`. The columns
    /// are shared, not copied; a plain statement gets `answer` itself.
    pub fn present(&self, answer: Frame) -> Result<Frame> {
        if self.is_plain() {
            return Ok(answer);
        }
        let columns = self
            .columns
            .iter()
            .map(|c| {
                let column = answer.column(&c.source).map_err(Error::from)?;
                Ok(column.clone().with_name(c.name.as_str().into()))
            })
            .collect::<Result<Vec<_>>>()?;
        let frame = DataFrame::new(answer.height(), columns)?;
        Ok(Frame::new(Arc::new(frame), answer.source()))
    }
}

/// Translates one SQL statement over the table `table` (the dataset's
/// [name](crate::Dataset::name)).
///
/// ```
/// use polars_query_cache::{Query, sql};
///
/// let q = sql::parse("SELECT region, COUNT(*) FROM sales WHERE 2024 = year GROUP BY 1", "sales")?;
/// assert_eq!(q.query, Query::new().eq("year", 2024).group_by(["region"]).len());
/// assert!(q.is_plain());
///
/// let err = sql::parse("SELECT region FROM sales WHERE year = 2024 OR year = 2023 GROUP BY region", "sales")
///     .unwrap_err();
/// assert!(err.to_string().starts_with("unsupported SQL at line 1, column 32: OR is not supported"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse(sql: &str, table: &str) -> Result<SqlQuery> {
    let statement = parse::statement(sql)?;
    select::translate(&statement, table)
}

impl Query {
    /// The query a SQL statement over `table` asks (see [`crate::sql`]).
    /// Its answer has the group-by columns first; [`sql::parse`](parse)
    /// also says how to show it in `SELECT` order.
    ///
    /// ```
    /// use polars_query_cache::Query;
    ///
    /// let q = Query::from_sql("SELECT category, AVG(price) FROM sales GROUP BY category", "sales")?;
    /// assert_eq!(q, Query::new().group_by(["category"]).mean("price"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_sql(sql: &str, table: &str) -> Result<Query> {
        Ok(parse(sql, table)?.query)
    }

    /// The query as SQL over `table`, which [`Query::from_sql`] reads back
    /// as this same query: group-by columns then aggregates in `SELECT`,
    /// identifiers quoted where SQL needs it (`"Order Date"`, `"group"`). A non-finite float is written
    /// as text (`'inf'`), which a numeric column reads as the same value.
    ///
    /// ```
    /// use polars_query_cache::Query;
    ///
    /// let q = Query::new().between("year", 2022, 2024).ne("region", "North")
    ///     .group_by(["category"]).count("discount").len().sort_by("len", true);
    /// assert_eq!(
    ///     q.to_sql("sales"),
    ///     "SELECT category, COUNT(discount), COUNT(*) FROM sales \
    ///      WHERE year BETWEEN 2022 AND 2024 AND region <> 'North' \
    ///      GROUP BY category ORDER BY len DESC"
    /// );
    /// assert_eq!(Query::from_sql(&q.to_sql("sales"), "sales")?, q);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_sql(&self, table: &str) -> String {
        render::query_sql(self, table)
    }
}
