//! What the dashboard page shows, derived from the schema: two selectors,
//! an x axis and a few measures. The layout is the page's business (it is
//! sent in `/api/schema`), not part of the crate's API.
//!
//! Columns with the names of the bundled sales table are preferred where
//! present, so that its page shows category and year, by month, revenue,
//! units, price and orders; any other table gets a layout from its column
//! types alone.

use serde::Serialize;

use crate::dataset::{ColumnKind, Dataset};

/// Selectors to offer first, where the table has them.
const PREFERRED_FILTERS: [&str; 2] = ["category", "year"];
/// Columns to put along the x axis first, where the table has them.
const PREFERRED_X: [&str; 2] = ["month", "date"];
/// A measure whose column name holds one of these is a rate or a price:
/// its mean means something, its sum does not.
const AVERAGED: [&str; 3] = ["price", "discount", "rate"];

/// One measure the page can chart.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Measure {
    /// What the selector shows.
    label: String,
    /// The aggregate function's JSON name.
    #[serde(rename = "fn")]
    func: &'static str,
    /// The aggregated column (`None` for `len`).
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<String>,
}

/// The page's layout.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Dashboard {
    /// Columns offered as selectors (equality filters).
    filters: Vec<String>,
    /// The column along the chart's x axis (grouped by).
    x: Option<String>,
    /// Measures to choose from.
    measures: Vec<Measure>,
}

impl Dashboard {
    /// The layout for a dataset.
    pub(crate) fn for_dataset(dataset: &Dataset) -> Dashboard {
        let columns = dataset.columns();
        let has = |name: &str| columns.iter().any(|c| c.name == name);
        let mut filters: Vec<String> = PREFERRED_FILTERS
            .into_iter()
            .filter(|n| has(n))
            .map(str::to_owned)
            .collect();
        if filters.is_empty() {
            filters = columns
                .iter()
                .filter(|c| c.kind == ColumnKind::Categorical)
                .take(2)
                .map(|c| c.name.clone())
                .collect();
        }
        let x = PREFERRED_X
            .into_iter()
            .find(|n| has(n))
            .map(str::to_owned)
            .or_else(|| {
                columns
                    .iter()
                    .find(|c| c.kind == ColumnKind::Int && !filters.contains(&c.name))
                    .map(|c| c.name.clone())
            });
        let mut measures: Vec<Measure> = columns
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::Int | ColumnKind::Float))
            .filter(|c| {
                !filters.contains(&c.name) && Some(&c.name) != x.as_ref() && !c.name.ends_with("id")
            })
            .map(|c| {
                let averaged = AVERAGED.iter().any(|w| c.name.contains(w));
                let func = if averaged { "mean" } else { "sum" };
                Measure {
                    label: format!("{} ({func})", c.name),
                    func,
                    column: Some(c.name.clone()),
                }
            })
            .collect();
        measures.push(Measure {
            label: "rows (len)".to_owned(),
            func: "len",
            column: None,
        });
        Dashboard {
            filters,
            x,
            measures,
        }
    }
}
