//! Loading Parquet, Arrow IPC and NDJSON files into a frame shaped as the
//! CSV loader shapes one: the same categoricals, `Int32` columns and dates,
//! so that a table gives the same answers in every format it is stored in.
//!
//! Each file is read into memory whole, hashed, then parsed from there: the
//! fingerprint is the hash of exactly the bytes parsed, and a file truncated
//! during a load is a short read, not the `SIGBUS` of a memory map. The
//! price is the file's size beside the frame while it is parsed, which for
//! Parquet (compressed) is a fraction of the frame.

use std::io::Cursor;
use std::path::Path;
use std::time::Instant;

use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use super::csv::{self, PartRead};
use super::input::{Format, Input};
use super::nesting::Nesting;
use super::{LoadOptions, LoadTimings, dates};
use crate::{Error, Result};

/// What a load produced.
pub(super) struct Loaded {
    pub(super) frame: DataFrame,
    pub(super) parts: Vec<PartRead>,
    pub(super) timings: LoadTimings,
    /// The choices made on the first file, for files added later.
    pub(super) shape: Shape,
}

/// Reads every file of `input` (not CSV) as one table.
/// `progress` hears the bytes read so far after each file.
pub(super) fn load(
    input: &Input,
    options: &LoadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Loaded> {
    let started = Instant::now();
    let mut timings = LoadTimings::default();
    let mut shape: Option<Shape> = None;
    let mut frames = Vec::with_capacity(input.files.len());
    let mut parts = Vec::with_capacity(input.files.len());
    for path in &input.files {
        let (mut frame, part) = read_file(path, input.format, &mut timings)?;
        progress(timings.bytes);
        parts.push(part);
        let shaping = Instant::now();
        match &shape {
            None => shape = Some(Shape::decide(&mut frame, path, input.format, options)?),
            Some(shape) => shape.apply(&mut frame, path)?,
        }
        timings.categoricals += shaping.elapsed();
        frames.push(frame);
    }
    let frame = stack(frames, &mut timings)?;
    let narrowing = Instant::now();
    let mut frame = frame;
    for (name, _) in csv::narrowable(&frame, options) {
        let idx = frame
            .get_column_index(&name)
            .expect("a column of the frame");
        if csv::fits_i32(&frame.columns()[idx])? {
            let cast = frame.columns()[idx].cast(&DataType::Int32)?;
            frame.replace_column(idx, cast)?;
        }
    }
    timings.integers += narrowing.elapsed();
    timings.total = started.elapsed();
    Ok(Loaded {
        frame,
        parts,
        timings,
        shape: shape.expect("an input has at least one file"),
    })
}

/// `old` (loaded with `shape`) with the rows of `added`, files added after
/// its last, as a load of all of them would give it: the first file's
/// checks and casts, its dictionary, and `Int32` where every value of the
/// whole column fits.
pub(super) fn load_added(
    old: &DataFrame,
    shape: &Shape,
    added: &[std::path::PathBuf],
) -> Result<(DataFrame, Vec<PartRead>, LoadTimings)> {
    let started = Instant::now();
    let mut timings = LoadTimings::default();
    let mut frames = Vec::with_capacity(added.len());
    let mut parts = Vec::with_capacity(added.len());
    for path in added {
        let (mut frame, part) = read_file(path, shape.format, &mut timings)?;
        shape.apply(&mut frame, path)?;
        frames.push(frame);
        parts.push(part);
    }
    let mut added = stack(frames, &mut timings)?;
    let mut frame = old.clone();
    let narrowing = Instant::now();
    for idx in 0..frame.width() {
        // The loader narrowed this column: the new values decide whether
        // it stays narrow.
        if frame.columns()[idx].dtype() == &DataType::Int32
            && added.columns()[idx].dtype() == &DataType::Int64
        {
            if csv::fits_i32(&added.columns()[idx])? {
                let cast = added.columns()[idx].cast(&DataType::Int32)?;
                added.replace_column(idx, cast)?;
            } else {
                let wide = frame.columns()[idx].cast(&DataType::Int64)?;
                frame.replace_column(idx, wide)?;
            }
        }
    }
    timings.integers += narrowing.elapsed();
    frame.vstack_mut_owned(added)?;
    timings.total = started.elapsed();
    Ok((frame, parts, timings))
}

/// One file read whole, hashed and parsed.
fn read_file(
    path: &Path,
    format: Format,
    timings: &mut LoadTimings,
) -> Result<(DataFrame, PartRead)> {
    let reading = Instant::now();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    timings.read += reading.elapsed();
    let hashing = Instant::now();
    let part = PartRead {
        hash: xxh3_128(&bytes),
        bytes: bytes.len() as u64,
        ends_with_newline: bytes.last() == Some(&b'\n'),
    };
    timings.fingerprint += hashing.elapsed();
    timings.bytes += bytes.len() as u64;
    if format == Format::NdJson {
        let mut nesting = Nesting::default();
        if let Err(line) = nesting.feed(&bytes) {
            return Err(Error::MalformedFile {
                path: path.to_owned(),
                format,
                message: Nesting::message(line),
            });
        }
    }
    let parsing = Instant::now();
    // A damaged file can make a Polars reader panic (an index past a
    // buffer): that is this file's error, not the process's end.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parse(format, bytes).map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|panic| {
        Err(format!(
            "its reader panicked: {}",
            crate::error::panic_message(&*panic)
        ))
    });
    let frame = parsed.map_err(|message| Error::MalformedFile {
        path: path.to_owned(),
        format,
        message,
    })?;
    timings.parse += parsing.elapsed();
    Ok((frame, part))
}

