//! `import receive`: the drives of a package arrive, are unlocked and verified, and their
//! files are copied into the job's container; each drive's logs are written and its transfer
//! ended.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use seedship_api::JobAction;
use seedship_drive::{ImportDrive, ImportSet, ShippedDrive};
use seedship_jobs::{BlobLog, Drive, DriveLog, DriveState, DriveStatus, JobState};
use seedship_progress::Progress;
use serde::Serialize;
use time::OffsetDateTime;

use crate::copier::Copier;
use crate::error::Context as _;
use crate::job::drive_id_of;
use crate::status::drive_status_of;
use crate::{Error, JobRef, LOG_DIR};

/// What a receive did to one drive.
#[derive(Debug, Clone, Serialize)]
pub struct DriveOutcome {
    pub drive_id: String,
    pub dir: PathBuf,
    /// The Import/Export status of the drive's transfer.
    pub status: DriveStatus,
    /// The drive's state once its transfer ended (`Completed` or `CompletedMoreInfo`).
    pub state: DriveState,
    pub blobs: usize,
    pub blobs_failed: usize,
    pub bytes: u64,
    /// Why the drive could not be opened, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The names of the drive's logs under [`LOG_DIR`] in the container.
    pub copy_log: String,
    pub error_log: String,
}

/// The outcome of [`receive`]: every drive's, and the job's state afterwards.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub job: String,
    pub account: String,
    pub job_state: JobState,
    pub drives: Vec<DriveOutcome>,
}

impl Received {
    /// How many drives did not end `Completed` (their logs name the files in error).
    pub fn incomplete(&self) -> usize {
        self.drives
            .iter()
            .filter(|o| o.state != DriveState::Completed)
            .count()
    }
}

/// A drive directory and the job's record of it.
struct Arrived {
    dir: PathBuf,
    drive: Drive,
}

