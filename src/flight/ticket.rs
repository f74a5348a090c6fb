//! Statement handles: what a ticket and a prepared statement carry.
//!
//! A handle is the statement's SQL text behind a marker, nothing more: the
//! server keeps no state per ticket or prepared statement, so a client
//! that prepares a million statements costs nothing, and `DoGet` derives
//! the answer again from the cache (a lookup: the same key as when the
//! flight was planned). A handle is untrusted input like any SQL text: it
//! is parsed and checked again, and one this server did not make is an
//! `InvalidArgument`.
//!
//! A ticket (what `GetFlightInfo` plans) also names the data version it
//! was planned on: after a refresh its `FlightInfo` (schema, row count)
//! may no longer describe the answer, so `DoGet` refuses it with
//! `FailedPrecondition` rather than send rows the client did not plan
//! for. A prepared statement's handle does not: it is planned anew by each
//! `GetFlightInfo`, so it outlives refreshes.

use prost::bytes::Bytes;
use tonic::Status;

use crate::Fingerprint;

/// What every handle starts with (and its format's version).
const MARKER: &[u8] = b"pqc-sql-v1\n";

/// What every ticket starts with (and its format's version).
const TICKET: &[u8] = b"pqc-ticket-v1\n";

/// The ticket of the statement `sql` planned on the data version `data`.
pub(super) fn encode_planned(sql: &str, data: Fingerprint) -> Bytes {
    let mut ticket = TICKET.to_vec();
    ticket.extend_from_slice(format!("{data}\n").as_bytes());
    ticket.extend_from_slice(sql.as_bytes());
    Bytes::from(ticket)
}

/// The data version and the SQL text of a ticket this server made.
pub(super) fn decode_planned(ticket: &[u8]) -> Result<(Fingerprint, &str), Status> {
    let forged =
        || Status::invalid_argument("not a ticket of this server: get one from GetFlightInfo");
    let rest = ticket.strip_prefix(TICKET).ok_or_else(forged)?;
    let newline = rest.iter().position(|&b| b == b'\n').ok_or_else(forged)?;
    let data = std::str::from_utf8(&rest[..newline])
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(forged)?;
    let sql = std::str::from_utf8(&rest[newline + 1..])
        .map_err(|_| Status::invalid_argument("the ticket's statement is not UTF-8 text"))?;
    Ok((data, sql))
}

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
    fn a_ticket_gives_back_its_data_version_and_statement() {
        let sql = "SELECT COUNT(*) FROM sales";
        let data = Fingerprint(0xabc);
        assert_eq!(
            decode_planned(&encode_planned(sql, data)).unwrap(),
            (data, sql)
        );
        for forged in [
            &b""[..],
            b"pqc-ticket-v1\n",
            b"pqc-ticket-v1\nabc",
            b"pqc-ticket-v1\nxyz\nSELECT 1",
            b"pqc-ticket-v1\n-1\nSELECT 1",
            b"pqc-ticket-v1\nabc\n\xff",
            b"pqc-sql-v1\nSELECT 1",
        ] {
            let status = decode_planned(forged).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{forged:?}");
        }
    }

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
