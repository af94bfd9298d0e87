//! The agent's backup policy, kept beside `agent.toml` as `policy.toml`: how a change is
//! merged into the stored policy, and what is checked before an offline policy is stored
//! (job name, import container, room in the staging location).

use std::path::{Path, PathBuf};

use seedship_api::{Client, Credentials};

use crate::error::{Error, Result};
use crate::format::{Offline, Policy};
use crate::staging::{JobDir, pending_backup, write_toml};

/// The policy's file name in the agent configuration directory.
const POLICY_FILE: &str = "policy.toml";

/// The agent's credentials file in the agent configuration directory.
const AGENT_FILE: &str = "agent.toml";

/// The configuration directory of a registered agent (it holds `agent.toml`).
#[derive(Debug, Clone)]
pub struct AgentDir(PathBuf);

impl AgentDir {
    /// `dir`, which must hold a registered agent's `agent.toml`.
    pub fn open(dir: PathBuf) -> Result<Self> {
        let agent = dir.join(AGENT_FILE);
        if !agent.exists() {
            return Err(Error::NotRegistered { path: agent });
        }
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `agent.toml`.
    pub fn credentials_file(&self) -> PathBuf {
        self.0.join(AGENT_FILE)
    }

    /// The `rest:` repository of the agent's vault, with its credentials (never to be shown:
    /// `seedship_repo::redact_passwords` hides the secret).
    ///
    /// # Errors
    ///
    /// [`Error::NotAnAgent`] or [`Error::VaultUrl`] when `agent.toml` is not an agent's.
    pub fn vault_repository(&self) -> Result<String> {
        Ok(crate::offline::AgentIdentity::load(&self.credentials_file())?.repository)
    }

    /// `policy.toml`.
    pub fn policy_file(&self) -> PathBuf {
        self.0.join(POLICY_FILE)
    }

    /// The stored policy and its text.
    pub fn policy(&self) -> Result<(Policy, String)> {
        let path = self.policy_file();
        self.stored_policy()?.ok_or(Error::NoPolicy { path })
    }

    /// The stored policy and its text, `None` if there is none.
    pub fn stored_policy(&self) -> Result<Option<(Policy, String)>> {
        let path = self.policy_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Read {
                    what: "policy ",
                    path,
                    source,
                });
            }
        };
        let policy = toml::from_str(&text).map_err(|source| Error::Parse {
            what: "policy ",
            path,
            source: Box::new(source),
        })?;
        Ok(Some((policy, text)))
    }
}

impl Offline {
    /// Offline settings, checked (the job name by the import service's rules, the staging
    /// directory made absolute); nothing is created.
    pub fn new(staging: &Path, job: &str, storage_account: &str, container: &str) -> Result<Self> {
        seedship_jobs::JobName::parse(job).map_err(|source| Error::JobName {
            name: job.to_owned(),
            source,
        })?;
        Ok(Self {
            staging: std::path::absolute(staging).map_err(|source| Error::Io {
                what: "staging directory",
                path: staging.to_owned(),
                source,
            })?,
            job: job.to_owned(),
            storage_account: storage_account.to_owned(),
            container: container.to_owned(),
        })
    }
}

/// What to do with a stored setting that a change may give, keep or drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<T> {
    /// Keep the stored value (none given).
    Keep,
    /// Drop the stored value.
    Drop,
    /// Replace it.
    Set(T),
}

impl<T: Clone> Change<T> {
    fn apply(&self, stored: Option<T>) -> Option<T> {
        match self {
            Change::Keep => stored,
            Change::Drop => None,
            Change::Set(value) => Some(value.clone()),
        }
    }
}

/// A change of the policy (`seedship policy set`): the paths are always given.
#[derive(Debug, Clone)]
pub struct PolicyChange {
    /// Files or directories to back up (made absolute).
    pub paths: Vec<PathBuf>,
    pub schedule: Option<String>,
    pub excludes: Change<Vec<String>>,
    pub offline: Change<Offline>,
    /// Whether an offline policy backs up nothing while its import job is not Completed
    /// (`None`: keep the stored setting).
    pub wait_for_import: Option<bool>,
    /// Allow abandoning an initial backup already staged or shipped.
    pub abandon_offline_backup: bool,
}

