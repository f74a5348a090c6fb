//! Parsing CSV into a frame, a block of records at a time, with Polars'
//! multithreaded reader.
//!
//! The first block is parsed as Polars would parse the whole file: it holds
//! every row schema inference reads, so the types come out the same. Which
//! text columns become categoricals is decided on it too; every later block
//! is parsed with that schema, so low-cardinality text goes straight into
//! the categorical and never exists as strings. Integer columns are
//! narrowed to `Int32` block by block while every value so far fits. The
//! blocks after the first are parsed two at a time, each on a thread of
//! its own, and taken in file order. The peak is the frame plus a few
//! blocks and their parses, not the file beside the frame beside a
//! converted copy.

use std::collections::VecDeque;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use polars::prelude::*;
use xxhash_rust::xxh3::Xxh3;

use super::blocks::Blocks;
use super::compression::{self, Compression};
use super::{ColumnType, LoadOptions, LoadTimings, dates, diagnose};
use crate::{Error, Result};

/// What a load produced.
pub(super) struct Parsed {
    pub(super) frame: DataFrame,
    /// What was read of each part, in order.
    pub(super) parts: Vec<PartRead>,
    pub(super) timings: LoadTimings,
}

/// What was read of one part.
#[derive(Debug, Clone)]
pub(super) struct PartRead {
    /// xxh3-128 of every byte of the part, from its start: for an appended
    /// part, the bytes before `Part::appended`'s offset too.
    pub(super) hash: u128,
    /// The bytes read, from its start (after decompression).
    pub(super) bytes: u64,
    /// Whether it ended with a newline that ends a record (outside
    /// quotes): only then can rows appended to the file not change its
    /// last record.
    pub(super) ends_with_newline: bool,
}

/// One stream of CSV records: a file, bytes in memory, or the end of a
/// file that grew.
pub(super) struct Part<'a> {
    path: PathBuf,
    reader: Opening<'a>,
    /// The hash of the bytes before the reader's start, and how many.
    before: (Xxh3, u64),
    /// Whether its first record is a header (checked against the first
    /// part's, then skipped) rather than rows.
    header: bool,
    /// Reads it again, whole, only to say where a malformed one goes wrong.
    whole: Box<dyn Fn() -> Option<Vec<u8>> + Send + Sync + 'a>,
}

impl<'a> Part<'a> {
    /// A CSV file, compressed or not: opened when its turn comes, so a set
    /// of thousands of files holds one open at a time.
    pub(super) fn file(path: &Path, options: &LoadOptions) -> Result<Part<'static>> {
        let again = path.to_owned();
        Ok(Part {
            path: path.to_owned(),
            reader: Opening::Later(path.to_owned()),
            before: (Xxh3::new(), 0),
            header: options.has_header,
            whole: Box::new(move || {
                let (_, mut reader) = compression::open(&again).ok()?;
                let mut bytes = Vec::new();
                reader.read_to_end(&mut bytes).ok().map(|_| bytes)
            }),
        })
    }

    /// CSV bytes in memory, compressed or not; `name` names them in errors.
    pub(super) fn bytes(name: &Path, bytes: &'a [u8], options: &LoadOptions) -> Result<Part<'a>> {
        let compression = Compression::of(bytes);
        let reader = compression.decode(bytes).map_err(|e| Error::io(name, e))?;
        Ok(Part {
            path: name.to_owned(),
            reader: Opening::Open(compression, reader),
            before: (Xxh3::new(), 0),
            header: options.has_header,
            whole: Box::new(move || {
                let mut all = Vec::new();
                let mut reader = compression.decode(bytes).ok()?;
                reader.read_to_end(&mut all).ok().map(|_| all)
            }),
        })
    }

    /// The rows of an uncompressed CSV file after its first `offset`
    /// bytes, whose hash state is `hashed`: the records appended to it.
    pub(super) fn appended(path: &Path, offset: u64, hashed: Xxh3) -> Result<Part<'static>> {
        use std::io::{Seek, SeekFrom};
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(path, e))?;
        let again = path.to_owned();
        Ok(Part {
            path: path.to_owned(),
            reader: Opening::Open(Compression::None, Box::new(file)),
            before: (hashed, offset),
            header: false,
            whole: Box::new(move || std::fs::read(&again).ok()),
        })
    }
}

