//! The import/export job service: jobs of seedship-jobs persisted one JSON document per row,
//! every call one database transaction, deadlines applied on each request and periodically.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use seedship_api::{
    ClockRequest, ClockState, CustodyReport, DriveLogs, ErrorCode, JobAction, JobCreateQuery, JobDetail,
    WebhookEventKind,
};
use seedship_jobs::{
    Actor, ChainHash, DeadlineKind, DeadlinePolicy, DriveLog, Effect, ExportObject, Job, JobSpec, JobState,
    JobSummary, ShippingInfo, WARN_BEFORE, approaching_deadline, next_deadline, normalise_tracking_number,
    tick, verify_chain,
};
use sqlx::Row;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::secret;
use crate::state::AppState;
use crate::webhooks::{self, States};

/// Operators act under this login (operator principals carry no name of their own).
const OPERATOR: &str = "operator";

/// The largest job creation body: an export's object list, up to
/// [`seedship_jobs::MAX_EXPORT_OBJECTS`] names and sizes of about 100 bytes each.
const JOB_BODY_LIMIT: usize = 64 << 20;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/jobs",
            post(create_job)
                .get(list_jobs)
                .layer(DefaultBodyLimit::max(JOB_BODY_LIMIT)),
        )
        .route("/api/v1/jobs/{account}/{name}", get(show_job))
        .route("/api/v1/jobs/{account}/{name}/actions", post(act))
        .route("/api/v1/jobs/{account}/{name}/logs", get(logs))
        .route("/api/v1/jobs/{account}/{name}/custody", get(custody))
        .route(
            "/api/v1/jobs/{account}/{name}/export-objects",
            get(export_objects),
        )
        .route(
            "/api/v1/jobs/{account}/{name}/export-objects/{*object}",
            get(read_export_object),
        )
        .route("/api/v1/admin/clock", post(move_clock))
}

impl From<seedship_jobs::Error> for ApiError {
    fn from(err: seedship_jobs::Error) -> Self {
        use seedship_jobs::Error as E;
        let status = match &err {
            E::NotPermitted { .. } => StatusCode::FORBIDDEN,
            E::UnknownDrive { .. } => StatusCode::NOT_FOUND,
            E::JobNameTaken { .. } | E::DuplicateTrackingNumber { .. } => StatusCode::CONFLICT,
            E::IllegalTransition { .. }
            | E::IllegalDriveTransition { .. }
            | E::NotInThisState { .. }
            | E::DriveNotInThisState { .. }
            | E::CancelNotAllowed { .. } => StatusCode::CONFLICT,
            E::Custody { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, ErrorCode::JobRule, err.to_string()).with_rule(err.code())
    }
}

pub(crate) fn internal(err: impl std::fmt::Display) -> ApiError {
    tracing::error!("jobs: {err}");
    ApiError::internal("job document could not be read or written")
}

/// The actor of a principal acting on `account`'s jobs; owners only on their own.
pub(crate) fn actor_for(principal: &Principal, account: &str) -> Result<Actor, ApiError> {
    match principal {
        Principal::Account { account_name, .. } if account_name == account => Ok(Actor::owner(account)),
        Principal::Operator => Ok(Actor::operator(OPERATOR)),
        Principal::Account { .. } => Err(ApiError::not_found(format!("job of account {account} not found"))),
        _ => Err(ApiError::forbidden(
            "jobs need account owner or operator credentials",
        )),
    }
}

pub(crate) fn detail(state: &AppState, job: Job, review: Option<ShippingInfo>) -> JobDetail {
    JobDetail {
        summary: JobSummary::of(&job, &state.deadlines),
        data_centre: job.data_centre().clone(),
        job,
        review,
    }
}

pub(crate) use crate::db::Tx;

/// A job row as loaded: its id and the version the next write must still find.
pub(crate) struct Loaded {
    pub id: String,
    version: i64,
    /// The job's and drives' states as loaded: what the write changed is notified.
    before: States,
}

async fn load(tx: &mut Tx, account: &str, name: &str) -> Result<Option<(Loaded, Job)>, ApiError> {
    let row = sqlx::query("SELECT id, version, body FROM jobs WHERE account = $1 AND name = $2")
        .bind(account)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let body: String = row.try_get("body")?;
    let job = serde_json::from_str(&body).map_err(internal)?;
    let loaded = Loaded {
        id: row.try_get("id")?,
        version: row.try_get("version")?,
        before: States::of(&job),
    };
    Ok(Some((loaded, job)))
}

pub(crate) async fn load_or_404(tx: &mut Tx, account: &str, name: &str) -> Result<(Loaded, Job), ApiError> {
    load(tx, account, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {name} of account {account} not found")))
}

/// The indexed columns of a job.
fn columns(job: &Job, policy: &DeadlinePolicy) -> (String, Option<String>, String, Option<i64>) {
    (
        job.state().to_string(),
        job.shipping().map(|s| s.tracking_number.clone()),
        job.custody_head().to_hex(),
        next_deadline(job, policy).map(|d| d.at.unix_timestamp()),
    )
}

pub(crate) async fn save(tx: &mut Tx, loaded: &Loaded, job: &Job, state: &AppState) -> Result<(), ApiError> {
    let (job_state, tracking, head, due) = columns(job, &state.deadlines);
    let body = serde_json::to_string(job).map_err(internal)?;
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, tracking_number = $2, custody_head = $3, due_at = $4, body = $5, \
         updated_at = $6, version = version + 1 WHERE id = $7 AND version = $8",
    )
    .bind(job_state)
    .bind(tracking)
    .bind(head)
    .bind(due)
    .bind(body)
    .bind(state.clock.now().unix_timestamp())
    .bind(&loaded.id)
    .bind(loaded.version)
    .execute(&mut **tx)
    .await
    .map_err(|err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            ApiError::from(seedship_jobs::Error::DuplicateTrackingNumber {
                tracking_number: job
                    .shipping()
                    .map(|s| s.tracking_number.clone())
                    .unwrap_or_default(),
            })
        }
        _ => err.into(),
    })?;
    if done.rows_affected() != 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::JobRule,
            format!("job {} changed concurrently; retry", job.name().as_str()),
        )
        .with_rule("ConcurrentUpdate"));
    }
    webhooks::job_changed(tx, state, &loaded.id, Some(&loaded.before), job).await
}

