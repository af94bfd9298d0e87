//! Results of repository operations: plain data, serialisable, free of rustic types.

use serde::Serialize;
use std::path::PathBuf;

/// What one backup did.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSummary {
    /// Id of the new snapshot (64 hex digits).
    pub snapshot_id: String,
    /// The snapshot this one is incremental against, if any.
    pub parent_id: Option<String>,
    /// Whether the repository was created by this run.
    pub repository_created: bool,
    /// Files not in the parent snapshot.
    pub files_new: u64,
    /// Files whose content or metadata changed since the parent.
    pub files_changed: u64,
    /// Files unchanged since the parent (not read again).
    pub files_unchanged: u64,
    /// Directories in the snapshot.
    pub dirs: u64,
    /// Bytes of the files in the snapshot.
    pub bytes_processed: u64,
    /// Bytes of new blobs (data and trees) before compression.
    pub data_added: u64,
    /// Bytes of new blobs as stored (compressed and encrypted).
    pub data_added_packed: u64,
    /// Source entries that could not be read; they are missing from the snapshot.
    pub unreadable: Vec<Unreadable>,
}

/// A source entry the backup could not read.
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    /// The path, when known.
    pub path: Option<PathBuf>,
    /// What failed.
    pub error: String,
}

/// One snapshot of a repository.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    /// Snapshot id (64 hex digits).
    pub id: String,
    /// When the backup started, RFC 3339.
    pub time: String,
    /// Host the backup ran on.
    pub hostname: String,
    /// Backed-up paths, absolute.
    pub paths: Vec<String>,
    /// The snapshot it is incremental against.
    pub parent_id: Option<String>,
    /// Bytes of the files in the snapshot, when the snapshot records it.
    pub bytes: Option<u64>,
    /// Number of files in the snapshot, when the snapshot records it.
    pub files: Option<u64>,
}

/// What one restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreSummary {
    /// The restored snapshot's id.
    pub snapshot_id: String,
    /// The directory restored into.
    pub target: PathBuf,
    /// Files written.
    pub files_restored: u64,
    /// Files already present with the right size and mtime, left alone.
    pub files_unchanged: u64,
    /// Directories created.
    pub dirs_restored: u64,
    /// Bytes of file content written.
    pub bytes_restored: u64,
    /// Files left incomplete because ranges of the drives they were read from are damaged
    /// (a restore from drives; also counted in `files_restored` and `bytes_restored`).
    pub files_damaged: u64,
    /// The damaged ranges, each with the restored files it left incomplete.
    pub damaged: Vec<DamagedOnDrive>,
}

/// A range of a repository file that is damaged on the drives it was read from.
#[derive(Debug, Clone, Serialize)]
pub struct DamagedOnDrive {
    /// The repository file, as restic names it (`data/ab/ab12...`).
    pub file: PathBuf,
    /// The data file on the drive holding the range.
    pub drive_file: PathBuf,
    /// Where the range is in the repository file.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// What is wrong with it.
    pub status: seedship_drive::RangeStatus,
    /// The restored files it left incomplete, as paths in the restore target: fetch them
    /// again from the vault.
    pub restored_files: Vec<PathBuf>,
}

impl DamagedOnDrive {
    /// The damage a range error of the drive set names in repository file `file`; `None` for
    /// any other error.
    pub(crate) fn of_error(file: &std::path::Path, err: &seedship_drive::Error) -> Option<Self> {
        match err {
            seedship_drive::Error::Damaged {
                drive_file,
                file_offset,
                len,
                status,
                ..
            } => Some(Self {
                file: file.to_owned(),
                drive_file: drive_file.clone(),
                offset: *file_offset,
                len: *len,
                status: *status,
                restored_files: Vec::new(),
            }),
            _ => None,
        }
    }
}

/// What `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Whether pack contents were read and verified too.
    pub read_data: bool,
    /// Findings that are errors.
    pub errors: Vec<String>,
    /// Findings that are only warnings (for example unused blobs).
    pub warnings: Vec<String>,
}

/// The full 64-hex-digit form of a rustic id (its `Display` shows only 8).
pub(crate) fn hex(id: &impl std::ops::Deref<Target = rustic_core::Id>) -> String {
    id.to_hex().to_string()
}

/// What `forget` decided for one group of snapshots (same host and paths, as restic groups).
#[derive(Debug, Clone, Serialize)]
pub struct ForgetGroup {
    /// Host of the group's snapshots.
    pub hostname: String,
    /// Paths of the group's snapshots.
    pub paths: Vec<String>,
    /// Snapshots kept, newest first, with the rules that keep each.
    pub keep: Vec<ForgetDecision>,
    /// Snapshots removed (or, in a dry run, that would be).
    pub remove: Vec<ForgetDecision>,
}

/// One snapshot of a [`ForgetGroup`].
#[derive(Debug, Clone, Serialize)]
pub struct ForgetDecision {
    /// Snapshot id (64 hex digits).
    pub id: String,
    /// When it was taken (RFC 3339).
    pub time: String,
    /// The keep rules that keep it (`last snapshot`, `daily snapshot`, ...); empty if removed.
    pub reasons: Vec<String>,
}

/// What `forget` did.
#[derive(Debug, Clone, Serialize)]
pub struct ForgetReport {
    /// Decisions, group by group.
    pub groups: Vec<ForgetGroup>,
    /// How many snapshots were removed (0 in a dry run).
    pub removed: usize,
    /// Nothing was changed.
    pub dry_run: bool,
}

/// What `prune` did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// Pack files deleted because nothing in them is used.
    pub packs_removed: u64,
    /// Pack files whose used blobs were written into new packs, then deleted.
    pub packs_repacked: u64,
    /// Pack files kept as they are.
    pub packs_kept: u64,
    /// Bytes of blobs no snapshot uses, before the prune.
    pub unused_bytes: u64,
    /// Bytes freed (unused blobs in deleted or repacked packs).
    pub freed_bytes: u64,
    /// Bytes of used blobs written again by repacking.
    pub repacked_bytes: u64,
    /// Nothing was changed.
    pub dry_run: bool,
}
