//! What the dashboard page shows, inferred from the per-column statistics
//! of any table (no column name is special): selectors, range filters, the
//! dimensions the chart can group by, its x axis and the measures. The
//! layout is the page's business (it is sent in `/api/schema`), not part of
//! the crate's API.
//!
//! The rules, each a few lines below:
//! - **Filters**: columns of text, categories, booleans or integers with
//!   2..=100 distinct values; a column with one value is not offered.
//! - **x axis**: a date column with few enough days to read, else a small
//!   ordered integer column (a month, an hour), else a date of any length,
//!   else the best text filter, else an ordered integer that fits a chart.
//! - **Measures**: numeric columns that are neither identifiers nor calendar
//!   fields, each with a default aggregate; row count always.

use serde::Serialize;
use serde_json::Value;

use super::column_stats::{ColumnStats, LISTED_VALUES};
use super::declared::DeclaredDashboard;
use crate::dataset::ColumnKind;

/// The aggregates the page may offer for any measure column (`len`, the row
/// count, is always one of the measures).
const AGGREGATES: [&str; 7] = ["sum", "mean", "min", "max", "count", "n_unique", "median"];

/// A selector of 3..=30 values is the most useful: 2 is a toggle, more than
/// 30 is a long list to scroll.
const HANDY_VALUES: std::ops::RangeInclusive<usize> = 3..=30;

/// An ordered column with at most this many values is read at a glance
/// along an x axis (a month, a day of the month, a minute of the hour).
const SHORT_AXIS: usize = 60;

/// No x axis longer than this: a line of more points than the chart is
/// wide says nothing more.
const LONG_AXIS: usize = 1_000;

/// A line of fewer points than this says little: a year column with 4
/// values is a worse x axis than a month with 12.
const FEW_POINTS: usize = 6;

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
    /// A declared number format, passed through to the page.
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
}

/// A range filter: the column's smallest and largest value.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Range {
    column: String,
    min: Value,
    max: Value,
}

/// The page's layout.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Dashboard {
    /// A declared dashboard's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    /// Declared ([`DeclaredDashboard`]) rather than inferred.
    declared: bool,
    /// Columns offered as selectors (equality filters), most useful first.
    filters: Vec<String>,
    /// The column along the chart's x axis (grouped by).
    x: Option<String>,
    /// Measures to choose from; the first is the default. `len` comes after
    /// the float measures and before the integer ones.
    measures: Vec<Measure>,
    /// Numeric and date columns with their range.
    ranges: Vec<Range>,
    /// What the chart can group by: the x axis first, then the filters,
    /// then dates.
    dimensions: Vec<String>,
    /// The aggregates a measure column may take.
    aggregates: Vec<&'static str>,
}

fn distinct(c: &ColumnStats) -> usize {
    c.distinct.unwrap_or(0)
}

/// Dates and datetimes: time-like, ordered.
fn is_dated(c: &ColumnStats) -> bool {
    matches!(
        c.dtype,
        polars::prelude::DataType::Date | polars::prelude::DataType::Datetime(..)
    )
}

/// An integer column that names rows rather than measures them: more than a
/// selector's worth of values, and at least half of its non-null values
/// distinct (a key, an order number; a quantity repeats). Integer amounts
/// that are almost all different (cents over a few thousand rows) are taken
/// for identifiers too: the page still offers them through `ranges`.
fn is_identifier(c: &ColumnStats, rows: usize) -> bool {
    let d = distinct(c);
    c.kind == ColumnKind::Int && d > LISTED_VALUES && d * 2 >= rows.saturating_sub(c.nulls)
}

/// Few enough values to pick from a list.
fn is_filter(c: &ColumnStats) -> bool {
    matches!(
        c.kind,
        ColumnKind::Categorical | ColumnKind::Str | ColumnKind::Bool | ColumnKind::Int
    ) && (2..=LISTED_VALUES).contains(&distinct(c))
}

/// The column's range as numbers, when it has one.
fn bounds(c: &ColumnStats) -> Option<(f64, f64)> {
    Some((c.min.as_ref()?.parse().ok()?, c.max.as_ref()?.parse().ok()?))
}

/// The default aggregate of a measure column. A sum adds up counts and
/// amounts, the common case. It means nothing where values have both signs
/// (delays, temperatures, returns: the sum is what cancels out) or are
/// shares within 0..=1 (discounts, rates): those take the mean. Prices are
/// the known miss (positive, yet their sum means nothing); the page offers
/// every aggregate in `aggregates`.
fn default_aggregate(c: &ColumnStats) -> &'static str {
    match bounds(c) {
        Some((min, _)) if min < 0.0 => "mean",
        Some((min, max)) if c.kind == ColumnKind::Float && min >= 0.0 && max <= 1.0 => "mean",
        _ => "sum",
    }
}

