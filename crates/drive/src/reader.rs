//! The import side: given the journals, the drive directories and the import service's
//! private key, list the files of a drive set and stream each one out, verified range by
//! range, with memory bounded by one range.

use crate::check::{
    self, RangeChecks, RangeSink, RangeStatus, SegmentCheck, SegmentRef, SegmentStatus, WriteSink,
    check_segment,
};
use crate::copy;
use crate::crypto::{self, DriveKey, Identity, Unlock};
use crate::drive_key;
use crate::error::{Error, Result};
use crate::format::{self, BlobType, Disposition, Manifest};
use crate::fsutil;
use crate::journal::Journal;
use crate::marker;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One opened drive of an import: its key unwrapped and its manifests read and authenticated.
pub struct ImportDrive {
    dir: PathBuf,
    drive_id: [u8; 16],
    key: DriveKey,
    manifests: Vec<Manifest>,
}

/// A shipped drive as its import job records it (all values hex, as in a
/// [`ShippingRecord`](crate::ShippingRecord)): what the data centre knows without the journal.
#[derive(Debug, Clone)]
pub struct ShippedDrive<'a> {
    /// The mounted drive.
    pub dir: &'a Path,
    /// The drive id the job expects (32 hex digits).
    pub drive_id: &'a str,
    /// The drive key wrapped to the import service (`WrappedKey` encoding, hex).
    pub wrapped_key: &'a str,
    /// BLAKE3 of the manifest of every session to import, oldest first (hex).
    pub manifest_hashes: Vec<&'a str>,
}

impl ImportDrive {
    /// Opens a drive from its journal: every completed session of the journal is read.
    ///
    /// # Errors
    /// As [`ImportSet::open`].
    fn from_journal(journal_path: &Path, dir: &Path, identity: &Identity) -> Result<Self> {
        let journal = Journal::open(journal_path)?;
        let drive_id = journal.drive_id()?;
        marker::check(dir, &drive_id)?;
        let wrapped: Vec<_> = journal.wrapped_keys()?.into_iter().map(|(_, w)| w).collect();
        let key = crypto::unwrap(&wrapped, &drive_id, &Unlock::Identity(identity))?;
        let mut manifests = Vec::new();
        for row in journal.sessions()?.into_iter().filter(|r| r.completed) {
            let path = copy::manifest_path(dir, &row.session_id);
            let bytes = read_manifest(dir, &path)?
                .ok_or_else(|| Error::io(&path)(std::io::ErrorKind::NotFound.into()))?;
            if row.manifest_hash != Some(*blake3::hash(&bytes).as_bytes()) {
                return Err(bad_manifest(
                    dir,
                    &row.session_id,
                    "hash differs from the journal",
                ));
            }
            manifests.push(open_manifest(dir, &drive_id, &key, &row.session_id, bytes)?);
        }
        Ok(ImportDrive {
            dir: dir.to_owned(),
            drive_id,
            key,
            manifests,
        })
    }

