//! The data centre's side of an import: blobs written into a job's container, verified
//! against the BLAKE3 the drive manifest recorded before they become visible; damaged files
//! held back outside the container; and their repair over the network, which re-sends only
//! the ranges the error log names.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use seedship_api::{
    BLAKE3_HEADER, BatchPlaced, BlobBatchQuery, BlobHeadQuery, BlobList, BlobListEntry, BlobListQuery,
    BlobPlaced, BlobPutQuery, DamagedQuery, ErrorCode, JobDetail, RepairQuery, SpansError,
};
use seedship_jobs::{BlobNameError, Disposition, DispositionOutcome, Job, Problem};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::jobs::{actor_for, detail, internal, load_or_404, save};
use crate::quota::Reservation;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/jobs/{account}/{name}/blobs",
            axum::routing::get(list_blobs)
                .post(put_blob_batch)
                .delete(crate::lifecycle::delete_imported),
        )
        .route(
            "/api/v1/jobs/{account}/{name}/blobs/{*path}",
            axum::routing::put(put_blob).get(get_blob).head(head_blob),
        )
        .route(
            "/api/v1/jobs/{account}/{name}/damaged/{*blob}",
            axum::routing::put(put_damaged),
        )
        .route(
            "/api/v1/jobs/{account}/{name}/repair/{*blob}",
            axum::routing::post(repair),
        )
}

/// The largest [`DamagedRecord`] read back (it holds a blob name of at most a few KiB).
const MAX_RECORD: u64 = 64 * 1024;

/// What is kept beside a damaged file until its repair: the kept data is the file without its
/// holes, which only a repair can fill. Its key (`jobs/<job id>/damaged/record/<blob>`) is the
/// held-back name's reservation: created only if absent, as a blob is.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DamagedRecord {
    /// The name the file is held back under, which its repair writes.
    blob: String,
    /// The name the drive's manifest asked for (records before held-back names were chosen by
    /// the server lack it: then the held-back name).
    #[serde(default)]
    requested: Option<String>,
    blake3: String,
    size: u64,
    #[serde(default)]
    holes: Vec<(u64, u64)>,
    /// The disposition it was held back with (none in older records: overwrite).
    #[serde(default)]
    disposition: Option<Disposition>,
    /// The drive whose logs list the file (none: every drive's problems of the name).
    #[serde(default)]
    drive: Option<String>,
}

impl DamagedRecord {
    /// Whether `other` is the same file of the same drive (held back again by a receive run
    /// again), not another file requesting the same name.
    fn same_file(&self, other: &DamagedRecord) -> bool {
        self.requested == other.requested
            && self.blake3 == other.blake3
            && self.size == other.size
            && self.drive == other.drive
    }
}

/// The store key of `path` in the job's destination container: `containers/<container id>/<path>`.
async fn blob_key(state: &AppState, account: &str, name: &str, path: &str) -> Result<String, ApiError> {
    let (container, _) = destination_of(state, account, name).await?;
    checked_key(format!("{container}/{path}"))
}

/// Refuses blob `path` unless the job may write it: under its destination prefix, or one of
/// its own copy and error logs. The operator's client checks the manifest's names too; this
/// is the server's own line, whatever a client sends.
fn check_writable(job: &Job, path: &str) -> Result<(), ApiError> {
    job.destination()
        .check_writable(job.name().as_str(), path)
        .map_err(|err| match err {
            BlobNameError::OutsideDestination { .. } => ApiError::forbidden(err.to_string()),
            _ => ApiError::invalid_name(err.to_string()),
        })
}

/// The store key prefix of the job's destination container: `containers/<container id>`.
async fn container_key(state: &AppState, account: &str, name: &str) -> Result<String, ApiError> {
    Ok(destination_of(state, account, name).await?.0)
}

/// The store key prefix of the job's destination container, and the job.
async fn destination_of(state: &AppState, account: &str, name: &str) -> Result<(String, Job), ApiError> {
    let (container, job, _, _) = destination_and_id(state, account, name).await?;
    Ok((container, job))
}

