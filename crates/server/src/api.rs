//! The management API under `/api/v1` (JSON in, JSON out; see `docs/http-api.md`).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use seedship_api::{
    AccountCreated, AgentInfo, IssuedSecret, MetricsSnapshot, NameList, NameRequest, ServiceKey, VaultInfo,
    VaultRequest, VaultSeed, WhoAmI,
};

use crate::auth::{Caller, Principal};
use crate::db::{CreateError, Kind, PrincipalRow, VaultRow};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::names;
use crate::secret;
use crate::state::AppState;

/// Routes of the management API.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts", post(create_account))
        .route("/api/v1/operators", post(create_operator))
        .route("/api/v1/accounts/{account}/secret", post(rotate_account_secret))
        .route(
            "/api/v1/operators/{operator}/secret",
            post(rotate_operator_secret),
        )
        .route("/api/v1/agents/{agent}/secret", post(rotate_agent_secret))
        .route("/api/v1/whoami", get(whoami))
        .route(
            "/api/v1/storage-accounts",
            post(create_storage_account).get(list_storage_accounts),
        )
        .route(
            "/api/v1/storage-accounts/{storage}/containers",
            post(create_container).get(list_containers),
        )
        .route("/api/v1/vaults", post(create_vault).get(list_vaults))
        .route("/api/v1/vaults/{vault}", get(show_vault))
        .route("/api/v1/agents", post(register_agent))
        .route("/api/v1/metrics", get(metrics))
        .route("/api/v1/import/service-key", get(service_key))
}

/// The import service's public key, for wrapping drive keys (any authenticated principal).
async fn service_key(State(state): State<AppState>, _principal: Principal) -> Json<ServiceKey> {
    Json(ServiceKey {
        public_key: state.service_key.to_string(),
    })
}

fn created_or(kind: &str, name: &str) -> impl FnOnce(CreateError) -> ApiError {
    let (kind, name) = (kind.to_owned(), name.to_owned());
    move |err| match err {
        CreateError::Exists => ApiError::already_exists(format!("{kind} {name} already exists")),
        CreateError::ParentMissing => ApiError::not_found(format!("parent of {kind} {name} not found")),
        CreateError::Db(e) => e.into(),
    }
}

async fn create_account(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<NameRequest>,
) -> Result<(StatusCode, Json<AccountCreated>), ApiError> {
    create_by_admin(&state, &principal, request.name, AdminCreated::Account).await
}

async fn create_operator(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<NameRequest>,
) -> Result<(StatusCode, Json<AccountCreated>), ApiError> {
    create_by_admin(&state, &principal, request.name, AdminCreated::Operator).await
}

/// The principals only the admin creates, each with a unique name.
#[derive(Debug, Clone, Copy)]
enum AdminCreated {
    Account,
    Operator,
}

/// Creates principal `name` of kind `what` for the admin and answers its new secret (only
/// the digest is stored).
async fn create_by_admin(
    state: &AppState,
    principal: &Principal,
    name: String,
    what: AdminCreated,
) -> Result<(StatusCode, Json<AccountCreated>), ApiError> {
    let kind = match what {
        AdminCreated::Account => "account",
        AdminCreated::Operator => "operator",
    };
    if !matches!(principal, Principal::Admin) {
        return Err(ApiError::forbidden(format!("only the admin creates {kind}s")));
    }
    names::validate(kind, &name)?;
    let secret = secret::generate();
    let created = match what {
        AdminCreated::Account => state.db.create_account(&name, &secret).await,
        AdminCreated::Operator => state.db.create_operator(&name, &secret).await,
    };
    let id = created.map_err(created_or(kind, &name))?;
    tracing::info!(%kind, %name, %id, "{kind} created");
    Ok((StatusCode::CREATED, Json(AccountCreated { name, id, secret })))
}

/// Gives principal `row` (of `kind`, called `name` in messages) a new secret: only its digest is
/// stored, the old one is refused from now on, and the principal's web sessions end. The log
/// names who rotated whose secret, never the secret.
async fn rotate(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    name: &str,
    row: &PrincipalRow,
) -> Result<String, ApiError> {
    let secret = secret::generate();
    if !state.db.rotate_secret(&row.id, &secret).await? {
        return Err(ApiError::not_found(format!("{} {name} not found", kind.as_str())));
    }
    tracing::info!(kind = kind.as_str(), %name, id = %row.id, by = %caller.id, "secret rotated");
    Ok(secret)
}

/// `POST /api/v1/accounts/<account>/secret`: the admin (for an owner who lost the secret) or
/// the account's own owner.
async fn rotate_account_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<AccountCreated>, ApiError> {
    // Another account's name is refused before any lookup: its existence is not revealed.
    let allowed = match &caller.principal {
        Principal::Admin => true,
        Principal::Account { account_name, .. } => *account_name == name,
        _ => false,
    };
    let refused = format!("only the admin or the owner of account {name} may rotate its secret");
    rotate_named(&state, &caller, Kind::Account, name, allowed, refused).await
}