/// Numeric and date columns (those `keep` accepts) with their range.
fn ranges(stats: &[ColumnStats], keep: impl Fn(&ColumnStats) -> bool) -> Vec<Range> {
    stats
        .iter()
        // Without a count (a scanned table's column of many values), a
        // range whose ends differ holds at least two.
        .filter(|c| {
            let several = c.distinct.map_or(c.min != c.max, |d| d >= 2);
            c.is_ranged() && several && keep(c)
        })
        .filter_map(|c| {
            Some(Range {
                column: c.name.clone(),
                min: c.json(c.min.as_deref()?),
                max: c.json(c.max.as_deref()?),
            })
        })
        .collect()
}

impl Dashboard {
    /// The layout for a table of `rows` rows with these column statistics.
    pub(crate) fn infer(rows: usize, stats: &[ColumnStats]) -> Dashboard {
        // Filters, most useful first: a handy number of values, then text
        // before integers (integers are as often quantities or calendar
        // fields as they are codes), then fewer nulls, then column order.
        let mut ranked: Vec<(usize, &ColumnStats)> = stats
            .iter()
            .enumerate()
            .filter(|(_, c)| is_filter(c))
            .collect();
        ranked.sort_by_key(|(i, c)| {
            (
                !HANDY_VALUES.contains(&distinct(c)),
                c.kind == ColumnKind::Int,
                c.nulls,
                *i,
            )
        });
        let filters: Vec<String> = ranked.iter().map(|(_, c)| c.name.clone()).collect();

        let x = Self::x_axis(rows, stats, &ranked);

        let mut dimensions: Vec<String> = x.iter().cloned().collect();
        let dated = stats.iter().filter(|c| is_dated(c) && distinct(c) >= 2);
        for name in filters.iter().chain(dated.map(|c| &c.name)) {
            if !dimensions.contains(name) {
                dimensions.push(name.clone());
            }
        }

        // Measures: not an identifier, not the x axis, not a small integer
        // set (a calendar field or a code, grouped by rather than added up),
        // not a constant. Continuous quantities (floats) first, then the
        // column with the most distinct values, which says the most. The
        // row count goes after the floats and before the integers: the
        // first measure is the page's default, and an integer column may be
        // a code the data cannot tell from a quantity (nycflights13's
        // flight numbers and clock times), while a count of rows is never
        // meaningless.
        let mut columns: Vec<&ColumnStats> = stats
            .iter()
            .filter(|c| c.kind.is_numeric() && distinct(c) >= 2)
            .filter(|c| !is_identifier(c, rows) && Some(&c.name) != x.as_ref())
            .filter(|c| !(c.kind == ColumnKind::Int && dimensions.contains(&c.name)))
            .collect();
        columns.sort_by_key(|c| (c.kind != ColumnKind::Float, std::cmp::Reverse(distinct(c))));
        let floats = columns
            .iter()
            .take_while(|c| c.kind == ColumnKind::Float)
            .count();
        let mut measures: Vec<Measure> = columns
            .into_iter()
            .map(|c| {
                let func = default_aggregate(c);
                Measure {
                    label: format!("{} ({func})", c.name),
                    func,
                    column: Some(c.name.clone()),
                    format: None,
                }
            })
            .collect();
        measures.insert(
            floats,
            Measure {
                label: "rows (len)".to_owned(),
                func: "len",
                column: None,
                format: None,
            },
        );

        Dashboard {
            title: None,
            declared: false,
            filters,
            x,
            measures,
            ranges: ranges(stats, |_| true),
            dimensions,
            aggregates: AGGREGATES.to_vec(),
        }
    }

    /// The layout of a declared dashboard: its filters, dimensions (the
    /// first along x) and measures; range filters only on its filters and
    /// dimensions, and only its measures' aggregates, so that every view
    /// stays inside the declared roll-up.
    pub(crate) fn declared(declared: &DeclaredDashboard, stats: &[ColumnStats]) -> Dashboard {
        let grouped = |c: &ColumnStats| {
            declared.filters.contains(&c.name) || declared.dimensions.contains(&c.name)
        };
        let aggregates = AGGREGATES
            .into_iter()
            .filter(|a| {
                declared
                    .measures
                    .iter()
                    .any(|m| m.column.is_some() && m.func.name() == *a)
            })
            .collect();
        Dashboard {
            title: Some(declared.title.clone()),
            declared: true,
            filters: declared.filters.clone(),
            x: declared.dimensions.first().cloned(),
            measures: declared
                .measures
                .iter()
                .map(|m| Measure {
                    label: m.label.clone(),
                    func: m.func.name(),
                    column: m.column.clone(),
                    format: m.format.clone(),
                })
                .collect(),
            ranges: ranges(stats, grouped),
            dimensions: declared.dimensions.clone(),
            aggregates,
        }
    }

