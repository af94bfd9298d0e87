//! Storage quotas: what an account stores is kept in the database (`accounts.used_bytes`), and
//! every write reserves its bytes there before they are stored, with one conditional update
//! that also checks the quota (`Db::reserve`). Servers sharing the database thus agree, and
//! concurrent writes cannot together pass the quota. A write that fails gives its reservation
//! back; a delete takes its bytes off. The rules are in `docs/design.md`, "Storage quotas".

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use futures::TryStreamExt;
use seedship_api::{AccountUsage, ErrorCode, QuotaRequest};

use crate::auth::Principal;
use crate::db::{Db, Usage};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

/// The routes of quotas: `GET` (the admin, the account's owner) and `PUT` (the admin).
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/accounts/{account}/quota", get(show).put(set))
}

fn answer(account: String, usage: &Usage) -> Json<AccountUsage> {
    Json(AccountUsage {
        account,
        quota_bytes: usage.quota_bytes,
        used_bytes: usage.used_bytes,
    })
}

async fn usage_of(state: &AppState, account: &str) -> Result<Usage, ApiError> {
    state
        .db
        .usage(account)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {account} not found")))
}

/// `GET /api/v1/accounts/<account>/quota`: the admin, or the account's own owner (another
/// account's owner is refused before any lookup).
async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(account): Path<String>,
) -> Result<Json<AccountUsage>, ApiError> {
    let allowed = match &principal {
        Principal::Admin => true,
        Principal::Account { account_name, .. } => *account_name == account,
        _ => false,
    };
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "only the admin or the owner of account {account} sees its quota"
        )));
    }
    let usage = usage_of(&state, &account).await?;
    Ok(answer(account, &usage))
}

/// `PUT /api/v1/accounts/<account>/quota` (the admin): sets the quota (`null`: none) and
/// recounts what the account stores from the store (its vaults, containers and held-back
/// files), so that data stored before quotas existed counts too.
async fn set(
    State(state): State<AppState>,
    principal: Principal,
    Path(account): Path<String>,
    JsonBody(request): JsonBody<QuotaRequest>,
) -> Result<Json<AccountUsage>, ApiError> {
    if !matches!(principal, Principal::Admin) {
        return Err(ApiError::forbidden("only the admin sets quotas"));
    }
    let usage = usage_of(&state, &account).await?;
    let mut used = 0u64;
    for prefix in state.db.account_prefixes(&usage.account_id, &account).await? {
        used += state
            .store
            .list(&prefix)
            .try_fold(0u64, |sum, object| async move { Ok(sum + object.size) })
            .await?;
    }
    state.db.set_quota(&usage.account_id, request.bytes, used).await?;
    tracing::info!(%account, quota = ?request.bytes, used, "quota set");
    let usage = usage_of(&state, &account).await?;
    Ok(answer(account, &usage))
}

/// Bytes reserved ahead while a body of unknown length streams in: as much again as is
/// reserved already, from [`MIN_STEP`] up to [`MAX_STEP`], so that a small object costs one
/// update and a stream of terabytes one per [`MAX_STEP`] (only what is needed when less is left
/// under the quota).
const MIN_STEP: u64 = 1024 * 1024;
const MAX_STEP: u64 = 64 * 1024 * 1024;

/// The bytes one write has reserved for account `account_id`: covered as the body arrives,
/// kept when the object is stored, given back otherwise (also when the request is dropped
/// half-way: then by a task of its own).
#[derive(Debug)]
pub(crate) struct Reservation {
    db: Db,
    account_id: String,
    reserved: u64,
    /// Reserve without checking the quota (restic's locks: a full account must still be
    /// checked and pruned, which take a lock).
    force: bool,
    /// Bytes being committed to the store ([`Reservation::committing`]): kept, not given
    /// back, if the request is dropped from then on, since the store may complete the write.
    committing: u64,
}

impl Reservation {
    pub(crate) fn new(db: &Db, account_id: &str) -> Self {
        Self {
            db: db.clone(),
            account_id: account_id.to_owned(),
            reserved: 0,
            force: false,
            committing: 0,
        }
    }

