//! What an owner deletes once it is no longer needed: a job's imported blobs (after the vault
//! adopted them), and vaults, containers and storage accounts that are empty. The rules are in
//! `docs/design.md`, "Deleting what is no longer needed".
//!
//! Deletions go page by page ([`PAGE`] keys listed, deleted, listed again), so memory stays
//! bounded whatever a container holds.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::delete;
use futures::{StreamExt, TryStreamExt};
use seedship_api::{ErrorCode, ImportedDeleted};

use crate::auth::Principal;
use crate::db::Deleted;
use crate::error::ApiError;
use crate::jobs::{actor_for, load_or_404, open_jobs, save};
use crate::seeds::{Folder, in_use};
use crate::state::AppState;

/// Keys listed and deleted at a time.
const PAGE: usize = 1000;
/// Deletes in flight at once.
const CONCURRENCY: usize = 16;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/storage-accounts/{storage}",
            delete(delete_storage_account),
        )
        .route(
            "/api/v1/storage-accounts/{storage}/containers/{container}",
            delete(delete_container),
        )
        .route("/api/v1/vaults/{vault}", delete(delete_vault))
}

fn not_empty(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, ErrorCode::NotEmpty, message)
}

/// The account owner's id and name, or 403.
fn owner(principal: &Principal) -> Result<(&str, &str), ApiError> {
    match principal {
        Principal::Account {
            account_id,
            account_name,
        } => Ok((account_id, account_name)),
        _ => Err(ApiError::forbidden("this needs account owner credentials")),
    }
}

/// Deletes every object under `root` (whole path segments), a page at a time; answers the
/// objects and bytes deleted, and the error that stopped it, if one did (what was deleted
/// before it is counted).
async fn delete_under(state: &AppState, root: &str) -> (u64, u64, Result<(), ApiError>) {
    let (mut objects, mut bytes) = (0u64, 0u64);
    loop {
        let page: Vec<_> = match state.store.list(root).take(PAGE).try_collect().await {
            Ok(page) => page,
            Err(err) => return (objects, bytes, Err(err.into())),
        };
        if page.is_empty() {
            return (objects, bytes, Ok(()));
        }
        let mut deletes = futures::stream::iter(page)
            .map(|object| async move { state.store.delete(&object.key).await.map(|()| object.size) })
            .buffer_unordered(CONCURRENCY);
        while let Some(deleted) = deletes.next().await {
            match deleted {
                Ok(size) => {
                    objects += 1;
                    bytes += size;
                }
                Err(err) => return (objects, bytes, Err(err.into())),
            }
        }
    }
}

/// `DELETE /api/v1/jobs/{account}/{name}/blobs` (the job's owner): deletes every blob under the
/// job's destination prefix once the job has ended and no seed of this server reads that
/// folder; records `imported_deleted` (blobs, bytes) in the custody log, also when a failure
/// stopped it part-way (then the error is answered; running it again deletes the rest). The
/// job's copy and error logs (in the database and under `waimportexport/`) and its held-back
/// files are not under the prefix and stay.
pub(crate) async fn delete_imported(
    State(state): State<AppState>,
    principal: Principal,
    Path((account, name)): Path<(String, String)>,
) -> Result<Json<ImportedDeleted>, ApiError> {
    let actor = actor_for(&principal, &account)?;
    let (account_id, _) = owner(&principal)?;
    let job = {
        let mut tx = state.db.begin().await?;
        load_or_404(&mut tx, &account, &name).await?.1
    };
    // Before the job ended, its blobs are still in use (a transfer or a repair writes them).
    let folder = match job.check_delete_imported(&actor) {
        Ok(folder) => folder.to_owned(),
        Err(err @ seedship_jobs::Error::NotInThisState { .. }) => {
            return Err(in_use(err.to_string()).with_rule(err.code()));
        }
        Err(err) => return Err(err.into()),
    };
    let destination = job.destination();
    let container_id = state
        .db
        .container_id(account_id, &destination.storage_account, &destination.container)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "container {}/{} of job {name} not found",
                destination.storage_account, destination.container
            ))
        })?;
    let _deleting = state.seeds.begin_delete(Folder {
        account: account.clone(),
        storage_account: destination.storage_account.clone(),
        container: destination.container.clone(),
        folder: folder.clone(),
    })?;
    let root = format!("containers/{container_id}/{folder}");
    seedship_store::validate_key(&root)?;
    let (blobs, bytes, outcome) = delete_under(&state, &root).await;
    crate::quota::release(&state.db, account_id, bytes).await;
    {
        let _writing = state.job_writes.lock().await;
        let mut tx = state.db.begin().await?;
        let (loaded, mut job) = load_or_404(&mut tx, &account, &name).await?;
        job.record_imported_deleted(blobs, bytes, &actor, state.clock.now())?;
        save(&mut tx, &loaded, &job, &state).await?;
        tx.commit().await?;
    }
    tracing::info!(%account, job = %name, %folder, blobs, bytes, "imported blobs deleted");
    outcome?;
    Ok(Json(ImportedDeleted {
        prefix: folder,
        blobs,
        bytes,
    }))
}

