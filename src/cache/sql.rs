//! [`CachedQuery::sql`]: SQL text answered through the cache.

use super::CachedQuery;
use crate::Result;
use crate::frame::Frame;
use crate::sql::{self, SqlQuery};

impl CachedQuery {
    /// Answers a SQL query over the dataset (`FROM` its
    /// [name](crate::Dataset::name)); see [`crate::sql`] for the subset.
    /// The statement becomes a [`Query`](crate::Query) and is answered
    /// like one, from the same entry as the same query in JSON or Rust;
    /// the answer's columns follow the `SELECT` list.
    ///
    /// ```
    /// use polars_query_cache::{CachedQuery, Query, Source};
    ///
    /// let cache = CachedQuery::from_csv("data/sales.csv")?;
    /// let top = cache.sql(
    ///     "SELECT COUNT(*) AS orders, region FROM sales WHERE year = 2024 \
    ///      GROUP BY region ORDER BY orders DESC LIMIT 2",
    /// )?;
    /// assert_eq!(top.get_column_names(), ["orders", "region"]);
    ///
    /// // The JSON form of the same question is the same entry.
    /// let json = Query::from_json(r#"{"filters": {"year": 2024}, "group_by": ["region"],
    ///     "aggs": [{"fn": "len", "alias": "orders"}], "sort": [{"column": "orders", "descending": true}],
    ///     "limit": 2}"#)?;
    /// assert_eq!(cache.get(&json)?.source(), Source::Memory);
    ///
    /// let err = cache.sql("SELECT region, SUM(units) FROM sales GROUP BY region HAVING SUM(units) > 10")
    ///     .unwrap_err();
    /// assert!(err.is_user_error());
    /// assert!(err.to_string().contains("HAVING is not supported"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sql(&self, sql: &str) -> Result<Frame> {
        let statement = sql::parse(sql, self.dataset().name())?;
        self.get_sql(&statement)
    }

    /// Answers a statement [`sql::parse`] translated (the way a prepared
    /// statement is run: parsed once, answered many times).
    pub fn get_sql(&self, statement: &SqlQuery) -> Result<Frame> {
        statement.present(self.get(&statement.query)?)
    }
}
