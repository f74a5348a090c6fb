//! Compressed CSV: gzip and zstd, recognised by their magic bytes (not by
//! the file's name, so a misnamed file still reads) and decompressed while
//! the blocks are read.
//!
//! The fingerprint hashes the decompressed bytes: the data, not its
//! packaging, so `sales.csv` and `sales.csv.gz` of the same rows share
//! their cached answers.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// How a CSV's bytes are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// What the first bytes of a file say it is.
    pub(crate) fn of(start: &[u8]) -> Compression {
        if start.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if start.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The name of the format, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// `reader`'s bytes, decompressed.
    pub(crate) fn decode<'a>(
        self,
        reader: impl Read + Send + 'a,
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Compression::None => Box::new(reader),
            // Concatenated gzip members are one stream, as `gzip -d` reads
            // them.
            Compression::Gzip => {
                Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(reader)))
            }
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
        })
    }
}

/// Opens a CSV file, compressed or not, as its CSV bytes.
pub(crate) fn open(path: &Path) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    let mut file = File::open(path)?;
    // The first bytes are read, then put back in front of the rest rather
    // than by seeking, so that a pipe (`<(zcat ...)`, `/dev/stdin`) reads.
    let mut start = [0; 4];
    let mut seen = 0;
    while seen < start.len() {
        match file.read(&mut start[seen..]) {
            Ok(0) => break,
            Ok(n) => seen += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let compression = Compression::of(&start[..seen]);
    let whole = io::Cursor::new(start).take(seen as u64).chain(file);
    Ok((compression, compression.decode(whole)?))
}

/// The file name without a compression suffix: `sales.csv` for
/// `sales.csv.gz`.
pub(crate) fn strip_suffix(name: &str) -> &str {
    [".gz", ".gzip", ".zst", ".zstd"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}
