//! REST errors: every failure leaves as Kafka Connect's
//! `{"error_code": N, "message": "..."}` with the same HTTP status `N`.
//!
//! Herder errors map through [`HerderError::status_code`]; request problems
//! found here (malformed JSON, missing fields, bad path or query values) are
//! built with the helpers below so that no handler ever falls back on axum's
//! plain-text rejections.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::herder::HerderError;

/// An error response in Kafka Connect's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<HerderError> for ApiError {
    fn from(e: HerderError) -> ApiError {
        let status =
            StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error_code": self.status.as_u16(), "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

/// What every handler returns.
pub type ApiResult<T = Response> = Result<T, ApiError>;
