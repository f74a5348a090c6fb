//! Scan mode: the dataset is not held as a frame. Each miss runs as a
//! query of Polars' streaming engine over the files, with projection and
//! predicate pushdown into them, so a miss holds the engine's working set
//! and its answer, never the table.
//!
//! The files are hashed when the dataset is opened (streamed, in constant
//! memory) and their sizes and modification times noted; every scan checks
//! them before and after it runs. A file changed since is never answered
//! from: the scan fails with [`Error::DataChanged`] until the cache is
//! refreshed, because its rows would be cached under the old fingerprint.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use polars::prelude::*;

use super::compression::{self, Compression};
use super::csv::PartRead;
use super::input::{Format, Input};
use super::{ColumnType, LoadOptions};
use crate::{Error, Result};

/// The files of a scanned dataset and how to read them.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    input: Input,
    options: LoadOptions,
    stamps: Vec<Stamp>,
    /// NDJSON text columns read as dates or datetimes, as the in-memory
    /// loader reads them (JSON has no date type).
    dates: Vec<Field>,
    /// The columns as the files hold them, before forced types and dates.
    raw: SchemaRef,
    /// The types of the columns, forced types applied.
    schema: SchemaRef,
}

/// What a file looked like when it was hashed: its size, its modification
/// time and, on Unix, its device, inode and status-change time (which no
/// one can set back: a file replaced by a copy with the old size and
/// modification time, as `cp -p` or `rsync -a` leave it, differs there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    identity: (u64, u64, i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Result<Stamp> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        #[cfg(unix)]
        let identity = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
        };
        Ok(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            identity,
        })
    }
}

impl Scan {
    /// Hashes every file of `input` and reads its schema. The files must
    /// share the first file's columns (Parquet and IPC: their types too).
    pub(crate) fn open(input: &Input, options: &LoadOptions) -> Result<(Scan, Vec<PartRead>)> {
        let mut stamps = Vec::with_capacity(input.files.len());
        let mut parts = Vec::with_capacity(input.files.len());
        for path in &input.files {
            // Each query reads the files again: a pipe could be read once.
            let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
            if !meta.is_file() {
                return Err(Error::InvalidInput(format!(
                    "{}: scan mode reads regular files, each query again; load a pipe into memory",
                    path.display()
                )));
            }
            let before = Stamp::of(path)?;
            let read = hash_file(path, input.format)?;
            if Stamp::of(path)? != before {
                return Err(Error::DataChanged { path: path.clone() });
            }
            stamps.push(before);
            parts.push(read);
        }
        let mut schema = None;
        for path in &input.files {
            let mut one = one_file(path, input.format, options)?;
            let file_schema = off_runtime(move || one.collect_schema())?
                .map_err(|e| malformed(path, input.format, &e))?;
            match &schema {
                None => schema = Some(file_schema),
                Some(first) => check_schema(first, &file_schema, input, path)?,
            }
        }
        let mut scan = Scan {
            input: input.clone(),
            options: options.clone(),
            stamps,
            dates: Vec::new(),
            raw: schema.clone().expect("an input has at least one file"),
            schema: schema.expect("an input has at least one file"),
        };
        if input.format == Format::NdJson && options.parse_dates {
            // The rows inference reads, but never all of a table larger
            // than memory.
            let sample = options
                .infer_schema_rows
                .unwrap_or(MAX_DATE_SAMPLE)
                .min(MAX_DATE_SAMPLE);
            let head = scan.collect(
                scan.lazy_unchecked()?
                    .limit(IdxSize::try_from(sample).unwrap_or(IdxSize::MAX)),
            )?;
            let forced: Vec<&str> = options
                .column_types
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            scan.dates = super::dates::date_columns(&head, &forced)?;
        }
        scan.check_casts()?;
        let mut plan = scan.lazy_unchecked()?;
        scan.schema = off_runtime(move || plan.collect_schema())?
            .map_err(|e| malformed(&input.files[0], input.format, &e))?;
        Ok((scan, parts))
    }

