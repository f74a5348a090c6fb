//! The table the cache answers from: loaded once, fingerprinted, immutable.
//!
//! A [`Dataset`] never changes after it is built. Refreshing a cache builds a
//! new one and swaps it in; queries that started on the old one finish on it.

mod blocks;
mod compression;
mod csv;
mod dates;
mod diagnose;
mod fingerprint;
mod hints;
mod options;
mod schema;
mod snapshot;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use polars::prelude::{DataFrame, PlSmallStr};

pub use fingerprint::{Fingerprint, ParseFingerprintError};
pub use options::{ColumnType, LoadOptions};
pub use schema::{ColumnInfo, ColumnKind};

use crate::{Error, Result};

/// Where a dataset came from, so it can be reloaded.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A CSV file read with these options.
    Csv {
        /// The file.
        path: PathBuf,
        /// How it was read.
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
pub enum LoadedFrom {
    /// Parsed from CSV.
    Parsed,
    /// Read from a snapshot of an earlier parse of the same CSV version.
    Snapshot,
    /// Handed over as a frame.
    Frame,
}

/// Where the time of one CSV parse went ([`Dataset::load_timings`], printed
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
    /// Polars' parse of every block.
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
/// assert_eq!(dataset.frame().column("discount")?.null_count(), 408);
///
/// // The fingerprint is the content's: the same bytes give the same one.
/// let cache = CachedQuery::from_csv("data/sales.csv")?;
/// assert_eq!(cache.dataset().fingerprint(), dataset.fingerprint());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Dataset {
    loaded_from: LoadedFrom,
    frame: DataFrame,
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
        Dataset::load_csv(path.as_ref(), options, None)
    }

    /// Reads a CSV file, or the snapshot in `snapshots` of an earlier parse
    /// of the same content with the same options; a parse writes one.
    pub fn from_csv_with_snapshots(
        path: impl AsRef<Path>,
        options: &LoadOptions,
        snapshots: &Path,
    ) -> Result<Dataset> {
        Dataset::load_csv(path.as_ref(), options, Some(snapshots))
    }

    fn load_csv(path: &Path, options: &LoadOptions, snapshots: Option<&Path>) -> Result<Dataset> {
        let started = Instant::now();
        let origin = Origin::Csv {
            path: path.to_owned(),
            options: options.clone(),
        };
        if let Some((fingerprint, frame)) =
            snapshots.and_then(|dir| Dataset::from_snapshot(dir, path, options))
        {
            let mut dataset = Dataset::new(frame, fingerprint, origin, started);
            dataset.loaded_from = LoadedFrom::Snapshot;
            return Ok(dataset);
        }
        // The fingerprint of exactly the bytes parsed, whatever happens to
        // the file meanwhile.
        let parsed = csv::parse(csv::Source::File(path), options)?;
        let fingerprint = Fingerprint::of_csv(parsed.content_hash, options);
        if let Some(dir) = snapshots {
            snapshot::write(dir, path, fingerprint, &parsed.frame);
        }
        let mut dataset = Dataset::new(parsed.frame, fingerprint, origin, started);
        dataset.loaded_from = LoadedFrom::Parsed;
        dataset.timings = Some(parsed.timings);
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
        let parsed = csv::parse(csv::Source::Bytes(Path::new(name), &bytes), options)?;
        let fingerprint = Fingerprint::of_csv(parsed.content_hash, options);
        let origin = Origin::Bytes {
            name: name.to_owned(),
        };
        let mut dataset = Dataset::new(parsed.frame, fingerprint, origin, started);
        dataset.loaded_from = LoadedFrom::Parsed;
        dataset.timings = Some(parsed.timings);
        Ok(dataset)
    }

    /// Wraps a frame the caller already has. Its fingerprint is a hash of its
    /// content, so two processes given equal frames share persisted entries.
    pub fn from_frame(frame: DataFrame) -> Result<Dataset> {
        let started = Instant::now();
        let fingerprint = Fingerprint::of_frame(&frame)?;
        Ok(Dataset::new(frame, fingerprint, Origin::Frame, started))
    }

    fn new(
        frame: DataFrame,
        fingerprint: Fingerprint,
        origin: Origin,
        started: Instant,
    ) -> Dataset {
        let columns = schema::columns_of(&frame);
        let names = columns
            .iter()
            .map(|c| PlSmallStr::from(c.name.as_str()))
            .collect();
        Dataset {
            loaded_from: LoadedFrom::Frame,
            frame,
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

    /// The table.
    pub fn frame(&self) -> &DataFrame {
        &self.frame
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
        self.frame.height()
    }

    /// The estimated memory held by the frame, in bytes.
    pub fn estimated_size(&self) -> usize {
        self.frame.estimated_size()
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
            Origin::Csv { options, .. } => options.null_values.as_slice(),
            Origin::Bytes { .. } | Origin::Frame => &[],
        };
        hints::null_token_hints(&self.frame, null_values)
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
        Origin::Csv { path, .. } => stem(path),
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
