//! Parsing CSV into a frame, a block of records at a time, with Polars'
//! multithreaded reader.
//!
//! The first block is parsed as Polars would parse the whole file: it holds
//! every row schema inference reads, so the types come out the same. Which
//! text columns become categoricals is decided on it too; every later block
//! is parsed with that schema, so low-cardinality text goes straight into
//! the categorical and never exists as strings. Integer columns are
//! narrowed to `Int32` block by block while every value so far fits. The
//! peak is the frame plus one block and its parse, not the file beside the
//! frame beside a converted copy.

use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use polars::prelude::*;

use super::blocks::Blocks;
use super::compression::{self, Compression};
use super::{ColumnType, LoadOptions, LoadTimings, dates, diagnose};
use crate::{Error, Result};

/// What a load produced.
pub(super) struct Parsed {
    pub(super) frame: DataFrame,
    /// xxh3-128 of every byte read.
    pub(super) content_hash: u128,
    pub(super) timings: LoadTimings,
}

/// Where the CSV comes from.
pub(super) enum Source<'a> {
    /// A file, opened here.
    File(&'a Path),
    /// Bytes in memory; the path names them in errors.
    Bytes(&'a Path, &'a [u8]),
}

/// Parses a CSV file or bytes.
pub(super) fn parse(source: Source<'_>, options: &LoadOptions) -> Result<Parsed> {
    match source {
        Source::File(path) => {
            let (compression, reader) = compression::open(path).map_err(|e| Error::io(path, e))?;
            let whole = || {
                let (_, mut reader) = compression::open(path).ok()?;
                let mut bytes = Vec::new();
                reader.read_to_end(&mut bytes).ok().map(|_| bytes)
            };
            parse_from(path, reader, compression, options, whole)
        }
        Source::Bytes(path, bytes) => {
            let compression = Compression::of(bytes);
            let reader = compression.decode(bytes).map_err(|e| Error::io(path, e))?;
            let whole = || {
                let mut all = Vec::new();
                let mut reader = compression.decode(bytes).ok()?;
                reader.read_to_end(&mut all).ok().map(|_| all)
            };
            parse_from(path, reader, compression, options, whole)
        }
    }
}

/// Parses what `reader` yields; `path` names it in errors, and `whole`
/// reads it again, whole, only to say where a malformed file goes wrong.
fn parse_from(
    path: &Path,
    reader: impl Read + Send,
    compression: Compression,
    options: &LoadOptions,
    whole: impl Fn() -> Option<Vec<u8>>,
) -> Result<Parsed> {
    let started = Instant::now();
    let malformed = |line: Option<u64>, message: String| Error::MalformedCsv {
        path: path.to_owned(),
        line,
        message,
    };
    // The header and the rows inference reads, in the first block.
    let first_records = match options.infer_schema_rows {
        Some(rows) => rows.saturating_add(usize::from(options.has_header)).max(1),
        None => usize::MAX,
    };
    let blocks = Blocks::new(
        reader,
        options.block_bytes,
        first_records,
        options.delimiter,
        options.quote_char,
    );
    std::thread::scope(|scope| {
        // The next block is read and hashed on its own thread while this
        // one parses: Polars leaves a core idle in the sequential parts of
        // a parse (splitting a block into lines, inferring the schema).
        let (sender, received) = std::sync::mpsc::sync_channel(1);
        let reading = scope.spawn(move || read_blocks(blocks, &sender));
        let mut timings = LoadTimings::default();
        let mut loader = Loader::new(options);
        let mut width = 0;
        let mut first = true;
        // Polars' refusal of a block (its message), or a ragged row (none).
        let mut refused: Option<Option<String>> = None;
        for block in &received {
            let block = block.map_err(|e| match compression {
                // A decoder's error carries no OS error code: the file was
                // read, what it holds is broken. An OS error (EIO, EACCES)
                // is the file's, compressed or not.
                packed if packed != Compression::None && e.raw_os_error().is_none() => malformed(
                    None,
                    format!("the {} stream is corrupt: {e}", packed.name()),
                ),
                _ => Error::io(path, e),
            })?;
            if first && block.iter().all(u8::is_ascii_whitespace) {
                return Err(malformed(None, "the file is empty".to_owned()));
            }
            let parse_started = Instant::now();
            let parsed = loader.parse_block(&block, first);
            timings.parse += parse_started.elapsed();
            let frame = match parsed {
                Ok(frame) => frame,
                Err(err) => {
                    refused = Some(Some(err.to_string()));
                    break;
                }
            };
            if first {
                width = frame.width();
            }
            if has_short_rows(&frame, &block, width, first, options) {
                refused = Some(None);
                break;
            }
            loader.add(frame, first, &mut timings)?;
            first = false;
        }
        if let Some(polars) = refused {
            // Finding the bad line reads the whole file again: not beside
            // the blocks parsed so far, nor blocks read ahead (the reader
            // stops at its next send once nobody receives).
            drop(loader);
            drop(received);
            return Err(diagnosed(path, &whole, options, polars));
        }
        // The reader stops at the end of the file or at its first error,
        // which it sent; a panic there is a bug, said as one.
        let read = reading
            .join()
            .map_err(|_| Error::Compute(format!("reading {} panicked", path.display())))?;
        if first {
            return Err(malformed(None, "the file is empty".to_owned()));
        }
        let frame = loader.finish(&mut timings)?;
        timings.read = read.read_time();
        timings.fingerprint = read.hash_time();
        timings.bytes = read.read_bytes();
        timings.total = started.elapsed();
        Ok(Parsed {
            frame,
            content_hash: read.digest(),
            timings,
        })
    })
}

