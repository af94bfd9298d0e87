//! Errors the HTTP API returns: a status plus a stable code, as
//! `{"error":{"code":"...","message":"..."}}` (the table is in `docs/http-api.md`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seedship_api::{ErrorBody, ErrorCode, ErrorDetail};

/// An error response: HTTP status, stable code and a one-line message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: ErrorCode,
    /// Human-readable message (never contains secrets).
    pub message: String,
    /// For [`ErrorCode::JobRule`]: the rule's code, e.g. `DuplicateTrackingNumber`.
    pub rule: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            rule: None,
        }
    }

    pub(crate) fn with_rule(mut self, rule: &str) -> Self {
        self.rule = Some(rule.to_owned());
        self
    }

    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub(crate) fn invalid_name(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidName, message)
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub(crate) fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::AlreadyExists, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!("metadata database: {err}");
        Self::internal("metadata database error")
    }
}

impl From<seedship_store::Error> for ApiError {
    fn from(err: seedship_store::Error) -> Self {
        use seedship_store::Error as E;
        match err {
            E::NotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::ObjectNotFound,
                "object not found",
            ),
            E::AlreadyExists { .. } => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::ObjectExists, "object exists")
            }
            E::InvalidRange { .. } => Self::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::RangeNotSatisfiable,
                "range outside object",
            ),
            E::InvalidKey { .. } => Self::invalid_request(err.to_string()),
            other => {
                let chain = seedship_api::error_chain(&other);
                tracing::error!("object store: {chain}");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorCode::StorageFailed,
                    "object store failed",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                rule: self.rule,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"seedship\""),
            );
        }
        response
    }
}