/// The store key prefix of the job's destination container, the job, its id and the id of
/// its account (whose quota its writes count against).
async fn destination_and_id(
    state: &AppState,
    account: &str,
    name: &str,
) -> Result<(String, Job, String, String), ApiError> {
    let mut tx = state.db.begin().await?;
    let (loaded, job) = load_or_404(&mut tx, account, name).await?;
    let destination = job.destination();
    let container: Option<(String, String)> = sqlx::query_as(
        "SELECT c.id, a.id FROM containers c JOIN storage_accounts s ON s.id = c.storage_account_id \
         JOIN accounts a ON a.id = s.account_id WHERE a.name = $1 AND s.name = $2 AND c.name = $3",
    )
    .bind(account)
    .bind(&destination.storage_account)
    .bind(&destination.container)
    .fetch_optional(&mut *tx)
    .await?;
    let (container, account_id) = container.ok_or_else(|| {
        ApiError::not_found(format!(
            "container {}/{} of account {account} not found",
            destination.storage_account, destination.container
        ))
    })?;
    Ok((
        format!("containers/{container}"),
        job,
        loaded.id.to_string(),
        account_id,
    ))
}

/// The store keys of the file job `job_id` holds back as `blob` (data, record); outside every
/// container.
fn damaged_keys(job_id: &str, blob: &str) -> Result<(String, String), ApiError> {
    Ok((
        checked_key(format!("jobs/{job_id}/damaged/data/{blob}"))?,
        checked_key(format!("jobs/{job_id}/damaged/record/{blob}"))?,
    ))
}

/// Whether a file is held back as `blob` (its name is reserved until the repair writes it).
async fn held_back_as(state: &AppState, job_id: &str, blob: &str) -> Result<bool, ApiError> {
    let (_, record_key) = damaged_keys(job_id, blob)?;
    match state.store.head(&record_key).await {
        Ok(_) => Ok(true),
        Err(seedship_store::Error::NotFound { .. }) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// The record of the file held back as `blob`, if any.
async fn read_record(
    state: &AppState,
    record_key: &str,
    blob: &str,
) -> Result<Option<DamagedRecord>, ApiError> {
    let record = crate::vault::read_bounded(state, record_key, MAX_RECORD, |size| {
        internal(format!("the record of damaged file {blob} is {size} bytes"))
    })
    .await?;
    record
        .map(|r| serde_json::from_slice(&r).map_err(internal))
        .transpose()
}

fn checked_key(key: String) -> Result<String, ApiError> {
    seedship_store::validate_key(&key)?;
    Ok(key)
}

fn operator_only(principal: &Principal) -> Result<(), ApiError> {
    if matches!(principal, Principal::Operator) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only operators write imported blobs"))
    }
}

fn parse_blake3(text: &str) -> Result<blake3::Hash, ApiError> {
    blake3::Hash::from_hex(text)
        .map_err(|_| ApiError::invalid_request(format!("blake3 {text:?} is not 64 hex digits")))
}

fn digest_mismatch(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::DigestMismatch,
        what.to_owned(),
    )
}

type ByteStream = BoxStream<'static, Result<Bytes, ApiError>>;

fn body_stream(body: Body) -> ByteStream {
    body.into_data_stream()
        .map(|chunk| chunk.map_err(|err| ApiError::invalid_request(format!("upload interrupted: {err}"))))
        .boxed()
}

/// A byte stream read in spans of exact lengths.
struct Spans {
    stream: ByteStream,
    pending: Bytes,
    what: &'static str,
}

impl Spans {
    fn new(stream: ByteStream, what: &'static str) -> Self {
        Self {
            stream,
            pending: Bytes::new(),
            what,
        }
    }

    /// The next at most `max` bytes (`max` > 0); an error if the stream ends first.
    async fn next(&mut self, max: u64) -> Result<Bytes, ApiError> {
        while self.pending.is_empty() {
            self.pending = self
                .stream
                .next()
                .await
                .ok_or_else(|| ApiError::invalid_request(format!("{} ends early", self.what)))??;
        }
        let take = self.pending.len().min(usize::try_from(max).unwrap_or(usize::MAX));
        Ok(self.pending.split_to(take))
    }

    /// Passes the next `len` bytes to `out` (writer and hasher), or drops them with `None`.
    async fn forward(
        &mut self,
        mut len: u64,
        mut out: Option<(&mut dyn seedship_store::ObjectWriter, &mut blake3::Hasher)>,
    ) -> Result<(), ApiError> {
        while len > 0 {
            let chunk = self.next(len).await?;
            len -= chunk.len() as u64;
            if let Some((writer, hasher)) = out.as_mut() {
                hasher.update(&chunk);
                writer.write(chunk).await?;
            }
        }
        Ok(())
    }

