//! `GET /metrics`: the server's metrics in the Prometheus text exposition format (version
//! 0.0.4), for the admin and operators as `GET /api/v1/metrics` is. Counters run since the
//! server started; gauges (jobs, drives, seeds, webhook deliveries) are read when asked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use seedship_jobs::{DriveState, Job, JobState};
use sqlx::Row;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends `# HELP` and `# TYPE` of metric `name`.
fn describe(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Appends one gauge with a `state` label per state, zeros included.
fn by_state(out: &mut String, name: &str, help: &str, counts: &BTreeMap<String, i64>, states: &[String]) {
    describe(out, name, "gauge", help);
    for state in states {
        let n = counts.get(state).copied().unwrap_or(0);
        let _ = writeln!(out, "{name}{{state=\"{}\"}} {n}", label(state));
    }
}

async fn metrics(State(state): State<AppState>, principal: Principal) -> Result<impl IntoResponse, ApiError> {
    if !matches!(principal, Principal::Admin | Principal::Operator) {
        return Err(ApiError::forbidden("metrics are for the admin and operators"));
    }
    let mut out = String::new();

    let name = "seedship_vault_bytes_received_total";
    describe(
        &mut out,
        name,
        "counter",
        "Request body bytes received by vault uploads (stored or refused), by vault.",
    );
    for ((account, vault), bytes) in state.metrics.vault_bytes() {
        let _ = writeln!(
            out,
            "{name}{{account=\"{}\",vault=\"{}\"}} {bytes}",
            label(&account),
            label(&vault)
        );
    }
    let name = "seedship_vault_objects_stored_total";
    describe(
        &mut out,
        name,
        "counter",
        "Vault object and config uploads stored.",
    );
    let _ = writeln!(out, "{name} {}", state.metrics.vault_objects_stored.load(Relaxed));

    let mut jobs = BTreeMap::new();
    let mut drives = BTreeMap::new();
    for row in sqlx::query("SELECT body FROM jobs")
        .fetch_all(state.db.pool())
        .await?
    {
        let job: Job = serde_json::from_str(&row.try_get::<String, _>("body")?)
            .map_err(|err| ApiError::internal(format!("job document: {err}")))?;
        *jobs.entry(job.state().to_string()).or_insert(0) += 1;
        for drive in job.drives() {
            *drives.entry(drive.state.to_string()).or_insert(0) += 1;
        }
    }
    let job_states: Vec<String> = JobState::ALL.iter().map(ToString::to_string).collect();
    by_state(
        &mut out,
        "seedship_jobs",
        "Import/export jobs by state.",
        &jobs,
        &job_states,
    );
    let drive_states: Vec<String> = DriveState::ALL.iter().map(ToString::to_string).collect();
    by_state(
        &mut out,
        "seedship_drives",
        "Drives of import/export jobs by state.",
        &drives,
        &drive_states,
    );

    let name = "seedship_seeds_running";
    describe(&mut out, name, "gauge", "Vault seeds running on this server.");
    let _ = writeln!(out, "{name} {}", state.seeds.running());

    let mut deliveries = BTreeMap::new();
    for row in sqlx::query("SELECT state, COUNT(*) AS n FROM webhook_deliveries GROUP BY state")
        .fetch_all(state.db.pool())
        .await?
    {
        deliveries.insert(row.try_get::<String, _>("state")?, row.try_get::<i64, _>("n")?);
    }
    let delivery_states = ["pending", "delivered", "failed"].map(str::to_owned);
    by_state(
        &mut out,
        "seedship_webhook_deliveries",
        "Webhook deliveries by state.",
        &deliveries,
        &delivery_states,
    );
    let failing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'failed' OR (state = 'pending' AND attempts > 0)",
    )
    .fetch_one(state.db.pool())
    .await?;
    let name = "seedship_webhook_deliveries_failing";
    describe(
        &mut out,
        name,
        "gauge",
        "Webhook deliveries failed for good or pending after a failed attempt.",
    );
    let _ = writeln!(out, "{name} {failing}");

    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
