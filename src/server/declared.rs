//! A declared dashboard: the title, filters, dimensions and measures a
//! production dashboard shows, and the roll-up that answers every view of
//! it without a scan.

use std::path::Path;

use serde::Deserialize;

use super::number_format::NumberFormat;
use crate::query::AggFn;
use crate::{CachedQuery, Error, Query, Result};

/// The aggregates a declared measure may take: those that re-aggregate from
/// a roll-up (`mean` from its `sum` and `count`).
const ROLLED_UP: [AggFn; 6] = [
    AggFn::Sum,
    AggFn::Count,
    AggFn::Len,
    AggFn::Min,
    AggFn::Max,
    AggFn::Mean,
];

/// A dashboard declared in JSON (`pqc serve DATA --dashboard FILE`):
///
/// ```json
/// {"title": "Sales",
///  "filters": ["category", "region"],
///  "dimensions": ["month", "channel"],
///  "measures": [{"column": "revenue", "fn": "sum", "label": "Revenue", "format": "$,.0f"},
///               {"fn": "len", "label": "Orders"}]}
/// ```
///
/// The page offers the filters as selectors, the dimensions as x axis and
/// series (the first is the default x) and the measures. Every view it can
/// ask for is contained in one roll-up ([`rollups`](Self::rollups)), which
/// the cache builds at start and pins, so no click scans the data.
///
/// ```
/// use std::sync::Arc;
/// use polars_query_cache::CachedQuery;
/// use polars_query_cache::server::{DeclaredDashboard, ServerConfig};
///
/// let dashboard = DeclaredDashboard::from_json(r#"{"title": "Sales", "filters": ["category"],
///     "dimensions": ["month"], "measures": [{"column": "revenue", "fn": "mean", "label": "Revenue"}]}"#)?;
/// let cache = CachedQuery::builder()
///     .rollups(dashboard.rollups())
///     .build_from_csv("data/sales.csv")?;
/// // Checks the columns, the aggregates and the roll-up against the cache.
/// let config = ServerConfig::default().with_dashboard(dashboard, &cache)?;
/// let router = polars_query_cache::server::app(Arc::new(cache), config);
/// # drop(router);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredDashboard {
    /// Shown at the top of the page.
    pub title: String,
    /// Columns offered as multi-select filters.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Columns the chart can group by; the first is the default x axis.
    pub dimensions: Vec<String>,
    /// What the chart can show; the first is the default.
    pub measures: Vec<DeclaredMeasure>,
}

/// One measure of a [`DeclaredDashboard`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredMeasure {
    /// The aggregated column; none for `len`.
    #[serde(default)]
    pub column: Option<String>,
    /// `sum`, `count`, `len`, `min`, `max` or `mean`.
    #[serde(rename = "fn")]
    pub func: AggFn,
    /// What the page shows.
    pub label: String,
    /// How the page's table and chart write its numbers: a d3-format spec
    /// of the subset `[$][,][.N](f|%|d)`, such as `$,.0f` or `.1%`.
    #[serde(default)]
    pub format: Option<String>,
}

/// The largest declaration file read.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// The most filters and dimensions together (the roll-up's group-by).
const MAX_GROUPED: usize = 16;
/// The most measures.
const MAX_MEASURES: usize = 32;

