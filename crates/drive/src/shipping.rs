//! What the import job needs to know of a prepared drive, read from its journal: the drive id,
//! the drive key wrapped to the import service, and the hash of the manifest it must find.

use crate::error::{Error, Result};
use crate::format::to_hex;
use crate::journal::{Holder, Journal};
use std::path::Path;

/// One drive of an import job, as its journal describes it (all binary values in lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShippingRecord {
    /// The drive id: 32 hex digits, as in the drive marker.
    pub drive_id: String,
    /// The session whose manifest the import reads (the journal's last session).
    pub session_id: String,
    /// The drive key wrapped to the import service (`WrappedKey` encoding, hex).
    pub wrapped_key: String,
    /// BLAKE3 of the session's `manifest.ssm`, hex.
    pub manifest_hash: String,
    /// Bytes the session stored on the drive (ciphertext with nonces and tags).
    pub stored_bytes: u64,
}

/// Whether the last session of `journal` is complete (its manifest is on the drive), so that
/// the drive can be shipped; `false` means `resume` or `abort` first.
///
/// # Errors
/// The journal cannot be read or holds no session.
pub fn session_complete(journal: &Path) -> Result<bool> {
    let journal = Journal::open(journal)?;
    let last = journal
        .last_session()?
        .ok_or_else(|| Error::state(journal.path(), "holds no session"))?;
    Ok(last.completed && last.manifest_hash.is_some())
}

/// Reads the shipping record of the drive whose journal is `journal`.
///
/// # Errors
/// The journal cannot be read, has no completed last session (resume or abort it first), or
/// holds no key wrapped to the import service.
pub fn shipping_record(journal: &Path) -> Result<ShippingRecord> {
    let journal = Journal::open(journal)?;
    let last = journal
        .last_session()?
        .ok_or_else(|| Error::state(journal.path(), "holds no session"))?;
    let manifest_hash = match (last.completed, last.manifest_hash) {
        (true, Some(hash)) => hash,
        _ => {
            return Err(Error::state(
                journal.path(),
                format!(
                    "session {} is not complete; run `seedship drive resume` or `abort` first",
                    last.session_id
                ),
            ));
        }
    };
    let wrapped = journal
        .wrapped_keys()?
        .into_iter()
        .find(|(holder, _)| *holder == Holder::Service)
        .ok_or_else(|| Error::state(journal.path(), "holds no key wrapped to the import service"))?
        .1;
    Ok(ShippingRecord {
        drive_id: to_hex(&journal.drive_id()?),
        session_id: last.session_id,
        wrapped_key: to_hex(&wrapped.encode()),
        manifest_hash: to_hex(&manifest_hash),
        stored_bytes: journal.stored_bytes(last.seq)?,
    })
}
