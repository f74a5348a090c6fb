//! The byte format persisted tiers store a result in: a header holding the
//! format version, the full canonical key and what computing cost, then the
//! frame as a compressed Arrow IPC file, then a checksum of everything
//! before it.
//!
//! ```text
//! "PQC\x01"  u32 version  u32 key_len  key (UTF-8)  u64 created_ms  u64 cost_us
//! u64 payload_len  payload (Arrow IPC file, lz4)  u64 xxh3(all of the above)
//! ```
//!
//! A read verifies all three (version, key, checksum): a file or value that
//! fails any of them is never decoded into an answer.

use std::io::Cursor;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 4] = b"PQC\x01";
/// Bumped whenever the layout changes.
pub const CODEC_VERSION: u32 = 2;

/// Why bytes were not an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Too short, wrong magic, or lengths that do not add up.
    Truncated,
    /// Written by another version of the format.
    Version(u32),
    /// The checksum does not match: flipped bytes.
    Checksum,
    /// A valid entry of another key (a hash collision, or a planted value).
    OtherKey,
    /// The Arrow payload does not decode.
    Payload(String),
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::Truncated => write!(f, "truncated or not a pqc entry"),
            Rejected::Version(v) => write!(f, "format version {v}, expected {CODEC_VERSION}"),
            Rejected::Checksum => write!(f, "checksum mismatch"),
            Rejected::OtherKey => write!(f, "entry of another key"),
            Rejected::Payload(e) => write!(f, "undecodable payload: {e}"),
        }
    }
}

/// A decoded entry.
#[derive(Debug)]
pub struct Decoded {
    /// The answer.
    pub frame: DataFrame,
    /// When it was written.
    pub created: SystemTime,
    /// What computing it cost.
    pub cost: Duration,
}

/// Encodes `frame` as the entry of `key`.
pub fn encode(key: &str, frame: &DataFrame, cost: Duration) -> PolarsResult<Vec<u8>> {
    let mut payload = Vec::new();
    let mut frame = frame.clone();
    IpcWriter::new(&mut payload)
        // LZ4: decoding is what a hit pays, and LZ4 decodes fastest.
        .with_compression(Some(IpcCompression::LZ4))
        .finish(&mut frame)?;
    let created_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mut out = Vec::with_capacity(payload.len() + key.len() + 48);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&CODEC_VERSION.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&created_ms.to_le_bytes());
    out.extend_from_slice(&(cost.as_micros() as u64).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload);
    let checksum = xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Rejected> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(Rejected::Truncated)?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, Rejected> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| Rejected::Truncated)?,
        ))
    }

    fn u64(&mut self) -> Result<u64, Rejected> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| Rejected::Truncated)?,
        ))
    }
}

/// The key an entry claims to hold, without verifying the rest: for
/// listing what a directory holds.
pub fn peek_key(bytes: &[u8]) -> Result<&str, Rejected> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4)? != MAGIC {
        return Err(Rejected::Truncated);
    }
    let version = r.u32()?;
    if version != CODEC_VERSION {
        return Err(Rejected::Version(version));
    }
    let len = r.u32()? as usize;
    std::str::from_utf8(r.take(len)?).map_err(|_| Rejected::Truncated)
}

/// Decodes `bytes` as the entry of `key`.
pub fn decode(bytes: &[u8], key: &str) -> Result<Decoded, Rejected> {
    if bytes.len() < 8 {
        return Err(Rejected::Truncated);
    }
    let stored_key = peek_key(bytes)?;
    let (body, trailer) = bytes.split_at(bytes.len() - 8);
    let checksum = u64::from_le_bytes(trailer.try_into().map_err(|_| Rejected::Truncated)?);
    if xxh3_64(body) != checksum {
        return Err(Rejected::Checksum);
    }
    if stored_key != key {
        return Err(Rejected::OtherKey);
    }
    let mut r = Reader {
        bytes: body,
        at: 12 + stored_key.len(),
    };
    let created = UNIX_EPOCH + Duration::from_millis(r.u64()?);
    let cost = Duration::from_micros(r.u64()?);
    let len = usize::try_from(r.u64()?).map_err(|_| Rejected::Truncated)?;
    let payload = r.take(len)?;
    if r.at != body.len() {
        return Err(Rejected::Truncated);
    }
    let frame = IpcReader::new(Cursor::new(payload))
        .finish()
        .map_err(|e| Rejected::Payload(e.to_string()))?;
    Ok(Decoded {
        frame,
        created,
        cost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df!("a" => [1i64, 2, 3], "b" => [Some("x"), None, Some("z")]).unwrap()
    }

    #[test]
    fn round_trip() {
        let bytes = encode("k1", &frame(), Duration::from_micros(1234)).unwrap();
        let decoded = decode(&bytes, "k1").unwrap();
        assert!(decoded.frame.equals_missing(&frame()));
        assert_eq!(decoded.cost, Duration::from_micros(1234));
        assert_eq!(peek_key(&bytes).unwrap(), "k1");
    }

    #[test]
    fn every_kind_of_damage_is_rejected() {
        let bytes = encode("k1", &frame(), Duration::ZERO).unwrap();
        assert_eq!(decode(&bytes, "k2").unwrap_err(), Rejected::OtherKey);
        for cut in [0, 3, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], "k1").is_err(), "cut at {cut}");
        }
        for at in [
            0,
            5,
            9,
            20,
            bytes.len() / 2,
            bytes.len() - 9,
            bytes.len() - 1,
        ] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x40;
            assert!(decode(&flipped, "k1").is_err(), "flip at {at}");
        }
        let mut other_version = bytes.clone();
        other_version[4] = 9;
        assert_eq!(
            decode(&other_version, "k1").unwrap_err(),
            Rejected::Version(9)
        );
        assert_eq!(
            decode(b"garbage that is long enough", "k1").unwrap_err(),
            Rejected::Truncated
        );
    }
}