async fn delete(tx: &mut Tx, id: &str) -> Result<(), ApiError> {
    for rows in [
        "DELETE FROM drive_logs WHERE job_id = $1",
        "DELETE FROM export_objects WHERE job_id = $1",
    ] {
        sqlx::query(rows).bind(id).execute(&mut **tx).await?;
    }
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Announces every deadline about to pass (once per job and deadline), then applies every
/// deadline that passed by the server's `now`.
pub(crate) async fn run_deadlines(state: &AppState) -> Result<(), ApiError> {
    let now = state.clock.now();
    announce_deadlines(state, now).await?;
    let due: Vec<(String, String)> =
        sqlx::query("SELECT account, name FROM jobs WHERE due_at IS NOT NULL AND due_at <= $1")
            .bind(now.unix_timestamp())
            .fetch_all(state.db.pool())
            .await?
            .iter()
            .map(|row| Ok((row.try_get("account")?, row.try_get("name")?)))
            .collect::<Result<_, sqlx::Error>>()?;
    for (account, name) in due {
        let _writing = state.job_writes.lock().await;
        let mut tx = state.db.begin().await?;
        let Some((loaded, mut job)) = load(&mut tx, &account, &name).await? else {
            continue;
        };
        let mut deleted = false;
        for effect in tick(&job, now, &state.deadlines) {
            match effect {
                Effect::DeleteJob { .. } | Effect::PurgeJob { .. } => {
                    tracing::info!(%account, job = %name, ?effect, "deadline passed");
                    delete(&mut tx, &loaded.id).await?;
                    deleted = true;
                    let deadline = if matches!(effect, Effect::DeleteJob { .. }) {
                        DeadlineKind::DeleteUnshipped
                    } else {
                        DeadlineKind::Purge
                    };
                    let kind = WebhookEventKind::JobDeleted {
                        job: name.clone(),
                        deadline,
                    };
                    webhooks::enqueue(&mut tx, state, &account, None, kind).await?;
                }
                Effect::BlankDrivesNeverReceived { .. } => {
                    tracing::info!(%account, job = %name, "blank drives never received");
                    job.mark_blank_drives_never_received(&Actor::system(), now)?;
                }
                Effect::DriveNeverReceived { drive_id, .. } => {
                    tracing::info!(%account, job = %name, %drive_id, "drive never received");
                    job.mark_never_received(&drive_id, &Actor::system(), now)?;
                }
            }
        }
        if !deleted {
            save(&mut tx, &loaded, &job, state).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Notifies the owners of jobs whose avoidable deadline passes within
/// [`seedship_jobs::WARN_BEFORE`] of `now` (once per job and deadline).
async fn announce_deadlines(state: &AppState, now: time::OffsetDateTime) -> Result<(), ApiError> {
    let soon = sqlx::query("SELECT id, body FROM jobs WHERE due_at > $1 AND due_at <= $2")
        .bind(now.unix_timestamp())
        .bind((now + WARN_BEFORE).unix_timestamp())
        .fetch_all(state.db.pool())
        .await?;
    for row in soon {
        let id: String = row.try_get("id")?;
        let job: Job = serde_json::from_str(&row.try_get::<String, _>("body")?).map_err(internal)?;
        let Some(deadline) = approaching_deadline(&job, now, &state.deadlines) else {
            continue;
        };
        let key = format!(
            "deadline:{id}:{:?}:{}",
            deadline.kind,
            deadline.at.unix_timestamp()
        );
        let kind = WebhookEventKind::JobDeadlineApproaching {
            job: job.name().as_str().to_owned(),
            deadline: deadline.kind,
            due_at: webhooks::rfc3339(deadline.at),
        };
        // Reads, then writes: one at a time with the job writes (see `AppState::job_writes`).
        let _writing = state.job_writes.lock().await;
        let mut tx = state.db.begin().await?;
        webhooks::enqueue(&mut tx, state, job.account(), Some(&key), kind).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Refuses a job whose destination container does not exist: its drives would be shipped,
/// only to fail at the data centre.
async fn require_destination(state: &AppState, account_id: &str, spec: &JobSpec) -> Result<(), ApiError> {
    let destination = &spec.destination;
    let containers = state
        .db
        .containers(account_id, &destination.storage_account)
        .await?
        .unwrap_or_default();
    if containers.contains(&destination.container) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::JobRule,
        format!(
            "destination container {}/{} does not exist: create it (`seedship container create`) \
             before the job",
            destination.storage_account, destination.container
        ),
    )
    .with_rule("DestinationNotFound"))
}

async fn create_job(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<JobCreateQuery>,
    JsonBody(spec): JsonBody<JobSpec>,
) -> Result<axum::response::Response, ApiError> {
    Ok(match create(&state, &principal, spec, query.dry_run).await? {
        Some(job) => (StatusCode::CREATED, Json(detail(&state, job, None))).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Creates the job of `spec` for `principal`, an account owner (the API and the web page);
/// `dry_run` checks every rule but the drives (`None`), creating nothing.
pub(crate) async fn create(
    state: &AppState,
    principal: &Principal,
    mut spec: JobSpec,
    dry_run: bool,
) -> Result<Option<Job>, ApiError> {
    let Principal::Account {
        account_id,
        account_name,
    } = &principal
    else {
        return Err(ApiError::forbidden("only account owners create jobs"));
    };
    run_deadlines(state).await?;
    if spec.job_type == seedship_jobs::JobType::Import {
        require_destination(state, account_id, &spec).await?;
    }
    crate::export::prepare(state, account_id, &mut spec).await?;
    let objects = spec
        .export
        .as_ref()
        .map(|e| e.objects.clone())
        .unwrap_or_default();
    let mut tx = state.db.begin().await?;
    let taken = load(&mut tx, account_name, &spec.name).await?.is_some();
    let created = Job::create(
        spec,
        &state.data_centres,
        |_| taken,
        &Actor::owner(account_name),
        state.clock.now(),
    );
    if dry_run {
        match created {
            // A dry run before the drives are prepared has none: every other rule was
            // checked (`Job::create` checks the drives last).
            Ok(_) | Err(seedship_jobs::Error::NoDrives) => {}
            Err(err) => return Err(err.into()),
        }
        return Ok(None);
    }
    let job = created?;
    let (job_state, _, head, due) = columns(&job, &state.deadlines);
    let id = secret::new_id("job");
    sqlx::query(
        "INSERT INTO jobs (id, account, name, state, tracking_number, custody_head, due_at, body, version, \
         updated_at) VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, 0, $8)",
    )
    .bind(&id)
    .bind(account_name)
    .bind(job.name().as_str())
    .bind(job_state)
    .bind(head)
    .bind(due)
    .bind(serde_json::to_string(&job).map_err(internal)?)
    .bind(state.clock.now().unix_timestamp())
    .execute(&mut *tx)
    .await
    .map_err(|err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            ApiError::from(seedship_jobs::Error::JobNameTaken {
                name: job.name().as_str().to_owned(),
            })
        }
        _ => err.into(),
    })?;
    if job.export().is_some() {
        crate::export::store_objects(&mut tx, &id, &objects).await?;
    }
    webhooks::job_changed(&mut tx, state, &id, None, &job).await?;
    tx.commit().await?;
    tracing::info!(account = %account_name, job = %job.name().as_str(), "job created");
    Ok(Some(job))
}

async fn list_jobs(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<JobSummary>>, ApiError> {
    Ok(Json(summaries(&state, &principal).await?))
}

/// The jobs of `account` that are in `job_state`.
pub(crate) async fn jobs_in_state(
    state: &AppState,
    account: &str,
    job_state: JobState,
) -> Result<Vec<Job>, ApiError> {
    let rows = sqlx::query("SELECT body FROM jobs WHERE account = $1 AND state = $2")
        .bind(account)
        .bind(job_state.to_string())
        .fetch_all(state.db.pool())
        .await?;
    rows.iter()
        .map(|row| serde_json::from_str(&row.try_get::<String, _>("body")?).map_err(internal))
        .collect()
}

/// The jobs of `account` that have not ended (Completed, Closed, Cancelled).
pub(crate) async fn open_jobs(state: &AppState, account: &str) -> Result<Vec<Job>, ApiError> {
    let rows = sqlx::query("SELECT body FROM jobs WHERE account = $1")
        .bind(account)
        .fetch_all(state.db.pool())
        .await?;
    let mut jobs = Vec::new();
    for row in rows {
        let job: Job = serde_json::from_str(&row.try_get::<String, _>("body")?).map_err(internal)?;
        if !job.state().is_ended() {
            jobs.push(job);
        }
    }
    Ok(jobs)
}

/// The jobs `principal` may see: an owner's own, every job for an operator.
pub(crate) async fn summaries(state: &AppState, principal: &Principal) -> Result<Vec<JobSummary>, ApiError> {
    run_deadlines(state).await?;
    let rows = match principal {
        Principal::Account { account_name, .. } => {
            sqlx::query("SELECT body FROM jobs WHERE account = $1 ORDER BY name")
                .bind(account_name)
                .fetch_all(state.db.pool())
                .await?
        }
        Principal::Operator => {
            sqlx::query("SELECT body FROM jobs ORDER BY account, name")
                .fetch_all(state.db.pool())
                .await?
        }
        _ => {
            return Err(ApiError::forbidden(
                "jobs need account owner or operator credentials",
            ));
        }
    };
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        let body: String = row.try_get("body")?;
        let job: Job = serde_json::from_str(&body).map_err(internal)?;
        jobs.push(JobSummary::of(&job, &state.deadlines));
    }
    Ok(jobs)
}

async fn show_job(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name)): Path<(String, String)>,
) -> Result<Json<JobDetail>, ApiError> {
    Ok(Json(job_detail(&state, &principal, &account, &name).await?))
}

/// Job `account`/`name` as `principal` may see it (404 for another account's owner).
pub(crate) async fn job_detail(
    state: &AppState,
    principal: &Principal,
    account: &str,
    name: &str,
) -> Result<JobDetail, ApiError> {
    // An agent may read (not change) the jobs of its own account: its backups wait for one.
    if !matches!(principal, Principal::Agent { account_name, .. } if account_name == account) {
        actor_for(principal, account)?;
    }
    run_deadlines(state).await?;
    let mut tx = state.db.begin().await?;
    let (_, job) = load_or_404(&mut tx, account, name).await?;
    Ok(detail(state, job, None))
}

/// Whether a job other than `id` has `tracking_number` (normalised).
async fn tracking_taken(tx: &mut Tx, tracking_number: &str, id: &str) -> Result<bool, ApiError> {
    let taken: Option<String> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE tracking_number = $1 AND id <> $2")
            .bind(normalise_tracking_number(tracking_number))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(taken.is_some())
}

async fn act(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name)): Path<(String, String)>,
    JsonBody(action): JsonBody<JobAction>,
) -> Result<Json<JobDetail>, ApiError> {
    Ok(Json(apply(&state, &principal, &account, &name, &action).await?))
}

/// Applies `action` of `principal` to job `account`/`name` in one transaction (the API and the
/// web page): the job's rules, its custody entries and the webhooks of what changed.
pub(crate) async fn apply(
    state: &AppState,
    principal: &Principal,
    account: &str,
    name: &str,
    action: &JobAction,
) -> Result<JobDetail, ApiError> {
    let actor = actor_for(principal, account)?;
    run_deadlines(state).await?;
    let _writing = state.job_writes.lock().await;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let (loaded, mut job) = load_or_404(&mut tx, account, name).await?;
    let id = loaded.id.clone();
    let mut review = None;
    match action {
        JobAction::Ship { request, dry_run } => {
            let taken = tracking_taken(&mut tx, &request.tracking_number, &id).await?;
            if *dry_run {
                review = Some(job.check_ship(request, |_| taken, &actor, now)?);
            } else {
                job.ship(request, |_| taken, &actor, now)?;
            }
        }
        JobAction::Update { update } => {
            let taken = match &update.tracking_number {
                Some(number) => tracking_taken(&mut tx, number, &id).await?,
                None => false,
            };
            job.update(update, |_| taken, &actor, now)?;
        }
        JobAction::Cancel => job.cancel(&actor, now)?,
        JobAction::Receive { drive_id } => job.receive_drive(drive_id, &actor, now)?,
        JobAction::NeverReceived { drive_id } => job.mark_never_received(drive_id, &actor, now)?,
        JobAction::StartTransfer { drive_id } => job.start_transfer(drive_id, &actor, now)?,
        JobAction::Progress { drive_id, bytes_done } => job.record_progress(drive_id, *bytes_done, &actor)?,
        JobAction::FinishTransfer { drive_id, log } => {
            job.finish_transfer(drive_id, log, &actor, now)?;
            sqlx::query("DELETE FROM drive_logs WHERE job_id = $1 AND drive_id = $2")
                .bind(&id)
                .bind(drive_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO drive_logs (job_id, drive_id, body) VALUES ($1, $2, $3)")
                .bind(&id)
                .bind(drive_id)
                .bind(log.to_json().map_err(internal)?)
                .execute(&mut *tx)
                .await?;
        }
        JobAction::Repair { drive_id, fixed } => job.record_repair(drive_id, fixed, &actor, now)?,
        JobAction::Erase { drive_id, record } => {
            job.record_erasure(drive_id, record.clone(), &actor, now)?;
        }
        JobAction::ShipBack { tracking_number } => job.ship_back(tracking_number, &actor, now)?,
    }
    if review.is_none() {
        save(&mut tx, &loaded, &job, state).await?;
        tx.commit().await?;
        tracing::info!(%account, job = %name, actor = %actor, action = action.name(), "job updated");
    }
    Ok(detail(state, job, review))
}

async fn logs(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name)): Path<(String, String)>,
) -> Result<Json<Vec<DriveLogs>>, ApiError> {
    Ok(Json(drive_logs(&state, &principal, &account, &name).await?))
}