    /// Opens a shipped drive with the import service's key and no journal: checks the drive
    /// marker against the job's drive id, unwraps the key, finds the sessions whose
    /// manifests have the job's hashes (every one of them: a drive of several sessions is
    /// imported whole), and checks that the drive's data files hold what each manifest
    /// declares.
    ///
    /// Everything on the drive is hostile input here: files are read only as regular files
    /// without following links, within the format's limits, and a drive whose data files hold
    /// less than its manifest declares is refused before anything is read from them (else a
    /// few bytes of manifest could make the import stream terabytes of zeros for "missing"
    /// ranges).
    ///
    /// # Errors
    /// [`Error::DriveNotDirectory`], [`Error::DriveMismatch`] (no marker or another drive's),
    /// [`Error::Format`] for a malformed id, key, hash, marker or manifest, [`Error::WrongKey`],
    /// [`Error::ManifestNotFound`] (no manifest at all), [`Error::ManifestInvalid`] (a manifest
    /// with another hash, or one that does not authenticate), [`Error::NotRegularFile`],
    /// [`Error::FileTooLarge`], [`Error::DeclaredBeyondDrive`], [`Error::Io`].
    pub fn open_shipped(shipped: &ShippedDrive<'_>, identity: &Identity) -> Result<Self> {
        let dir = shipped.dir;
        if !dir.is_dir() {
            return Err(Error::DriveNotDirectory { path: dir.to_owned() });
        }
        let drive_id = format::parse_drive_id(shipped.drive_id).map_err(Error::format("<import job>"))?;
        let job_value = |text: &str, what: &'static str| {
            format::from_hex(text, what).map_err(Error::format("<import job>"))
        };
        let mut hashes: Vec<Vec<u8>> = Vec::with_capacity(shipped.manifest_hashes.len());
        for text in &shipped.manifest_hashes {
            let hash = job_value(text, "manifest hash")?;
            // a hash named twice is one session, read once
            if !hashes.contains(&hash) {
                hashes.push(hash);
            }
        }
        let wrapped = format::WrappedKey::decode(&job_value(shipped.wrapped_key, "wrapped key")?)
            .map_err(Error::format("<import job>"))?;
        marker::check(dir, &drive_id)?;
        let key = crypto::unwrap(&[wrapped], &drive_id, &Unlock::Identity(identity))?;
        let mut manifests = Vec::with_capacity(hashes.len());
        for (session_id, bytes) in find_manifests(dir, &hashes)? {
            let manifest = open_manifest(dir, &drive_id, &key, &session_id, bytes)?;
            check_held(dir, &manifest)?;
            manifests.push(manifest);
        }
        Ok(ImportDrive {
            dir: dir.to_owned(),
            drive_id,
            key,
            manifests,
        })
    }

    /// Opens a drive with the key it carries (`seedship-drive.key`, see
    /// [`write_drive_key`](crate::write_drive_key)) and the private key it is wrapped to: the
    /// owner's side of drives that bring a vault back. Nothing of the journal is needed: the
    /// drive must carry a marker and exactly one session, whose manifest authenticates under
    /// the drive key (which binds it to this drive and session). Everything on the drive is
    /// read as [`ImportDrive::open_shipped`] reads it: bounded, without following links. A
    /// data file shorter than its manifest says is not refused here, unlike at the import:
    /// the reads of a restore ([`ImportSet::read_at`]) answer only verified bytes, never
    /// zeros for what is missing, so the missing ranges are named when read and the rest of
    /// the drive still serves.
    ///
    /// # Errors
    /// [`Error::DriveNotDirectory`], [`Error::NoMarker`], [`Error::NoDriveKey`],
    /// [`Error::KeyNotForIdentity`] (wrapped to another public key), [`Error::WrongKey`] (a key
    /// file that does not open), [`Error::NotOneSet`] (no session, or several),
    /// [`Error::ManifestInvalid`], [`Error::Format`], [`Error::NotRegularFile`],
    /// [`Error::FileTooLarge`], [`Error::Io`].
    pub fn open_with_drive_key(dir: &Path, identity: &Identity) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::DriveNotDirectory { path: dir.to_owned() });
        }
        let drive_id = marker::read(dir)?.ok_or_else(|| Error::NoMarker {
            drive: dir.to_owned(),
        })?;
        let wrapped = drive_key::read(dir)?.ok_or_else(|| Error::NoDriveKey {
            drive: dir.to_owned(),
        })?;
        if let format::WrappedKey::X25519 { recipient, .. } = &wrapped
            && *recipient != identity.recipient().to_bytes()
        {
            return Err(Error::KeyNotForIdentity {
                drive: dir.to_owned(),
                wrapped_to: format::to_hex(recipient),
                given: format::to_hex(&identity.recipient().to_bytes()),
            });
        }
        let key = crypto::unwrap(&[wrapped], &drive_id, &Unlock::Identity(identity))?;
        let mut manifests = Vec::new();
        each_manifest(dir, |session_id, _, bytes| {
            manifests.push(open_manifest(dir, &drive_id, &key, &session_id, bytes)?);
            Ok(())
        })?;
        if manifests.len() != 1 {
            return Err(Error::NotOneSet {
                reason: format!(
                    "{} holds {} sessions; a restore reads drives that hold one session each",
                    dir.display(),
                    manifests.len()
                ),
            });
        }
        Ok(ImportDrive {
            dir: dir.to_owned(),
            drive_id,
            key,
            manifests,
        })
    }

    /// The drive id, hex.
    pub fn drive_id(&self) -> String {
        format::to_hex(&self.drive_id)
    }

    /// The mounted drive.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Reads a manifest file: a regular file within [`format::MAX_MANIFEST_LEN`], `None` if absent.
fn read_manifest(drive: &Path, path: &Path) -> Result<Option<Vec<u8>>> {
    fsutil::read_drive_file(drive, path, format::MAX_MANIFEST_LEN)
}

/// Hands `f` the session id and the bytes of every session directory's `manifest.ssm` on
/// `drive`, one at a time. The drive is listed once; only directories are looked into (the
/// marker, the key file, stray files and links are passed by).
fn each_manifest(drive: &Path, mut f: impl FnMut(String, PathBuf, Vec<u8>) -> Result<()>) -> Result<()> {
    let entries = std::fs::read_dir(drive).map_err(Error::io(drive))?;
    for entry in entries {
        let entry = entry.map_err(Error::io(drive))?;
        if !entry.file_type().map_err(Error::io(entry.path()))?.is_dir() {
            continue;
        }
        let Some(session_id) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let path = copy::manifest_path(drive, &session_id);
        if let Some(bytes) = read_manifest(drive, &path)? {
            f(session_id, path, bytes)?;
        }
    }
    Ok(())
}

/// For each of `hashes`, in that order, the session directory of `drive` whose
/// `manifest.ssm` hashes to it, and the manifest's bytes.
fn find_manifests(drive: &Path, hashes: &[Vec<u8>]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut found: Vec<Option<(String, Vec<u8>)>> = vec![None; hashes.len()];
    let mut other = None;
    each_manifest(drive, |session_id, path, bytes| {
        let hash = blake3::hash(&bytes);
        match hashes
            .iter()
            .position(|h| h.as_slice() == hash.as_bytes().as_slice())
        {
            Some(index) => found[index] = Some((session_id, bytes)),
            None => other = Some(path),
        }
        Ok(())
    })?;
    found
        .into_iter()
        .zip(hashes)
        .map(|(found, hash)| {
            found.ok_or_else(|| match &other {
                // a manifest is there, but not the one the job recorded: changed since preparation
                Some(path) => Error::ManifestInvalid {
                    path: path.clone(),
                    reason: "its hash differs from the import job's",
                },
                None => Error::ManifestNotFound {
                    drive: drive.to_owned(),
                    hash: format::to_hex(hash),
                },
            })
        })
        .collect()
}

