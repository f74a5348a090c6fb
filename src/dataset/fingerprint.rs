//! A content hash of the data and the options it was read with: part of
//! every cache key, so a changed file can never be answered from old entries.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use polars::prelude::{CompatLevel, DataFrame, IpcStreamWriter, SerWriter};
use xxhash_rust::xxh3::Xxh3;

use super::LoadOptions;
use crate::Result;

/// Bumped when the meaning of loaded data changes between releases (how
/// options are applied, categorical rules), so old persisted entries miss.
const LOAD_FORMAT: u64 = 1;

/// A 128-bit content hash identifying one version of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u128);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Reads the form [`Display`](fmt::Display) writes: 1 to 32 hexadecimal
/// digits, nothing else (no sign, no `0x`). Persisted tiers and snapshots
/// name files, keys and messages with it.
///
/// ```
/// use polars_query_cache::Fingerprint;
///
/// let fingerprint = Fingerprint(0xabc);
/// assert_eq!(fingerprint.to_string().parse(), Ok(fingerprint));
/// assert!("+abc".parse::<Fingerprint>().is_err());
/// ```
impl FromStr for Fingerprint {
    type Err = ParseFingerprintError;

    fn from_str(text: &str) -> Result<Fingerprint, ParseFingerprintError> {
        if !(1..=32).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseFingerprintError);
        }
        u128::from_str_radix(text, 16)
            .map(Fingerprint)
            .map_err(|_| ParseFingerprintError)
    }
}

/// A text that is not a [`Fingerprint`]'s hexadecimal form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a dataset fingerprint (1 to 32 hexadecimal digits)")]
pub struct ParseFingerprintError;

impl Fingerprint {
    /// The fingerprint of content whose xxh3-128 is `content` (a file's
    /// bytes, or a set's hash of its files'), read with `options`.
    pub(crate) fn of_content(content: u128, options: &LoadOptions) -> Fingerprint {
        Fingerprint(content ^ options_hash(options).rotate_left(1))
    }

    /// The same fingerprint as [`of_content`](Self::of_content) of a lone
    /// CSV file, hashing the file.
    pub(crate) fn of_csv_file(
        path: &std::path::Path,
        options: &LoadOptions,
    ) -> std::io::Result<Fingerprint> {
        let (_, file) = super::compression::open(path)?;
        let hashed = hash_stream(file)?;
        Ok(Fingerprint::of_content(hashed.hasher.digest128(), options))
    }

    /// The fingerprint of a frame's content: the hash of its Arrow IPC
    /// stream, which holds the schema and every value.
    pub(crate) fn of_frame(frame: &DataFrame) -> Result<Fingerprint> {
        let mut hasher = HashingWriter(Xxh3::new());
        let mut frame = frame.clone();
        IpcStreamWriter::new(&mut hasher)
            .with_compat_level(CompatLevel::newest())
            .finish(&mut frame)?;
        Ok(Fingerprint(hasher.0.digest128() ^ u128::from(LOAD_FORMAT)))
    }
}

/// What [`hash_stream`] read.
pub(super) struct Hashed {
    /// The hash state after every byte (to go on from, for a file that grew).
    pub(super) hasher: Xxh3,
    pub(super) bytes: u64,
    pub(super) last_byte: Option<u8>,
}

/// Hashes everything `reader` yields, 8 MiB at a time: the files' content
/// hashes without holding them.
pub(super) fn hash_stream(mut reader: impl std::io::Read) -> std::io::Result<Hashed> {
    let mut hashed = Hashed {
        hasher: Xxh3::new(),
        bytes: 0,
        last_byte: None,
    };
    let mut chunk = vec![0; 8 << 20];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hashed.hasher.update(&chunk[..n]);
        hashed.bytes += n as u64;
        hashed.last_byte = Some(chunk[n - 1]);
    }
    Ok(hashed)
}

pub(super) fn options_hash(options: &LoadOptions) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.write_u64(LOAD_FORMAT);
    options.hash(&mut hasher);
    hasher.digest128()
}

struct HashingWriter(Xxh3);

impl std::io::Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