/// `POST /api/v1/operators/<operator>/secret`: the admin, or the operator itself.
async fn rotate_operator_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<AccountCreated>, ApiError> {
    // Whether an operator names itself is known from the row; others are refused at once.
    let allowed = matches!(caller.principal, Principal::Admin | Principal::Operator);
    let refused = format!("only the admin or operator {name} itself may rotate its secret");
    rotate_named(&state, &caller, Kind::Operator, name, allowed, refused).await
}

/// Rotates the secret of the account or operator `name` for `caller`: refused with `refused`
/// unless `allowed`, and, for an operator, unless it is the admin or that operator itself.
async fn rotate_named(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    name: String,
    allowed: bool,
    refused: String,
) -> Result<Json<AccountCreated>, ApiError> {
    if !allowed {
        return Err(ApiError::forbidden(refused));
    }
    let row = state
        .db
        .principal_named(kind, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} {name} not found", kind.as_str())))?;
    if matches!(caller.principal, Principal::Operator) && caller.id != row.id {
        return Err(ApiError::forbidden(refused));
    }
    let secret = rotate(state, caller, kind, &name, &row).await?;
    Ok(Json(AccountCreated {
        name,
        id: row.id,
        secret,
    }))
}

/// `POST /api/v1/agents/<agent id>/secret`: the owner of the agent's account, or the agent
/// itself. Agents are named by id (their names need not be unique); an agent of another
/// account answers 404, as one that does not exist.
async fn rotate_agent_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
) -> Result<Json<AgentInfo>, ApiError> {
    let owner = match &caller.principal {
        Principal::Account { account_id, .. } => Some(account_id.clone()),
        Principal::Agent { .. } if caller.id == agent => None,
        _ => {
            return Err(ApiError::forbidden(format!(
                "only the owner of agent {agent}'s account or the agent itself may rotate its secret"
            )));
        }
    };
    let not_found = || ApiError::not_found(format!("agent {agent} not found"));
    let row = state
        .db
        .principal(&agent)
        .await?
        .filter(|row| row.kind == Kind::Agent)
        .filter(|row| owner.is_none() || row.account_id == owner)
        .ok_or_else(not_found)?;
    let (Some(account), Some(vault_id)) = (row.account_name.clone(), row.vault_id.clone()) else {
        return Err(ApiError::internal(format!("principal {agent} is incomplete")));
    };
    let vault = state.db.vault_by_id(&vault_id).await?.ok_or_else(not_found)?;
    let secret = rotate(&state, &caller, Kind::Agent, &agent, &row).await?;
    Ok(Json(AgentInfo {
        url: state.vault_url(&account, &vault.name),
        account,
        vault: vault.name,
        id: row.id,
        secret,
    }))
}

/// `GET /api/v1/metrics` (admin or operator): counters since the server started.
async fn metrics(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<MetricsSnapshot>, ApiError> {
    if !matches!(principal, Principal::Admin | Principal::Operator) {
        return Err(ApiError::forbidden("metrics are for the admin and operators"));
    }
    Ok(Json(state.metrics.snapshot()))
}

async fn whoami(principal: Principal) -> Json<WhoAmI> {
    let (kind, account) = match principal {
        Principal::Admin => ("admin", None),
        Principal::Operator => ("operator", None),
        Principal::Account { account_name, .. } => ("account", Some(account_name)),
        Principal::VaultRegistration { .. } => ("vault-registration", None),
        Principal::Agent { account_name, .. } => ("agent", Some(account_name)),
    };
    Json(WhoAmI {
        kind: kind.to_owned(),
        account,
    })
}

async fn create_storage_account(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<NameRequest>,
) -> Result<StatusCode, ApiError> {
    let account_id = principal.require_account()?;
    names::validate("storage account", &request.name)?;
    state
        .db
        .create_storage_account(account_id, &request.name)
        .await
        .map_err(created_or("storage account", &request.name))?;
    Ok(StatusCode::CREATED)
}

async fn list_storage_accounts(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<NameList>, ApiError> {
    let account_id = principal.require_account()?;
    Ok(Json(NameList {
        names: state.db.storage_accounts(account_id).await?,
    }))
}

async fn create_container(
    State(state): State<AppState>,
    principal: Principal,
    Path(storage): Path<String>,
    JsonBody(request): JsonBody<NameRequest>,
) -> Result<StatusCode, ApiError> {
    let account_id = principal.require_account()?;
    names::validate("container", &request.name)?;
    match state
        .db
        .create_container(account_id, &storage, &request.name)
        .await
    {
        Ok(_) => Ok(StatusCode::CREATED),
        Err(CreateError::ParentMissing) => Err(ApiError::not_found(format!(
            "storage account {storage} not found"
        ))),
        Err(err) => Err(created_or("container", &request.name)(err)),
    }
}

async fn list_containers(
    State(state): State<AppState>,
    principal: Principal,
    Path(storage): Path<String>,
) -> Result<Json<NameList>, ApiError> {
    let account_id = match &principal {
        // An agent may check its offline policy's import container (`policy set --offline`).
        Principal::Agent { vault_id, .. } => state
            .db
            .account_of_vault(vault_id)
            .await?
            .ok_or_else(|| ApiError::forbidden("the agent's vault no longer exists"))?,
        _ => principal.require_account()?.to_owned(),
    };
    let names = state
        .db
        .containers(&account_id, &storage)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("storage account {storage} not found")))?;
    Ok(Json(NameList { names }))
}