/// The copy and error logs of every transferred drive of job `account`/`name`.
pub(crate) async fn drive_logs(
    state: &AppState,
    principal: &Principal,
    account: &str,
    name: &str,
) -> Result<Vec<DriveLogs>, ApiError> {
    actor_for(principal, account)?;
    let mut tx = state.db.begin().await?;
    let (loaded, _) = load_or_404(&mut tx, account, name).await?;
    let rows = sqlx::query("SELECT drive_id, body FROM drive_logs WHERE job_id = $1 ORDER BY drive_id")
        .bind(&loaded.id)
        .fetch_all(&mut *tx)
        .await?;
    let mut logs = Vec::with_capacity(rows.len());
    for row in rows {
        let body: String = row.try_get("body")?;
        let copy_log = DriveLog::from_json(&body).map_err(internal)?;
        logs.push(DriveLogs {
            drive_id: row.try_get("drive_id")?,
            error_log: copy_log.error_log(),
            copy_log,
        });
    }
    Ok(logs)
}

async fn custody(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name)): Path<(String, String)>,
) -> Result<Json<CustodyReport>, ApiError> {
    Ok(Json(custody_report(&state, &principal, &account, &name).await?))
}

/// The custody log of job `account`/`name`, verified against the head stored beside it.
pub(crate) async fn custody_report(
    state: &AppState,
    principal: &Principal,
    account: &str,
    name: &str,
) -> Result<CustodyReport, ApiError> {
    actor_for(principal, account)?;
    let mut tx = state.db.begin().await?;
    let (loaded, job) = load_or_404(&mut tx, account, name).await?;
    let head: String = sqlx::query_scalar("SELECT custody_head FROM jobs WHERE id = $1")
        .bind(&loaded.id)
        .fetch_one(&mut *tx)
        .await?;
    let expected = ChainHash::from_hex(&head).map_err(internal)?;
    let verdict = verify_chain(account, name, job.custody().entries(), Some(&expected));
    Ok(CustodyReport {
        entries: job.custody().entries().to_vec(),
        head,
        verified: verdict.is_ok(),
        error: verdict.err().map(|e| e.to_string()),
    })
}