    /// Whether nothing is left.
    async fn at_end(&mut self) -> Result<bool, ApiError> {
        while self.pending.is_empty() {
            match self.stream.next().await {
                Some(chunk) => self.pending = chunk?,
                None => return Ok(true),
            }
        }
        Ok(false)
    }
}

/// Streams `body` into a new object at `key`, reserving its bytes against the account's quota
/// (`quota`) as they arrive (over it: 413 `QuotaExceeded`, nothing written); with `expected`,
/// the object is committed only if the bytes hash to it. Returns the bytes written.
async fn write_object(
    state: &AppState,
    key: &str,
    body: ByteStream,
    expected: Option<blake3::Hash>,
    quota: &mut Reservation,
) -> Result<u64, ApiError> {
    let mut writer = state.store.writer(key).await?;
    let mut hasher = blake3::Hasher::new();
    let mut stream = body;
    let mut written = 0u64;
    let outcome = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            written += chunk.len() as u64;
            quota.cover(written).await?;
            hasher.update(&chunk);
            writer.write(chunk).await?;
        }
        match expected {
            Some(hash) if hasher.finalize() != hash => Err(digest_mismatch(&format!(
                "the {written} bytes sent do not hash to the BLAKE3 given; nothing written"
            ))),
            _ => Ok(()),
        }
    }
    .await;
    match outcome {
        Ok(()) => {
            quota.committing(written);
            let finished = writer.finish().await;
            if finished.is_err() {
                quota.keep(0).await;
            }
            Ok(finished?)
        }
        Err(err) => {
            if let Err(abort) = writer.abort().await {
                tracing::warn!("aborting object {key}: {abort}");
            }
            if err.code == ErrorCode::QuotaExceeded {
                crate::quota::drain(stream).await;
            }
            Err(err)
        }
    }
}

/// Operator: streams a blob into the job's container under the requested name `path`, placed
/// by the disposition: overwrite (the default) replaces a blob of that name; rename and
/// no-overwrite never replace one: the bytes go to a staging key outside the container first
/// and are moved to the name only if it is free (create-if-absent, atomic against other
/// receivers), else to the next numbered name (rename) or not at all (no-overwrite). With
/// `?blake3=`, a blob whose bytes do not hash to it is not written. Answers where it went.
async fn put_blob(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name, path)): Path<(String, String, String)>,
    Query(query): Query<BlobPutQuery>,
    body: Body,
) -> Result<(StatusCode, Json<BlobPlaced>), ApiError> {
    operator_only(&principal)?;
    let expected = query.blake3.as_deref().map(parse_blake3).transpose()?;
    let (container, job, job_id, account_id) = destination_and_id(&state, &account, &name).await?;
    check_writable(&job, &path)?;
    let key = checked_key(format!("{container}/{path}"))?;
    let mut quota = Reservation::new(&state.db, &account_id);
    let placed = match query.disposition.unwrap_or(Disposition::Overwrite) {
        Disposition::Overwrite => {
            let (outcome, replaced) = overwrite_outcome(&state, &key).await?;
            let written = write_object(&state, &key, body_stream(body), expected, &mut quota).await?;
            quota.keep(written).await;
            crate::quota::release(&state.db, &account_id, replaced).await;
            BlobPlaced {
                blob: path,
                disposition: outcome,
            }
        }
        disposition => {
            let staged = checked_key(crate::staging::staging_key(&job_id))?;
            let written = write_object(&state, &staged, body_stream(body), expected, &mut quota).await?;
            let held = Held {
                state: &state,
                job_id: &job_id,
            };
            let placed = place(&container, &job, held, &path, disposition, |key| {
                let (state, staged) = (&state, &staged);
                async move { state.store.rename_if_absent(staged, &key).await }
            })
            .await;
            // moved into the container, or still staged (skipped, or an error)
            let moved = matches!(&placed, Ok(p) if p.disposition != DispositionOutcome::Skipped);
            quota.keep(if moved { written } else { 0 }).await;
            let removed = if moved {
                Ok(())
            } else {
                state.store.delete(&staged).await
            };
            if let Err(err) = removed {
                tracing::warn!("removing staged upload {staged}: {err}");
            }
            placed?
        }
    };
    Ok((StatusCode::CREATED, Json(placed)))
}

