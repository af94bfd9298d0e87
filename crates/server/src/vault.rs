//! Vaults: restic's REST backend protocol, version 2, at `/vaults/<account>/<vault>/`.
//!
//! Objects live in the store under `vaults/<vault id>/` with restic's own repository layout
//! (`config`, `keys/<id>`, `locks/<id>`, `snapshots/<id>`, `index/<id>`, `data/<id[..2]>/<id>`),
//! so a repository imported into a container can become a vault by a server-side copy.
//!
//! Rules (as rest-server): objects are never overwritten (403); every object but `config` must
//! hash (SHA-256) to its name or the upload is refused (400) and nothing is stored; in an
//! append-only vault only locks can be deleted. Uploads stream to the store (at most
//! [`SMALL_OBJECT`] bytes plus the store's part buffers in memory), reads stream, with ranges.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use seedship_store::{ByteRange, ObjectWriter, PutMode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::db::VaultRow;
use crate::error::ApiError;
use crate::quota::Reservation;
use crate::state::AppState;
use seedship_api::ErrorCode;

/// Uploads up to this size are buffered and stored with one create-if-absent write; larger
/// ones (packs) stream into a multipart upload.
const SMALL_OBJECT: usize = 4 * 1024 * 1024;
/// The largest `config` a vault takes, and a seed reads (restic's is a few hundred bytes).
pub(crate) const MAX_CONFIG: u64 = 64 * 1024;
/// Media type of version 2 listings.
const REST_V2: &str = "application/vnd.x.restic.rest.v2";
/// Media type of version 1 listings.
const REST_V1: &str = "application/vnd.x.restic.rest.v1";

/// Routes of the vault protocol.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/vaults/{account}/{vault}/", post(create_repository))
        .route(
            "/vaults/{account}/{vault}/config",
            get(get_config).head(head_config).post(post_config),
        )
        .route("/vaults/{account}/{vault}/{kind}/", get(list))
        .route(
            "/vaults/{account}/{vault}/{kind}/{name}",
            get(get_object)
                .head(head_object)
                .post(post_object)
                .delete(delete_object),
        )
}

/// The object types of a restic repository besides `config`.
const KINDS: [&str; 5] = ["data", "keys", "locks", "snapshots", "index"];

/// The vault the URL names, if `principal` may open it.
async fn open_vault(
    state: &AppState,
    principal: &Principal,
    account: &str,
    vault: &str,
) -> Result<VaultRow, ApiError> {
    let forbidden = || ApiError::forbidden(format!("no access to vault {account}/{vault}"));
    match principal {
        Principal::Agent {
            account_name,
            vault_id,
        } => {
            if account_name != account {
                return Err(forbidden());
            }
            let row = state.db.vault_by_id(vault_id).await?.ok_or_else(forbidden)?;
            if row.name == vault {
                Ok(row)
            } else {
                Err(forbidden())
            }
        }
        Principal::Account {
            account_id,
            account_name,
        } => {
            if account_name != account {
                return Err(forbidden());
            }
            state
                .db
                .vault(account_id, vault)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("vault {account}/{vault} not found")))
        }
        _ => Err(forbidden()),
    }
}

/// The store key of object `name` of type `kind`, after checking both.
fn object_key(vault: &VaultRow, kind: &str, name: &str) -> Result<String, ApiError> {
    if !KINDS.contains(&kind) {
        return Err(ApiError::not_found(format!("no object type {kind:?}")));
    }
    let is_id = name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !is_id {
        return Err(ApiError::invalid_request(format!(
            "object name {name:?} is not a 64-digit hex id"
        )));
    }
    Ok(if kind == "data" {
        format!("vaults/{}/data/{}/{name}", vault.id, &name[..2])
    } else {
        format!("vaults/{}/{kind}/{name}", vault.id)
    })
}

fn config_key(vault: &VaultRow) -> String {
    format!("vaults/{}/config", vault.id)
}

