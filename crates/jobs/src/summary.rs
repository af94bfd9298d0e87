//! The view model of the jobs web page and the API's job listing.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::deadline::{Deadline, DeadlinePolicy, next_deadline};
use crate::job::{Drive, Job, JobType};
use crate::log::DriveStatus;
use crate::state::{DriveState, JobState};

/// One job as the web page and `job list`/`job show` present it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The job name.
    pub name: String,
    /// The owning account.
    pub account: String,
    /// Import or export.
    pub job_type: JobType,
    /// The vault an export job exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
    /// The job state.
    pub state: JobState,
    /// When the job entered it.
    #[serde(with = "crate::timefmt::option")]
    pub state_since: Option<OffsetDateTime>,
    /// The data centre's region.
    pub region: String,
    /// The tracking number, once shipped.
    pub tracking_number: Option<String>,
    /// Bytes transferred, over every drive that was or will be transferred.
    pub bytes_done: u64,
    /// Bytes to transfer (drives never received excluded); for an export, the size of the
    /// objects it copies.
    pub bytes_total: u64,
    /// `bytes_done * 100 / bytes_total`, rounded down; 100 when there is nothing to transfer
    /// and the job is past Transferring, else 0.
    pub percent: u8,
    /// The next deadline.
    pub deadline: Option<Deadline>,
    /// The drives.
    pub drives: Vec<DriveSummary>,
}

/// One drive of a [`JobSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveSummary {
    /// The drive id.
    pub drive_id: String,
    /// The drive state.
    pub state: DriveState,
    /// The copy log's drive-level status, once transferred.
    pub status: Option<DriveStatus>,
    /// Open problems (what a repair must fix).
    pub problems: usize,
    /// Bytes transferred.
    pub bytes_done: u64,
    /// Bytes on the drive.
    pub bytes_total: u64,
    /// `bytes_done * 100 / bytes_total` rounded down; 100 once the transfer finished.
    pub percent: u8,
}

fn percent(done: u64, total: u64) -> u8 {
    if total == 0 {
        return 0;
    }
    let p = u128::from(done.min(total)) * 100 / u128::from(total);
    u8::try_from(p).unwrap_or(100)
}

impl DriveSummary {
    /// The summary of `drive`.
    pub fn of(drive: &Drive) -> Self {
        let finished = drive.transfer.is_some();
        Self {
            drive_id: drive.drive_id.clone(),
            state: drive.state,
            status: drive.transfer.as_ref().map(|t| t.status),
            problems: drive.transfer.as_ref().map_or(0, |t| t.problems.len()),
            bytes_done: drive.bytes_done,
            bytes_total: drive.bytes,
            percent: if finished {
                100
            } else {
                percent(drive.bytes_done, drive.bytes)
            },
        }
    }
}

impl JobSummary {
    /// The summary of `job` under `policy`'s deadlines.
    pub fn of(job: &Job, policy: &DeadlinePolicy) -> Self {
        let counted = job
            .drives()
            .iter()
            .filter(|d| d.state != DriveState::NeverReceived);
        let (bytes_done, drive_bytes) = counted.fold((0u64, 0u64), |(done, total), d| {
            // drive sizes are bounded at creation; saturating keeps a stored oddity from panicking
            (
                done.saturating_add(d.bytes_done.min(d.bytes)),
                total.saturating_add(d.bytes),
            )
        });
        // an export's blank drives have no size until written: the objects say what it copies
        let bytes_total = job.export().map_or(drive_bytes, |export| export.bytes);
        let past_transfer = matches!(
            job.state(),
            JobState::Packaging | JobState::Completed | JobState::Closed
        );
        Self {
            name: job.name().to_string(),
            account: job.account().to_owned(),
            job_type: job.job_type(),
            vault: job.export().map(|export| export.vault.clone()),
            state: job.state(),
            state_since: job.entered_at(job.state()),
            region: job.data_centre().region.clone(),
            tracking_number: job.shipping().map(|s| s.tracking_number.clone()),
            bytes_done,
            bytes_total,
            percent: if bytes_total == 0 && past_transfer {
                100
            } else {
                percent(bytes_done, bytes_total)
            },
            deadline: next_deadline(job, policy),
            drives: job.drives().iter().map(DriveSummary::of).collect(),
        }
    }
}
