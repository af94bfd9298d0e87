//! The drive marker `<drive>/seedship-drive.id`: the drive id, binding a drive to its journal.
//! The text is [`format::encode_marker`]'s; this module reads and writes the file.

use crate::error::{Error, Result};
use crate::format::{self, MARKER_LEN, to_hex};
use crate::fsutil;
use std::path::{Path, PathBuf};

/// File name of the marker in a drive's root.
pub const MARKER_NAME: &str = "seedship-drive.id";

fn path(drive: &Path) -> PathBuf {
    drive.join(MARKER_NAME)
}

/// The drive id (hex) in a drive's marker, `None` if the drive has no marker.
///
/// # Errors
/// The marker cannot be read: [`Error::NotRegularFile`] (a link, FIFO or device),
/// [`Error::FileTooLarge`], [`Error::Format`] (not a marker as `drive prepare` writes it),
/// [`Error::Io`].
pub fn read_drive_id(drive: &Path) -> Result<Option<String>> {
    Ok(read(drive)?.map(|id| to_hex(&id)))
}

/// The drive id in the marker, if the drive has one. The read is bounded by the marker's
/// length and never follows a link (the drive may be hostile).
pub(crate) fn read(drive: &Path) -> Result<Option<[u8; 16]>> {
    let p = path(drive);
    fsutil::read_drive_file(drive, &p, MARKER_LEN as u64)?
        .map(|bytes| format::parse_marker(&bytes).map_err(Error::format(&p)))
        .transpose()
}

/// Checks that the drive carries the marker of `id`.
pub(crate) fn check(drive: &Path, id: &[u8; 16]) -> Result<()> {
    match read(drive)? {
        Some(found) if found == *id => Ok(()),
        found => Err(Error::DriveMismatch {
            drive: drive.into(),
            found: found.map_or_else(|| "none".into(), |found| to_hex(&found)),
            expected: to_hex(id),
        }),
    }
}

/// Writes the marker of `id` (durably).
pub(crate) fn write(drive: &Path, id: &[u8; 16]) -> Result<()> {
    fsutil::write_atomic(&path(drive), format::encode_marker(id).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FormatError;
    use crate::fsutil::testing::{mkfifo, within_seconds};

    const ID: [u8; 16] = [0x5a; 16];

    fn drive() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let drive = tmp.path().join("drive");
        std::fs::create_dir(&drive).expect("mkdir");
        (tmp, drive)
    }

    #[test]
    fn a_written_marker_reads_back() {
        let (_tmp, drive) = drive();
        assert_eq!(read_drive_id(&drive).expect("read"), None);
        write(&drive, &ID).expect("write");
        assert_eq!(read_drive_id(&drive).expect("read"), Some(to_hex(&ID)));
        check(&drive, &ID).expect("same drive");
    }

    #[test]
    fn a_marker_that_is_not_a_regular_file_is_refused() {
        let (tmp, drive) = drive();
        // a valid marker, outside the drive
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).expect("mkdir");
        write(&elsewhere, &ID).expect("write");
        std::os::unix::fs::symlink(path(&elsewhere), path(&drive)).expect("symlink");
        assert!(matches!(
            read(&drive),
            Err(Error::NotRegularFile {
                kind: "symbolic link",
                ..
            })
        ));
        std::fs::remove_file(path(&drive)).expect("rm");
        mkfifo(&path(&drive));
        let refused = within_seconds(move || read(&drive).map_err(|e| e.to_string()));
        assert!(refused.is_err_and(|e| e.contains("is a FIFO")));
    }

    #[test]
    fn a_malformed_or_oversized_marker_is_a_precise_error() {
        let (_tmp, drive) = drive();
        let cases: [(&[u8], FormatError); 3] = [
            (b"hello\n", FormatError::BadMagic { what: "drive marker" }),
            (
                b"seedship-drive-1:5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A\n",
                FormatError::Invalid {
                    what: "drive id (32 lowercase hex digits)",
                },
            ),
            (
                b"seedship-drive-1:5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
                FormatError::Invalid {
                    what: "drive marker (no newline after the drive id)",
                },
            ),
        ];
        for (bytes, expected) in cases {
            std::fs::write(path(&drive), bytes).expect("write");
            match read(&drive) {
                Err(Error::Format { source, .. }) => assert_eq!(source, expected),
                other => panic!(
                    "{}: expected {expected:?}, got {other:?}",
                    String::from_utf8_lossy(bytes)
                ),
            }
        }
        std::fs::write(path(&drive), vec![b'a'; 4096]).expect("write");
        assert!(matches!(read(&drive), Err(Error::FileTooLarge { len: 4096, .. })));
    }
}