#[derive(Debug, Deserialize)]
struct CreateQuery {
    #[serde(default)]
    create: Option<String>,
}

/// `POST /vaults/<a>/<v>/?create=true`: the vault exists once created through the API, so this
/// only confirms access (objects need no directories).
async fn create_repository(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, vault)): Path<(String, String)>,
    Query(query): Query<CreateQuery>,
) -> Result<StatusCode, ApiError> {
    open_vault(&state, &principal, &account, &vault).await?;
    if query.create.as_deref() == Some("true") {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::invalid_request(
            "POST on a repository needs ?create=true",
        ))
    }
}

async fn head_config(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, vault)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let row = open_vault(&state, &principal, &account, &vault).await?;
    head(&state, &config_key(&row)).await
}

async fn get_config(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, vault)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let row = open_vault(&state, &principal, &account, &vault).await?;
    read(&state, &config_key(&row), &headers).await
}

async fn post_config(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, vault)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let row = open_vault(&state, &principal, &account, &vault).await?;
    let quota = Reservation::new(&state.db, &row.account_id);
    let to = Upload {
        vault: (&account, &vault),
        counted: true,
        key: &config_key(&row),
        expected_id: None,
        limit: Some(MAX_CONFIG),
        declared: declared_length(&headers),
    };
    upload(&state, to, quota, body).await
}

/// The length a request's `Content-Length` declares, if it does.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

async fn head_object(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, vault, kind, name)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let row = open_vault(&state, &principal, &account, &vault).await?;
    head(&state, &object_key(&row, &kind, &name)?).await
}

async fn get_object(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, vault, kind, name)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let row = open_vault(&state, &principal, &account, &vault).await?;
    read(&state, &object_key(&row, &kind, &name)?, &headers).await
}

async fn post_object(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, vault, kind, name)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let row = open_vault(&state, &principal, &account, &vault).await?;
    let key = object_key(&row, &kind, &name)?;
    // Locks are counted but never refused: a full account must still be checked and pruned.
    let quota = if kind == "locks" {
        Reservation::forced(&state.db, &row.account_id)
    } else {
        Reservation::new(&state.db, &row.account_id)
    };
    let to = Upload {
        vault: (&account, &vault),
        // Lock files come and go with every command: they are not repository data.
        counted: kind != "locks",
        key: &key,
        expected_id: Some(&name),
        limit: None,
        declared: declared_length(&headers),
    };
    upload(&state, to, quota, body).await
}

async fn delete_object(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, vault, kind, name)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let row = open_vault(&state, &principal, &account, &vault).await?;
    let key = object_key(&row, &kind, &name)?;
    if row.append_only && kind != "locks" {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AppendOnly,
            format!("vault {account}/{vault} is append-only: only locks can be deleted"),
        ));
    }
    let deleted = state.store.head(&key).await?;
    state.store.delete(&key).await?;
    crate::quota::release(&state.db, &row.account_id, deleted.size).await;
    Ok(StatusCode::OK)
}

/// An item of a version 2 listing.
#[derive(Debug, Serialize)]
struct Entry {
    name: String,
    size: u64,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, vault, kind)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let row = open_vault(&state, &principal, &account, &vault).await?;
    if !KINDS.contains(&kind.as_str()) {
        return Err(ApiError::not_found(format!("no object type {kind:?}")));
    }
    let objects: Vec<_> = state
        .store
        .list(&format!("vaults/{}/{kind}", row.id))
        .try_collect()
        .await?;
    let entries: Vec<Entry> = objects
        .into_iter()
        .filter_map(|object| {
            let name = object.key.rsplit('/').next()?.to_owned();
            (name.len() == 64).then_some(Entry {
                name,
                size: object.size,
            })
        })
        .collect();
    let wants_v2 = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains(REST_V2));
    let (media_type, body) = if wants_v2 {
        (REST_V2, serde_json::to_vec(&entries))
    } else {
        (
            REST_V1,
            serde_json::to_vec(&entries.iter().map(|e| &e.name).collect::<Vec<_>>()),
        )
    };
    let body = body.map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, media_type)], body).into_response())
}

