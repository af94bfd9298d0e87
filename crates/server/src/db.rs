//! Metadata: one code path for SQLite and PostgreSQL through sqlx's `Any` driver.
//!
//! Queries use `$n` placeholders, which both databases accept, and only portable types (TEXT,
//! BIGINT). The schema is in `migrations/`; sqlx's migrator serialises concurrent migrations
//! from several server processes (an advisory lock on PostgreSQL).

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use crate::secret;

/// Kinds of principals, as stored in `principals.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Admin,
    Operator,
    Account,
    VaultRegistration,
    Agent,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Admin => "admin",
            Kind::Operator => "operator",
            Kind::Account => "account",
            Kind::VaultRegistration => "vault-registration",
            Kind::Agent => "agent",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Kind::Admin,
            Kind::Operator,
            Kind::Account,
            Kind::VaultRegistration,
            Kind::Agent,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// A principal as stored, with its account's name.
#[derive(Debug, Clone)]
pub(crate) struct PrincipalRow {
    pub id: String,
    pub kind: Kind,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub vault_id: Option<String>,
    pub secret_hash: String,
}

/// A metadata transaction, from [`Db::begin`].
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A vault as stored.
#[derive(Debug, Clone)]
pub(crate) struct VaultRow {
    pub id: String,
    /// The id of the account that owns it.
    pub account_id: String,
    pub name: String,
    pub append_only: bool,
}

/// A vault's seed as stored (`vault_seeds`).
#[derive(Debug, Clone)]
pub(crate) struct SeedRow {
    pub job: String,
    pub storage_account: String,
    pub container: String,
    pub prefix: String,
    pub repository_id: Option<String>,
    /// Unix seconds.
    pub seeded_at: i64,
}

/// A write that would break a uniqueness rule.
#[derive(Debug)]
pub(crate) enum CreateError {
    /// The name is taken.
    Exists,
    /// The parent (account, storage account) is missing.
    ParentMissing,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for CreateError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => CreateError::Exists,
            _ => CreateError::Db(err),
        }
    }
}

/// An account's storage quota and what it stores.
#[derive(Debug, Clone)]
pub(crate) struct Usage {
    pub account_id: String,
    pub quota_bytes: Option<u64>,
    pub used_bytes: u64,
}