    /// A reservation the quota never refuses (counted all the same).
    pub(crate) fn forced(db: &Db, account_id: &str) -> Self {
        let mut reservation = Self::new(db, account_id);
        reservation.force = true;
        reservation
    }

    /// Makes sure `total` bytes are reserved: a step ahead (see [`MIN_STEP`]), or only what
    /// is needed when the quota has no step left; 413 `QuotaExceeded` when not even that fits.
    pub(crate) async fn cover(&mut self, total: u64) -> Result<(), ApiError> {
        if total <= self.reserved {
            return Ok(());
        }
        let needed = total - self.reserved;
        let ahead = needed.max(self.reserved.clamp(MIN_STEP, MAX_STEP));
        let attempts: &[u64] = if ahead > needed {
            &[ahead, needed]
        } else {
            &[needed]
        };
        for &bytes in attempts {
            if self.db.reserve(&self.account_id, bytes, self.force).await? {
                self.reserved += bytes;
                return Ok(());
            }
        }
        Err(exceeded(&self.db, &self.account_id, total).await)
    }

    /// The write is about to commit `size` bytes (finish its upload, put its object): if the
    /// request is dropped from now on, those bytes stay counted, since the store may complete
    /// the write without it. A commit that fails must call [`Reservation::keep`] with 0.
    pub(crate) fn committing(&mut self, size: u64) {
        self.committing = size;
    }

    /// The write stored `size` bytes (0: nothing): those stay counted, the rest is given back.
    /// (Stored bytes are counted even beyond the quota: they are there.) Settled by a task of
    /// its own, so that a request dropped meanwhile does not leave it half done.
    pub(crate) async fn keep(&mut self, size: u64) {
        let reserved = std::mem::take(&mut self.reserved);
        self.committing = 0;
        let (db, account_id) = (self.db.clone(), self.account_id.clone());
        let settle = tokio::spawn(async move {
            let outcome = if size > reserved {
                db.reserve(&account_id, size - reserved, true).await.map(|_| ())
            } else {
                db.release(&account_id, reserved - size).await
            };
            if let Err(err) = outcome {
                tracing::error!(%account_id, size, reserved, "settling a quota reservation: {err}");
            }
        });
        if let Err(err) = settle.await {
            tracing::error!("settling a quota reservation: {err}");
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let spare = self.reserved.saturating_sub(self.committing);
        if spare == 0 {
            return;
        }
        let (db, account_id, bytes) = (self.db.clone(), self.account_id.clone(), spare);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = db.release(&account_id, bytes).await {
                    tracing::error!(%account_id, bytes, "giving back a quota reservation: {err}");
                }
            });
        }
    }
}

/// Reads the rest of a refused upload's body and drops it, so that the client, still sending,
/// reads the refusal (a server that answers before the body ends closes the connection, and
/// the client sees a reset instead of 413 `QuotaExceeded`). Bounded in memory: one chunk.
pub(crate) async fn drain<S, B, E>(mut body: S)
where
    S: futures::Stream<Item = Result<B, E>> + Unpin,
{
    while let Some(Ok(_)) = futures::StreamExt::next(&mut body).await {}
}

/// Takes `bytes` that were deleted off account `account_id`'s usage; a failure is logged (the
/// deletion happened; the next recount corrects the figure).
pub(crate) async fn release(db: &Db, account_id: &str, bytes: u64) {
    if bytes == 0 {
        return;
    }
    if let Err(err) = db.release(account_id, bytes).await {
        tracing::error!(%account_id, bytes, "releasing deleted bytes from the quota: {err}");
    }
}