/// What overwriting `key` does: `Overwritten` if a blob is there, else `Created`; and the
/// bytes it replaces.
async fn overwrite_outcome(state: &AppState, key: &str) -> Result<(DispositionOutcome, u64), ApiError> {
    match state.store.head(key).await {
        Ok(info) => Ok((DispositionOutcome::Overwritten, info.size)),
        Err(seedship_store::Error::NotFound { .. }) => Ok((DispositionOutcome::Created, 0)),
        Err(err) => Err(err.into()),
    }
}

/// The files a job holds back, whose names [`place`] treats as taken.
#[derive(Clone, Copy)]
struct Held<'a> {
    state: &'a AppState,
    job_id: &'a str,
}

/// Places blob `requested` of the job by a disposition that never replaces a blob (rename,
/// no-overwrite): `create(key)` creates the object at a key if it is free (failing with
/// `AlreadyExists` if not, atomically); the requested name first, then for rename the numbered
/// names ([`seedship_jobs::numbered_name`]) up to [`seedship_jobs::MAX_RENAME_ATTEMPTS`]. A
/// name a held-back file reserves counts as taken (a file held back between this check and the
/// create is caught by its repair, which writes only if the name is still free).
async fn place<F, Fut>(
    container: &str,
    job: &Job,
    held: Held<'_>,
    requested: &str,
    disposition: Disposition,
    create: F,
) -> Result<BlobPlaced, ApiError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = seedship_store::Result<()>>,
{
    for attempt in 0..=seedship_jobs::MAX_RENAME_ATTEMPTS {
        let (blob, outcome) = match attempt {
            0 => (requested.to_owned(), DispositionOutcome::Created),
            n => (
                seedship_jobs::numbered_name(requested, n),
                DispositionOutcome::Renamed,
            ),
        };
        check_writable(job, &blob)?;
        let created = if held_back_as(held.state, held.job_id, &blob).await? {
            Err(seedship_store::Error::AlreadyExists { key: blob.clone() })
        } else {
            create(checked_key(format!("{container}/{blob}"))?).await
        };
        match created {
            Ok(()) => {
                return Ok(BlobPlaced {
                    blob,
                    disposition: outcome,
                });
            }
            Err(seedship_store::Error::AlreadyExists { .. }) if disposition == Disposition::Rename => {}
            Err(seedship_store::Error::AlreadyExists { .. }) => {
                return Ok(BlobPlaced {
                    blob: requested.to_owned(),
                    disposition: DispositionOutcome::Skipped,
                });
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::already_exists(format!(
        "blob {requested} and its {} numbered names are all taken",
        seedship_jobs::MAX_RENAME_ATTEMPTS
    )))
}

/// Blobs written at once by a batch (each still fsynced and renamed on its own by the store).
const BATCH_WRITES: usize = 16;

/// Owner or operator: the blobs of the job's container (under `?prefix=`), so that an import
/// decides its dispositions without asking about each name.
async fn list_blobs(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name)): Path<(String, String)>,
    Query(query): Query<BlobListQuery>,
) -> Result<Json<BlobList>, ApiError> {
    actor_for(&principal, &account)?;
    let container = container_key(&state, &account, &name).await?;
    let prefix = query.prefix.trim_matches('/');
    let root = if prefix.is_empty() {
        container.clone()
    } else {
        format!("{container}/{prefix}")
    };
    seedship_store::validate_key(&root)
        .map_err(|e| ApiError::invalid_request(format!("prefix {prefix:?}: {e}")))?;
    let mut blobs: Vec<BlobListEntry> = state
        .store
        .list(&root)
        .map_ok(|info| BlobListEntry {
            name: info
                .key
                .strip_prefix(&format!("{container}/"))
                .unwrap_or(&info.key)
                .to_owned(),
            size: info.size,
        })
        .try_collect()
        .await?;
    blobs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(BlobList { blobs }))
}

