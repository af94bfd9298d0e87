//! The drive key file `<drive>/seedship-drive.key`: the drive key wrapped to one X25519 public
//! key (the owner's, for drives that bring a vault back), so that the drives and the owner's
//! private key are all a restore needs. The text is [`format::encode_drive_key`]'s; this module
//! reads and writes the file.

use crate::crypto::Recipient;
use crate::error::{Error, Result};
use crate::format::{self, DRIVE_KEY_LEN, WrappedKey, to_hex};
use crate::fsutil;
use crate::journal::Journal;
use crate::marker;
use std::path::{Path, PathBuf};

/// File name of the drive key file in a drive's root.
pub const DRIVE_KEY_NAME: &str = "seedship-drive.key";

fn path(drive: &Path) -> PathBuf {
    drive.join(DRIVE_KEY_NAME)
}

/// The wrapping in the drive's key file, `None` if the drive has none. The read is bounded by
/// the file's length and never follows a link (the drive may be hostile).
pub(crate) fn read(drive: &Path) -> Result<Option<WrappedKey>> {
    let p = path(drive);
    fsutil::read_drive_file(drive, &p, DRIVE_KEY_LEN as u64)?
        .map(|bytes| format::parse_drive_key(&bytes).map_err(Error::format(&p)))
        .transpose()
}

/// Writes `wrapped` as the drive's key file (durably).
pub(crate) fn write(drive: &Path, wrapped: &WrappedKey) -> Result<()> {
    let p = path(drive);
    let text = format::encode_drive_key(wrapped).map_err(Error::format(&p))?;
    fsutil::write_atomic(&p, text.as_bytes())
}

/// Puts the drive key on the drive, wrapped to `to`: takes the journal's wrapping to `to`
/// (made when the drive was prepared, or by the export writer) and writes it as
/// `<drive>/seedship-drive.key`. The drive's marker must name the journal's drive.
///
/// # Errors
/// [`Error::DriveMismatch`] for a drive of another journal, [`Error::JournalState`] when the
/// journal holds no wrapping to `to`, journal and I/O errors.
pub fn write_drive_key(journal: &Path, drive: &Path, to: &Recipient) -> Result<()> {
    put(&Journal::open(journal)?, drive, to)
}

/// [`write_drive_key`] with the journal open.
pub(crate) fn put(journal: &Journal, drive: &Path, to: &Recipient) -> Result<()> {
    let drive_id = journal.drive_id()?;
    marker::check(drive, &drive_id)?;
    let wrapped = journal
        .wrapped_keys()?
        .into_iter()
        .map(|(_, wrapped)| wrapped)
        .find(|wrapped| matches!(wrapped, WrappedKey::X25519 { recipient, .. } if *recipient == to.0))
        .ok_or_else(|| {
            Error::state(
                journal.path(),
                format!("holds no drive key wrapped to public key {}", to_hex(&to.0)),
            )
        })?;
    write(drive, &wrapped)
}

/// Removes the passphrase's wrapping of the drive key from `journal`, so that only the
/// wrappings to public keys remain: once an export's drives are written and verified, the
/// data centre keeps nothing that opens them (the owner's private key does). The journal's
/// session can no longer be resumed or verified after that. Returns whether there was one.
///
/// # Errors
/// Journal errors.
pub fn forget_passphrase(journal: &Path) -> Result<bool> {
    Journal::open(journal)?.forget_passphrase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testing::{mkfifo, within_seconds};

    #[test]
    fn a_drive_key_file_is_read_strictly_and_bounded() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let drive = tmp.path();
        assert!(read(drive).expect("read").is_none());
        let wrapped = WrappedKey::X25519 {
            ephemeral: [1; 32],
            recipient: [2; 32],
            sealed: format::Sealed {
                nonce: [3; 24],
                body: vec![4; 48],
            },
        };
        write(drive, &wrapped).expect("write");
        assert_eq!(read(drive).expect("read"), Some(wrapped));
        // one byte more than the format's length: refused before parsing
        let mut text = std::fs::read(path(drive)).expect("read back");
        text.push(b'\n');
        std::fs::write(path(drive), &text).expect("grow");
        assert!(matches!(
            read(drive),
            Err(Error::FileTooLarge { len, limit, .. }) if len == DRIVE_KEY_LEN as u64 + 1 && limit == DRIVE_KEY_LEN as u64
        ));
        // a flipped hex digit to a non-digit: a format error naming the file
        text.pop();
        text[30] = b'X';
        std::fs::write(path(drive), &text).expect("write");
        match read(drive) {
            Err(Error::Format { path: p, .. }) => assert_eq!(p, path(drive)),
            other => panic!("expected a format error, got {other:?}"),
        }
        std::fs::remove_file(path(drive)).expect("rm");
        mkfifo(&path(drive));
        let owned = drive.to_owned();
        let refused = within_seconds(move || read(&owned).map_err(|e| e.to_string()));
        assert!(refused.is_err_and(|e| e.contains("is a FIFO")));
    }
}
