//! Request bodies the API reads as JSON.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use seedship_api::ErrorCode;

use crate::error::ApiError;

/// A JSON request body (at most axum's default body limit, 2 MiB) whose refusal is an API error
/// naming what was wrong, with the field's path (`drives[0].bytes: invalid value: integer
/// `-1`, expected u64`), instead of axum's plain-text rejection.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                // 422 (well-formed JSON of the wrong shape) is a 400 like every other bad request.
                let status = match rejection.status() {
                    StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
                    other => other,
                };
                Err(ApiError::new(
                    status,
                    ErrorCode::InvalidRequest,
                    rejection.body_text(),
                ))
            }
        }
    }
}