/// Parses CSV parts as one table: the first part's header and inference
/// rows decide the schema, and every later part is read with it (its
/// header, when it has one, must name the same columns).
/// `progress` hears the bytes parsed so far after each block.
pub(super) fn parse(
    parts: Vec<Part<'_>>,
    options: &LoadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Parsed> {
    let loader = Loader::new(options);
    let first_file = parts.first().map(|p| p.path.clone()).unwrap_or_default();
    parse_parts(parts, options, loader, true, &first_file, progress)
}

/// Parses the records appended to a file (`Part::appended`), or files
/// added to a set, onto `frame`,
/// read from the same file with the same options: its schema, its
/// categoricals (new values join their dictionary), its `Int32` columns
/// (widened when a new value does not fit, as a whole load would).
/// `first_file` is the dataset's first, named when a header differs.
pub(super) fn parse_appended(
    frame: DataFrame,
    parts: Vec<Part<'_>>,
    options: &LoadOptions,
    first_file: &Path,
) -> Result<Parsed> {
    let loader = Loader::resume(options, frame);
    parse_parts(parts, options, loader, false, first_file, &|_| {})
}

/// A part's stream: open already, or a file to open when its turn comes.
enum Opening<'a> {
    Open(Compression, Box<dyn Read + Send + 'a>),
    Later(PathBuf),
}

impl<'a> Opening<'a> {
    fn open(self) -> std::io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
        match self {
            Opening::Open(compression, reader) => Ok((compression, reader)),
            Opening::Later(path) => compression::open(&path),
        }
    }
}

/// A piece the reader thread sends.
enum Piece {
    /// Whole records of part `.0`.
    Block(usize, Vec<u8>),
    /// Part `.0` ended.
    End(usize, PartRead),
}

