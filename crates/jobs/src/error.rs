//! The refusals of the job service. Every refused call leaves the job unchanged.

use time::Date;

use crate::actor::Role;
use crate::name::JobNameError;
use crate::state::{DriveState, JobState};

/// Why a job operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The job name breaks a naming rule.
    #[error("invalid job name {name:?}: {reason}")]
    JobNameInvalid {
        /// The name given.
        name: String,
        /// The rule it breaks.
        reason: JobNameError,
    },
    /// The account already has a job of that name.
    #[error("the account already has a job named {name:?}")]
    JobNameTaken {
        /// The name.
        name: String,
    },
    /// A field or action that belongs to the other job type (a destination container for an
    /// export, an export section or drives for an import, ...).
    #[error("{what} is not part of an {job_type:?} job")]
    WrongJobType {
        /// What was given or asked, e.g. `"export"` or `"adding a drive"`.
        what: &'static str,
        /// The job's type.
        job_type: crate::JobType,
    },
    /// A snapshot filter is neither `latest` nor 8 to 64 lowercase hex digits.
    #[error("{field}: {snapshot:?} is not a snapshot id (8 to 64 lowercase hex digits) or latest")]
    SnapshotRefInvalid {
        /// Where, e.g. `export.snapshots[1]`.
        field: String,
        /// The text given.
        snapshot: String,
    },
    /// An export object is not a restic repository object path.
    #[error(
        "{field}: {name:?} is not a repository object (config, keys/<id>, snapshots/<id>, \
         index/<id>, data/<id[..2]>/<id>, with 64-digit lowercase hex ids)"
    )]
    ObjectNameInvalid {
        /// Where, e.g. `export.objects[3].name`.
        field: String,
        /// The name given.
        name: String,
    },
    /// The same object twice in an export's list.
    #[error("export object {name:?} is listed twice")]
    DuplicateObject {
        /// The object's name.
        name: String,
    },
    /// An export's list lacks what every restic repository needs.
    #[error("the export's objects hold no {missing}: the drives would not be a repository")]
    IncompleteRepository {
        /// What is missing, e.g. `config`.
        missing: &'static str,
    },
    /// The region is not one of the server's data centres.
    #[error("unknown region {region:?}; the server's data centres are: {known}")]
    UnknownRegion {
        /// The region asked for.
        region: String,
        /// The configured regions, comma-separated.
        known: String,
    },
    /// A required field is empty.
    #[error("{field} is required and must not be empty")]
    MissingField {
        /// The field's path, e.g. `return_shipping.account_number`.
        field: String,
    },
    /// A drive id is not [`crate::DRIVE_ID_LEN`] lowercase hex digits (what `drive prepare`
    /// writes); anything else could name a place in a request path or an object key.
    #[error("{field}: drive id {drive_id:?} is not {len} lowercase hex digits", len = crate::DRIVE_ID_LEN)]
    DriveIdInvalid {
        /// Where it was given, e.g. `drives[0].drive_id`.
        field: String,
        /// The text given.
        drive_id: String,
    },
    /// The destination prefix is not a valid blob name folder.
    #[error("destination.prefix: {reason}")]
    PrefixInvalid {
        /// The rule it breaks.
        reason: crate::BlobNameError,
    },
    /// A number a request gives is larger than the rule allows (or would overflow a total).
    #[error("{field} is {value}, more than the {max} allowed")]
    ValueTooLarge {
        /// The field, e.g. `drives[3].bytes` or `blobs[7].ranges[0].length`.
        field: String,
        /// The value given.
        value: u64,
        /// The largest value accepted there.
        max: u64,
    },
    /// A job needs at least one drive.
    #[error("a job needs at least one drive")]
    NoDrives,
    /// More than the maximum number of drives.
    #[error("a job holds at most {max} drives; this would make {count}")]
    TooManyDrives {
        /// The number of drives the job would have.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// The same drive id twice in one job.
    #[error("drive {drive_id:?} is already part of the job")]
    DuplicateDrive {
        /// The drive id.
        drive_id: String,
    },
    /// No drive of that id in the job.
    #[error("the job has no drive {drive_id:?}")]
    UnknownDrive {
        /// The drive id.
        drive_id: String,
    },
    /// The job state machine has no such transition.
    #[error("a job cannot go from {from} to {to}")]
    IllegalTransition {
        /// Current state.
        from: JobState,
        /// Requested state.
        to: JobState,
    },
    /// The drive state machine has no such transition.
    #[error("drive {drive_id:?} cannot go from {from} to {to}")]
    IllegalDriveTransition {
        /// The drive id.
        drive_id: String,
        /// Current state.
        from: DriveState,
        /// Requested state.
        to: DriveState,
    },
    /// The action is not possible while the job is in this state.
    #[error("cannot {action} while the job is {state}")]
    NotInThisState {
        /// What was asked, e.g. `"receive a drive"`.
        action: &'static str,
        /// The job's state.
        state: JobState,
    },
    /// The action is not possible while the drive is in this state.
    #[error("cannot {action} drive {drive_id:?} while it is {state}")]
    DriveNotInThisState {
        /// What was asked, e.g. `"erase"`.
        action: &'static str,
        /// The drive id.
        drive_id: String,
        /// The drive's state.
        state: DriveState,
    },
    /// Cancel after the drives were received (or after the job ended).
    #[error(
        "the job is {state}: a job can only be cancelled before its drives are received (Creating or Shipping)"
    )]
    CancelNotAllowed {
        /// The job's state.
        state: JobState,
    },
    /// The declared drive count differs from the job's drives.
    #[error("the shipment declares {declared} drives but the job has {actual}")]
    DriveCountMismatch {
        /// Drives declared in the shipping information.
        declared: u32,
        /// Drives in the job.
        actual: usize,
    },
    /// Another job already uses the tracking number.
    #[error("tracking number {tracking_number:?} is already used by another job")]
    DuplicateTrackingNumber {
        /// The normalised tracking number.
        tracking_number: String,
    },
    /// The ship date is after today.
    #[error("ship date {ship_date} is in the future (today is {today})")]
    ShipDateInFuture {
        /// The date given.
        ship_date: Date,
        /// Today (UTC).
        today: Date,
    },
    /// The actor's role may not do this, or the owner is not this job's account.
    #[error("{role} {actor:?} may not {action} on this job")]
    NotPermitted {
        /// What was asked.
        action: &'static str,
        /// The actor's role.
        role: Role,
        /// The actor's id.
        actor: String,
    },
    /// A copy log for another job or drive.
    #[error("the log is for job {found_job:?} drive {found_drive:?}, not job {job:?} drive {drive:?}")]
    DriveLogMismatch {
        /// This job.
        job: String,
        /// This drive.
        drive: String,
        /// The log's job.
        found_job: String,
        /// The log's drive.
        found_drive: String,
    },
    /// A job update that names nothing to change.
    #[error(
        "the update changes nothing: give a carrier, tracking number, ship date, contact or return address"
    )]
    NothingToUpdate,
    /// A repair names nothing the drive's error log reports.
    #[error("drive {drive_id:?} has no open problem matching the repair")]
    NothingToRepair {
        /// The drive id.
        drive_id: String,
    },
    /// The disposition is rename and every numbered name is taken.
    #[error("blob {blob:?} exists and the {attempts} numbered names after it too")]
    RenameFailed {
        /// The requested blob name.
        blob: String,
        /// Numbered names tried.
        attempts: u32,
    },
    /// Not one of `rename`, `no-overwrite`, `overwrite`.
    #[error("unknown disposition {value:?}; expected rename, no-overwrite or overwrite")]
    UnknownDisposition {
        /// The text given.
        value: String,
    },
    /// The job imported into its container's root (no prefix): its blobs cannot be told apart
    /// from other blobs of the container, so they are not deleted as the job's.
    #[error(
        "job {job:?} imported into the root of its container (no prefix): its blobs cannot be \
         told apart from the container's other blobs"
    )]
    NoImportPrefix {
        /// The job's name.
        job: String,
    },
    /// The custody entry could not be serialised (not expected with these types).
    #[error("cannot serialise a custody entry: {message}")]
    Custody {
        /// serde_json's message.
        message: String,
    },
}