/// Refuses a manifest that declares more stored bytes than its data files on `drive` hold,
/// and any data file that is not a regular file; reads none of their bytes.
fn check_held(drive: &Path, manifest: &Manifest) -> Result<()> {
    // 128 bits: no count of 64-bit lengths a manifest can hold overflows them
    let mut declared = 0u128;
    let mut held = 0u128;
    for entry in &manifest.entries {
        let spec = &entry.spec;
        declared += u128::from(spec.len)
            + u128::from(spec.range_count(manifest.range_size)) * u128::from(format::RANGE_OVERHEAD);
        let path = copy::data_file(drive, &manifest.session_id, spec.segment);
        if let Some(file) = fsutil::open_drive_file(drive, &path)? {
            held += u128::from(file.metadata().map_err(Error::io(&path))?.len());
        }
    }
    if declared > held {
        return Err(Error::DeclaredBeyondDrive {
            path: copy::manifest_path(drive, &manifest.session_id),
            declared,
            held: u64::try_from(held).unwrap_or(u64::MAX),
        });
    }
    Ok(())
}

/// Authenticates, decrypts and decodes the manifest `bytes` of `session_id` on `drive`.
fn open_manifest(
    drive: &Path,
    drive_id: &[u8; 16],
    key: &DriveKey,
    session_id: &str,
    bytes: Vec<u8>,
) -> Result<Manifest> {
    let path = copy::manifest_path(drive, session_id);
    let sealed = format::decode_manifest_file(&bytes).map_err(Error::format(&path))?;
    // at most two copies of a manifest are held at a time
    drop(bytes);
    let aad = format::value_aad("manifest", drive_id, session_id, 0);
    let plain = key
        .open(&aad, &sealed)
        .ok_or_else(|| bad_manifest(drive, session_id, "does not authenticate"))?;
    drop(sealed);
    let manifest = Manifest::decode(&plain).map_err(Error::format(&path))?;
    if manifest.drive_id != *drive_id || manifest.session_id != session_id {
        return Err(bad_manifest(
            drive,
            session_id,
            "belongs to another drive or session",
        ));
    }
    Ok(manifest)
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
    /// BLAKE3 of the whole file as recorded at preparation (`None` when the segment that
    /// carries it is on a drive not given).
    pub hash: Option<[u8; 32]>,
    /// `(drive, manifest, entry)` of each segment, in file order.
    parts: Vec<Part>,
}

/// `(drive, manifest, entry)` indices of one segment.
type Part = (usize, usize, usize);

/// A range of a segment: the segment's part and the range's index in it.
type RangeKey = (Part, u64);

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
    /// Whether the BLAKE3 of the bytes written matches the recorded file checksum (`false`
    /// when not computed, see [`ImportSet::read_file_ranges`]).
    pub hash_ok: bool,
    /// Per segment, in file order.
    pub segments: Vec<SegmentCheck>,
}

/// An opened drive set, ready to stream files out.
pub struct ImportSet {
    drives: Vec<ImportDrive>,
    files: Vec<ImportFile>,
    /// Range buffers of finished reads, reused: a fresh one per file costs a page fault
    /// per 4 KiB.
    buffers: Mutex<Vec<Vec<u8>>>,
    /// Plaintext of ranges in which a read ended, the latest last: a restore reads a pack in
    /// runs of blobs, and the next run starts in the range the previous one ended in.
    recent: Mutex<VecDeque<(RangeKey, Arc<KeptRange>)>>,
}

/// A decrypted range kept for the next read: the buffer it was decrypted in (kept whole, not
/// copied, and given back to `buffers` once no read holds it) and where its plaintext is.
struct KeptRange {
    buffer: Vec<u8>,
    plain: std::ops::Range<usize>,
}

impl KeptRange {
    fn plain(&self) -> &[u8] {
        &self.buffer[self.plain.clone()]
    }
}

/// Ranges kept in [`ImportSet`]'s `recent` (4 MiB each): two per restore reader thread.
const RECENT_RANGES: usize = 8;

fn bad_manifest(drive: &Path, session: &str, reason: &'static str) -> Error {
    Error::ManifestInvalid {
        path: copy::manifest_path(drive, session),
        reason,
    }
}