/// The policy stored by [`set_policy`].
#[derive(Debug)]
pub struct PolicySet {
    pub policy: Policy,
    /// Where it was written.
    pub path: PathBuf,
    /// The initial backup the change abandoned (it stays on disk, but will not seed the
    /// vault), described for the owner.
    pub abandoned: Option<String>,
}

/// Merges `change` into the stored policy: the given paths, and the schedule, excludes and
/// offline settings given, the stored ones kept where none are given. A change that would
/// abandon a staged or shipped initial backup is refused unless allowed.
pub fn merge(stored: Option<&Policy>, change: &PolicyChange) -> Result<(Policy, Option<String>)> {
    if let Some(schedule) = &change.schedule {
        schedule
            .parse::<croner::Cron>()
            .map_err(|source| Error::Schedule {
                schedule: schedule.clone(),
                source,
            })?;
    }
    let stored_offline = stored.and_then(|policy| policy.offline.clone());
    let offline = change.offline.apply(stored_offline.clone());
    let abandoned = stored_offline
        .as_ref()
        .filter(|old| offline.as_ref() != Some(*old))
        .and_then(pending_backup);
    if let Some(abandoned) = &abandoned
        && !change.abandon_offline_backup
    {
        return Err(Error::WouldAbandon {
            abandoned: abandoned.clone(),
        });
    }
    let policy = Policy {
        paths: change.paths.clone(),
        excludes: change
            .excludes
            .apply(stored.map(|policy| policy.excludes.clone()))
            .unwrap_or_default(),
        schedule: change
            .schedule
            .clone()
            .or_else(|| stored.and_then(|policy| policy.schedule.clone())),
        offline,
        wait_for_import: change
            .wait_for_import
            .unwrap_or_else(|| stored.is_some_and(|policy| policy.wait_for_import)),
    };
    Ok((policy, abandoned))
}

/// Stores a change of the policy of the agent in `dir` (see [`merge`]). New offline settings
/// are checked first: the import container must exist on the server (asked with the agent's
/// credentials) and the staging directory must have room for the initial backup (it is
/// created then). A refused change changes nothing.
pub fn set_policy(dir: &AgentDir, change: &PolicyChange) -> Result<PolicySet> {
    let path = dir.policy_file();
    let stored = dir.stored_policy()?.map(|(policy, _)| policy);
    let (policy, abandoned) = merge(stored.as_ref(), change)?;
    if let (Change::Set(_), Some(offline)) = (&change.offline, &policy.offline) {
        check_destination(dir, offline)?;
        prepare_staging(offline, &policy.paths)?;
    }
    write_toml(&path, &policy, "the policy")?;
    Ok(PolicySet {
        policy,
        path,
        abandoned,
    })
}

/// Asks the server (with the agent's credentials) whether the import container exists:
/// drives shipped to one that does not would only fail at the data centre.
fn check_destination(dir: &AgentDir, offline: &Offline) -> Result<()> {
    let credentials = Credentials::load(&dir.credentials_file())?;
    let client = Client::new(&credentials)?;
    let storage = &offline.storage_account;
    let containers = client.containers(storage).map_err(|source| Error::Destination {
        storage_account: storage.clone(),
        source,
    })?;
    if !containers.names.contains(&offline.container) {
        return Err(Error::NoContainer {
            storage_account: storage.clone(),
            container: offline.container.clone(),
        });
    }
    Ok(())
}

/// Total size of the regular files under `path` (the estimate of the initial backup: restic's
/// compression only shrinks it, so this never underestimates).
fn tree_size(path: &Path) -> Result<u64> {
    seedship_durable::tree_size(path).map_err(|source| Error::Io {
        what: "reading",
        path: path.to_owned(),
        source,
    })
}

