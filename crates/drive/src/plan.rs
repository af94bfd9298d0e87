//! Validating a prepare request and laying the source out over the drives, before any write.

use crate::crypto::{self, DriveKey, Recipient, Unlock};
use crate::device;
use crate::error::{Error, Result};
use crate::format::{self, BlobType, Disposition, MAX_DRIVES, RANGE_OVERHEAD, RANGE_SIZE, SegmentSpec};
use crate::fsutil;
use crate::journal::Journal;
use crate::marker;
use crate::source::ListedFiles;
use seedship_jobs::DeviceInfo;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Space kept free on each drive for the marker, directories and manifest framing.
const RESERVE: u64 = 1 << 20;
/// Segments per data directory on a drive.
pub(crate) const BUCKET: u64 = 1024;

/// One source (a `--srcdir`, or one `dataset.csv` row).
#[derive(Debug, Clone)]
pub struct Dataset {
    /// A directory (its tree is copied) or a single file.
    pub base: PathBuf,
    /// Destination `container/prefix` for a directory, `container/name` for a file.
    pub dst: String,
    /// Blob type of every file.
    pub blob_type: BlobType,
    /// Disposition of every file.
    pub disposition: Disposition,
    /// Metadata file passed on to the import service.
    pub metadata: Option<PathBuf>,
    /// Properties file passed on to the import service.
    pub properties: Option<PathBuf>,
}

/// One target drive with its journal.
#[derive(Debug, Clone)]
pub struct DriveTarget {
    /// The drive's mounted directory.
    pub dir: PathBuf,
    /// The drive's journal (off the drive).
    pub journal: PathBuf,
    /// Wipe the drive first (needs `encrypt`).
    pub format: bool,
    /// Create a fresh drive key (a new journal).
    pub encrypt: bool,
    /// Take the drive key from this earlier journal of the same drive (a new journal).
    pub existing_key: Option<PathBuf>,
    /// The drive id a new drive key goes with; `None`: a random one. An export writes the id
    /// the job service knows the blank drive by.
    pub drive_id: Option<[u8; 16]>,
}

/// Everything `prepare` needs.
pub struct PrepareOptions {
    /// The copy session id.
    pub session_id: String,
    /// The sources on this machine.
    pub datasets: Vec<Dataset>,
    /// Files read through a [`Source`](crate::Source) instead (then `datasets` is empty):
    /// run the session with [`PreparedSession::run_from`].
    pub listed: Option<ListedFiles>,
    /// The drives, in filling order.
    pub drives: Vec<DriveTarget>,
    /// Capacity per drive in bytes instead of the file system's free space.
    pub capacity: Option<u64>,
    /// The import service's public key (required for a new drive key).
    pub service_key: Option<Recipient>,
    /// The user's recovery public key (optional).
    pub recovery_key: Option<Recipient>,
    /// The preparer's passphrase; wraps the drive key so that resume can unwrap it.
    pub passphrase: Zeroizing<Vec<u8>>,
    /// Accept drive directories that are not mount points (tests, loop files); otherwise a
    /// drive that is not mounted is refused rather than filling the file system under it.
    pub not_a_mount_point: bool,
    /// Also put the drive key on each drive, wrapped to `service_key`
    /// (`seedship-drive.key`): for drives that go to the holder of that key's private half,
    /// as an export to a vault's owner does.
    pub key_on_drive: bool,
}

/// How a drive gets its key.
pub(crate) enum KeySetup {
    /// A new journal with a fresh key.
    New,
    /// A new journal taking the key (and drive id) of an earlier journal.
    Existing {
        key: DriveKey,
        drive_id: [u8; 16],
        wrapped: Vec<(crate::journal::Holder, format::WrappedKey)>,
    },
    /// An existing journal with its own key.
    Own { key: DriveKey, drive_id: [u8; 16] },
}

