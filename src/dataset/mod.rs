//! The table the cache answers from: loaded once, fingerprinted, immutable.
//!
//! A [`Dataset`] never changes after it is built. Refreshing a cache builds a
//! new one and swaps it in; queries that started on the old one finish on it.

mod append;
mod blocks;
mod columnar;
mod compression;
mod csv;
mod dates;
mod diagnose;
mod fingerprint;
mod hints;
mod input;
mod nesting;
mod options;
mod scan;
mod schema;
mod snapshot;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use polars::prelude::{DataFrame, Engine, IdxCa, IdxSize, IntoLazy, LazyFrame, PlSmallStr};

pub use fingerprint::{Fingerprint, ParseFingerprintError};
pub use input::{Format, ParseFormatError};
pub use options::{ColumnType, LoadOptions};
pub use schema::{ColumnInfo, ColumnKind};

pub(crate) use append::Appended;
use csv::PartRead;
use input::Input;
use scan::Scan;

use crate::{Error, Result};

/// Where a dataset came from, so it can be reloaded.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Origin {
    /// Files read with these options: one file, or a glob or a directory
    /// of files of one format ([`Dataset::files`] lists them).
    Files {
        /// What was named: a file, a glob or a directory.
        path: PathBuf,
        /// Their format.
        format: Format,
        /// How they were read.
        options: LoadOptions,
    },
    /// CSV bytes handed over by the caller (nothing to re-read).
    Bytes {
        /// A name for messages.
        name: String,
    },
    /// A frame handed over by the caller.
    Frame,
}

/// How a dataset's frame was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadedFrom {
    /// Parsed from its files.
    Parsed,
    /// Read from a snapshot of an earlier parse of the same CSV version.
    Snapshot,
    /// Handed over as a frame.
    Frame,
    /// Not loaded: scanned by each miss ([`LoadOptions::scan`]).
    Scanned,
    /// The earlier version's frame, with the rows appended to its file (or
    /// the files added to its set) parsed onto it.
    Appended,
}

/// Where the time of one parse went ([`Dataset::load_timings`], printed
/// by `pqc info`), so that a slower load shows which step slowed down.
///
/// `read` and `fingerprint` run on a thread of their own, a block ahead of
/// the parse; the other steps run one after another on the loading thread
/// (each may use every core). `total` is the wall time of the whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadTimings {
    /// Reading the file's bytes, a block at a time (beside the parse).
    pub read: Duration,
    /// Hashing the bytes for the [`Fingerprint`] as they are read (beside
    /// the parse).
    pub fingerprint: Duration,
    /// Waiting for Polars' parse of the blocks (two parse at once, beside
    /// the rest of the load).
    pub parse: Duration,
    /// Choosing the low-cardinality text columns and converting the first
    /// block's; later blocks are parsed straight into categoricals.
    pub categoricals: Duration,
    /// Narrowing integer columns whose values all fit to `Int32`.
    pub integers: Duration,
    /// Joining the blocks into one frame (each a chunk of its columns),
    /// widening integer columns that stopped fitting `Int32`.
    pub assemble: Duration,
    /// The whole parse, from opening the file to the frame.
    pub total: Duration,
    /// The bytes read.
    pub bytes: u64,
}