impl ImportSet {
    /// Part `(drive, manifest, entry)` of a file, as the range checks read it.
    fn part(&self, (d, m, e): (usize, usize, usize)) -> SegmentRef<'_> {
        let drive = &self.drives[d];
        let manifest = &drive.manifests[m];
        SegmentRef {
            drive: &drive.dir,
            drive_id: &drive.drive_id,
            session_id: &manifest.session_id,
            range_cipher: manifest.range_cipher,
            range_size: manifest.range_size,
            key: &drive.key,
            entry: &manifest.entries[e],
        }
    }

    /// Opens each `(journal, drive directory)` pair: unwraps the drive key with `identity`,
    /// reads each completed session's manifest from the drive, checks it against the hash in
    /// the journal, decrypts it, and joins the segments of every file across drives.
    ///
    /// # Errors
    /// A wrong key, a drive of another journal, a missing, changed or undecryptable manifest.
    pub fn open(drives: &[(PathBuf, PathBuf)], identity: &Identity) -> Result<Self> {
        let opened = drives
            .iter()
            .map(|(journal, dir)| ImportDrive::from_journal(journal, dir, identity))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::join(opened))
    }

    /// Opens the drives of one set with the key each carries (see
    /// [`ImportDrive::open_with_drive_key`]) and joins them: every drive must hold the same
    /// session of the same set, each position once, and every position of the set must be
    /// given, so that every file is whole.
    ///
    /// # Errors
    /// As [`ImportDrive::open_with_drive_key`]; [`Error::NotOneSet`] naming the drive of
    /// another set or session, the drive given twice, or the positions missing.
    pub fn open_with_drive_keys(dirs: &[PathBuf], identity: &Identity) -> Result<Self> {
        let opened = dirs
            .iter()
            .map(|dir| ImportDrive::open_with_drive_key(dir, identity))
            .collect::<Result<Vec<_>>>()?;
        check_one_set(&opened)?;
        Ok(Self::join(opened))
    }

    /// Joins the segments of every file across opened drives.
    pub fn join(opened: Vec<ImportDrive>) -> Self {
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
            let file_hash = |&(d, m, e): &Part| opened[d].manifests[m].entries[e].file_hash;
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
                hash: parts.iter().find_map(|(_, part)| file_hash(part)),
                parts: parts.into_iter().map(|(_, p)| p).collect(),
            });
        }
        ImportSet {
            drives: opened,
            files,
            buffers: Mutex::default(),
            recent: Mutex::default(),
        }
    }

    /// The drive holding the first present segment of `file`: where its blob is logged.
    pub fn home_drive(&self, file: &ImportFile) -> &ImportDrive {
        &self.drives[file.parts[0].0]
    }

    /// The opened drives, in the order given.
    pub fn drives(&self) -> &[ImportDrive] {
        &self.drives
    }

    /// Every file of the set, ordered by session and source order.
    pub fn files(&self) -> &[ImportFile] {
        &self.files
    }

    /// The file's ranges in file order, each with the manifest's checksum of its stored
    /// bytes; a span whose segment is on a drive not given is one range without checksum.
    pub fn ranges(&self, file: &ImportFile) -> Vec<FileRange> {
        let mut ranges = Vec::new();
        let mut next = 0;
        for &(d, m, e) in &file.parts {
            let manifest = &self.drives[d].manifests[m];
            let entry = &manifest.entries[e];
            let spec = &entry.spec;
            if spec.offset > next {
                ranges.push(FileRange {
                    offset: next,
                    len: spec.offset - next,
                    checksum: None,
                });
            }
            for index in 0..spec.range_count(manifest.range_size) {
                ranges.push(FileRange {
                    offset: spec.offset + index * u64::from(manifest.range_size),
                    len: spec.range_len(manifest.range_size, index),
                    checksum: Some(entry.ranges[index as usize]),
                });
            }
            next = next.max(spec.offset + spec.len);
        }
        if file.size > next {
            ranges.push(FileRange {
                offset: next,
                len: file.size - next,
                checksum: None,
            });
        }
        ranges
    }

    /// Streams `file` into `out`, verifying each range (BLAKE3 and authentication) and the
    /// whole-file BLAKE3. A bad range is written as zeros of its length; a span on a drive not
    /// given (a range of [`ImportSet::ranges`] without checksum) is left out, so `out` receives
    /// only what the drives given hold. The manifest alone says how long such a span is, so
    /// filling it would let a few bytes of a hostile manifest make the import stream terabytes.
    ///
    /// # Errors
    /// I/O errors reading the drive or writing `out`; mismatches are reported in the result.
    pub fn read_file(&self, file: &ImportFile, out: &mut dyn Write) -> Result<FileCheck> {
        self.read_to(file, out, true)
    }

    /// As [`ImportSet::read_file`], but hands each range to `sink` in the buffer it was
    /// decrypted in, leaves the whole-file BLAKE3 to whoever receives the bytes (the server
    /// checks it on every verified upload), and checks each range by its
    /// authenticated decryption alone: `hash_ok` stays `false`, and the status is
    /// [`FileStatus::Ok`] when the file is complete and every range authenticates. A stored
    /// range that authenticates but is not the one the manifest records (a range sealed twice)
    /// passes here and fails the receiver's whole-file check; [`ImportSet::read_file`] then
    /// names it.
    ///
    /// # Errors
    /// As [`ImportSet::read_file`].
    pub fn read_file_ranges(&self, file: &ImportFile, sink: &mut dyn RangeSink) -> Result<FileCheck> {
        self.read(file, sink, false)
    }

    /// Reads `len` bytes at `offset` of `file`, verifying every stored range it touches (its
    /// BLAKE3 from the manifest, then its authenticated decryption) as it reads it: whatever
    /// is answered is what was prepared. Memory: the bytes asked for and one range.
    ///
    /// # Errors
    /// [`Error::Damaged`] naming the first range that does not verify (changed, truncated or
    /// missing) with its data file; [`Error::BeyondEnd`]; I/O errors.
    pub fn read_at(&self, file: &ImportFile, offset: u64, len: u64) -> Result<Vec<u8>> {
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= file.size)
            .ok_or_else(|| Error::BeyondEnd {
                dst: file.dst.clone(),
                offset,
                len,
                size: file.size,
            })?;
        let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        let mut buf = self
            .buffers
            .lock()
            .ok()
            .and_then(|mut b| b.pop())
            .unwrap_or_default();
        let read = self.read_span(file, offset..end, &mut buf, &mut out);
        if let Ok(mut buffers) = self.buffers.lock() {
            buffers.push(buf);
        }
        read.map(|()| out)
    }

    /// The plaintext of range `index` of segment `part` if it was read lately.
    fn recent_range(&self, key: RangeKey) -> Option<Arc<KeptRange>> {
        let recent = self.recent.lock().ok()?;
        recent
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, plain)| plain.clone())
    }

    /// Keeps range `key`, decrypted in `buf` at `plain`, among the [`RECENT_RANGES`] read
    /// last, and puts a spare buffer in `buf`'s place: the one of the range it displaces, once
    /// no read holds that any more.
    fn keep_range(&self, key: RangeKey, buf: &mut Vec<u8>, plain: std::ops::Range<usize>) {
        let Ok(mut recent) = self.recent.lock() else {
            return;
        };
        let spare = self
            .buffers
            .lock()
            .ok()
            .and_then(|mut b| b.pop())
            .unwrap_or_default();
        let kept = KeptRange {
            buffer: std::mem::replace(buf, spare),
            plain,
        };
        recent.push_back((key, Arc::new(kept)));
        if recent.len() > RECENT_RANGES
            && let Some((_, displaced)) = recent.pop_front()
            && let Ok(displaced) = Arc::try_unwrap(displaced)
            && let Ok(mut buffers) = self.buffers.lock()
        {
            buffers.push(displaced.buffer);
        }
    }

    fn read_span(
        &self,
        file: &ImportFile,
        span: std::ops::Range<u64>,
        buf: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mut next = span.start;
        for &part in &file.parts {
            let seg = self.part(part);
            let spec = &seg.entry.spec;
            if next >= span.end {
                break;
            }
            if spec.offset + spec.len <= next || spec.len == 0 {
                continue;
            }
            let path = copy::data_file(seg.drive, seg.session_id, spec.segment);
            let range_size = u64::from(seg.range_size);
            // a gap before this segment (a hostile manifest) reads as the first range missing
            let first = next.saturating_sub(spec.offset) / range_size;
            // opened at the first range not read lately
            let mut data: Option<Option<File>> = None;
            for index in first..spec.range_count(seg.range_size) {
                let start = spec.offset + index * range_size;
                if start >= span.end {
                    break;
                }
                let range_len = spec.range_len(seg.range_size, index);
                let end = span.end.min(start + range_len);
                if start <= next
                    && let Some(plain) = self.recent_range((part, index))
                {
                    out.extend_from_slice(&plain.plain()[(next - start) as usize..(end - start) as usize]);
                    next = start + range_len;
                    continue;
                }
                let want = (range_len + format::RANGE_OVERHEAD) as usize;
                let file_data = match &mut data {
                    Some(opened) => opened,
                    None => data.insert(fsutil::open_drive_file(seg.drive, &path)?),
                };
                let got = match file_data {
                    Some(f) => {
                        f.seek(SeekFrom::Start(spec.stored_offset(seg.range_size, index)))
                            .map_err(Error::io(&path))?;
                        check::read_up_to(f, want, buf).map_err(Error::io(&path))?
                    }
                    None => 0,
                };
                let opened = if start > next {
                    Err(RangeStatus::Missing)
                } else {
                    check::open_range(&seg, RangeChecks::All, index, buf, got, want)
                };
                let plain = opened.map_err(|status| Error::Damaged {
                    dst: file.dst.clone(),
                    drive_file: path.clone(),
                    index,
                    file_offset: start,
                    len: range_len,
                    status,
                })?;
                let from = plain.start + (next - start) as usize;
                let to = plain.start + (end - start) as usize;
                out.extend_from_slice(&buf[from..to]);
                if end < start + range_len {
                    // the read ends inside this range: the next read of the file likely starts there
                    self.keep_range((part, index), buf, plain);
                }
                next = start + range_len;
            }
        }
        if next < span.end {
            return Err(Error::Damaged {
                dst: file.dst.clone(),
                drive_file: PathBuf::from("<no drive given holds it>"),
                index: 0,
                file_offset: next,
                len: span.end - next,
                status: RangeStatus::Missing,
            });
        }
        Ok(())
    }

    fn read_to(&self, file: &ImportFile, out: &mut dyn Write, whole_file: bool) -> Result<FileCheck> {
        let buf = self
            .buffers
            .lock()
            .map(|mut b| b.pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        let mut sink = WriteSink::with_buffer(out, buf);
        let check = self.read(file, &mut sink, whole_file);
        if let Ok(mut buffers) = self.buffers.lock() {
            buffers.push(sink.into_buffer());
        }
        check
    }

    fn read(&self, file: &ImportFile, sink: &mut dyn RangeSink, whole_file: bool) -> Result<FileCheck> {
        let checks = if whole_file {
            RangeChecks::All
        } else {
            RangeChecks::Authentication
        };
        let mut hasher = whole_file.then(blake3::Hasher::new);
        let mut segments = Vec::new();
        let mut recorded = None;
        for &part in &file.parts {
            let seg = self.part(part);
            if seg.entry.file_hash.is_some() {
                recorded = seg.entry.file_hash;
            }
            segments.push(check_segment(&seg, checks, hasher.as_mut(), sink)?);
        }
        let hash_ok = file.complete && hasher.is_some_and(|h| recorded == Some(*h.finalize().as_bytes()));
        let status = if !file.complete {
            FileStatus::Incomplete
        } else if (hash_ok || !whole_file) && segments.iter().all(|s| s.status == SegmentStatus::Ok) {
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

/// Checks that `opened` (one session each) are the drives of one set, each once, all of it.
fn check_one_set(opened: &[ImportDrive]) -> Result<()> {
    let Some(first) = opened.first() else {
        return Err(Error::NotOneSet {
            reason: "no drive given".to_owned(),
        });
    };
    let describe = |drive: &ImportDrive| {
        let m = &drive.manifests[0];
        format!(
            "{} (drive {} of {} of set {} of session {})",
            drive.dir.display(),
            m.position.drive_index,
            m.position.drive_count,
            format::to_hex(&m.position.set_id),
            m.session_id
        )
    };
    let set = &first.manifests[0];
    let mut seen: BTreeMap<u8, &ImportDrive> = BTreeMap::new();
    for drive in opened {
        let m = &drive.manifests[0];
        if m.session_id != set.session_id || m.position.set_id != set.position.set_id {
            return Err(Error::NotOneSet {
                reason: format!(
                    "{} belongs to another set than {}",
                    describe(drive),
                    describe(first)
                ),
            });
        }
        if let Some(other) = seen.insert(m.position.drive_index, drive) {
            return Err(Error::NotOneSet {
                reason: format!(
                    "{} is given twice (also as {})",
                    describe(drive),
                    other.dir.display()
                ),
            });
        }
    }
    let count = set.position.drive_count;
    let missing: Vec<String> = (1..=count)
        .filter(|index| !seen.contains_key(index))
        .map(|index| index.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::NotOneSet {
            reason: format!(
                "set {} of session {} has {count} drives; drive(s) {} of {count} not given",
                format::to_hex(&set.position.set_id),
                set.session_id,
                missing.join(", ")
            ),
        });
    }
    Ok(())
}

/// One checksummed range of a file of a drive set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRange {
    /// Offset in the file.
    pub offset: u64,
    /// Plaintext length.
    pub len: u64,
    /// BLAKE3 of the stored (sealed) range, from the manifest; `None` for a span on a drive not given.
    pub checksum: Option<[u8; 32]>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testing::{mkfifo, within_seconds};
    use crate::{Dataset, DriveTarget, PrepareOptions, ShippingRecord};
    use std::os::unix::fs::symlink;

    /// A drive prepared from one file of two ranges, as the data centre receives it.
    struct Shipped {
        tmp: tempfile::TempDir,
        drive: PathBuf,
        record: ShippingRecord,
        identity: Identity,
    }

    impl Shipped {
        fn new() -> Self {
            let tmp = tempfile::tempdir().expect("tempdir");
            let src = tmp.path().join("src");
            let drive = tmp.path().join("drive");
            let journal = tmp.path().join("drive.jrn");
            for dir in [&src, &drive] {
                std::fs::create_dir(dir).expect("mkdir");
            }
            std::fs::write(src.join("file.bin"), source()).expect("source");
            let (secret, public) = crate::write_keypair(&tmp.path().join("service")).expect("keys");
            let opts = PrepareOptions {
                session_id: "sess1".into(),
                datasets: vec![Dataset {
                    base: src,
                    dst: "seed/host1".into(),
                    blob_type: BlobType::Block,
                    disposition: Disposition::Rename,
                    metadata: None,
                    properties: None,
                }],
                listed: None,
                drives: vec![DriveTarget {
                    dir: drive.clone(),
                    journal: journal.clone(),
                    format: false,
                    encrypt: true,
                    existing_key: None,
                    drive_id: None,
                }],
                capacity: None,
                service_key: Some(crate::read_recipient(&public).expect("public key")),
                recovery_key: None,
                passphrase: zeroize::Zeroizing::new(b"passphrase".to_vec()),
                not_a_mount_point: true,
                key_on_drive: true,
            };
            crate::plan(opts)
                .expect("plan")
                .run(&seedship_progress::NoProgress)
                .expect("prepare");
            Shipped {
                drive,
                record: crate::shipping_record(&journal).expect("shipping record"),
                identity: crate::read_identity(&secret).expect("identity"),
                tmp,
            }
        }

        fn open(&self) -> Result<ImportDrive> {
            self.open_with(
                self.record
                    .earlier_manifest_hashes
                    .iter()
                    .chain([&self.record.manifest_hash])
                    .map(String::as_str)
                    .collect(),
            )
        }

        fn open_with(&self, manifest_hashes: Vec<&str>) -> Result<ImportDrive> {
            let shipped = ShippedDrive {
                dir: &self.drive,
                drive_id: &self.record.drive_id,
                wrapped_key: &self.record.wrapped_key,
                manifest_hashes,
            };
            ImportDrive::open_shipped(&shipped, &self.identity)
        }

        fn manifest(&self) -> PathBuf {
            copy::manifest_path(&self.drive, "sess1")
        }

        fn data_file(&self) -> PathBuf {
            copy::data_file(&self.drive, "sess1", 0)
        }

        /// Moves `path` out of the drive and leaves a symbolic link to it in its place: the
        /// bytes behind the link are exactly the drive's, so only not following it refuses.
        fn link_out(&self, path: &Path) {
            let outside = self.tmp.path().join("outside");
            std::fs::rename(path, &outside).expect("move out");
            symlink(&outside, path).expect("symlink");
        }
    }

    /// The one source file: two ranges, every byte depending on its offset.
    fn source() -> Vec<u8> {
        (0..5u32 << 20).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn kept_ranges_are_the_latest_and_give_their_buffers_back_once_displaced() {
        let shipped = Shipped::new();
        let set = ImportSet::open_with_drive_keys(std::slice::from_ref(&shipped.drive), &shipped.identity)
            .expect("open");
        let part = set.files()[0].parts[0];
        let held = {
            let mut buf = vec![0u8; 8];
            set.keep_range((part, 0), &mut buf, 2..5);
            set.recent_range((part, 0)).expect("kept")
        };
        for index in 1..20u64 {
            let mut buf = vec![index as u8; 8];
            set.keep_range((part, index), &mut buf, 1..4);
            // from the tenth on, the buffer of a range displaced before takes its place
            assert_eq!(buf.capacity() == 8, index >= 10, "range {index}'s spare");
        }
        for index in 0..20u64 {
            let kept = set.recent_range((part, index));
            if index < 20 - RECENT_RANGES as u64 {
                assert!(kept.is_none(), "range {index} was displaced");
            } else {
                assert_eq!(kept.expect("kept").plain(), [index as u8; 3], "range {index}");
            }
        }
        // a displaced range a read still holds stays whole for it
        assert_eq!(held.plain(), [0u8; 3]);
        let spares = set.buffers.lock().expect("buffers").len();
        assert!(
            spares <= 1,
            "displaced buffers were taken again as spares: {spares} left over"
        );
    }

    #[test]
    fn a_drive_with_its_key_opens_with_the_private_key_and_reads_verified_at_any_offset() {
        let shipped = Shipped::new();
        let set = ImportSet::open_with_drive_keys(std::slice::from_ref(&shipped.drive), &shipped.identity)
            .expect("open with the key on the drive");
        let source = source();
        let file = &set.files()[0];
        assert_eq!(file.dst, "seed/host1/file.bin");
        for (offset, len) in [
            (0, 10),
            (4 << 20, 1),
            ((4 << 20) - 3, 7),
            (0, 5 << 20),
            (5 << 20, 0),
        ] {
            let read = set.read_at(file, offset, len).expect("read");
            assert_eq!(
                read,
                source[offset as usize..(offset + len) as usize],
                "{offset} {len}"
            );
        }
        assert!(matches!(
            set.read_at(file, (5 << 20) - 1, 2),
            Err(Error::BeyondEnd { .. })
        ));

        // a flipped byte in the second range: the first still reads, the second is named (a
        // set opened again: the reads above keep verified ranges, which the set then answers
        // from memory)
        let mut stored = std::fs::read(shipped.data_file()).expect("data file");
        let second = (4 << 20) + format::RANGE_OVERHEAD as usize;
        stored[second + 100] ^= 1;
        std::fs::write(shipped.data_file(), &stored).expect("flip");
        let set = ImportSet::open_with_drive_keys(std::slice::from_ref(&shipped.drive), &shipped.identity)
            .expect("open again");
        let file = &set.files()[0];
        assert_eq!(
            set.read_at(file, 0, 4 << 20).expect("first range"),
            source[..4 << 20]
        );
        match set.read_at(file, (4 << 20) - 1, 2) {
            Err(Error::Damaged {
                index,
                file_offset,
                len,
                status,
                drive_file,
                ..
            }) => {
                assert_eq!(
                    (index, file_offset, len, status),
                    (1, 4 << 20, 1 << 20, RangeStatus::Changed)
                );
                assert_eq!(drive_file, shipped.data_file());
            }
            other => panic!("expected the second range named, got {other:?}"),
        }

        // the same damage met by a read of the whole range, then the range cut short and cut
        // off: each named with its status, and the range before it still reads
        let named = |read: Result<Vec<u8>>| match read {
            Err(Error::Damaged {
                index,
                file_offset,
                status,
                ..
            }) => (index, file_offset, status),
            other => panic!("expected a range named, got {other:?}"),
        };
        let second = second as u64;
        for (stored_len, status) in [
            (stored.len() as u64, RangeStatus::Changed),
            (second + 1000, RangeStatus::Truncated),
            (second + 10, RangeStatus::Truncated),
            (second, RangeStatus::Missing),
        ] {
            std::fs::File::options()
                .write(true)
                .open(shipped.data_file())
                .and_then(|f| f.set_len(stored_len))
                .expect("cut");
            let set =
                ImportSet::open_with_drive_keys(std::slice::from_ref(&shipped.drive), &shipped.identity)
                    .expect("open again");
            let file = &set.files()[0];
            assert_eq!(
                named(set.read_at(file, 4 << 20, 1 << 20)),
                (1, 4 << 20, status),
                "stored {stored_len}"
            );
            assert_eq!(
                set.read_at(file, 0, 4 << 20)
                    .expect("the first range still reads whole"),
                source[..4 << 20]
            );
        }
    }

    #[test]
    fn a_drive_key_for_another_key_or_none_is_a_precise_error() {
        let shipped = Shipped::new();
        let other = Identity::generate().expect("key");
        match ImportDrive::open_with_drive_key(&shipped.drive, &other) {
            Err(Error::KeyNotForIdentity {
                wrapped_to, given, ..
            }) => {
                assert_eq!(
                    wrapped_to,
                    format::to_hex(&shipped.identity.recipient().to_bytes())
                );
                assert_eq!(given, format::to_hex(&other.recipient().to_bytes()));
            }
            Err(other) => panic!("expected KeyNotForIdentity, got {other}"),
            Ok(_) => panic!("a drive opened with another key"),
        }
        std::fs::remove_file(shipped.drive.join(crate::DRIVE_KEY_NAME)).expect("rm key");
        assert!(matches!(
            ImportDrive::open_with_drive_key(&shipped.drive, &shipped.identity),
            Err(Error::NoDriveKey { .. })
        ));
    }

    #[test]
    fn one_drive_of_a_set_is_refused_with_the_positions_missing() {
        let shipped = Shipped::new();
        let again = [shipped.drive.clone(), shipped.drive.clone()];
        match ImportSet::open_with_drive_keys(&again, &shipped.identity) {
            Err(Error::NotOneSet { reason }) => assert!(reason.contains("given twice"), "{reason}"),
            Err(other) => panic!("expected NotOneSet, got {other}"),
            Ok(_) => panic!("a drive given twice opened"),
        }
        let elsewhere = Shipped::new();
        let mixed = [shipped.drive.clone(), elsewhere.drive.clone()];
        match ImportSet::open_with_drive_keys(&mixed, &shipped.identity) {
            // the second set's key is wrapped to its own service key
            Err(Error::KeyNotForIdentity { .. }) => {}
            Err(other) => panic!("expected KeyNotForIdentity, got {other}"),
            Ok(_) => panic!("drives of two sets opened"),
        }
    }

    fn refused_as(result: Result<ImportDrive>, expected: &str) {
        match result {
            Err(Error::NotRegularFile { kind, .. }) => assert_eq!(kind, expected),
            Err(other) => panic!("expected a refused {expected}, got {other}"),
            Ok(_) => panic!("expected a refused {expected}, but the drive opened"),
        }
    }

    #[test]
    fn a_prepared_drive_opens() {
        let shipped = Shipped::new();
        let drive = shipped.open().expect("open");
        assert_eq!(drive.drive_id(), shipped.record.drive_id);
        assert_eq!(drive.manifests[0].entries.len(), 1);
    }

    #[test]
    fn every_manifest_the_job_names_must_be_on_the_drive() {
        let shipped = Shipped::new();
        let hash = shipped.record.manifest_hash.as_str();
        // named twice: one session, read once
        let drive = shipped.open_with(vec![hash, hash]).expect("open");
        assert_eq!(drive.manifests.len(), 1);
        let absent = format::to_hex(&[7u8; 32]);
        match shipped.open_with(vec![absent.as_str(), hash]) {
            Err(Error::ManifestNotFound { hash, .. }) => assert_eq!(hash, absent),
            Err(other) => panic!("expected ManifestNotFound, got {other}"),
            Ok(_) => panic!("a session the job names is missing, but the drive opened"),
        }
    }

    #[test]
    fn a_symlinked_manifest_is_refused() {
        let shipped = Shipped::new();
        shipped.link_out(&shipped.manifest());
        refused_as(shipped.open(), "symbolic link");
    }

    #[test]
    fn a_manifest_fifo_is_refused_without_blocking() {
        let shipped = Shipped::new();
        std::fs::remove_file(shipped.manifest()).expect("rm");
        mkfifo(&shipped.manifest());
        let refused = within_seconds(move || shipped.open().err().map(|e| e.to_string()));
        assert!(
            refused.as_deref().is_some_and(|m| m.contains("is a FIFO")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_manifest_beyond_the_format_limit_is_refused_unread() {
        let shipped = Shipped::new();
        std::fs::OpenOptions::new()
            .write(true)
            .open(shipped.manifest())
            .and_then(|f| f.set_len(format::MAX_MANIFEST_LEN + 1))
            .expect("grow the manifest (sparse)");
        assert!(matches!(
            shipped.open(),
            Err(Error::FileTooLarge { len, limit, .. })
                if len == format::MAX_MANIFEST_LEN + 1 && limit == format::MAX_MANIFEST_LEN
        ));
    }

    #[test]
    fn a_symlinked_data_file_or_data_directory_is_refused() {
        let shipped = Shipped::new();
        shipped.link_out(&shipped.data_file());
        refused_as(shipped.open(), "symbolic link");
        let shipped = Shipped::new();
        shipped.link_out(&shipped.drive.join("sess1/data"));
        refused_as(shipped.open(), "symbolic link");
    }

    #[test]
    fn a_drive_holding_less_than_its_manifest_declares_is_refused() {
        let shipped = Shipped::new();
        let stored = (5 << 20) + 2 * format::RANGE_OVERHEAD;
        std::fs::OpenOptions::new()
            .write(true)
            .open(shipped.data_file())
            .and_then(|f| f.set_len(stored - 1))
            .expect("truncate");
        match shipped.open() {
            Err(Error::DeclaredBeyondDrive { declared, held, .. }) => {
                assert_eq!((declared, held), (u128::from(stored), stored - 1));
            }
            Err(other) => panic!("expected DeclaredBeyondDrive, got {other}"),
            Ok(_) => panic!("expected DeclaredBeyondDrive, but the drive opened"),
        }
        std::fs::remove_file(shipped.data_file()).expect("rm");
        assert!(matches!(
            shipped.open(),
            Err(Error::DeclaredBeyondDrive { held: 0, .. })
        ));
    }
}