/// Checks the staging directory has room for the initial backup of `paths` and creates it,
/// unless that backup is staged already (then it takes the room it needs). A refused check
/// creates nothing.
fn prepare_staging(offline: &Offline, paths: &[PathBuf]) -> Result<()> {
    if JobDir::new(&offline.staging, &offline.job).staged_file().exists() {
        return Ok(());
    }
    let staging = &offline.staging;
    let mut estimate = 0;
    for source in paths {
        estimate += tree_size(source)?;
    }
    // The file system it will be on: the nearest part of the path that exists.
    let existing = staging
        .ancestors()
        .find(|dir| dir.exists())
        .unwrap_or_else(|| Path::new("/"));
    let stat = rustix::fs::statvfs(existing).map_err(|errno| Error::Io {
        what: "free space for staging directory",
        path: staging.clone(),
        source: errno.into(),
    })?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    if free < estimate {
        return Err(Error::StagingFull {
            staging: staging.clone(),
            free,
            needed: estimate,
        });
    }
    std::fs::create_dir_all(staging).map_err(|source| Error::Io {
        what: "creating staging directory",
        path: staging.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline(staging: &Path, job: &str) -> Offline {
        Offline {
            staging: staging.to_owned(),
            job: job.into(),
            storage_account: "sa".into(),
            container: "c".into(),
        }
    }

    fn change(offline: Change<Offline>) -> PolicyChange {
        PolicyChange {
            paths: vec![PathBuf::from("/new")],
            schedule: None,
            excludes: Change::Keep,
            offline,
            wait_for_import: None,
            abandon_offline_backup: false,
        }
    }

    fn stored(offline: Option<Offline>) -> Policy {
        Policy {
            paths: vec![PathBuf::from("/old")],
            schedule: Some("0 3 * * *".into()),
            excludes: vec!["*.tmp".into()],
            offline,
            wait_for_import: true,
        }
    }

    #[test]
    fn settings_not_given_are_kept() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let old = stored(Some(offline(tmp.path(), "job-1")));
        let (policy, abandoned) = merge(Some(&old), &change(Change::Keep)).expect("merge");
        assert_eq!(policy.paths, [PathBuf::from("/new")]);
        assert_eq!(policy.schedule, old.schedule);
        assert_eq!(policy.excludes, old.excludes);
        assert_eq!(policy.offline, old.offline);
        assert!(policy.wait_for_import);
        assert_eq!(abandoned, None);
    }

    #[test]
    fn given_settings_replace_or_drop_the_stored_ones() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let old = stored(Some(offline(tmp.path(), "job-1")));
        let mut given = change(Change::Drop);
        given.schedule = Some("*/5 * * * *".into());
        given.excludes = Change::Drop;
        let (policy, _) = merge(Some(&old), &given).expect("merge");
        assert_eq!(policy.schedule.as_deref(), Some("*/5 * * * *"));
        assert!(policy.excludes.is_empty());
        assert_eq!(policy.offline, None);
        given.excludes = Change::Set(vec!["cache".into()]);
        let (policy, _) = merge(None, &given).expect("merge");
        assert_eq!(policy.excludes, ["cache"]);
    }

    #[test]
    fn a_schedule_must_be_a_cron_expression() {
        let mut given = change(Change::Keep);
        given.schedule = Some("every day".into());
        assert!(matches!(merge(None, &given), Err(Error::Schedule { .. })));
    }

    #[test]
    fn abandoning_a_staged_backup_needs_permission() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let old = stored(Some(offline(tmp.path(), "job-1")));
        let dir = JobDir::new(tmp.path(), "job-1");
        std::fs::create_dir_all(dir.path()).expect("mkdir");
        std::fs::write(dir.staged_file(), "").expect("write");
        let mut given = change(Change::Set(offline(tmp.path(), "job-2")));
        assert!(matches!(
            merge(Some(&old), &given),
            Err(Error::WouldAbandon { .. })
        ));
        // The same settings again abandon nothing.
        let same = change(Change::Set(offline(tmp.path(), "job-1")));
        assert_eq!(merge(Some(&old), &same).expect("merge").1, None);
        given.abandon_offline_backup = true;
        let (policy, abandoned) = merge(Some(&old), &given).expect("merge");
        assert_eq!(policy.offline.map(|o| o.job).as_deref(), Some("job-2"));
        assert!(abandoned.expect("abandoned").contains("import job job-1"));
        // Once seeded, nothing is lost.
        std::fs::write(dir.seeded_file(), "").expect("write");
        given.abandon_offline_backup = false;
        assert_eq!(merge(Some(&old), &given).expect("merge").1, None);
    }

    #[test]
    fn offline_settings_check_the_job_name() {
        assert!(matches!(
            Offline::new(Path::new("/s"), "x", "sa", "c"),
            Err(Error::JobName { .. })
        ));
        let ok = Offline::new(Path::new("rel"), "job-1", "sa", "c").expect("valid");
        assert!(ok.staging.is_absolute());
    }
}
