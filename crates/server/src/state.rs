//! What every handler shares: the server's state, its counters and its clock. The bottom of
//! the module graph: it imports no handler module, and every handler module imports it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use seedship_api::MetricsSnapshot;
use seedship_jobs::{DataCentres, DeadlinePolicy};
use seedship_store::Store;
use time::OffsetDateTime;

use crate::db::Db;
use crate::seeds::Seeds;
use crate::throttle::SignInThrottle;

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub db: Db,
    pub store: Arc<dyn Store>,
    pub public_url: String,
    pub clock: Clock,
    pub deadlines: DeadlinePolicy,
    pub data_centres: DataCentres,
    pub metrics: Arc<Metrics>,
    /// The import service's public key file text, published for drive preparation.
    pub service_key: Arc<str>,
    /// Vault seeds running on this server.
    pub seeds: Arc<Seeds>,
    /// Failed web sign-ins per client address.
    pub sign_in_throttle: Arc<SignInThrottle>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Networks webhook deliveries never connect to.
    pub webhook_deny_networks: Arc<[ipnet::IpNet]>,
    /// Held by every transaction that changes a job, so that this server changes jobs one at
    /// a time: two receivers of one job act on it at once, and each must see the other's
    /// change rather than fail the job's version check. (Servers sharing a Postgres
    /// database still meet the job's version check: `ConcurrentUpdate`.)
    pub job_writes: Arc<tokio::sync::Mutex<()>>,
}

/// Counters the server keeps since it started.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Request body bytes received by vault object and config uploads (accepted or not).
    pub vault_bytes_received: std::sync::atomic::AtomicU64,
    /// Vault object and config uploads stored.
    pub vault_objects_stored: std::sync::atomic::AtomicU64,
    /// Request body bytes received by uploads, by (account, vault) name.
    vault_bytes: std::sync::Mutex<std::collections::BTreeMap<(String, String), u64>>,
}

impl Metrics {
    /// Counts `bytes` of an upload to vault `account`/`vault` (once per upload).
    pub fn add_vault_bytes(&self, account: &str, vault: &str, bytes: u64) {
        let mut by_vault = self
            .vault_bytes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *by_vault
            .entry((account.to_owned(), vault.to_owned()))
            .or_default() += bytes;
    }

    /// Bytes received by each vault's uploads since the server started, by (account, vault).
    pub fn vault_bytes(&self) -> Vec<((String, String), u64)> {
        let by_vault = self
            .vault_bytes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        by_vault.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        use std::sync::atomic::Ordering::Relaxed;
        MetricsSnapshot {
            vault_bytes_received: self.vault_bytes_received.load(Relaxed),
            vault_objects_stored: self.vault_objects_stored.load(Relaxed),
        }
    }
}

impl AppState {
    /// The restic REST URL of a vault.
    pub fn vault_url(&self, account: &str, vault: &str) -> String {
        format!(
            "{}/vaults/{account}/{vault}/",
            self.public_url.trim_end_matches('/')
        )
    }
}

/// The server's clock: the system time plus an offset that only an admin may move, and only
/// when the server was started with the test clock enabled.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clock {
    pub(crate) offset_seconds: Arc<AtomicI64>,
    pub(crate) adjustable: bool,
}

impl Clock {
    pub fn new(adjustable: bool) -> Self {
        Self {
            offset_seconds: Arc::default(),
            adjustable,
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::seconds(self.offset_seconds.load(Ordering::SeqCst))
    }
}
