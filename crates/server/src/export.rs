//! The server's side of export jobs: the objects of a vault as an export lists them, the
//! checks of an export job's spec against the vault (the server cannot read the repository:
//! it checks names and sizes, the owner's client computed a snapshot selection), and the
//! whole-vault export preview.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use futures::TryStreamExt;
use seedship_api::{ErrorCode, ExportPreview, ExportPreviewQuery, PreviewSource};
use seedship_jobs::{ExportObject, JobSpec, JobType, is_repository_object};
use std::collections::HashMap;

use crate::auth::Principal;
use crate::db::{Tx, VaultRow};
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/vaults/{vault}/export-preview", get(preview))
}

fn rule(status: StatusCode, rule: &str, message: String) -> ApiError {
    ApiError::new(status, ErrorCode::JobRule, message).with_rule(rule)
}

/// Every object of the vault an export copies (all but locks), sorted by name.
async fn vault_objects(state: &AppState, vault: &VaultRow) -> Result<Vec<ExportObject>, ApiError> {
    let root = format!("vaults/{}/", vault.id);
    let listed: Vec<_> = state.store.list(root.trim_end_matches('/')).try_collect().await?;
    let mut objects: Vec<ExportObject> = listed
        .into_iter()
        .filter_map(|object| {
            let name = object.key.strip_prefix(&root)?;
            is_repository_object(name).then(|| ExportObject {
                name: name.to_owned(),
                size: object.size,
            })
        })
        .collect();
    objects.sort();
    Ok(objects)
}

/// The vault `name` of the account, or the job rule `VaultNotFound`.
pub(crate) async fn export_vault(
    state: &AppState,
    account_id: &str,
    name: &str,
) -> Result<VaultRow, ApiError> {
    state.db.vault(account_id, name).await?.ok_or_else(|| {
        rule(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VaultNotFound",
            format!("export.vault: the account has no vault {name:?}"),
        )
    })
}

/// Checks an export job's spec against its vault before [`seedship_jobs::Job::create`]
/// checks the rest: the vault is the account's, the owner key is an X25519 public key file's
/// text, and every object listed exists in the vault with the size given.
/// A whole-vault export that lists nothing gets every object of the vault. Nothing to do for
/// an import job.
pub(crate) async fn prepare(state: &AppState, account_id: &str, spec: &mut JobSpec) -> Result<(), ApiError> {
    let Some(export) = spec.export.as_mut().filter(|_| spec.job_type == JobType::Export) else {
        return Ok(());
    };
    seedship_drive::parse_recipient(&export.owner_key).map_err(|err| {
        rule(
            StatusCode::BAD_REQUEST,
            "OwnerKeyInvalid",
            format!("export.owner_key is not a seedship keygen public key (.pub): {err}"),
        )
    })?;
    // the file's text without its newline: what the export writer parses again
    export.owner_key = export.owner_key.trim().to_owned();
    if export.vault.trim().is_empty() {
        // Job::create names the missing field
        return Ok(());
    }
    let vault = export_vault(state, account_id, &export.vault).await?;
    let stored = vault_objects(state, &vault).await?;
    if export.objects.is_empty() && export.is_whole_vault() {
        export.objects = stored;
        return Ok(());
    }
    let sizes: HashMap<&str, u64> = stored.iter().map(|o| (o.name.as_str(), o.size)).collect();
    for (index, object) in export.objects.iter().enumerate() {
        match sizes.get(object.name.as_str()) {
            Some(&size) if size == object.size => {}
            Some(&size) => {
                return Err(rule(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "ExportObjectSize",
                    format!(
                        "export.objects[{index}]: {} is {size} bytes in vault {}, not {}",
                        object.name, vault.name, object.size
                    ),
                ));
            }
            // A malformed name is Job::create's to name.
            None if is_repository_object(&object.name) => {
                return Err(rule(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "ExportObjectMissing",
                    format!(
                        "export.objects[{index}]: vault {} has no {}",
                        vault.name, object.name
                    ),
                ));
            }
            None => {}
        }
    }
    Ok(())
}

/// Stores the object list of export job `job_id` beside it.
pub(crate) async fn store_objects(
    tx: &mut Tx,
    job_id: &str,
    objects: &[ExportObject],
) -> Result<(), ApiError> {
    let body = serde_json::to_string(objects).map_err(|e| ApiError::internal(e.to_string()))?;
    sqlx::query("INSERT INTO export_objects (job_id, body) VALUES ($1, $2)")
        .bind(job_id)
        .bind(body)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The object list of export job `job_id` (empty for an import job).
pub(crate) async fn stored_objects(tx: &mut Tx, job_id: &str) -> Result<Vec<ExportObject>, ApiError> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM export_objects WHERE job_id = $1")
        .bind(job_id)
        .fetch_optional(&mut **tx)
        .await?;
    body.map_or(Ok(Vec::new()), |body| {
        serde_json::from_str(&body).map_err(|e| ApiError::internal(e.to_string()))
    })
}

/// `GET /api/v1/vaults/{vault}/export-preview?drive_size=N`: the whole vault's export, from
/// the sizes of its objects. A snapshot selection needs the repository password, which only
/// the owner's client has: `seedship job preview-export --snapshot ...` computes it there.
async fn preview(
    State(state): State<AppState>,
    principal: Principal,
    Path(vault): Path<String>,
    Query(query): Query<ExportPreviewQuery>,
) -> Result<Json<ExportPreview>, ApiError> {
    let Principal::Account { account_id, .. } = &principal else {
        return Err(ApiError::forbidden("only account owners preview exports"));
    };
    let row = state
        .db
        .vault(account_id, &vault)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("vault {vault} not found")))?;
    let objects = vault_objects(&state, &row).await?;
    let preview = ExportPreview::of(
        &row.name,
        Vec::new(),
        &objects,
        query.drive_size,
        PreviewSource::Server,
    )
    .map_err(|err| ApiError::invalid_request(format!("drive_size: {err}")))?;
    Ok(Json(preview))
}
