//! Authentication: every request except `/healthz` carries a principal's id and secret, as
//! HTTP basic auth (`id:secret`, what restic sends for `rest:http://id:secret@host/...`) or as
//! a bearer token `id.secret`. The jobs web page checks its sign-in form with [`authenticate`] and
//! then carries a session cookie instead (`crate::web`).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::db::{Kind, PrincipalRow};
use crate::error::ApiError;
use crate::secret;
use crate::state::AppState;

/// Who is calling, once their secret checked out.
#[derive(Debug, Clone)]
pub(crate) enum Principal {
    /// The server's administrator.
    Admin,
    /// Data-centre staff (the import service's role; no vault or account access).
    Operator,
    /// An account owner.
    Account {
        account_id: String,
        account_name: String,
    },
    /// A vault's registration credential: may only register agents of that vault.
    VaultRegistration { account_id: String, vault_id: String },
    /// An agent: may only open its own vault.
    Agent { account_name: String, vault_id: String },
}

impl Principal {
    /// The account owner's account id, or 403 for anyone else.
    pub fn require_account(&self) -> Result<&str, ApiError> {
        match self {
            Principal::Account { account_id, .. } => Ok(account_id),
            _ => Err(ApiError::forbidden("this needs account owner credentials")),
        }
    }

    /// The principal a stored row describes (its secret already checked, or a web session's).
    pub(crate) fn from_row(row: PrincipalRow) -> Result<Self, ApiError> {
        let broken = || ApiError::internal(format!("principal {} is incomplete", row.id));
        let account_id = || row.account_id.clone().ok_or_else(broken);
        let account_name = || row.account_name.clone().ok_or_else(broken);
        let vault_id = || row.vault_id.clone().ok_or_else(broken);
        Ok(match row.kind {
            Kind::Admin => Principal::Admin,
            Kind::Operator => Principal::Operator,
            Kind::Account => Principal::Account {
                account_id: account_id()?,
                account_name: account_name()?,
            },
            Kind::VaultRegistration => Principal::VaultRegistration {
                account_id: account_id()?,
                vault_id: vault_id()?,
            },
            Kind::Agent => Principal::Agent {
                account_name: account_name()?,
                vault_id: vault_id()?,
            },
        })
    }
}

/// Splits the `Authorization` header into (id, secret).
fn credentials(parts: &Parts) -> Result<(String, String), ApiError> {
    let missing = || ApiError::unauthenticated("credentials required (HTTP basic auth or bearer token)");
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(missing)?;
    let header = header
        .to_str()
        .map_err(|_| ApiError::unauthenticated("malformed Authorization header"))?;
    let malformed = || ApiError::unauthenticated("malformed Authorization header");
    if let Some(encoded) = header.strip_prefix("Basic ") {
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
        Ok((id.to_owned(), secret.to_owned()))
    } else if let Some(token) = header.strip_prefix("Bearer ") {
        let (id, secret) = token.trim().split_once('.').ok_or_else(malformed)?;
        Ok((id.to_owned(), secret.to_owned()))
    } else {
        Err(malformed())
    }
}

/// The authenticated principal with its id, for calls that act on the caller's own credentials.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub id: String,
    pub principal: Principal,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (id, secret) = credentials(parts)?;
        let principal = authenticate(state, &id, &secret).await?;
        Ok(Caller { id, principal })
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Caller::from_request_parts(parts, state)
            .await
            .map(|caller| caller.principal)
    }
}

/// The principal `id` if `secret` is its secret: the check of every API request and of the web
/// page's login form.
pub(crate) async fn authenticate(state: &AppState, id: &str, secret: &str) -> Result<Principal, ApiError> {
    let refused = || ApiError::unauthenticated("unknown principal or wrong secret");
    let row = state.db.principal(id).await?.ok_or_else(refused)?;
    if !secret::verify(secret, &row.secret_hash) {
        return Err(refused());
    }
    Principal::from_row(row)
}