/// A drive with the segments planned for it.
pub(crate) struct PlannedDrive {
    pub(crate) target: DriveTarget,
    pub(crate) capacity: u64,
    pub(crate) segments: Vec<SegmentSpec>,
    pub(crate) stored: u64,
    pub(crate) key: KeySetup,
    /// The device behind the drive directory (`None` when not even the mount table says,
    /// which only `--not-a-mount-point` accepts).
    pub(crate) device: Option<DeviceInfo>,
}

/// A validated, laid-out prepare request; nothing has been written yet.
pub struct PreparedSession {
    pub(crate) session_id: String,
    pub(crate) roots: Vec<Vec<u8>>,
    pub(crate) drives: Vec<PlannedDrive>,
    pub(crate) unused: Vec<DriveTarget>,
    pub(crate) service_key: Option<Recipient>,
    pub(crate) recovery_key: Option<Recipient>,
    pub(crate) key_on_drive: bool,
    pub(crate) passphrase: Zeroizing<Vec<u8>>,
    pub(crate) files: u64,
    pub(crate) bytes: u64,
}

/// What the layout found, shown before copying.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanSummary {
    /// The session id.
    pub session_id: String,
    /// Source files.
    pub files: u64,
    /// Source bytes.
    pub bytes: u64,
    /// Bytes the session takes on the drives (ranges, tags and nonces, block rounding).
    pub stored_bytes: u64,
    /// Drives needed.
    pub drives_needed: usize,
    /// Drives given.
    pub drives_given: usize,
    /// Capacity of each needed drive, in bytes.
    pub capacities: Vec<u64>,
    /// Drives that will be wiped first.
    pub formats: Vec<PathBuf>,
}

impl PreparedSession {
    /// The layout's figures.
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            session_id: self.session_id.clone(),
            files: self.files,
            bytes: self.bytes,
            stored_bytes: self.drives.iter().map(|d| d.stored).sum(),
            drives_needed: self.drives.len(),
            drives_given: self.drives.len() + self.unused.len(),
            capacities: self.drives.iter().map(|d| d.capacity).collect(),
            formats: self
                .drives
                .iter()
                .filter(|d| d.target.format)
                .map(|d| d.target.dir.clone())
                .collect(),
        }
    }
}

struct SourceFile {
    root: u32,
    rel: Vec<u8>,
    dst: String,
    size: u64,
    mtime_ns: i64,
    blob_type: BlobType,
    disposition: Disposition,
    metadata: Option<Vec<u8>>,
    properties: Option<Vec<u8>>,
}

pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

fn read_small(path: &Option<PathBuf>) -> Result<Option<Vec<u8>>> {
    path.as_ref()
        .map(|p| {
            if !p.exists() {
                return Err(Error::SourceMissing { path: p.clone() });
            }
            std::fs::read(p).map_err(Error::io(p))
        })
        .transpose()
}

fn scan(datasets: &[Dataset]) -> Result<(Vec<Vec<u8>>, Vec<SourceFile>)> {
    let mut roots = Vec::new();
    let mut files = Vec::new();
    for (root, ds) in datasets.iter().enumerate() {
        let root = u32::try_from(root).map_err(|_| Error::Conflict("too many datasets"))?;
        let meta = std::fs::symlink_metadata(&ds.base).map_err(|_| Error::SourceMissing {
            path: ds.base.clone(),
        })?;
        let base = std::fs::canonicalize(&ds.base).map_err(Error::io(&ds.base))?;
        let dst = format::check_destination(&ds.dst)?;
        let metadata = read_small(&ds.metadata)?;
        let properties = read_small(&ds.properties)?;
        let mut found = Vec::new();
        let is_dir = meta.is_dir();
        if is_dir {
            walk(&base, &mut Vec::new(), &mut found)?;
        } else if meta.is_file() {
            found.push((
                base.file_name().unwrap_or_default().as_bytes().to_vec(),
                base.clone(),
                meta.clone(),
            ));
        } else {
            return Err(Error::UnsupportedFile {
                path: ds.base.clone(),
            });
        }
        let root_dir = if is_dir {
            base.clone()
        } else {
            fsutil::parent(&base).to_path_buf()
        };
        for (rel, abs, file_meta) in found {
            let name = if !is_dir {
                dst.clone()
            } else {
                format!("{dst}/{}", String::from_utf8_lossy(&rel))
            };
            if file_meta.len() > format::MAX_FILE_SIZE {
                return Err(Error::FileTooLarge {
                    path: abs,
                    len: file_meta.len(),
                    limit: format::MAX_FILE_SIZE,
                });
            }
            if ds.blob_type == BlobType::Page {
                return Err(Error::PageBlobUnsupported { path: abs });
            }
            files.push(SourceFile {
                root,
                rel,
                dst: name,
                size: file_meta.len(),
                mtime_ns: mtime_ns(&file_meta),
                blob_type: ds.blob_type,
                disposition: ds.disposition,
                metadata: metadata.clone(),
                properties: properties.clone(),
            });
        }
        roots.push(root_dir.as_os_str().as_bytes().to_vec());
    }
    Ok((roots, files))
}