/// 413 `QuotaExceeded` for a write of `size` bytes into account `account_id`, naming the quota.
async fn exceeded(db: &Db, account_id: &str, size: u64) -> ApiError {
    let usage = db.usage_by_id(account_id).await.ok().flatten();
    let (quota, used) = usage.map_or((0, 0), |u| (u.quota_bytes.unwrap_or_default(), u.used_bytes));
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::QuotaExceeded,
        format!(
            "the account's storage quota of {quota} bytes does not take {size} more bytes \
             ({used} stored or being written); nothing written: delete data (restic forget --prune, seedship job \
             delete-imported) or ask the admin for a larger quota"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::{MAX_STEP, MIN_STEP, Reservation};
    use crate::db::Db;
    use seedship_api::ErrorCode;

    const MIB: u64 = 1024 * 1024;

    async fn account_with_quota(quota: Option<u64>) -> (tempfile::TempDir, Db, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("metadata.db").display());
        let db = Db::connect(&url).await.expect("database");
        let id = db.create_account("acme", "secret").await.expect("account");
        db.set_quota(&id, quota, 0).await.expect("quota");
        (dir, db, id)
    }

    async fn used(db: &Db) -> u64 {
        db.usage("acme")
            .await
            .expect("usage")
            .expect("account")
            .used_bytes
    }

    /// Forty writers of 1 MiB at once against a quota of 10 MiB: exactly ten get their bytes,
    /// the others are refused, and the usage is what the ten kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_never_pass_the_quota_together() {
        let (_dir, db, id) = account_with_quota(Some(10 * MIB)).await;
        let writers: Vec<_> = (0..40)
            .map(|_| {
                let (db, id) = (db.clone(), id.clone());
                tokio::spawn(async move {
                    let mut quota = Reservation::new(&db, &id);
                    match quota.cover(MIB).await {
                        Ok(()) => {
                            quota.keep(MIB).await;
                            true
                        }
                        Err(err) => {
                            assert_eq!(err.code, ErrorCode::QuotaExceeded);
                            false
                        }
                    }
                })
            })
            .collect();
        let mut stored = 0;
        for writer in writers {
            stored += u64::from(writer.await.expect("writer"));
        }
        assert_eq!(stored, 10, "writers that got their bytes");
        assert_eq!(used(&db).await, 10 * MIB);
    }

    /// A stream reserves ahead (doubling up to the largest step), settles to what it stored,
    /// takes only what it needs near the quota, and a dropped reservation gives its bytes back.
    #[tokio::test]
    async fn reservations_step_ahead_settle_and_are_given_back() {
        let (_dir, db, id) = account_with_quota(None).await;
        let mut quota = Reservation::new(&db, &id);
        quota.cover(10).await.expect("cover");
        assert_eq!(used(&db).await, MIN_STEP, "one step ahead");
        quota.cover(MIN_STEP + 1).await.expect("cover");
        assert_eq!(used(&db).await, 2 * MIN_STEP, "as much again");
        quota.cover(300 * MIB).await.expect("cover");
        quota.cover(300 * MIB + 1).await.expect("cover");
        assert_eq!(
            used(&db).await,
            300 * MIB + MAX_STEP,
            "at most the largest step ahead"
        );
        quota.keep(300 * MIB + 1).await;
        assert_eq!(used(&db).await, 300 * MIB + 1, "settled to what was stored");

        db.set_quota(&id, Some(300 * MIB + 1 + 100), 300 * MIB + 1)
            .await
            .expect("quota");
        let mut near = Reservation::new(&db, &id);
        near.cover(100).await.expect("exactly what is left");
        let err = near.cover(101).await.expect_err("one byte over");
        assert_eq!(err.code, ErrorCode::QuotaExceeded);
        assert!(err.message.contains("nothing written"), "{}", err.message);
        drop(near);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while used(&db).await != 300 * MIB + 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the dropped reservation was kept"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let mut lock = Reservation::forced(&db, &id);
        lock.cover(MIB).await.expect("a lock is never refused");
        lock.keep(500).await;
        assert_eq!(used(&db).await, 300 * MIB + 1 + 500);

        // Dropped while committing (the client went away): what is being committed stays.
        db.set_quota(&id, None, 300 * MIB + 1 + 500)
            .await
            .expect("no quota");
        let mut dropped = Reservation::new(&db, &id);
        dropped.cover(700).await.expect("cover");
        dropped.committing(700);
        drop(dropped);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while used(&db).await != 300 * MIB + 1 + 500 + 700 {
            assert!(
                std::time::Instant::now() < deadline,
                "the committed bytes were not kept"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
