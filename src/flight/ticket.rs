//! Statement handles: what a ticket and a prepared statement carry.
//!
//! A handle is the statement's SQL text behind a marker, nothing more: the
//! server keeps no state per ticket or prepared statement, so a client
//! that prepares a million statements costs nothing, and `DoGet` derives
//! the answer again from the cache (a lookup: the same key as when the
//! flight was planned). A handle is untrusted input like any SQL text: it
//! is parsed and checked again, and one this server did not make is an
//! `InvalidArgument`.

use prost::bytes::Bytes;
use tonic::Status;

/// What every handle starts with (and its format's version).
const MARKER: &[u8] = b"pqc-sql-v1\n";

/// The handle of the statement `sql`.
pub(super) fn encode(sql: &str) -> Bytes {
    let mut handle = Vec::with_capacity(MARKER.len() + sql.len());
    handle.extend_from_slice(MARKER);
    handle.extend_from_slice(sql.as_bytes());
    Bytes::from(handle)
}

/// The SQL text of a handle this server made.
pub(super) fn decode(handle: &[u8]) -> Result<&str, Status> {
    let sql = handle.strip_prefix(MARKER).ok_or_else(|| {
        Status::invalid_argument(
            "not a ticket or statement handle of this server: get one from GetFlightInfo or \
             CreatePreparedStatement",
        )
    })?;
    std::str::from_utf8(sql)
        .map_err(|_| Status::invalid_argument("the statement handle is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_gives_back_its_statement_and_nothing_else_is_one() {
        let sql = "SELECT COUNT(*) FROM sales";
        assert_eq!(decode(&encode(sql)).unwrap(), sql);
        for forged in [
            &b""[..],
            b"SELECT 1",
            b"pqc-sql-v2\nSELECT",
            b"pqc-sql-v1\n\xff\xfe",
        ] {
            let status = decode(forged).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{forged:?}");
        }
    }
}
