//! What the import job needs to know of a prepared drive, read from its journal: the drive id,
//! the drive key wrapped to the import service, and the hash of the manifest it must find.

use crate::error::{Error, Result};
use crate::format::to_hex;
use crate::journal::{Holder, Journal};
use seedship_jobs::DeviceInfo;
use std::path::Path;

/// One drive of an import job, as its journal describes it (all binary values in lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShippingRecord {
    /// The drive id: 32 hex digits, as in the drive marker.
    pub drive_id: String,
    /// The journal's last session.
    pub session_id: String,
    /// The drive key wrapped to the import service (`WrappedKey` encoding, hex).
    pub wrapped_key: String,
    /// BLAKE3 of the last session's `manifest.ssm`, hex.
    pub manifest_hash: String,
    /// BLAKE3 of the `manifest.ssm` of each earlier session, oldest first, hex: the import
    /// reads every session of the drive.
    pub earlier_manifest_hashes: Vec<String>,
    /// Bytes every session stored on the drive (ciphertext with nonces and tags).
    pub stored_bytes: u64,
    /// The device behind the drive when its last session started (`None` for a journal
    /// written before devices were recorded).
    pub device: Option<DeviceInfo>,
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

/// Reads the shipping record of the drive whose journal is `journal`: every session on the
/// drive, all of which the import reads.
///
/// # Errors
/// The journal cannot be read, holds no session, a session that is not complete (resume or
/// abort it first), more sessions than an import job takes
/// ([`seedship_jobs::MAX_SESSIONS_PER_DRIVE`]), or no key wrapped to the import service.
pub fn shipping_record(journal: &Path) -> Result<ShippingRecord> {
    let journal = Journal::open(journal)?;
    let sessions = journal.sessions()?;
    if sessions.len() > seedship_jobs::MAX_SESSIONS_PER_DRIVE {
        return Err(Error::state(
            journal.path(),
            format!(
                "holds {} sessions; an import job takes at most {} per drive",
                sessions.len(),
                seedship_jobs::MAX_SESSIONS_PER_DRIVE
            ),
        ));
    }
    let mut hashes = Vec::with_capacity(sessions.len());
    let mut stored_bytes = 0u64;
    for session in &sessions {
        match (session.completed, session.manifest_hash) {
            (true, Some(hash)) => hashes.push(to_hex(&hash)),
            _ => {
                return Err(Error::state(
                    journal.path(),
                    format!(
                        "session {} is not complete; run `seedship drive resume` or `abort` first",
                        session.session_id
                    ),
                ));
            }
        }
        stored_bytes = stored_bytes.saturating_add(journal.stored_bytes(session.seq)?);
    }
    let (Some(last), Some(manifest_hash)) = (sessions.last(), hashes.pop()) else {
        return Err(Error::state(journal.path(), "holds no session"));
    };
    let wrapped = journal
        .wrapped_keys()?
        .into_iter()
        .find(|(holder, _)| *holder == Holder::Service)
        .ok_or_else(|| Error::state(journal.path(), "holds no key wrapped to the import service"))?
        .1;
    Ok(ShippingRecord {
        drive_id: to_hex(&journal.drive_id()?),
        session_id: last.session_id.clone(),
        wrapped_key: to_hex(&wrapped.encode()),
        manifest_hash,
        earlier_manifest_hashes: hashes,
        stored_bytes,
        device: journal.device(last.seq)?,
    })
}

impl From<ShippingRecord> for seedship_jobs::DriveSpec {
    /// The drive as an import job's spec names it.
    fn from(record: ShippingRecord) -> Self {
        Self {
            drive_id: record.drive_id,
            wrapped_key: record.wrapped_key,
            manifest_hash: record.manifest_hash,
            earlier_manifest_hashes: record.earlier_manifest_hashes,
            bytes: record.stored_bytes,
            device: record.device,
        }
    }
}