async fn head(state: &AppState, key: &str) -> Result<Response, ApiError> {
    let info = state.store.head(key).await?;
    Ok((
        [
            (header::CONTENT_LENGTH, HeaderValue::from(info.size)),
            (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
        ],
        Body::empty(),
    )
        .into_response())
}

/// Parses `Range: bytes=a-b | a- | -n` (one range; restic never asks for more).
fn parse_range(headers: &HeaderMap) -> Result<Option<ByteRange>, ApiError> {
    let Some(value) = headers.get(header::RANGE) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorCode::RangeNotSatisfiable,
            "unsupported Range header",
        )
    };
    let spec = value
        .to_str()
        .map_err(|_| bad())?
        .strip_prefix("bytes=")
        .ok_or_else(bad)?;
    let (start, end) = spec.split_once('-').ok_or_else(bad)?;
    let number = |text: &str| text.trim().parse::<u64>().map_err(|_| bad());
    Ok(Some(match (start.trim().is_empty(), end.trim().is_empty()) {
        (false, true) => ByteRange::From(number(start)?),
        (false, false) => {
            let (start, end) = (number(start)?, number(end)?);
            if end < start {
                return Err(bad());
            }
            ByteRange::Bounded(start..end.saturating_add(1))
        }
        (true, false) => ByteRange::Suffix(number(end)?),
        (true, true) => return Err(bad()),
    }))
}

/// Answers the object at `key` (a part of it with a `Range` header), streamed.
pub(crate) async fn read(state: &AppState, key: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let range = parse_range(headers)?;
    let partial = range.is_some();
    let read = state.store.get(key, range).await?;
    let length = read.range.end - read.range.start;
    let mut response = Response::new(Body::from_stream(read.stream.map_err(|e| {
        tracing::error!("reading object: {}", seedship_api::error_chain(&e));
        e
    })));
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if partial {
        let content_range = format!(
            "bytes {}-{}/{}",
            read.range.start,
            read.range.end.saturating_sub(1),
            read.size
        );
        response_headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&content_range).map_err(|e| ApiError::internal(e.to_string()))?,
        );
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(response)
}

