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
use seedship_api::{BLAKE3_HEADER, BatchPlaced, BlobList, BlobListEntry, BlobPlaced, ErrorCode, JobDetail};
use seedship_jobs::{BlobNameError, Disposition, DispositionOutcome, Job, Problem};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::jobs::{actor_for, detail, internal, load_or_404, save};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/jobs/{account}/{name}/blobs",
            axum::routing::get(list_blobs).post(put_blob_batch),
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

/// Query of a blob PUT: the BLAKE3 the bytes must hash to, else nothing is written; the
/// disposition when the name is taken (none: overwrite).
#[derive(Debug, Deserialize)]
struct PutQuery {
    blake3: Option<String>,
    disposition: Option<Disposition>,
}

/// Query of a batch POST: the disposition of all its blobs (none: overwrite).
#[derive(Debug, Deserialize)]
struct BatchQuery {
    disposition: Option<Disposition>,
}

/// Query of a blob HEAD: `hash=blake3` asks for the blob's BLAKE3 in [`BLAKE3_HEADER`].
#[derive(Debug, Deserialize)]
struct HeadQuery {
    hash: Option<String>,
}

/// Query of a damaged-file PUT: the blob name the file was placed under, the BLAKE3 the
/// whole file must have once repaired, and the spans the body leaves out (`offset:length,...`,
/// on drives not received).
#[derive(Debug, Deserialize)]
struct DamagedQuery {
    blob: String,
    blake3: String,
    holes: Option<String>,
}

/// Query of a repair: the ranges the body carries, `offset:length` joined by commas, in order.
#[derive(Debug, Deserialize)]
struct RepairQuery {
    ranges: String,
}

/// The largest [`DamagedRecord`] read back (it holds a blob name of at most a few KiB).
const MAX_RECORD: u64 = 64 * 1024;

/// What is kept beside a damaged file until its repair: the kept data is the file without its
/// holes, which only a repair can fill.
#[derive(Debug, Serialize, Deserialize)]
struct DamagedRecord {
    blob: String,
    blake3: String,
    size: u64,
    #[serde(default)]
    holes: Vec<(u64, u64)>,
}

/// The store key of `path` in the job's destination container: `containers/<container id>/<path>`.
async fn blob_key(state: &AppState, account: &str, name: &str, path: &str) -> Result<String, ApiError> {
    let (container, _) = destination_of(state, account, name).await?;
    checked_key(format!("{container}/{path}"))
}

/// The store key of blob `path` that the job may write: under its destination prefix, or one
/// of its own copy and error logs. The operator's client checks the manifest's names too; this
/// is the server's own line, whatever a client sends.
async fn writable_blob_key(
    state: &AppState,
    account: &str,
    name: &str,
    path: &str,
) -> Result<String, ApiError> {
    let (container, job) = destination_of(state, account, name).await?;
    check_writable(&job, path)?;
    checked_key(format!("{container}/{path}"))
}

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
    let mut tx = state.db.pool().begin().await?;
    let (_, job) = load_or_404(&mut tx, account, name).await?;
    let destination = job.destination();
    let container: Option<String> = sqlx::query_scalar(
        "SELECT c.id FROM containers c JOIN storage_accounts s ON s.id = c.storage_account_id \
         JOIN accounts a ON a.id = s.account_id WHERE a.name = $1 AND s.name = $2 AND c.name = $3",
    )
    .bind(account)
    .bind(&destination.storage_account)
    .bind(&destination.container)
    .fetch_optional(&mut *tx)
    .await?;
    let container = container.ok_or_else(|| {
        ApiError::not_found(format!(
            "container {}/{} of account {account} not found",
            destination.storage_account, destination.container
        ))
    })?;
    Ok((format!("containers/{container}"), job))
}