/// One immutable version of the table.
///
/// A [`CachedQuery`](crate::CachedQuery) loads one itself; load one directly
/// to look at the schema the queries will be read against.
///
/// ```
/// use polars_query_cache::{CachedQuery, ColumnKind, Dataset, LoadOptions};
///
/// let dataset = Dataset::from_csv("data/sales.csv", &LoadOptions::default())?;
/// assert_eq!(dataset.rows(), 5_000);
/// let kind = |name: &str| dataset.columns().iter().find(|c| c.name == name).map(|c| c.kind);
/// // Few distinct strings become a categorical; empty cells are nulls.
/// assert_eq!(kind("category"), Some(ColumnKind::Categorical));
/// assert_eq!(kind("date"), Some(ColumnKind::Date));
/// let frame = dataset.frame().expect("held in memory");
/// assert_eq!(frame.column("discount")?.null_count(), 408);
///
/// // The fingerprint is the content's: the same bytes give the same one.
/// let cache = CachedQuery::from_csv("data/sales.csv")?;
/// assert_eq!(cache.dataset().fingerprint(), dataset.fingerprint());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Dataset {
    loaded_from: LoadedFrom,
    table: Table,
    rows: usize,
    /// What each file held when it was read, for appends.
    files: Vec<(PathBuf, PartRead)>,
    /// How Parquet, IPC and NDJSON files were shaped, for files added.
    shape: Option<columnar::Shape>,
    columns: Vec<ColumnInfo>,
    names: Vec<PlSmallStr>,
    fingerprint: Fingerprint,
    origin: Origin,
    name: String,
    load_time: Duration,
    timings: Option<LoadTimings>,
}

impl Dataset {
    /// Reads a CSV file.
    ///
    /// The file is read once, a block of records at a time; each block is
    /// hashed and parsed, then dropped, so the whole file is never in
    /// memory beside the frame, and the fingerprint describes exactly the
    /// bytes parsed even if the file changes meanwhile. The frame's columns
    /// hold one chunk per block (about 32 MiB of CSV each), as Polars'
    /// own `read_csv` leaves them without `rechunk`.
    pub fn from_csv(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Dataset> {
        let options = options.clone().with_format(Format::Csv);
        Dataset::load(path.as_ref(), &options, None, &|_, _| {})
    }

    /// Reads a CSV file, or the snapshot in `snapshots` of an earlier parse
    /// of the same content with the same options; a parse writes one.
    pub fn from_csv_with_snapshots(
        path: impl AsRef<Path>,
        options: &LoadOptions,
        snapshots: &Path,
    ) -> Result<Dataset> {
        let options = options.clone().with_format(Format::Csv);
        Dataset::load(path.as_ref(), &options, Some(snapshots), &|_, _| {})
    }

    /// Reads a file of any [`Format`], or every file a glob (`daily/*.csv`)
    /// or a directory names, as one table.
    ///
    /// The format is [`LoadOptions::format`], else the extensions'; the
    /// files of a set must agree on it and share the first file's columns
    /// (an [`Error::SchemaMismatch`] names the file and the column that
    /// differ). Parquet, IPC and NDJSON are shaped as CSV is (low-cardinality
    /// text as categoricals, small integers as `Int32`, NDJSON dates as
    /// dates), so a table answers the same in every format. The
    /// fingerprint covers every file: a file added, removed or changed is
    /// a new version. With [`LoadOptions::scan`], nothing is loaded.
    ///
    /// ```
    /// use polars_query_cache::{Dataset, Format, LoadOptions, LoadedFrom};
    ///
    /// let dataset = Dataset::from_path("data/sales.csv", &LoadOptions::default())?;
    /// assert_eq!(dataset.rows(), 5_000);
    /// let scanned = Dataset::from_path("data/sales.csv", &LoadOptions::default().with_scan(true))?;
    /// assert_eq!((scanned.rows(), scanned.loaded_from()), (5_000, LoadedFrom::Scanned));
    /// assert!(scanned.frame().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_path(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Dataset> {
        Dataset::load(path.as_ref(), options, None, &|_, _| {})
    }

    /// [`from_path`](Self::from_path), reading a single CSV file from the
    /// snapshot in `snapshots` of an earlier parse of the same content.
    pub fn from_path_with_snapshots(
        path: impl AsRef<Path>,
        options: &LoadOptions,
        snapshots: &Path,
    ) -> Result<Dataset> {
        Dataset::load(path.as_ref(), options, Some(snapshots), &|_, _| {})
    }

