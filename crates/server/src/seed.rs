//! Vault seeding: adopting a restic repository imported into a container as a vault's
//! repository, by server-side copies inside the object store (no bytes from the client).
//!
//! The repository is adopted unchanged (config, keys, chunker parameters, pack and blob ids),
//! so the agent that wrote it to its staging directory continues incrementally against the
//! vault. Objects are copied packs first, then index, keys and snapshots, and `config` last:
//! a vault is only a repository once every object it references is there, and a seed killed
//! half-way is resumed by running it again (objects already in the vault with the right size
//! are skipped; copies are atomic, so a present object is complete).
//!
//! A seed runs as a task of the server, not of the request that started it: a request waits
//! at most [`MAX_WAIT`] for it and otherwise answers `202` with its progress, and asking again
//! (the same source) joins the running seed. A seed of terabytes thus outlives any client
//! timeout or dropped connection, and the client shows its progress.
//!
//! Verification on the server, which holds no repository key: every content-addressed source
//! object is read and must hash (SHA-256) to its name before it is copied, and every copy must
//! have the source's size. Decrypting the index and checking that every referenced pack is
//! present is left to the agent (`seedship backup` runs a repository check after seeding).

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use seedship_api::{ErrorCode, SeedQuery, SeedReport, SeedRequest, WebhookEventKind};
use seedship_jobs::{Job, JobState};

use crate::auth::Principal;
use crate::db::{Db, SeedRow, VaultRow};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::quota::Reservation;
use crate::seeds::{SeedStatus, conflict};
use crate::state::AppState;
use crate::webhooks;

/// The route of vault seeding.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/vaults/{vault}/seed", post(seed_vault))
}

/// Object kinds in copy order; `config` follows them, `locks` are never copied.
const ORDER: [&str; 4] = ["data", "index", "keys", "snapshots"];
/// Copies in flight at once.
const CONCURRENCY: usize = 8;

/// The longest a seed request waits for the seed before it answers with its progress (below
/// the 30 s a client commonly allows a request).
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// The vault `name` and its account's name if `principal` may seed it (and read how it was
/// seeded): its owner, or its own agent.
pub(crate) async fn seedable_vault(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> Result<(VaultRow, String), ApiError> {
    let forbidden = || ApiError::forbidden(format!("no access to vault {name}"));
    match principal {
        Principal::Agent {
            vault_id,
            account_name,
        } => {
            let row = state.db.vault_by_id(vault_id).await?.ok_or_else(forbidden)?;
            if row.name == name {
                Ok((row, account_name.clone()))
            } else {
                Err(forbidden())
            }
        }
        Principal::Account {
            account_id,
            account_name,
        } => state
            .db
            .vault(account_id, name)
            .await?
            .map(|row| (row, account_name.clone()))
            .ok_or_else(|| ApiError::not_found(format!("vault {name} not found"))),
        _ => Err(forbidden()),
    }
}

/// Checks that `source` is what a Completed import job of `account` wrote: its destination is
/// that container and its prefix holds the requested one; returns that job's name (the one
/// with the longest such prefix). Without this, an agent (which may seed its own vault) could
/// adopt any container of the account into its vault and read it.
async fn check_imported(state: &AppState, account: &str, source: &SeedRequest) -> Result<String, ApiError> {
    let wanted = source.prefix.trim_matches('/');
    let imported_there = |job: &Job| {
        let destination = job.destination();
        let folder = destination.folder();
        destination.storage_account == source.storage_account
            && destination.container == source.container
            && (folder.is_empty() || wanted == folder || wanted.starts_with(&format!("{folder}/")))
    };
    let completed = crate::jobs::jobs_in_state(state, account, JobState::Completed).await?;
    if let Some(job) = completed
        .iter()
        .filter(|job| imported_there(job))
        .max_by_key(|job| job.destination().folder().len())
    {
        return Ok(job.name().to_string());
    }
    Err(ApiError::forbidden(format!(
        "no Completed import job of account {account} wrote {}/{} folder {wanted:?}: a vault is seeded only from a finished import",
        source.storage_account, source.container
    )))
}

/// An object of the source repository: its path below the repository root and size.
struct Source {
    relative: String,
    size: u64,
}

/// Whether `relative` (`<kind>/<id>` or `data/<xx>/<id>`) is a restic object of `kind` with a
/// well-formed name; returns the id.
fn object_id<'a>(kind: &str, relative: &'a str) -> Option<&'a str> {
    let rest = relative.strip_prefix(kind)?.strip_prefix('/')?;
    let id = match kind {
        "data" => {
            let (dir, id) = rest.split_once('/')?;
            (dir.len() == 2 && id.starts_with(dir)).then_some(id)?
        }
        _ => rest,
    };
    let hex = id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    hex.then_some(id)
}