impl DeclaredDashboard {
    /// Reads and checks a declaration (see [`from_json`](Self::from_json)).
    pub fn from_file(path: impl AsRef<Path>) -> Result<DeclaredDashboard> {
        use std::io::Read;
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source: std::sync::Arc::new(source),
        };
        // Read at most one byte past the limit: `/dev/zero` or a huge file
        // named by mistake is refused instead of filling memory.
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(Error::InvalidQuery(format!(
                "the dashboard declaration `{}` is larger than {} KiB",
                path.display(),
                MAX_FILE_BYTES >> 10
            )));
        }
        Self::from_json(&text)
    }

    /// Parses a declaration and checks what needs no data: at least one
    /// dimension and one measure, and aggregates that a roll-up answers
    /// (`median`, `n_unique`, `std`, `var`, `first` and `last` do not).
    pub fn from_json(json: &str) -> Result<DeclaredDashboard> {
        let declared: DeclaredDashboard = serde_json::from_str(json)
            .map_err(|e| Error::InvalidQuery(format!("the dashboard declaration: {e}")))?;
        let invalid = |message: String| Err(Error::InvalidQuery(message));
        if declared.dimensions.is_empty() || declared.measures.is_empty() {
            return invalid(
                "a dashboard declares at least one dimension and one measure".to_owned(),
            );
        }
        // The pinned roll-up groups by every filter and dimension together:
        // past a handful of columns it approaches the table's size.
        let grouped = declared.filters.len() + declared.dimensions.len();
        if grouped > MAX_GROUPED || declared.measures.len() > MAX_MEASURES {
            return invalid(format!(
                "a dashboard declares at most {MAX_GROUPED} filters and dimensions together \
                 and {MAX_MEASURES} measures (this one: {grouped} and {})",
                declared.measures.len()
            ));
        }
        for m in &declared.measures {
            if !ROLLED_UP.contains(&m.func) {
                return invalid(format!(
                    "measure `{}`: `{}` cannot be answered from a roll-up; \
                     a declared measure is one of sum, count, len, min, max, mean",
                    m.label,
                    m.func.name()
                ));
            }
            match (m.func, &m.column) {
                (AggFn::Len, Some(_)) => {
                    return invalid(format!("measure `{}`: `len` takes no column", m.label));
                }
                (AggFn::Len, None) | (_, Some(_)) => {}
                (f, None) => {
                    return invalid(format!(
                        "measure `{}`: `{}` needs a `column`",
                        m.label,
                        f.name()
                    ));
                }
            }
            // The page and the chart write numbers in this format: one
            // they cannot read is refused here, not shown plain.
            if let Some(Err(e)) = m.format.as_deref().map(str::parse::<NumberFormat>) {
                return invalid(format!(
                    "measure `{}`: format `{}`: {e}",
                    m.label,
                    crate::error::excerpt(m.format.as_deref().unwrap_or_default())
                ));
            }
        }
        Ok(declared)
    }

    /// Every column the declaration names, each once, in order.
    pub fn columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = Vec::new();
        let named = self
            .grouped()
            .into_iter()
            .chain(self.measures.iter().filter_map(|m| m.column.as_deref()));
        for c in named {
            if !columns.contains(&c) {
                columns.push(c);
            }
        }
        columns
    }

    /// The filters and dimensions, each once.
    fn grouped(&self) -> Vec<&str> {
        let mut grouped: Vec<&str> = Vec::new();
        for c in self.filters.iter().chain(&self.dimensions) {
            if !grouped.contains(&c.as_str()) {
                grouped.push(c);
            }
        }
        grouped
    }

    /// The roll-up that contains every view the page can ask for: grouped
    /// by every filter and dimension together, with each measure's
    /// aggregate (a mean as its sum and count) and the row count. Any
    /// choice of filter values, x, series and measure narrows and rolls it
    /// up. Declare it on the builder
    /// ([`CachedQueryBuilder::rollup`](crate::CachedQueryBuilder::rollup)).
    pub fn rollups(&self) -> Vec<Query> {
        let mut query = Query::new().group_by(self.grouped());
        let add = |query: Query, func: AggFn, column: Option<&str>| {
            let present = query
                .aggs
                .iter()
                .any(|a| a.func == func && a.column.as_deref() == column);
            match (present, column) {
                (true, _) => query,
                (false, Some(c)) => query.agg(crate::Agg::new(func, c)),
                (false, None) => query.len(),
            }
        };
        for m in &self.measures {
            let column = m.column.as_deref();
            query = match m.func {
                AggFn::Mean => {
                    let summed = add(query, AggFn::Sum, column);
                    add(summed, AggFn::Count, column)
                }
                f => add(query, f, column),
            };
        }
        vec![add(query, AggFn::Len, None)]
    }

    /// Checks that `cache` serves this dashboard from memory: every column
    /// it names exists (else an [`Error::UnknownColumn`] naming it), every
    /// measure's aggregate applies to its column's type (else the typed
    /// error a query would get), and the cache pins its
    /// [`rollups`](Self::rollups) (else an [`Error::InvalidQuery`] saying
    /// how to declare them).
    pub fn check(&self, cache: &CachedQuery) -> Result<()> {
        let dataset = cache.dataset();
        for column in self.columns() {
            if !dataset.columns().iter().any(|c| c.name == column) {
                return Err(dataset.unknown_column(column));
            }
        }
        for rollup in self.rollups() {
            if !cache.has_rollup(&rollup)? {
                return Err(Error::InvalidQuery(
                    "the cache does not hold the dashboard's roll-up, so its views would scan \
                     the data: build the cache with `.rollups(dashboard.rollups())`"
                        .to_owned(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_that_do_not_roll_up_are_refused() {
        for func in ["median", "n_unique", "std", "var"] {
            let json = format!(
                r#"{{"title": "t", "dimensions": ["month"],
                    "measures": [{{"column": "revenue", "fn": "{func}", "label": "r"}}]}}"#
            );
            let refused = DeclaredDashboard::from_json(&json).unwrap_err().to_string();
            assert!(
                refused.contains(func) && refused.contains("roll-up"),
                "{refused}"
            );
        }
    }

    #[test]
    fn oversized_declarations_are_refused() {
        let dimensions: Vec<String> = (0..MAX_GROUPED + 1).map(|i| format!("\"c{i}\"")).collect();
        let json = format!(
            r#"{{"title": "t", "dimensions": [{}],
                "measures": [{{"fn": "len", "label": "rows"}}]}}"#,
            dimensions.join(",")
        );
        let refused = DeclaredDashboard::from_json(&json).unwrap_err().to_string();
        assert!(refused.contains("at most 16"), "{refused}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.json");
        let padding = " ".repeat(MAX_FILE_BYTES as usize);
        std::fs::write(
            &path,
            format!(
                r#"{{"title": "t", "dimensions": ["month"],{padding}
                    "measures": [{{"fn": "len", "label": "rows"}}]}}"#
            ),
        )
        .unwrap();
        let refused = DeclaredDashboard::from_file(&path).unwrap_err().to_string();
        assert!(refused.contains("larger than 1024 KiB"), "{refused}");
    }

    #[test]
    fn one_rollup_with_sum_and_count_for_a_mean() {
        let declared = DeclaredDashboard::from_json(
            r#"{"title": "t", "filters": ["category", "year"], "dimensions": ["month", "category"],
                "measures": [{"column": "revenue", "fn": "mean", "label": "r"},
                             {"column": "revenue", "fn": "sum", "label": "s"},
                             {"fn": "len", "label": "n"}]}"#,
        )
        .unwrap();
        let rollups = declared.rollups();
        assert_eq!(rollups.len(), 1);
        assert_eq!(rollups[0].group_by, ["category", "year", "month"]);
        assert_eq!(
            rollups[0].output_names(),
            [
                "category",
                "year",
                "month",
                "sum_revenue",
                "count_revenue",
                "len"
            ]
        );
    }
}
