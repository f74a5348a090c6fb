//! Which text columns Polars' `try_parse_dates` would read as dates, found
//! at a fraction of its cost.
//!
//! Polars infers a column's type from each sampled value, and with
//! `try_parse_dates` it tries every one of its 88 date and time formats
//! (through chrono) on every value that is not a number or a boolean. On a
//! table with a few text columns that is most of a small file's load (200
//! ms of the bundled sample's 210) and 0.4 s of a large one's, all on one
//! core. Every one of those formats starts with a number, so a value whose
//! first character (after spaces) is not a digit or a sign cannot be a date
//! or a time: its type is what inference without dates gives. The loader
//! infers without dates, then asks this module about the text columns,
//! trying the formats only on values that could match. The types are
//! Polars' own, value by value, merged by Polars' own rule.

use polars::io::csv::read::schema_inference::{finish_infer_field_schema, infer_field_schema};
use polars::prelude::*;

/// The columns of `frame` (read without date inference, from the rows
/// inference reads) that inference with dates would type otherwise, with
/// that type. `forced` columns keep the type they were given.
pub(super) fn date_columns(frame: &DataFrame, forced: &[&str]) -> PolarsResult<Vec<Field>> {
    let mut found = Vec::new();
    for column in frame.columns() {
        if column.dtype() != &DataType::String || forced.contains(&column.name().as_str()) {
            continue;
        }
        let values = column.str()?;
        if !values.iter().flatten().any(could_be_temporal) {
            continue;
        }
        let mut types = PlIndexSet::default();
        for value in values.iter().flatten() {
            types.insert(infer_field_schema(value, could_be_temporal(value), false));
        }
        let dtype = finish_infer_field_schema(&types);
        if dtype != DataType::String {
            found.push(Field::new(column.name().clone(), dtype));
        }
    }
    Ok(found)
}

/// Whether any date or time format could read `value`: each starts with a
/// number (`%Y`, `%d`, `%m`, `%y` or `%H`; a year may have a sign), and
/// chrono skips spaces before one.
fn could_be_temporal(value: &str) -> bool {
    value
        .trim_start()
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'+' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value Polars' inference with dates types as a date, datetime
    /// or time passes the screen.
    #[test]
    fn every_temporal_value_passes_the_screen() {
        for value in [
            "2024-03-31",
            "31-03-2024",
            "2024/03/31",
            "31.03.2024",
            "2024-03-31 12:00:00",
            "2024-03-31T12:00:00.123456",
            "2024-03-31T12:00:00Z",
            "2024-03-31T12:00:00+02:00",
            "12:30:00",
            " 2024-03-31",
        ] {
            let inferred = infer_field_schema(value, true, false);
            assert!(inferred.is_temporal(), "{value}: {inferred:?}");
            assert!(could_be_temporal(value), "{value}");
        }
        for value in ["Books", "March 31, 2024", "Sun 31 Mar", "", "T12:00"] {
            assert!(!could_be_temporal(value), "{value}");
            assert_eq!(
                infer_field_schema(value, true, false),
                infer_field_schema(value, false, false)
            );
        }
    }
}