/// Sends each block, then any error, until the file ends or nobody is
/// receiving (the parse failed); gives back the reader and its hash.
fn read_blocks<R: Read>(
    mut blocks: Blocks<R>,
    sender: &std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
) -> Blocks<R> {
    loop {
        let next = blocks.next_block();
        let more = matches!(next, Ok(Some(_)));
        let sent = match next {
            Ok(Some(block)) => sender.send(Ok(block)),
            Ok(None) => break,
            Err(e) => sender.send(Err(e)),
        };
        if sent.is_err() || !more {
            break;
        }
    }
    blocks
}

/// The frame being built, and the choices made on the first block.
struct Loader<'a> {
    options: &'a LoadOptions,
    categorical: DataType,
    /// Every later block is read with the first block's schema, its
    /// categoricals decided, and with `Int32` for the columns narrowed so
    /// far (`narrowed`); `wide` has `Int64` for them, for a block where a
    /// value does not fit.
    wide: Option<SchemaRef>,
    narrowed: Option<SchemaRef>,
    blocks: Vec<DataFrame>,
    /// The `Int64` columns that may become `Int32`, with whether every
    /// value so far fits.
    narrow: Vec<(PlSmallStr, bool)>,
}

impl<'a> Loader<'a> {
    fn new(options: &'a LoadOptions) -> Self {
        // Each load gets its own dictionary, freed with the dataset.
        let categories =
            Categories::random(PlSmallStr::from_static("pqc"), CategoricalPhysical::U32);
        Loader {
            options,
            categorical: DataType::from_categories(categories),
            wide: None,
            narrowed: None,
            blocks: Vec::new(),
            narrow: Vec::new(),
        }
    }

    fn parse_block(&mut self, block: &[u8], first: bool) -> PolarsResult<DataFrame> {
        let read = |options: CsvReadOptions| {
            options
                .into_reader_with_file_handle(Cursor::new(block))
                .finish()
        };
        if first {
            // Inferred without dates (cheap), then the text columns that
            // could hold dates looked at alone (see `dates`); the first
            // block is only the inference rows, so reading it again with
            // their types costs little.
            let frame = read(self.read_options(How::Infer(Vec::new())))?;
            if !self.options.parse_dates {
                return Ok(frame);
            }
            let forced: Vec<&str> = self
                .options
                .column_types
                .iter()
                .map(|(name, _)| name.as_str())
                .collect();
            let dates = dates::date_columns(&frame, &forced)?;
            if dates.is_empty() {
                return Ok(frame);
            }
            return read(self.read_options(How::Infer(dates)));
        }
        let (Some(wide), Some(narrowed)) = (&self.wide, &self.narrowed) else {
            unreachable!("the first block set the schema");
        };
        match read(self.read_options(How::Schema(narrowed.clone()))) {
            // Polars refuses an integer out of the column's range: read
            // the block wide (where an error is the file's).
            Err(_) if !Arc::ptr_eq(wide, narrowed) => {
                read(self.read_options(How::Schema(wide.clone())))
            }
            parsed => parsed,
        }
    }

    /// How to read the first block (inferring its types, with `dates` set)
    /// or a later one.
    fn read_options(&self, how: How) -> CsvReadOptions {
        let options = self.options;
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
            .with_missing_is_null(true);
        let read = CsvReadOptions::default()
            .with_parse_options(parse_options)
            // One chunk a block: Polars leaves a chunk per thread and piece.
            .with_rechunk(true);
        match how {
            How::Schema(schema) => read.with_has_header(false).with_schema(Some(schema)),
            How::Infer(dates) => {
                let overrides: Schema = options
                    .column_types
                    .iter()
                    .map(|(name, ty)| Field::new(name.into(), dtype_of(*ty, &self.categorical)))
                    .chain(dates)
                    .collect();
                read.with_has_header(options.has_header)
                    .with_infer_schema_length(options.infer_schema_rows)
                    .with_schema_overwrite((!overrides.is_empty()).then(|| Arc::new(overrides)))
                    .with_raise_if_empty(true)
            }
        }
    }