/// Operator: writes a batch of small blobs ([`seedship_jobs::decode_batch`]) into the job's
/// container, each under its requested name placed by the batch's `?disposition=` (as a
/// single PUT does; rename and no-overwrite by create-if-absent writes). Every entry is checked
/// against its BLAKE3 before any is written: one mismatch refuses the whole batch and writes
/// nothing. Answers where each entry went, in order.
async fn put_blob_batch(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name)): Path<(String, String)>,
    Query(query): Query<BlobBatchQuery>,
    body: Body,
) -> Result<(StatusCode, Json<BatchPlaced>), ApiError> {
    operator_only(&principal)?;
    let (container, job, job_id, account_id) = destination_and_id(&state, &account, &name).await?;
    let body = axum::body::to_bytes(body, seedship_jobs::MAX_BATCH_BODY)
        .await
        .map_err(|err| ApiError::invalid_request(format!("reading the batch: {err}")))?;
    let entries =
        seedship_jobs::decode_batch(&body).map_err(|err| ApiError::invalid_request(err.to_string()))?;
    let mut writes = Vec::with_capacity(entries.len());
    for entry in &entries {
        if blake3::hash(entry.data).as_bytes() != &entry.blake3 {
            return Err(digest_mismatch(&format!(
                "blob {} of the batch does not hash to the BLAKE3 given; nothing written",
                entry.name
            )));
        }
        check_writable(&job, entry.name)?;
        let key = checked_key(format!("{container}/{}", entry.name))?;
        writes.push((entry.name.to_owned(), key, body.slice_ref(entry.data)));
    }
    // The whole batch is reserved before any of it is written: over the quota, nothing is.
    let mut quota = Reservation::new(&state.db, &account_id);
    quota
        .cover(writes.iter().map(|(_, _, data)| data.len() as u64).sum())
        .await?;
    let disposition = query.disposition.unwrap_or(Disposition::Overwrite);
    let (state, container, job) = (&state, container.as_str(), &job);
    let held = Held {
        state,
        job_id: &job_id,
    };
    // Concurrently; the answers in the batch's order. Two entries requesting one name are
    // both placed (create-if-absent lets one have it).
    // Each entry with the bytes it stored and the bytes it replaced.
    let placed: Vec<(BlobPlaced, u64, u64)> = futures::stream::iter(writes)
        .map(|(requested, key, data)| async move {
            let size = data.len() as u64;
            if disposition == Disposition::Overwrite {
                let (outcome, replaced) = overwrite_outcome(state, &key).await?;
                state
                    .store
                    .put(&key, data, seedship_store::PutMode::Overwrite)
                    .await?;
                let placed = BlobPlaced {
                    blob: requested,
                    disposition: outcome,
                };
                return Ok::<_, ApiError>((placed, size, replaced));
            }
            let placed = place(container, job, held, &requested, disposition, |key| {
                let data = data.clone();
                async move { state.store.put(&key, data, seedship_store::PutMode::Create).await }
            })
            .await?;
            let stored = if placed.disposition == DispositionOutcome::Skipped {
                0
            } else {
                size
            };
            Ok((placed, stored, 0))
        })
        .buffered(BATCH_WRITES)
        .try_collect()
        .await?;
    quota.keep(placed.iter().map(|(_, stored, _)| stored).sum()).await;
    crate::quota::release(
        &state.db,
        &account_id,
        placed.iter().map(|(_, _, replaced)| replaced).sum(),
    )
    .await;
    let blobs = placed.into_iter().map(|(placed, _, _)| placed).collect();
    Ok((StatusCode::CREATED, Json(BatchPlaced { blobs })))
}

/// Owner or operator: reads a blob of the job's container.
async fn get_blob(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name, path)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    actor_for(&principal, &account)?;
    let key = blob_key(&state, &account, &name, &path).await?;
    let read = state.store.get(&key, None).await?;
    Ok(Body::from_stream(read.stream).into_response())
}

/// Owner or operator: whether a blob exists (200) or not (404); with `?hash=blake3`, its
/// BLAKE3 in [`BLAKE3_HEADER`] (the blob is read through).
async fn head_blob(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name, path)): Path<(String, String, String)>,
    Query(query): Query<BlobHeadQuery>,
) -> Result<Response, ApiError> {
    actor_for(&principal, &account)?;
    let key = blob_key(&state, &account, &name, &path).await?;
    let info = state.store.head(&key).await?;
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from(info.size));
    match query.hash.as_deref() {
        None => {}
        Some("blake3") => {
            let mut hasher = blake3::Hasher::new();
            let mut stream = state.store.get(&key, None).await?.stream;
            while let Some(chunk) = stream.next().await {
                hasher.update(&chunk?);
            }
            let hex = hasher.finalize().to_hex();
            response
                .headers_mut()
                .insert(BLAKE3_HEADER, HeaderValue::from_str(&hex).map_err(internal)?);
        }
        Some(other) => {
            return Err(ApiError::invalid_request(format!(
                "hash {other:?} is not supported (only blake3)"
            )));
        }
    }
    Ok(response)
}