/// The frames one below the other.
fn stack(frames: Vec<DataFrame>, timings: &mut LoadTimings) -> Result<DataFrame> {
    let assembling = Instant::now();
    let mut frames = frames.into_iter();
    let mut frame = frames.next().unwrap_or_default();
    for more in frames {
        frame.vstack_mut_owned(more)?;
    }
    timings.assemble += assembling.elapsed();
    Ok(frame)
}

/// One file's bytes as a frame. NDJSON is inferred from every line: with a
/// schema (the first file's, or the first lines'), Polars' JSON reader cuts
/// a float in an integer column to an integer, silently.
fn parse(format: Format, bytes: Vec<u8>) -> PolarsResult<DataFrame> {
    let cursor = Cursor::new(bytes);
    match format {
        Format::Parquet => ParquetReader::new(cursor).finish(),
        Format::Ipc => IpcReader::new(cursor).finish(),
        Format::NdJson => JsonReader::new(cursor)
            .with_json_format(JsonFormat::JsonLines)
            .infer_schema_len(None)
            .finish(),
        Format::Csv => unreachable!("CSV is loaded by `csv`"),
    }
}

/// The choices made on the first file, applied to the others.
#[derive(Debug, Clone)]
pub(super) struct Shape {
    format: Format,
    first: std::path::PathBuf,
    /// The first file's schema as read, before shaping.
    raw: SchemaRef,
    /// Its schema after shaping (before narrowing): what every file becomes.
    shaped: SchemaRef,
}

impl Shape {
    /// Shapes the first file as the CSV loader would: forced types, dates
    /// in NDJSON text, low-cardinality text as one categorical.
    fn decide(
        frame: &mut DataFrame,
        path: &Path,
        format: Format,
        options: &LoadOptions,
    ) -> Result<Shape> {
        let raw = frame.schema().clone();
        let categorical = DataType::from_categories(Categories::random(
            PlSmallStr::from_static("pqc"),
            CategoricalPhysical::U32,
        ));
        let malformed = |message: String| Error::MalformedFile {
            path: path.to_owned(),
            format,
            message,
        };
        for (name, ty) in &options.column_types {
            let Some(idx) = frame.get_column_index(name) else {
                continue;
            };
            let dtype = csv::dtype_of(*ty, &categorical);
            let cast = cast_exactly(&frame.columns()[idx], &dtype)
                .map_err(|message| malformed(format!("column `{name}`: {message}")))?;
            frame.replace_column(idx, cast)?;
        }
        // NDJSON has no date type: dates are text, typed as the CSV loader
        // types them (Parquet and IPC keep the types they were written with).
        if format == Format::NdJson && options.parse_dates {
            let forced: Vec<&str> = options
                .column_types
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            let sample = options.infer_schema_rows.unwrap_or(usize::MAX);
            let head = frame.slice(0, sample);
            for field in dates::date_columns(&head, &forced)? {
                let idx = frame
                    .get_column_index(field.name())
                    .expect("a column of the frame");
                // A later value that is no date keeps the column text.
                if let Ok(cast) = frame.columns()[idx].strict_cast(field.dtype()) {
                    frame.replace_column(idx, cast)?;
                }
            }
        }
        choose_text(frame, options, &categorical)?;
        Ok(Shape {
            format,
            first: path.to_owned(),
            raw,
            shaped: frame.schema().clone(),
        })
    }

