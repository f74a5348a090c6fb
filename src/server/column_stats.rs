//! Per-column statistics of the dataset, computed in one memoized pass: the
//! `/api/schema` listing and the dashboard's layout both read them, so a
//! fresh server's first schema request costs one computation, not one a
//! column.
//!
//! The statistics are memoized as one frame (memoize's contract), one row a
//! column: `name`, `distinct` (non-null distinct values), `nulls`, `min`,
//! `max` (as text, numbers and dates only) and `values` (the sorted distinct
//! values as text, for columns with at most [`LISTED_VALUES`] of them).

use polars::prelude::*;
use rayon::prelude::*;

use crate::dataset::{ColumnInfo, ColumnKind, Dataset};
use crate::{CachedQuery, Result};

/// Columns with at most this many distinct values list them.
pub(crate) const LISTED_VALUES: usize = 100;

/// The memoized function's name.
const MEMO: &str = "pqc.schema.stats";

/// What one pass learned about one column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnStats {
    pub(crate) name: String,
    pub(crate) kind: ColumnKind,
    pub(crate) dtype: DataType,
    /// Distinct non-null values (`None` for types that are not compared,
    /// such as lists).
    pub(crate) distinct: Option<usize>,
    pub(crate) nulls: usize,
    /// Smallest and largest value as text, for numbers and temporal types.
    pub(crate) min: Option<String>,
    pub(crate) max: Option<String>,
    /// The sorted distinct values as text, when there are at most
    /// [`LISTED_VALUES`] of them and the type is one selectors offer.
    pub(crate) values: Option<Vec<String>>,
}

impl ColumnStats {
    /// Numbers and temporal types: ordered, with a range.
    pub(crate) fn is_ranged(&self) -> bool {
        has_range(self.kind, &self.dtype)
    }

    /// One of this column's values (from `values`, `min` or `max`) in JSON:
    /// numbers as numbers, everything else as text.
    pub(crate) fn json(&self, text: &str) -> serde_json::Value {
        let number = match self.kind {
            ColumnKind::Int => text.parse::<i64>().ok().map(serde_json::Value::from),
            ColumnKind::Float => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(serde_json::Value::Number),
            _ => None,
        };
        number.unwrap_or_else(|| serde_json::Value::from(text))
    }
}

fn has_range(kind: ColumnKind, dtype: &DataType) -> bool {
    kind.is_numeric() || dtype.is_temporal()
}

/// The statistics of the cache's current data: one memoized computation per
/// data version.
pub(crate) fn schema_stats(cache: &CachedQuery) -> Result<Vec<ColumnStats>> {
    let dataset = cache.dataset();
    let frame = cache.memoize_dataset(MEMO, &(), |dataset| match dataset.frame() {
        Some(df) => Ok(stats_frame(df)?),
        None => scanned_stats_frame(dataset),
    })?;
    read(frame.dataframe(), dataset.columns())
}

/// One row a column of `df`; the columns are measured in parallel.
fn stats_frame(df: &DataFrame) -> PolarsResult<DataFrame> {
    let rows: Vec<Row> = df
        .columns()
        .par_iter()
        .map(|column| {
            measure(
                column.name(),
                column.dtype(),
                column.null_count() as u64,
                || column.drop_nulls().unique(),
            )
        })
        .collect::<PolarsResult<_>>()?;
    frame_of(rows)
}