    /// The x axis, in this order of preference: a date with a short axis; a
    /// small ordered integer column (at least [`FEW_POINTS`] values first,
    /// then column order: a month before a day of the month); a date of any
    /// length that fits; the most useful text filter; an ordered integer
    /// column that fits and is no identifier.
    fn x_axis(
        rows: usize,
        stats: &[ColumnStats],
        ranked: &[(usize, &ColumnStats)],
    ) -> Option<String> {
        let short = |c: &&ColumnStats| (2..=SHORT_AXIS).contains(&distinct(c));
        let fits = |c: &&ColumnStats| (2..=LONG_AXIS).contains(&distinct(c));
        let small_int = stats
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == ColumnKind::Int && short(c))
            .min_by_key(|(i, c)| (distinct(c) < FEW_POINTS, *i))
            .map(|(_, c)| c);
        stats
            .iter()
            .filter(|c| is_dated(c))
            .find(short)
            .or(small_int)
            .or_else(|| stats.iter().filter(|c| is_dated(c)).find(fits))
            .or_else(|| {
                ranked
                    .iter()
                    .map(|(_, c)| *c)
                    .find(|c| c.kind != ColumnKind::Int)
            })
            .or_else(|| {
                stats
                    .iter()
                    .filter(|c| c.kind == ColumnKind::Int && !is_identifier(c, rows))
                    .find(fits)
            })
            .map(|c| c.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;
    use crate::server::column_stats::{self, schema_stats};

    fn measure_columns(d: &Dashboard) -> Vec<&str> {
        d.measures
            .iter()
            .filter_map(|m| m.column.as_deref())
            .collect()
    }

    fn layout(df: &DataFrame) -> Dashboard {
        Dashboard::infer(df.height(), &column_stats::of_frame(df).unwrap())
    }

    /// A pseudo-random stream, so the tables are the same on every run.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn the_bundled_sample() {
        let cache =
            crate::CachedQuery::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"))
                .unwrap();
        let stats = schema_stats(&cache).unwrap();
        let d = Dashboard::infer(cache.dataset().rows(), &stats);
        assert_eq!(d.x.as_deref(), Some("month"));
        assert_eq!(d.filters[0], "category");
        assert!(d.filters.iter().any(|f| f == "year"), "{:?}", d.filters);
        let measures = measure_columns(&d);
        assert!(measures.contains(&"revenue"), "{measures:?}");
        assert!(
            !measures.contains(&"order_id"),
            "an identifier: {measures:?}"
        );
        assert!(!measures.contains(&"month") && !measures.contains(&"year"));
        assert_eq!(d.measures[0].column.as_deref(), Some("revenue"));
        // The row count comes after the float measures, before integers.
        let len = d.measures.iter().position(|m| m.func == "len").unwrap();
        assert!(d.measures[..len].iter().all(|m| m.column.is_some()));
        assert_eq!(d.dimensions[0], "month");
        assert!(d.ranges.iter().any(|r| r.column == "date"));
        // The statistics agree with Polars on every column.
        let df = cache.dataset().frame().unwrap().clone();
        for c in &stats {
            let column = df.column(&c.name).unwrap();
            assert_eq!(c.nulls, column.null_count(), "{}", c.name);
            if let Some(d) = c.distinct {
                assert_eq!(d, column.drop_nulls().n_unique().unwrap(), "{}", c.name);
            }
            assert_eq!(
                c.values.is_some(),
                c.distinct.is_some_and(|d| d <= LISTED_VALUES) && c.kind != ColumnKind::Float,
                "{}",
                c.name
            );
        }
        // One computation for all of them, then none.
        assert_eq!(cache.cache_info().computations, 1);
        schema_stats(&cache).unwrap();
        assert_eq!(cache.cache_info().computations, 1);
    }