    /// Gives a later file the first's shape, or says which column differs.
    /// Gives a later file the first's shape, or says which column differs.
    /// Types must be the first file's, but for text (each file has its own
    /// dictionary), a column of nulls alone, and NDJSON integers in a float
    /// column (a writer that drops `.0`); NDJSON keys may come in another
    /// order, and a key no line has is a column of nulls.
    fn apply(&self, frame: &mut DataFrame, path: &Path) -> Result<()> {
        let mismatch = |column: &str, message: String| Error::SchemaMismatch {
            path: path.to_owned(),
            first: self.first.clone(),
            column: column.to_owned(),
            message,
        };
        if self.format == Format::NdJson {
            let mut columns = Vec::with_capacity(self.raw.len());
            for (name, dtype) in self.raw.iter() {
                columns.push(match frame.column(name) {
                    Ok(column) => column.clone(),
                    Err(_) => Column::full_null(name.clone(), frame.height(), dtype),
                });
            }
            if let Some(extra) = frame
                .get_column_names()
                .into_iter()
                .find(|name| !self.raw.contains(name))
            {
                return Err(mismatch(
                    extra,
                    format!("it has a key `{extra}` the first file does not"),
                ));
            }
            *frame = DataFrame::new(frame.height(), columns)?;
        }
        let names: Vec<PlSmallStr> = frame.get_column_names_owned();
        for (i, (want, dtype)) in self.raw.iter().enumerate() {
            match names.get(i) {
                Some(found) if found == want => {}
                Some(found) => {
                    return Err(mismatch(
                        want,
                        format!(
                            "column {} is `{found}`, where the first file has `{want}`",
                            i + 1
                        ),
                    ));
                }
                None => {
                    return Err(mismatch(
                        want,
                        format!("it has {} columns and lacks `{want}`", names.len()),
                    ));
                }
            }
            let found = frame.columns()[i].dtype();
            let text = |d: &DataType| d.is_string() || d.is_categorical() || d.is_enum();
            let compatible = found == dtype
                || (text(found) && text(dtype))
                || found == &DataType::Null
                || (self.format == Format::NdJson
                    && dtype == &DataType::Float64
                    && found == &DataType::Int64);
            if !compatible {
                return Err(mismatch(
                    want,
                    format!("`{want}` is {found}, where the first file has {dtype}"),
                ));
            }
        }
        if let Some(extra) = names.get(self.raw.len()) {
            return Err(mismatch(
                extra,
                format!(
                    "it has an extra column `{extra}` ({} columns, not {})",
                    names.len(),
                    self.raw.len()
                ),
            ));
        }
        // A categorical of the file's own dictionary is cast to the first
        // file's straight, not through text (half the time of that).
        for (idx, (name, dtype)) in self.shaped.iter().enumerate() {
            if frame.columns()[idx].dtype() != dtype {
                let cast = cast_exactly(&frame.columns()[idx], dtype).map_err(|message| {
                    Error::MalformedFile {
                        path: path.to_owned(),
                        format: self.format,
                        message: format!("column `{name}`: {message}"),
                    }
                })?;
                frame.replace_column(idx, cast)?;
            }
        }
        Ok(())
    }
}

/// `column` as `dtype`, or why not: a value that does not convert, or one
/// that would change (a float with a fraction forced to an integer, which
/// Polars' cast truncates).
fn cast_exactly(column: &Column, dtype: &DataType) -> std::result::Result<Column, String> {
    let cast = column
        .strict_cast(dtype)
        .map_err(|e| format!("not {dtype}: {e}"))?;
    if column.dtype().is_float() && dtype.is_integer() {
        let back = cast
            .cast(column.dtype())
            .map_err(|e| format!("not {dtype}: {e}"))?;
        let same = back
            .as_materialized_series()
            .equal_missing(column.as_materialized_series())
            .map_err(|e| e.to_string())?;
        if !same.all() {
            return Err(format!("a value has a fraction, which {dtype} cannot hold"));
        }
    }
    Ok(cast)
}

/// Text columns as the CSV loader stores them: as a categorical when the
/// rows inference reads hold at most `categorical_max_distinct` values,
/// else as plain text. A file's own categorical that qualifies keeps its
/// dictionary (re-encoding ten million values costs a second and a copy);
/// plain text goes into `categorical`, the load's own.
fn choose_text(frame: &mut DataFrame, options: &LoadOptions, categorical: &DataType) -> Result<()> {
    let sample_rows = options.infer_schema_rows.unwrap_or(usize::MAX).max(1);
    for idx in 0..frame.width() {
        let column = &frame.columns()[idx];
        let dtype = column.dtype();
        let is_text = dtype.is_string() || dtype.is_categorical() || dtype.is_enum();
        let forced = options
            .column_types
            .iter()
            .find(|(name, _)| name.as_str() == column.name().as_str())
            .map(|(_, ty)| *ty);
        if !is_text || forced.is_some() {
            continue;
        }
        let few = options.categorical_max_distinct > 0
            && column.slice(0, sample_rows).n_unique()? <= options.categorical_max_distinct;
        let target = match (few, dtype) {
            (true, DataType::Categorical(..)) => continue,
            (true, _) => categorical.clone(),
            (false, DataType::String) => continue,
            (false, _) => DataType::String,
        };
        let cast = column.cast(&target)?;
        frame.replace_column(idx, cast)?;
    }
    Ok(())
}