/// Operator: holds back a file that failed verification (bad ranges as zeros) that the drive's
/// manifest names `requested`, with the BLAKE3 it must reach, until `repair` fixes it. The
/// server chooses the name it is held back under by the disposition, as for a blob: the name
/// is reserved (create-if-absent of the file's record) if neither a blob nor another held-back
/// file has it; rename tries the numbered names, no-overwrite holds nothing back if the name
/// is taken, overwrite takes the requested name (replacing a file held back under it). The
/// same file of the same drive held back again (a receive run again) takes its own name back.
/// Answers the name used; the repair names it so.
async fn put_damaged(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name, requested)): Path<(String, String, String)>,
    Query(query): Query<DamagedQuery>,
    body: Body,
) -> Result<(StatusCode, Json<BlobPlaced>), ApiError> {
    operator_only(&principal)?;
    parse_blake3(&query.blake3)?;
    let holes = match &query.holes {
        Some(text) => parse_ranges(text, u64::MAX)?,
        None => Vec::new(),
    };
    let (container, job, job_id, account_id) = destination_and_id(&state, &account, &name).await?;
    check_writable(&job, &requested)?;
    let staged = checked_key(crate::staging::staging_key(&job_id))?;
    let mut quota = Reservation::new(&state.db, &account_id);
    let kept = write_object(&state, &staged, body_stream(body), None, &mut quota).await?;
    let placed = async {
        // The file is what was sent plus its holes; every hole must lie inside it.
        let size = holes
            .iter()
            .try_fold(kept, |size, &(_, length)| size.checked_add(length))
            .filter(|&size| {
                holes
                    .last()
                    .is_none_or(|&(offset, length)| offset + length <= size)
            })
            .ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "holes {:?} do not fit a file of {kept} bytes sent plus its holes",
                    query.holes.clone().unwrap_or_default()
                ))
            })?;
        let disposition = query.disposition.unwrap_or(Disposition::Overwrite);
        let record = DamagedRecord {
            blob: String::new(),
            requested: Some(requested.clone()),
            blake3: query.blake3.to_ascii_lowercase(),
            size,
            holes,
            disposition: Some(disposition),
            drive: query.drive.clone(),
        };
        let placed = reserve(&state, &container, &job, &job_id, record).await?;
        if placed.disposition != DispositionOutcome::Skipped {
            // the data of an earlier hold-back of this name (overwrite, or held back again)
            let (data_key, _) = damaged_keys(&job_id, &placed.blob)?;
            let (_, replaced) = overwrite_outcome(&state, &data_key).await?;
            state.store.delete(&data_key).await?;
            crate::quota::release(&state.db, &account_id, replaced).await;
            state.store.rename_if_absent(&staged, &data_key).await?;
        }
        Ok::<_, ApiError>(placed)
    }
    .await;
    // moved into place, or still staged (skipped, or an error)
    let moved = matches!(&placed, Ok(p) if p.disposition != DispositionOutcome::Skipped);
    quota.keep(if moved { kept } else { 0 }).await;
    if !moved && let Err(err) = state.store.delete(&staged).await {
        tracing::warn!("removing staged damaged file {staged}: {err}");
    }
    Ok((StatusCode::CREATED, Json(placed?)))
}