    /// Shaped like nycflights13's `flights`, with none of the sample's names.
    fn flights(rows: usize) -> DataFrame {
        let mut r = Lcg(13);
        let carriers: Vec<String> = (0..16).map(|i| format!("C{i}")).collect();
        let tails: Vec<String> = (0..4000).map(|i| format!("N{i:04}")).collect();
        let dests: Vec<String> = (0..100).map(|i| format!("D{i:02}")).collect();
        let origins = ["EWR", "JFK", "LGA"];
        let mut year = Vec::new();
        let (mut month, mut day, mut dep_time, mut dep_delay, mut arr_delay) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut carrier, mut flight, mut tailnum, mut origin, mut dest) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut air_time, mut distance) = (Vec::new(), Vec::new());
        for _ in 0..rows {
            let cancelled = r.below(40) == 0;
            year.push(2013i32);
            month.push(1 + r.below(12) as i32);
            day.push(1 + r.below(31) as i32);
            dep_time.push((!cancelled).then(|| (500 + r.below(1900)) as i32));
            dep_delay.push((!cancelled).then(|| r.below(200) as i32 - 20));
            arr_delay.push((!cancelled).then(|| r.below(220) as i32 - 40));
            carrier.push(carriers[r.below(16) as usize].clone());
            flight.push(1 + r.below(100_000) as i32);
            tailnum.push(tails[r.below(4000) as usize].clone());
            origin.push(origins[r.below(3) as usize]);
            dest.push(dests[r.below(100) as usize].clone());
            air_time.push((!cancelled).then(|| 20.0 + r.below(6000) as f64 / 10.0));
            distance.push(80 + r.below(4900) as i32);
        }
        df!(
            "year" => year, "month" => month, "day" => day, "dep_time" => dep_time,
            "dep_delay" => dep_delay, "arr_delay" => arr_delay, "carrier" => carrier,
            "flight" => flight, "tailnum" => tailnum, "origin" => origin, "dest" => dest,
            "air_time" => air_time, "distance" => distance,
        )
        .unwrap()
    }

    #[test]
    fn a_flights_table() {
        let df = flights(20_000);
        let d = layout(&df);
        assert!(
            !d.filters.iter().any(|f| f == "year"),
            "one value: {:?}",
            d.filters
        );
        assert!(!d.dimensions.iter().any(|f| f == "year"));
        assert_eq!(&d.filters[..2], ["carrier", "origin"], "{:?}", d.filters);
        assert!(
            d.filters.iter().any(|f| f == "dest"),
            "100 values: {:?}",
            d.filters
        );
        assert!(!d.filters.iter().any(|f| f == "tailnum" || f == "flight"));
        assert_eq!(d.x.as_deref(), Some("month"));
        let measures = measure_columns(&d);
        assert!(!measures.contains(&"flight"), "an identifier: {measures:?}");
        assert!(measures.contains(&"dep_delay"), "{measures:?}");
        assert!(
            !measures
                .iter()
                .any(|m| ["year", "month", "day"].contains(m)),
            "{measures:?}"
        );
        let delay = d
            .measures
            .iter()
            .find(|m| m.column.as_deref() == Some("dep_delay"))
            .unwrap();
        assert_eq!(delay.func, "mean", "delays have both signs");
        let distance = d
            .measures
            .iter()
            .find(|m| m.column.as_deref() == Some("distance"))
            .unwrap();
        assert_eq!(distance.func, "sum");
        let range = d.ranges.iter().find(|r| r.column == "dep_delay").unwrap();
        assert_eq!(
            range.min,
            df.column("dep_delay")
                .unwrap()
                .min_reduce()
                .unwrap()
                .value()
                .extract::<i64>()
                .map(Value::from)
                .unwrap()
        );
        assert!(
            !d.ranges.iter().any(|r| r.column == "year"),
            "a constant has no range"
        );
    }

    #[test]
    fn a_table_of_numbers_only() {
        let mut r = Lcg(7);
        let rows = 5_000;
        let minute: Vec<i64> = (0..rows).map(|i| i / 10).collect();
        let temperature: Vec<f64> = (0..rows)
            .map(|_| r.below(400) as f64 / 10.0 - 10.0)
            .collect();
        let energy: Vec<i64> = (0..rows).map(|_| r.below(500) as i64).collect();
        let share: Vec<f64> = (0..rows).map(|_| r.below(1000) as f64 / 1000.0).collect();
        let df = df!(
            "minute" => minute, "temperature" => temperature, "energy" => energy, "share" => share,
        )
        .unwrap();
        let d = layout(&df);
        assert!(d.filters.is_empty(), "{:?}", d.filters);
        assert_eq!(d.x.as_deref(), Some("minute"));
        let measures = measure_columns(&d);
        assert_eq!(measures.len(), 3, "{measures:?}");
        assert!(!measures.contains(&"minute"));
        let func = |name: &str| {
            d.measures
                .iter()
                .find(|m| m.column.as_deref() == Some(name))
                .unwrap()
                .func
        };
        assert_eq!(
            (func("temperature"), func("share"), func("energy")),
            ("mean", "mean", "sum")
        );
        assert_eq!(d.ranges.len(), 4);
    }
}
