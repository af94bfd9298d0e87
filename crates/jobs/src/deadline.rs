//! Deadlines: what the server must do to a job at a given time. Pure: [`tick`] looks at a job
//! and the time and returns effects; the server applies them.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::job::Job;
use crate::state::{DriveState, JobState};

/// The deadlines of the Import/Export service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlinePolicy {
    /// A job still Creating this long after creation (no shipping information) is deleted.
    pub shipping_info_within: Duration,
    /// A drive not received this long after the shipping information becomes NeverReceived.
    pub arrival_within: Duration,
    /// An ended job (Completed, Closed, Cancelled) is purged this long after it ended.
    pub keep_ended_for: Duration,
}

impl Default for DeadlinePolicy {
    /// 14 days, 14 days, 90 days.
    fn default() -> Self {
        Self {
            shipping_info_within: Duration::days(14),
            arrival_within: Duration::days(14),
            keep_ended_for: Duration::days(90),
        }
    }
}

/// Something the server must do because a deadline passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect")]
pub enum Effect {
    /// Delete the job: it stayed in Creating without shipping information.
    DeleteJob {
        /// The account.
        account: String,
        /// The job name.
        job: String,
    },
    /// Apply [`Job::mark_blank_drives_never_received`] with [`crate::Actor::system`]: an
    /// export job's blank drives did not all arrive.
    BlankDrivesNeverReceived {
        /// The account.
        account: String,
        /// The job name.
        job: String,
    },
    /// Apply [`Job::mark_never_received`] with [`crate::Actor::system`] to this drive.
    DriveNeverReceived {
        /// The account.
        account: String,
        /// The job name.
        job: String,
        /// The drive id.
        drive_id: String,
    },
    /// Purge the job and its logs: it ended long enough ago.
    PurgeJob {
        /// The account.
        account: String,
        /// The job name.
        job: String,
    },
}

/// The next deadline of a job, for display ("ship by", "purged on").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// What happens at the deadline.
    pub kind: DeadlineKind,
    /// When.
    #[serde(with = "crate::timefmt")]
    pub at: OffsetDateTime,
}

/// What happens when a [`Deadline`] passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadlineKind {
    /// The job is deleted unless shipping information is recorded before.
    DeleteUnshipped,
    /// Drives not received by then become NeverReceived.
    DrivesNeverReceived,
    /// The ended job is purged.
    Purge,
}

/// The job's next deadline, if any.
pub fn next_deadline(job: &Job, policy: &DeadlinePolicy) -> Option<Deadline> {
    let at = |kind, at| Some(Deadline { kind, at });
    match job.state() {
        JobState::Creating => at(
            DeadlineKind::DeleteUnshipped,
            job.created_at() + policy.shipping_info_within,
        ),
        state if state.is_ended() => job
            .entered_at(state)
            .and_then(|ended| at(DeadlineKind::Purge, ended + policy.keep_ended_for)),
        _ => {
            let waiting =
                job.drives().iter().any(|d| d.state == DriveState::Specified) || job.awaited_drives() > 0;
            let shipped = job.shipping()?.recorded_at;
            if waiting {
                at(DeadlineKind::DrivesNeverReceived, shipped + policy.arrival_within)
            } else {
                None
            }
        }
    }
}

/// How long before a deadline that the owner can still avoid ([`DeadlineKind::DeleteUnshipped`],
/// [`DeadlineKind::DrivesNeverReceived`]) it is announced: a job Creating since 12 days of the
/// default 14 is warned about.
pub const WARN_BEFORE: Duration = Duration::days(2);

/// The deadline of `job` that is about to pass at `now`: within [`WARN_BEFORE`] of it, not
/// yet passed, and avoidable by the owner (a purge is not announced).
pub fn approaching_deadline(job: &Job, now: OffsetDateTime, policy: &DeadlinePolicy) -> Option<Deadline> {
    next_deadline(job, policy)
        .filter(|d| d.kind != DeadlineKind::Purge && now >= d.at - WARN_BEFORE && now < d.at)
}

/// The effects due for `job` at `now`. A deadline is due when `now` is at or after it.
///
/// Applying the effects and calling `tick` again returns nothing more for the same `now`.
pub fn tick(job: &Job, now: OffsetDateTime, policy: &DeadlinePolicy) -> Vec<Effect> {
    let Some(deadline) = next_deadline(job, policy) else {
        return Vec::new();
    };
    if now < deadline.at {
        return Vec::new();
    }
    let account = job.account().to_owned();
    let name = job.name().to_string();
    match deadline.kind {
        DeadlineKind::DeleteUnshipped => vec![Effect::DeleteJob { account, job: name }],
        DeadlineKind::Purge => vec![Effect::PurgeJob { account, job: name }],
        DeadlineKind::DrivesNeverReceived if job.export().is_some() => {
            vec![Effect::BlankDrivesNeverReceived { account, job: name }]
        }
        DeadlineKind::DrivesNeverReceived => job
            .drives()
            .iter()
            .filter(|d| d.state == DriveState::Specified)
            .map(|d| Effect::DriveNeverReceived {
                account: account.clone(),
                job: name.clone(),
                drive_id: d.drive_id.clone(),
            })
            .collect(),
    }
}