async fn export_objects(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name)): Path<(String, String)>,
) -> Result<Json<Vec<ExportObject>>, ApiError> {
    actor_for(&principal, &account)?;
    let mut tx = state.db.begin().await?;
    let (loaded, job) = load_or_404(&mut tx, &account, &name).await?;
    if job.export().is_none() {
        return Err(seedship_jobs::Error::WrongJobType {
            what: "an export object list",
            job_type: job.job_type(),
        }
        .into());
    }
    Ok(Json(crate::export::stored_objects(&mut tx, &loaded.id).await?))
}

/// `GET /api/v1/jobs/{account}/{name}/export-objects/{object}`, operator only: one object of
/// an export job's vault, for the export writer, while the job's drives are written (the job
/// Received or Transferring). A `Range` header reads part of it. Any repository object of the
/// vault may be read, not only the listed ones: checking the list (up to 500,000 names) on
/// every read would cost more than it protects, as the operator reads ciphertext only.
async fn read_export_object(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name, object)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !matches!(principal, Principal::Operator) {
        return Err(ApiError::forbidden("only operators read an export's objects"));
    }
    if !seedship_jobs::is_repository_object(&object) {
        return Err(ApiError::invalid_name(format!(
            "{object:?} is not a repository object (config, keys/<id>, snapshots/<id>, index/<id>, data/<id[..2]>/<id>)"
        )));
    }
    let (job, account_id) = {
        let mut tx = state.db.begin().await?;
        let (_, job) = load_or_404(&mut tx, &account, &name).await?;
        let account_id: Option<String> = sqlx::query_scalar("SELECT id FROM accounts WHERE name = $1")
            .bind(&account)
            .fetch_optional(&mut *tx)
            .await?;
        (
            job,
            account_id.ok_or_else(|| ApiError::not_found(format!("account {account} not found")))?,
        )
    };
    let Some(export) = job.export() else {
        return Err(seedship_jobs::Error::WrongJobType {
            what: "an export object",
            job_type: job.job_type(),
        }
        .into());
    };
    if !matches!(job.state(), JobState::Received | JobState::Transferring) {
        return Err(seedship_jobs::Error::NotInThisState {
            action: "read an export's objects",
            state: job.state(),
        }
        .into());
    }
    let vault = crate::export::export_vault(&state, &account_id, &export.vault).await?;
    crate::vault::read(&state, &format!("vaults/{}/{object}", vault.id), &headers).await
}

async fn move_clock(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<ClockRequest>,
) -> Result<Json<ClockState>, ApiError> {
    if !matches!(principal, Principal::Admin) {
        return Err(ApiError::forbidden("only the admin moves the clock"));
    }
    if !state.clock.adjustable {
        return Err(ApiError::forbidden(
            "the clock is fixed (start the server with SEEDSHIP_TEST_CLOCK=1 to move it)",
        ));
    }
    // A test clock moves by years at most, so that `now` can never leave time's range.
    const MAX_OFFSET: i64 = 100 * 366 * 24 * 3600;
    let moved = |offset: i64| {
        offset
            .checked_add(request.advance_seconds)
            .filter(|moved| moved.abs() <= MAX_OFFSET)
    };
    let offset = state
        .clock
        .offset_seconds
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, moved)
        .ok()
        .and_then(moved)
        .ok_or_else(|| {
            ApiError::invalid_request(format!(
                "advance_seconds {} would move the clock more than {MAX_OFFSET} seconds from now",
                request.advance_seconds
            ))
        })?;
    run_deadlines(&state).await?;
    Ok(Json(ClockState {
        offset_seconds: offset,
        now: state
            .clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(internal)?,
    }))
}
