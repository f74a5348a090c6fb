//! What `/api/chart` draws: its parameters (`kind`, `series`, `top`), and
//! the answer laid out as categories along x with one line or bar group a
//! series, the smaller series and categories folded into one "other".
//!
//! "other" is exact for every aggregate: `sum`, `count`, `len`, `min` and
//! `max` fold the values drawn from; any other aggregate is asked of the
//! cache again, with the same filters plus `not_in` the values kept. Null
//! categories and series are labelled `null` and never folded (`not_in`
//! does not select nulls). Float categories and series are never folded
//! (NaN and ±inf would be counted twice); when a measure holds ±inf or NaN,
//! "other" is asked of the cache, and left out (the title says so) when it
//! is not finite.

use std::collections::HashMap;

use tokio::time::Instant;

use serde_json::Value as Json;

use super::AppState;
use super::chart::Plot;
use super::error::AppError;
use super::number_format::NumberFormat;
use crate::output::{columns_json, rows_json};
use crate::{AggFn, Query, Value};

/// At most this many series are drawn (besides `null`); the rest are one
/// "other".
const MAX_SERIES: usize = 8;

/// Bars drawn by default (besides `null`); the rest are one "other".
const DEFAULT_TOP: usize = 12;

/// Which chart to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Line,
    Bar,
    /// A bar chart when x is text, categories or booleans, else a line.
    Auto,
}

/// The parameters of `/api/chart`.
#[derive(Debug, Clone)]
pub(crate) struct ChartParams {
    kind: Kind,
    series: Option<String>,
    top: Option<usize>,
    /// How the y axis writes the measure.
    format: Option<NumberFormat>,
}

impl ChartParams {
    /// The parameters in the address's query string.
    pub(crate) fn from_uri(uri: &axum::http::Uri) -> Result<ChartParams, AppError> {
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|e| AppError::BadRequest(format!("the chart parameters: {e}")))?
            .0;
        let mut params = ChartParams {
            kind: Kind::Auto,
            series: None,
            top: None,
            format: None,
        };
        for (name, value) in pairs {
            match name.as_str() {
                "kind" => {
                    params.kind = match value.as_str() {
                        "line" => Kind::Line,
                        "bar" => Kind::Bar,
                        "auto" => Kind::Auto,
                        _ => {
                            return Err(AppError::BadRequest(format!(
                                "kind `{}` is not a chart: line, bar or auto",
                                crate::error::excerpt_quoted(&value)
                            )));
                        }
                    }
                }
                "series" => params.series = Some(value),
                "top" => match value.parse::<usize>() {
                    Ok(n) if n > 0 => params.top = Some(n),
                    _ => {
                        return Err(AppError::BadRequest(format!(
                            "top `{}` is not a positive whole number",
                            crate::error::excerpt_quoted(&value)
                        )));
                    }
                },
                "format" => match value.parse::<NumberFormat>() {
                    Ok(format) => params.format = Some(format),
                    Err(e) => {
                        return Err(AppError::BadRequest(format!(
                            "format `{}`: {e}",
                            crate::error::excerpt_quoted(&value)
                        )));
                    }
                },
                // The bearer token, read by the guard.
                "token" => {}
                _ => {
                    return Err(AppError::BadRequest(format!(
                        "unknown chart parameter `{}`: the chart takes kind, series, top and format",
                        crate::error::excerpt_quoted(&name)
                    )));
                }
            }
        }
        Ok(params)
    }

    fn check(&self, query: &Query) -> Result<(), AppError> {
        // The series name and the group-by list are the caller's text:
        // quoted as excerpts, the whole message bounded.
        let bad = |m: String| {
            Err(AppError::BadRequest(
                crate::error::excerpt_quoted(&m).into_owned(),
            ))
        };
        if let Some(series) = &self.series {
            if !query.group_by.contains(series) {
                return bad(format!(
                    "series `{}` is not among the query's group_by columns {:?}; \
                     group by [x, series]",
                    crate::error::excerpt_quoted(series),
                    query.group_by
                ));
            }
            if query.group_by.len() != 2 || query.group_by[1] != *series {
                return bad(format!(
                    "with series `{series}` the query groups by exactly [x, {series}], not {:?}",
                    query.group_by
                ));
            }
            if query.aggs.is_empty() {
                return bad("a chart with series needs an aggregate to draw".to_owned());
            }
        }
        if self.top.is_some() {
            if query.limit.is_some() {
                return bad(
                    "`top` folds what a `limit` would cut off: send one of the two".to_owned(),
                );
            }
            if !self.foldable(query) {
                return bad(
                    "`top` needs a query grouped by its x column alone (or by [x, series] with \
                     `series`) and with an aggregate"
                        .to_owned(),
                );
            }
        }
        Ok(())
    }

    /// Whether categories and series can be folded into "other".
    fn foldable(&self, query: &Query) -> bool {
        let grouped = if self.series.is_some() { 2 } else { 1 };
        query.limit.is_none() && query.group_by.len() == grouped && !query.aggs.is_empty()
    }
}