/// The object at `key`, or `None` if there is none; an object larger than `limit` is refused
/// with `too_large(size)` before any of it is read, so that no stored object is collected into
/// memory without a bound.
pub(crate) async fn read_bounded(
    state: &AppState,
    key: &str,
    limit: u64,
    too_large: impl Fn(u64) -> ApiError,
) -> Result<Option<Vec<u8>>, ApiError> {
    let mut read = match state.store.get(key, None).await {
        Ok(read) => read,
        Err(seedship_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if read.size > limit {
        return Err(too_large(read.size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(read.size).unwrap_or_default());
    while let Some(chunk) = read.stream.next().await {
        bytes.extend_from_slice(&chunk?);
        // the store's size is the object's, but a stream longer than it is not read on
        if bytes.len() as u64 > limit {
            return Err(too_large(bytes.len() as u64));
        }
    }
    Ok(Some(bytes))
}

/// Where an upload goes and what it must be.
struct Upload<'a> {
    /// `(account, vault)`, for the per-vault metrics.
    vault: (&'a str, &'a str),
    /// Whether its bytes count in the bytes-received metrics (lock files do not).
    counted: bool,
    key: &'a str,
    /// The SHA-256 (hex) the body must hash to.
    expected_id: Option<&'a str>,
    /// The most bytes it may have.
    limit: Option<u64>,
    /// Its `Content-Length`, if declared: reserved against the quota before a byte is read.
    declared: Option<u64>,
}

/// Stores the request body under `key`, checking that it hashes to `expected_id` (if given)
/// and, with `limit`, refusing it (413, nothing stored) once it is longer. Its bytes are
/// reserved against the account's quota (`quota`) as they arrive, before they are stored: over
/// the quota, the upload is refused (413 `QuotaExceeded`) and nothing is stored.
async fn upload(
    state: &AppState,
    to: Upload<'_>,
    mut quota: Reservation,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let Upload {
        vault: (account, vault),
        counted,
        key,
        expected_id,
        limit,
        declared,
    } = to;
    let too_large = |limit| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!("the body is longer than the {limit} bytes this object may have"),
        )
    };
    let exists = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ObjectExists,
            "object exists; objects are never overwritten",
        )
    };
    match state.store.head(key).await {
        Ok(_) => return Err(exists()),
        Err(seedship_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(limit) = limit.filter(|limit| declared.is_some_and(|declared| declared > *limit)) {
        return Err(too_large(limit));
    }
    let mut stream = body.into_data_stream();
    let mut hasher = Sha256::new();
    let mut small: Vec<Bytes> = Vec::new();
    let mut buffered = 0usize;
    let mut received = 0u64;
    let mut writer: Option<Box<dyn ObjectWriter>> = None;
    let outcome: Result<(), ApiError> = async {
        if let Some(declared) = declared {
            quota.cover(declared).await?;
        }
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::invalid_request(format!("upload interrupted: {e}")))?;
            if counted {
                state
                    .metrics
                    .vault_bytes_received
                    .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            received += chunk.len() as u64;
            if let Some(limit) = limit.filter(|limit| received > *limit) {
                return Err(too_large(limit));
            }
            quota.cover(received).await?;
            hasher.update(&chunk);
            if let Some(writer) = writer.as_mut() {
                writer.write(chunk).await?;
                continue;
            }
            buffered += chunk.len();
            small.push(chunk);
            if buffered > SMALL_OBJECT {
                let mut new_writer = state.store.writer(key).await?;
                for part in small.drain(..) {
                    new_writer.write(part).await?;
                }
                writer = Some(new_writer);
            }
        }
        let digest = hex::encode(hasher.finalize_reset());
        match expected_id {
            Some(id) if id != digest => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::DigestMismatch,
                format!("content hashes to {digest}, not to the object's name {id}"),
            )),
            _ => Ok(()),
        }
    }
    .await;
    if counted {
        state.metrics.add_vault_bytes(account, vault, received);
    }
    if outcome
        .as_ref()
        .is_err_and(|e| e.code == ErrorCode::QuotaExceeded)
    {
        crate::quota::drain(stream).await;
    }
    let committed = match (outcome, writer) {
        (Ok(()), Some(writer)) => {
            quota.committing(received);
            writer.finish().await.map(|_| ()).map_err(ApiError::from)
        }
        (Ok(()), None) => {
            quota.committing(received);
            match state.store.put(key, small.concat().into(), PutMode::Create).await {
                Err(seedship_store::Error::AlreadyExists { .. }) => Err(exists()),
                other => other.map_err(ApiError::from),
            }
        }
        (Err(e), Some(writer)) => {
            if let Err(abort) = writer.abort().await {
                tracing::warn!("aborting upload of {key}: {}", seedship_api::error_chain(&abort));
            }
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    if let Err(e) = committed {
        quota.keep(0).await;
        return Err(e);
    }
    quota.keep(received).await;
    state
        .metrics
        .vault_objects_stored
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::parse_range;
    use axum::http::{HeaderMap, HeaderValue, header};
    use seedship_store::ByteRange;

    fn range(value: &str) -> Option<ByteRange> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).expect("header"));
        parse_range(&headers).ok().flatten()
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-99"), Some(ByteRange::Bounded(0..100)));
        assert_eq!(range("bytes=10-"), Some(ByteRange::From(10)));
        assert_eq!(range("bytes=-5"), Some(ByteRange::Suffix(5)));
        for bad in ["bytes=5-1", "bytes=-", "items=0-1", "bytes=a-b"] {
            assert_eq!(range(bad), None, "{bad}");
        }
    }
}