/// The single root and the files of a listed session (block blobs, renamed on conflict, as
/// `drive prepare` defaults to).
fn listed_files(listed: &ListedFiles) -> Result<(Vec<Vec<u8>>, Vec<SourceFile>)> {
    if listed.origin.starts_with('/') {
        return Err(Error::Conflict(
            "a listed session's origin must not look like a directory",
        ));
    }
    let dst = format::check_destination(&listed.dst)?;
    let mut files = Vec::with_capacity(listed.files.len());
    for (name, size) in &listed.files {
        if *size > format::MAX_FILE_SIZE {
            return Err(Error::FileTooLarge {
                path: PathBuf::from(&listed.origin).join(name),
                len: *size,
                limit: format::MAX_FILE_SIZE,
            });
        }
        files.push(SourceFile {
            root: 0,
            rel: name.as_bytes().to_vec(),
            dst: format!("{dst}/{name}"),
            size: *size,
            mtime_ns: 0,
            blob_type: BlobType::Block,
            disposition: Disposition::Rename,
            metadata: None,
            properties: None,
        });
    }
    Ok((vec![listed.origin.as_bytes().to_vec()], files))
}

fn walk(dir: &Path, rel: &mut Vec<u8>, out: &mut Vec<(Vec<u8>, PathBuf, std::fs::Metadata)>) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(Error::io(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(Error::io(dir))?;
    entries.sort();
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).map_err(Error::io(&path))?;
        let len = rel.len();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(path.file_name().unwrap_or_default().as_bytes());
        if meta.is_dir() {
            walk(&path, rel, out)?;
        } else if meta.is_file() {
            out.push((rel.clone(), path, meta));
        } else {
            return Err(Error::UnsupportedFile { path });
        }
        rel.truncate(len);
    }
    Ok(())
}

fn round_up(n: u64, block: u64) -> u64 {
    n.div_ceil(block) * block
}

/// Bytes a segment's entry takes in the manifest (an upper bound: 128 covers the fixed fields
/// and the file checksum).
fn entry_len(file: &SourceFile, len: u64) -> u64 {
    128 + file.rel.len() as u64
        + file.dst.len() as u64
        + file.metadata.as_ref().map_or(0, |m| m.len() as u64)
        + file.properties.as_ref().map_or(0, |p| p.len() as u64)
        + 32 * len.div_ceil(u64::from(RANGE_SIZE))
}

/// Space a segment takes on a drive: its data file rounded to blocks plus its manifest entry.
fn segment_cost(file: &SourceFile, len: u64, block: u64) -> u64 {
    let ranges = len.div_ceil(u64::from(RANGE_SIZE));
    round_up(len + ranges * RANGE_OVERHEAD, block) + entry_len(file, len)
}

