//! The byte format persisted tiers store a result in: a header holding the
//! format version, the full canonical key and what computing cost, then the
//! frame as a compressed Arrow IPC file, then a MAC (when a
//! [`TierSecret`] is set) and a checksum of everything before it.
//!
//! ```text
//! "PQC\x01"  u32 version  u32 key_len  key (UTF-8)  u64 created_ms  u64 cost_us
//! u64 payload_len  payload (Arrow IPC file, lz4)
//! u32 tag_len  tag (empty, or 32 bytes: keyed BLAKE3 of everything before tag_len)
//! u64 xxh3(all of the above)
//! ```
//!
//! A read verifies the version, the checksum, the MAC (with a secret, an
//! entry without one or with a wrong one is refused), the key, and then the
//! decoded frame against what the key says it must hold ([`Expected`]): a
//! file or value that fails any of them is never an answer. Decoding never
//! panics, whatever the bytes: a panic inside the Arrow reader is caught and
//! becomes a rejection.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::secret::{TAG_LEN, TierSecret};
use crate::files::{IpcRefused, check_ipc_file};

const MAGIC: &[u8; 4] = b"PQC\x01";
/// Bumped whenever the layout changes.
pub const CODEC_VERSION: u32 = 3;

/// Why bytes were not an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Too short, wrong magic, or lengths that do not add up.
    Truncated,
    /// Written by another version of the format.
    Version(u32),
    /// The checksum does not match: flipped bytes.
    Checksum,
    /// A tier secret is set and the entry carries no MAC.
    Unsigned,
    /// The entry's MAC is not the one the tier secret gives.
    Forged,
    /// A valid entry of another key (a hash collision, or a planted value).
    OtherKey,
    /// The Arrow payload does not decode.
    Payload(String),
    /// The frame is not what the key says it must be (columns, names,
    /// types or row count).
    Schema(String),
}

impl Rejected {
    /// Whether the entry was refused for its MAC (missing or wrong): a
    /// writer without the secret, or a forgery.
    pub fn is_forged(&self) -> bool {
        matches!(self, Rejected::Unsigned | Rejected::Forged)
    }

    /// Whether the entry was refused for holding another frame than its
    /// key implies.
    pub fn is_wrong_schema(&self) -> bool {
        matches!(self, Rejected::Schema(_))
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::Truncated => write!(f, "truncated or not a pqc entry"),
            Rejected::Version(v) => write!(f, "format version {v}, expected {CODEC_VERSION}"),
            Rejected::Checksum => write!(f, "checksum mismatch"),
            Rejected::Unsigned => write!(f, "no MAC, and a tier secret is set"),
            Rejected::Forged => write!(f, "MAC mismatch: not written with this tier secret"),
            Rejected::OtherKey => write!(f, "entry of another key"),
            Rejected::Payload(e) => write!(f, "undecodable payload: {e}"),
            Rejected::Schema(e) => write!(f, "not the frame its key implies: {e}"),
        }
    }
}

/// What an entry's key says its frame must hold: the schema (column count,
/// names and types, in order) and bounds on the row count. A decoded frame
/// that differs is rejected before it is used.
#[derive(Debug, Clone)]
pub struct Expected {
    schema: SchemaRef,
    min_rows: usize,
    max_rows: Option<usize>,
}

impl Expected {
    /// A frame of exactly this schema, of any height.
    pub fn schema(schema: SchemaRef) -> Expected {
        Expected {
            schema,
            min_rows: 0,
            max_rows: None,
        }
    }

    /// Also between `min` and `max` rows (inclusive; `None`: no maximum).
    pub fn rows(mut self, min: usize, max: Option<usize>) -> Expected {
        self.min_rows = min;
        self.max_rows = max;
        self
    }