/// One line or bar group before folding.
struct Line {
    /// The series' value (`None` for a measure column of its own).
    key: Option<Json>,
    label: String,
    /// The measure's output column.
    measure: String,
    func: Option<AggFn>,
    values: Vec<Option<f64>>,
}

/// Which of a list to keep; the rest fold into "other".
struct Fold {
    kept: Vec<usize>,
    rest: Vec<usize>,
}

impl Fold {
    /// Keeps the `n` largest by `total` and every null, in their order.
    fn largest(keys: &[Json], n: Option<usize>, total: impl Fn(usize) -> f64) -> Fold {
        let mut ranked: Vec<usize> = (0..keys.len()).filter(|&i| !keys[i].is_null()).collect();
        let Some(n) = n.filter(|n| ranked.len() > *n) else {
            return Fold {
                kept: (0..keys.len()).collect(),
                rest: Vec::new(),
            };
        };
        // Each total once: a total may cost a pass over every line.
        let totals: Vec<f64> = (0..keys.len()).map(total).collect();
        ranked.sort_by(|a, b| totals[*b].total_cmp(&totals[*a]));
        let rest: Vec<usize> = ranked.split_off(n);
        let mut folded = vec![false; keys.len()];
        for &i in &rest {
            folded[i] = true;
        }
        Fold {
            kept: (0..keys.len()).filter(|&i| !folded[i]).collect(),
            rest,
        }
    }

    /// How many [`Fold::largest`] keeps, "other" included: known before
    /// any total is computed.
    fn drawn(keys: &[Json], n: Option<usize>) -> usize {
        let nulls = keys.iter().filter(|k| k.is_null()).count();
        match n {
            Some(n) if keys.len() - nulls > n => n + nulls + 1,
            _ => keys.len(),
        }
    }

    fn kept_values(&self, keys: &[Json]) -> Vec<Json> {
        self.kept
            .iter()
            .map(|&i| keys[i].clone())
            .filter(|k| !k.is_null())
            .collect()
    }
}