/// How many drives of `capacity` bytes `prepare` would need for `files` files of `bytes`
/// bytes together, before the files exist: the layout's costs on average (each drive's
/// [`RESERVE`]; each range's sealing overhead and its 32 bytes in the manifest; each file's
/// manifest entry with 160 bytes of path and destination (a repository's pack under a
/// container and prefix), half a 4 KiB block of rounding and one partly filled range). `None`
/// when a drive cannot hold even its reserve.
pub fn drives_needed(bytes: u64, files: u64, capacity: u64) -> Option<u64> {
    let room = capacity.checked_sub(RESERVE).filter(|room| *room > 0)?;
    let ranges = bytes.div_ceil(u64::from(RANGE_SIZE)) + files;
    let cost = bytes + ranges * (RANGE_OVERHEAD + 32) + files * (128 + 160 + 2048);
    Some(cost.div_ceil(room).max(1))
}

/// What the entries of one drive's manifest may take: the format's limit less the framing
/// and header (magic, nonce, tag, version, session, ids, counts: under 200 bytes).
const MANIFEST_BUDGET: u64 = format::MAX_MANIFEST_LEN - 1024;

struct Layout {
    drives: Vec<(Vec<SegmentSpec>, u64)>,
    stored: u64,
}

/// Greedy layout in source order: a file that does not fit the room left (on the drive, or in
/// its manifest, which readers refuse beyond [`format::MAX_MANIFEST_LEN`]) is split at a
/// range boundary, its rest continuing on the next drive. Beyond the given drives, further
/// drives of the smallest given capacity are assumed, to say how many would be needed.
fn layout(files: &[SourceFile], capacities: &[(u64, u64)]) -> Result<Layout> {
    let (min_cap, min_block) = capacities.iter().copied().min().unwrap_or((0, 4096));
    let cap = |i: usize| capacities.get(i).copied().unwrap_or((min_cap, min_block));
    let range = u64::from(RANGE_SIZE);
    let mut drives: Vec<(Vec<SegmentSpec>, u64)> = vec![(Vec::new(), RESERVE)];
    // manifest bytes of the last drive's entries
    let mut listed = 0;
    let mut stored = 0;
    for (file_id, file) in files.iter().enumerate() {
        if entry_len(file, range) > MANIFEST_BUDGET {
            return Err(Error::EntryTooLarge {
                path: file.rel.clone(),
                limit: format::MAX_MANIFEST_LEN,
            });
        }
        let mut offset = 0;
        loop {
            let index = drives.len() - 1;
            let (capacity, block) = cap(index);
            let (segments, used) = drives.last_mut().ok_or(Error::Conflict("no drive"))?;
            let rest = file.size - offset;
            let bucket = if (segments.len() as u64).is_multiple_of(BUCKET) {
                block
            } else {
                0
            };
            let full = segment_cost(file, rest, block) + bucket;
            let mut take = None;
            if *used + full <= capacity && listed + entry_len(file, rest) <= MANIFEST_BUDGET {
                take = Some(rest);
            } else {
                let room = capacity.saturating_sub(*used + segment_cost(file, 0, block) + bucket + block);
                let listable = MANIFEST_BUDGET.saturating_sub(listed + entry_len(file, 0)) / 32;
                let whole = (room / (range + RANGE_OVERHEAD)).min(listable) * range;
                if whole > 0 && whole < rest {
                    take = Some(whole);
                }
            }
            if let Some(len) = take {
                let cost = segment_cost(file, len, block) + bucket;
                listed += entry_len(file, len);
                *used += cost;
                stored += cost;
                segments.push(SegmentSpec {
                    segment: segments.len() as u64,
                    file_id: file_id as u64,
                    root: file.root,
                    path: file.rel.clone(),
                    dst: file.dst.clone(),
                    blob_type: file.blob_type,
                    disposition: file.disposition,
                    file_size: file.size,
                    mtime_ns: file.mtime_ns,
                    offset,
                    len,
                    metadata: file.metadata.clone(),
                    properties: file.properties.clone(),
                });
                offset += len;
                if offset == file.size {
                    break;
                }
            }
            if segments.is_empty() {
                return Err(Error::CapacityTooSmall {
                    capacity,
                    path: file.rel.clone(),
                });
            }
            if drives.len() > 1000 {
                return Err(Error::TooManyDrives { count: drives.len() });
            }
            drives.push((Vec::new(), RESERVE));
            listed = 0;
        }
    }
    Ok(Layout { drives, stored })
}

