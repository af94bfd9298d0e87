//! Copying one drive's share of a session: a two-stage pipeline (read, hash and encrypt on
//! one thread; write, fsync and journal on the other), then the manifest.

use crate::crypto::DriveKey;
use crate::error::{Error, Result};
use crate::format::{self, Manifest, ManifestEntry, Plan, SegmentSpec};
use crate::fsutil;
use crate::journal::{Journal, RangeDone};
use crate::plan::{BUCKET, mtime_ns};
use seedship_progress::Task;
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Journal a checkpoint once this many bytes are written but not yet recorded.
const CHECKPOINT_BYTES: u64 = 1 << 20;
/// ... or once this many files are written but not yet synced.
const CHECKPOINT_FILES: usize = 256;
/// Encrypted ranges in flight between the two pipeline stages.
const PIPELINE_DEPTH: usize = 4;

/// `<drive>/<session>`.
pub(crate) fn session_dir(drive: &Path, session: &str) -> PathBuf {
    drive.join(session)
}

/// `<drive>/<session>/data/<bucket>/<segment>.dat`, with 1024 segments per bucket directory.
pub(crate) fn data_file(drive: &Path, session: &str, segment: u64) -> PathBuf {
    session_dir(drive, session)
        .join("data")
        .join(format!("{:04x}", segment / BUCKET))
        .join(format!("{segment:08x}.dat"))
}

/// `<drive>/<session>/manifest.ssm`.
pub(crate) fn manifest_path(drive: &Path, session: &str) -> PathBuf {
    session_dir(drive, session).join("manifest.ssm")
}

/// Absolute source path of a planned segment.
pub(crate) fn source_path(plan: &Plan, spec: &SegmentSpec) -> PathBuf {
    let root = plan
        .roots
        .get(spec.root as usize)
        .map(|r| PathBuf::from(std::ffi::OsStr::from_bytes(r)))
        .unwrap_or_default();
    root.join(std::ffi::OsStr::from_bytes(&spec.path))
}

/// Byte counters of one run on one drive (stored bytes: ciphertext with nonces and tags).
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counters {
    /// Bytes written to data files in this run.
    pub bytes_written: u64,
    /// Bytes already recorded in the journal, not written again.
    pub bytes_skipped: u64,
    /// Bytes found on the drive beyond the journal (written before a crash, not recorded)
    /// and cut off to be written again.
    pub bytes_discarded: u64,
}

/// Whole-file hashers carried from one drive to the next for files that span drives:
/// `file id -> (bytes hashed, hasher)`.
pub(crate) type Carry = HashMap<u64, (u64, blake3::Hasher)>;

/// One drive's share of a session, ready to copy.
pub(crate) struct DriveJob<'a> {
    pub(crate) journal: &'a mut Journal,
    pub(crate) seq: i64,
    pub(crate) drive: &'a Path,
    pub(crate) drive_id: [u8; 16],
    pub(crate) key: &'a DriveKey,
    pub(crate) plan: &'a Plan,
}

enum Msg {
    Range { seg: usize, idx: u64, record: Vec<u8> },
    End { seg: usize, file_hash: Option<[u8; 32]> },
}

fn file_hash_aad(job: &DriveJob<'_>, segment: u64) -> Vec<u8> {
    format::value_aad("file-hash", &job.drive_id, &job.plan.session_id, segment)
}

/// Copies what the journal does not yet hold, then writes the manifest and marks the
/// session completed. Returns the counters and the manifest hash.
pub(crate) fn copy_drive(
    job: &mut DriveJob<'_>,
    carry: &mut Carry,
    task: &dyn Task,
) -> Result<(Counters, [u8; 32])> {
    let plan = job.plan;
    let done = job.journal.done_ranges(job.seq)?;
    let hashed = job.journal.file_hashes(job.seq)?;
    let mut counters = Counters::default();
    // Ranges already recorded per segment; segments with everything recorded are skipped.
    let mut todo = Vec::new();
    for (i, spec) in plan.segments.iter().enumerate() {
        let start = done.get(&spec.segment).map_or(0, |r| r.len() as u64);
        counters.bytes_skipped += (0..start)
            .map(|r| spec.range_len(plan.range_size, r) + format::RANGE_OVERHEAD)
            .sum::<u64>();
        let complete = start == spec.range_count(plan.range_size)
            && (!spec.is_last() || hashed.contains_key(&spec.segment));
        if !complete {
            todo.push((i, start));
        }
    }
    let total: u64 = plan.segments.iter().map(|s| s.stored_len(plan.range_size)).sum();
    task.set_total(total);
    task.set_position(counters.bytes_skipped);
    let (tx, rx) = mpsc::sync_channel::<Result<Msg>>(PIPELINE_DEPTH);
    let key = job.key;
    let drive_id = job.drive_id;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for &(i, start) in &todo {
                let outcome = produce(plan, &plan.segments[i], i, start, key, &drive_id, carry, &tx);
                if let Err(e) = outcome {
                    // The writer stops at the first error; a closed channel just ends the loop.
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        write_all(job, rx, &mut counters, task)
    })?;
    let manifest = manifest_from_journal(job.journal, job.seq, &job.drive_id, job.key, plan)?;
    let sealed = job.key.seal(
        &format::value_aad("manifest", &job.drive_id, &plan.session_id, 0),
        &manifest.encode(),
    )?;
    let bytes = format::encode_manifest_file(&sealed);
    fsutil::write_atomic(&manifest_path(job.drive, &plan.session_id), &bytes)?;
    let hash = *blake3::hash(&bytes).as_bytes();
    job.journal.complete(job.seq, &hash)?;
    task.finish();
    Ok((counters, hash))
}

