//! Load a large table once into a Polars [`DataFrame`](polars::prelude::DataFrame)
//! and answer filter / group-by / aggregate queries from a memoizing cache
//! bounded in bytes: the Rust answer to wrapping pandas work in
//! `functools.lru_cache` or Flask-Caching's `@cache.memoize`, without their
//! limits. Answers are whole frames, shared rather than copied; logically equal
//! queries share one entry; the data's fingerprint is part of every key, so a
//! changed file is never answered from old results; and concurrent misses on
//! one key compute once.
//!
//! ```
//! use polars_query_cache::{CachedQuery, Query, Source};
//!
//! let cache = CachedQuery::from_csv("data/sales.csv")?;
//! let books_by_month = Query::new()
//!     .eq("category", "Books")
//!     .is_in("year", [2023, 2024])
//!     .group_by(["month"])
//!     .sum("revenue");
//! let frame = cache.get(&books_by_month)?;
//! assert_eq!(frame.height(), 12);
//!
//! // The same question, written differently, is the same entry.
//! let again = Query::from_json(r#"{"filters": {"year": ["2024", 2023], "category": "Books"},
//!                                  "group_by": ["month"], "aggs": [{"fn": "sum", "column": "revenue"}]}"#)?;
//! assert_eq!(cache.get(&again)?.source(), Source::Memory);
//! assert_eq!(cache.cache_info().computations, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Overview
//!
//! - [`CachedQuery`] owns the [`Dataset`] (loaded once from CSV or handed
//!   over as a frame) and the cache. Build it with [`CachedQuery::builder`]
//!   to set the byte budget, the per-entry cap, time to live and to idle.
//! - [`Query`] is plain data: filters (ANDed), group-by columns, aggregates,
//!   sort and limit. Build it with chained methods or read its JSON form.
//! - A query read against the dataset's schema becomes a [`QueryKey`]
//!   ([`CachedQuery::key`]): filter order, duplicates, `in [x]` vs `eq x`,
//!   `between` vs `ge` + `le`, `"2024"` vs `2024` on an integer column,
//!   group-by and aggregate order all give one key. The answer still comes
//!   back in the caller's column order and names. [`key`] holds the
//!   canonical form a key shows to
//!   [`invalidate_where`](CachedQuery::invalidate_where).
//! - [`Frame`] is the answer: an `Arc<DataFrame>` shared with the cache,
//!   with [`Frame::source`] telling where it came from and
//!   [`Frame::to_record_batches`] for arrow-rs callers.
//! - [`CacheInfo`] is the `cache_info()` of `lru_cache`, plus bytes,
//!   evictions, compute time, time saved and the most-hit queries.
//! - [`sql`] reads a subset of SQL into a [`Query`] (and writes any query
//!   back as SQL): [`CachedQuery::sql`] answers `SELECT ... FROM <dataset>`
//!   from the same entries as the JSON and Rust forms.
//!
//! # Query semantics
//!
//! Null handling follows SQL, so answers agree with DuckDB and PostgreSQL:
//! a comparison with null is never true (`ne` and `not_in` do not select
//! nulls; only `is_null` does); null is its own group; rows are sorted by
//! the `sort` columns, then by the group-by columns in the order the query
//! lists them, ascending, nulls last; aggregates skip nulls and over no
//! value give null, except `count`, `len` and `n_unique`, which give 0. A
//! query without group-by returns exactly one row, even when nothing
//! matched. The README lists where Polars' and pandas' own defaults differ.
//!
//! # Cookbook
//!
//! - Memoize any computation over the frame: [`CachedQuery::memoize`].
//! - Drop one answer, all answers touching a column, or everything:
//!   [`CachedQuery::invalidate`], [`CachedQuery::invalidate_where`],
//!   [`CachedQuery::clear`].
//! - Pick up a changed file: [`CachedQuery::refresh`].
//! - Warm the cache before traffic: [`CachedQuery::prewarm`].
//! - Compare with plain Polars: [`CachedQuery::get_uncached`] and
//!   [`CachedQuery::plan`].
//! - Ask in SQL: [`CachedQuery::sql`]; show a query as SQL: [`Query::to_sql`].
//!
//! # Crate features
//!
//! All on by default; `default-features = false` leaves the library with
//! its memory tier only.
//!
//! - `cli`: the `pqc` command line tool.
//! - `server`: [`server`], the HTTP API and dashboard page (`pqc serve`).
//! - `flight`: [`flight`], Arrow Flight SQL over the same cache (`pqc serve
//!   --flight ADDR`) for ADBC, JDBC and `pyarrow.flight` clients.
//! - `redis`: the Redis tier shared by workers and hosts, on one server or
//!   a Redis Cluster (`redis+cluster://`)
//!   ([`CachedQueryBuilder::redis`], [`tier::redis`]).
//!
//! # Examples
//!
//! The repository's `examples/` are short programs to copy from (run them
//! with `cargo run --release --example <name>`): `basic` (memoized queries
//! and `cache_info`), `memoize` (any function over the frame),
//! `dashboard_rollups` (declared roll-ups), `arrow` (answers handed to
//! arrow-rs), `redis_workers` (workers sharing Redis), `axum_embed` (the
//! server inside one's own axum app) and `flight_sql` (Arrow Flight SQL and
//! HTTP on one state, queried by a Flight SQL client); `dash_flight` is a
//! Dash app (Python) reading the cache over Flight SQL with ADBC.
//!
//! # Minimum Rust version
//!
//! Rust 1.88 (edition 2024).

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod cache;
mod canonical_json;
pub mod dataset;
pub mod derive;
mod error;
mod exec;
mod files;
#[cfg(feature = "flight")]
#[cfg_attr(docsrs, doc(cfg(feature = "flight")))]
pub mod flight;
mod frame;
mod learn;
// Public only so benches time normalization and tests build constraints
// directly; users reach its results through `key` and `CachedQuery::key`.
#[doc(hidden)]
pub mod normalize;
// Public only for the `pqc` binary, which prints answers as the server does.
#[doc(hidden)]
pub mod output;
pub mod query;
// Public only for `pqc gen` and `pqc bench`, the benches and the tests.
#[doc(hidden)]
pub mod sample;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
pub mod sql;
pub mod tier;