fn parse_parts(
    parts: Vec<Part<'_>>,
    options: &LoadOptions,
    loader: Loader<'_>,
    mut first: bool,
    first_file: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Parsed> {
    let started = Instant::now();
    let fresh = first;
    let mut paths = Vec::with_capacity(parts.len());
    let mut readers = Vec::with_capacity(parts.len());
    for part in parts {
        paths.push((part.path, part.header, part.whole));
        readers.push((part.reader, part.before));
    }
    let malformed = |part: usize, line: Option<u64>, message: String| Error::MalformedCsv {
        path: paths[part].0.clone(),
        line,
        message,
    };
    // The header and the rows inference reads, in the first block.
    let first_records = match options.infer_schema_rows {
        Some(rows) => rows.saturating_add(usize::from(options.has_header)).max(1),
        None => usize::MAX,
    };
    let headers: Vec<bool> = paths.iter().map(|p| p.1).collect();
    std::thread::scope(|scope| {
        // The next block is read and hashed on its own thread while this
        // one parses: Polars leaves a core idle in the sequential parts of
        // a parse (splitting a block into lines, inferring the schema).
        let (sender, received) = std::sync::mpsc::sync_channel(1);
        // Blocks parsed go back to the reader, which reads into them again.
        let (recycle, recycle_rx) = std::sync::mpsc::channel();
        let reading = scope.spawn(move || {
            read_parts(
                readers,
                &headers,
                fresh,
                first_records,
                options,
                &sender,
                &recycle_rx,
            )
        });
        let mut timings = LoadTimings::default();
        let mut taken = Taken {
            width: loader.width(),
            loader,
            parsed_bytes: 0,
            recycle,
        };
        let mut read = Vec::new();
        // The parts whose header was checked.
        let mut headers_checked = vec![false; paths.len()];
        // Blocks after the first parse on threads of their own, two at a
        // time, and are taken in order: Polars' reader splits a block into
        // lines on one thread, and the other block's parse keeps the
        // second core busy meanwhile.
        let mut parsing = Parsing(VecDeque::new());
        // Polars' refusal of a block (its message), or a ragged row
        // (none), and in which part.
        let mut refused: Option<(usize, Option<String>)> = None;
        'pieces: for piece in &received {
            let (part, block) = match piece {
                Ok(Piece::Block(part, block)) => (part, block),
                Ok(Piece::End(part, done)) => {
                    debug_assert_eq!(read.len(), part);
                    // The first part decides the header and the types: an
                    // empty one must not let the next part's first row
                    // stand in for its header.
                    if first {
                        return Err(malformed(part, None, "the file is empty".to_owned()));
                    }
                    // A part's blocks are taken before the next part's
                    // header is looked at, as a parse in one thread would.
                    while let Some((part, thread)) = parsing.0.pop_front() {
                        refused = taken.take(part, thread, &mut timings, progress, options)?;
                        if refused.is_some() {
                            break 'pieces;
                        }
                    }
                    read.push(done);
                    continue;
                }
                Err((part, compression, e)) => {
                    return Err(match compression {
                        // A decoder's error carries no OS error code: the
                        // file was read, what it holds is broken. An OS
                        // error (EIO, EACCES) is the file's, compressed
                        // or not.
                        packed if packed != Compression::None && e.raw_os_error().is_none() => {
                            malformed(
                                part,
                                None,
                                format!("the {} stream is corrupt: {e}", packed.name()),
                            )
                        }
                        _ => Error::io(&paths[part].0, e),
                    });
                }
            };
            if first && block.iter().all(u8::is_ascii_whitespace) {
                return Err(malformed(part, None, "the file is empty".to_owned()));
            }
            if paths[part].1 && !(fresh && part == 0) && !headers_checked[part] {
                // The first block of a later part is its header alone.
                headers_checked[part] = true;
                taken
                    .loader
                    .check_header(&block)
                    .map_err(|message| schema_mismatch(&paths[part].0, first_file, message))?;
                continue;
            }
            if first {
                // The first block decides the schema every later one is
                // read with: parsed alone, here.
                let started = Instant::now();
                let parsed = taken.loader.parse_first(&block);
                let thread = ParseThread::Done(block, parsed, started.elapsed());
                refused = taken.take(part, thread, &mut timings, progress, options)?;
                if refused.is_some() {
                    break;
                }
                first = false;
                continue;
            }
            let parser = taken.loader.parser();
            let thread = if block.len() < options.block_bytes / 2 {
                // A short block (the end of a part) costs less to parse
                // than a thread to start.
                let started = Instant::now();
                let parsed = parser.parse(&block);
                ParseThread::Done(block, parsed, started.elapsed())
            } else {
                ParseThread::Running(scope.spawn(move || {
                    let started = Instant::now();
                    let parsed = parser.parse(&block);
                    (block, parsed, started.elapsed())
                }))
            };
            parsing.0.push_back((part, thread));
            if parsing.0.len() >= PARSED_AT_ONCE {
                let (part, thread) = parsing.0.pop_front().expect("a block in its parse");
                refused = taken.take(part, thread, &mut timings, progress, options)?;
                if refused.is_some() {
                    break;
                }
            }
        }
        while refused.is_none()
            && let Some((part, thread)) = parsing.0.pop_front()
        {
            refused = taken.take(part, thread, &mut timings, progress, options)?;
        }
        let loader = taken.loader;
        if let Some((part, polars)) = refused {
            // Finding the bad line reads the whole file again: not beside
            // the blocks parsed so far, nor blocks read ahead or in their
            // parse (the reader stops at its next send once nobody
            // receives).
            drop(parsing);
            let inferred = loader.column_types();
            drop(loader);
            drop(received);
            return Err(diagnosed(
                &paths[part].0,
                &paths[part].2,
                options,
                &inferred,
                polars,
            ));
        }
        // The reader stops at the end of the last part or at its first
        // error, which it sent; a panic there is a bug, said as one.
        let times = reading
            .join()
            .map_err(|_| Error::Compute(format!("reading {} panicked", paths[0].0.display())))?;
        if first {
            return Err(malformed(0, None, "the file is empty".to_owned()));
        }
        let frame = loader.finish(&mut timings)?;
        timings.read = times.read;
        timings.fingerprint = times.hash;
        timings.bytes = times.bytes;
        timings.total = started.elapsed();
        Ok(Parsed {
            frame,
            parts: read,
            timings,
        })
    })
}

/// Blocks parsed at once, in their own threads.
const PARSED_AT_ONCE: usize = 2;

/// The blocks in their parse, oldest first. Those left when the load ends
/// early (an error, a refused block) are waited for and dropped here:
/// not beside the diagnosis of a refused block, and a parse that panicked
/// is not the scope's panic.
struct Parsing<'scope>(VecDeque<(usize, ParseThread<'scope>)>);

impl Drop for Parsing<'_> {
    fn drop(&mut self) {
        for (_, thread) in self.0.drain(..) {
            if let ParseThread::Running(handle) = thread {
                let _ = handle.join();
            }
        }
    }
}

/// A block and its parse, with how long it took.
type ParsedBlock = (Vec<u8>, PolarsResult<DataFrame>, std::time::Duration);

