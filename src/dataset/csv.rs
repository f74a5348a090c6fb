//! Parsing CSV bytes into a frame with Polars' multithreaded reader, then
//! storing low-cardinality text columns as categoricals.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::{ColumnType, LoadOptions, diagnose};
use crate::{Error, Result};

pub(super) fn parse(path: &Path, bytes: Vec<u8>, options: &LoadOptions) -> Result<DataFrame> {
    let malformed = |line: Option<u64>, message: String| Error::MalformedCsv {
        path: path.to_owned(),
        line,
        message,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(malformed(None, "the file is empty".to_owned()));
    }
    // Each load gets its own dictionary, freed with the dataset.
    let categories = Categories::random(PlSmallStr::from_static("pqc"), CategoricalPhysical::U32);
    let categorical = DataType::from_categories(categories.clone());
    let overrides: Schema = options
        .column_types
        .iter()
        .map(|(name, ty)| Field::new(name.into(), dtype_of(*ty, &categorical)))
        .collect();
    let null_values = (!options.null_values.is_empty()).then(|| {
        NullValues::AllColumns(
            options
                .null_values
                .iter()
                .map(|s| s.as_str().into())
                .collect(),
        )
    });
    let parse_options = CsvParseOptions::default()
        .with_separator(options.delimiter)
        .with_quote_char(options.quote_char)
        .with_null_values(null_values)
        .with_missing_is_null(true)
        .with_try_parse_dates(options.parse_dates);
    let read_options = CsvReadOptions::default()
        .with_has_header(options.has_header)
        .with_infer_schema_length(options.infer_schema_rows)
        .with_schema_overwrite((!overrides.is_empty()).then(|| Arc::new(overrides)))
        .with_parse_options(parse_options)
        .with_raise_if_empty(true)
        .with_rechunk(true);
    let parsed = read_options
        .into_reader_with_file_handle(Cursor::new(&bytes))
        .finish();
    let mut frame = match parsed {
        Ok(frame) => frame,
        Err(err) => {
            let (line, detail) = match diagnose::first_bad_record(&bytes, options) {
                Some((line, detail)) => (Some(line), format!("{detail} ({err})")),
                None => (None, err.to_string()),
            };
            return Err(malformed(line, detail));
        }
    };
    if let Some((line, detail)) = short_rows(&frame, &bytes, options) {
        return Err(malformed(Some(line), detail));
    }
    to_categoricals(&mut frame, options, &categorical)?;
    if options.shrink_integers {
        shrink_integers(&mut frame, options)?;
    }
    Ok(frame)
}

fn dtype_of(ty: ColumnType, categorical: &DataType) -> DataType {
    match ty {
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Str => DataType::String,
        ColumnType::Categorical => categorical.clone(),
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Date => DataType::Date,
    }
}

/// Polars fills the missing cells of a short row with nulls; a table with
/// ragged rows is malformed, so look for one when the last column has nulls
/// (a short row always leaves the last cell empty).
fn short_rows(frame: &DataFrame, bytes: &[u8], options: &LoadOptions) -> Option<(u64, String)> {
    let last = frame.columns().last()?;
    if frame.width() < 2 || last.null_count() == 0 {
        return None;
    }
    diagnose::first_bad_record(bytes, options)
}

fn to_categoricals(
    frame: &mut DataFrame,
    options: &LoadOptions,
    categorical: &DataType,
) -> Result<()> {
    if options.categorical_max_distinct == 0 {
        return Ok(());
    }
    let sample_rows = options.infer_schema_rows.unwrap_or(usize::MAX).max(1);
    let forced_text: Vec<&str> = options
        .column_types
        .iter()
        .filter(|(_, ty)| *ty == ColumnType::Str)
        .map(|(name, _)| name.as_str())
        .collect();
    let mut convert = Vec::new();
    for (idx, column) in frame.columns().iter().enumerate() {
        if column.dtype() != &DataType::String || forced_text.contains(&column.name().as_str()) {
            continue;
        }
        let distinct = column.slice(0, sample_rows).n_unique()?;
        if distinct <= options.categorical_max_distinct {
            convert.push(idx);
        }
    }
    for idx in convert {
        let cast = frame.columns()[idx].cast(categorical)?;
        frame.replace_column(idx, cast)?;
    }
    Ok(())
}

fn shrink_integers(frame: &mut DataFrame, options: &LoadOptions) -> Result<()> {
    let forced: Vec<&str> = options
        .column_types
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    let mut convert = Vec::new();
    for (idx, column) in frame.columns().iter().enumerate() {
        if column.dtype() != &DataType::Int64 || forced.contains(&column.name().as_str()) {
            continue;
        }
        let values = column.as_materialized_series().i64()?;
        let fits = |v: Option<i64>| v.is_none_or(|v| i32::try_from(v).is_ok());
        if fits(values.min()) && fits(values.max()) {
            convert.push(idx);
        }
    }
    for idx in convert {
        let cast = frame.columns()[idx].cast(&DataType::Int32)?;
        frame.replace_column(idx, cast)?;
    }
    Ok(())
}