/// The same statistics of a scanned dataset, by streaming queries, in
/// memory bounded by what is listed rather than by the table: one pass for
/// every column's nulls, minimum and maximum; the first rows to tell the
/// columns with few distinct values from the rest; then the distinct values
/// of those few alone. A column with more than `LISTED_VALUES` values in
/// those rows has no count and no listing here (counting every distinct id
/// of a table larger than memory would hold them all).
fn scanned_stats_frame(dataset: &Dataset) -> Result<DataFrame> {
    let columns = dataset.columns();
    let text = |e: Expr| e.cast(DataType::String);
    let mut totals = Vec::with_capacity(columns.len() * 3);
    for c in columns {
        let name = c.name.as_str();
        totals.push(col(name).null_count().alias(format!("nulls:{name}")));
        if has_range(c.kind, &c.dtype) {
            totals.push(text(col(name).min()).alias(format!("min:{name}")));
            totals.push(text(col(name).max()).alias(format!("max:{name}")));
        }
    }
    let totals = dataset.collect(dataset.lazy()?.select(totals))?;
    let sample = dataset.collect(
        dataset.lazy()?.limit(SAMPLE_ROWS).select(
            columns
                .iter()
                .map(|c| {
                    col(c.name.as_str())
                        .drop_nulls()
                        .n_unique()
                        .alias(c.name.as_str())
                })
                .collect::<Vec<_>>(),
        ),
    )?;
    let first = |frame: &DataFrame, name: &str| -> Option<AnyValue<'static>> {
        frame
            .column(name)
            .ok()?
            .get(0)
            .ok()
            .map(|v| v.into_static())
    };
    let mut rows = Vec::with_capacity(columns.len());
    for c in columns {
        let name = c.name.as_str();
        let nulls = first(&totals, &format!("nulls:{name}"))
            .and_then(|v| v.extract::<u64>())
            .unwrap_or(0);
        let few = first(&sample, name)
            .and_then(|v| v.extract::<u64>())
            .is_some_and(|n| n as usize <= LISTED_VALUES);
        if few {
            let unique = || -> PolarsResult<Column> {
                let values = dataset
                    .lazy()
                    .and_then(|lf| dataset.collect(lf.select([col(name).drop_nulls().unique()])))
                    .map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
                Ok(values.columns()[0].clone())
            };
            rows.push(measure(name, &c.dtype, nulls, unique)?);
            continue;
        }
        let bound = |which: &str| {
            first(&totals, &format!("{which}:{name}")).and_then(|v| v.get_str().map(str::to_owned))
        };
        rows.push(Row {
            name: name.to_owned(),
            distinct: None,
            nulls,
            min: bound("min"),
            max: bound("max"),
            values: None,
        });
    }
    Ok(frame_of(rows)?)
}

/// Rows of a scanned table that tell few distinct values from many.
const SAMPLE_ROWS: IdxSize = 100_000;

fn frame_of(rows: Vec<Row>) -> PolarsResult<DataFrame> {
    let height = rows.len();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let distinct: Vec<Option<u64>> = rows.iter().map(|r| r.distinct).collect();
    let nulls: Vec<u64> = rows.iter().map(|r| r.nulls).collect();
    let min: Vec<Option<&str>> = rows.iter().map(|r| r.min.as_deref()).collect();
    let max: Vec<Option<&str>> = rows.iter().map(|r| r.max.as_deref()).collect();
    let values: ListChunked = rows.iter().map(|r| r.values.clone()).collect();
    DataFrame::new(
        height,
        vec![
            Column::new("name".into(), names),
            Column::new("distinct".into(), distinct),
            Column::new("nulls".into(), nulls),
            Column::new("min".into(), min),
            Column::new("max".into(), max),
            values.with_name("values".into()).into_series().into(),
        ],
    )
}

struct Row {
    name: String,
    distinct: Option<u64>,
    nulls: u64,
    min: Option<String>,
    max: Option<String>,
    values: Option<Series>,
}