    /// Takes a parsed block: the first decides the categoricals and the
    /// schema of the rest.
    fn add(&mut self, mut frame: DataFrame, first: bool, timings: &mut LoadTimings) -> Result<()> {
        if first {
            let started = Instant::now();
            to_categoricals(&mut frame, self.options, &self.categorical)?;
            timings.categoricals += started.elapsed();
            self.narrow = narrowable(&frame, self.options);
            self.wide = Some(frame.schema().clone());
        }
        let started = Instant::now();
        let mut changed = first;
        for (name, fits) in &mut self.narrow {
            let idx = frame
                .get_column_index(name)
                .expect("a column of the schema");
            if frame.columns()[idx].dtype() != &DataType::Int64 {
                continue; // parsed narrow: every value fits
            }
            if *fits && fits_i32(&frame.columns()[idx])? {
                let cast = frame.columns()[idx].cast(&DataType::Int32)?;
                frame.replace_column(idx, cast)?;
            } else {
                changed |= *fits;
                *fits = false;
            }
        }
        if changed {
            self.narrowed = self.wide.as_ref().map(|wide| {
                let mut schema = (**wide).clone();
                for (name, _) in self.narrow.iter().filter(|(_, fits)| *fits) {
                    schema.set_dtype(name, DataType::Int32);
                }
                if self.narrow.iter().any(|(_, fits)| *fits) {
                    Arc::new(schema)
                } else {
                    wide.clone()
                }
            });
        }
        timings.integers += started.elapsed();
        self.blocks.push(frame);
        Ok(())
    }

    /// One frame of all blocks, a chunk each.
    fn finish(self, timings: &mut LoadTimings) -> Result<DataFrame> {
        let started = Instant::now();
        let mut blocks = self.blocks.into_iter();
        let mut frame = blocks.next().expect("at least one block");
        for mut block in blocks {
            // A column that stopped fitting `Int32` in a later block is
            // `Int64` there; the blocks narrowed before it widen again.
            for (name, _) in self.narrow.iter().filter(|(_, fits)| !fits) {
                for f in [&mut frame, &mut block] {
                    let idx = f.get_column_index(name).expect("a column of the schema");
                    if f.columns()[idx].dtype() != &DataType::Int64 {
                        let cast = f.columns()[idx].cast(&DataType::Int64)?;
                        f.replace_column(idx, cast)?;
                    }
                }
            }
            frame.vstack_mut_owned(block)?;
        }
        for (name, fits) in &self.narrow {
            let idx = frame
                .get_column_index(name)
                .expect("a column of the schema");
            let want = if *fits {
                DataType::Int32
            } else {
                DataType::Int64
            };
            if frame.columns()[idx].dtype() != &want {
                let cast = frame.columns()[idx].cast(&want)?;
                frame.replace_column(idx, cast)?;
            }
        }
        // The blocks stay chunks of the columns: joining them into one
        // buffer per column would cost a copy of each column (and, in
        // glibc's malloc, kept most of the freed chunks: the load's peak
        // went from 1.1x the frame to 2.1x). Polars reads a chunked column
        // as it reads one of a single chunk.
        timings.assemble += started.elapsed();
        Ok(frame)
    }
}

/// How a block is read.
enum How {
    /// Types inferred (without dates), but these.
    Infer(Vec<Field>),
    /// Every type given.
    Schema(SchemaRef),
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

/// The error for a file Polars refused or that has ragged rows: where it
/// goes wrong, found by reading the whole file again (only on failure).
fn diagnosed(
    path: &Path,
    whole: impl Fn() -> Option<Vec<u8>>,
    options: &LoadOptions,
    polars: Option<String>,
) -> Error {
    let found = whole().and_then(|bytes| diagnose::first_bad_record(&bytes, options));
    let (line, message) = match (found, polars) {
        (Some((line, detail)), Some(err)) => (Some(line), format!("{detail} ({err})")),
        (Some((line, detail)), None) => (Some(line), detail),
        (None, Some(err)) => (None, err),
        (None, None) => (None, "a record has too few fields".to_owned()),
    };
    Error::MalformedCsv {
        path: path.to_owned(),
        line,
        message,
    }
}

/// Polars fills the missing cells of a short row with nulls; a table with
/// ragged rows is malformed, so look for one when the last column has nulls
/// (a short row always leaves the last cell empty).
fn has_short_rows(
    frame: &DataFrame,
    block: &[u8],
    width: usize,
    first: bool,
    options: &LoadOptions,
) -> bool {
    let Some(last) = frame.columns().last() else {
        return false;
    };
    if width < 2 || last.null_count() == 0 {
        return false;
    }
    diagnose::has_short_record(block, width, first && options.has_header, options)
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

/// The `Int64` columns whose type the options leave to the loader.
fn narrowable(frame: &DataFrame, options: &LoadOptions) -> Vec<(PlSmallStr, bool)> {
    if !options.shrink_integers {
        return Vec::new();
    }
    frame
        .columns()
        .iter()
        .filter(|c| c.dtype() == &DataType::Int64)
        .filter(|c| {
            !options
                .column_types
                .iter()
                .any(|(name, _)| name == c.name().as_str())
        })
        .map(|c| (c.name().clone(), true))
        .collect()
}

fn fits_i32(column: &Column) -> Result<bool> {
    let values = column.as_materialized_series().i64()?;
    let fits = |v: Option<i64>| v.is_none_or(|v| i32::try_from(v).is_ok());
    Ok(fits(values.min()) && fits(values.max()))
}