    /// Whether `frame` holds what is expected; why not, if it does not.
    pub fn check(&self, frame: &DataFrame) -> Result<(), Rejected> {
        let actual = frame.schema();
        if actual.len() != self.schema.len() {
            return Err(Rejected::Schema(format!(
                "{} columns, expected {}",
                actual.len(),
                self.schema.len()
            )));
        }
        for ((name, dtype), (want_name, want_dtype)) in actual.iter().zip(self.schema.iter()) {
            if name != want_name || dtype != want_dtype {
                return Err(Rejected::Schema(format!(
                    "column {}: {dtype}, expected {}: {want_dtype}",
                    excerpt(name),
                    excerpt(want_name)
                )));
            }
        }
        let height = frame.height();
        if height < self.min_rows || self.max_rows.is_some_and(|max| height > max) {
            return Err(Rejected::Schema(format!(
                "{height} rows, expected {} to {}",
                self.min_rows,
                self.max_rows
                    .map_or_else(|| "any".to_owned(), |m| m.to_string())
            )));
        }
        Ok(())
    }
}

/// A column name as a log line shows it: at most 64 characters.
fn excerpt(name: &str) -> String {
    let mut out: String = name.chars().take(64).collect();
    if out.len() < name.len() {
        out.push_str("...");
    }
    format!("{out:?}")
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

/// Encodes `frame` as the entry of `key`, without a MAC.
pub fn encode(key: &str, frame: &DataFrame, cost: Duration) -> PolarsResult<Vec<u8>> {
    encode_with(key, frame, cost, None)
}

/// Encodes `frame` as the entry of `key`, signed with `secret` if given.
pub fn encode_with(
    key: &str,
    frame: &DataFrame,
    cost: Duration,
    secret: Option<&TierSecret>,
) -> PolarsResult<Vec<u8>> {
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
    let key_len = u32::try_from(key.len())
        .map_err(|_| polars_err!(ComputeError: "key of {} bytes is too long", key.len()))?;
    let mut out = Vec::with_capacity(payload.len() + key.len() + 48 + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&CODEC_VERSION.to_le_bytes());
    out.extend_from_slice(&key_len.to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&created_ms.to_le_bytes());
    out.extend_from_slice(&(cost.as_micros() as u64).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload);
    match secret {
        Some(secret) => {
            let tag = secret.sign_entry(&out);
            out.extend_from_slice(&(TAG_LEN as u32).to_le_bytes());
            out.extend_from_slice(&tag);
        }
        None => out.extend_from_slice(&0u32.to_le_bytes()),
    }
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

    fn len(&mut self) -> Result<usize, Rejected> {
        usize::try_from(self.u64()?).map_err(|_| Rejected::Truncated)
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

/// Decodes `bytes` as the entry of `key`, without a secret and without
/// checking the frame's schema.
pub fn decode(bytes: &[u8], key: &str) -> Result<Decoded, Rejected> {
    decode_with(bytes, key, None, None)
}

/// Decodes `bytes` as the entry of `key`. With a `secret`, the entry must
/// carry its MAC; with `expected`, the frame must match it. Without a
/// secret, a MAC an entry carries is not checked (it cannot be).
pub fn decode_with(
    bytes: &[u8],
    key: &str,
    secret: Option<&TierSecret>,
    expected: Option<&Expected>,
) -> Result<Decoded, Rejected> {
    if bytes.len() < 8 {
        return Err(Rejected::Truncated);
    }
    let stored_key = peek_key(bytes)?;
    let (body, trailer) = bytes.split_at(bytes.len() - 8);
    let checksum = u64::from_le_bytes(trailer.try_into().map_err(|_| Rejected::Truncated)?);
    if xxh3_64(body) != checksum {
        return Err(Rejected::Checksum);
    }
    let mut r = Reader {
        bytes: body,
        at: 12 + stored_key.len(),
    };
    let created = UNIX_EPOCH + Duration::from_millis(r.u64()?);
    let cost = Duration::from_micros(r.u64()?);
    let len = r.len()?;
    let payload = r.take(len)?;
    let signed = &body[..r.at];
    let tag_len = r.u32()? as usize;
    let tag = r.take(tag_len)?;
    if r.at != body.len() {
        return Err(Rejected::Truncated);
    }
    if let Some(secret) = secret {
        if tag.is_empty() {
            return Err(Rejected::Unsigned);
        }
        if !secret.verify_entry(signed, tag) {
            return Err(Rejected::Forged);
        }
    }
    if stored_key != key {
        return Err(Rejected::OtherKey);
    }
    // The Arrow reader trusts the lengths inside the payload: they are
    // bounded first (an allocation failure would abort the process), and
    // whatever it makes of the rest (an error or a panic) is a rejection.
    let frame = catch_unwind(AssertUnwindSafe(|| {
        check_ipc(payload, expected.and_then(|e| e.max_rows))?;
        IpcReader::new(Cursor::new(payload))
            .finish()
            .map_err(|e| Rejected::Payload(e.to_string()))
    }))
    .map_err(|_| Rejected::Payload("the Arrow reader panicked".to_owned()))??;
    if let Some(expected) = expected {
        expected.check(&frame)?;
    }
    Ok(Decoded {
        frame,
        created,
        cost,
    })
}

/// Checks, before anything is decoded, every length the Arrow reader would
/// trust in `payload` (an Arrow IPC file): see [`check_ipc_file`].
fn check_ipc(payload: &[u8], max_rows: Option<usize>) -> Result<(), Rejected> {
    check_ipc_file(&mut Cursor::new(payload), max_rows).map_err(|refused| match refused {
        IpcRefused::Malformed(why) => Rejected::Payload(why),
        too_many @ IpcRefused::TooManyRows { .. } => Rejected::Schema(too_many.to_string()),
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

    #[test]
    fn with_a_secret_only_entries_signed_with_it_decode() {
        let (ours, theirs) = (TierSecret::new("ours"), TierSecret::new("theirs"));
        let signed = encode_with("k1", &frame(), Duration::ZERO, Some(&ours)).unwrap();
        assert!(decode_with(&signed, "k1", Some(&ours), None).is_ok());
        // Without a secret, a signed entry is an entry.
        assert!(decode(&signed, "k1").is_ok());
        assert_eq!(
            decode_with(&signed, "k1", Some(&theirs), None).unwrap_err(),
            Rejected::Forged
        );
        let unsigned = encode("k1", &frame(), Duration::ZERO).unwrap();
        assert_eq!(
            decode_with(&unsigned, "k1", Some(&ours), None).unwrap_err(),
            Rejected::Unsigned
        );
        // Flipping a payload byte and fixing the checksum (anyone can) is
        // still caught by the MAC.
        let mut forged = signed.clone();
        let at = forged.len() / 2;
        forged[at] ^= 1;
        let n = forged.len() - 8;
        let checksum = xxh3_64(&forged[..n]);
        forged[n..].copy_from_slice(&checksum.to_le_bytes());
        let why = decode_with(&forged, "k1", Some(&ours), None).unwrap_err();
        assert_eq!(why, Rejected::Forged);
        assert!(why.is_forged());
    }

    #[test]
    fn a_frame_of_another_shape_is_rejected() {
        let bytes = encode("k1", &frame(), Duration::ZERO).unwrap();
        let right = Expected::schema(frame().schema().clone());
        assert!(decode_with(&bytes, "k1", None, Some(&right)).is_ok());
        assert!(decode_with(&bytes, "k1", None, Some(&right.clone().rows(1, Some(3)))).is_ok());
        let other = df!("a" => [1i64], "c" => ["x"]).unwrap();
        let renamed = Expected::schema(other.schema().clone());
        let retyped = Expected::schema(df!("a" => [1i32], "b" => ["x"]).unwrap().schema().clone());
        let narrower = Expected::schema(df!("a" => [1i64]).unwrap().schema().clone());
        for expected in [renamed, retyped, narrower, right.rows(1, Some(1))] {
            let why = decode_with(&bytes, "k1", None, Some(&expected)).unwrap_err();
            assert!(why.is_wrong_schema(), "{why}");
        }
    }

    #[test]
    fn planted_bytes_never_crash_the_decoder() {
        let bytes = encode("k1", &frame(), Duration::ZERO).unwrap();
        // Every single-byte change with the checksum fixed up: what someone
        // who can write to the tier, but has no secret, can plant.
        for at in 0..bytes.len() - 8 {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut planted = bytes.clone();
                planted[at] ^= flip;
                let n = planted.len() - 8;
                let checksum = xxh3_64(&planted[..n]);
                planted[n..].copy_from_slice(&checksum.to_le_bytes());
                let _outcome = decode(&planted, "k1");
            }
        }
    }
}