async fn create_vault(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<VaultRequest>,
) -> Result<(StatusCode, Json<VaultInfo>), ApiError> {
    let Principal::Account {
        account_id,
        account_name,
    } = principal
    else {
        return Err(ApiError::forbidden("this needs account owner credentials"));
    };
    names::validate("vault", &request.name)?;
    let secret = secret::generate();
    let (_, registration_id) = state
        .db
        .create_vault(&account_id, &request.name, request.append_only, &secret)
        .await
        .map_err(created_or("vault", &request.name))?;
    tracing::info!(account = %account_name, vault = %request.name, append_only = request.append_only, "vault created");
    Ok((
        StatusCode::CREATED,
        Json(VaultInfo {
            url: state.vault_url(&account_name, &request.name),
            name: request.name,
            account: account_name,
            append_only: request.append_only,
            registration: Some(IssuedSecret {
                id: registration_id,
                secret,
            }),
            seeded: None,
        }),
    ))
}

async fn list_vaults(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<VaultInfo>>, ApiError> {
    let Principal::Account {
        account_id,
        account_name,
    } = principal
    else {
        return Err(ApiError::forbidden("this needs account owner credentials"));
    };
    let mut vaults = Vec::new();
    for vault in state.db.vaults(&account_id).await? {
        vaults.push(vault_info(&state, vault, &account_name).await?);
    }
    Ok(Json(vaults))
}

/// `GET /api/v1/vaults/<vault>`: one vault and how it was seeded, for its owner or its own
/// agent (which asks whether its offline backup seeded it).
async fn show_vault(
    State(state): State<AppState>,
    principal: Principal,
    Path(vault): Path<String>,
) -> Result<Json<VaultInfo>, ApiError> {
    let (row, account) = crate::seed::seedable_vault(&state, &principal, &vault).await?;
    Ok(Json(vault_info(&state, row, &account).await?))
}

/// A stored vault of `account` as the API shows it, with its seed.
async fn vault_info(state: &AppState, vault: VaultRow, account: &str) -> Result<VaultInfo, ApiError> {
    let seeded = state.db.vault_seed(&vault.id).await?.map(|seed| VaultSeed {
        job: seed.job,
        storage_account: seed.storage_account,
        container: seed.container,
        prefix: seed.prefix,
        repository_id: seed.repository_id,
        seeded_at: time::OffsetDateTime::from_unix_timestamp(seed.seeded_at)
            .ok()
            .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default(),
    });
    Ok(VaultInfo {
        url: state.vault_url(account, &vault.name),
        name: vault.name,
        account: account.to_owned(),
        append_only: vault.append_only,
        registration: None,
        seeded,
    })
}

async fn register_agent(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<NameRequest>,
) -> Result<(StatusCode, Json<AgentInfo>), ApiError> {
    let Principal::VaultRegistration { account_id, vault_id } = principal else {
        return Err(ApiError::forbidden(
            "agents register with a vault's registration credentials",
        ));
    };
    names::validate("agent", &request.name)?;
    let vault = state
        .db
        .vault_by_id(&vault_id)
        .await?
        .ok_or_else(|| ApiError::not_found("vault not found"))?;
    let account = state
        .db
        .principal(&account_id)
        .await?
        .and_then(|p| p.account_name);
    let account = account.ok_or_else(|| ApiError::not_found("account not found"))?;
    let secret = secret::generate();
    let id = state
        .db
        .create_agent(&account_id, &vault.id, &request.name, &secret)
        .await
        .map_err(created_or("agent", &request.name))?;
    tracing::info!(%account, vault = %vault.name, agent = %request.name, %id, "agent registered");
    Ok((
        StatusCode::CREATED,
        Json(AgentInfo {
            url: state.vault_url(&account, &vault.name),
            account,
            vault: vault.name,
            id,
            secret,
        }),
    ))
}