/// The device behind drive `dir`, which must be a mount point unless `not_a_mount_point`
/// (then a directory the mount table does not describe has no device recorded).
fn mounted_device(dir: &Path, not_a_mount_point: bool) -> Result<Option<DeviceInfo>> {
    if !dir.is_dir() {
        return Err(Error::DriveNotDirectory { path: dir.into() });
    }
    match device::inspect_device(dir) {
        Ok(device) if device.is_mount_point || not_a_mount_point => Ok(Some(device)),
        Ok(device) => Err(Error::NotAMountPoint {
            path: dir.into(),
            mount_point: device.mount_point,
            source_device: device.source,
        }),
        Err(_) if not_a_mount_point => Ok(None),
        Err(err) => Err(err),
    }
}

fn check_journal_off_drives(journal: &Path, drives: &[DriveTarget]) -> Result<()> {
    let resolved = fsutil::resolve(journal)?;
    let jdir = fsutil::parent(&resolved);
    let jdev = std::fs::metadata(jdir).map_err(Error::io(jdir))?.dev();
    for d in drives {
        let dir =
            std::fs::canonicalize(&d.dir).map_err(|_| Error::DriveNotDirectory { path: d.dir.clone() })?;
        let mounted = dir
            .parent()
            .and_then(|p| std::fs::metadata(p).ok())
            .zip(std::fs::metadata(&dir).ok())
            .is_some_and(|(up, me)| up.dev() != me.dev());
        let same_fs = mounted && std::fs::metadata(&dir).is_ok_and(|m| m.dev() == jdev);
        if resolved.starts_with(&dir) || same_fs {
            return Err(Error::JournalOnDrive {
                journal: journal.into(),
                drive: d.dir.clone(),
            });
        }
    }
    Ok(())
}

/// Refuses a source that lies on a drive, or a drive inside a source (the copy would copy
/// itself, and `--format` would wipe the source), and formatting a file system's root.
fn check_apart(source: &Path, drives: &[DriveTarget]) -> Result<()> {
    let source = std::fs::canonicalize(source).map_err(Error::io(source))?;
    for d in drives {
        let Ok(dir) = std::fs::canonicalize(&d.dir) else {
            continue;
        };
        if source.starts_with(&dir) || dir.starts_with(&source) {
            return Err(Error::Overlap {
                src: source,
                drive: d.dir.clone(),
            });
        }
        if d.format && dir.parent().is_none() {
            return Err(Error::Conflict("refusing to --format the root directory /"));
        }
    }
    Ok(())
}