/// Chooses and reserves the name a damaged file is held back under (see [`put_damaged`]):
/// writes `record` (its `blob` set to the name) at that name's record key, creating it only if
/// absent unless the disposition is overwrite.
async fn reserve(
    state: &AppState,
    container: &str,
    job: &Job,
    job_id: &str,
    mut record: DamagedRecord,
) -> Result<BlobPlaced, ApiError> {
    let requested = record.requested.clone().unwrap_or_default();
    let disposition = record.disposition.unwrap_or(Disposition::Overwrite);
    for attempt in 0..=seedship_jobs::MAX_RENAME_ATTEMPTS {
        let (blob, outcome) = match attempt {
            0 => (requested.clone(), DispositionOutcome::Created),
            n => (
                seedship_jobs::numbered_name(&requested, n),
                DispositionOutcome::Renamed,
            ),
        };
        check_writable(job, &blob)?;
        let key = checked_key(format!("{container}/{blob}"))?;
        let (_, record_key) = damaged_keys(job_id, &blob)?;
        record.blob.clone_from(&blob);
        let bytes = bytes::Bytes::from(serde_json::to_vec(&record).map_err(internal)?);
        if disposition == Disposition::Overwrite {
            let (outcome, _) = overwrite_outcome(state, &key).await?;
            let outcome =
                if outcome == DispositionOutcome::Created && held_back_as(state, job_id, &blob).await? {
                    DispositionOutcome::Overwritten
                } else {
                    outcome
                };
            state
                .store
                .put(&record_key, bytes, seedship_store::PutMode::Overwrite)
                .await?;
            return Ok(BlobPlaced {
                blob,
                disposition: outcome,
            });
        }
        if overwrite_outcome(state, &key).await?.0 == DispositionOutcome::Created {
            match state
                .store
                .put(&record_key, bytes.clone(), seedship_store::PutMode::Create)
                .await
            {
                Ok(()) => {
                    return Ok(BlobPlaced {
                        blob,
                        disposition: outcome,
                    });
                }
                Err(seedship_store::Error::AlreadyExists { .. }) => {
                    let found = read_record(state, &record_key, &blob).await?;
                    if found.is_some_and(|found| found.same_file(&record)) {
                        state
                            .store
                            .put(&record_key, bytes, seedship_store::PutMode::Overwrite)
                            .await?;
                        return Ok(BlobPlaced {
                            blob,
                            disposition: outcome,
                        });
                    }
                }
                Err(err) => return Err(err.into()),
            }
        }
        if disposition != Disposition::Rename {
            return Ok(BlobPlaced {
                blob: requested,
                disposition: DispositionOutcome::Skipped,
            });
        }
    }
    Err(ApiError::already_exists(format!(
        "blob {requested} and its {} numbered names are all taken",
        seedship_jobs::MAX_RENAME_ATTEMPTS
    )))
}

/// Parses [`seedship_api::Spans`] that must lie inside a file of `size` bytes.
fn parse_ranges(text: &str, size: u64) -> Result<Vec<(u64, u64)>, ApiError> {
    let bad = |why: &dyn std::fmt::Display| ApiError::invalid_request(format!("ranges {text:?}: {why}"));
    let spans: seedship_api::Spans = text.parse().map_err(|e: SpansError| bad(&e))?;
    if spans.end() > size {
        return Err(bad(&format_args!("the spans end past the file's {size} bytes")));
    }
    Ok(spans.0)
}

/// Whether a repair of `blob` with `ranges` fixes `problem`.
fn fixes(problem: &Problem, blob: &str, ranges: &[(u64, u64)]) -> bool {
    match problem {
        Problem::Blob { blob: b, .. } => b == blob,
        Problem::Range {
            blob: b,
            offset,
            length,
            ..
        } => {
            b == blob
                && ranges
                    .iter()
                    .any(|&(o, l)| o <= *offset && offset.saturating_add(*length) <= o + l)
        }
        Problem::Drive { .. } => false,
    }
}

