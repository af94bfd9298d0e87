//! Where the drive format's vocabulary becomes the job service's: drive statuses of drives that
//! could not be opened, and range statuses of the ranges the drive reader found bad.

use seedship_jobs::{DriveStatus, RangeStatus};

/// The Import/Export drive status for a drive that could not be opened.
pub fn drive_status_of(err: &seedship_drive::Error) -> DriveStatus {
    use seedship_drive::Error as E;
    match err {
        E::DriveNotDirectory { .. } => DriveStatus::DiskNotFound,
        E::DriveMismatch { .. } => DriveStatus::ManifestDriveIdMismatch,
        E::Format { path, .. } if path.as_os_str() == "<import job>" => DriveStatus::KeyInvalid,
        E::WrongKey => DriveStatus::UnlockFailed,
        E::ManifestNotFound { .. } => DriveStatus::ManifestNotFound,
        E::ManifestInvalid { .. } => DriveStatus::ManifestCorrupted,
        E::Format { .. } | E::DeclaredBeyondDrive { .. } => DriveStatus::ManifestFormatInvalid,
        E::NotRegularFile { .. } | E::FileTooLarge { .. } => DriveStatus::ReadManifestFailed,
        E::Io { .. } => DriveStatus::ReadManifestFailed,
        _ => DriveStatus::InternalError,
    }
}

/// The error log's status of a range the drive reader found bad.
pub fn range_status_of(status: seedship_drive::RangeStatus) -> RangeStatus {
    match status {
        seedship_drive::RangeStatus::Changed => RangeStatus::Corrupted,
        seedship_drive::RangeStatus::Truncated => RangeStatus::FileUnexpectedEnd,
        seedship_drive::RangeStatus::Missing => RangeStatus::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drive_that_does_not_unlock_is_unlock_failed() {
        assert_eq!(
            drive_status_of(&seedship_drive::Error::WrongKey),
            DriveStatus::UnlockFailed
        );
    }

    #[test]
    fn every_bad_range_has_an_error_log_status() {
        use seedship_drive::RangeStatus as Drive;
        assert_eq!(range_status_of(Drive::Changed), RangeStatus::Corrupted);
        assert_eq!(range_status_of(Drive::Truncated), RangeStatus::FileUnexpectedEnd);
        assert_eq!(range_status_of(Drive::Missing), RangeStatus::Missing);
    }
}
