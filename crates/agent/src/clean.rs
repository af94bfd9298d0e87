//! `seedship staging clean`: what the staging location no longer needs once the vault is
//! seeded from it and verified. The staged repository goes, and the journals: a repair
//! re-sends files with them until the import job has ended, and a vault is seeded only from a
//! Completed job, which has. The small records (`job.toml`, `shipping.json`, `seeded.toml`)
//! stay, so the state of the offline backup stays readable.

use std::path::PathBuf;

use seedship_api::Client;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::offline::AgentIdentity;
use crate::policy::AgentDir;
use crate::staging::JobDir;

/// What [`clean_staging`] did.
#[derive(Debug, Serialize)]
pub struct Cleaned {
    /// The job's directory in the staging location.
    pub job_dir: PathBuf,
    /// What was removed (the staged repository, the journals), none when cleaned before.
    pub removed: Vec<PathBuf>,
    /// The size of the files removed.
    pub bytes: u64,
}

/// Removes what the staging location of the offline policy of the agent in `dir` no longer
/// needs: the staged repository and the journals. Refused ([`Error::StagingNeeded`], nothing removed) unless the vault was seeded
/// from the policy's import job and verified: `seeded.toml` is there (written once the agent
/// checked that the vault holds the staged repository and caught it up) and the server
/// recorded that seed with the staged repository's id.
pub fn clean_staging(dir: &AgentDir) -> Result<Cleaned> {
    let (policy, _) = dir.policy()?;
    let offline = policy.offline.ok_or_else(|| Error::NotOffline {
        path: dir.policy_file(),
    })?;
    if !offline.staging.is_dir() {
        return Err(Error::StagingMissing {
            path: offline.staging.clone(),
        });
    }
    let job_dir = JobDir::new(&offline.staging, &offline.job);
    let needed = |reason: String| Error::StagingNeeded {
        dir: job_dir.path().to_owned(),
        reason,
    };
    let Some(staged) = job_dir.staged()? else {
        return Err(needed(format!(
            "no initial backup is staged there for import job {}",
            offline.job
        )));
    };
    if !job_dir.seeded_file().exists() {
        return Err(needed(format!(
            "the vault was not seeded from import job {} yet (a policy backup seeds it once the job is Completed)",
            offline.job
        )));
    }
    let agent = AgentIdentity::load(&dir.credentials_file())?;
    let client = Client::new(&agent.credentials).map_err(Error::Client)?;
    let vault = client.vault(&agent.vault).map_err(|source| Error::Vault {
        vault: agent.vault.clone(),
        source,
    })?;
    let recorded = vault.seeded.as_ref().is_some_and(|seed| {
        seed.job == offline.job
            && seed.container == offline.container
            && seed.storage_account == offline.storage_account
            && seed.repository_id.as_deref() == Some(staged.repository_id.as_str())
    });
    if !recorded {
        return Err(needed(format!(
            "the server has no record that vault {} was seeded from import job {} with repository {}",
            agent.vault, offline.job, staged.repository_id
        )));
    }
    let _lock = job_dir.try_lock()?.ok_or_else(|| Error::StagedLocked {
        repository: job_dir.repository(),
    })?;
    let mut removed = Vec::new();
    let mut bytes = 0;
    // The seed needed a Completed job: it has ended, so no repair needs the journals.
    let gone = [job_dir.repository(), job_dir.journals_dir()];
    for path in gone.into_iter().filter(|path| path.exists()) {
        bytes += seedship_durable::tree_size(&path).map_err(|source| Error::Io {
            what: "reading",
            path: path.clone(),
            source,
        })?;
        std::fs::remove_dir_all(&path).map_err(|source| Error::Io {
            what: "removing",
            path: path.clone(),
            source,
        })?;
        removed.push(path);
    }
    Ok(Cleaned {
        job_dir: job_dir.path().to_owned(),
        removed,
        bytes,
    })
}