/// A block's parse: on its thread, or done.
enum ParseThread<'scope> {
    Running(std::thread::ScopedJoinHandle<'scope, ParsedBlock>),
    Done(Vec<u8>, PolarsResult<DataFrame>, std::time::Duration),
}

/// The frame so far, taking parsed blocks in file order.
struct Taken<'a> {
    loader: Loader<'a>,
    width: usize,
    parsed_bytes: u64,
    /// Where blocks parsed go back to the reader.
    recycle: std::sync::mpsc::Sender<Vec<u8>>,
}

impl Taken<'_> {
    /// Adds the block `thread` parsed (waiting for it); the part and
    /// Polars' message (none for a ragged row) when it is refused.
    fn take(
        &mut self,
        part: usize,
        thread: ParseThread<'_>,
        timings: &mut LoadTimings,
        progress: &(dyn Fn(u64) + Sync),
        options: &LoadOptions,
    ) -> Result<Option<(usize, Option<String>)>> {
        let waited = Instant::now();
        let (block, parsed, took) = match thread {
            ParseThread::Done(block, parsed, took) => (block, parsed, took),
            ParseThread::Running(handle) => {
                let done = handle.join().map_err(|panic| {
                    Error::Compute(format!(
                        "parsing a block of CSV panicked: {}",
                        crate::error::panic_message(&*panic)
                    ))
                })?;
                // The load waited this long for the parse; the rest of
                // it ran beside the parse of the block before.
                let waited = waited.elapsed();
                (done.0, done.1, waited.min(done.2))
            }
        };
        timings.parse += took;
        let first = self.loader.wide.is_none();
        let frame = match parsed {
            Ok(frame) => frame,
            Err(err) => return Ok(Some((part, Some(err.to_string())))),
        };
        if first {
            self.width = frame.width();
        }
        if has_short_rows(&frame, &block, self.width, first, options) {
            return Ok(Some((part, None)));
        }
        self.loader.add(frame, first, timings)?;
        self.parsed_bytes += block.len() as u64;
        progress(self.parsed_bytes);
        // The reader may have ended: the block is then freed here.
        let _ = self.recycle.send(block);
        Ok(None)
    }
}

/// Parses a block after the first with the schema known when it was
/// read: an `Int32` column of that schema that a value outgrew is read
/// again as `Int64`.
struct BlockParser<'a> {
    options: &'a LoadOptions,
    wide: SchemaRef,
    narrowed: SchemaRef,
}

impl BlockParser<'_> {
    fn parse(&self, block: &[u8]) -> PolarsResult<DataFrame> {
        let read = |schema: &SchemaRef| {
            read_options(self.options)
                .with_has_header(false)
                .with_schema(Some(schema.clone()))
                .into_reader_with_file_handle(Cursor::new(block))
                .finish()
        };
        match read(&self.narrowed) {
            // Polars refuses an integer out of the column's range: read
            // the block wide (where an error is the file's).
            Err(_) if !Arc::ptr_eq(&self.wide, &self.narrowed) => read(&self.wide),
            parsed => parsed,
        }
    }
}

fn schema_mismatch(path: &Path, first: &Path, (column, message): (String, String)) -> Error {
    Error::SchemaMismatch {
        path: path.to_owned(),
        first: first.to_owned(),
        column,
        message,
    }
}

/// The reader thread's times and bytes, over every part.
#[derive(Default)]
struct ReadTimes {
    read: std::time::Duration,
    hash: std::time::Duration,
    bytes: u64,
}

type Sent = std::result::Result<Piece, (usize, Compression, std::io::Error)>;