/// Receives the drives mounted at `drives` (a package of job `job`): moves each to
/// Transferring, opens them with the import service's private key (file `identity`), copies
/// every file into the job's container (a file spanning drives needs them all), writes each
/// drive's copy and error logs under [`LOG_DIR`] and ends its transfer. A drive that cannot be
/// opened ends with the matching drive status. `warn` hears of problems that do not stop the
/// receive (a progress report the server did not take).
///
/// # Errors
/// A drive that is not the job's, or whose transfer already finished; the first failure to
/// read the drives or to write to the server (a receive stopped half-way can be run again:
/// blobs already written are recognised).
pub fn receive(
    job: &JobRef<'_>,
    drives: &[PathBuf],
    identity: &Path,
    progress: &dyn Progress,
    warn: &(dyn Fn(&str) + Sync),
) -> Result<Received, Error> {
    let name = job.name;
    let identity = seedship_drive::read_identity(identity)
        .context(|| format!("import service key {}", identity.display()))?;
    let detail = job.detail()?;
    let mut arrived = Vec::new();
    for dir in drives {
        let id = drive_id_of(dir)?;
        let drive = detail
            .job
            .drive(&id)
            .ok_or_else(|| job.not_a_drive_of(dir, &id))?;
        arrived.push(Arrived {
            dir: dir.clone(),
            drive: drive.clone(),
        });
    }
    for a in &arrived {
        let drive_id = a.drive.drive_id.clone();
        match a.drive.state {
            DriveState::Specified | DriveState::NeverReceived => {
                job.act(&JobAction::Receive {
                    drive_id: drive_id.clone(),
                })?;
                job.act(&JobAction::StartTransfer { drive_id })?;
            }
            DriveState::Received => {
                job.act(&JobAction::StartTransfer { drive_id })?;
            }
            // an earlier receive stopped half-way: copy again (blobs already written are recognised)
            DriveState::Transferring => {}
            state => {
                return Err(Error::TransferFinished {
                    dir: a.dir.clone(),
                    job: name.to_owned(),
                    state,
                });
            }
        }
    }
    let started_at = OffsetDateTime::now_utc();
    let mut outcomes = Vec::new();
    let mut opened = Vec::new();
    for a in &arrived {
        let shipped = ShippedDrive {
            dir: &a.dir,
            drive_id: &a.drive.drive_id,
            wrapped_key: &a.drive.wrapped_key,
            manifest_hashes: a.drive.manifest_hashes(),
        };
        match ImportDrive::open_shipped(&shipped, &identity) {
            Ok(drive) => opened.push(drive),
            Err(err) => {
                let log = DriveLog {
                    job: name.to_owned(),
                    drive_id: a.drive.drive_id.clone(),
                    status: drive_status_of(&err),
                    started_at,
                    finished_at: OffsetDateTime::now_utc(),
                    blobs: Vec::new(),
                    device: a.drive.device.clone(),
                    received_from: seedship_drive::inspect_device(&a.dir).ok(),
                };
                let mut outcome = finish_drive(job, &a.dir, &log)?;
                outcome.error = Some(seedship_api::error_chain(&err));
                outcomes.push(outcome);
            }
        }
    }
    let set = ImportSet::join(opened);
    // Every blob the job writes lies under its destination prefix.
    let existing = job
        .client
        .list_blobs(job.account, name, &detail.job.destination().prefix)
        .context(|| format!("listing the container of job {name}"))?;
    let copier = Copier::new(job, &detail, progress, warn, &set, existing);
    let mut logs: BTreeMap<String, Vec<BlobLog>> = BTreeMap::new();
    for (file, blob) in set.files().iter().zip(copier.copy_all()?) {
        logs.entry(set.home_drive(file).drive_id())
            .or_default()
            .push(blob);
    }
    copier.finish();
    for drive in set.drives() {
        let blobs = logs.remove(&drive.drive_id()).unwrap_or_default();
        let drive_id = drive.drive_id();
        let log = DriveLog {
            job: name.to_owned(),
            status: DriveStatus::from_blobs(&blobs),
            started_at,
            finished_at: OffsetDateTime::now_utc(),
            blobs,
            device: detail.job.drive(&drive_id).and_then(|d| d.device.clone()),
            received_from: seedship_drive::inspect_device(drive.dir()).ok(),
            drive_id,
        };
        outcomes.push(finish_drive(job, drive.dir(), &log)?);
    }
    let job_state = job.detail()?.summary.state;
    Ok(Received {
        job: name.to_owned(),
        account: job.account.to_owned(),
        job_state,
        drives: outcomes,
    })
}

/// Writes a drive's copy and error logs into the container and ends its transfer.
fn finish_drive(job: &JobRef<'_>, dir: &Path, log: &DriveLog) -> Result<DriveOutcome, Error> {
    let error_log = log.error_log();
    for (name, content) in [
        (log.copy_log_name(), log),
        (error_log.error_log_name(), &error_log),
    ] {
        let json = content
            .to_json()
            .map_err(|source| Error::EncodeLog {
                name: name.clone(),
                source,
            })?
            .into_bytes();
        job.client
            .put_blob(
                job.account,
                job.name,
                &format!("{LOG_DIR}/{name}"),
                std::io::Cursor::new(json),
            )
            .context(|| format!("writing log {LOG_DIR}/{name}"))?;
    }
    let detail = job.act(&JobAction::FinishTransfer {
        drive_id: log.drive_id.clone(),
        log: Box::new(log.clone()),
    })?;
    let state = detail
        .job
        .drive(&log.drive_id)
        .map_or(DriveState::CompletedMoreInfo, |d| d.state);
    Ok(DriveOutcome {
        drive_id: log.drive_id.clone(),
        dir: dir.to_owned(),
        status: log.status,
        state,
        blobs: log.blobs.len(),
        blobs_failed: log.blobs.iter().filter(|b| b.has_errors()).count(),
        bytes: log.bytes_completed(),
        error: None,
        copy_log: log.copy_log_name(),
        error_log: error_log.error_log_name(),
    })
}