    /// Checks, in one streaming pass, the casts the sample chose: an NDJSON
    /// column read as dates whose later values are not all dates stays text
    /// (as in memory), and a float column forced to integers must hold no
    /// fraction (Polars' cast would cut it; the table in memory refuses it).
    fn check_casts(&mut self) -> Result<()> {
        let truncated: Vec<&str> = self
            .options
            .column_types
            .iter()
            .filter(|(name, ty)| {
                *ty == ColumnType::Int && self.raw.get(name).is_some_and(DataType::is_float)
            })
            .map(|(name, _)| name.as_str())
            .collect();
        if self.dates.is_empty() && truncated.is_empty() {
            return Ok(());
        }
        let mut checks: Vec<Expr> = Vec::new();
        for field in &self.dates {
            let name = field.name().as_str();
            let lost = col(name).cast(field.dtype().clone()).null_count() - col(name).null_count();
            checks.push(lost.gt(lit(0)).alias(format!("date:{name}")));
        }
        for name in &truncated {
            let whole = col(*name).cast(DataType::Int64).cast(DataType::Float64);
            let cut = whole.neq(col(*name)).any(true);
            checks.push(cut.alias(format!("fraction:{name}")));
        }
        let plan = scan_files(&self.input.files, self.input.format, &self.options, None)
            .map_err(|e| malformed(&self.input.spec, self.input.format, &e))?
            .select(checks);
        let found = self.collect(plan)?;
        let failed = |column: &Column| {
            column
                .get(0)
                .ok()
                .and_then(|v| v.extract_bool())
                .unwrap_or(true)
        };
        for column in found.columns() {
            let (what, name) = column.name().split_once(':').unwrap_or(("", ""));
            if !failed(column) {
                continue;
            }
            match what {
                "date" => self.dates.retain(|f| f.name().as_str() != name),
                _ => {
                    return Err(Error::MalformedFile {
                        path: self.input.spec.clone(),
                        format: self.input.format,
                        message: format!(
                            "column `{name}`: a value has a fraction, which i64 cannot hold"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The table's schema.
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The plan that reads every file, forced types applied: one scan of
    /// all the files (Polars' multi-file scan; a `concat` of one scan a
    /// file made its streaming `len()` panic in Polars 0.55).
    fn lazy_unchecked(&self) -> Result<LazyFrame> {
        // NDJSON files are read with the first's (checked) schema: each
        // file's own inference would differ, and the first's alone would
        // cut the others' floats.
        let schema = (self.input.format == Format::NdJson).then(|| self.raw.clone());
        let mut lf = scan_files(&self.input.files, self.input.format, &self.options, schema)
            .map_err(|e| malformed(&self.input.spec, self.input.format, &e))?;
        let dates = self
            .dates
            .iter()
            .map(|field| col(field.name().clone()).strict_cast(field.dtype().clone()));
        // CSV reads forced types itself (text stays text: `02134`); the
        // other formats hold typed values, cast here.
        let casts: Vec<Expr> = if self.input.format == Format::Csv {
            Vec::new()
        } else {
            self.options
                .column_types
                .iter()
                .filter_map(|(name, ty)| {
                    let dtype = scan_dtype(*ty);
                    let raw = self.raw.get(name)?;
                    (raw != &dtype).then(|| col(name.as_str()).strict_cast(dtype))
                })
                .collect()
        };
        let casts: Vec<Expr> = casts.into_iter().chain(dates).collect();
        if !casts.is_empty() {
            lf = lf.with_columns(casts);
        }
        Ok(lf)
    }

    /// The plan that reads every file, after checking that none changed
    /// since it was hashed.
    pub(crate) fn lazy(&self) -> Result<LazyFrame> {
        self.check()?;
        self.lazy_unchecked()
    }

    /// Runs `plan` (built on [`lazy`](Self::lazy)) on the streaming
    /// engine; an answer read while a file changed is refused.
    pub(crate) fn collect(&self, plan: LazyFrame) -> Result<DataFrame> {
        let collected = off_runtime(|| plan.collect_with_engine(Engine::Streaming))?;
        let frame = collected.map_err(|e| self.scan_error(e))?.unwrap_single();
        self.check()?;
        Ok(frame)
    }

    /// The schema of `plan` (built on [`lazy`](Self::lazy)): resolving a
    /// scan reads the files' metadata.
    pub(crate) fn schema_of(&self, mut plan: LazyFrame) -> Result<SchemaRef> {
        off_runtime(move || plan.collect_schema())?.map_err(|e| self.scan_error(e))
    }

    /// The number of rows, counted by a streaming scan (Parquet and IPC
    /// from their metadata).
    pub(crate) fn count_rows(&self) -> Result<usize> {
        let counted = self.collect(self.lazy()?.select([len().alias("rows")]))?;
        let rows = counted.column("rows")?.get(0)?;
        Ok(rows.extract::<u64>().unwrap_or(0) as usize)
    }

    /// An error of a scan: a file that changed is said as such, else what
    /// Polars says is wrong with the data.
    fn scan_error(&self, error: PolarsError) -> Error {
        match self.check() {
            Err(changed) => changed,
            Ok(()) => match &error {
                PolarsError::ComputeError(_)
                | PolarsError::SchemaMismatch(_)
                | PolarsError::NoData(_)
                | PolarsError::ShapeMismatch(_) => {
                    malformed(&self.input.spec, self.input.format, &error)
                }
                _ => error.into(),
            },
        }
    }

    /// Fails when a file's size or modification time is not what it was
    /// when it was hashed.
    fn check(&self) -> Result<()> {
        for (path, stamp) in self.input.files.iter().zip(&self.stamps) {
            let now = Stamp::of(path).map_err(|_| Error::DataChanged { path: path.clone() })?;
            if now != *stamp {
                return Err(Error::DataChanged { path: path.clone() });
            }
        }
        Ok(())
    }
}

/// Runs `f`, a Polars call on a scan plan, on a thread of its own. Polars
/// resolves scans with `block_in_place` when it finds an async runtime on
/// the calling thread, which panics on a current-thread runtime (an axum
/// app under `#[tokio::main(flavor = "current_thread")]`); a new thread has
/// none. A panic of the engine is this query's error, not the process's end.
pub(super) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("pqc-scan".to_owned())
            .spawn_scoped(scope, f)
            .map_err(|e| Error::Compute(format!("cannot start a scan: {e}")))?
            .join()
            .map_err(|panic| {
                Error::Compute(format!(
                    "Polars' streaming engine panicked: {}",
                    crate::error::panic_message(&*panic)
                ))
            })
    })
}

/// A lazy scan of one file.
fn one_file(path: &Path, format: Format, options: &LoadOptions) -> Result<LazyFrame> {
    if format == Format::Csv {
        let (compression, _) = compression::open(path).map_err(|e| Error::io(path, e))?;
        if compression != Compression::None {
            return Err(Error::InvalidInput(format!(
                "{}: scan mode reads uncompressed CSV only ({}); decompress it, or load it into memory",
                path.display(),
                compression.name()
            )));
        }
    }
    scan_files(&[path.to_owned()], format, options, None).map_err(|e| malformed(path, format, &e))
}

/// One lazy scan of `files`, in order. Their names are names, never globs
/// (`b[1].csv` is that file), and their directories are not Hive
/// partitions: the table is what the files hold, as in memory.
fn scan_files(
    files: &[PathBuf],
    format: Format,
    options: &LoadOptions,
    schema: Option<SchemaRef>,
) -> PolarsResult<LazyFrame> {
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|path| PlRefPath::new(path.to_string_lossy().as_ref()))
        .collect();
    match format {
        Format::Csv => {
            let null_values = super::csv::null_values(options);
            let forced: Schema = options
                .column_types
                .iter()
                .map(|(name, ty)| Field::new(name.as_str().into(), scan_dtype(*ty)))
                .collect();
            LazyCsvReader::new_paths(paths.into())
                .with_glob(false)
                .with_has_header(options.has_header)
                .with_separator(options.delimiter)
                .with_quote_char(options.quote_char)
                .with_null_values(null_values)
                .with_missing_is_null(true)
                .with_infer_schema_length(options.infer_schema_rows)
                .with_try_parse_dates(options.parse_dates)
                .with_dtype_overwrite((!forced.is_empty()).then(|| Arc::new(forced)))
                .finish()
        }
        Format::Parquet => LazyFrame::scan_parquet_files(
            paths.into(),
            ScanArgsParquet {
                glob: false,
                hive_options: HiveOptions::new_disabled(),
                ..Default::default()
            },
        ),
        Format::Ipc => LazyFrame::scan_ipc_sources(
            ScanSources::Paths(paths.into()),
            Default::default(),
            UnifiedScanArgs {
                glob: false,
                hive_options: HiveOptions::new_disabled(),
                ..Default::default()
            },
        ),
        // Every line inferred: a float past the inference rows of a column
        // typed integer would be cut to an integer, silently. Polars 0.55
        // always globs NDJSON paths: a name is escaped into a pattern that
        // matches only itself.
        Format::NdJson => {
            let escaped: Vec<PlRefPath> = files
                .iter()
                .map(|path| PlRefPath::new(glob::Pattern::escape(&path.to_string_lossy()).as_str()))
                .collect();
            drop(paths);
            LazyJsonLineReader::new_paths(escaped.into())
                .with_infer_schema_length(None)
                .with_schema(schema)
                .finish()
        }
    }
}

/// A forced type as scan mode reads it: text stays text (no dictionaries).
fn scan_dtype(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Str | ColumnType::Categorical => DataType::String,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Date => DataType::Date,
    }
}

/// Rows of an NDJSON scan looked at for dates, at most.
const MAX_DATE_SAMPLE: usize = 100_000;

/// Whether a later file has the first file's columns: the same names in
/// the same order, and the same types (Polars' multi-file scan reads every
/// file with the first's schema: another type is cast or refused at query
/// time, and NDJSON's reader cuts a float to an integer). Allowed: a column
/// of nulls alone, NDJSON integers where the first file has floats (read
/// as floats), and CSV, whose later files are read with the first's types
/// and refuse a value that is not one. Categoricals must share their
/// dictionary: files written by separate runs each have their own, which a
/// scan cannot reconcile (the table in memory can).
fn check_schema(first: &Schema, other: &Schema, input: &Input, path: &Path) -> Result<()> {
    let mismatch = |column: &str, message: String| Error::SchemaMismatch {
        path: path.to_owned(),
        first: input.files[0].clone(),
        column: column.to_owned(),
        message,
    };
    for (i, (want, dtype)) in first.iter().enumerate() {
        match other.get_at_index(i) {
            Some((found, _)) if found != want => {
                return Err(mismatch(
                    want,
                    format!(
                        "column {} is `{found}`, where the first file has `{want}`",
                        i + 1
                    ),
                ));
            }
            Some((_, found)) => {
                let allowed = found == dtype
                    || input.format == Format::Csv
                    || found == &DataType::Null
                    || (input.format == Format::NdJson
                        && dtype == &DataType::Float64
                        && found == &DataType::Int64);
                if !allowed {
                    let hint = if found.is_categorical() && dtype.is_categorical() {
                        " (each file has its own dictionary: scan mode needs one; load the set into memory instead)"
                    } else {
                        ""
                    };
                    return Err(mismatch(
                        want,
                        format!("`{want}` is {found}, where the first file has {dtype}{hint}"),
                    ));
                }
            }
            None => {
                return Err(mismatch(
                    want,
                    format!("it has {} columns and lacks `{want}`", other.len()),
                ));
            }
        }
    }
    if let Some((extra, _)) = other.get_at_index(first.len()) {
        return Err(mismatch(
            extra,
            format!(
                "it has an extra column `{extra}` ({} columns, not {})",
                other.len(),
                first.len()
            ),
        ));
    }
    Ok(())
}

/// Hashes a file as the in-memory loaders do: CSV as its decompressed
/// bytes, the others as they are.
pub(super) fn hash_file(path: &Path, format: Format) -> Result<PartRead> {
    let reader: Box<dyn Read> = match format {
        Format::Csv => compression::open(path).map_err(|e| Error::io(path, e))?.1,
        _ => Box::new(std::fs::File::open(path).map_err(|e| Error::io(path, e))?),
    };
    // NDJSON is checked for nesting as it is hashed: Polars' reader would
    // overflow its stack on a line nested thousands deep.
    let hashed = if format == Format::NdJson {
        let mut checked = super::nesting::Checked::new(reader);
        super::fingerprint::hash_stream(&mut checked).map_err(|e| match checked.too_deep() {
            Some(line) => Error::MalformedFile {
                path: path.to_owned(),
                format,
                message: super::nesting::Nesting::message(line),
            },
            None => Error::io(path, e),
        })?
    } else {
        super::fingerprint::hash_stream(reader).map_err(|e| Error::io(path, e))?
    };
    Ok(PartRead {
        hash: hashed.hasher.digest128(),
        bytes: hashed.bytes,
        ends_with_newline: hashed.last_byte == Some(b'\n'),
    })
}

fn malformed(path: &Path, format: Format, error: &PolarsError) -> Error {
    match format {
        Format::Csv => Error::MalformedCsv {
            path: path.to_owned(),
            line: None,
            message: error.to_string(),
        },
        _ => Error::MalformedFile {
            path: path.to_owned(),
            format,
            message: error.to_string(),
        },
    }
}
