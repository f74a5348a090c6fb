//! File helpers for the disk tier and the dataset snapshots alike: files
//! written whole or not at all, and Arrow IPC files checked before they are
//! read.

use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use xxhash_rust::xxh3::xxh3_128;

/// Writes to a temporary file in the same directory, syncs it, then renames
/// it into place and syncs the directory (where the platform allows):
/// readers see the old file, the new one, or none; never half of one, even
/// after a crash.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let unique = format!(
        ".{}.tmp-{}-{:x}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id(),
        xxh3_128(format!("{:?}{:?}", std::thread::current().id(), SystemTime::now()).as_bytes())
            as u64
    );
    let tmp = dir.join(unique);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ignored = fs::remove_file(&tmp);
        return result;
    }
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable. Only Unix can open a directory to sync
/// it; elsewhere (and where the file system refuses) the rename stands
/// as the platform keeps it.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(path = %dir.display(), error = %e, "cannot sync a directory");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Whether `path` is a temporary file of [`write_atomically`] left over an
/// hour ago, by a process that died while writing.
pub(crate) fn is_stale_temp(path: &Path, meta: &fs::Metadata) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let old = meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(3600));
    name.starts_with('.') && name.contains(".tmp-") && old
}

/// Why an Arrow IPC file is not read.
#[derive(Debug)]
pub(crate) enum IpcRefused {
    /// Its lengths do not add up: damaged, or planted.
    Malformed(String),
    /// A batch holds more rows than the caller allows.
    TooManyRows {
        /// The rows of the batch.
        rows: usize,
        /// The most allowed.
        max: usize,
    },
}

impl fmt::Display for IpcRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpcRefused::Malformed(why) => write!(f, "undecodable payload: {why}"),
            IpcRefused::TooManyRows { rows, max } => {
                write!(f, "{rows} rows in a batch, at most {max} expected")
            }
        }
    }
}

/// The most an LZ4 buffer can legitimately expand (the format's ceiling is
/// about 255:1), plus a little for tiny buffers.
const MAX_EXPANSION: usize = 256;
const EXPANSION_SLACK: usize = 64;

/// Checks, before anything is decoded, every length the Arrow reader would
/// trust in an Arrow IPC file: blocks and buffers lie within the file,
/// batches hold at most `max_rows` rows, and no compressed buffer claims to
/// expand beyond what LZ4 can. What decoding allocates is then bounded by
/// a small multiple of the file's size, whatever its bytes (the reader
/// allocates what the file claims before it reads, and an allocation
/// failure aborts the process). Reads only the metadata, a few bytes at a
/// time.
pub(crate) fn check_ipc_file<R: Read + Seek>(
    reader: &mut R,
    max_rows: Option<usize>,
) -> Result<(), IpcRefused> {
    use polars_arrow::io::ipc::format::ipc::planus::ReadAsRoot;
    use polars_arrow::io::ipc::format::ipc::{MessageHeaderRef, MessageRef};
    use polars_arrow::io::ipc::read::read_file_metadata;

    let bad = IpcRefused::Malformed;
    let index = |n: i64, what: &str| {
        usize::try_from(n).map_err(|_| IpcRefused::Malformed(format!("negative {what}: {n}")))
    };
    let io = |e: std::io::Error| IpcRefused::Malformed(e.to_string());
    let size = usize::try_from(reader.seek(SeekFrom::End(0)).map_err(io)?)
        .map_err(|_| bad("a file larger than memory".to_owned()))?;
    // The footer: its length is checked against the file's by the reader.
    let metadata = read_file_metadata(reader).map_err(|e| bad(e.to_string()))?;
    // `n` bytes at `at`, all within the file.
    let mut read_at = |at: usize, n: usize| -> Result<Vec<u8>, IpcRefused> {
        if at.checked_add(n).is_none_or(|end| end > size) {
            return Err(bad("a length past the end of the file".to_owned()));
        }
        let mut bytes = vec![0; n];
        reader.seek(SeekFrom::Start(at as u64)).map_err(io)?;
        reader.read_exact(&mut bytes).map_err(io)?;
        Ok(bytes)
    };
    let blocks = metadata
        .blocks
        .iter()
        .chain(metadata.dictionaries.iter().flatten());
    for block in blocks {
        let start = index(block.offset, "block offset")?;
        let body = start
            .checked_add(index(block.meta_data_length.into(), "metadata length")?)
            .ok_or_else(|| bad("block offset overflows".to_owned()))?;
        let body_len = index(block.body_length, "body length")?;
        if body.checked_add(body_len).is_none_or(|end| end > size) {
            return Err(bad("a block ends past the file".to_owned()));
        }
        // The message: [0xffffffff] i32 length, then the flatbuffer.
        let word = |bytes: Vec<u8>| -> [u8; 4] { bytes.try_into().unwrap_or([0; 4]) };
        let mut at = start;
        let mut length = word(read_at(at, 4)?);
        if length == [0xff; 4] {
            at += 4;
            length = word(read_at(at, 4)?);
        }
        let length = index(i32::from_le_bytes(length).into(), "message length")?;
        let meta = read_at(at + 4, length)?;
        let message = MessageRef::read_as_root(&meta).map_err(|e| bad(e.to_string()))?;
        let batch = match message.header().map_err(|e| bad(e.to_string()))? {
            Some(MessageHeaderRef::RecordBatch(batch)) => batch,
            Some(MessageHeaderRef::DictionaryBatch(dictionary)) => dictionary
                .data()
                .map_err(|e| bad(e.to_string()))?
                .ok_or_else(|| bad("a dictionary without data".to_owned()))?,
            _ => return Err(bad("a block that is not a record batch".to_owned())),
        };
        let rows = index(batch.length().map_err(|e| bad(e.to_string()))?, "row count")?;
        if let Some(max) = max_rows
            && rows > max
        {
            return Err(IpcRefused::TooManyRows { rows, max });
        }
        let compressed = batch
            .compression()
            .map_err(|e| bad(e.to_string()))?
            .is_some();
        let buffers = batch.buffers().map_err(|e| bad(e.to_string()))?;
        for buffer in buffers.into_iter().flatten() {
            let offset = index(buffer.offset(), "buffer offset")?;
            let len = index(buffer.length(), "buffer length")?;
            if offset.checked_add(len).is_none_or(|end| end > body_len) {
                return Err(bad("a buffer ends past its block".to_owned()));
            }
            if !compressed || len == 0 {
                continue;
            }
            if len < 8 {
                return Err(bad("a compressed buffer without its length".to_owned()));
            }
            let prefix = read_at(body + offset, 8)?;
            let claimed = i64::from_le_bytes(prefix.try_into().unwrap_or([0; 8]));
            // -1: stored uncompressed.
            if claimed != -1 {
                let claimed = index(claimed, "decompressed length")?;
                if claimed > len.saturating_mul(MAX_EXPANSION) + EXPANSION_SLACK {
                    return Err(bad(format!(
                        "a buffer of {len} bytes claims to expand to {claimed}"
                    )));
                }
            }
        }
    }
    Ok(())
}
