//! Per-drive copy and error logs, modelled on Import/Export's `DriveLog` (JSON instead of XML).
//!
//! The copy log lists every blob of the drive with every range; the error log (see
//! [`DriveLog::error_log`]) keeps only the blobs and ranges that did not complete. The codes are
//! Import/Export's where they apply; see docs/design.md "Copy and error logs".

use crate::device::DeviceInfo;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::canonical;
use crate::error::Error;
use crate::job::MAX_DRIVE_BYTES;
use crate::state::DriveState;

/// Drive-level status: how the drive as a whole went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DriveStatus {
    /// Every blob and range completed, nothing renamed, skipped or overwritten.
    Completed,
    /// Every byte copied, but a blob was renamed, skipped or overwritten.
    CompletedWithWarnings,
    /// At least one blob or range failed.
    CompletedWithErrors,
    /// The drive directory was not found or not readable.
    DiskNotFound,
    /// The wrapped drive key could not be unwrapped with the service's key (`BitLockerKeyInvalid`).
    KeyInvalid,
    /// The key unwrapped but the drive did not unlock with it (`BitLockerUnlockVolumeFailed`).
    UnlockFailed,
    /// No manifest on the drive.
    ManifestNotFound,
    /// The manifest's hash differs from the one recorded in the job (`ManifestCorrupted`).
    ManifestCorrupted,
    /// The manifest does not parse.
    ManifestFormatInvalid,
    /// The manifest names another drive id.
    ManifestDriveIdMismatch,
    /// The manifest could not be read.
    ReadManifestFailed,
    /// The storage account refused access (`BlobRequestForbidden`).
    StorageRequestForbidden,
    /// Any other failure of the import service itself.
    InternalError,
}

/// Blob-level status: how one file of the drive became (or did not become) a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BlobStatus {
    /// Every range copied and verified.
    Completed,
    /// Some ranges failed; the blob is incomplete and was not committed under its name.
    CompletedWithErrors,
    /// The file's path is not a valid blob name.
    FileNameInvalid,
    /// The file's path is longer than a blob name may be.
    FileNameTooLong,
    /// The file was prepared as a page blob, which the import does not write (it is never
    /// written as a block blob instead).
    BlobTypeUnsupported,
    /// The manifest names a file that is not on the drive.
    FileNotFound,
    /// The file could not be opened.
    FileAccessDenied,
    /// The storage account rejected a request for this blob.
    BlobRequestFailed,
    /// The storage account refused access for this blob.
    BlobRequestForbidden,
    /// The disposition was rename and no free name was found.
    RenameFailed,
    /// The destination blob changed while it was being written.
    BlobUnexpectedChange,
    /// Reading the file failed.
    IOFailed,
    /// Any other failure.
    Failed,
}

/// Range-level status: one checksummed range of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RangeStatus {
    /// Read, checksum matched, written.
    Completed,
    /// Read, but the checksum did not match the manifest's.
    Corrupted,
    /// The range is not on this drive (a spanned file's part is missing).
    Missing,
    /// The file ended before the range did.
    FileUnexpectedEnd,
    /// Writing the range to the storage account failed.
    BlobRequestFailed,
    /// Reading the range failed.
    IOFailed,
    /// Not attempted because the blob had already failed.
    Cancelled,
}

/// What happened at the destination name (the disposition's outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DispositionOutcome {
    /// No blob had the name; it was created.
    Created,
    /// A blob had the name; the new blob got another one (see [`BlobLog::blob`]).
    Renamed,
    /// A blob had the name and the disposition was no-overwrite; nothing was written.
    Skipped,
    /// A blob had the name and was replaced.
    Overwritten,
    /// The blob was not written because of an error.
    Cancelled,
}

/// One checksummed range of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeLog {
    /// Byte offset in the file.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
    /// The manifest's checksum of the range (hex).
    pub checksum: String,
    /// The outcome.
    pub status: RangeStatus,
}

