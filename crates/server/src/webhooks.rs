//! Notifications: an account's webhooks, the outbox of their deliveries, and the task that
//! delivers them (docs/design.md, "Notifications").
//!
//! A change that is worth an event (a job or drive state, a drive's CompletedMoreInfo, an
//! approaching or passed deadline, a completed seed) writes one `webhook_deliveries` row per
//! webhook of the account in the transaction of the change itself: an event exists exactly
//! when its change was committed, and survives any crash after. The delivery task of every
//! server process POSTs due deliveries, signed (`X-Seedship-Signature`), retries a failure
//! with exponential backoff and gives up after [`MAX_ATTEMPTS`]. Delivery is at least once:
//! a receiver deduplicates by the event's `id`.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use futures::StreamExt as _;
use ipnet::IpNet;
use seedship_api::{
    DELIVERY_HEADER, DeliveryState, EVENT_HEADER, ErrorLogLocation, SIGNATURE_HEADER, WebhookDelivery,
    WebhookEvent, WebhookEventKind, WebhookInfo, WebhookRequest, webhook_signature,
};
use seedship_jobs::{DriveLog, DriveState, Job, JobState, LOG_FOLDER};
use sqlx::{Any, Row, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::Principal;
use crate::db::Db;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::secret;
use crate::state::AppState;

/// Webhooks one account may have.
pub(crate) const MAX_WEBHOOKS: usize = 10;
/// The longest webhook URL taken.
const MAX_URL: usize = 2048;
/// Attempts of one delivery before it is marked failed.
pub(crate) const MAX_ATTEMPTS: i64 = 10;
/// The wait after the first failed attempt; doubled after each further one.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const MAX_RETRY: Duration = Duration::from_secs(300);
/// The whole of one attempt (connect, send, answer) at most.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delivery task holds a delivery it attempts before another task (of this or
/// another server process) may take it: longer than an attempt can last.
const LEASE: Duration = Duration::from_secs(30);
/// How often the delivery task looks for due deliveries.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries taken in one look, and attempted at once.
const BATCH: i64 = 32;
const CONCURRENCY: usize = 8;
/// Deliveries `GET /api/v1/webhooks/deliveries` lists (the newest).
const LISTED: i64 = 200;

pub(crate) type Tx = Transaction<'static, Any>;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(add))
        .route("/api/v1/webhooks/deliveries", get(deliveries))
        .route("/api/v1/webhooks/{id}", delete(remove))
}

/// Unix seconds of the wall clock: deliveries are scheduled by it, not by the server's test
/// clock (events are dated by that one).
fn wall_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

fn rfc3339_unix(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).map_or_else(|_| unix.to_string(), rfc3339)
}

/// Refuses a URL that is not `http(s)://host...`, or whose host is an address in `deny`,
/// naming it.
fn check_url(url: &str, deny: &[IpNet]) -> Result<(), ApiError> {
    if url.len() > MAX_URL {
        return Err(ApiError::invalid_request(format!(
            "webhook URL is {} bytes, more than {MAX_URL}",
            url.len()
        )));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|err| ApiError::invalid_request(format!("webhook URL {url:?} is not a URL: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid_request(format!(
            "webhook URL {url:?} is not an http or https URL with a host"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::invalid_request(format!(
            "webhook URL {url:?} carries credentials: deliveries are authenticated by their signature"
        )));
    }
    let host = parsed.host_str().unwrap_or_default();
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if let Some(net) = literal.and_then(|ip| denied(ip, deny)) {
        return Err(ApiError::invalid_request(format!(
            "webhook URL {url:?} names an address in {net}, which webhook_deny_networks refuses"
        )));
    }
    Ok(())
}

/// The network of `deny` that holds `ip`, if any.
fn denied(ip: IpAddr, deny: &[IpNet]) -> Option<IpNet> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    deny.iter().find(|net| net.contains(&ip)).copied()
}