    /// [`from_path`](Self::from_path) (with the snapshots in `snapshots`,
    /// when given) that reports how far it has come: `progress(done,
    /// total)` after each block or file parsed, in bytes of the files
    /// (`total` is `None` when a compressed CSV's size is not known until
    /// read). `pqc` draws it as a progress bar.
    pub fn from_path_with_progress(
        path: impl AsRef<Path>,
        options: &LoadOptions,
        snapshots: Option<&Path>,
        progress: &(dyn Fn(u64, Option<u64>) + Sync),
    ) -> Result<Dataset> {
        Dataset::load(path.as_ref(), options, snapshots, progress)
    }

    fn load(
        path: &Path,
        options: &LoadOptions,
        snapshots: Option<&Path>,
        progress: &(dyn Fn(u64, Option<u64>) + Sync),
    ) -> Result<Dataset> {
        let started = Instant::now();
        let input = Input::resolve(path, options.format)?;
        let total = input.total_bytes();
        let progress = |done: u64| progress(done, total);
        let origin = Origin::Files {
            path: path.to_owned(),
            format: input.format,
            options: options.clone(),
        };
        if options.scan {
            let (scan, parts) = Scan::open(&input, options)?;
            let fingerprint = fingerprint_of(&input, &parts, options);
            let rows = scan.count_rows()?;
            let empty = DataFrame::empty_with_schema(scan.schema());
            let mut dataset = Dataset::new(
                Table::Scan(Box::new(scan), empty),
                fingerprint,
                origin,
                started,
            );
            dataset.rows = rows;
            dataset.files = input.files.into_iter().zip(parts).collect();
            dataset.loaded_from = LoadedFrom::Scanned;
            return Ok(dataset);
        }
        // Snapshots are of one CSV file: the formats that carry their
        // types load about as fast as a snapshot would.
        let snapshots = snapshots.filter(|_| input.format == Format::Csv && !input.is_set());
        if let Some((fingerprint, frame)) =
            snapshots.and_then(|dir| Dataset::from_snapshot(dir, path, options))
        {
            let mut dataset = Dataset::new(Table::Frame(frame), fingerprint, origin, started);
            dataset.loaded_from = LoadedFrom::Snapshot;
            return Ok(dataset);
        }
        let (frame, parts, timings, shape) = match input.format {
            Format::Csv => {
                let parts = input
                    .files
                    .iter()
                    .map(|file| csv::Part::file(file, options))
                    .collect::<Result<Vec<_>>>()?;
                let parsed = csv::parse(parts, options, &progress)?;
                (parsed.frame, parsed.parts, parsed.timings, None)
            }
            _ => {
                let loaded = columnar::load(&input, options, &progress)?;
                (
                    loaded.frame,
                    loaded.parts,
                    loaded.timings,
                    Some(loaded.shape),
                )
            }
        };
        // The fingerprint of exactly the bytes parsed, whatever happens to
        // the files meanwhile.
        let fingerprint = fingerprint_of(&input, &parts, options);
        if let Some(dir) = snapshots {
            snapshot::write(dir, path, fingerprint, &frame);
        }
        let mut dataset = Dataset::new(Table::Frame(frame), fingerprint, origin, started);
        dataset.files = input.files.into_iter().zip(parts).collect();
        dataset.shape = shape;
        dataset.loaded_from = LoadedFrom::Parsed;
        dataset.timings = Some(timings);
        Ok(dataset)
    }

    /// The snapshot of the file's current content, if there is one. The
    /// file is hashed while the snapshot is read (both take a while on a
    /// large file); a snapshot of another content is not used.
    fn from_snapshot(
        dir: &Path,
        path: &Path,
        options: &LoadOptions,
    ) -> Option<(Fingerprint, DataFrame)> {
        let (snapshot_fingerprint, snapshot) = snapshot::latest(dir, path)?;
        let (fingerprint, frame) = std::thread::scope(|scope| {
            let hashing = scope.spawn(|| Fingerprint::of_csv_file(path, options));
            let frame = snapshot::read(&snapshot);
            (hashing.join().ok().and_then(Result::ok), frame)
        });
        let fingerprint = fingerprint?;
        if fingerprint != snapshot_fingerprint {
            return None;
        }
        Some((fingerprint, frame?))
    }

