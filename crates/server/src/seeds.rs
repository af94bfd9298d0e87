//! The seeds running on this server, by vault: a registry that the server's state holds and
//! the seed handler (`crate::seed`) starts and joins. It also holds the imported folders being
//! deleted (`crate::lifecycle`), so that a seed never starts from a folder being deleted and
//! a folder is never deleted while a seed reads it: both are checked under one lock.

use std::collections::{HashMap, HashSet};
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
    /// The account whose container it reads.
    account: String,
    /// The vault's name, for messages.
    vault: String,
    source: SeedRequest,
    status: watch::Receiver<SeedStatus>,
}

impl SeedTask {
    fn running(&self) -> bool {
        matches!(*self.status.borrow(), SeedStatus::Running(_))
    }
}

/// A folder of a container of an account: what a seed reads and a deletion deletes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Folder {
    pub account: String,
    pub storage_account: String,
    pub container: String,
    /// Without leading or trailing `/`; empty for the container's root.
    pub folder: String,
}

impl Folder {
    /// Whether the two folders share a blob: one of them holds the other.
    fn overlaps(&self, other: &Folder) -> bool {
        let within = |inner: &str, outer: &str| {
            outer.is_empty() || inner == outer || inner.starts_with(&format!("{outer}/"))
        };
        self.account == other.account
            && self.storage_account == other.storage_account
            && self.container == other.container
            && (within(&self.folder, &other.folder) || within(&other.folder, &self.folder))
    }

    fn of_seed(task: &SeedTask) -> Folder {
        Folder {
            account: task.account.clone(),
            storage_account: task.source.storage_account.clone(),
            container: task.source.container.clone(),
            folder: task.source.prefix.trim_matches('/').to_owned(),
        }
    }
}

#[derive(Debug, Default)]
struct Registry {
    /// The seeds, by vault id.
    seeds: HashMap<String, SeedTask>,
    /// The folders being deleted.
    deleting: HashSet<Folder>,
}

/// The seeds of this server, by vault id. A finished seed stays until one request has
/// collected its outcome, so a client that asked again after a timeout still gets it.
#[derive(Debug, Default)]
pub(crate) struct Seeds(Mutex<Registry>);

/// A folder being deleted: no seed starts from it until this is dropped.
#[derive(Debug)]
pub(crate) struct Deleting<'a> {
    seeds: &'a Seeds,
    folder: Folder,
}

impl Drop for Deleting<'_> {
    fn drop(&mut self) {
        self.seeds.lock().deleting.remove(&self.folder);
    }
}

impl Seeds {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a seed of vault `vault_id` runs (one that finished, collected or not, does not).
    pub(crate) fn seeding(&self, vault_id: &str) -> bool {
        self.lock().seeds.get(vault_id).is_some_and(SeedTask::running)
    }

    /// Marks `folder` as being deleted, unless a seed of this server reads it or it is being
    /// deleted already (409 `InUse`, naming the seeded vault).
    pub(crate) fn begin_delete(&self, folder: Folder) -> Result<Deleting<'_>, ApiError> {
        let mut registry = self.lock();
        if let Some(task) = registry
            .seeds
            .values()
            .filter(|task| task.running())
            .find(|task| Folder::of_seed(task).overlaps(&folder))
        {
            return Err(in_use(format!(
                "a seed of vault {} reads {}/{} folder {:?}: delete the imported blobs once it has finished",
                task.vault, folder.storage_account, folder.container, folder.folder
            )));
        }
        if !registry.deleting.insert(folder.clone()) {
            return Err(in_use(format!(
                "{}/{} folder {:?} is being deleted already",
                folder.storage_account, folder.container, folder.folder
            )));
        }
        Ok(Deleting { seeds: self, folder })
    }

    /// The running (or finished, uncollected) seed of `vault_id` from `source` in a container
    /// of `account`, started with `start` if there is none; refused (409 `InUse`) while the
    /// source folder is being deleted.
    pub(crate) fn join(
        &self,
        account: &str,
        vault_id: &str,
        vault: &str,
        source: &SeedRequest,
        start: impl FnOnce(watch::Sender<SeedStatus>),
    ) -> Result<watch::Receiver<SeedStatus>, ApiError> {
        let mut registry = self.lock();
        let wanted = Folder {
            account: account.to_owned(),
            storage_account: source.storage_account.clone(),
            container: source.container.clone(),
            folder: source.prefix.trim_matches('/').to_owned(),
        };
        if registry.deleting.iter().any(|folder| folder.overlaps(&wanted)) {
            return Err(in_use(format!(
                "{}/{} folder {:?} is being deleted: vault {vault} cannot be seeded from it",
                source.storage_account, source.container, wanted.folder
            )));
        }
        let seeds = &mut registry.seeds;
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
                account: account.to_owned(),
                vault: vault.to_owned(),
                source: source.clone(),
                status: status.clone(),
            },
        );
        start(sender);
        Ok(status)
    }

    /// How many seeds are running now.
    pub(crate) fn running(&self) -> usize {
        self.lock()
            .seeds
            .values()
            .filter(|task| matches!(*task.status.borrow(), SeedStatus::Running(_)))
            .count()
    }

    /// Forgets the finished seed `status` of `vault_id` (its outcome was delivered).
    pub(crate) fn collect(&self, vault_id: &str, status: &watch::Receiver<SeedStatus>) {
        let seeds = &mut self.lock().seeds;
        if seeds
            .get(vault_id)
            .is_some_and(|task| task.status.same_channel(status))
        {
            seeds.remove(vault_id);
        }
    }
}