/// One column's statistics: its distinct values are hashed once; the count,
/// the range and the listing all come from them.
fn measure(
    name: &str,
    dtype: &DataType,
    nulls: u64,
    unique: impl FnOnce() -> PolarsResult<Column>,
) -> PolarsResult<Row> {
    let kind = ColumnKind::of(dtype);
    let mut row = Row {
        name: name.to_owned(),
        distinct: None,
        nulls,
        min: None,
        max: None,
        values: None,
    };
    let ranged = has_range(kind, dtype);
    let listed = matches!(
        kind,
        ColumnKind::Categorical
            | ColumnKind::Int
            | ColumnKind::Str
            | ColumnKind::Bool
            | ColumnKind::Date
    );
    if !(ranged || listed) {
        return Ok(row);
    }
    let unique = unique()?;
    row.distinct = Some(unique.len() as u64);
    if ranged && !unique.is_empty() {
        let text = |s: Scalar| -> PolarsResult<Option<String>> {
            let one = s.into_series(PlSmallStr::EMPTY).cast(&DataType::String)?;
            Ok(one.str()?.get(0).map(str::to_owned))
        };
        row.min = text(unique.min_reduce()?)?;
        row.max = text(unique.max_reduce()?)?;
    }
    if listed && unique.len() <= LISTED_VALUES {
        let unique = unique.as_materialized_series();
        // Numbers, dates and booleans in their own order; text (and
        // categoricals, whose physical order is arbitrary) as text.
        let sorted = if kind.is_numeric() || kind == ColumnKind::Date || kind == ColumnKind::Bool {
            unique
                .sort(SortOptions::default())?
                .cast(&DataType::String)?
        } else {
            unique
                .cast(&DataType::String)?
                .sort(SortOptions::default())?
        };
        row.values = Some(sorted);
    }
    Ok(row)
}

/// The statistics back from their frame, with each column's type.
fn read(frame: &DataFrame, columns: &[ColumnInfo]) -> Result<Vec<ColumnStats>> {
    let names = frame.column("name")?.str()?;
    let distinct = frame.column("distinct")?.u64()?;
    let nulls = frame.column("nulls")?.u64()?;
    let min = frame.column("min")?.str()?;
    let max = frame.column("max")?.str()?;
    let values = frame.column("values")?.list()?;
    let mut stats = Vec::with_capacity(columns.len());
    for (i, info) in columns.iter().enumerate() {
        if names.get(i) != Some(info.name.as_str()) {
            return Err(crate::Error::Compute(format!(
                "the schema statistics do not match column `{}`",
                info.name
            )));
        }
        let listed = match values.get_as_series(i) {
            Some(s) => Some(
                s.str()?
                    .iter()
                    .map(|v| v.unwrap_or_default().to_owned())
                    .collect(),
            ),
            None => None,
        };
        stats.push(ColumnStats {
            name: info.name.clone(),
            kind: info.kind,
            dtype: info.dtype.clone(),
            distinct: distinct.get(i).map(|d| d as usize),
            nulls: nulls.get(i).unwrap_or(0) as usize,
            min: min.get(i).map(str::to_owned),
            max: max.get(i).map(str::to_owned),
            values: listed,
        });
    }
    Ok(stats)
}

/// The statistics of a frame without a cache, for tests.
#[cfg(test)]
pub(crate) fn of_frame(df: &DataFrame) -> Result<Vec<ColumnStats>> {
    let dataset = crate::dataset::Dataset::from_frame(df.clone())?;
    read(&stats_frame(df)?, dataset.columns())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statistics frame (with its list column) goes through the disk
    /// tier like any memoized answer: a second server reads it, computing
    /// nothing, and reads the same statistics.
    #[test]
    fn the_statistics_survive_the_disk_tier() {
        let dir = tempfile::tempdir().unwrap();
        let open = || {
            CachedQuery::builder()
                .disk_dir(dir.path())
                .build_from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"))
                .unwrap()
        };
        let first = open();
        let computed = schema_stats(&first).unwrap();
        assert_eq!(first.cache_info().disk_writes, 1);
        drop(first);
        let second = open();
        // Equal but for the categorical types, whose dictionary is per load.
        let plain = |stats: Vec<ColumnStats>| -> Vec<ColumnStats> {
            stats
                .into_iter()
                .map(|c| ColumnStats {
                    dtype: DataType::Null,
                    ..c
                })
                .collect()
        };
        assert_eq!(
            plain(schema_stats(&second).unwrap()),
            plain(computed.clone())
        );
        let info = second.cache_info();
        assert_eq!((info.computations, info.disk_hits), (0, 1));
        assert!(computed.iter().any(|c| c.values.is_some()));
    }
}