/// Reads a segment from `start` on, hashing and encrypting each range, and sends it on.
#[allow(clippy::too_many_arguments)]
fn produce(
    plan: &Plan,
    spec: &SegmentSpec,
    seg: usize,
    start: u64,
    key: &DriveKey,
    drive_id: &[u8; 16],
    carry: &mut Carry,
    tx: &mpsc::SyncSender<Result<Msg>>,
) -> Result<()> {
    let path = source_path(plan, spec);
    let meta = std::fs::metadata(&path).map_err(|_| Error::SourceChanged { path: path.clone() })?;
    if meta.len() != spec.file_size || mtime_ns(&meta) != spec.mtime_ns {
        return Err(Error::SourceChanged { path });
    }
    let mut file = File::open(&path).map_err(Error::io(&path))?;
    let range = u64::from(plan.range_size);
    let from = spec.offset + start * range;
    // The whole-file hash needs every byte before `from`: carried over from the previous
    // drive in this run, or read again from the source (read only, nothing is rewritten).
    let mut hasher = match carry.remove(&spec.file_id) {
        Some((pos, h)) if pos == from => h,
        _ => {
            let mut h = blake3::Hasher::new();
            let copied = std::io::copy(&mut (&mut file).take(from), &mut h).map_err(Error::io(&path))?;
            if copied != from {
                return Err(Error::SourceChanged { path });
            }
            h
        }
    };
    file.seek(SeekFrom::Start(from)).map_err(Error::io(&path))?;
    let count = spec.range_count(plan.range_size);
    let mut plain = Vec::with_capacity(plan.range_size as usize);
    for idx in start..count {
        let len = spec.range_len(plan.range_size, idx);
        plain.resize(len as usize, 0);
        file.read_exact(&mut plain)
            .map_err(|_| Error::SourceChanged { path: path.clone() })?;
        hasher.update(&plain);
        let mut record = Vec::new();
        let aad = format::range_aad(drive_id, &plan.session_id, spec.segment, idx, idx + 1 == count);
        key.seal_into(&aad, &plain, &mut record)?;
        if tx.send(Ok(Msg::Range { seg, idx, record })).is_err() {
            return Ok(());
        }
    }
    let file_hash = if spec.is_last() {
        Some(*hasher.finalize().as_bytes())
    } else {
        carry.insert(spec.file_id, (spec.offset + spec.len, hasher));
        None
    };
    let _ = tx.send(Ok(Msg::End { seg, file_hash }));
    Ok(())
}

/// The writer's state between checkpoints.
#[derive(Default)]
struct Pending {
    current: Option<(usize, File, PathBuf)>,
    dirty: Vec<(File, PathBuf)>,
    dirs: BTreeSet<PathBuf>,
    ranges: Vec<RangeDone>,
    files: Vec<(u64, format::Sealed)>,
    bytes: u64,
}