/// 409 `InUse`: something (a seed, a job that has not ended) still uses what is to be deleted.
pub(crate) fn in_use(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, ErrorCode::InUse, message)
}

pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, ErrorCode::SeedConflict, message)
}

#[cfg(test)]
mod tests {
    use super::{Folder, SeedStatus, Seeds};
    use seedship_api::{ErrorCode, SeedRequest};

    fn folder(account: &str, container: &str, folder: &str) -> Folder {
        Folder {
            account: account.into(),
            storage_account: "sa".into(),
            container: container.into(),
            folder: folder.into(),
        }
    }

    fn source(container: &str, prefix: &str) -> SeedRequest {
        SeedRequest {
            storage_account: "sa".into(),
            container: container.into(),
            prefix: prefix.into(),
            repository_id: None,
        }
    }

    #[test]
    fn folders_overlap_when_one_holds_the_other() {
        let job = folder("acme", "seeds", "host1");
        assert!(job.overlaps(&folder("acme", "seeds", "host1")));
        assert!(job.overlaps(&folder("acme", "seeds", "host1/repository")));
        assert!(job.overlaps(&folder("acme", "seeds", "")));
        assert!(!job.overlaps(&folder("acme", "seeds", "host10")));
        assert!(!job.overlaps(&folder("acme", "other", "host1")));
        assert!(!job.overlaps(&folder("globex", "seeds", "host1")));
    }

    /// A running seed keeps its folder from being deleted, and a folder being deleted keeps a
    /// seed from starting; both are refused with `InUse` naming why.
    #[test]
    fn a_seed_and_a_deletion_of_one_folder_exclude_each_other() {
        let seeds = Seeds::default();
        let mut sender = None;
        seeds
            .join(
                "acme",
                "vlt-1",
                "laptop",
                &source("seeds", "host1/repository"),
                |s| {
                    sender = Some(s);
                },
            )
            .expect("seed starts");
        let refused = seeds
            .begin_delete(folder("acme", "seeds", "host1"))
            .expect_err("a seed reads the folder");
        assert_eq!(refused.code, ErrorCode::InUse);
        assert!(refused.message.contains("vault laptop"), "{}", refused.message);
        seeds
            .begin_delete(folder("acme", "seeds", "host2"))
            .expect("another folder");
        sender
            .expect("started")
            .send_replace(SeedStatus::Done(Err(crate::error::ApiError::internal("x"))));
        assert!(!seeds.seeding("vlt-1"), "a finished seed does not hold its vault");
        let deleting = seeds
            .begin_delete(folder("acme", "seeds", "host1"))
            .expect("the seed finished");
        let refused = seeds
            .join("acme", "vlt-2", "desktop", &source("seeds", "host1"), |_| {})
            .expect_err("the folder is being deleted");
        assert_eq!(refused.code, ErrorCode::InUse);
        assert_eq!(
            seeds
                .begin_delete(folder("acme", "seeds", "host1"))
                .expect_err("being deleted already")
                .code,
            ErrorCode::InUse
        );
        drop(deleting);
        seeds
            .join("acme", "vlt-2", "desktop", &source("seeds", "host1"), |_| {})
            .expect("deletion over");
        assert!(seeds.seeding("vlt-2"));
    }
}