/// SHA-256 of a stored object, as hex.
async fn digest(state: &AppState, key: &str) -> Result<String, ApiError> {
    let mut read = state.store.get(key, None).await?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = read.stream.next().await {
        hasher.update(&chunk?);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// `POST /api/v1/vaults/<vault>/seed`: adopts the repository at `prefix` in a container of the
/// vault's account. Idempotent: a second call on a seeded vault copies nothing. Answers `200`
/// with the report once the seed is done, `202` with its progress while it runs.
async fn seed_vault(
    State(state): State<AppState>,
    principal: Principal,
    Path(vault): Path<String>,
    Query(query): Query<SeedQuery>,
    JsonBody(request): JsonBody<SeedRequest>,
) -> Result<Response, ApiError> {
    let (row, account) = seedable_vault(&state, &principal, &vault).await?;
    let job = check_imported(&state, &account, &request).await?;
    let mut status = state.seeds.join(&account, &row.id, &vault, &request, |sender| {
        let state = state.clone();
        let (row, request, account) = (row.clone(), request.clone(), account.clone());
        tokio::spawn(async move {
            let mut outcome = seed(&state, &row, &request, &sender).await;
            if outcome.is_ok() {
                let recorded = SeedRow {
                    job,
                    storage_account: request.storage_account.clone(),
                    container: request.container.clone(),
                    prefix: request.prefix.trim_matches('/').to_owned(),
                    repository_id: request.repository_id.clone(),
                    seeded_at: state.clock.now().unix_timestamp(),
                };
                if let Err(err) = record(&state, &row, &account, recorded).await {
                    outcome = Err(err);
                }
            }
            sender.send_replace(SeedStatus::Done(outcome));
        });
    })?;
    let wait = query
        .wait
        .map_or(MAX_WAIT, |secs| Duration::from_secs(secs).min(MAX_WAIT));
    // Only the wait may end early; the seed goes on either way.
    let _ = tokio::time::timeout(wait, status.wait_for(|s| matches!(s, SeedStatus::Done(_)))).await;
    let current = status.borrow().clone();
    match current {
        SeedStatus::Running(progress) => Ok((StatusCode::ACCEPTED, Json(progress)).into_response()),
        SeedStatus::Done(outcome) => {
            state.seeds.collect(&row.id, &status);
            outcome.map(|report| Json(report).into_response())
        }
    }
}

/// Records the completed seed of vault `row` and notifies `account`'s webhooks, in one
/// transaction.
async fn record(state: &AppState, row: &VaultRow, account: &str, recorded: SeedRow) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    Db::record_seed(&mut tx, &row.id, &recorded).await?;
    let kind = WebhookEventKind::VaultSeeded {
        vault: row.name.clone(),
        job: recorded.job,
        storage_account: recorded.storage_account,
        container: recorded.container,
        prefix: recorded.prefix,
    };
    webhooks::enqueue(&mut tx, state, account, None, kind).await?;
    tx.commit().await?;
    Ok(())
}

/// The seed itself, reporting its progress to `progress`.
async fn seed(
    state: &AppState,
    row: &VaultRow,
    request: &SeedRequest,
    progress: &watch::Sender<SeedStatus>,
) -> Result<SeedReport, ApiError> {
    let vault = &row.name;
    let container_id = state
        .db
        .container_of_vault_account(&row.id, &request.storage_account, &request.container)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "container {}/{} not found",
                request.storage_account, request.container
            ))
        })?;
    let prefix = request.prefix.trim_matches('/');
    let root = if prefix.is_empty() {
        format!("containers/{container_id}")
    } else {
        format!("containers/{container_id}/{prefix}")
    };
    seedship_store::validate_key(&root).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let vault_root = format!("vaults/{}", row.id);

    let oversized = |what: String| {
        move |size: u64| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::NotARepository,
                format!(
                    "{what} is {size} bytes, more than a restic repository's config may have ({} bytes)",
                    crate::vault::MAX_CONFIG
                ),
            )
        }
    };
    let source_config = crate::vault::read_bounded(
        state,
        &format!("{root}/config"),
        crate::vault::MAX_CONFIG,
        oversized(format!(
            "the config at {}/{}/{prefix}",
            request.storage_account, request.container
        )),
    )
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NotARepository,
            format!(
                "no restic repository at {}/{}/{prefix}: config missing",
                request.storage_account, request.container
            ),
        )
    })?;
    let vault_config = crate::vault::read_bounded(
        state,
        &format!("{vault_root}/config"),
        crate::vault::MAX_CONFIG,
        oversized(format!("the config of vault {vault}")),
    )
    .await?;
    if vault_config
        .as_ref()
        .is_some_and(|config| *config != source_config)
    {
        return Err(conflict(format!(
            "vault {vault} already holds a different repository"
        )));
    }

    let mut sources: Vec<Source> = Vec::new();
    let listed: Vec<_> = state.store.list(&root).try_collect().await?;
    for object in listed {
        let relative = object.key[root.len() + 1..].to_owned();
        if ORDER.iter().any(|kind| object_id(kind, &relative).is_some()) {
            sources.push(Source {
                relative,
                size: object.size,
            });
        }
    }
    if !sources.iter().any(|s| s.relative.starts_with("keys/")) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NotARepository,
            format!("repository at {root} has no keys"),
        ));
    }
    let existing: std::collections::HashMap<String, u64> = state
        .store
        .list(&vault_root)
        .map_ok(|object| (object.key[vault_root.len() + 1..].to_owned(), object.size))
        .try_collect()
        .await?;
    // A vault without config may hold a partial seed of this repository, nothing else.
    let source_names: std::collections::HashSet<&str> = sources.iter().map(|s| s.relative.as_str()).collect();
    if let Some(foreign) = existing
        .keys()
        .find(|k| !k.starts_with("locks/") && *k != "config" && !source_names.contains(k.as_str()))
        .filter(|_| vault_config.is_none())
    {
        return Err(conflict(format!(
            "vault {vault} holds objects of another repository ({foreign})"
        )));
    }

    progress.send_modify(|status| {
        if let SeedStatus::Running(p) = status {
            p.objects = sources.len() as u64 + 1;
            p.bytes = source_config.len() as u64 + sources.iter().map(|s| s.size).sum::<u64>();
        }
    });
    let advance = |bytes: u64| {
        progress.send_modify(|status| {
            if let SeedStatus::Running(p) = status {
                p.objects_done += 1;
                p.bytes_done += bytes;
            }
        });
    };
    let mut report = SeedReport {
        objects: sources.len() as u64 + 1,
        bytes: source_config.len() as u64 + sources.iter().map(|s| s.size).sum::<u64>(),
        snapshots: sources
            .iter()
            .filter(|s| s.relative.starts_with("snapshots/"))
            .count() as u64,
        ..SeedReport::default()
    };
    for kind in ORDER {
        let mut copies = Vec::new();
        for source in &sources {
            if object_id(kind, &source.relative).is_some() {
                let (root, vault_root, existing) = (&root, &vault_root, &existing);
                copies.push(async move {
                    let to = (row.account_id.as_str(), vault_root.as_str());
                    let copied = copy_verified(state, root, to, kind, source, existing).await?;
                    advance(source.size);
                    Ok::<_, ApiError>(copied)
                });
            }
        }
        let outcomes: Vec<bool> = futures::stream::iter(copies)
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let copied = outcomes.iter().filter(|copied| **copied).count() as u64;
        report.copied += copied;
        report.skipped += outcomes.len() as u64 - copied;
    }
    if vault_config.is_none() {
        let size = source_config.len() as u64;
        state
            .store
            .put(
                &format!("{vault_root}/config"),
                source_config.into(),
                seedship_store::PutMode::Create,
            )
            .await?;
        // a few hundred bytes, counted but not refused: every object it completes is there
        Reservation::forced(&state.db, &row.account_id).keep(size).await;
        report.copied += 1;
    } else {
        report.skipped += 1;
    }
    tracing::info!(
        vault = %row.id, objects = report.objects, copied = report.copied,
        skipped = report.skipped, bytes = report.bytes, "vault seeded"
    );
    Ok(report)
}

