//! The drive marker `<drive>/seedship-drive.id`: the drive id, binding a drive to its journal.

use crate::error::{Error, Result};
use crate::format::to_hex;
use crate::fsutil;
use std::path::{Path, PathBuf};

/// File name of the marker in a drive's root.
pub const MARKER_NAME: &str = "seedship-drive.id";
const LABEL: &str = "seedship-drive-1:";

fn path(drive: &Path) -> PathBuf {
    drive.join(MARKER_NAME)
}

/// The drive id (hex) in a drive's marker, `None` if the drive has no marker.
///
/// # Errors
/// The marker exists but cannot be read.
pub fn read_drive_id(drive: &Path) -> Result<Option<String>> {
    read(drive)
}

/// The drive id in the marker, if the drive has one.
pub(crate) fn read(drive: &Path) -> Result<Option<String>> {
    let p = path(drive);
    match std::fs::read_to_string(&p) {
        Ok(text) => Ok(Some(
            text.trim().strip_prefix(LABEL).unwrap_or(text.trim()).to_owned(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(p)(e)),
    }
}

/// Checks that the drive carries the marker of `id`.
pub(crate) fn check(drive: &Path, id: &[u8; 16]) -> Result<()> {
    let expected = to_hex(id);
    match read(drive)? {
        Some(found) if found == expected => Ok(()),
        found => Err(Error::DriveMismatch {
            drive: drive.into(),
            found: found.unwrap_or_else(|| "none".into()),
            expected,
        }),
    }
}

/// Writes the marker of `id` (durably).
pub(crate) fn write(drive: &Path, id: &[u8; 16]) -> Result<()> {
    fsutil::write_atomic(&path(drive), format!("{LABEL}{}\n", to_hex(id)).as_bytes())
}