/// One file of the drive and the blob it became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobLog {
    /// The file's path on the drive, relative to the session directory.
    pub file: String,
    /// The blob name requested (destination prefix + file path).
    pub requested_blob: String,
    /// The blob name written (differs from `requested_blob` when renamed).
    pub blob: String,
    /// The file's length in bytes.
    pub length: u64,
    /// The outcome for the blob.
    pub status: BlobStatus,
    /// The disposition's outcome.
    pub disposition: DispositionOutcome,
    /// The ranges: all of them in the copy log, only failed ones in the error log.
    pub ranges: Vec<RangeLog>,
}

/// The log of one drive's transfer. The same type is the copy log and the error log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveLog {
    /// The job's name.
    pub job: String,
    /// The drive's id.
    pub drive_id: String,
    /// The drive-level status.
    pub status: DriveStatus,
    /// When the transfer started.
    #[serde(with = "crate::timefmt")]
    pub started_at: OffsetDateTime,
    /// When it ended.
    #[serde(with = "crate::timefmt")]
    pub finished_at: OffsetDateTime,
    /// The blobs.
    pub blobs: Vec<BlobLog>,
    /// The device behind the drive when it was prepared (the job's record), to match the
    /// physical drive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceInfo>,
    /// The device the data centre read the drive from (`import receive`'s `--drive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_from: Option<DeviceInfo>,
}

/// Something a drive's log reports as not done: what a repair has to fix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "scope")]
pub enum Problem {
    /// The drive as a whole failed (bad key, bad manifest...): nothing of it was copied.
    Drive {
        /// The drive-level status.
        status: DriveStatus,
    },
    /// A blob failed without a failed range to blame (bad name, rename failed...).
    Blob {
        /// The requested blob name.
        blob: String,
        /// The blob-level status.
        status: BlobStatus,
    },
    /// One range of a blob failed.
    Range {
        /// The requested blob name.
        blob: String,
        /// Byte offset.
        offset: u64,
        /// Length in bytes.
        length: u64,
        /// The range-level status.
        status: RangeStatus,
    },
}

impl DriveStatus {
    /// Whether the drive's files were processed at all (one of the three `Completed*` codes).
    pub fn is_processed(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::CompletedWithWarnings | Self::CompletedWithErrors
        )
    }

    /// The overall status of a processed drive from its blobs: errors if any blob or range
    /// failed, warnings if any blob was renamed, skipped or overwritten, else completed.
    pub fn from_blobs(blobs: &[BlobLog]) -> Self {
        if blobs.iter().any(BlobLog::has_errors) {
            Self::CompletedWithErrors
        } else if blobs.iter().any(BlobLog::has_warnings) {
            Self::CompletedWithWarnings
        } else {
            Self::Completed
        }
    }
}

impl BlobLog {
    /// Whether the blob or any of its ranges failed.
    pub fn has_errors(&self) -> bool {
        self.status != BlobStatus::Completed
            || self
                .ranges
                .iter()
                .any(|range| range.status != RangeStatus::Completed)
    }

    /// Whether the blob completed under another name, was skipped or overwrote a blob.
    pub fn has_warnings(&self) -> bool {
        matches!(
            self.disposition,
            DispositionOutcome::Renamed | DispositionOutcome::Skipped | DispositionOutcome::Overwritten
        )
    }
}

impl DriveLog {
    /// The state the drive ends its transfer in: `Completed` only if the drive status is
    /// `Completed` and no blob or range says otherwise (a log whose status contradicts its
    /// blobs counts as not clean); `CompletedMoreInfo` for everything else, including drives
    /// that could not be read at all.
    pub fn end_state(&self) -> DriveState {
        let clean = self.status == DriveStatus::Completed
            && !self
                .blobs
                .iter()
                .any(|blob| blob.has_errors() || blob.has_warnings());
        if clean {
            DriveState::Completed
        } else {
            DriveState::CompletedMoreInfo
        }
    }

    /// The error log: the blobs with errors or warnings, each with only its failed ranges.
    pub fn error_log(&self) -> DriveLog {
        let blobs = self
            .blobs
            .iter()
            .filter(|blob| blob.has_errors() || blob.has_warnings())
            .map(|blob| BlobLog {
                ranges: blob
                    .ranges
                    .iter()
                    .filter(|r| r.status != RangeStatus::Completed)
                    .cloned()
                    .collect(),
                ..blob.clone()
            })
            .collect();
        DriveLog {
            blobs,
            ..self.clone()
        }
    }