fn key_setup(t: &DriveTarget, opts: &PrepareOptions) -> Result<KeySetup> {
    if t.encrypt && t.existing_key.is_some() {
        return Err(Error::Conflict("--encrypt and --existing-key exclude each other"));
    }
    if t.format && !t.encrypt {
        return Err(Error::Conflict("--format requires --encrypt"));
    }
    if opts.passphrase.is_empty() {
        return Err(Error::Conflict(
            "no passphrase: set SEEDSHIP_DRIVE_PASSPHRASE (it wraps the drive key for resume)",
        ));
    }
    let unlock = Unlock::Passphrase(&opts.passphrase);
    if t.journal.exists() {
        if t.encrypt || t.existing_key.is_some() {
            return Err(Error::Conflict(
                "the journal exists and already holds the drive key: drop --encrypt/--existing-key",
            ));
        }
        let journal = Journal::open(&t.journal)?;
        if let Some(last) = journal.last_session()?
            && !last.completed
        {
            return Err(Error::state(
                &t.journal,
                format!(
                    "session {} is not complete: resume or abort it first",
                    last.session_id
                ),
            ));
        }
        if journal.has_session(&opts.session_id)? {
            return Err(Error::state(
                &t.journal,
                format!("session {} already exists", opts.session_id),
            ));
        }
        let drive_id = journal.drive_id()?;
        marker::check(&t.dir, &drive_id)?;
        let wrapped: Vec<_> = journal.wrapped_keys()?.into_iter().map(|(_, w)| w).collect();
        let key = crypto::unwrap(&wrapped, &drive_id, &unlock)?;
        return Ok(KeySetup::Own { key, drive_id });
    }
    if let Some(existing) = &t.existing_key {
        let journal = Journal::open(existing)?;
        let drive_id = journal.drive_id()?;
        marker::check(&t.dir, &drive_id)?;
        let wrapped = journal.wrapped_keys()?;
        let plain: Vec<_> = wrapped.iter().map(|(_, w)| w.clone()).collect();
        let key = crypto::unwrap(&plain, &drive_id, &unlock)?;
        return Ok(KeySetup::Existing {
            key,
            drive_id,
            wrapped,
        });
    }
    if !t.encrypt {
        return Err(Error::Conflict(
            "a new journal needs --encrypt (fresh drive key) or --existing-key <JOURNAL>",
        ));
    }
    if opts.service_key.is_none() {
        return Err(Error::Conflict(
            "--service-key is required to wrap a new drive key",
        ));
    }
    // the marker of an earlier attempt with the same given id that died before its journal
    // was installed (nothing was copied then) is this drive's
    let marked = marker::read(&t.dir)?;
    if !t.format && marked.is_some() && marked != t.drive_id {
        return Err(Error::Conflict(
            "the drive already carries seedship data of another journal: use --format or --existing-key",
        ));
    }
    Ok(KeySetup::New)
}