/// Owner or operator: replaces the named ranges of the file held back as `blob` with the body
/// (the ranges' bytes, in order), writes the blob if the whole file then hashes to the
/// manifest's BLAKE3, and records the repair of every problem of the file (on its drive) those
/// ranges cover. A file held back by rename or no-overwrite is written only if its name is
/// still free (create-if-absent), never over a blob placed since.
async fn repair(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name, blob)): Path<(String, String, String)>,
    Query(query): Query<RepairQuery>,
    body: Body,
) -> Result<Json<JobDetail>, ApiError> {
    let actor = actor_for(&principal, &account)?;
    let (container, job, job_id, account_id) = destination_and_id(&state, &account, &name).await?;
    let (data_key, record_key) = damaged_keys(&job_id, &blob)?;
    let record = read_record(&state, &record_key, &blob)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {name} holds no damaged file {blob} to repair")))?;
    let requested = record.requested.clone().unwrap_or_else(|| blob.clone());
    let ranges = parse_ranges(&query.ranges, record.size)?;
    // The server holds no byte of a hole: each must lie inside one repaired range (ranges do
    // not overlap, so inside exactly one).
    let holes_inside = |offset: u64, length: u64| -> u64 {
        record
            .holes
            .iter()
            .filter(|&&(h, l)| offset <= h && h + l <= offset + length)
            .map(|&(_, l)| l)
            .sum()
    };
    if let Some(&(h, l)) = record
        .holes
        .iter()
        .find(|&&(h, l)| !ranges.iter().any(|&(o, n)| o <= h && h + l <= o + n))
    {
        return Err(ApiError::invalid_request(format!(
            "the repair must send the span {h}:{l} of {blob}, which no drive received"
        )));
    }
    let expected = parse_blake3(&record.blake3)?;
    check_writable(&job, &record.blob)?;
    let target = checked_key(format!("{container}/{}", record.blob))?;
    // overwrite writes the blob in place; rename and no-overwrite compose it aside, then move
    // it to the name only if still free
    let create_only = !matches!(record.disposition, None | Some(Disposition::Overwrite));
    let written = if create_only {
        checked_key(crate::staging::staging_key(&job_id))?
    } else {
        target.clone()
    };
    // The repaired blob is reserved whole before a byte is written; the held-back data it
    // replaces is given back once deleted.
    let mut quota = Reservation::new(&state.db, &account_id);
    quota.cover(record.size).await?;
    let replaced = if create_only {
        0
    } else {
        overwrite_outcome(&state, &target).await?.1
    };
    let damaged = state.store.get(&data_key, None).await?;
    let held_back = damaged.size;
    let damaged = damaged.stream;
    let mut old = Spans::new(
        damaged.map(|c| c.map_err(ApiError::from)).boxed(),
        "the held-back file",
    );
    let mut new = Spans::new(body_stream(body), "the repair body");
    let mut writer = state.store.writer(&written).await?;
    let mut hasher = blake3::Hasher::new();
    let composed = async {
        let mut at = 0;
        for &(offset, length) in &ranges {
            old.forward(offset - at, Some((&mut *writer, &mut hasher))).await?;
            old.forward(length - holes_inside(offset, length), None).await?;
            new.forward(length, Some((&mut *writer, &mut hasher))).await?;
            at = offset + length;
        }
        old.forward(record.size - at, Some((&mut *writer, &mut hasher))).await?;
        if !new.at_end().await? {
            return Err(ApiError::invalid_request("the repair body is longer than its ranges"));
        }
        if hasher.finalize() != expected {
            return Err(digest_mismatch(&format!(
                "{blob} repaired with these ranges does not match the BLAKE3 of the drive manifest; nothing written"
            )));
        }
        Ok(())
    }
    .await;
    if let Err(err) = composed {
        if let Err(abort) = writer.abort().await {
            tracing::warn!("aborting repaired blob {written}: {abort}");
        }
        return Err(err);
    }
    quota.committing(record.size);
    if let Err(err) = writer.finish().await {
        quota.keep(0).await;
        return Err(err.into());
    }
    if create_only {
        let moved = match state.store.rename_if_absent(&written, &target).await {
            Err(seedship_store::Error::AlreadyExists { .. }) => Err(ApiError::already_exists(format!(
                "blob {} was placed by another upload since {requested} was held back under its name; nothing written",
                record.blob
            ))),
            moved => moved.map_err(ApiError::from),
        };
        if let Err(err) = moved {
            if let Err(removed) = state.store.delete(&written).await {
                tracing::warn!("removing staged repaired blob {written}: {removed}");
            }
            quota.keep(0).await;
            return Err(err);
        }
    }
    let _writing = state.job_writes.lock().await;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let (loaded, mut job) = load_or_404(&mut tx, &account, &name).await?;
    let mut repaired = Vec::new();
    let of_drive = |id: &str| record.drive.as_deref().is_none_or(|d| d == id);
    for drive in job.drives().iter().filter(|d| of_drive(&d.drive_id)) {
        let fixed: Vec<Problem> = drive
            .transfer
            .iter()
            .flat_map(|t| &t.problems)
            .filter(|p| fixes(p, &requested, &ranges))
            .cloned()
            .collect();
        if !fixed.is_empty() {
            repaired.push((drive.drive_id.clone(), fixed));
        }
    }
    for (drive_id, fixed) in &repaired {
        job.record_repair(drive_id, fixed, &actor, now)?;
    }
    save(&mut tx, &loaded, &job, &state).await?;
    tx.commit().await?;
    quota.keep(record.size).await;
    crate::quota::release(&state.db, &account_id, replaced).await;
    for key in [&data_key, &record_key] {
        match state.store.delete(key).await {
            Ok(()) if *key == data_key => crate::quota::release(&state.db, &account_id, held_back).await,
            Ok(()) => {}
            Err(err) => tracing::warn!("removing repaired damaged file {key}: {err}"),
        }
    }
    tracing::info!(%account, job = %name, %blob, %requested, ranges = ranges.len(), "blob repaired");
    Ok(Json(detail(&state, job, None)))
}