/// What a [`QueryKey`] holds: the canonical form of a query (or of a
/// [`memoize`](CachedQuery::memoize) call), as a predicate given to
/// [`CachedQuery::invalidate_where`] sees it.
///
/// ```
/// use polars_query_cache::{CachedQuery, Query};
///
/// let cache = CachedQuery::from_csv("data/sales.csv")?;
/// cache.get(&Query::new().eq("year", 2024).group_by(["month"]).sum("revenue"))?;
/// cache.get(&Query::new().group_by(["region"]).len())?;
/// cache.memoize("row_count", &(), |df| polars::df!("rows" => [df.height() as u64]))?;
///
/// // The revenue figures were corrected: drop the answers that read them.
/// let dropped = cache.invalidate_where(|key| key.query().is_some_and(|q| q.uses_column("revenue")));
/// assert_eq!(dropped, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod key {
    pub use crate::normalize::{
        Bound, CanonicalAgg, CanonicalQuery, CanonicalSort, ColumnFilter, ColumnRef, Constraint,
        KEY_FORMAT_VERSION, KeyBody, OutputRef, QueryKey, Scalar,
    };
}

#[cfg(feature = "watch")]
pub use cache::Watcher;
pub use cache::{
    CacheInfo, CachedQuery, CachedQueryBuilder, PrewarmReport, QueryCount, RefreshOutcome,
};
pub use dataset::{
    ColumnInfo, ColumnKind, ColumnType, Dataset, Fingerprint, Format, LoadOptions, LoadTimings,
    LoadedFrom, Origin, ParseFormatError,
};
pub use derive::DeriveMode;
pub use error::{Error, Result};
pub use frame::{Frame, Source};
pub use learn::LearnedRollup;
pub use normalize::QueryKey;
pub use query::{Agg, AggFn, Filter, Op, Predicate, Query, SortKey, Value};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
