//! What can go wrong while writing an export's drives.

use std::path::PathBuf;

use seedship_api::ClientError;
use seedship_jobs::{DriveState, JobType};

/// An error of [`crate::write`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused or failed a request.
    #[error("{what}")]
    Server {
        what: String,
        #[source]
        source: ClientError,
    },
    /// The job is not an export job.
    #[error("job {job} is an {job_type:?} job: only an export job's drives are written")]
    NotAnExport { job: String, job_type: JobType },
    /// The owner key the job records does not parse (the server checked it at creation).
    #[error("the owner key of job {job} is not a public key")]
    OwnerKey {
        job: String,
        #[source]
        source: seedship_drive::format::FormatError,
    },
    /// A `--drive` names a drive id the job does not have.
    #[error("job {job} has no drive {drive_id} (receive the blank drive first: `seedship job receive`)")]
    UnknownDrive { job: String, drive_id: String },
    /// The same drive id or directory is given twice.
    #[error("drive {what} is given twice")]
    DriveTwice { what: String },
    /// The directory carries another drive's marker: a drive of another job or another label.
    #[error(
        "{} carries drive {found}, not drive {drive_id} of job {job}: a drive of another export, or the wrong label",
        .dir.display()
    )]
    ForeignDrive {
        dir: PathBuf,
        drive_id: String,
        found: String,
        job: String,
    },
    /// The drive is not in a state the writer takes.
    #[error(
        "drive {drive_id} of job {job} is {state:?}: only a Received or Transferring export drive is written"
    )]
    NotWritable {
        job: String,
        drive_id: String,
        state: DriveState,
    },
    /// The interrupted write's journals are not all there: a drive of the write was not
    /// given, or its journal was lost.
    #[error(
        "the interrupted write of job {job} spans {count} drives, but {} holds the journals of {found} of the drives given: give every drive of the write; a lost journal's drive cannot be resumed (`seedship export abort` with the same drives and journal directory starts the write again)",
        .dir.display()
    )]
    JournalsMissing {
        job: String,
        dir: PathBuf,
        found: usize,
        count: usize,
    },
    /// A drive directory cannot be read.
    #[error("drive {}: {source}", .dir.display())]
    Drive {
        dir: PathBuf,
        #[source]
        source: seedship_drive::Error,
    },
    /// Copying, verifying or reading a journal failed (the source names what).
    #[error(transparent)]
    Write(#[from] seedship_drive::Error),
}

/// Attaches what was being done to a server error.
pub(crate) trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, ClientError> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Server { what: what(), source })
    }
}
