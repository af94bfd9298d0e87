//! The one place the routers of the handler modules are merged into the server's application.

use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;

/// Every route of the server: health, management API, jobs and their blobs, vault seeding, the
/// uplink probe, the restic REST protocol of vaults, and the jobs web page.
pub(crate) fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .merge(crate::api::router())
        .merge(crate::jobs::router())
        .merge(crate::export::router())
        .merge(crate::import::router())
        .merge(crate::lifecycle::router())
        .merge(crate::quota::router())
        .merge(crate::seed::router())
        .merge(crate::uplink::router())
        .merge(crate::vault::router())
        .merge(crate::web::router())
        .merge(crate::webhooks::router())
        .merge(crate::prometheus::router())
        .with_state(state)
}
