//! Errors as HTTP responses: what the caller can fix is a 4xx with the
//! message; what it cannot is logged and answered with a bare 500.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Error;

/// An error response.
#[derive(Debug)]
pub enum AppError {
    /// 400: the request is wrong; the message says how.
    BadRequest(String),
    /// 401: no token or a wrong one.
    Unauthorized,
    /// 413: the request body is over the limit.
    TooLarge(String),
    /// 422: the request is valid but over a configured limit.
    OverLimit(String),
    /// 503: the computation did not finish within the request timeout.
    Timeout(String),
    /// 500: logged with its detail; the caller gets no internals.
    Internal(String),
}

impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        if err.is_query_error() {
            AppError::BadRequest(err.to_string())
        } else {
            AppError::Internal(err.to_string())
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: send `Authorization: Bearer <token>`".to_owned(),
            ),
            AppError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            AppError::OverLimit(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            AppError::Timeout(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
