//! The import side: given the journals, the drive directories and the import service's
//! private key, list the files of a drive set and stream each one out, verified range by
//! range, with memory bounded by one range.

use crate::check::{SegmentCheck, SegmentRef, SegmentStatus, check_segment};
use crate::copy;
use crate::crypto::{self, DriveKey, Identity, Unlock};
use crate::error::{Error, Result};
use crate::format::{self, BlobType, Disposition, Manifest};
use crate::journal::Journal;
use crate::marker;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

struct ImportDrive {
    dir: PathBuf,
    drive_id: [u8; 16],
    key: DriveKey,
    manifests: Vec<Manifest>,
}

/// One source file of a drive set.
#[derive(Debug, Clone)]
pub struct ImportFile {
    /// The copy session.
    pub session_id: String,
    /// Path relative to its source root.
    pub path: PathBuf,
    /// Destination object name (`container/prefix/path`).
    pub dst: String,
    /// Blob type.
    pub blob_type: BlobType,
    /// Disposition when the destination exists.
    pub disposition: Disposition,
    /// File length.
    pub size: u64,
    /// Metadata file contents given at preparation.
    pub metadata: Option<Vec<u8>>,
    /// Properties file contents given at preparation.
    pub properties: Option<Vec<u8>>,
    /// Whether every segment of the file is on the drives given.
    pub complete: bool,
    /// `(drive, manifest, entry)` of each segment, in file order.
    parts: Vec<Part>,
}

/// `(drive, manifest, entry)` indices of one segment.
type Part = (usize, usize, usize);

/// `(session, set id, file id)`: what joins a file's segments across drives.
type FileKey = (String, [u8; 16], u64);

/// Overall result of reading one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Every range and the whole-file checksum match.
    Ok,
    /// Some ranges or the whole-file checksum do not match (bad ranges were written as zeros).
    Corrupted,
    /// A segment is on a drive that was not given.
    Incomplete,
}

/// The result of reading one file: overall status and the check of each segment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileCheck {
    /// Destination object name.
    pub dst: String,
    /// Overall status.
    pub status: FileStatus,
    /// Whether the BLAKE3 of the bytes written matches the recorded file checksum.
    pub hash_ok: bool,
    /// Per segment, in file order.
    pub segments: Vec<SegmentCheck>,
}

/// An opened drive set, ready to stream files out.
pub struct ImportSet {
    drives: Vec<ImportDrive>,
    files: Vec<ImportFile>,
}

fn bad_manifest(drive: &Path, session: &str, reason: &'static str) -> Error {
    Error::state(
        copy::manifest_path(drive, session),
        format!("manifest of session {session}: {reason}"),
    )
}