/// `DELETE /api/v1/storage-accounts/{storage}`: only a storage account without containers.
async fn delete_storage_account(
    State(state): State<AppState>,
    principal: Principal,
    Path(storage): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (account_id, account) = owner(&principal)?;
    match state.db.delete_storage_account(account_id, &storage).await? {
        Deleted::Done => {
            tracing::info!(%account, %storage, "storage account deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        Deleted::NotFound => Err(ApiError::not_found(format!(
            "storage account {storage} not found"
        ))),
        Deleted::NotEmpty(containers) => Err(not_empty(format!(
            "storage account {storage} still has {} container(s) ({}): delete them first",
            containers.len(),
            containers.join(", ")
        ))),
    }
}

/// `DELETE /api/v1/storage-accounts/{storage}/containers/{container}`: only a container that
/// holds no blob but the jobs' copy and error logs (`waimportexport/`, which the server keeps
/// in its database too, and which go with it) and that no job which has not ended names as
/// its destination.
async fn delete_container(
    State(state): State<AppState>,
    principal: Principal,
    Path((storage, container)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (account_id, account) = owner(&principal)?;
    let id = state
        .db
        .container_id(account_id, &storage, &container)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("container {storage}/{container} not found")))?;
    let jobs = open_jobs(&state, account).await?;
    if let Some(job) = jobs.iter().find(|job| {
        let destination = job.destination();
        destination.storage_account == storage && destination.container == container
    }) {
        return Err(in_use(format!(
            "job {} ({}) imports into container {storage}/{container}: it can be deleted once the job has ended",
            job.name().as_str(),
            job.state()
        )));
    }
    let root = format!("containers/{id}");
    // The jobs' copy and error logs do not count: the server keeps each in its database.
    let logs = format!("{root}/{}/", seedship_jobs::LOG_FOLDER);
    let mut blobs = state.store.list(&root);
    while let Some(blob) = blobs.next().await.transpose()? {
        if !blob.key.starts_with(&logs) {
            let name = blob.key.strip_prefix(&format!("{root}/")).unwrap_or(&blob.key);
            return Err(not_empty(format!(
                "container {storage}/{container} holds blobs (for example {name}): delete them \
                 first (a job's imported blobs: `seedship job delete-imported`)"
            )));
        }
    }
    drop(blobs);
    state.db.delete_container(&id).await?;
    let (logs, bytes, outcome) = delete_under(&state, &root).await;
    crate::quota::release(&state.db, account_id, bytes).await;
    tracing::info!(%account, %storage, %container, logs, "container deleted");
    if let Err(err) = outcome {
        tracing::warn!(%account, %storage, %container, "deleting the logs of deleted container: {err}");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/vaults/{vault}`: only a vault whose repository holds no snapshot and no
/// pack, and that no seed of this server is filling. Its registration and agents go with it
/// (their secrets are refused from then on); then its remaining objects (config, keys, index,
/// locks) are deleted.
async fn delete_vault(
    State(state): State<AppState>,
    principal: Principal,
    Path(vault): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (account_id, account) = owner(&principal)?;
    let row = state
        .db
        .vault(account_id, &vault)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("vault {vault} not found")))?;
    if state.seeds.seeding(&row.id) {
        return Err(in_use(format!(
            "vault {vault} is being seeded: it can be deleted once the seed has finished"
        )));
    }
    for (kind, what) in [("snapshots", "snapshots"), ("data", "packs")] {
        if state
            .store
            .list(&format!("vaults/{}/{kind}", row.id))
            .next()
            .await
            .transpose()?
            .is_some()
        {
            return Err(not_empty(format!(
                "vault {vault} holds {what}: forget and prune its snapshots first (`restic forget --prune`)"
            )));
        }
    }
    state.db.delete_vault(&row.id).await?;
    let (objects, bytes, outcome) = delete_under(&state, &format!("vaults/{}", row.id)).await;
    crate::quota::release(&state.db, account_id, bytes).await;
    tracing::info!(%account, %vault, objects, bytes, "vault deleted");
    if let Err(err) = outcome {
        // The vault is gone; what is left of its objects no request can reach.
        tracing::warn!(%account, %vault, "deleting the objects of deleted vault: {err}");
    }
    Ok(StatusCode::NO_CONTENT)
}
