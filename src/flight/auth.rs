//! The token, as Flight SQL clients send it: `authorization: Bearer
//! <token>` on every call, which the handshake hands out for basic
//! authentication with the token as the password (ADBC's `username` and
//! `password`, JDBC's `user` and `password`). The token is the HTTP API's
//! and is compared the same way, in constant time.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::server::AppState;

/// Standard base64, padded or not: Go's Flight client (ADBC's driver)
/// sends basic credentials without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The value of the `authorization` header, split into its scheme and
/// credentials.
fn authorization(metadata: &MetadataMap) -> Option<(&str, &str)> {
    let value = metadata.get("authorization")?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    Some((scheme, credentials.trim()))
}

/// Whether a call may proceed: it carries the token, or none is needed.
pub(super) fn check(state: &AppState, metadata: &MetadataMap) -> Result<(), Status> {
    if !state.requires_token() {
        return Ok(());
    }
    match authorization(metadata) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && state.is_token(token) => {
            Ok(())
        }
        _ => Err(super::status::unauthenticated()),
    }
}

/// The token a handshake offers: the password of basic authentication,
/// or a bearer token. `None` when it offers none; an `InvalidArgument`
/// when its basic credentials cannot be read.
pub(super) fn handshake_token(metadata: &MetadataMap) -> Result<Option<String>, Status> {
    let Some((scheme, credentials)) = authorization(metadata) else {
        return Ok(None);
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(credentials.to_owned()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let unreadable =
        || Status::invalid_argument("basic credentials that are not base64 of `user:password`");
    let decoded = BASE64.decode(credentials).map_err(|_| unreadable())?;
    let text = String::from_utf8(decoded).map_err(|_| unreadable())?;
    let (_user, password) = text.split_once(':').ok_or_else(unreadable)?;
    Ok(Some(password.to_owned()))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

    use super::*;

    fn with(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", value.parse().unwrap());
        metadata
    }

    #[test]
    fn the_handshake_reads_basic_and_bearer_credentials() {
        let basic = format!("Basic {}", STANDARD.encode("anyone:s3cret:with:colons"));
        assert_eq!(
            handshake_token(&with(&basic)).unwrap().as_deref(),
            Some("s3cret:with:colons")
        );
        let unpadded = format!("Basic {}", STANDARD_NO_PAD.encode("go:s3cret"));
        assert_eq!(
            handshake_token(&with(&unpadded)).unwrap().as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            handshake_token(&with("bearer s3cret")).unwrap().as_deref(),
            Some("s3cret")
        );
        assert_eq!(handshake_token(&MetadataMap::new()).unwrap(), None);
        assert_eq!(handshake_token(&with("Digest x")).unwrap(), None);
        for bad in ["Basic !!!", "Basic bm9jb2xvbg=="] {
            let status = handshake_token(&with(bad)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{bad}");
        }
    }
}