fn label(value: &Json) -> String {
    match value {
        Json::Null => "null".to_owned(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn total(values: &[Option<f64>]) -> f64 {
    values.iter().flatten().filter(|v| v.is_finite()).sum()
}

/// Whether the aggregate of a union of groups is the fold of theirs.
fn folds(func: AggFn) -> bool {
    matches!(
        func,
        AggFn::Sum | AggFn::Count | AggFn::Len | AggFn::Min | AggFn::Max
    )
}

/// Folds values drawn from, for the aggregates that [`folds`] allows.
fn fold_local(func: AggFn, values: impl Iterator<Item = Option<f64>>) -> Option<Option<f64>> {
    let present = values.flatten();
    Some(match func {
        AggFn::Sum | AggFn::Count | AggFn::Len => present.reduce(|a, b| a + b),
        AggFn::Min => present.reduce(f64::min),
        AggFn::Max => present.reduce(f64::max),
        _ => return None,
    })
}

/// The answer over the rows whose columns hold none of the values kept,
/// grouped by `group_by`: an "other" for aggregates that do not fold.
struct Rest {
    names: Vec<String>,
    rows: Vec<Vec<Json>>,
    /// Each column as numbers, read from the frame (JSON writes ±inf and
    /// NaN as `null`).
    numbers: Vec<Option<Vec<Option<f64>>>>,
}

impl Rest {
    async fn ask(
        state: &AppState,
        deadline: Instant,
        query: &Query,
        excluded: &[(&str, Vec<Json>)],
        group_by: &[&str],
    ) -> Result<Rest, AppError> {
        let mut rest = query.clone();
        rest.sort.clear();
        rest.group_by = group_by.iter().map(|c| (*c).to_owned()).collect();
        for (column, values) in excluded {
            let values = values
                .iter()
                .map(|v| Value::from_json(v.clone()))
                .collect::<Result<Vec<Value>, String>>()
                .map_err(AppError::BadRequest)?;
            rest = rest.not_in(column, values);
        }
        state.limits().check(&rest)?;
        let frame = state.answer_by(rest, deadline).await?;
        let df = frame.dataframe();
        Ok(Rest {
            names: columns_json(df),
            rows: rows_json(df),
            numbers: df.columns().iter().map(numbers).collect(),
        })
    }

    /// The measure in the row whose first column is `key` (the only row
    /// when `key` is `None`).
    /// A value that is not finite is `Err`: it cannot be drawn.
    fn value(&self, key: Option<&Json>, measure: &str) -> Result<Option<f64>, ()> {
        let Some(column) = self.names.iter().position(|n| n == measure) else {
            return Ok(None);
        };
        let row = match key {
            Some(key) => self.rows.iter().position(|r| r.first() == Some(key)),
            None => (!self.rows.is_empty()).then_some(0),
        };
        let Some(row) = row else { return Ok(None) };
        match self.numbers[column].as_ref().and_then(|v| v[row]) {
            Some(v) if !v.is_finite() => Err(()),
            v => Ok(v),
        }
    }
}

/// A numeric column's values as f64 (`None` for other columns).
fn numbers(column: &polars::prelude::Column) -> Option<Vec<Option<f64>>> {
    if !column.dtype().is_primitive_numeric() {
        return None;
    }
    let column = column.cast(&polars::prelude::DataType::Float64).ok()?;
    Some(column.f64().ok()?.iter().collect())
}

/// For a float column, each value's grouping key and label: NaN and ±inf
/// are written `null` in JSON but are neither null nor one another.
fn float_keys(
    column: &polars::prelude::Column,
    json: impl Iterator<Item = Json>,
) -> Option<Vec<(String, String)>> {
    if !column.dtype().is_float() {
        return None;
    }
    let values = numbers(column)?;
    Some(
        values
            .into_iter()
            .zip(json)
            .map(|(v, j)| match v {
                None => ("null".to_owned(), "null".to_owned()),
                Some(v) if v.is_nan() => ("nan".to_owned(), "NaN".to_owned()),
                Some(v) if v.is_infinite() => (format!("{v}"), format!("{v}")),
                Some(_) => (j.to_string(), label(&j)),
            })
            .collect(),
    )
}

/// The refusal of a chart with more points than `max`.
pub(crate) fn too_many_points(points: usize, max: usize) -> AppError {
    AppError::OverLimit(format!(
        "the chart would have {points} points, more than the {max} a chart may draw; \
         add a `limit`, a `top`, or group by a column with fewer values"
    ))
}

/// The answer as categories and series, with what to keep of each.
struct Layout {
    kind: Kind,
    numeric_x: bool,
    names: Vec<String>,
    xs: Vec<Json>,
    /// Each category's label.
    x_labels: Vec<String>,
    /// Whether a measure drawn holds a value that is not finite: its
    /// "other" cannot be folded from the JSON values.
    non_finite: bool,
    lines: Vec<Line>,
    /// Each line's series value (`null` for measure columns).
    keys: Vec<Json>,
    by_x: Fold,
    by_series: Fold,
}

/// Layouts touching more cells than this run on the blocking pool.
const INLINE_CELLS: usize = 16_384;

/// Whether laying out `df` is cheap enough for the async worker: decided
/// by the cells the layout touches (categories × series with `series`,
/// else rows × columns), not by the answer's rows.
fn inline(df: &polars::prelude::DataFrame, series: bool) -> bool {
    let rows = df.height();
    if rows.saturating_mul(df.width()) > INLINE_CELLS {
        return false;
    }
    if !series {
        return true;
    }
    let distinct = |i: usize| {
        df.columns()
            .get(i)
            .and_then(|c| c.n_unique().ok())
            .unwrap_or(rows)
    };
    distinct(0).saturating_mul(distinct(1)) <= INLINE_CELLS
}

/// Answers the query and lays it out for the chart `params` ask for, with
/// every query it asks answered by `deadline`.
pub(crate) async fn plot(
    state: &AppState,
    deadline: Instant,
    query: Query,
    params: &ChartParams,
) -> Result<(Plot, Kind), AppError> {
    params.check(&query)?;
    let limits = state.limits();
    let max_points = limits.max_chart_points;
    if let Some(top) = params.top {
        if top > max_points {
            return Err(AppError::OverLimit(format!(
                "`top` {top} is more than the {max_points} points a chart may draw; \
                 ask for a smaller `top`"
            )));
        }
        if top > limits.max_in_list {
            return Err(AppError::OverLimit(format!(
                "`top` {top} would keep more values than the {} a `not_in` list may hold \
                 (the limit on query lists); ask for a smaller `top`",
                limits.max_in_list
            )));
        }
    }
    let frame = state.answer_by(query.clone(), deadline).await?;
    let limits = state.limits();
    limits.check_cells(frame.height(), frame.width())?;
    let max_cells = limits.max_cells;
    let layout = if inline(frame.dataframe(), params.series.is_some()) {
        layout(frame.dataframe(), &query, params, max_cells, max_points)?
    } else {
        let (query, params) = (query.clone(), params.clone());
        state
            .offload_by(
                move || layout(frame.dataframe(), &query, &params, max_cells, max_points),
                deadline,
            )
            .await?
    };
    let (kind, names) = (layout.kind, &layout.names);
    let (xs, lines, keys) = (&layout.xs, &layout.lines, &layout.keys);
    let (by_x, by_series) = (&layout.by_x, &layout.by_series);

    // "other" for aggregates that do not fold: asked of the cache.
    let local = !layout.non_finite && lines.iter().all(|l| l.func.is_some_and(folds));
    // An "other" that is not finite is left out, and the title says so.
    let mut left_out = false;
    let mut asked = |value: Result<Option<f64>, ()>| {
        value.unwrap_or_else(|()| {
            left_out = true;
            None
        })
    };
    let x_column = query.group_by.first().map(String::as_str).unwrap_or("");
    let series_column = params.series.as_deref().unwrap_or("");
    let series_by = if params.series.is_some() {
        vec![series_column]
    } else {
        Vec::new()
    };
    let kept_x = (x_column, by_x.kept_values(xs));
    let kept_series = (series_column, by_series.kept_values(keys));
    let (rest_x, rest_series, rest_both) = if local {
        (None, None, None)
    } else {
        let rest_x = if by_x.rest.is_empty() {
            None
        } else {
            Some(
                Rest::ask(
                    state,
                    deadline,
                    &query,
                    std::slice::from_ref(&kept_x),
                    &series_by,
                )
                .await?,
            )
        };
        let rest_series = if by_series.rest.is_empty() {
            None
        } else {
            Some(
                Rest::ask(
                    state,
                    deadline,
                    &query,
                    std::slice::from_ref(&kept_series),
                    &[x_column],
                )
                .await?,
            )
        };
        let rest_both = if by_x.rest.is_empty() || by_series.rest.is_empty() {
            None
        } else {
            let both = [kept_x.clone(), kept_series.clone()];
            Some(Rest::ask(state, deadline, &query, &both, &[]).await?)
        };
        (rest_x, rest_series, rest_both)
    };

    let folded = |func: Option<AggFn>, values: Vec<Option<f64>>| {
        func.and_then(|f| fold_local(f, values.into_iter()))
            .flatten()
    };
    let mut series: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    for &l in &by_series.kept {
        let line = &lines[l];
        let mut values: Vec<Option<f64>> = by_x.kept.iter().map(|&x| line.values[x]).collect();
        if !by_x.rest.is_empty() {
            values.push(match &rest_x {
                Some(rest) => asked(rest.value(line.key.as_ref(), &line.measure)),
                None => folded(
                    line.func,
                    by_x.rest.iter().map(|&x| line.values[x]).collect(),
                ),
            });
        }
        series.push((line.label.clone(), values));
    }
    if let Some(&first) = by_series.rest.first() {
        let (func, measure) = (lines[first].func, lines[first].measure.clone());
        let mut values: Vec<Option<f64>> = by_x
            .kept
            .iter()
            .map(|&x| match &rest_series {
                Some(rest) => asked(rest.value(Some(&xs[x]), &measure)),
                None => folded(
                    func,
                    by_series.rest.iter().map(|&l| lines[l].values[x]).collect(),
                ),
            })
            .collect();
        if !by_x.rest.is_empty() {
            values.push(match &rest_both {
                Some(rest) => asked(rest.value(None, &measure)),
                None => folded(
                    func,
                    by_series
                        .rest
                        .iter()
                        .flat_map(|&l| by_x.rest.iter().map(move |&x| (l, x)))
                        .map(|(l, x)| lines[l].values[x])
                        .collect(),
                ),
            });
        }
        series.push(("other".to_owned(), values));
    }

    let mut labels: Vec<String> = by_x
        .kept
        .iter()
        .map(|&x| layout.x_labels[x].clone())
        .collect();
    if !by_x.rest.is_empty() {
        labels.push("other".to_owned());
    }
    // A null category has no place on a number line: with one, the
    // categories are spaced evenly and labelled, "null" among them.
    let positions = (kind == Kind::Line && layout.numeric_x && by_x.rest.is_empty())
        .then(|| by_x.kept.iter().map(|&x| xs[x].as_f64()).collect())
        .and_then(|p: Vec<Option<f64>>| p.into_iter().collect());
    let mut title = match (names.as_slice(), &params.series) {
        ([x, s, y, ..], Some(_)) => format!("{y} by {x} and {s}"),
        ([x, y, ..], None) => format!("{y} by {x}"),
        _ => String::new(),
    };
    if left_out {
        title.push_str(" (\"other\" left out: not finite)");
    }
    if labels.is_empty() {
        title.push_str(" (no rows)");
    }
    Ok((
        Plot {
            title,
            x_name: names.first().cloned().unwrap_or_default(),
            labels,
            positions,
            series,
            y_format: params.format,
        },
        kind,
    ))
}

/// Lays out an answer: categories along x, one line per series value (or
/// per measure column), and which of them to keep.
fn layout(
    df: &polars::prelude::DataFrame,
    query: &Query,
    params: &ChartParams,
    max_cells: usize,
    max_points: usize,
) -> Result<Layout, AppError> {
    let names = columns_json(df);
    let Some(x) = df.columns().first() else {
        return Err(AppError::BadRequest(
            "a chart needs at least one output column".to_owned(),
        ));
    };
    let dtype = x.dtype();
    let kind = match params.kind {
        Kind::Auto if dtype.is_string() || dtype.is_categorical() || dtype.is_enum() => Kind::Bar,
        Kind::Auto if dtype.is_bool() => Kind::Bar,
        Kind::Auto => Kind::Line,
        chosen => chosen,
    };
    let numeric_x = dtype.is_primitive_numeric();
    let rows = rows_json(df);
    let grouped = query.group_by.len();
    let func_of = |column: usize| {
        column
            .checked_sub(grouped)
            .and_then(|i| query.aggs.get(i))
            .map(|a| a.func)
    };

    // Float categories or series are never folded: NaN and ±inf are
    // `null` in JSON, and `not_in` would count their rows in "other".
    let float_x = dtype.is_float();
    let float_series = params.series.is_some() && df.columns()[1].dtype().is_float();
    let foldable = params.foldable(query) && !float_x && !float_series;
    let top = match (params.top, kind) {
        (Some(n), _) => Some(n),
        (None, Kind::Bar) if foldable => Some(DEFAULT_TOP),
        _ => None,
    };
    let x_keys = float_keys(x, rows.iter().map(|r| r[0].clone()));
    let key_of = |keys: &Option<Vec<(String, String)>>, i: usize, json: &Json| match keys {
        Some(k) => k[i].clone(),
        None => (json.to_string(), label(json)),
    };
    // The points drawn, refused before the values are laid out.
    let check_points = |xs: &[Json], lines: usize| {
        let labels = Fold::drawn(xs, top.filter(|_| foldable));
        let series = if params.series.is_some() && foldable {
            Fold::drawn(&vec![Json::Bool(true); lines], Some(MAX_SERIES))
        } else {
            lines
        };
        let points = labels.saturating_mul(series.max(1));
        if points > max_points {
            return Err(too_many_points(points, max_points));
        }
        Ok(())
    };

    let mut xs: Vec<Json> = Vec::new();
    let mut x_labels: Vec<String> = Vec::new();
    let mut lines: Vec<Line> = Vec::new();
    let mut non_finite = false;
    if params.series.is_some() {
        let measure = grouped;
        if !df.columns()[measure].dtype().is_primitive_numeric() {
            return Err(AppError::BadRequest(format!(
                "the measure `{}` is not numeric",
                crate::error::excerpt(&names[measure])
            )));
        }
        non_finite = numbers(&df.columns()[measure])
            .is_some_and(|v| v.iter().flatten().any(|v| !v.is_finite()));
        let s_keys = float_keys(&df.columns()[1], rows.iter().map(|r| r[1].clone()));
        let mut x_index: HashMap<String, usize> = HashMap::new();
        let mut s_index: HashMap<String, usize> = HashMap::new();
        let mut cells: HashMap<(usize, usize), f64> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            let (x_key, x_label) = key_of(&x_keys, i, &row[0]);
            let xi = *x_index.entry(x_key).or_insert_with(|| {
                xs.push(row[0].clone());
                x_labels.push(x_label);
                xs.len() - 1
            });
            let (s_key, s_label) = key_of(&s_keys, i, &row[1]);
            let si = *s_index.entry(s_key).or_insert_with(|| {
                lines.push(Line {
                    key: Some(row[1].clone()),
                    label: s_label,
                    measure: names[measure].clone(),
                    func: func_of(measure),
                    values: Vec::new(),
                });
                lines.len() - 1
            });
            if let Some(v) = row[measure].as_f64() {
                cells.insert((si, xi), v);
            }
        }
        // Every category of every series, before folding: bounded like an
        // answer.
        if xs.len().saturating_mul(lines.len()) > max_cells {
            return Err(AppError::OverLimit(format!(
                "{} categories by {} series is more than the {max_cells} cells an answer may hold; \
                 filter the query",
                xs.len(),
                lines.len()
            )));
        }
        check_points(&xs, lines.len())?;
        for (si, line) in lines.iter_mut().enumerate() {
            line.values = (0..xs.len())
                .map(|xi| cells.get(&(si, xi)).copied())
                .collect();
        }
    } else {
        xs = rows.iter().map(|r| r[0].clone()).collect();
        x_labels = (0..xs.len())
            .map(|i| key_of(&x_keys, i, &xs[i]).1)
            .collect();
        let measures = df
            .columns()
            .iter()
            .skip(1)
            .filter(|c| c.dtype().is_primitive_numeric())
            .count();
        check_points(&xs, measures)?;
        for (i, column) in df.columns().iter().enumerate().skip(1) {
            if column.dtype().is_primitive_numeric() {
                non_finite |=
                    numbers(column).is_some_and(|v| v.iter().flatten().any(|v| !v.is_finite()));
                lines.push(Line {
                    key: None,
                    label: names[i].clone(),
                    measure: names[i].clone(),
                    func: func_of(i),
                    values: rows.iter().map(|r| r[i].as_f64()).collect(),
                });
            }
        }
    }

    let keys: Vec<Json> = lines
        .iter()
        .map(|l| l.key.clone().unwrap_or(Json::Null))
        .collect();
    let by_series = if params.series.is_some() && foldable {
        Fold::largest(&keys, Some(MAX_SERIES), |l| total(&lines[l].values))
    } else {
        Fold::largest(&keys, None, |_| 0.0)
    };
    let by_x = Fold::largest(&xs, top.filter(|_| foldable), |x| {
        lines.iter().filter_map(|l| l.values[x]).sum()
    });
    Ok(Layout {
        kind,
        numeric_x,
        names,
        xs,
        x_labels,
        non_finite,
        lines,
        keys,
        by_x,
        by_series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offload_decision_counts_the_cells_laid_out_not_the_rows() {
        // 3000 rows, each a category and a series of its own: few rows,
        // but 9M cells with `series`.
        let n = 3000u32;
        let df = polars::df!(
            "a" => (0..n).collect::<Vec<_>>(),
            "b" => (0..n).collect::<Vec<_>>(),
            "y" => vec![1.0; n as usize],
        )
        .unwrap();
        assert!(df.height() <= 4096);
        assert!(!inline(&df, true), "categories × series is 9M cells");
        assert!(inline(&df, false), "3000 rows × 3 columns");
        let small = df.head(Some(100));
        assert!(inline(&small, true));
    }

    #[test]
    fn ranking_computes_each_total_once() {
        let keys: Vec<Json> = (0..50).map(Json::from).collect();
        let calls = std::cell::Cell::new(0);
        let fold = Fold::largest(&keys, Some(3), |i| {
            calls.set(calls.get() + 1);
            i as f64
        });
        assert_eq!(calls.get(), 50);
        assert_eq!(fold.rest.len(), 47);
        assert!(fold.kept == [47, 48, 49]);
    }
}
