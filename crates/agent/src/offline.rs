//! Policy backups of a registered agent (`seedship backup` without paths, `seedship agent
//! run`). Under an offline policy the first backup goes to the staging location; until the
//! import job is Completed every run reports that it waits and backs up into the staged
//! repository (unless the policy waits for the import: then it backs up nothing); then the
//! vault is seeded from the job's container once, catches up with what the staged repository
//! gained after the drives were prepared, and every later backup goes over the network to the
//! vault. The server's record of the seed outlives the staging location.

use std::path::Path;

use seedship_api::{Client, ClientError, Credentials, SeedRequest, Seeded};
use seedship_jobs::JobState;
use seedship_progress::{Progress, Unit};
use seedship_repo::{BackupOptions, Excludes, Sources};

use crate::error::{Error, Result};
use crate::format::{Offline, Policy, SeededRecord, StagedJob};
use crate::policy::AgentDir;
use crate::staging::{JobDir, write_toml};

/// The backups a policy run makes, done by the caller (it owns the repository password and
/// shows the backup's summary).
pub trait Backups {
    /// The caller's error; errors of this crate become one.
    type Error: From<Error>;

    /// Backs `sources` up into the repository at `location` (created on first use); returns
    /// the repository's id and the snapshot's.
    fn backup(
        &mut self,
        location: &str,
        sources: &Sources,
        options: &BackupOptions,
    ) -> Result<(String, String), Self::Error>;

    /// The id of the (existing) repository at `location`.
    fn repository_id(&mut self, location: &str) -> Result<String, Self::Error>;
}

/// What one policy backup did.
#[derive(Debug)]
pub enum Outcome {
    /// A backup over the network into the vault.
    BackedUp,
    /// The initial backup was staged for its import job; next: prepare the drives.
    Staged { staged: StagedJob, dir: JobDir },
    /// The import job is not Completed yet; unless the policy waits for the import, the run
    /// backed up into the staged repository (the vault catches up after seeding).
    Waiting {
        /// Whether a backup into the staged repository was made.
        backed_up: bool,
        job: String,
        /// The job's state; `None` when it is not on the server yet.
        state: Option<JobState>,
        dir: JobDir,
        /// What the owner has to do to go on; `None` while it is the carrier's or the data
        /// centre's turn.
        next: Option<String>,
    },
    /// The import job was cancelled: its drives will not seed the vault.
    Cancelled { job: String, dir: JobDir },
    /// The vault was seeded from the import (recorded in `seeded.toml`); nothing was backed
    /// up yet: the next policy backup goes to the vault.
    Seeded { job: String, record: SeededRecord },
}

/// The agent's identity from `agent.toml`.
pub(crate) struct AgentIdentity {
    pub(crate) credentials: Credentials,
    account: String,
    pub(crate) vault: String,
    /// `rest:` repository of the vault with the agent's credentials.
    pub(crate) repository: String,
}

impl AgentIdentity {
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let credentials = Credentials::load(path)?;
        let Credentials::Agent {
            account,
            vault,
            url,
            id,
            secret,
            ..
        } = &credentials
        else {
            return Err(Error::NotAnAgent {
                path: path.to_owned(),
                kind: credentials.kind(),
            });
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| Error::VaultUrl {
            url: url.clone(),
            path: path.to_owned(),
        })?;
        Ok(Self {
            account: account.clone(),
            vault: vault.clone(),
            repository: format!("rest:{scheme}://{id}:{secret}@{rest}"),
            credentials,
        })
    }
}

/// What the owner has to do for an import job in `state` (`None`: not on the server) to go
/// on; `None` while it is the carrier's or the data centre's turn. A Closed job can still
/// complete: a repair sends what its error logs name.
pub fn next_step(state: Option<JobState>, job: &str, dir: &JobDir) -> Option<String> {
    let staging = dir.staging();
    match state {
        None => Some(format!(
            "prepare the drives and create the job: seedship diskprep --staging {}",
            staging.display()
        )),
        Some(JobState::Creating) => Some(format!(
            "ship the drives and record it: seedship diskprep --staging {} --ship",
            staging.display()
        )),
        Some(JobState::Closed) => Some(format!(
            "the import ended with drive problems: `seedship job logs {job}` names them; \
             `seedship drive repair --credentials <FILE> --job {job} --journal {} --srcdir {}` \
             re-sends them, for each drive with problems",
            dir.journals_dir().join("drive-<n>.jrn").display(),
            dir.repository().display()
        )),
        Some(_) => None,
    }
}