/// Validates `opts` and lays the source out over the drives. Writes nothing (a probe file
/// is created and removed in each drive to prove it writable).
///
/// # Errors
/// The first problem found: bad session id or destination, conflicting options, a journal
/// on a drive, a missing source, a page blob, a drive that is not a mount point (unless
/// `not_a_mount_point`), an unwritable drive, too
/// little capacity, a wrong passphrase for an existing journal.
pub fn plan(opts: PrepareOptions) -> Result<PreparedSession> {
    format::check_session_id(&opts.session_id)?;
    if opts.drives.is_empty() {
        return Err(Error::Conflict("no drive given"));
    }
    if opts.drives.len() > MAX_DRIVES {
        return Err(Error::TooManyDrives {
            count: opts.drives.len(),
        });
    }
    if opts.datasets.is_empty() == opts.listed.is_none() {
        return Err(Error::Conflict("give either source directories or listed files"));
    }
    if opts.key_on_drive && opts.service_key.is_none() {
        return Err(Error::Conflict(
            "--key-on-drive needs --service-key: the public key the drive key is wrapped to on the drive",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for t in &opts.drives {
        if !seen.insert(fsutil::resolve(&t.journal)?) {
            return Err(Error::Conflict("each drive needs its own journal"));
        }
    }
    for t in &opts.drives {
        check_journal_off_drives(&t.journal, &opts.drives)?;
    }
    for d in &opts.datasets {
        if !d.base.exists() {
            return Err(Error::SourceMissing { path: d.base.clone() });
        }
        check_apart(&d.base, &opts.drives)?;
    }
    let mut devices = Vec::new();
    for t in &opts.drives {
        devices.push(mounted_device(&t.dir, opts.not_a_mount_point)?);
    }
    let mut keys = Vec::new();
    let mut capacities = Vec::new();
    for t in &opts.drives {
        fsutil::check_writable(&t.dir)?;
        keys.push(key_setup(t, &opts)?);
        let (free, block) = fsutil::space(&t.dir)?;
        let free = if t.format {
            free + fsutil::tree_size(&t.dir)?
        } else {
            free
        };
        capacities.push((opts.capacity.unwrap_or(free), block));
    }
    let (roots, files) = match &opts.listed {
        Some(listed) => listed_files(listed)?,
        None => scan(&opts.datasets)?,
    };
    let layout = layout(&files, &capacities)?;
    let needed = layout.drives.len();
    if needed > MAX_DRIVES {
        return Err(Error::TooManyDrives { count: needed });
    }
    if needed > opts.drives.len() {
        return Err(Error::NotEnoughDrives {
            needed,
            given: opts.drives.len(),
            capacity: capacities.iter().map(|c| c.0).min().unwrap_or(0),
            bytes: layout.stored,
        });
    }
    let mut drives = Vec::new();
    let mut unused = Vec::new();
    let mut planned = layout.drives.into_iter();
    let targets = opts.drives.into_iter().zip(keys).zip(capacities).zip(devices);
    for (((target, key), (capacity, _)), device) in targets {
        match planned.next() {
            Some((segments, used)) => drives.push(PlannedDrive {
                target,
                capacity,
                segments,
                stored: used,
                key,
                device,
            }),
            None => unused.push(target),
        }
    }
    Ok(PreparedSession {
        session_id: opts.session_id,
        roots,
        drives,
        unused,
        service_key: opts.service_key,
        recovery_key: opts.recovery_key,
        key_on_drive: opts.key_on_drive,
        passphrase: opts.passphrase,
        files: files.len() as u64,
        bytes: files.iter().map(|f| f.size).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, size: u64) -> SourceFile {
        SourceFile {
            root: 0,
            rel: rel.as_bytes().to_vec(),
            dst: format!("seed/{rel}"),
            size,
            mtime_ns: 0,
            blob_type: BlobType::Block,
            disposition: Disposition::Rename,
            metadata: None,
            properties: None,
        }
    }

    /// Two files of 5 TiB need 40 MiB of range checksums each: on drives with room for both,
    /// the second is still split, so that no manifest passes the format's limit.
    #[test]
    fn a_manifest_that_would_pass_the_limit_continues_on_the_next_drive() {
        let tib = 1u64 << 40;
        let files = [file("a", 5 * tib), file("b", 5 * tib)];
        let layout = layout(&files, &[(100 * tib, 4096)]).expect("layout");
        assert_eq!(layout.drives.len(), 2);
        for (segments, _) in &layout.drives {
            let listed: u64 = segments
                .iter()
                .map(|s| entry_len(&files[s.file_id as usize], s.len))
                .sum();
            assert!(listed <= MANIFEST_BUDGET, "{listed}");
        }
        let split = &layout.drives[0].0[1];
        assert_eq!((split.file_id, split.offset), (1, 0));
        assert_eq!(split.len % u64::from(RANGE_SIZE), 0);
        assert_eq!(layout.drives[1].0[0].offset, split.len);
    }

    /// The estimate before any file exists agrees with the layout of the files themselves: a
    /// repository's packs (20 to 44 MiB, 69-byte names) on drives of a 1.3rd to a 4.5th of
    /// the data.
    #[test]
    fn drives_needed_counts_what_the_layout_uses() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let files: Vec<SourceFile> = (0..400)
            .map(|i| {
                file(
                    &format!("data/{:02x}/{i:064x}", i % 256),
                    (20 << 20) + next() % (24 << 20),
                )
            })
            .collect();
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        for drives in [1.3_f64, 2.5, 3.6, 4.5] {
            let capacity = (bytes as f64 / drives) as u64 + RESERVE;
            let laid = layout(&files, &[(capacity, 4096)]).expect("layout").drives.len() as u64;
            let needed = drives_needed(bytes, files.len() as u64, capacity).expect("needed");
            assert_eq!(needed, laid, "{drives} drives' worth of data");
        }
        assert_eq!(drives_needed(1, 1, RESERVE), None);
    }
}
