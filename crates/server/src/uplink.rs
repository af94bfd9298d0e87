//! `POST /api/v1/uplink-probe`: the agent's uplink measurement (`seedship plan --measure`).
//! The body is read as it arrives and thrown away, chunk by chunk (never collected, nothing
//! stored, no database write); the answer says how many bytes were read and how long that
//! took. At most [`UPLINK_PROBE_MAX_BYTES`]: a body declared or found longer is refused.

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use futures::{Stream, StreamExt};
use seedship_api::{ErrorCode, UPLINK_PROBE_MAX_BYTES, UplinkProbe};

use crate::auth::{Caller, Principal};
use crate::error::ApiError;
use crate::state::AppState;

/// Routes of the uplink probe.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/uplink-probe", post(probe))
}

/// Reads and discards the body for an agent or an account owner (whoever may upload into a
/// vault); anyone else is refused before a byte of it is read.
async fn probe(caller: Caller, headers: HeaderMap, body: Body) -> Result<Json<UplinkProbe>, ApiError> {
    if !matches!(
        caller.principal,
        Principal::Agent { .. } | Principal::Account { .. }
    ) {
        return Err(ApiError::forbidden(
            "the uplink probe is for agents and account owners",
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|declared| declared > UPLINK_PROBE_MAX_BYTES) {
        return Err(too_large(UPLINK_PROBE_MAX_BYTES));
    }
    let started = Instant::now();
    let bytes = discard(body.into_data_stream(), UPLINK_PROBE_MAX_BYTES).await?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(principal = %caller.id, bytes, seconds, "uplink probe");
    Ok(Json(UplinkProbe { bytes, seconds }))
}

/// Reads `body` to its end, dropping each chunk as it comes, and answers its length; refused
/// (413) as soon as it is longer than `limit`.
async fn discard<S, B, E>(mut body: S, limit: u64) -> Result<u64, ApiError>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let mut received = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid_request(format!("upload interrupted: {e}")))?;
        received += chunk.as_ref().len() as u64;
        if received > limit {
            return Err(too_large(limit));
        }
    }
    Ok(received)
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TooLarge,
        format!("an uplink probe sends at most {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::discard;
    use axum::http::StatusCode;
    use seedship_api::ErrorCode;

    fn chunks(sizes: &[usize]) -> impl futures::Stream<Item = Result<Vec<u8>, String>> + Unpin {
        futures::stream::iter(sizes.iter().map(|&n| Ok(vec![7u8; n])).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn counts_every_byte_up_to_the_limit() {
        let read = discard(chunks(&[1000, 24, 0, 3000]), 4024)
            .await
            .expect("within the limit");
        assert_eq!(read, 4024);
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_at_the_chunk_that_crosses_it() {
        let mut body = chunks(&[1000, 1000, 1000, 1000]);
        let err = discard(&mut body, 2500).await.expect_err("too long");
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(err.code, ErrorCode::TooLarge);
        // it stopped there: the fourth chunk was never read
        assert_eq!(futures::StreamExt::count(body).await, 1);
    }

    #[tokio::test]
    async fn an_interrupted_body_is_a_bad_request() {
        let body = futures::stream::iter(vec![Ok(vec![1u8; 10]), Err("connection reset".to_owned())]);
        let err = discard(body, 100).await.expect_err("interrupted");
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("connection reset"), "{}", err.message);
    }
}
