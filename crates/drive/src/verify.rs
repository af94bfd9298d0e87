//! `verify`: re-reads a drive and compares it with what its journal recorded.

use crate::check::{RangeChecks, SegmentCheck, SegmentRef, SegmentStatus, WriteSink, check_segment};
use crate::copy;
use crate::crypto::{self, Unlock};
use crate::error::{Error, Result};
use crate::format::{self, ManifestEntry};
use crate::fsutil;
use crate::journal::Journal;
use crate::marker;
use crate::session::open_plan;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How a session's manifest file compares with the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestStatus {
    /// Its hash matches the journal and it lists what the journal recorded.
    Ok,
    /// It is gone.
    Missing,
    /// Its hash, authentication or content differs from the journal.
    Changed,
}

/// The check of one session on the drive.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionReport {
    /// The session id.
    pub session_id: String,
    /// The manifest file's state.
    pub manifest: ManifestStatus,
    /// Segments checked.
    pub segments: u64,
    /// Ranges checked.
    pub ranges: u64,
    /// Stored bytes read.
    pub stored_bytes: u64,
    /// Every segment that does not match, with its bad ranges.
    pub problems: Vec<SegmentCheck>,
}

/// The result of `verify`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// The journal.
    pub journal: PathBuf,
    /// The drive.
    pub drive: PathBuf,
    /// One entry per completed session on the drive.
    pub sessions: Vec<SessionReport>,
}

impl VerifyReport {
    /// Whether everything matches.
    pub fn is_ok(&self) -> bool {
        self.sessions
            .iter()
            .all(|s| s.manifest == ManifestStatus::Ok && s.problems.is_empty())
    }
}

/// Threads checking segments: decrypting and hashing is CPU-bound, so the check goes as fast as
/// the cores (or the drive) allow.
fn verify_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

/// `check` of every entry, on [`verify_threads`] threads taking entries in turn; the results
/// in entry order, or the first error.
fn check_all<T: Send>(
    entries: &[ManifestEntry],
    check: impl Fn(&ManifestEntry) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Result<T>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..verify_threads())
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(entry) = entries.get(i) else { break };
                        let result = check(entry);
                        let failed = result.is_err();
                        mine.push((i, result));
                        if failed {
                            // the others stop at their next entry
                            next.store(entries.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, result)| result).collect()
}

/// Re-reads every completed session of the drive: the manifest file against the journal's
/// hash, every range against its checksum and authentication tag, and the whole-file
/// checksum of each file held entirely on this drive. The reference is the journal
/// (sealed plan and recorded checksums), so a lost manifest does not stop the check.
///
/// # Errors
/// A missing or foreign journal, a drive of another journal, a wrong key, or no completed
/// session; mismatches are not errors but entries of the report.
pub fn verify(journal: &Path, drive: &Path, unlock: &Unlock<'_>) -> Result<VerifyReport> {
    let journal = Journal::open(journal)?;
    if !drive.is_dir() {
        return Err(Error::DriveNotDirectory { path: drive.into() });
    }
    let drive_id = journal.drive_id()?;
    marker::check(drive, &drive_id)?;
    let wrapped: Vec<_> = journal.wrapped_keys()?.into_iter().map(|(_, w)| w).collect();
    let key = crypto::unwrap(&wrapped, &drive_id, unlock)?;
    let mut sessions = Vec::new();
    for row in journal.sessions()?.into_iter().filter(|r| r.completed) {
        let plan = open_plan(&journal, &row, &drive_id, &key)?;
        let reference = copy::manifest_from_journal(&journal, row.seq, &drive_id, &key, &plan)?;
        let path = copy::manifest_path(drive, &row.session_id);
        let manifest = match fsutil::read_drive_file(drive, &path, format::MAX_MANIFEST_LEN)? {
            None => ManifestStatus::Missing,
            Some(bytes) => {
                let same_hash = row.manifest_hash == Some(*blake3::hash(&bytes).as_bytes());
                let same_content = format::decode_manifest_file(&bytes)
                    .ok()
                    .and_then(|sealed| {
                        key.open(
                            &format::value_aad("manifest", &drive_id, &row.session_id, 0),
                            &sealed,
                        )
                    })
                    .and_then(|plain| format::Manifest::decode(&plain).ok())
                    .is_some_and(|m| m == reference);
                if same_hash && same_content {
                    ManifestStatus::Ok
                } else {
                    ManifestStatus::Changed
                }
            }
        };
        let mut report = SessionReport {
            session_id: row.session_id.clone(),
            manifest,
            segments: 0,
            ranges: 0,
            stored_bytes: 0,
            problems: Vec::new(),
        };
        let checks = check_all(&reference.entries, |entry| {
            let mut discard = std::io::sink();
            let mut sink = WriteSink::new(&mut discard);
            let whole = entry.spec.offset == 0 && entry.spec.is_last();
            let mut hasher = blake3::Hasher::new();
            let seg = SegmentRef {
                drive,
                drive_id: &drive_id,
                session_id: &row.session_id,
                range_cipher: reference.range_cipher,
                range_size: reference.range_size,
                key: &key,
                entry,
            };
            let mut check = check_segment(&seg, RangeChecks::All, whole.then_some(&mut hasher), &mut sink)?;
            if whole
                && check.status == SegmentStatus::Ok
                && entry.file_hash != Some(*hasher.finalize().as_bytes())
            {
                check.status = SegmentStatus::Changed;
            }
            Ok(check)
        })?;
        for check in checks {
            report.segments += 1;
            report.ranges += check.ranges;
            report.stored_bytes += check.stored_len;
            if check.status != SegmentStatus::Ok {
                report.problems.push(check);
            }
        }
        sessions.push(report);
    }
    if sessions.is_empty() {
        return Err(Error::state(journal.path(), "no completed session to verify"));
    }
    Ok(VerifyReport {
        journal: journal.path().to_path_buf(),
        drive: drive.to_path_buf(),
        sessions,
    })
}