/// A policy backup of the agent in `dir`, ready to run.
pub struct PolicyBackup {
    dir: AgentDir,
    policy: Policy,
}

impl PolicyBackup {
    /// The policy of the agent in `dir`.
    pub fn load(dir: AgentDir) -> Result<Self> {
        let (policy, _) = dir.policy()?;
        Ok(Self { dir, policy })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Runs one step of the policy: a backup to the vault (online policy, or once seeded),
    /// the initial backup into the staging location, a check of the import job (waiting,
    /// cancelled), or the vault's seeding from a completed import. `options`' excludes are
    /// added to the policy's.
    pub fn run<B: Backups>(
        &self,
        options: &BackupOptions,
        progress: &dyn Progress,
        backups: &mut B,
    ) -> Result<Outcome, B::Error> {
        let stored = Excludes::new(self.policy.excludes.clone()).map_err(|source| Error::PolicyExcludes {
            dir: self.dir.path().to_owned(),
            source,
        })?;
        let options = BackupOptions {
            excludes: stored.and(&options.excludes),
            ..options.clone()
        };
        let agent = AgentIdentity::load(&self.dir.credentials_file())?;
        let sources = Sources::new(&self.policy.paths).map_err(Error::Repo)?;
        let to_vault = |backups: &mut B| {
            backups
                .backup(&agent.repository, &sources, &options)
                .map(|_| Outcome::BackedUp)
        };
        let Some(offline) = &self.policy.offline else {
            return to_vault(backups);
        };
        let dir = JobDir::new(&offline.staging, &offline.job);
        if dir.seeded_file().exists() {
            return to_vault(backups);
        }
        let client = Client::new(&agent.credentials).map_err(Error::Client)?;
        let staging_found = offline.staging.is_dir();
        let staged = if staging_found { dir.staged()? } else { None };
        let Some(staged) = staged else {
            // No staged backup here: the staging location was lost or cleaned after the
            // vault was seeded from this job (the server says so), or it is the first backup.
            if seeded_from(&client, &agent, offline)? {
                return to_vault(backups);
            }
            if !staging_found {
                return Err(Error::StagingMissing {
                    path: offline.staging.clone(),
                }
                .into());
            }
            // The first backup of an offline policy, into `<staging>/<job>/repository`; the
            // staging location itself is never created here (`policy set` made it).
            dir.create()?;
            let _lock = dir.lock()?;
            let location = dir.repository().display().to_string();
            let (repository_id, snapshot_id) = backups.backup(&location, &sources, &options)?;
            let staged = StagedJob {
                job: offline.job.clone(),
                account: agent.account.clone(),
                storage_account: offline.storage_account.clone(),
                container: offline.container.clone(),
                prefix: offline.job.clone(),
                repository_id,
                snapshot_id,
                paths: self.policy.paths.clone(),
            };
            dir.record_staged(&staged)?;
            return Ok(Outcome::Staged { staged, dir });
        };
        let state = match client.job(&staged.account, &staged.job) {
            Ok(detail) => Some(detail.summary.state),
            Err(ClientError::Api { status: 404, .. }) => None,
            Err(source) => {
                return Err(Error::Job {
                    doing: "asking the server about",
                    job: staged.job.clone(),
                    source,
                }
                .into());
            }
        };
        match state {
            Some(JobState::Cancelled) => Ok(Outcome::Cancelled { job: staged.job, dir }),
            Some(JobState::Completed) => {
                let record = seed(&client, progress, &agent, &staged, &dir, backups)?;
                Ok(Outcome::Seeded {
                    job: staged.job,
                    record,
                })
            }
            state => {
                // No backup gap while the drives travel: an incremental into the staged
                // repository (the drives carry what was there when they were planned).
                let backed_up = !self.policy.wait_for_import;
                if backed_up {
                    let _lock = dir.lock()?;
                    let location = dir.repository().display().to_string();
                    backups.backup(&location, &sources, &options)?;
                }
                Ok(Outcome::Waiting {
                    next: next_step(state, &staged.job, &dir),
                    backed_up,
                    job: staged.job,
                    state,
                    dir,
                })
            }
        }
    }
}

/// Whether the server recorded that the agent's vault was seeded from the import job of
/// `offline` (its container and folder).
fn seeded_from(client: &Client, agent: &AgentIdentity, offline: &Offline) -> Result<bool> {
    let vault = client.vault(&agent.vault).map_err(|source| Error::Vault {
        vault: agent.vault.clone(),
        source,
    })?;
    Ok(vault.seeded.is_some_and(|seed| {
        seed.job == offline.job
            && seed.storage_account == offline.storage_account
            && seed.container == offline.container
    }))
}

/// Asks the server to adopt the imported repository into the vault, checks the vault is the
/// staged repository, uploads what the staged repository gained after the drives were planned
/// (the catch-up) and records it all in `seeded.toml`.
fn seed<B: Backups>(
    client: &Client,
    progress: &dyn Progress,
    agent: &AgentIdentity,
    staged: &StagedJob,
    dir: &JobDir,
    backups: &mut B,
) -> Result<SeededRecord, B::Error> {
    let request = SeedRequest {
        storage_account: staged.storage_account.clone(),
        container: staged.container.clone(),
        prefix: staged.prefix.clone(),
        repository_id: Some(staged.repository_id.clone()),
    };
    let report = seed_vault(client, progress, &agent.vault, &request).map_err(|source| Error::Seed {
        what: format!(
            "{} from container {}/{} (folder {})",
            agent.vault, staged.storage_account, staged.container, staged.prefix
        ),
        source,
    })?;
    let found = backups.repository_id(&agent.repository)?;
    if found != staged.repository_id {
        return Err(Error::WrongVault {
            vault: agent.vault.clone(),
            found,
            staged: staged.repository_id.clone(),
            job: staged.job.clone(),
        }
        .into());
    }
    // The catch-up: what the staged repository gained after the drives were planned (backups
    // while they travelled), byte for byte; the vault then holds every staged snapshot.
    let caught_up = {
        let _lock = dir.lock()?;
        let staged_repository = dir.repository().display().to_string();
        seedship_repo::copy_missing_files(&staged_repository, &agent.repository, progress).map_err(
            |source| Error::CatchUp {
                vault: agent.vault.clone(),
                source,
            },
        )?
    };
    let record = SeededRecord {
        vault: agent.vault.clone(),
        repository_id: staged.repository_id.clone(),
        report,
        caught_up,
    };
    write_toml(&dir.seeded_file(), &record, "seeded.toml")?;
    Ok(record)
}

/// Has the server seed `vault` from the repository `request` names, showing the seed's
/// progress (bytes verified and copied) while it runs.
pub fn seed_vault(
    client: &Client,
    progress: &dyn Progress,
    vault: &str,
    request: &SeedRequest,
) -> Result<Seeded, ClientError> {
    let task = progress.task(&format!("seeding vault {vault}"), Unit::Bytes, None);
    task.set_message("listing the imported repository");
    let seeded = client.seed_vault(vault, request, &mut |running| {
        // Until the listing found something, a total of 0 B would read as "nothing to do".
        if running.bytes > 0 {
            task.set_message("");
            task.set_total(running.bytes);
            task.set_position(running.bytes_done);
        }
    });
    task.finish();
    seeded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Offline;

    /// Backups that only record where they went.
    #[derive(Default)]
    struct Recorded {
        locations: Vec<String>,
        excludes: Vec<Excludes>,
    }

    impl Backups for Recorded {
        type Error = Error;

        fn backup(
            &mut self,
            location: &str,
            _: &Sources,
            options: &BackupOptions,
        ) -> Result<(String, String)> {
            self.locations.push(location.to_owned());
            self.excludes.push(options.excludes.clone());
            Ok(("repo-id".into(), "snap-id".into()))
        }

        fn repository_id(&mut self, _: &str) -> Result<String> {
            Ok("repo-id".into())
        }
    }

    /// A registered agent (of a server nobody listens at) with `policy`, in `tmp`.
    fn agent(tmp: &Path, offline: Option<Offline>) -> PolicyBackup {
        let config = tmp.join("config");
        Credentials::Agent {
            server: "http://127.0.0.1:1".into(),
            account: "acme".into(),
            vault: "v".into(),
            url: "http://127.0.0.1:1/vaults/acme/v".into(),
            id: "agt-1".into(),
            secret: "s3cret".into(),
        }
        .save(&config.join("agent.toml"))
        .expect("agent.toml");
        let source = tmp.join("data");
        std::fs::create_dir_all(&source).expect("mkdir");
        let policy = Policy {
            paths: vec![source],
            schedule: None,
            excludes: vec!["*.tmp".into()],
            offline,
            wait_for_import: false,
        };
        write_toml(&config.join("policy.toml"), &policy, "the policy").expect("policy.toml");
        PolicyBackup::load(AgentDir::open(config).expect("registered")).expect("policy")
    }

    const VAULT: &str = "rest:http://agt-1:s3cret@127.0.0.1:1/vaults/acme/v";

    /// Offline settings with a staging location in `tmp` (created, as `policy set` does).
    fn offline(tmp: &Path) -> Offline {
        std::fs::create_dir_all(tmp.join("staging")).expect("mkdir staging");
        Offline {
            staging: tmp.join("staging"),
            job: "job-1".into(),
            storage_account: "sa".into(),
            container: "c".into(),
        }
    }

    fn run(policy: &PolicyBackup, backups: &mut Recorded) -> Result<Outcome> {
        policy.run(&BackupOptions::default(), &seedship_progress::NoProgress, backups)
    }

    #[test]
    fn an_online_policy_backs_up_to_the_vault_with_its_excludes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let policy = agent(tmp.path(), None);
        let mut backups = Recorded::default();
        assert!(matches!(run(&policy, &mut backups), Ok(Outcome::BackedUp)));
        assert_eq!(backups.locations, [VAULT]);
        assert_eq!(backups.excludes[0].patterns(), ["*.tmp"]);
    }

