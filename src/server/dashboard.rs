//! What the dashboard page shows, derived from the schema: two selectors,
//! an x axis and a few measures. For the bundled sales table that is
//! category and year, by month, revenue, units, price and orders.

use serde::Serialize;

use crate::dataset::{ColumnKind, Dataset};

/// One measure the page can chart.
#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    /// What the selector shows.
    pub label: String,
    /// The aggregate function's JSON name.
    #[serde(rename = "fn")]
    pub func: &'static str,
    /// The aggregated column (`None` for `len`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

/// The page's layout.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// Columns offered as selectors (equality filters).
    pub filters: Vec<String>,
    /// The column along the chart's x axis (grouped by).
    pub x: Option<String>,
    /// Measures to choose from.
    pub measures: Vec<Measure>,
}

impl Dashboard {
    /// The layout for a dataset.
    pub fn for_dataset(dataset: &Dataset) -> Dashboard {
        let columns = dataset.columns();
        let has = |name: &str| columns.iter().any(|c| c.name == name);
        let mut filters: Vec<String> = ["category", "year"]
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
        let x = ["month", "date"]
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
                let averaged = ["price", "discount", "rate"]
                    .iter()
                    .any(|w| c.name.contains(w));
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
