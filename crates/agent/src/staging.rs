//! The staging layout: one directory per import job in a staging location,
//! `<staging>/<job>/` with the staged repository, `job.toml`, the drives' journals,
//! `shipping.json` and `seeded.toml` (docs/design.md, "Offline backup on the agent").

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::{Offline, ShippingRecord, StagedJob};

/// One import job's directory in a staging location: `<staging>/<job>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDir(PathBuf);

impl JobDir {
    pub fn new(staging: &Path, job: &str) -> Self {
        Self(staging.join(job))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The staging location holding this directory.
    pub fn staging(&self) -> &Path {
        self.0.parent().unwrap_or(&self.0)
    }

    /// The initial backup, a restic repository that becomes the vault's.
    pub fn repository(&self) -> PathBuf {
        self.0.join("repository")
    }

    /// `job.toml`, written once the initial backup is complete.
    pub fn staged_file(&self) -> PathBuf {
        self.0.join("job.toml")
    }

    /// The drives' journals, kept off the drives.
    pub fn journals_dir(&self) -> PathBuf {
        self.0.join("journals")
    }

    /// The journal of drive `index` (1-based).
    pub fn journal(&self, index: usize) -> PathBuf {
        self.journals_dir().join(format!("drive-{index}.jrn"))
    }

    /// The journals of the prepared drives, in drive order.
    pub fn journals(&self) -> Vec<PathBuf> {
        (1..)
            .map(|index| self.journal(index))
            .take_while(|journal| journal.exists())
            .collect()
    }

    /// The shipping details recorded by `seedship diskprep --ship`.
    pub fn shipping_file(&self) -> PathBuf {
        self.0.join("shipping.json")
    }

    /// `seeded.toml`: the vault was seeded from the import; backups go to the vault.
    pub fn seeded_file(&self) -> PathBuf {
        self.0.join("seeded.toml")
    }

    /// Creates this directory (if missing) in its staging location, which must exist.
    pub(crate) fn create(&self) -> Result<()> {
        match std::fs::create_dir(&self.0) {
            Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => Err(Error::Io {
                what: "creating job directory",
                path: self.0.clone(),
                source: err,
            }),
            _ => Ok(()),
        }
    }

    /// `staging.lock`: see [`StagingLock`].
    fn lock_file(&self) -> PathBuf {
        self.0.join("staging.lock")
    }

    /// Takes the [`StagingLock`], waiting while another process holds it.
    pub(crate) fn lock(&self) -> Result<StagingLock> {
        self.take_lock(rustix::fs::FlockOperation::LockExclusive)?
            .ok_or_else(|| Error::Io {
                what: "locking",
                path: self.lock_file(),
                source: std::io::ErrorKind::WouldBlock.into(),
            })
    }

    /// Takes the [`StagingLock`]; `None` while another process holds it.
    pub(crate) fn try_lock(&self) -> Result<Option<StagingLock>> {
        self.take_lock(rustix::fs::FlockOperation::NonBlockingLockExclusive)
    }

    fn take_lock(&self, operation: rustix::fs::FlockOperation) -> Result<Option<StagingLock>> {
        let path = self.lock_file();
        let io = |source| Error::Io {
            what: "locking",
            path: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match rustix::fs::flock(&file, operation) {
            Ok(()) => Ok(Some(StagingLock { _file: file })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(errno) => Err(io(errno.into())),
        }
    }

    /// The staged job of this directory, `None` before the initial backup completed.
    pub fn staged(&self) -> Result<Option<StagedJob>> {
        let path = self.staged_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(toml::from_str(&text).map_err(|source| Error::Parse {
                what: "",
                path,
                source: Box::new(source),
            })?)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Read {
                what: "",
                path,
                source,
            }),
        }
    }

    /// Records the shipment of the drives (`shipping.json`).
    pub fn record_shipping(&self, record: &ShippingRecord) -> Result<()> {
        // Through a JSON value, whose keys are sorted, as the file was always written.
        let text = serde_json::to_value(record)
            .and_then(|value| serde_json::to_string_pretty(&value))
            .map_err(|source| Error::Json { source })?;
        let path = self.shipping_file();
        seedship_durable::write(&path, text.as_bytes()).map_err(|source| Error::Write { path, source })
    }

    /// Records the completed initial backup (`job.toml`).
    pub(crate) fn record_staged(&self, staged: &StagedJob) -> Result<()> {
        write_toml(&self.staged_file(), staged, "job.toml")
    }
}

/// An exclusive lock (`flock`) on `<staging>/<job>/staging.lock`, off the drives: a backup
/// into the staged repository holds it while it writes, `diskprep` while it lists the staged
/// repository for the drives, and the catch-up while it copies from it. So a listing never
/// sees part of a backup (a snapshot without its packs), and the drives carry a consistent
/// repository: what was there when they were planned. Released when dropped.
#[derive(Debug)]
pub struct StagingLock {
    _file: std::fs::File,
}

/// Encodes `value` and writes it to `path` atomically and durably.
pub(crate) fn write_toml(path: &Path, value: &impl serde::Serialize, what: &'static str) -> Result<()> {
    let text = toml::to_string(value).map_err(|source| Error::Encode { what, source })?;
    seedship_durable::write(path, text.as_bytes()).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// The import jobs with a completed initial backup in `staging`, sorted; `None` when the
/// staging location does not exist (a disk or share not mounted?).
pub fn staged_jobs(staging: &Path) -> Result<Option<Vec<String>>> {
    let listing = match std::fs::read_dir(staging) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        listing => listing.map_err(|source| Error::Io {
            what: "listing staging location",
            path: staging.to_owned(),
            source,
        })?,
    };
    let mut jobs = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|source| Error::Io {
            what: "listing",
            path: staging.to_owned(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if JobDir::new(staging, &name).staged_file().exists() {
            jobs.push(name);
        }
    }
    jobs.sort();
    Ok(Some(jobs))
}

/// An initial backup of `offline` that is staged (or shipped) but has not seeded the vault
/// yet, described for the owner; `None` when there is nothing to lose.
pub fn pending_backup(offline: &Offline) -> Option<String> {
    let dir = JobDir::new(&offline.staging, &offline.job);
    if !dir.staged_file().exists() || dir.seeded_file().exists() {
        return None;
    }
    let progress = if dir.shipping_file().exists() {
        ", its drives shipped"
    } else if !dir.journals().is_empty() {
        ", its drives prepared"
    } else {
        ""
    };
    Some(format!(
        "the initial backup staged in {} for import job {} (container {}/{}{progress})",
        dir.path().display(),
        offline.job,
        offline.storage_account,
        offline.container
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline(staging: &Path) -> Offline {
        Offline {
            staging: staging.to_owned(),
            job: "job-1".into(),
            storage_account: "sa".into(),
            container: "c".into(),
        }
    }

    #[test]
    fn a_pending_backup_is_staged_and_not_seeded() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let offline = offline(tmp.path());
        let dir = JobDir::new(tmp.path(), "job-1");
        assert_eq!(pending_backup(&offline), None);
        std::fs::create_dir_all(dir.journals_dir()).expect("mkdir");
        std::fs::write(dir.staged_file(), "").expect("write");
        let staged = pending_backup(&offline).expect("pending");
        assert!(staged.ends_with("(container sa/c)"), "{staged}");
        std::fs::write(dir.journal(1), "").expect("write");
        assert!(
            pending_backup(&offline)
                .expect("pending")
                .contains("drives prepared")
        );
        std::fs::write(dir.shipping_file(), "").expect("write");
        assert!(
            pending_backup(&offline)
                .expect("pending")
                .contains("drives shipped")
        );
        std::fs::write(dir.seeded_file(), "").expect("write");
        assert_eq!(pending_backup(&offline), None);
    }

    #[test]
    fn staged_jobs_lists_completed_initial_backups() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert_eq!(staged_jobs(&tmp.path().join("absent")).expect("list"), None);
        for (job, staged) in [("b", true), ("a", true), ("half", false)] {
            let dir = JobDir::new(tmp.path(), job);
            std::fs::create_dir_all(dir.path()).expect("mkdir");
            if staged {
                std::fs::write(dir.staged_file(), "").expect("write");
            }
        }
        assert_eq!(
            staged_jobs(tmp.path()).expect("list"),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
    }
}
