//! Drive preparation from a staging location (`seedship diskprep`): the staged repository is
//! copied onto drives (journals in `<staging>/<job>/journals/`) and the import job is created
//! from a typed [`JobSpec`]. The questions (which drives, may they be erased) are the
//! caller's ([`Operator`]).

use std::path::PathBuf;

use seedship_drive::{
    BlobType, CopySummary, Dataset, Disposition, DriveTarget, PlanSummary, PrepareOptions, Recipient,
};
use seedship_jobs::{Contact, Destination, DriveSpec, JobSpec, JobType, ReturnShipping};
use seedship_progress::Progress;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::format::StagedJob;
use crate::safety::{Protected, check_overlaps};
use crate::staging::JobDir;

/// The copy session id on the drives.
const SESSION: &str = "initial-backup";

/// The job details file (`diskprep --details`, as for `job create --spec`): what the staging
/// location does not say. Other fields (name, destination, drives) are ignored: the staged
/// job gives them.
#[derive(Debug, Clone, Deserialize)]
pub struct JobDetails {
    /// The data centre's region.
    pub region: String,
    /// Who to contact.
    pub contact: Contact,
    /// How the drives come back.
    pub return_shipping: ReturnShipping,
}

impl JobDetails {
    /// The import job of `staged` with `drives`: named after the staged job, into its
    /// container and folder, names that exist renamed.
    pub fn job_spec(&self, staged: &StagedJob, drives: Vec<DriveSpec>) -> JobSpec {
        JobSpec {
            name: staged.job.clone(),
            job_type: JobType::Import,
            destination: Destination {
                storage_account: staged.storage_account.clone(),
                container: staged.container.clone(),
                prefix: staged.prefix.clone(),
                disposition: seedship_jobs::Disposition::Rename,
            },
            region: self.region.clone(),
            contact: self.contact.clone(),
            return_shipping: self.return_shipping.clone(),
            drives,
            export: None,
        }
    }
}

/// The drives of an import job, read from their journals (one per drive).
pub fn drive_specs(journals: &[PathBuf]) -> Result<Vec<DriveSpec>> {
    journals
        .iter()
        .map(|journal| {
            seedship_drive::shipping_record(journal)
                .map(DriveSpec::from)
                .map_err(|source| Error::Journal {
                    journal: journal.clone(),
                    source,
                })
        })
        .collect()
}

/// What no drive of `dir`'s job may overlap: the policy's backup paths, the staging location
/// (the staged repository and the journals are in it).
pub fn protected(staged: &StagedJob, dir: &JobDir) -> Vec<Protected> {
    staged
        .paths
        .iter()
        .map(|path| Protected::new(path, "the policy's backup path"))
        .chain([Protected::new(dir.staging(), "the staging location")])
        .collect()
}

/// Removes what killed backups left half-written in the staged repository (never copied
/// onto drives) and says what it removed; a backup still writing it stops diskprep.
pub fn sweep_staged(dir: &JobDir) -> Result<seedship_repo::Sweep> {
    let repository = dir.repository();
    let sweep = seedship_repo::sweep_temporaries(&repository).map_err(|source| Error::Sweep {
        repository: repository.clone(),
        source,
    })?;
    if let Some((file, pid)) = sweep.live.first() {
        return Err(Error::StagedInUse {
            pid: *pid,
            file: file.clone(),
        });
    }
    Ok(sweep)
}

/// The journals of `journals` whose copy stopped before it finished.
pub fn unfinished(journals: &[PathBuf]) -> Result<usize> {
    let mut unfinished = 0;
    for journal in journals {
        let complete = seedship_drive::session_complete(journal).map_err(|source| Error::Journal {
            journal: journal.clone(),
            source,
        })?;
        if !complete {
            unfinished += 1;
        }
    }
    Ok(unfinished)
}

/// The questions of a copy onto drives, answered by the caller.
pub trait Operator {
    /// The caller's error; errors of this crate become one.
    type Error: From<Error>;

    /// The drives given are full (the backup needs `needed`, `given` were given): another
    /// drive directory.
    fn another_drive(&mut self, needed: usize, given: usize) -> Result<PathBuf, Self::Error>;