/// The webhooks of account `account_id`, oldest first, without their secrets.
pub(crate) async fn webhooks_of(state: &AppState, account_id: &str) -> Result<Vec<WebhookInfo>, ApiError> {
    let rows =
        sqlx::query("SELECT id, url, created_at FROM webhooks WHERE account_id = $1 ORDER BY created_at, id")
            .bind(account_id)
            .fetch_all(state.db.pool())
            .await?;
    rows.iter()
        .map(|row| {
            Ok(WebhookInfo {
                id: row.try_get("id")?,
                url: row.try_get("url")?,
                created_at: rfc3339_unix(row.try_get("created_at")?),
                secret: None,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(ApiError::from)
}

/// `POST /api/v1/webhooks` (account owner): registers a URL; answers its signing secret once.
async fn add(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<WebhookRequest>,
) -> Result<(StatusCode, Json<WebhookInfo>), ApiError> {
    let account_id = principal.require_account()?;
    check_url(&request.url, &state.webhook_deny_networks)?;
    if webhooks_of(&state, account_id).await?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::invalid_request(format!(
            "the account has {MAX_WEBHOOKS} webhooks already: remove one first"
        )));
    }
    let id = secret::new_id("whk");
    let signing_secret = secret::generate();
    let created_at = wall_now();
    sqlx::query("INSERT INTO webhooks (id, account_id, url, secret, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(account_id)
        .bind(&request.url)
        .bind(&signing_secret)
        .bind(created_at)
        .execute(state.db.pool())
        .await?;
    tracing::info!(account = %account_id, webhook = %id, url = %request.url, "webhook added");
    Ok((
        StatusCode::CREATED,
        Json(WebhookInfo {
            id,
            url: request.url,
            created_at: rfc3339_unix(created_at),
            secret: Some(signing_secret),
        }),
    ))
}

/// `GET /api/v1/webhooks` (account owner): the account's webhooks, without secrets.
async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<WebhookInfo>>, ApiError> {
    let account_id = principal.require_account()?;
    Ok(Json(webhooks_of(&state, account_id).await?))
}

/// `DELETE /api/v1/webhooks/{id}` (account owner): the webhook and its deliveries go.
async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let account_id = principal.require_account()?;
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "DELETE FROM webhook_deliveries WHERE webhook_id IN \
         (SELECT id FROM webhooks WHERE id = $1 AND account_id = $2)",
    )
    .bind(&id)
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    let removed = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND account_id = $2")
        .bind(&id)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() != 1 {
        return Err(ApiError::not_found(format!("webhook {id} not found")));
    }
    tx.commit().await?;
    tracing::info!(account = %account_id, webhook = %id, "webhook removed");
    Ok(StatusCode::NO_CONTENT)
}

fn delivery_state(text: &str) -> DeliveryState {
    match text {
        "delivered" => DeliveryState::Delivered,
        "failed" => DeliveryState::Failed,
        _ => DeliveryState::Pending,
    }
}

/// `GET /api/v1/webhooks/deliveries` (account owner): the newest deliveries and how they
/// stand.
async fn deliveries(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<WebhookDelivery>>, ApiError> {
    let account_id = principal.require_account()?;
    let rows = sqlx::query(
        "SELECT d.id, d.webhook_id, d.event_type, d.body, d.state, d.attempts, d.next_attempt_at, \
         d.last_status, d.last_error, d.created_at, d.delivered_at \
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
         WHERE w.account_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(LISTED)
    .fetch_all(state.db.pool())
    .await?;
    let mut listed = Vec::with_capacity(rows.len());
    for row in rows {
        let delivery_state = delivery_state(&row.try_get::<String, _>("state")?);
        let body: String = row.try_get("body")?;
        listed.push(WebhookDelivery {
            id: row.try_get("id")?,
            webhook_id: row.try_get("webhook_id")?,
            event_type: row.try_get("event_type")?,
            event: serde_json::from_str(&body)
                .map_err(|err| ApiError::internal(format!("stored event: {err}")))?,
            state: delivery_state,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            last_status: row
                .try_get::<Option<i64>, _>("last_status")?
                .and_then(|s| u16::try_from(s).ok()),
            last_error: row.try_get("last_error")?,
            next_attempt_at: (delivery_state == DeliveryState::Pending)
                .then(|| row.try_get("next_attempt_at").map(rfc3339_unix))
                .transpose()?,
            created_at: rfc3339_unix(row.try_get("created_at")?),
            delivered_at: row.try_get::<Option<i64>, _>("delivered_at")?.map(rfc3339_unix),
        });
    }
    Ok(Json(listed))
}

/// Writes event `kind` of `account` (by name) to the outbox in `tx`, one delivery per webhook
/// of the account; `key` makes it once-only (a second event of the same key is dropped),
/// `None` for an event of its own.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    state: &AppState,
    account: &str,
    key: Option<&str>,
    kind: WebhookEventKind,
) -> Result<(), ApiError> {
    let id = secret::new_id("evt");
    let key = key.unwrap_or(&id).to_owned();
    // Only the webhooks that lack the event: a once-only event already sent writes nothing.
    let hooks: Vec<String> = sqlx::query_scalar(
        "SELECT w.id FROM webhooks w JOIN accounts a ON a.id = w.account_id WHERE a.name = $1 \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.event_key = $2)",
    )
    .bind(account)
    .bind(&key)
    .fetch_all(&mut **tx)
    .await?;
    if hooks.is_empty() {
        return Ok(());
    }
    let event = WebhookEvent {
        id,
        at: rfc3339(state.clock.now()),
        account: account.to_owned(),
        kind,
    };
    let body = serde_json::to_string(&event).map_err(|err| ApiError::internal(format!("event: {err}")))?;
    let now = wall_now();
    for hook in hooks {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_key, event_type, body, state, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7) \
             ON CONFLICT (webhook_id, event_key) DO NOTHING",
        )
        .bind(secret::new_id("dlv"))
        .bind(&hook)
        .bind(&key)
        .bind(event.kind.name())
        .bind(&body)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The states of a job and its drives as loaded, to tell what a change did to them.
#[derive(Debug, Clone)]
pub(crate) struct States {
    job: JobState,
    drives: Vec<(String, DriveState)>,
}

impl States {
    pub(crate) fn of(job: &Job) -> Self {
        Self {
            job: job.state(),
            drives: job
                .drives()
                .iter()
                .map(|d| (d.drive_id.clone(), d.state))
                .collect(),
        }
    }
}

/// The events of a change of job `job_id` from `before` (`None`: created) to `job`, written
/// to the outbox in `tx`: every job and drive state entered, and for a drive that entered
/// CompletedMoreInfo where its error log is (its copy log is in `drive_logs` by then).
pub(crate) async fn job_changed(
    tx: &mut Tx,
    state: &AppState,
    job_id: &str,
    before: Option<&States>,
    job: &Job,
) -> Result<(), ApiError> {
    let account = job.account();
    let name = job.name().as_str();
    let from = before.map(|b| b.job);
    if from != Some(job.state()) {
        let kind = WebhookEventKind::JobStateChanged {
            job: name.to_owned(),
            from,
            to: job.state(),
        };
        enqueue(tx, state, account, None, kind).await?;
    }
    for drive in job.drives() {
        let was = before.and_then(|b| {
            b.drives
                .iter()
                .find(|(id, _)| *id == drive.drive_id)
                .map(|(_, s)| *s)
        });
        let Some(was) = was.filter(|was| *was != drive.state) else {
            continue;
        };
        let kind = WebhookEventKind::DriveStateChanged {
            job: name.to_owned(),
            drive_id: drive.drive_id.clone(),
            from: was,
            to: drive.state,
        };
        enqueue(tx, state, account, None, kind).await?;
        if drive.state == DriveState::CompletedMoreInfo {
            let error_log = error_log_location(tx, state, job_id, job, &drive.drive_id).await?;
            let kind = WebhookEventKind::DriveCompletedMoreInfo {
                job: name.to_owned(),
                drive_id: drive.drive_id.clone(),
                error_log,
            };
            enqueue(tx, state, account, None, kind).await?;
        }
    }
    Ok(())
}

/// Where the error log of drive `drive_id` of job `job_id` is.
async fn error_log_location(
    tx: &mut Tx,
    state: &AppState,
    job_id: &str,
    job: &Job,
    drive_id: &str,
) -> Result<ErrorLogLocation, ApiError> {
    let body: String = sqlx::query_scalar("SELECT body FROM drive_logs WHERE job_id = $1 AND drive_id = $2")
        .bind(job_id)
        .bind(drive_id)
        .fetch_one(&mut **tx)
        .await?;
    let copy_log =
        DriveLog::from_json(&body).map_err(|err| ApiError::internal(format!("drive log: {err}")))?;
    let public = state.public_url.trim_end_matches('/');
    let (account, name) = (job.account(), job.name().as_str());
    Ok(ErrorLogLocation {
        storage_account: job.destination().storage_account.clone(),
        container: job.destination().container.clone(),
        blob: format!("{LOG_FOLDER}/{}", copy_log.error_log().error_log_name()),
        api_url: format!("{public}/api/v1/jobs/{account}/{name}/logs"),
        web_url: format!("{public}/web/jobs/{account}/{name}/logs/{drive_id}/error"),
    })
}

/// The outcome of one attempt.
enum Attempt {
    Delivered(u16),
    Refused(u16),
    Unreachable(String),
}

/// The wait before attempt `attempts + 1` after `attempts` failed ones.
fn backoff(attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_RETRY)
}

/// Delivers due deliveries for as long as the server runs; started once per server process.
/// Pending deliveries of an earlier run (or of a process that died) are due at once.
pub(crate) async fn deliver_forever(state: AppState) {
    let http = match http_client().build() {
        Ok(http) => http,
        Err(err) => {
            tracing::error!("webhook deliveries disabled: no HTTP client: {err}");
            return;
        }
    };
    loop {
        if let Err(err) = deliver_due(&state, &http).await {
            tracing::error!("webhook delivery pass failed: {err}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The delivery client's settings: bounded attempts, no redirects.
fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
}

/// The client to deliver to `url` with: `http` when no network is denied; else one that
/// connects only to the addresses the host resolves to now, after checking that none is
/// denied (so a name cannot resolve elsewhere between the check and the connection).
async fn client_for(http: &reqwest::Client, url: &str, deny: &[IpNet]) -> Result<reqwest::Client, String> {
    if deny.is_empty() {
        return Ok(http.clone());
    }
    let parsed = reqwest::Url::parse(url).map_err(|err| format!("{url}: {err}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|err| format!("resolving {host}: {err}"))?
        .collect();
    if let Some((address, net)) = addresses
        .iter()
        .find_map(|a| denied(a.ip(), deny).map(|net| (a.ip(), net)))
    {
        return Err(format!(
            "{host} resolves to {address}, in {net}, which webhook_deny_networks refuses"
        ));
    }
    http_client()
        .resolve_to_addrs(bare, &addresses)
        .build()
        .map_err(|err| format!("HTTP client: {err}"))
}

/// One pass: takes up to [`BATCH`] due deliveries and attempts them.
async fn deliver_due(state: &AppState, http: &reqwest::Client) -> Result<(), ApiError> {
    let now = wall_now();
    let rows = sqlx::query(
        "SELECT d.id, d.event_type, d.body, d.attempts, d.next_attempt_at, w.url, w.secret \
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1 ORDER BY d.next_attempt_at, d.created_at LIMIT $2",
    )
    .bind(now)
    .bind(BATCH)
    .fetch_all(state.db.pool())
    .await?;
    let lease_end = now.saturating_add(i64::try_from(LEASE.as_secs()).unwrap_or(i64::MAX));
    let mut claimed = Vec::new();
    for row in rows {
        let id: String = row.try_get("id")?;
        let due: i64 = row.try_get("next_attempt_at")?;
        // Taken by whoever moves its time first: another process that read it too moves nothing.
        let taken = sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1 \
             WHERE id = $2 AND state = 'pending' AND next_attempt_at = $3",
        )
        .bind(lease_end)
        .bind(&id)
        .bind(due)
        .execute(state.db.pool())
        .await?;
        if taken.rows_affected() == 1 {
            claimed.push((
                id,
                row.try_get::<String, _>("event_type")?,
                row.try_get::<String, _>("body")?,
                row.try_get::<i64, _>("attempts")?,
                row.try_get::<String, _>("url")?,
                row.try_get::<String, _>("secret")?,
            ));
        }
    }
    let outcomes: Vec<Result<(), ApiError>> = futures::stream::iter(claimed)
        .map(
            |(id, event_type, body, attempts, url, signing_secret)| async move {
                let deny = &state.webhook_deny_networks;
                let attempt = attempt(http, deny, &id, &event_type, &body, &url, &signing_secret).await;
                record(&state.db, &id, attempts + 1, &attempt).await
            },
        )
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    outcomes.into_iter().collect()
}

/// POSTs `body`, signed now, to `url`.
async fn attempt(
    http: &reqwest::Client,
    deny: &[IpNet],
    id: &str,
    event_type: &str,
    body: &str,
    url: &str,
    signing_secret: &str,
) -> Attempt {
    let http = match client_for(http, url, deny).await {
        Ok(http) => http,
        Err(refused) => return Attempt::Unreachable(refused),
    };
    let signature = webhook_signature(signing_secret, wall_now(), body.as_bytes());
    let sent = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::USER_AGENT,
            concat!("seedship/", env!("CARGO_PKG_VERSION")),
        )
        .header(SIGNATURE_HEADER, signature)
        .header(EVENT_HEADER, event_type)
        .header(DELIVERY_HEADER, id)
        .body(body.to_owned())
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => Attempt::Delivered(response.status().as_u16()),
        Ok(response) => Attempt::Refused(response.status().as_u16()),
        // The error names the URL; never the secret (it is in no part of the request's URL).
        Err(err) => Attempt::Unreachable(seedship_api::error_chain(&err)),
    }
}

/// Records attempt number `attempts` of delivery `id`: delivered, failed for good after
/// [`MAX_ATTEMPTS`], or pending until its backoff passed.
async fn record(db: &Db, id: &str, attempts: i64, attempt: &Attempt) -> Result<(), ApiError> {
    let now = wall_now();
    let (status, error) = match attempt {
        Attempt::Delivered(status) => (Some(i64::from(*status)), None),
        Attempt::Refused(status) => (Some(i64::from(*status)), Some(format!("answered HTTP {status}"))),
        Attempt::Unreachable(error) => (None, Some(error.clone())),
    };
    let (new_state, delivered_at) = match attempt {
        Attempt::Delivered(_) => ("delivered", Some(now)),
        _ if attempts >= MAX_ATTEMPTS => ("failed", None),
        _ => ("pending", None),
    };
    let next = now.saturating_add(i64::try_from(backoff(attempts).as_secs()).unwrap_or(i64::MAX));
    if let Some(error) = &error {
        tracing::warn!(delivery = %id, attempts, state = new_state, "webhook delivery failed: {error}");
    }
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, last_status = $4, \
         last_error = $5, delivered_at = $6 WHERE id = $7",
    )
    .bind(new_state)
    .bind(attempts)
    .bind(next)
    .bind(status)
    .bind(error)
    .bind(delivered_at)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Attempt, MAX_ATTEMPTS, record};
    use crate::db::Db;

    /// The state, attempts, status, error and next due time of delivery `dlv-1`.
    async fn delivery(db: &Db) -> (String, i64, Option<i64>, Option<String>, i64) {
        sqlx::query_as(
            "SELECT state, attempts, last_status, last_error, next_attempt_at FROM webhook_deliveries WHERE id = 'dlv-1'",
        )
        .fetch_one(db.pool())
        .await
        .expect("delivery")
    }

    /// A refused attempt stays pending for its backoff; the last allowed one fails for good;
    /// a 2xx delivers.
    #[test]
    fn attempts_are_recorded_pending_then_failed_after_the_last_or_delivered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("metadata.db").display());
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let db = Db::connect(&url).await.expect("database");
            let account = db.create_account("acme", "s").await.expect("account");
            sqlx::query("INSERT INTO webhooks (id, account_id, url, secret, created_at) VALUES ('whk-1', $1, 'http://127.0.0.1:9/', 's', 0)")
                .bind(&account)
                .execute(db.pool())
                .await
                .expect("webhook");
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_key, event_type, body, state, attempts, \
                 next_attempt_at, created_at) VALUES ('dlv-1', 'whk-1', 'evt-1', 'job.deleted', '{}', 'pending', 0, 0, 0)",
            )
            .execute(db.pool())
            .await
            .expect("delivery");

            let before = time::OffsetDateTime::now_utc().unix_timestamp();
            record(&db, "dlv-1", 3, &Attempt::Refused(500)).await.expect("record");
            let (state, attempts, status, error, next) = delivery(&db).await;
            assert_eq!((state.as_str(), attempts, status), ("pending", 3, Some(500)));
            assert_eq!(error.as_deref(), Some("answered HTTP 500"));
            assert!((before + 4..=before + 5).contains(&next), "due 4 s after the third failure: {next}");

            record(&db, "dlv-1", MAX_ATTEMPTS, &Attempt::Unreachable("connection refused".into()))
                .await
                .expect("record");
            let (state, attempts, status, error, _) = delivery(&db).await;
            assert_eq!((state.as_str(), attempts, status), ("failed", MAX_ATTEMPTS, None));
            assert_eq!(error.as_deref(), Some("connection refused"));

            record(&db, "dlv-1", 1, &Attempt::Delivered(204)).await.expect("record");
            let (state, _, status, error, _) = delivery(&db).await;
            assert_eq!((state.as_str(), status, error), ("delivered", Some(204), None));
        });
    }

    #[test]
    fn urls_naming_a_denied_address_are_refused_names_are_left_to_the_delivery() {
        let deny: Vec<ipnet::IpNet> = ["127.0.0.0/8", "::1/128"]
            .iter()
            .map(|n| n.parse().expect("net"))
            .collect();
        for bad in [
            "http://127.0.0.1:9/",
            "http://127.1.2.3/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            let err = super::check_url(bad, &deny).expect_err(bad);
            assert!(
                err.message.contains("webhook_deny_networks"),
                "{bad}: {}",
                err.message
            );
        }
        for good in ["http://10.0.0.1/", "http://localhost/", "https://[2001:db8::1]/"] {
            assert!(super::check_url(good, &deny).is_ok(), "{good}");
        }
    }

    #[test]
    fn retries_wait_1_2_4_seconds_and_so_on_up_to_5_minutes() {
        let waits: Vec<u64> = (1..=10).map(|n| super::backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(super::backoff(1000), Duration::from_secs(300));
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_taken() {
        for good in ["http://127.0.0.1:9/hook", "https://example.com/x?y=1"] {
            assert!(super::check_url(good, &[]).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://",
            "not a url",
            "https://u:p@example.com/",
        ] {
            let err = super::check_url(bad, &[]).expect_err(bad);
            assert!(err.message.contains("webhook URL"), "{bad}: {}", err.message);
        }
    }
}