    /// Reads CSV bytes the caller already has (an embedded sample, say).
    /// `name` stands for the file in error messages.
    pub fn from_csv_bytes(name: &str, bytes: Vec<u8>, options: &LoadOptions) -> Result<Dataset> {
        let started = Instant::now();
        let part = csv::Part::bytes(Path::new(name), &bytes, options)?;
        let parsed = csv::parse(vec![part], options, &|_| {})?;
        let fingerprint = Fingerprint::of_content(parsed.parts[0].hash, options);
        let origin = Origin::Bytes {
            name: name.to_owned(),
        };
        let mut dataset = Dataset::new(Table::Frame(parsed.frame), fingerprint, origin, started);
        dataset.loaded_from = LoadedFrom::Parsed;
        dataset.timings = Some(parsed.timings);
        Ok(dataset)
    }

    /// Wraps a frame the caller already has. Its fingerprint is a hash of its
    /// content, so two processes given equal frames share persisted entries.
    pub fn from_frame(frame: DataFrame) -> Result<Dataset> {
        let started = Instant::now();
        let fingerprint = Fingerprint::of_frame(&frame)?;
        Ok(Dataset::new(
            Table::Frame(frame),
            fingerprint,
            Origin::Frame,
            started,
        ))
    }

    fn new(table: Table, fingerprint: Fingerprint, origin: Origin, started: Instant) -> Dataset {
        let columns = schema::columns_of(table.schema_frame());
        let names = columns
            .iter()
            .map(|c| PlSmallStr::from(c.name.as_str()))
            .collect();
        Dataset {
            loaded_from: LoadedFrom::Frame,
            rows: table.schema_frame().height(),
            table,
            files: Vec::new(),
            shape: None,
            columns,
            names,
            fingerprint,
            name: default_name(&origin),
            origin,
            load_time: started.elapsed(),
            timings: None,
        }
    }

