//! The crate's error type.

use crate::format::FormatError;
use std::path::PathBuf;

/// Everything drive preparation, verification and reading can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on `path` failed.
    #[error("{path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file or value in `path` is malformed.
    #[error("{path}")]
    Format {
        /// Where the bad bytes or text came from.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: FormatError,
    },
    /// A drive file (or a directory on its way) is not what the format puts there: a
    /// symbolic link, FIFO, device or socket is never read.
    #[error("{path} is a {kind}; drive files are read only as regular files, without following links")]
    NotRegularFile {
        /// The entry on the drive.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A drive file is larger than the format allows.
    #[error("{path} is {len} bytes, more than the format's limit of {limit}")]
    FileTooLarge {
        /// The file on the drive.
        path: PathBuf,
        /// Its length (as far as read).
        len: u64,
        /// The format's limit.
        limit: u64,
    },
    /// A manifest declares more stored bytes than the drive's data files hold.
    #[error(
        "manifest {path} declares {declared} stored bytes, but the drive's data files hold {held}; nothing of the drive is read"
    )]
    DeclaredBeyondDrive {
        /// The manifest file.
        path: PathBuf,
        /// Stored bytes its segments declare (summed in 128 bits: no manifest overflows it).
        declared: u128,
        /// Bytes the data files hold.
        held: u64,
    },
    /// A bad session id, destination or similar input.
    #[error(transparent)]
    Input(#[from] FormatError),
    /// The journal database failed.
    #[error("journal {path}")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The journal's content does not fit what is asked of it.
    #[error("journal {path}: {message}")]
    JournalState {
        /// The journal file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A journal lies on one of the target drives.
    #[error("journal {journal} lies on target drive {drive}; keep journals off the drives")]
    JournalOnDrive {
        /// The journal.
        journal: PathBuf,
        /// The drive.
        drive: PathBuf,
    },
    /// The options contradict each other.
    #[error("{0}")]
    Conflict(&'static str),
    /// A source path does not exist.
    #[error("source {path} does not exist")]
    SourceMissing {
        /// The missing path.
        path: PathBuf,
    },
    /// A source and a drive overlap.
    #[error("source {src} and drive {drive} overlap; a drive must lie outside every source")]
    Overlap {
        /// The source.
        src: PathBuf,
        /// The drive.
        drive: PathBuf,
    },
    /// A source entry is neither a regular file nor a directory.
    #[error("source {path} is not a regular file or directory (symlinks and devices are not copied)")]
    UnsupportedFile {
        /// The entry.
        path: PathBuf,
    },
    /// A source file changed since the session was planned.
    #[error("source {path} changed since the session started (size or modification time); abort the session")]
    SourceChanged {
        /// The changed file.
        path: PathBuf,
    },
    /// Reading a source file failed (a vault object that fails its check, a lost connection).
    #[error("reading source {path}: {source}")]
    SourceRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file asked to become a page blob: the import writes block blobs only (no store
    /// behind the server keeps page blobs), and never turns one silently into the other.
    #[error(
        "{path}: page blobs are not supported (the import writes block blobs only); prepare it as a block blob (--blob-type block, BlobType BlockBlob)"
    )]
    PageBlobUnsupported {
        /// The first file of the dataset.
        path: PathBuf,
    },
    /// A drive directory is missing or not a directory.
    #[error(
        "drive {path} does not exist or is not a directory: check the path, and that the drive is mounted"
    )]
    DriveNotDirectory {
        /// The drive path.
        path: PathBuf,
    },
    /// A drive directory is not a mount point: the drive is not mounted there, and a copy
    /// would fill the file system that holds the directory.
    #[error(
        "drive {path} is not a mount point (it lies on {source_device} mounted at {mount_point}): mount the drive there, or pass --not-a-mount-point for a test directory or a loop file"
    )]
    NotAMountPoint {
        /// The drive path.
        path: PathBuf,
        /// The mount that holds it.
        mount_point: String,
        /// That mount's source, e.g. `/dev/vda`.
        source_device: String,
    },
    /// No entry of the mount table holds a drive directory.
    #[error("no entry of the mount table /proc/self/mountinfo holds drive {path}")]
    NoMount {
        /// The drive path.
        path: PathBuf,
    },
    /// A drive directory cannot be written.
    #[error("drive {path} is not writable")]
    DriveNotWritable {
        /// The drive path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The drive belongs to another journal.
    #[error("drive {drive} carries drive id {found}, but the journal expects {expected}")]
    DriveMismatch {
        /// The drive path.
        drive: PathBuf,
        /// Id in the drive's marker.
        found: String,
        /// Id in the journal.
        expected: String,
    },
    /// The given drives cannot hold the source.
    #[error(
        "the source needs {needed} drive(s) of {capacity} bytes ({bytes} bytes to store), but only {given} given"
    )]
    NotEnoughDrives {
        /// Drives needed.
        needed: usize,
        /// Drives given.
        given: usize,
        /// Capacity assumed for each extra drive (the smallest given).
        capacity: u64,
        /// Bytes the source takes on drives.
        bytes: u64,
    },
    /// An empty drive cannot take even the first range of a file.
    #[error(
        "a drive of {capacity} bytes cannot hold even the first range of {}",
        String::from_utf8_lossy(path)
    )]
    CapacityTooSmall {
        /// The drive capacity.
        capacity: u64,
        /// The file (relative path).
        path: Vec<u8>,
    },
    /// One file's manifest entry (name, destination, metadata and properties) cannot fit a
    /// manifest.
    #[error(
        "the manifest entry of {} (names, metadata and properties) does not fit a manifest of {limit} bytes",
        String::from_utf8_lossy(path)
    )]
    EntryTooLarge {
        /// The file (relative path).
        path: Vec<u8>,
        /// [`crate::format::MAX_MANIFEST_LEN`].
        limit: u64,
    },
    /// More than 10 drives.
    #[error("a drive set holds at most 10 drives; {count} given or needed")]
    TooManyDrives {
        /// Drives given or needed.
        count: usize,
    },
    /// No session directory of the drive holds a manifest with the expected hash.
    #[error("drive {drive} holds no manifest with hash {hash} (the import job's)")]
    ManifestNotFound {
        /// The drive.
        drive: PathBuf,
        /// The hash looked for, hex.
        hash: String,
    },
    /// A manifest does not authenticate or belongs to another drive or session.
    #[error("manifest {path}: {reason}")]
    ManifestInvalid {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// A drive given to a restore carries no drive marker.
    #[error("{drive} carries no seedship drive marker (seedship-drive.id): not a prepared drive")]
    NoMarker {
        /// The drive.
        drive: PathBuf,
    },
    /// A drive given to a restore carries no drive key file: its key is only in the journal
    /// (a drive prepared for an import, not for its owner).
    #[error(
        "{drive} carries no drive key (seedship-drive.key); only drives prepared with --key-on-drive, or written by an export, open with the owner's key"
    )]
    NoDriveKey {
        /// The drive.
        drive: PathBuf,
    },
    /// The drive key on a drive is wrapped to another public key than the private key given.
    #[error(
        "the drive key on {drive} is wrapped to public key {wrapped_to}, not to the key given (public key {given})"
    )]
    KeyNotForIdentity {
        /// The drive.
        drive: PathBuf,
        /// The public key the drive's key is wrapped to, hex.
        wrapped_to: String,
        /// The public key of the private key given, hex.
        given: String,
    },
    /// The drives given are not one whole drive set of one session.
    #[error("the drives given are not one drive set: {reason}")]
    NotOneSet {
        /// Which drives differ, and how.
        reason: String,
    },
    /// A range of a file read from a drive set does not verify.
    #[error(
        "{dst}: bytes {file_offset}..{} {status} (range {index} of {drive_file})",
        file_offset + len
    )]
    Damaged {
        /// The file's destination name.
        dst: String,
        /// The data file on the drive.
        drive_file: PathBuf,
        /// Range index within the data file.
        index: u64,
        /// Offset of the range's plaintext in the file.
        file_offset: u64,
        /// Plaintext length of the range.
        len: u64,
        /// What is wrong.
        status: crate::check::RangeStatus,
    },
    /// A read asked for bytes beyond the end of a file of a drive set.
    #[error("{dst} is {size} bytes; cannot read {len} bytes at offset {offset}")]
    BeyondEnd {
        /// The file's destination name.
        dst: String,
        /// Where the read started.
        offset: u64,
        /// Bytes asked for.
        len: u64,
        /// The file's length.
        size: u64,
    },
    /// A drive key cannot be unwrapped with what was given.
    #[error("wrong passphrase or key: no wrapping of the drive key opens with it")]
    WrongKey,
    /// Encryption or key derivation failed.
    #[error("cryptography: {0}")]
    Crypto(&'static str),
    /// The system random source failed.
    #[error("random source: {0}")]
    Random(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
    pub(crate) fn journal(path: impl Into<PathBuf>) -> impl FnOnce(rusqlite::Error) -> Error {
        let path = path.into();
        move |source| Error::Journal { path, source }
    }
    pub(crate) fn format(path: impl Into<PathBuf>) -> impl FnOnce(FormatError) -> Error {
        let path = path.into();
        move |source| Error::Format { path, source }
    }
    pub(crate) fn state(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::JournalState {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
