//! The seeds running on this server, by vault: a registry that the server's state holds and
//! the seed handler (`crate::seed`) starts and joins.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::StatusCode;
use seedship_api::{ErrorCode, SeedProgress, SeedReport, SeedRequest};
use tokio::sync::watch;

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub(crate) enum SeedStatus {
    Running(SeedProgress),
    Done(Result<SeedReport, ApiError>),
}

/// A seed started by some request; later requests for the same vault and source join it.
#[derive(Debug)]
struct SeedTask {
    source: SeedRequest,
    status: watch::Receiver<SeedStatus>,
}

/// The seeds of this server, by vault id. A finished seed stays until one request has
/// collected its outcome, so a client that asked again after a timeout still gets it.
#[derive(Debug, Default)]
pub(crate) struct Seeds(Mutex<HashMap<String, SeedTask>>);

impl Seeds {
    /// The running (or finished, uncollected) seed of `vault_id` from `source`, started with
    /// `start` if there is none.
    pub(crate) fn join(
        &self,
        vault_id: &str,
        vault: &str,
        source: &SeedRequest,
        start: impl FnOnce(watch::Sender<SeedStatus>),
    ) -> Result<watch::Receiver<SeedStatus>, ApiError> {
        let mut seeds = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(task) = seeds.get(vault_id) {
            if task.source != *source {
                return Err(conflict(format!(
                    "vault {vault} is being seeded from {}/{} (folder {:?}) already",
                    task.source.storage_account, task.source.container, task.source.prefix
                )));
            }
            return Ok(task.status.clone());
        }
        let (sender, status) = watch::channel(SeedStatus::Running(SeedProgress::default()));
        seeds.insert(
            vault_id.to_owned(),
            SeedTask {
                source: source.clone(),
                status: status.clone(),
            },
        );
        start(sender);
        Ok(status)
    }

    /// How many seeds are running now.
    pub(crate) fn running(&self) -> usize {
        let seeds = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seeds
            .values()
            .filter(|task| matches!(*task.status.borrow(), SeedStatus::Running(_)))
            .count()
    }

    /// Forgets the finished seed `status` of `vault_id` (its outcome was delivered).
    pub(crate) fn collect(&self, vault_id: &str, status: &watch::Receiver<SeedStatus>) {
        let mut seeds = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seeds
            .get(vault_id)
            .is_some_and(|task| task.status.same_channel(status))
        {
            seeds.remove(vault_id);
        }
    }
}

pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, ErrorCode::SeedConflict, message)
}