    /// The same dataset under another name (see [`name`](Self::name)).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Dataset {
        self.name = name.into();
        self
    }

    /// The table's name in SQL (`FROM sales`): the one given to
    /// [`with_name`](Self::with_name) or
    /// [`CachedQueryBuilder::name`](crate::CachedQueryBuilder::name), else
    /// the CSV file's stem (`sales` for `data/sales.csv`), else `data` for
    /// a frame. It is not part of the fingerprint: renaming a table keeps
    /// its cached answers.
    ///
    /// ```
    /// use polars_query_cache::{Dataset, LoadOptions};
    ///
    /// let dataset = Dataset::from_csv("data/sales.csv", &LoadOptions::default())?;
    /// assert_eq!(dataset.name(), "sales");
    /// assert_eq!(dataset.with_name("orders").name(), "orders");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table, when it is held in memory; `None` in scan mode
    /// ([`LoadOptions::scan`]).
    pub fn frame(&self) -> Option<&DataFrame> {
        match &self.table {
            Table::Frame(frame) => Some(frame),
            Table::Scan(..) => None,
        }
    }

    /// The table itself in memory, or an empty frame of its schema in
    /// scan mode: for what needs the types, not the rows.
    pub(crate) fn schema_frame(&self) -> &DataFrame {
        self.table.schema_frame()
    }

    /// Whether the table is scanned by each miss rather than held.
    pub fn is_scanned(&self) -> bool {
        matches!(self.table, Table::Scan(..))
    }

    /// The files the dataset was read from, in the order their rows are;
    /// empty for bytes or a frame handed over.
    pub fn files(&self) -> impl ExactSizeIterator<Item = &Path> {
        self.files.iter().map(|(path, _)| path.as_path())
    }

    /// What the persisted tiers know this dataset's versions by: the path
    /// it was read from (resolved) and the options that shape its data. A
    /// new version of the same source replaces the old one's entries; a
    /// process reading the same file another way (`--scan`, another
    /// delimiter) is another source, whose entries it leaves alone.
    pub(crate) fn source_identity(&self) -> Option<String> {
        let Origin::Files {
            path,
            format,
            options,
        } = &self.origin
        else {
            return None;
        };
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        let options = options.clone().with_format(*format);
        Some(format!(
            "{}\noptions {:032x}",
            path.to_string_lossy(),
            fingerprint::options_hash(&options)
        ))
    }

    /// The fingerprint the files it was read from have now, hashed without
    /// parsing them (a CSV's decompressed bytes, the other formats' own);
    /// `None` for bytes or a frame handed over.
    pub(crate) fn fingerprint_on_disk(&self) -> Result<Option<Fingerprint>> {
        let Origin::Files { path, options, .. } = &self.origin else {
            return Ok(None);
        };
        let input = Input::resolve(path, options.format)?;
        let parts = input
            .files
            .iter()
            .map(|file| scan::hash_file(file, input.format))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(fingerprint_of(&input, &parts, options)))
    }

    /// The plan every query starts from: the frame, or a streaming scan of
    /// the files (after checking none changed since they were hashed).
    pub(crate) fn lazy(&self) -> Result<LazyFrame> {
        match &self.table {
            Table::Frame(frame) => Ok(frame.clone().lazy()),
            Table::Scan(scan, _) => scan.lazy(),
        }
    }

    /// Runs a plan built on [`lazy`](Self::lazy): on the in-memory engine
    /// for a frame, on the streaming engine for a scan.
    pub(crate) fn collect(&self, plan: LazyFrame) -> Result<DataFrame> {
        match &self.table {
            Table::Frame(_) => Ok(plan.collect()?),
            Table::Scan(scan, _) => scan.collect(plan),
        }
    }

    /// Runs a plan built on [`lazy`](Self::lazy) that aggregates every row
    /// of the table (a learned roll-up) on the streaming engine, which
    /// groups a frame in memory by several columns several times faster
    /// than the in-memory engine (37 against 131 ms for three keys over 2M
    /// rows). Should the engine fail, the in-memory one runs the plan.
    pub(crate) fn collect_rollup(&self, plan: LazyFrame) -> Result<DataFrame> {
        let Table::Frame(_) = &self.table else {
            return self.collect(plan);
        };
        let streaming = plan.clone();
        // A thread of its own, as for a scan: the engine blocks in place
        // when it finds an async runtime.
        match scan::off_runtime(move || streaming.collect_with_engine(Engine::Streaming)) {
            Ok(Ok(frame)) => Ok(frame.unwrap_single()),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "the streaming engine refused a roll-up; running it in memory");
                Ok(plan.collect()?)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the streaming engine failed on a roll-up; running it in memory");
                Ok(plan.collect()?)
            }
        }
    }

    /// The schema of a plan built on [`lazy`](Self::lazy).
    pub(crate) fn schema_of(&self, mut plan: LazyFrame) -> Result<polars::prelude::SchemaRef> {
        match &self.table {
            Table::Frame(_) => Ok(plan.collect_schema()?),
            Table::Scan(scan, _) => scan.schema_of(plan),
        }
    }

    /// The number of distinct values (null counts as one) of column
    /// `index`: exact, or for a large table in memory estimated from a
    /// random sample when the sample shows few values and its second half
    /// none its first half lacked (a value rarer than one row in tens of
    /// thousands may still be missed: the learner only sizes roll-ups with
    /// it); any other column is counted whole.
    pub(crate) fn distinct_count(&self, index: usize) -> Result<usize> {
        /// Rows sampled; a table of at most twice as many is counted whole.
        const SAMPLE: usize = 1 << 16;
        match &self.table {
            Table::Frame(frame) if frame.height() > 2 * SAMPLE => {
                let column = &frame.columns()[index];
                // Rows drawn at random, not every n-th: a column that
                // cycles through its values would alias with a stride.
                let mut rng = crate::sample::SplitMix64::new(index as u64);
                let mut rows: Vec<IdxSize> = (0..SAMPLE)
                    .map(|_| rng.below(frame.height() as u64) as IdxSize)
                    .collect();
                rows.sort_unstable();
                let rows = IdxCa::from_vec(PlSmallStr::EMPTY, rows);
                let sample = column.as_materialized_series().take(&rows)?;
                let seen = sample.n_unique()?;
                // Few values, and the sample's second half met none its
                // first half had not: the sample holds them all. A tail of
                // rare values shows as new values in the second half.
                let saturated =
                    seen <= sample.len() / 64 && sample.slice(0, SAMPLE / 2).n_unique()? == seen;
                if saturated {
                    Ok(seen)
                } else {
                    Ok(column.n_unique()?)
                }
            }
            Table::Frame(frame) => Ok(frame.columns()[index].n_unique()?),
            Table::Scan(..) => {
                use polars::prelude::col;
                let name = self.names[index].as_str();
                let counted =
                    self.collect(self.lazy()?.select([col(name).n_unique().alias("n")]))?;
                let n = counted.column("n")?.get(0)?.extract::<u64>();
                Ok(n.unwrap_or(u64::MAX) as usize)
            }
        }
    }

    /// Its columns, in order.
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }

    /// The column names, shared with the keys that mention them.
    pub(crate) fn names(&self) -> &[PlSmallStr] {
        &self.names
    }

    /// The position of the column called `name`.
    pub(crate) fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The content hash of this version.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Where it came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether the frame was parsed, read from a snapshot, or handed over.
    pub fn loaded_from(&self) -> LoadedFrom {
        self.loaded_from
    }

    /// How long reading, parsing and fingerprinting took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Where a parse's time went, block by block added up; `None` when
    /// the frame was not parsed here (a snapshot, a frame handed over).
    pub fn load_timings(&self) -> Option<&LoadTimings> {
        self.timings.as_ref()
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The estimated memory held by the frame, in bytes (none in scan mode).
    pub fn estimated_size(&self) -> usize {
        self.frame().map_or(0, DataFrame::estimated_size)
    }

    /// What the load probably got wrong, each with the option that fixes
    /// it: today, text columns that hold numbers and `NA` (or another
    /// null token of R or pandas), which only `--null-value NA`
    /// ([`LoadOptions::with_null_values`]) reads as numbers. Looks at the
    /// first values of each text column; `pqc info` and `pqc serve` print
    /// these.
    ///
    /// ```
    /// use polars_query_cache::{Dataset, LoadOptions};
    ///
    /// let csv = b"carrier,dep_delay\nUA,2\nAA,NA\nB6,-4\n".to_vec();
    /// let dataset = Dataset::from_csv_bytes("flights.csv", csv, &LoadOptions::default())?;
    /// assert!(dataset.load_hints()[0].contains("--null-value NA"));
    /// let options = LoadOptions::default().with_null_values(["", "NA"]);
    /// let csv = b"carrier,dep_delay\nUA,2\nAA,NA\nB6,-4\n".to_vec();
    /// assert!(Dataset::from_csv_bytes("flights.csv", csv, &options)?.load_hints().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_hints(&self) -> Vec<String> {
        let null_values = match &self.origin {
            Origin::Files { options, .. } => options.null_values.as_slice(),
            Origin::Bytes { .. } | Origin::Frame => &[],
        };
        match self.frame() {
            Some(frame) => hints::null_token_hints(frame, null_values),
            None => Vec::new(),
        }
    }

    /// The error for an unknown column: the closest names first.
    pub(crate) fn unknown_column(&self, name: &str) -> Error {
        let available: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        Error::UnknownColumn {
            column: name.to_owned(),
            suggestions: closest(name, &available),
            available,
        }
    }
}