/// Sends each part's blocks and its end, or its error, until the last part
/// ends or nobody is receiving (the parse failed).
fn read_parts(
    readers: Vec<(Opening<'_>, (Xxh3, u64))>,
    headers: &[bool],
    first: bool,
    first_records: usize,
    options: &LoadOptions,
    sender: &std::sync::mpsc::SyncSender<Sent>,
    recycled: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> ReadTimes {
    let mut times = ReadTimes::default();
    for (part, (reader, (hashed, before))) in readers.into_iter().enumerate() {
        let (compression, reader) = match reader.open() {
            Ok(opened) => opened,
            Err(e) => {
                let _ = sender.send(Err((part, Compression::None, e)));
                return times;
            }
        };
        // The first block of the first part is the header and the
        // inference rows; a later part's first block is its header alone.
        let first_block = if first && part == 0 {
            Some(first_records)
        } else if headers[part] {
            Some(1)
        } else {
            None
        };
        let mut blocks = Blocks::new(
            reader,
            options.block_bytes,
            first_block,
            options.delimiter,
            options.quote_char,
        )
        .with_hashed(hashed, before);
        loop {
            let sent = match blocks.next_block_into(recycled.try_recv().ok()) {
                Ok(Some(block)) => sender.send(Ok(Piece::Block(part, block))),
                Ok(None) => break,
                Err(e) => {
                    let _ = sender.send(Err((part, compression, e)));
                    return times;
                }
            };
            if sent.is_err() {
                return times;
            }
        }
        times.read += blocks.read_time();
        times.hash += blocks.hash_time();
        times.bytes += blocks.read_bytes();
        let done = PartRead {
            hash: blocks.digest(),
            bytes: before + blocks.read_bytes(),
            ends_with_newline: blocks.ended_on_record(),
        };
        if sender.send(Ok(Piece::End(part, done))).is_err() {
            return times;
        }
    }
    times
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

    /// A loader that goes on from `frame`, loaded earlier with the same
    /// options: later blocks are read with its schema and categoricals.
    fn resume(options: &'a LoadOptions, frame: DataFrame) -> Self {
        let mut loader = Loader::new(options);
        if let Some(categorical) = frame
            .columns()
            .iter()
            .map(Column::dtype)
            .find(|dtype| dtype.is_categorical())
        {
            // The same dictionary: new values join it.
            loader.categorical = categorical.clone();
        }
        let narrowed = frame.schema().clone();
        let mut wide = (*narrowed).clone();
        for column in frame.columns() {
            if column.dtype() == &DataType::Int32 && narrowable_name(column.name(), options) {
                wide.set_dtype(column.name(), DataType::Int64);
                loader.narrow.push((column.name().clone(), true));
            }
        }
        loader.wide = Some(Arc::new(wide));
        loader.narrowed = Some(narrowed);
        loader.blocks.push(frame);
        loader
    }

    /// The numbers and booleans the columns are read as, once the first
    /// block set them, in the words of a forced type: what a later block's
    /// cells are checked against to find the line Polars refused. Text
    /// takes any value, and an inferred date may have any of Polars'
    /// formats, so neither is checked.
    fn column_types(&self) -> Vec<(String, ColumnType)> {
        let Some(wide) = &self.wide else {
            return Vec::new();
        };
        wide.iter()
            .filter_map(|(name, dtype)| {
                let ty = match dtype {
                    dtype if dtype.is_integer() => ColumnType::Int,
                    dtype if dtype.is_float() => ColumnType::Float,
                    DataType::Boolean => ColumnType::Bool,
                    _ => return None,
                };
                Some((name.to_string(), ty))
            })
            .collect()
    }

    /// The number of columns, once the schema is known.
    fn width(&self) -> usize {
        self.wide.as_ref().map_or(0, |schema| schema.len())
    }

    /// Whether `block`, the header of a later file, names the columns the
    /// first file's header named, in order; the column and what differs
    /// when not.
    fn check_header(&self, block: &[u8]) -> std::result::Result<(), (String, String)> {
        let Some(wide) = &self.wide else {
            return Err((
                String::new(),
                "the first file has no header to match".to_owned(),
            ));
        };
        let header = self
            .infer_options(Vec::new())
            .with_infer_schema_length(Some(0))
            .with_raise_if_empty(false)
            .into_reader_with_file_handle(Cursor::new(block))
            .finish()
            .map_err(|e| (String::new(), format!("its header cannot be read: {e}")))?;
        let names: Vec<&PlSmallStr> = header.get_column_names();
        let expected: Vec<&PlSmallStr> = wide.iter_names().collect();
        if let Some(i) =
            (0..names.len().max(expected.len())).find(|&i| names.get(i) != expected.get(i))
        {
            return Err(match (names.get(i), expected.get(i)) {
                (Some(found), Some(want)) => (
                    want.to_string(),
                    format!(
                        "column {} is `{found}`, where the first file has `{want}`",
                        i + 1
                    ),
                ),
                (None, Some(want)) => (
                    want.to_string(),
                    format!("it has {} columns and lacks `{want}`", names.len()),
                ),
                (Some(found), None) => (
                    found.to_string(),
                    format!(
                        "it has an extra column `{found}` ({} columns, not {})",
                        names.len(),
                        expected.len()
                    ),
                ),
                (None, None) => unreachable!("an index where the names differ"),
            });
        }
        Ok(())
    }

    /// Parses the first block, inferring its types as Polars would for
    /// the whole file.
    fn parse_first(&self, block: &[u8]) -> PolarsResult<DataFrame> {
        let read = |options: CsvReadOptions| {
            options
                .into_reader_with_file_handle(Cursor::new(block))
                .finish()
        };
        // Inferred without dates (cheap), then the text columns that could
        // hold dates looked at alone (see `dates`); the first block is only
        // the inference rows, so reading it again with their types costs
        // little.
        let frame = read(self.infer_options(Vec::new()))?;
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
        read(self.infer_options(dates))
    }

    /// What parses the later blocks, with the schema as it stands.
    fn parser(&self) -> BlockParser<'a> {
        let (Some(wide), Some(narrowed)) = (&self.wide, &self.narrowed) else {
            unreachable!("the first block set the schema");
        };
        BlockParser {
            options: self.options,
            wide: wide.clone(),
            narrowed: narrowed.clone(),
        }
    }

    /// How to read the first block: its types inferred, but the forced
    /// ones and `dates`.
    fn infer_options(&self, dates: Vec<Field>) -> CsvReadOptions {
        let options = self.options;
        let overrides: Schema = options
            .column_types
            .iter()
            .map(|(name, ty)| Field::new(name.into(), dtype_of(*ty, &self.categorical)))
            .chain(dates)
            .collect();
        read_options(options)
            .with_has_header(options.has_header)
            .with_infer_schema_length(options.infer_schema_rows)
            .with_schema_overwrite((!overrides.is_empty()).then(|| Arc::new(overrides)))
            .with_raise_if_empty(true)
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

/// Polars' reader options every block shares.
fn read_options(options: &LoadOptions) -> CsvReadOptions {
    let parse_options = CsvParseOptions::default()
        .with_separator(options.delimiter)
        .with_quote_char(options.quote_char)
        .with_null_values(null_values(options))
        .with_missing_is_null(true);
    CsvReadOptions::default()
        .with_parse_options(parse_options)
        // One chunk a block: Polars leaves a chunk per thread and piece.
        .with_rechunk(true)
}

pub(super) fn dtype_of(ty: ColumnType, categorical: &DataType) -> DataType {
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
    whole: &dyn Fn() -> Option<Vec<u8>>,
    options: &LoadOptions,
    inferred: &[(String, ColumnType)],
    polars: Option<String>,
) -> Error {
    let found = whole().and_then(|bytes| diagnose::first_bad_record(&bytes, options, inferred));
    // Polars' first line says what; the rest is advice for its Python
    // API (`infer_schema_length=`, `ignore_errors`) and an offset into a
    // block, not the file.
    let polars = polars.map(|err| err.lines().next().unwrap_or_default().to_owned());
    let (line, message) = match (found, polars) {
        (Some((line, detail)), _) => (Some(line), detail),
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

pub(super) fn to_categoricals(
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

/// The cell texts read as null besides the empty cell, as Polars' CSV
/// readers take them (the loader's and scan mode's).
pub(super) fn null_values(options: &LoadOptions) -> Option<NullValues> {
    (!options.null_values.is_empty()).then(|| {
        NullValues::AllColumns(
            options
                .null_values
                .iter()
                .map(|s| s.as_str().into())
                .collect(),
        )
    })
}

/// The `Int64` columns whose type the options leave to the loader.
pub(super) fn narrowable(frame: &DataFrame, options: &LoadOptions) -> Vec<(PlSmallStr, bool)> {
    if !options.shrink_integers {
        return Vec::new();
    }
    frame
        .columns()
        .iter()
        .filter(|c| c.dtype() == &DataType::Int64 && narrowable_name(c.name(), options))
        .map(|c| (c.name().clone(), true))
        .collect()
}

/// Whether the options leave the type of the column called `name` to the
/// loader (it was not forced).
fn narrowable_name(name: &str, options: &LoadOptions) -> bool {
    options.shrink_integers
        && !options
            .column_types
            .iter()
            .any(|(forced, _)| forced == name)
}

pub(super) fn fits_i32(column: &Column) -> Result<bool> {
    let values = column.as_materialized_series().i64()?;
    let fits = |v: Option<i64>| v.is_none_or(|v| i32::try_from(v).is_ok());
    Ok(fits(values.min()) && fits(values.max()))
}