fn open_segment(
    job: &DriveJob<'_>,
    spec: &SegmentSpec,
    start: u64,
    p: &mut Pending,
    c: &mut Counters,
) -> Result<(File, PathBuf)> {
    let path = data_file(job.drive, &job.plan.session_id, spec.segment);
    let dir = fsutil::parent(&path).to_path_buf();
    if !dir.is_dir() {
        fsutil::create_dir_durable(&dir)?;
        p.dirs.insert(dir.clone());
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(Error::io(&path))?;
    let at = spec.stored_offset(job.plan.range_size, start);
    let len = file.metadata().map_err(Error::io(&path))?.len();
    if len < at {
        return Err(Error::state(
            job.journal.path(),
            format!(
                "{} is shorter than the journal records; the drive lost data",
                path.display()
            ),
        ));
    }
    if len > at {
        c.bytes_discarded += len - at;
        file.set_len(at).map_err(Error::io(&path))?;
    }
    if len == 0 {
        p.dirs.insert(dir);
    }
    file.seek(SeekFrom::Start(at)).map_err(Error::io(&path))?;
    Ok((file, path))
}

fn checkpoint(job: &mut DriveJob<'_>, p: &mut Pending) -> Result<()> {
    if let Some((_, file, path)) = &p.current {
        file.sync_data().map_err(Error::io(path))?;
    }
    for (file, path) in p.dirty.drain(..) {
        file.sync_all().map_err(Error::io(&path))?;
    }
    for dir in std::mem::take(&mut p.dirs) {
        fsutil::sync_dir(&dir)?;
    }
    job.journal.checkpoint(job.seq, &p.ranges, &p.files)?;
    p.ranges.clear();
    p.files.clear();
    p.bytes = 0;
    Ok(())
}

fn write_all(
    job: &mut DriveJob<'_>,
    rx: mpsc::Receiver<Result<Msg>>,
    c: &mut Counters,
    task: &dyn Task,
) -> Result<()> {
    let mut p = Pending::default();
    let mut files_done = 0u64;
    for msg in rx {
        match msg? {
            Msg::Range { seg, idx, record } => {
                let spec = &job.plan.segments[seg];
                if p.current.as_ref().is_none_or(|(s, _, _)| *s != seg) {
                    let (file, path) = open_segment(job, spec, idx, &mut p, c)?;
                    p.current = Some((seg, file, path));
                }
                if let Some((_, file, path)) = &mut p.current {
                    file.write_all(&record).map_err(Error::io(&*path))?;
                }
                let len = record.len() as u64;
                p.ranges
                    .push((spec.segment, idx, *blake3::hash(&record).as_bytes()));
                p.bytes += len;
                c.bytes_written += len;
                task.advance(len);
            }
            Msg::End { seg, file_hash } => {
                let spec = &job.plan.segments[seg];
                let (file, path) = match p.current.take() {
                    Some((s, file, path)) if s == seg => (file, path),
                    other => {
                        if let Some((_, file, path)) = other {
                            p.dirty.push((file, path));
                        }
                        open_segment(job, spec, spec.range_count(job.plan.range_size), &mut p, c)?
                    }
                };
                p.dirty.push((file, path));
                if let Some(hash) = file_hash {
                    let sealed = job.key.seal(&file_hash_aad(job, spec.segment), &hash)?;
                    p.files.push((spec.segment, sealed));
                }
                files_done += 1;
                task.set_message(&format!("{files_done} segments"));
            }
        }
        if p.bytes >= CHECKPOINT_BYTES || p.dirty.len() >= CHECKPOINT_FILES {
            checkpoint(job, &mut p)?;
        }
    }
    checkpoint(job, &mut p)
}

/// Builds the manifest of a session from its plan and what the journal recorded.
pub(crate) fn manifest_from_journal(
    journal: &Journal,
    seq: i64,
    drive_id: &[u8; 16],
    key: &DriveKey,
    plan: &Plan,
) -> Result<Manifest> {
    let mut done = journal.done_ranges(seq)?;
    let hashes = journal.file_hashes(seq)?;
    let mut entries = Vec::with_capacity(plan.segments.len());
    for spec in &plan.segments {
        let ranges = done.remove(&spec.segment).unwrap_or_default();
        if ranges.len() as u64 != spec.range_count(plan.range_size) {
            return Err(Error::state(
                journal.path(),
                format!("segment {} is incomplete", spec.segment),
            ));
        }
        let file_hash = match (spec.is_last(), hashes.get(&spec.segment)) {
            (false, _) => None,
            (true, Some(sealed)) => {
                let aad = format::value_aad("file-hash", drive_id, &plan.session_id, spec.segment);
                let plain = key.open(&aad, sealed).ok_or(Error::WrongKey)?;
                Some(
                    <[u8; 32]>::try_from(plain.as_slice())
                        .map_err(|_| Error::state(journal.path(), "bad file hash"))?,
                )
            }
            (true, None) => {
                return Err(Error::state(
                    journal.path(),
                    format!("segment {} has no file checksum", spec.segment),
                ));
            }
        };
        entries.push(ManifestEntry {
            spec: spec.clone(),
            file_hash,
            ranges,
        });
    }
    Ok(Manifest {
        session_id: plan.session_id.clone(),
        drive_id: *drive_id,
        position: plan.position.clone(),
        range_size: plan.range_size,
        entries,
    })
}