/// What a dataset holds: its rows, or the files to scan for them (with an
/// empty frame of their schema).
#[derive(Debug)]
enum Table {
    Frame(DataFrame),
    Scan(Box<Scan>, DataFrame),
}

impl Table {
    fn schema_frame(&self) -> &DataFrame {
        match self {
            Table::Frame(frame) | Table::Scan(_, frame) => frame,
        }
    }
}

/// The fingerprint of `input`'s files, read as `parts`: their content and
/// the options, with the format the files were read in (CSV is not hashed,
/// so CSV fingerprints stay what they were): the same bytes read as CSV
/// and as NDJSON are two tables.
fn fingerprint_of(input: &Input, parts: &[PartRead], options: &LoadOptions) -> Fingerprint {
    let options = options.clone().with_format(input.format);
    Fingerprint::of_content(content_hash(input, parts), &options)
}

/// The content hash of a dataset's files: a lone file's own hash (so a
/// file keeps the fingerprint it always had), a set's over each file's
/// name and hash.
fn content_hash(input: &Input, parts: &[PartRead]) -> u128 {
    use std::hash::Hasher;
    if !input.is_set() {
        return parts[0].hash;
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.write_usize(parts.len());
    for (file, part) in input.files.iter().zip(parts) {
        let name = input.relative_name(file);
        hasher.write_usize(name.len());
        hasher.update(name.as_bytes());
        hasher.write_u128(part.hash);
    }
    hasher.digest128()
}

/// The name a dataset from `origin` has unless given one: the file's stem.
fn default_name(origin: &Origin) -> String {
    let stem = |path: &Path| {
        let name = path.file_name()?.to_string_lossy();
        Path::new(compression::strip_suffix(&name))
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
    };
    match origin {
        // A glob's or directory's name is no table name; the stem of a
        // directory (`daily`) is.
        Origin::Files { path, .. } if path.to_string_lossy().contains(['*', '?', '[']) => path
            .parent()
            .and_then(|dir| dir.file_name())
            .map(|name| name.to_string_lossy().into_owned()),
        Origin::Files { path, .. } => stem(path),
        Origin::Bytes { name } => stem(Path::new(name)),
        Origin::Frame => None,
    }
    .unwrap_or_else(|| DEFAULT_NAME.to_owned())
}

/// The name of a dataset with no file name to take one from.
const DEFAULT_NAME: &str = "data";

/// Names within a small edit distance of `name`, closest first.
pub(crate) fn closest(name: &str, candidates: &[String]) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, &String)> = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use polars::prelude::*;

    use super::Dataset;

    /// A large table's few-valued column is counted from a sample (every
    /// value shows in it); a many-valued one is counted whole, exactly.
    #[test]
    fn distinct_counts_of_a_large_table() {
        let rows = 300_000u32;
        // Seven values cycling with the row number, one of them (6) in
        // one row of a thousand: a sample of 65,536 rows meets them all.
        let few: Vec<u32> = (0..rows)
            .map(|i| if i % 1_000 == 0 { 6 } else { i % 6 })
            .collect();
        let many: Vec<Option<u32>> = (0..rows).map(|i| (i % 10 != 0).then_some(i / 2)).collect();
        let frame = DataFrame::new(
            rows as usize,
            vec![
                Column::new("few".into(), few),
                Column::new("many".into(), many.clone()),
            ],
        )
        .unwrap();
        let dataset = Dataset::from_frame(frame).unwrap();
        assert_eq!(dataset.distinct_count(0).unwrap(), 7);
        let exact = |values: &[Option<u32>]| values.iter().collect::<HashSet<_>>().len();
        assert_eq!(dataset.distinct_count(1).unwrap(), exact(&many));
        // 500 values in most rows and 2,000 seen once each: the sample
        // shows under a thousand values, and a tail it does not hold.
        let tail: Vec<Option<u32>> = (0..rows)
            .map(|i| Some(if i % 150 == 0 { 1_000 + i } else { i % 500 }))
            .collect();
        let frame = DataFrame::new(
            rows as usize,
            vec![Column::new("tail".into(), tail.clone())],
        );
        let dataset = Dataset::from_frame(frame.unwrap()).unwrap();
        assert_eq!(dataset.distinct_count(0).unwrap(), exact(&tail));
    }
}
