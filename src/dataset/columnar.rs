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
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Instant;

use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use super::csv::{self, PartRead};
use super::input::{Format, Input};
use super::{LoadOptions, LoadTimings, dates};
use crate::{Error, Result};

/// What a load produced.
pub(super) struct Loaded {
    pub(super) frame: DataFrame,
    pub(super) parts: Vec<PartRead>,
    pub(super) timings: LoadTimings,
}

/// Reads every file of `input` (not CSV) as one table.
pub(super) fn load(input: &Input, options: &LoadOptions) -> Result<Loaded> {
    let started = Instant::now();
    let mut timings = LoadTimings::default();
    let mut shape: Option<Shape> = None;
    let mut frames = Vec::with_capacity(input.files.len());
    let mut parts = Vec::with_capacity(input.files.len());
    for path in &input.files {
        let reading = Instant::now();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        timings.read += reading.elapsed();
        let hashing = Instant::now();
        parts.push(PartRead {
            hash: xxh3_128(&bytes),
            bytes: bytes.len() as u64,
            ends_with_newline: bytes.last() == Some(&b'\n'),
        });
        timings.fingerprint += hashing.elapsed();
        timings.bytes += bytes.len() as u64;
        let parsing = Instant::now();
        let raw = shape.as_ref().map(|s| s.raw.clone());
        let mut frame =
            parse(input.format, bytes, raw, options).map_err(|e| Error::MalformedFile {
                path: path.clone(),
                format: input.format,
                message: e.to_string(),
            })?;
        timings.parse += parsing.elapsed();
        let shaping = Instant::now();
        match &shape {
            None => shape = Some(Shape::decide(&mut frame, path, input.format, options)?),
            Some(shape) => shape.apply(&mut frame, path, &input.files[0], input.format)?,
        }
        timings.categoricals += shaping.elapsed();
        frames.push(frame);
    }
    let assembling = Instant::now();
    let mut frames = frames.into_iter();
    let mut frame = frames.next().expect("an input has at least one file");
    for more in frames {
        frame.vstack_mut_owned(more)?;
    }
    timings.assemble += assembling.elapsed();
    let narrowing = Instant::now();
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
    })
}

/// One file's bytes as a frame. `schema` is the first file's, as read:
/// NDJSON files after the first are read with it (a key one line lacks is
/// a null there, as everywhere in JSON).
fn parse(
    format: Format,
    bytes: Vec<u8>,
    schema: Option<SchemaRef>,
    options: &LoadOptions,
) -> PolarsResult<DataFrame> {
    let cursor = Cursor::new(bytes);
    match format {
        Format::Parquet => ParquetReader::new(cursor).finish(),
        Format::Ipc => IpcReader::new(cursor).finish(),
        Format::NdJson => {
            let infer = options
                .infer_schema_rows
                .and_then(NonZeroUsize::new)
                .or(NonZeroUsize::new(usize::MAX));
            let mut reader = JsonReader::new(cursor)
                .with_json_format(JsonFormat::JsonLines)
                .infer_schema_len(infer);
            if let Some(schema) = schema {
                reader = reader.with_schema(schema);
            }
            reader.finish()
        }
        Format::Csv => unreachable!("CSV is loaded by `csv`"),
    }
}

/// The choices made on the first file, applied to the others.
struct Shape {
    /// The first file's schema as read, before shaping.
    raw: SchemaRef,
    /// Its schema after shaping: what every file becomes.
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
        plain_text(frame)?;
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
            let cast = frame.columns()[idx]
                .strict_cast(&dtype)
                .map_err(|e| malformed(format!("column `{name}` is not {dtype}: {e}")))?;
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
        csv::to_categoricals(frame, options, &categorical)?;
        Ok(Shape {
            raw,
            shaped: frame.schema().clone(),
        })
    }

    /// Gives a later file the first's shape, or says which column differs.
    fn apply(
        &self,
        frame: &mut DataFrame,
        path: &Path,
        first: &Path,
        format: Format,
    ) -> Result<()> {
        let mismatch = |column: &str, message: String| Error::SchemaMismatch {
            path: path.to_owned(),
            first: first.to_owned(),
            column: column.to_owned(),
            message,
        };
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
            if found != dtype && !(text(found) && text(dtype)) {
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
        plain_text(frame)?;
        for (idx, dtype) in self.shaped.iter_values().enumerate() {
            if frame.columns()[idx].dtype() != dtype {
                let name = self
                    .shaped
                    .get_at_index(idx)
                    .map_or("", |(n, _)| n.as_str());
                let cast =
                    frame.columns()[idx]
                        .strict_cast(dtype)
                        .map_err(|e| Error::MalformedFile {
                            path: path.to_owned(),
                            format,
                            message: format!("column `{name}` is not {dtype}: {e}"),
                        })?;
                frame.replace_column(idx, cast)?;
            }
        }
        Ok(())
    }
}

/// Categoricals of the file's own dictionaries as text, to be chosen as
/// categoricals (or not) by the loader's rule, into the load's dictionary.
fn plain_text(frame: &mut DataFrame) -> Result<()> {
    let columns: Vec<usize> = frame
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| c.dtype().is_categorical() || c.dtype().is_enum())
        .map(|(i, _)| i)
        .collect();
    for idx in columns {
        let cast = frame.columns()[idx].cast(&DataType::String)?;
        frame.replace_column(idx, cast)?;
    }
    Ok(())
}