    /// Everything a repair must fix, sorted: the drive itself if it was not processed, else
    /// each failed range, and each failed blob that has no failed range. Warnings are not
    /// problems.
    pub fn problems(&self) -> Vec<Problem> {
        if !self.status.is_processed() {
            return vec![Problem::Drive { status: self.status }];
        }
        let mut problems = Vec::new();
        for blob in &self.blobs {
            let before = problems.len();
            problems.extend(
                blob.ranges
                    .iter()
                    .filter(|r| r.status != RangeStatus::Completed)
                    .map(|r| Problem::Range {
                        blob: blob.requested_blob.clone(),
                        offset: r.offset,
                        length: r.length,
                        status: r.status,
                    }),
            );
            if problems.len() == before && blob.status != BlobStatus::Completed {
                problems.push(Problem::Blob {
                    blob: blob.requested_blob.clone(),
                    status: blob.status,
                });
            }
        }
        problems.sort();
        problems
    }

    /// Total bytes of the blobs that completed (saturating; [`DriveLog::check_numbers`] refuses
    /// logs whose total does not fit).
    pub fn bytes_completed(&self) -> u64 {
        self.blobs
            .iter()
            .filter(|b| b.status == BlobStatus::Completed)
            .fold(0u64, |total, b| total.saturating_add(b.length))
    }

    /// Checks the numbers a log sent with a request carries: all blobs together at
    /// most [`MAX_DRIVE_BYTES`], every range inside its blob.
    ///
    /// # Errors
    /// [`Error::ValueTooLarge`] naming the first field that breaks a bound.
    pub fn check_numbers(&self) -> Result<(), Error> {
        for (field, device) in [("device", &self.device), ("received_from", &self.received_from)] {
            if let Some(device) = device {
                device.check(field)?;
            }
        }
        let too_large = |field: String, value: u64, max: u64| Err(Error::ValueTooLarge { field, value, max });
        let mut total = 0u64;
        for (index, blob) in self.blobs.iter().enumerate() {
            total = total.saturating_add(blob.length);
            if total > MAX_DRIVE_BYTES {
                return too_large(format!("blobs[{index}].length"), blob.length, MAX_DRIVE_BYTES);
            }
            for (r, range) in blob.ranges.iter().enumerate() {
                // an offset past the end leaves no room: any non-empty range is refused
                let room = blob.length.saturating_sub(range.offset);
                if range.length > room {
                    return too_large(format!("blobs[{index}].ranges[{r}].length"), range.length, room);
                }
            }
        }
        Ok(())
    }

    /// The object name of this drive's copy log: `<job>_<drive>_<YYYYMMDDTHHMMSSZ>_copy.json`.
    pub fn copy_log_name(&self) -> String {
        self.object_name("copy")
    }

    /// The object name of this drive's error log: `<job>_<drive>_<YYYYMMDDTHHMMSSZ>_error.json`.
    pub fn error_log_name(&self) -> String {
        self.object_name("error")
    }

    fn object_name(&self, kind: &str) -> String {
        let t = self.finished_at.to_offset(time::UtcOffset::UTC);
        format!(
            "{}_{}_{:04}{:02}{:02}T{:02}{:02}{:02}Z_{kind}.json",
            self.job,
            self.drive_id,
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// BLAKE3 (hex) of the log's canonical JSON (the custody log's form, see
    /// docs/design.md): identical for a log and the log read back from its JSON, so a
    /// stored copy log can be checked against the `copy_log_hash` of its custody entry.
    ///
    /// # Errors
    /// Only if serde_json fails, which our types do not provoke.
    pub fn content_hash(&self) -> Result<String, serde_json::Error> {
        let mut text = String::new();
        canonical::write(&serde_json::to_value(self)?, &mut text);
        Ok(blake3::hash(text.as_bytes()).to_hex().to_string())
    }

    /// The log as pretty-printed JSON. Timestamps are written with millisecond precision.
    ///
    /// # Errors
    /// Only if serde_json fails, which our types do not provoke.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Parses a log written by [`DriveLog::to_json`].
    ///
    /// # Errors
    /// The JSON does not describe a drive log.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
