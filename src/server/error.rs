//! Errors as HTTP responses: what the caller can fix is a 4xx with the
//! message; what it cannot is logged and answered with a bare 500.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Error;

/// An error response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AppError {
    /// 400: the request is wrong; the message says how.
    BadRequest(String),
    /// 401: no token or a wrong one.
    Unauthorized,
    /// 403: a cross-site write, or a `Host` this server does not answer to.
    Forbidden(String),
    /// 408: the request body did not arrive in time.
    RequestTimeout(String),
    /// 413: the request body is over the limit.
    TooLarge(String),
    /// 415: a body that is not `application/json`.
    UnsupportedMediaType(String),
    /// 429: every computation slot and queue place is taken.
    Busy {
        /// What the `Retry-After` header says.
        retry_after: Duration,
        /// What the server is busy with.
        message: String,
    },
    /// 422: the request is valid but over a configured limit.
    OverLimit(String),
    /// 503: the computation did not finish within the request timeout.
    Timeout(String),
    /// 503: the data changed under a scanned dataset; it is answered again
    /// once the cache is refreshed.
    Unavailable(String),
    /// 500: logged with its detail; the caller gets no internals.
    Internal(String),
}

impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        if err.is_query_error() {
            AppError::BadRequest(err.to_string())
        } else if let Error::DataChanged { .. } = err {
            // Refreshing (`--watch`, `POST /api/refresh`) answers it again.
            AppError::Unavailable(err.to_string())
        } else {
            AppError::Internal(err.to_string())
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut retry = None;
        let (status, message) = match self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::Unauthorized => {
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({
                        "error": "missing or wrong token: send `Authorization: Bearer <token>`"
                    })),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            AppError::RequestTimeout(m) => (StatusCode::REQUEST_TIMEOUT, m),
            AppError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            AppError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m),
            AppError::Busy {
                retry_after,
                message,
            } => {
                retry = Some(retry_after.as_secs().max(1));
                (StatusCode::TOO_MANY_REQUESTS, message)
            }
            AppError::OverLimit(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            AppError::Timeout(m) => {
                // The computation goes on; by then its answer is cached.
                retry = Some(1);
                (StatusCode::SERVICE_UNAVAILABLE, m)
            }
            AppError::Unavailable(m) => {
                retry = Some(1);
                (StatusCode::SERVICE_UNAVAILABLE, m)
            }
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log".to_owned(),
                )
            }
        };
        let mut response = (
            status,
            Json(json!({ "error": crate::error::cut(&message, MAX_MESSAGE) })),
        )
            .into_response();
        if let Some(seconds) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The longest message a response carries. The crate's own errors quote
/// user text only in short excerpts; this is the last line of defence, so
/// that no request can make the server echo its body back.
const MAX_MESSAGE: usize = 1024;
