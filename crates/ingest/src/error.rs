//! What can go wrong while receiving, repairing or erasing drives.

use std::path::PathBuf;

use seedship_api::ClientError;
use seedship_jobs::DriveState;

/// An error of [`crate::receive`], [`crate::repair`], [`crate::erase`] and the job look-ups.
///
/// Errors of the server, the drive reader and the file system are kept as sources, so that a
/// caller can classify them (a refused credential, a wrong key, an unreachable server).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No job of that name is visible to the credentials.
    #[error("no job named {job} is visible to these credentials")]
    NoSuchJob { job: String },
    /// Jobs of that name exist in several accounts.
    #[error("jobs named {job} exist in accounts {}; name one with --account", .accounts.join(", "))]
    AmbiguousJob { job: String, accounts: Vec<String> },
    /// The drive directory does not exist.
    #[error("drive {} does not exist: check the path, and that the drive is mounted", .dir.display())]
    DriveMissing { dir: PathBuf },
    /// The directory carries no drive marker.
    #[error(
        "drive {} carries no {} marker: not a prepared drive, or not mounted",
        .dir.display(),
        seedship_drive::MARKER_NAME
    )]
    NotADrive { dir: PathBuf },
    /// The drive belongs to another job the credentials see.
    #[error("drive {} (id {drive_id}) is a drive of job {owner}, not of job {job}", .dir.display())]
    DriveOfAnotherJob {
        dir: PathBuf,
        drive_id: String,
        owner: String,
        job: String,
    },
    /// The drive belongs to no job the credentials see.
    #[error(
        "drive {} (id {drive_id}) is not a drive of job {job}, nor of any job these credentials see",
        .dir.display()
    )]
    UnknownDrive {
        dir: PathBuf,
        drive_id: String,
        job: String,
    },
    /// The drive's transfer finished already: it is not received again.
    #[error("drive {} of job {job} is {state:?}: its transfer already finished", .dir.display())]
    TransferFinished {
        dir: PathBuf,
        job: String,
        state: DriveState,
    },
    /// Only a transferred drive is erased, and only once.
    #[error(
        "drive {} of job {job} is {state:?}{}: only a transferred drive is erased, once",
        .dir.display(),
        if *.erased { " and already erased" } else { "" }
    )]
    NotErasable {
        dir: PathBuf,
        job: String,
        state: DriveState,
        erased: bool,
    },
    /// Entries were left on the drive after erasing it.
    #[error("drive {} still holds {left} entries after the erasure", .dir.display())]
    NotEmptyAfterErase { dir: PathBuf, left: usize },
    /// The server found a blob damaged that verifies on the drive: the transfer damaged it.
    #[error(
        "blob {blob} reached the server damaged although {} verifies on the drive; receive the drive again",
        .file.display()
    )]
    DamagedInTransit { blob: String, file: PathBuf },
    /// The server wrote a blob whose file failed verification on the drive.
    #[error("the server wrote blob {blob} although {} failed verification", .file.display())]
    WroteUnverified { blob: String, file: PathBuf },
    /// The job has no logs of the drive: it was not received yet.
    #[error("job {job} has no log for drive {drive_id} yet: receive it first")]
    NoDriveLog { job: String, drive_id: String },
    /// A source file to repair from is not the size it had when the drive was prepared.
    #[error(
        "source file {} is {size} bytes, but blob {blob} was {expected} bytes when prepared: the source changed",
        .source_file.display()
    )]
    SourceChanged {
        source_file: PathBuf,
        blob: String,
        size: u64,
        expected: u64,
    },
    /// A request to the server failed; `what` says which.
    #[error("{what}")]
    Server {
        what: String,
        #[source]
        source: ClientError,
    },
    /// Reading a drive, its journal or a key failed; `what` says which.
    #[error("{what}")]
    Drive {
        what: String,
        #[source]
        source: seedship_drive::Error,
    },
    /// The job service refused a blob name or a log; `what` says which.
    #[error("{what}")]
    Jobs {
        what: String,
        #[source]
        source: seedship_jobs::Error,
    },
    /// A file system operation failed; `what` says which.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A log could not be encoded.
    #[error("encoding log {name}")]
    EncodeLog {
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Attaches what was being done to the errors of the layers below.
pub(crate) trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, ClientError> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Server { what: what(), source })
    }
}

impl<T> Context<T> for Result<T, seedship_drive::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Drive { what: what(), source })
    }
}

impl<T> Context<T> for Result<T, seedship_jobs::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Jobs { what: what(), source })
    }
}

impl<T> Context<T> for Result<T, std::io::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Io { what: what(), source })
    }
}