impl Error {
    /// A stable, machine-readable code for the API's error body, e.g. `"TooManyDrives"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::JobNameInvalid { .. } => "JobNameInvalid",
            Self::JobNameTaken { .. } => "JobNameTaken",
            Self::WrongJobType { .. } => "WrongJobType",
            Self::SnapshotRefInvalid { .. } => "SnapshotRefInvalid",
            Self::ObjectNameInvalid { .. } => "ObjectNameInvalid",
            Self::DuplicateObject { .. } => "DuplicateObject",
            Self::IncompleteRepository { .. } => "IncompleteRepository",
            Self::UnknownRegion { .. } => "UnknownRegion",
            Self::MissingField { .. } => "MissingField",
            Self::DriveIdInvalid { .. } => "DriveIdInvalid",
            Self::PrefixInvalid { .. } => "PrefixInvalid",
            Self::ValueTooLarge { .. } => "ValueTooLarge",
            Self::NoDrives => "NoDrives",
            Self::TooManyDrives { .. } => "TooManyDrives",
            Self::DuplicateDrive { .. } => "DuplicateDrive",
            Self::UnknownDrive { .. } => "UnknownDrive",
            Self::IllegalTransition { .. } => "IllegalTransition",
            Self::IllegalDriveTransition { .. } => "IllegalDriveTransition",
            Self::NotInThisState { .. } => "NotInThisState",
            Self::DriveNotInThisState { .. } => "DriveNotInThisState",
            Self::CancelNotAllowed { .. } => "CancelNotAllowed",
            Self::DriveCountMismatch { .. } => "DriveCountMismatch",
            Self::DuplicateTrackingNumber { .. } => "DuplicateTrackingNumber",
            Self::ShipDateInFuture { .. } => "ShipDateInFuture",
            Self::NotPermitted { .. } => "NotPermitted",
            Self::DriveLogMismatch { .. } => "DriveLogMismatch",
            Self::NothingToRepair { .. } => "NothingToRepair",
            Self::NothingToUpdate => "NothingToUpdate",
            Self::RenameFailed { .. } => "RenameFailed",
            Self::UnknownDisposition { .. } => "UnknownDisposition",
            Self::NoImportPrefix { .. } => "NoImportPrefix",
            Self::Custody { .. } => "Internal",
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Custody {
            message: e.to_string(),
        }
    }
}