impl ImportSet {
    /// Opens each `(journal, drive directory)` pair: unwraps the drive key with `identity`,
    /// reads each completed session's manifest from the drive, checks it against the hash in
    /// the journal, decrypts it, and joins the segments of every file across drives.
    ///
    /// # Errors
    /// A wrong key, a drive of another journal, a missing, changed or undecryptable manifest.
    pub fn open(drives: &[(PathBuf, PathBuf)], identity: &Identity) -> Result<Self> {
        let mut opened = Vec::new();
        for (journal_path, dir) in drives {
            let journal = Journal::open(journal_path)?;
            let drive_id = journal.drive_id()?;
            marker::check(dir, &drive_id)?;
            let wrapped: Vec<_> = journal.wrapped_keys()?.into_iter().map(|(_, w)| w).collect();
            let key = crypto::unwrap(&wrapped, &drive_id, &Unlock::Identity(identity))?;
            let mut manifests = Vec::new();
            for row in journal.sessions()?.into_iter().filter(|r| r.completed) {
                let path = copy::manifest_path(dir, &row.session_id);
                let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
                if row.manifest_hash != Some(*blake3::hash(&bytes).as_bytes()) {
                    return Err(bad_manifest(
                        dir,
                        &row.session_id,
                        "hash differs from the journal",
                    ));
                }
                let sealed = format::decode_manifest_file(&bytes).map_err(Error::format(&path))?;
                let aad = format::value_aad("manifest", &drive_id, &row.session_id, 0);
                let plain = key
                    .open(&aad, &sealed)
                    .ok_or_else(|| bad_manifest(dir, &row.session_id, "does not authenticate"))?;
                let manifest = Manifest::decode(&plain).map_err(Error::format(&path))?;
                if manifest.drive_id != drive_id || manifest.session_id != row.session_id {
                    return Err(bad_manifest(
                        dir,
                        &row.session_id,
                        "belongs to another drive or session",
                    ));
                }
                manifests.push(manifest);
            }
            opened.push(ImportDrive {
                dir: dir.clone(),
                drive_id,
                key,
                manifests,
            });
        }
        let mut grouped: BTreeMap<FileKey, Vec<(u64, Part)>> = BTreeMap::new();
        for (d, drive) in opened.iter().enumerate() {
            for (m, manifest) in drive.manifests.iter().enumerate() {
                for (e, entry) in manifest.entries.iter().enumerate() {
                    grouped
                        .entry((
                            manifest.session_id.clone(),
                            manifest.position.set_id,
                            entry.spec.file_id,
                        ))
                        .or_default()
                        .push((entry.spec.offset, (d, m, e)));
                }
            }
        }
        let mut files = Vec::new();
        for ((session_id, _, _), mut parts) in grouped {
            parts.sort_by_key(|(offset, _)| *offset);
            let entry = |&(d, m, e): &Part| &opened[d].manifests[m].entries[e].spec;
            let first = entry(&parts[0].1);
            let mut next = 0;
            for (_, part) in &parts {
                let spec = entry(part);
                if spec.offset == next {
                    next += spec.len;
                }
            }
            files.push(ImportFile {
                session_id,
                path: PathBuf::from(std::ffi::OsStr::from_bytes(&first.path)),
                dst: first.dst.clone(),
                blob_type: first.blob_type,
                disposition: first.disposition,
                size: first.file_size,
                metadata: first.metadata.clone(),
                properties: first.properties.clone(),
                complete: next == first.file_size,
                parts: parts.into_iter().map(|(_, p)| p).collect(),
            });
        }
        Ok(ImportSet {
            drives: opened,
            files,
        })
    }

    /// Every file of the set, ordered by session and source order.
    pub fn files(&self) -> &[ImportFile] {
        &self.files
    }

    /// Streams `file` into `out`, verifying each range (BLAKE3 and authentication) and the
    /// whole-file BLAKE3. A bad range is written as zeros of its length and reported.
    ///
    /// # Errors
    /// I/O errors reading the drive or writing `out`; mismatches are reported in the result.
    pub fn read_file(&self, file: &ImportFile, out: &mut dyn Write) -> Result<FileCheck> {
        let mut hasher = blake3::Hasher::new();
        let mut segments = Vec::new();
        let mut recorded = None;
        for &(d, m, e) in &file.parts {
            let drive = &self.drives[d];
            let manifest = &drive.manifests[m];
            let entry = &manifest.entries[e];
            if entry.file_hash.is_some() {
                recorded = entry.file_hash;
            }
            let seg = SegmentRef {
                drive: &drive.dir,
                drive_id: &drive.drive_id,
                session_id: &manifest.session_id,
                range_size: manifest.range_size,
                key: &drive.key,
                entry,
            };
            segments.push(check_segment(&seg, Some(&mut hasher), Some(&mut *out))?);
        }
        let hash_ok = file.complete && recorded == Some(*hasher.finalize().as_bytes());
        let status = if !file.complete {
            FileStatus::Incomplete
        } else if hash_ok && segments.iter().all(|s| s.status == SegmentStatus::Ok) {
            FileStatus::Ok
        } else {
            FileStatus::Corrupted
        };
        Ok(FileCheck {
            dst: file.dst.clone(),
            status,
            hash_ok,
            segments,
        })
    }
}