/// The store keys of a damaged file of a job (data, record); outside every container.
async fn damaged_keys(
    state: &AppState,
    account: &str,
    name: &str,
    blob: &str,
) -> Result<(String, String), ApiError> {
    let mut tx = state.db.pool().begin().await?;
    let (loaded, _) = load_or_404(&mut tx, account, name).await?;
    Ok((
        checked_key(format!("jobs/{}/damaged/data/{blob}", loaded.id))?,
        checked_key(format!("jobs/{}/damaged/record/{blob}", loaded.id))?,
    ))
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

/// Streams `body` into a new object at `key`; with `expected`, the object is committed only
/// if the bytes hash to it. Returns the bytes written.
async fn write_object(
    state: &AppState,
    key: &str,
    body: ByteStream,
    expected: Option<blake3::Hash>,
) -> Result<u64, ApiError> {
    let mut writer = state.store.writer(key).await?;
    let mut hasher = blake3::Hasher::new();
    let mut stream = body;
    let mut written = 0u64;
    let outcome = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            written += chunk.len() as u64;
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
        Ok(()) => Ok(writer.finish().await?),
        Err(err) => {
            if let Err(abort) = writer.abort().await {
                tracing::warn!("aborting object {key}: {abort}");
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
    Query(query): Query<PutQuery>,
    body: Body,
) -> Result<(StatusCode, Json<BlobPlaced>), ApiError> {
    operator_only(&principal)?;
    let expected = query.blake3.as_deref().map(parse_blake3).transpose()?;
    let (container, job) = destination_of(&state, &account, &name).await?;
    check_writable(&job, &path)?;
    let key = checked_key(format!("{container}/{path}"))?;
    let placed = match query.disposition.unwrap_or(Disposition::Overwrite) {
        Disposition::Overwrite => {
            let outcome = overwrite_outcome(&state, &key).await?;
            write_object(&state, &key, body_stream(body), expected).await?;
            BlobPlaced {
                blob: path,
                disposition: outcome,
            }
        }
        disposition => {
            let staged = staging_key(&state, &account, &name).await?;
            write_object(&state, &staged, body_stream(body), expected).await?;
            let placed = place(&container, &job, &path, disposition, |key| {
                let (state, staged) = (&state, &staged);
                async move { state.store.rename_if_absent(staged, &key).await }
            })
            .await;
            // moved into the container, or still staged (skipped, or an error)
            let moved = matches!(&placed, Ok(p) if p.disposition != DispositionOutcome::Skipped);
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

/// What overwriting `key` does: `Overwritten` if a blob is there, else `Created`.
async fn overwrite_outcome(state: &AppState, key: &str) -> Result<DispositionOutcome, ApiError> {
    match state.store.head(key).await {
        Ok(_) => Ok(DispositionOutcome::Overwritten),
        Err(seedship_store::Error::NotFound { .. }) => Ok(DispositionOutcome::Created),
        Err(err) => Err(err.into()),
    }
}

/// A fresh key outside every container for an upload waiting to be placed.
async fn staging_key(state: &AppState, account: &str, name: &str) -> Result<String, ApiError> {
    let mut tx = state.db.pool().begin().await?;
    let (loaded, _) = load_or_404(&mut tx, account, name).await?;
    checked_key(format!("jobs/{}/staging/{}", loaded.id, uuid::Uuid::new_v4()))
}

/// Places blob `requested` of the job by a disposition that never replaces a blob (rename,
/// no-overwrite): `create(key)` creates the object at a key if it is free (failing with
/// `AlreadyExists` if not, atomically); the requested name first, then for rename the numbered
/// names ([`seedship_jobs::numbered_name`]) up to [`seedship_jobs::MAX_RENAME_ATTEMPTS`].
async fn place<F, Fut>(
    container: &str,
    job: &Job,
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
        match create(checked_key(format!("{container}/{blob}"))?).await {
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

/// Query of a blob listing: only the blobs under `prefix` (whole path segments).
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    prefix: String,
}

/// Owner or operator: the blobs of the job's container (under `?prefix=`), so that an import
/// decides its dispositions without asking about each name.
async fn list_blobs(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
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
    Query(query): Query<BatchQuery>,
    body: Body,
) -> Result<(StatusCode, Json<BatchPlaced>), ApiError> {
    operator_only(&principal)?;
    let (container, job) = destination_of(&state, &account, &name).await?;
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
    let disposition = query.disposition.unwrap_or(Disposition::Overwrite);
    let (state, container, job) = (&state, container.as_str(), &job);
    // Concurrently; the answers in the batch's order. Two entries requesting one name are
    // both placed (create-if-absent lets one have it).
    let blobs: Vec<BlobPlaced> = futures::stream::iter(writes)
        .map(|(requested, key, data)| async move {
            if disposition == Disposition::Overwrite {
                let outcome = overwrite_outcome(state, &key).await?;
                state
                    .store
                    .put(&key, data, seedship_store::PutMode::Overwrite)
                    .await?;
                return Ok::<_, ApiError>(BlobPlaced {
                    blob: requested,
                    disposition: outcome,
                });
            }
            place(container, job, &requested, disposition, |key| {
                let data = data.clone();
                async move { state.store.put(&key, data, seedship_store::PutMode::Create).await }
            })
            .await
        })
        .buffered(BATCH_WRITES)
        .try_collect()
        .await?;
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
    Query(query): Query<HeadQuery>,
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

/// Operator: holds back a file that failed verification (bad ranges as zeros), with the
/// blob name it was placed under and the BLAKE3 it must reach, until `repair` fixes it.
async fn put_damaged(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name, requested)): Path<(String, String, String)>,
    Query(query): Query<DamagedQuery>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    operator_only(&principal)?;
    parse_blake3(&query.blake3)?;
    let holes = match &query.holes {
        Some(text) => parse_ranges(text, u64::MAX)?,
        None => Vec::new(),
    };
    writable_blob_key(&state, &account, &name, &query.blob).await?;
    let (data_key, record_key) = damaged_keys(&state, &account, &name, &requested).await?;
    let kept = write_object(&state, &data_key, body_stream(body), None).await?;
    // The file is what was sent plus its holes; every hole must lie inside it.
    let size = holes
        .iter()
        .try_fold(kept, |size, &(_, length)| size.checked_add(length))
        .filter(|&size| {
            holes
                .last()
                .is_none_or(|&(offset, length)| offset + length <= size)
        });
    let Some(size) = size else {
        if let Err(err) = state.store.delete(&data_key).await {
            tracing::warn!("removing refused damaged file {data_key}: {err}");
        }
        return Err(ApiError::invalid_request(format!(
            "holes {:?} do not fit a file of {kept} bytes sent plus its holes",
            query.holes.unwrap_or_default()
        )));
    };
    let record = DamagedRecord {
        blob: query.blob,
        blake3: query.blake3.to_ascii_lowercase(),
        size,
        holes,
    };
    let record = serde_json::to_vec(&record).map_err(internal)?;
    state
        .store
        .put(&record_key, record.into(), seedship_store::PutMode::Overwrite)
        .await?;
    Ok(StatusCode::CREATED)
}

/// Parses `offset:length,...`: ranges in increasing order, not overlapping, not empty, inside
/// a file of `size` bytes.
fn parse_ranges(text: &str, size: u64) -> Result<Vec<(u64, u64)>, ApiError> {
    let bad = |why: &str| ApiError::invalid_request(format!("ranges {text:?}: {why}"));
    let mut ranges = Vec::new();
    let mut end = 0;
    for item in text.split(',') {
        let (offset, length) = item
            .split_once(':')
            .and_then(|(o, l)| Some((o.parse::<u64>().ok()?, l.parse::<u64>().ok()?)))
            .ok_or_else(|| bad("each range is offset:length"))?;
        if length == 0 || offset < end || offset.checked_add(length).is_none_or(|e| e > size) {
            return Err(bad(
                "ranges must be non-empty, in order, not overlapping, inside the file",
            ));
        }
        end = offset + length;
        ranges.push((offset, length));
    }
    Ok(ranges)
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

/// Owner or operator: replaces the named ranges of a held-back file with the body (the ranges'
/// bytes, in order), writes the blob if the whole file then hashes to the manifest's BLAKE3,
/// and records the repair of every problem of the blob those ranges cover.
async fn repair(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name, requested)): Path<(String, String, String)>,
    Query(query): Query<RepairQuery>,
    body: Body,
) -> Result<Json<JobDetail>, ApiError> {
    let actor = actor_for(&principal, &account)?;
    let (data_key, record_key) = damaged_keys(&state, &account, &name, &requested).await?;
    let record = crate::vault::read_bounded(&state, &record_key, MAX_RECORD, |size| {
        internal(format!("the record of damaged file {requested} is {size} bytes"))
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("job {name} holds no damaged file {requested} to repair")))?;
    let record: DamagedRecord = serde_json::from_slice(&record).map_err(internal)?;
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
            "the repair must send the span {h}:{l} of {requested}, which no drive received"
        )));
    }
    let expected = parse_blake3(&record.blake3)?;
    let target = writable_blob_key(&state, &account, &name, &record.blob).await?;
    let damaged = state.store.get(&data_key, None).await?.stream;
    let mut old = Spans::new(
        damaged.map(|c| c.map_err(ApiError::from)).boxed(),
        "the held-back file",
    );
    let mut new = Spans::new(body_stream(body), "the repair body");
    let mut writer = state.store.writer(&target).await?;
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
                "{requested} repaired with these ranges does not match the BLAKE3 of the drive manifest; nothing written"
            )));
        }
        Ok(())
    }
    .await;
    if let Err(err) = composed {
        if let Err(abort) = writer.abort().await {
            tracing::warn!("aborting repaired blob {target}: {abort}");
        }
        return Err(err);
    }
    writer.finish().await?;
    let _writing = state.job_writes.lock().await;
    let now = state.clock.now();
    let mut tx = state.db.pool().begin().await?;
    let (loaded, mut job) = load_or_404(&mut tx, &account, &name).await?;
    let mut repaired = Vec::new();
    for drive in job.drives() {
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
    for key in [&data_key, &record_key] {
        if let Err(err) = state.store.delete(key).await {
            tracing::warn!("removing repaired damaged file {key}: {err}");
        }
    }
    tracing::info!(%account, job = %name, blob = %requested, ranges = ranges.len(), "blob repaired");
    Ok(Json(detail(&state, job, None)))
}