    #[test]
    fn an_offline_policy_asks_the_server_whether_the_vault_was_seeded_first() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let policy = agent(tmp.path(), Some(offline(tmp.path())));
        let mut backups = Recorded::default();
        // Nobody listens: no backup anywhere, not even the first one into the staging.
        let err = run(&policy, &mut backups).expect_err("no server");
        assert!(matches!(err, Error::Vault { .. }), "{err:?}");
        assert!(backups.locations.is_empty());
        assert!(!tmp.path().join("staging/job-1").exists());
    }

    #[test]
    fn once_seeded_backups_go_to_the_vault() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let policy = agent(tmp.path(), Some(offline(tmp.path())));
        let dir = JobDir::new(&tmp.path().join("staging"), "job-1");
        std::fs::create_dir_all(dir.path()).expect("mkdir");
        std::fs::write(dir.seeded_file(), "").expect("seeded.toml");
        let mut backups = Recorded::default();
        assert!(matches!(run(&policy, &mut backups), Ok(Outcome::BackedUp)));
        assert_eq!(backups.locations, [VAULT]);
    }

    #[test]
    fn the_next_step_is_the_owners_only_when_it_is_their_turn() {
        let dir = JobDir::new(Path::new("/staging"), "job-1");
        let step = |state| next_step(state, "job-1", &dir);
        assert!(
            step(None)
                .expect("owner")
                .contains("seedship diskprep --staging /staging")
        );
        assert!(step(Some(JobState::Creating)).expect("owner").ends_with("--ship"));
        assert!(
            step(Some(JobState::Closed)).expect("owner").contains(
                "--journal /staging/job-1/journals/drive-<n>.jrn --srcdir /staging/job-1/repository"
            )
        );
        for state in [JobState::Shipping, JobState::Received, JobState::Transferring] {
            assert_eq!(step(Some(state)), None, "{state:?}");
        }
    }
}