    /// The copy is planned onto `used` (the first drives given): show it and confirm that
    /// they are erased (a drive holding someone's files needs its own confirmation; see
    /// [`crate::foreign_drives`]). An error stops before anything is written.
    fn confirm_copy(&mut self, plan: &PlanSummary, used: &[PathBuf]) -> Result<(), Self::Error>;
}

/// How to copy a staged backup onto drives.
pub struct CopyOptions {
    /// The drive directories, in order (at least one; more are asked for when they are full).
    pub drives: Vec<PathBuf>,
    /// Capacity of each drive instead of its free space.
    pub capacity: Option<u64>,
    /// The import service's key (from the server).
    pub service_key: Recipient,
    /// The preparer's passphrase, which wraps each drive key.
    pub passphrase: zeroize::Zeroizing<Vec<u8>>,
    /// Accept drive directories that are not mount points (tests, loop files).
    pub not_a_mount_point: bool,
}

/// Erases the drives and copies the staged repository of `dir` onto them; returns the copy's
/// summary and the journals. A run that stops before copying (refused, a drive that cannot be
/// used) leaves no journals directory behind.
pub fn copy_to_drives<O: Operator>(
    staged: &StagedJob,
    dir: &JobDir,
    options: CopyOptions,
    progress: &dyn Progress,
    operator: &mut O,
) -> Result<(CopySummary, Vec<PathBuf>), O::Error> {
    // The plan resolves the journals' directory to keep them off the drives.
    let journals = dir.journals_dir();
    let created = !journals.exists();
    std::fs::create_dir_all(&journals).map_err(|source| Error::Io {
        what: "creating",
        path: journals.clone(),
        source,
    })?;
    let copied = plan_and_copy(staged, dir, options, progress, operator);
    if created && dir.journals().is_empty() {
        // Only an empty directory is removed: a journal is never lost.
        let _ = std::fs::remove_dir(&journals);
    }
    copied
}

/// Plans the copy onto the drives (asking for more when they are full), has it confirmed and
/// copies; returns the journals.
fn plan_and_copy<O: Operator>(
    staged: &StagedJob,
    dir: &JobDir,
    options: CopyOptions,
    progress: &dyn Progress,
    operator: &mut O,
) -> Result<(CopySummary, Vec<PathBuf>), O::Error> {
    let mut drives = options.drives;
    let protected = protected(staged, dir);
    let session = loop {
        check_overlaps(&drives, &protected)?;
        let opts = PrepareOptions {
            session_id: SESSION.to_owned(),
            datasets: vec![Dataset {
                base: dir.repository(),
                dst: format!("{}/{}", staged.container, staged.prefix),
                blob_type: BlobType::Block,
                disposition: Disposition::Rename,
                metadata: None,
                properties: None,
            }],
            listed: None,
            drives: drives
                .iter()
                .enumerate()
                .map(|(index, drive)| DriveTarget {
                    dir: drive.clone(),
                    journal: dir.journal(index + 1),
                    format: true,
                    encrypt: true,
                    existing_key: None,
                    drive_id: None,
                })
                .collect(),
            capacity: options.capacity,
            service_key: Some(options.service_key),
            recovery_key: None,
            passphrase: options.passphrase.clone(),
            not_a_mount_point: options.not_a_mount_point,
            key_on_drive: false,
        };
        // The drives carry the staged repository as it is listed now: no backup writes it
        // meanwhile (see `StagingLock`).
        let planned = {
            let _lock = dir.try_lock()?.ok_or_else(|| Error::StagedLocked {
                repository: dir.repository(),
            })?;
            seedship_drive::plan(opts)
        };
        match planned {
            Ok(session) => break session,
            Err(seedship_drive::Error::NotEnoughDrives { needed, given, .. }) => {
                drives.push(operator.another_drive(needed, given)?);
            }
            Err(source) => return Err(Error::Plan { source }.into()),
        }
    };
    let plan = session.summary();
    operator.confirm_copy(&plan, &drives[..plan.drives_needed])?;
    let summary = session.run(progress).map_err(|source| Error::Copy { source })?;
    Ok((summary, dir.journals()))
}