/// Bytes as the database stores them (BIGINT).
fn db_bytes(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// What a delete of something that must be empty did.
#[derive(Debug)]
pub(crate) enum Deleted {
    Done,
    NotFound,
    /// Not deleted: it holds these (names).
    NotEmpty(Vec<String>),
}

/// The metadata database.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pool: AnyPool,
    /// Write transactions on SQLite start with `BEGIN IMMEDIATE` (see [`Db::begin`]).
    sqlite: bool,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Db {
    /// Connects to `url` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new().max_connections(16).connect(url).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            pool,
            sqlite: url.starts_with("sqlite:"),
        })
    }

    /// Begins a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred transaction that reads and then writes cannot wait for another writer (SQLite
    /// answers busy at once rather than risk a deadlock, or because its snapshot is stale), so
    /// two requests that change metadata at the same moment would fail one of them; an
    /// immediate one waits its turn (the busy timeout) instead. PostgreSQL waits on row locks.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        if self.sqlite {
            self.pool.begin_with("BEGIN IMMEDIATE").await
        } else {
            self.pool.begin().await
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Creates the admin principal with `secret` unless one exists; true if created now.
    pub async fn bootstrap_admin(&self, secret: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO principals (id, kind, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind("admin")
        .bind(Kind::Admin.as_str())
        .bind("admin")
        .bind(secret::digest(secret))
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn principal(&self, id: &str) -> Result<Option<PrincipalRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT p.id, p.kind, p.account_id, a.name AS account_name, p.vault_id, p.secret_hash \
             FROM principals p LEFT JOIN accounts a ON a.id = p.account_id WHERE p.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind")?;
        let Some(kind) = Kind::parse(&kind) else {
            return Ok(None);
        };
        Ok(Some(PrincipalRow {
            id: row.try_get("id")?,
            kind,
            account_id: row.try_get("account_id")?,
            account_name: row.try_get("account_name")?,
            vault_id: row.try_get("vault_id")?,
            secret_hash: row.try_get("secret_hash")?,
        }))
    }

    /// The principal of `kind` named `name` (accounts and operators have unique names).
    pub async fn principal_named(&self, kind: Kind, name: &str) -> Result<Option<PrincipalRow>, sqlx::Error> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM principals WHERE kind = $1 AND name = $2")
                .bind(kind.as_str())
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        match id {
            Some(id) => self.principal(&id).await,
            None => Ok(None),
        }
    }

    /// Replaces the secret of principal `id` by `secret` (only its digest is stored), records
    /// when, and ends the principal's web sessions, in one transaction: from its commit on the
    /// old secret is refused everywhere. False if there is no such principal.
    pub async fn rotate_secret(&self, id: &str, secret: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin().await?;
        let updated =
            sqlx::query("UPDATE principals SET secret_hash = $1, secret_rotated_at = $2 WHERE id = $3")
                .bind(secret::digest(secret))
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM web_sessions WHERE principal_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Stores a web session of `principal_id` under the digest of `token` until `expires_at`
    /// (unix seconds), and drops every session that expired before `now`.
    pub async fn create_session(
        &self,
        token: &str,
        principal_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO web_sessions (token_hash, principal_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(secret::digest(token))
        .bind(principal_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The principal of the web session `token`, unless unknown or expired by `now`.
    pub async fn session_principal(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<PrincipalRow>, sqlx::Error> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT principal_id FROM web_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(secret::digest(token))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => self.principal(&id).await,
            None => Ok(None),
        }
    }

    /// Ends the web session `token` (nothing if there is none).
    pub async fn delete_session(&self, token: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
            .bind(secret::digest(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Creates an account and its owner principal (same id); returns the id.
    pub async fn create_account(&self, name: &str, secret: &str) -> Result<String, CreateError> {
        let id = secret::new_id("acc");
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(name)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        self.insert_principal(&mut tx, &id, Kind::Account, name, Some(&id), None, secret)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Creates an operator principal; returns its id.
    pub async fn create_operator(&self, name: &str, secret: &str) -> Result<String, CreateError> {
        let id = secret::new_id("op");
        let mut tx = self.begin().await?;
        self.insert_principal(&mut tx, &id, Kind::Operator, name, None, None, secret)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_principal(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: &str,
        kind: Kind,
        name: &str,
        account_id: Option<&str>,
        vault_id: Option<&str>,
        secret: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO principals (id, kind, name, account_id, vault_id, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(kind.as_str())
        .bind(name)
        .bind(account_id)
        .bind(vault_id)
        .bind(secret::digest(secret))
        .bind(now())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn create_storage_account(&self, account_id: &str, name: &str) -> Result<String, CreateError> {
        let id = secret::new_id("sa");
        sqlx::query(
            "INSERT INTO storage_accounts (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(account_id)
        .bind(name)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    pub async fn storage_accounts(&self, account_id: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT name FROM storage_accounts WHERE account_id = $1 ORDER BY name")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await
    }

    async fn storage_account_id(&self, account_id: &str, name: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT id FROM storage_accounts WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
    }

    /// Creates a container in the account's storage account `storage`; returns its id.
    pub async fn create_container(
        &self,
        account_id: &str,
        storage: &str,
        name: &str,
    ) -> Result<String, CreateError> {
        let storage_id = self
            .storage_account_id(account_id, storage)
            .await?
            .ok_or(CreateError::ParentMissing)?;
        let id = secret::new_id("ctr");
        sqlx::query(
            "INSERT INTO containers (id, storage_account_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&storage_id)
        .bind(name)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Names of the containers of storage account `storage`, or `None` if it does not exist.
    pub async fn containers(
        &self,
        account_id: &str,
        storage: &str,
    ) -> Result<Option<Vec<String>>, sqlx::Error> {
        let Some(storage_id) = self.storage_account_id(account_id, storage).await? else {
            return Ok(None);
        };
        let names =
            sqlx::query_scalar("SELECT name FROM containers WHERE storage_account_id = $1 ORDER BY name")
                .bind(storage_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(Some(names))
    }

    /// Adds `bytes` to what account `account_id` stores if that stays within its quota (or it
    /// has none; always with `force`), in one statement: of two servers reserving the last
    /// bytes, one gets them. False if the quota refuses.
    pub async fn reserve(&self, account_id: &str, bytes: u64, force: bool) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE accounts SET used_bytes = used_bytes + $1 WHERE id = $2 \
             AND ($3 = 1 OR quota_bytes IS NULL OR used_bytes + $1 <= quota_bytes)",
        )
        .bind(db_bytes(bytes))
        .bind(account_id)
        .bind(i64::from(force))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes `bytes` off what account `account_id` stores (never below zero).
    pub async fn release(&self, account_id: &str, bytes: u64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE accounts SET used_bytes = CASE WHEN used_bytes > $1 THEN used_bytes - $1 ELSE 0 END \
             WHERE id = $2",
        )
        .bind(db_bytes(bytes))
        .bind(account_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The quota and usage of account `name`.
    pub async fn usage(&self, name: &str) -> Result<Option<Usage>, sqlx::Error> {
        self.usage_where(
            "SELECT id, quota_bytes, used_bytes FROM accounts WHERE name = $1",
            name,
        )
        .await
    }

    /// The quota and usage of account `id`.
    pub async fn usage_by_id(&self, id: &str) -> Result<Option<Usage>, sqlx::Error> {
        self.usage_where(
            "SELECT id, quota_bytes, used_bytes FROM accounts WHERE id = $1",
            id,
        )
        .await
    }

    async fn usage_where(&self, query: &'static str, value: &str) -> Result<Option<Usage>, sqlx::Error> {
        let row = sqlx::query(query).bind(value).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let quota: Option<i64> = row.try_get("quota_bytes")?;
        let used: i64 = row.try_get("used_bytes")?;
        Ok(Some(Usage {
            account_id: row.try_get("id")?,
            quota_bytes: quota.map(|q| u64::try_from(q).unwrap_or_default()),
            used_bytes: u64::try_from(used).unwrap_or_default(),
        }))
    }

    /// Sets the quota of account `account_id` and what it stores, as counted.
    pub async fn set_quota(
        &self,
        account_id: &str,
        quota: Option<u64>,
        used: u64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE accounts SET quota_bytes = $1, used_bytes = $2 WHERE id = $3")
            .bind(quota.map(db_bytes))
            .bind(db_bytes(used))
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The store prefixes that hold the bytes of account `account_id` (named `account`): its
    /// vaults, its containers and the files its jobs hold back.
    pub async fn account_prefixes(
        &self,
        account_id: &str,
        account: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        let jobs: Vec<String> = sqlx::query_scalar("SELECT id FROM jobs WHERE account = $1")
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        let vaults: Vec<String> = sqlx::query_scalar("SELECT id FROM vaults WHERE account_id = $1")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        let containers: Vec<String> = sqlx::query_scalar(
            "SELECT c.id FROM containers c JOIN storage_accounts s ON c.storage_account_id = s.id \
             WHERE s.account_id = $1",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(vaults
            .into_iter()
            .map(|id| format!("vaults/{id}"))
            .chain(containers.into_iter().map(|id| format!("containers/{id}")))
            .chain(jobs.into_iter().map(|id| format!("jobs/{id}/damaged/data")))
            .collect())
    }

    /// The id of container `storage`/`container` of account `account_id`.
    pub async fn container_id(
        &self,
        account_id: &str,
        storage: &str,
        container: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT c.id FROM containers c JOIN storage_accounts s ON c.storage_account_id = s.id \
             WHERE s.account_id = $1 AND s.name = $2 AND c.name = $3",
        )
        .bind(account_id)
        .bind(storage)
        .bind(container)
        .fetch_optional(&self.pool)
        .await
    }

    /// Deletes the row of container `id` (its blobs are the caller's to check).
    pub async fn delete_container(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM containers WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes storage account `name` of account `account_id` if it has no container, in one
    /// transaction (a container created meanwhile either comes first and refuses the delete,
    /// or finds no parent).
    pub async fn delete_storage_account(&self, account_id: &str, name: &str) -> Result<Deleted, sqlx::Error> {
        let mut tx = self.begin().await?;
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM storage_accounts WHERE account_id = $1 AND name = $2")
                .bind(account_id)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(id) = id else {
            return Ok(Deleted::NotFound);
        };
        let containers: Vec<String> =
            sqlx::query_scalar("SELECT name FROM containers WHERE storage_account_id = $1 ORDER BY name")
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?;
        if !containers.is_empty() {
            return Ok(Deleted::NotEmpty(containers));
        }
        sqlx::query("DELETE FROM storage_accounts WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Deleted::Done)
    }

    /// Deletes vault `id` with its registration credential and its agents, in one transaction:
    /// from the commit on, their secrets are refused (their principals are gone).
    pub async fn delete_vault(&self, id: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "DELETE FROM web_sessions WHERE principal_id IN (SELECT id FROM principals WHERE vault_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM principals WHERE vault_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM vaults WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// The id of container `storage`/`container` of the account that owns vault `vault_id`.
    pub async fn container_of_vault_account(
        &self,
        vault_id: &str,
        storage: &str,
        container: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT c.id FROM containers c \
             JOIN storage_accounts s ON c.storage_account_id = s.id \
             JOIN vaults v ON v.account_id = s.account_id \
             WHERE v.id = $1 AND s.name = $2 AND c.name = $3",
        )
        .bind(vault_id)
        .bind(storage)
        .bind(container)
        .fetch_optional(&self.pool)
        .await
    }

    /// Creates a vault and its registration credential; returns (vault id, registration id).
    pub async fn create_vault(
        &self,
        account_id: &str,
        name: &str,
        append_only: bool,
        registration_secret: &str,
    ) -> Result<(String, String), CreateError> {
        let vault_id = secret::new_id("vlt");
        let registration_id = secret::new_id("reg");
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO vaults (id, account_id, name, append_only, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&vault_id)
        .bind(account_id)
        .bind(name)
        .bind(i64::from(append_only))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let kind = Kind::VaultRegistration;
        self.insert_principal(
            &mut tx,
            &registration_id,
            kind,
            name,
            Some(account_id),
            Some(&vault_id),
            registration_secret,
        )
        .await?;
        tx.commit().await?;
        Ok((vault_id, registration_id))
    }

    fn vault_row(row: &sqlx::any::AnyRow) -> Result<VaultRow, sqlx::Error> {
        Ok(VaultRow {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            name: row.try_get("name")?,
            append_only: row.try_get::<i64, _>("append_only")? != 0,
        })
    }

    pub async fn vaults(&self, account_id: &str) -> Result<Vec<VaultRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, account_id, name, append_only FROM vaults WHERE account_id = $1 ORDER BY name",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::vault_row).collect()
    }

    pub async fn vault(&self, account_id: &str, name: &str) -> Result<Option<VaultRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, account_id, name, append_only FROM vaults WHERE account_id = $1 AND name = $2",
        )
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::vault_row).transpose()
    }

    pub async fn vault_by_id(&self, id: &str) -> Result<Option<VaultRow>, sqlx::Error> {
        let row = sqlx::query("SELECT id, account_id, name, append_only FROM vaults WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::vault_row).transpose()
    }

    /// Records in `tx` the completed seed of vault `vault_id` unless one is recorded; a
    /// repository id missing from the recorded one is filled in.
    pub async fn record_seed(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        vault_id: &str,
        seed: &SeedRow,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO vault_seeds \
             (vault_id, job, storage_account, container, prefix, repository_id, seeded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (vault_id) DO UPDATE SET \
             repository_id = COALESCE(vault_seeds.repository_id, excluded.repository_id)",
        )
        .bind(vault_id)
        .bind(&seed.job)
        .bind(&seed.storage_account)
        .bind(&seed.container)
        .bind(&seed.prefix)
        .bind(&seed.repository_id)
        .bind(seed.seeded_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The recorded seed of vault `vault_id`, `None` if it was never seeded.
    pub async fn vault_seed(&self, vault_id: &str) -> Result<Option<SeedRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT job, storage_account, container, prefix, repository_id, seeded_at \
             FROM vault_seeds WHERE vault_id = $1",
        )
        .bind(vault_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SeedRow {
            job: row.try_get("job")?,
            storage_account: row.try_get("storage_account")?,
            container: row.try_get("container")?,
            prefix: row.try_get("prefix")?,
            repository_id: row.try_get("repository_id")?,
            seeded_at: row.try_get("seeded_at")?,
        }))
    }

    /// The id of the account that owns vault `id`.
    pub async fn account_of_vault(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT account_id FROM vaults WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Registers an agent of a vault; returns its id.
    pub async fn create_agent(
        &self,
        account_id: &str,
        vault_id: &str,
        name: &str,
        secret: &str,
    ) -> Result<String, CreateError> {
        let id = secret::new_id("agt");
        let mut tx = self.begin().await?;
        self.insert_principal(
            &mut tx,
            &id,
            Kind::Agent,
            name,
            Some(account_id),
            Some(vault_id),
            secret,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::{CreateError, Db, Kind};
    use crate::secret;
    use sqlx::any::AnyPoolOptions;

    /// A database made before operator names were unique may hold several operators of one
    /// name: migration 0004 leaves the oldest its name, renames the others `<name>-<id>`, keeps
    /// every secret working, and from then on a taken operator name is refused. Agents may
    /// still share names.
    /// Many transactions that each read a counter and then write it, all at once: every one
    /// must wait its turn and succeed (a deferred SQLite transaction fails with "database is
    /// locked" when another writer commits between its read and its write).
    #[test]
    fn concurrent_read_then_write_transactions_all_commit_on_sqlite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("metadata.db").display());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let db = Db::connect(&url).await.expect("connect");
            sqlx::query("CREATE TABLE counter (n BIGINT NOT NULL)")
                .execute(db.pool())
                .await
                .expect("table");
            sqlx::query("INSERT INTO counter (n) VALUES (0)")
                .execute(db.pool())
                .await
                .expect("row");
            let writers = (0..32).map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut tx = db.begin().await?;
                    let n: i64 = sqlx::query_scalar("SELECT n FROM counter")
                        .fetch_one(&mut *tx)
                        .await?;
                    tokio::task::yield_now().await;
                    sqlx::query("UPDATE counter SET n = $1")
                        .bind(n + 1)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await
                })
            });
            for writer in writers.collect::<Vec<_>>() {
                writer
                    .await
                    .expect("join")
                    .expect("a transaction that waits its turn commits");
            }
            let n: i64 = sqlx::query_scalar("SELECT n FROM counter")
                .fetch_one(db.pool())
                .await
                .expect("read");
            assert_eq!(n, 32, "every increment counted once");
        });
    }

    #[test]
    fn duplicate_operator_names_are_renamed_by_the_migration_then_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("metadata.db").display());
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            sqlx::any::install_default_drivers();
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .expect("connect");
            sqlx::migrate!("./migrations")
                .run_to(3, &pool)
                .await
                .expect("the schema before 0004");
            for (id, name, created_at) in [
                ("op-b", "dc", 5),
                ("op-a", "dc", 5),
                ("op-c", "dc", 1),
                ("op-d", "ams", 9),
            ] {
                sqlx::query(
                    "INSERT INTO principals (id, kind, name, secret_hash, created_at) VALUES ($1, 'operator', $2, $3, $4)",
                )
                .bind(id)
                .bind(name)
                .bind(secret::digest(id))
                .bind(created_at)
                .execute(&pool)
                .await
                .expect("insert operator");
            }
            pool.close().await;

            let db = Db::connect(&url).await.expect("migrate to the current schema");
            for (id, name) in [("op-c", "dc"), ("op-a", "dc-op-a"), ("op-b", "dc-op-b"), ("op-d", "ams")] {
                let row = db
                    .principal_named(Kind::Operator, name)
                    .await
                    .expect("query")
                    .unwrap_or_else(|| panic!("operator {name}"));
                assert_eq!(row.id, id, "operator named {name}");
                assert!(secret::verify(id, &row.secret_hash), "{id}'s secret still works");
            }
            for taken in ["dc", "ams", "dc-op-a"] {
                assert!(
                    matches!(db.create_operator(taken, "s").await, Err(CreateError::Exists)),
                    "operator name {taken} taken"
                );
            }
            db.create_operator("fresh", "s").await.expect("a free name");
            db.create_account("acme", "s").await.expect("account");
            let account = db
                .principal_named(Kind::Account, "acme")
                .await
                .expect("query")
                .expect("account principal");
            let account_id = account.account_id.expect("account id");
            let (vault, _) = db
                .create_vault(&account_id, "laptop", false, "r")
                .await
                .expect("vault");
            for _ in 0..2 {
                db.create_agent(&account_id, &vault, "host", "s")
                    .await
                    .expect("agents may share a name");
            }
        });
    }
}