/// Copies one object into the vault (`(account id, store prefix)`) unless it is there
/// already; returns whether it copied. Its bytes count against the account's quota (a seed
/// doubles what the import stored until `job delete-imported`): over it, 413 `QuotaExceeded`
/// and nothing copied.
async fn copy_verified(
    state: &AppState,
    root: &str,
    (account_id, vault_root): (&str, &str),
    kind: &str,
    source: &Source,
    existing: &std::collections::HashMap<String, u64>,
) -> Result<bool, ApiError> {
    let from = format!("{root}/{}", source.relative);
    let to = format!("{vault_root}/{}", source.relative);
    match existing.get(&source.relative) {
        Some(&size) if size == source.size => return Ok(false),
        Some(_) => {
            return Err(conflict(format!(
                "vault object {} differs in size from the imported one",
                source.relative
            )));
        }
        None => {}
    }
    let id = object_id(kind, &source.relative).unwrap_or_default();
    let actual = digest(state, &from).await?;
    if actual != id {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::DigestMismatch,
            format!(
                "imported object {} is damaged: content hashes to {actual}",
                source.relative
            ),
        ));
    }
    let mut quota = Reservation::new(&state.db, account_id);
    quota.cover(source.size).await?;
    state.store.copy(&from, &to).await?;
    let copied = state.store.head(&to).await?;
    quota.keep(copied.size).await;
    if copied.size != source.size {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::StorageFailed,
            format!(
                "copy of {} has {} bytes, not {}",
                source.relative, copied.size, source.size
            ),
        ));
    }
    Ok(true)
}
