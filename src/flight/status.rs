//! Errors as gRPC statuses: what the client can fix says so, with the
//! message the HTTP API would give; what it cannot is logged and answered
//! with a bare `Internal`.

use tonic::Status;

use crate::Error;
use crate::server::AppError;

/// The longest message a status carries (it travels in a header): the
/// crate's own messages quote user text only in short excerpts, so this
/// only ever cuts a list of columns.
const MAX_MESSAGE: usize = 1024;

fn cut(message: &str) -> String {
    crate::error::cut(message, MAX_MESSAGE).into_owned()
}

/// A crate error: the query's fault is `InvalidArgument` (another table
/// than the dataset: `NotFound`), anything else `Internal`.
pub(super) fn from_error(error: Error) -> Status {
    match &error {
        Error::SqlUnknownTable { .. } => Status::not_found(cut(&error.to_string())),
        e if e.is_query_error() => Status::invalid_argument(cut(&e.to_string())),
        _ => internal(&error.to_string()),
    }
}

/// An HTTP error response as the status a Flight client expects.
///
/// | HTTP | gRPC |
/// | --- | --- |
/// | 400, 415 | `InvalidArgument` |
/// | 401 | `Unauthenticated` |
/// | 403 | `PermissionDenied` |
/// | 408 | `DeadlineExceeded` |
/// | 413, 422 (over a configured limit), 429 (busy) | `ResourceExhausted` |
/// | 503 (still computing, or the data changed: ask again) | `Unavailable` |
/// | 500 | `Internal`, logged |
pub(super) fn from_app(error: AppError) -> Status {
    match error {
        AppError::BadRequest(m) | AppError::UnsupportedMediaType(m) => {
            Status::invalid_argument(cut(&m))
        }
        AppError::Unauthorized => unauthenticated(),
        AppError::Forbidden(m) => Status::permission_denied(cut(&m)),
        AppError::RequestTimeout(m) => Status::deadline_exceeded(cut(&m)),
        AppError::TooLarge(m) | AppError::OverLimit(m) => Status::resource_exhausted(cut(&m)),
        AppError::Busy {
            retry_after,
            message,
        } => Status::resource_exhausted(cut(&format!(
            "{message} (retry after {} s)",
            retry_after.as_secs().max(1)
        ))),
        AppError::Timeout(m) | AppError::Unavailable(m) => Status::unavailable(cut(&m)),
        AppError::Internal(detail) => internal(&detail),
    }
}

/// No token, or a wrong one.
pub(super) fn unauthenticated() -> Status {
    Status::unauthenticated(
        "missing or wrong token: send `authorization: Bearer <token>`, or do the Flight SQL \
         handshake with basic authentication and the token as the password",
    )
}

/// Logged with its detail; the client learns nothing of the internals.
pub(super) fn internal(detail: &str) -> Status {
    tracing::error!(%detail, "flight: internal error");
    Status::internal("internal error; see the server log")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic::Code;

    use super::*;

    #[test]
    fn each_error_has_the_code_a_client_can_act_on() {
        let unknown_table = Error::SqlUnknownTable {
            table: "orders".into(),
            dataset: "sales".into(),
            line: 1,
            column: 22,
        };
        let status = from_error(unknown_table);
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().contains("unknown table `orders`"));
        assert_eq!(
            from_error(Error::InvalidQuery("x".into())).code(),
            Code::InvalidArgument
        );
        assert_eq!(
            from_error(Error::Compute("x".into())).code(),
            Code::Internal
        );
        let busy = from_app(AppError::Busy {
            retry_after: Duration::from_secs(3),
            message: "busy".into(),
        });
        assert_eq!(busy.code(), Code::ResourceExhausted);
        assert!(busy.message().contains("retry after 3 s"));
        assert_eq!(
            from_app(AppError::Timeout("later".into())).code(),
            Code::Unavailable
        );
        assert_eq!(
            from_app(AppError::Unauthorized).code(),
            Code::Unauthenticated
        );
        let internal = from_app(AppError::Internal("secret path /etc".into()));
        assert_eq!(internal.code(), Code::Internal);
        assert!(!internal.message().contains("secret"));
    }
}
