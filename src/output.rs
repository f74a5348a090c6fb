//! Frames as JSON: the shape the CLI and the server print.

use polars::prelude::{AnyValue, DataFrame};
use serde_json::{Number, Value as Json};

/// The column names of `frame`.
pub fn columns_json(frame: &DataFrame) -> Vec<String> {
    frame
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The rows of `frame` as JSON arrays, in column order. Numbers stay
/// numbers (a float that is not finite becomes `null`), dates are
/// `"YYYY-MM-DD"` strings, nulls are `null`.
pub fn rows_json(frame: &DataFrame) -> Vec<Vec<Json>> {
    let columns: Vec<_> = frame
        .columns()
        .iter()
        .map(|c| c.as_materialized_series())
        .collect();
    (0..frame.height())
        .map(|row| {
            columns
                .iter()
                .map(|series| series.get(row).map_or(Json::Null, |v| cell(&v)))
                .collect()
        })
        .collect()
}

fn cell(value: &AnyValue<'_>) -> Json {
    match value {
        AnyValue::Null => Json::Null,
        AnyValue::Boolean(b) => Json::Bool(*b),
        AnyValue::Int8(v) => Json::from(*v),
        AnyValue::Int16(v) => Json::from(*v),
        AnyValue::Int32(v) => Json::from(*v),
        AnyValue::Int64(v) => Json::from(*v),
        AnyValue::UInt8(v) => Json::from(*v),
        AnyValue::UInt16(v) => Json::from(*v),
        AnyValue::UInt32(v) => Json::from(*v),
        AnyValue::UInt64(v) => Json::from(*v),
        AnyValue::Float32(v) => Number::from_f64(f64::from(*v)).map_or(Json::Null, Json::Number),
        AnyValue::Float64(v) => Number::from_f64(*v).map_or(Json::Null, Json::Number),
        AnyValue::String(s) => Json::String((*s).to_owned()),
        AnyValue::StringOwned(s) => Json::String(s.to_string()),
        other => Json::String(other.to_string().trim_matches('"').to_owned()),
    }
}
