//! The shared secret that signs what the persisted tiers hold: every disk
//! file, Redis value and invalidation message carries a keyed BLAKE3 MAC,
//! so that whoever can write to the cache directory or to Redis, but does
//! not know the secret, cannot make a worker serve (or drop) anything.
//!
//! Two keys are derived from the one secret (BLAKE3's `derive_key`, with a
//! context string each): one for entries, one for messages, so that a
//! signed message can never pass for a signed entry or the other way round.
//! Tags are compared in constant time (`blake3::Hash`'s equality).

use std::fmt;

/// Length of a MAC, in bytes.
pub(crate) const TAG_LEN: usize = blake3::OUT_LEN;

const ENTRY_CONTEXT: &str = "polars-query-cache 2026-11 tier entry MAC v1";
#[cfg(feature = "redis")]
const MESSAGE_CONTEXT: &str = "polars-query-cache 2026-11 invalidation message MAC v1";

/// A secret shared by every process that shares the cache directory or the
/// Redis server; see [`CachedQueryBuilder::tier_secret`](crate::CachedQueryBuilder::tier_secret).
///
/// Its `Debug` form never shows the secret.
#[derive(Clone)]
pub struct TierSecret {
    entries: [u8; 32],
    #[cfg(feature = "redis")]
    messages: [u8; 32],
}

impl TierSecret {
    /// Derives the signing keys from `secret`. Any length works; use at
    /// least 32 random bytes (for example `openssl rand -hex 32`).
    pub fn new(secret: impl AsRef<[u8]>) -> TierSecret {
        let secret = secret.as_ref();
        TierSecret {
            entries: blake3::derive_key(ENTRY_CONTEXT, secret),
            #[cfg(feature = "redis")]
            messages: blake3::derive_key(MESSAGE_CONTEXT, secret),
        }
    }

    /// The MAC of an entry's bytes.
    pub(crate) fn sign_entry(&self, bytes: &[u8]) -> [u8; TAG_LEN] {
        *blake3::keyed_hash(&self.entries, bytes).as_bytes()
    }

    /// Whether `tag` is the MAC of `bytes`, compared in constant time.
    pub(crate) fn verify_entry(&self, bytes: &[u8], tag: &[u8]) -> bool {
        blake3::keyed_hash(&self.entries, bytes) == *tag
    }

    /// The MAC of an invalidation message, in hex.
    #[cfg(feature = "redis")]
    pub(crate) fn sign_message(&self, body: &str) -> String {
        blake3::keyed_hash(&self.messages, body.as_bytes())
            .to_hex()
            .to_string()
    }

    /// Whether `hex` is the MAC of the message `body`, compared in
    /// constant time.
    #[cfg(feature = "redis")]
    pub(crate) fn verify_message(&self, body: &str, hex: &str) -> bool {
        blake3::Hash::from_hex(hex)
            .is_ok_and(|tag| tag == blake3::keyed_hash(&self.messages, body.as_bytes()))
    }
}

impl fmt::Debug for TierSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TierSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_verify_only_under_their_own_secret() {
        let (one, two) = (TierSecret::new("one"), TierSecret::new("two"));
        let tag = one.sign_entry(b"bytes");
        assert!(one.verify_entry(b"bytes", &tag));
        assert!(!one.verify_entry(b"bytez", &tag));
        assert!(!two.verify_entry(b"bytes", &tag));
        assert!(!one.verify_entry(b"bytes", &tag[..31]));
        assert_eq!(format!("{one:?}"), "TierSecret(..)");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn messages_verify_only_under_their_own_secret() {
        let (one, two) = (TierSecret::new("one"), TierSecret::new("two"));
        let hex = one.sign_message("all 1f");
        assert!(one.verify_message("all 1f", &hex));
        assert!(!one.verify_message("all 2f", &hex));
        assert!(!two.verify_message("all 1f", &hex));
        assert!(!one.verify_message("all 1f", "not hex"));
        // An entry's tag is not a message's tag for the same bytes.
        let entry_tag = blake3::Hash::from_bytes(one.sign_entry(b"all 1f"));
        assert!(!one.verify_message("all 1f", &entry_tag.to_hex()));
    }
}
