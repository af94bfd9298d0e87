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

/// Hand a checkpoint to the syncer once this many bytes are written but not yet recorded.
const CHECKPOINT_BYTES: u64 = 32 << 20;
/// ... or once this many files are written but not yet synced.
const CHECKPOINT_FILES: usize = 512;
/// Above this many files in a checkpoint, one `syncfs(2)` replaces an `fsync(2)` per file.
const SYNCFS_FILES: usize = 8;
/// Encrypted ranges in flight between reader and writer.
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
    /// Whole ranges found on the drive beyond the journal (written before a crash but not
    /// yet recorded), read back, authenticated and recorded without writing them again.
    pub bytes_adopted: u64,
    /// Bytes found on the drive beyond the journal that did not form a whole authentic
    /// range (a torn write), cut off and written again.
    pub bytes_discarded: u64,
}

impl Counters {
    /// Adds `other` to these counters.
    pub fn add(&mut self, other: &Counters) {
        self.bytes_written += other.bytes_written;
        self.bytes_skipped += other.bytes_skipped;
        self.bytes_adopted += other.bytes_adopted;
        self.bytes_discarded += other.bytes_discarded;
    }
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

/// Copies what the journal does not yet hold, then writes the manifest and marks the
/// session completed. Returns the counters and the manifest hash.
pub(crate) fn copy_drive(
    job: &mut DriveJob<'_>,
    carry: &mut Carry,
    task: &dyn Task,
) -> Result<(Counters, [u8; 32])> {
    let plan = job.plan;
    let mut counters = Counters::default();
    let stored = |spec: &SegmentSpec, ranges: u64| -> u64 {
        (0..ranges)
            .map(|r| spec.range_len(plan.range_size, r) + format::RANGE_OVERHEAD)
            .sum()
    };
    let before = job.journal.done_ranges(job.seq)?;
    counters.bytes_skipped = plan
        .segments
        .iter()
        .map(|s| stored(s, before.get(&s.segment).map_or(0, |r| r.len() as u64)))
        .sum();
    adopt_unrecorded(job, &before, &mut counters)?;
    let done = job.journal.done_ranges(job.seq)?;
    let hashed = job.journal.file_hashes(job.seq)?;
    // Segments with everything recorded are skipped; the others continue at their first
    // unrecorded range.
    let mut todo = Vec::new();
    for (i, spec) in plan.segments.iter().enumerate() {
        let start = done.get(&spec.segment).map_or(0, |r| r.len() as u64);
        let complete = start == spec.range_count(plan.range_size)
            && (!spec.is_last() || hashed.contains_key(&spec.segment));
        if !complete {
            todo.push((i, start));
        }
    }
    let total: u64 = plan.segments.iter().map(|s| s.stored_len(plan.range_size)).sum();
    task.set_total(total);
    task.set_position(counters.bytes_skipped + counters.bytes_adopted);
    let (tx, rx) = mpsc::sync_channel::<Result<Msg>>(PIPELINE_DEPTH);
    let (batch_tx, batch_rx) = mpsc::sync_channel::<Batch>(1);
    let target = Target {
        drive: job.drive,
        drive_id: job.drive_id,
        key: job.key,
        plan,
    };
    let journal = &mut *job.journal;
    let seq = job.seq;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for &(i, start) in &todo {
                let outcome = produce(&target, &plan.segments[i], i, start, carry, &tx);
                if let Err(e) = outcome {
                    // The writer stops at the first error; a closed channel just ends the loop.
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        let syncer = scope.spawn(move || sync_batches(journal, seq, batch_rx));
        let written = write_all(&target, rx, batch_tx, &mut counters, task);
        let synced = syncer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        synced.and(written)
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

/// What the pipeline stages share (read only).
#[derive(Clone, Copy)]
struct Target<'a> {
    drive: &'a Path,
    drive_id: [u8; 16],
    key: &'a DriveKey,
    plan: &'a Plan,
}

/// After a crash, ranges written after the last checkpoint are still on the drive. Each
/// whole range that authenticates at its position is exactly what was written there, so it
/// is synced and recorded instead of being written again. Reading stops at the first
/// range that is short or does not authenticate; the writer cuts the file there.
fn adopt_unrecorded(
    job: &mut DriveJob<'_>,
    done: &HashMap<u64, Vec<[u8; 32]>>,
    counters: &mut Counters,
) -> Result<()> {
    let plan = job.plan;
    let mut adopted = Vec::new();
    let mut buf = Vec::new();
    for spec in &plan.segments {
        let start = done.get(&spec.segment).map_or(0, |r| r.len() as u64);
        let count = spec.range_count(plan.range_size);
        if start == count {
            continue;
        }
        let path = data_file(job.drive, &plan.session_id, spec.segment);
        let Ok(mut file) = File::open(&path) else {
            continue;
        };
        let len = file.metadata().map_err(Error::io(&path))?.len();
        let mut at = spec.stored_offset(plan.range_size, start);
        if len <= at {
            continue;
        }
        file.seek(SeekFrom::Start(at)).map_err(Error::io(&path))?;
        let mut idx = start;
        while idx < count {
            let want = spec.range_len(plan.range_size, idx) + format::RANGE_OVERHEAD;
            if len < at + want {
                break;
            }
            buf.resize(want as usize, 0);
            file.read_exact(&mut buf).map_err(Error::io(&path))?;
            let checksum = *blake3::hash(&buf).as_bytes();
            let aad = format::range_aad(
                &job.drive_id,
                &plan.session_id,
                spec.segment,
                idx,
                idx + 1 == count,
            );
            if !job.key.open_in_place(&aad, &mut buf) {
                break;
            }
            adopted.push((spec.segment, idx, checksum));
            counters.bytes_adopted += want;
            at += want;
            idx += 1;
        }
        if idx > start {
            file.sync_all().map_err(Error::io(&path))?;
        }
    }
    if !adopted.is_empty() {
        job.journal.checkpoint(job.seq, &adopted, &[])?;
    }
    Ok(())
}

/// Reads a segment from `start` on, hashing and encrypting each range, and sends it on.
fn produce(
    t: &Target<'_>,
    spec: &SegmentSpec,
    seg: usize,
    start: u64,
    carry: &mut Carry,
    tx: &mpsc::SyncSender<Result<Msg>>,
) -> Result<()> {
    let plan = t.plan;
    let path = source_path(plan, spec);
    let meta = std::fs::metadata(&path).map_err(|_| Error::SourceChanged { path: path.clone() })?;
    if meta.len() != spec.file_size || mtime_ns(&meta) != spec.mtime_ns {
        return Err(Error::SourceChanged { path });
    }
    let mut file = File::open(&path).map_err(Error::io(&path))?;
    let range = u64::from(plan.range_size);
    let from = spec.offset + (start * range).min(spec.len);
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
        let aad = format::range_aad(&t.drive_id, &plan.session_id, spec.segment, idx, idx + 1 == count);
        t.key.seal_into(&aad, &plain, &mut record)?;
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

/// Written data not yet durable and recorded: handed from the writer to the syncer.
#[derive(Default)]
struct Batch {
    files: Vec<(File, PathBuf)>,
    dirs: BTreeSet<PathBuf>,
    ranges: Vec<RangeDone>,
    hashes: Vec<(u64, format::Sealed)>,
    bytes: u64,
}

/// The syncer: makes each batch durable (fsync of each file and new directory, or one
/// syncfs for many files), then records it in the journal in one transaction.
fn sync_batches(journal: &mut Journal, seq: i64, rx: mpsc::Receiver<Batch>) -> Result<()> {
    for batch in rx {
        if batch.files.len() > SYNCFS_FILES {
            let (file, path) = &batch.files[0];
            rustix::fs::syncfs(file).map_err(|e| Error::io(path)(e.into()))?;
        } else {
            for (file, path) in &batch.files {
                file.sync_all().map_err(Error::io(path))?;
            }
            for dir in &batch.dirs {
                fsutil::sync_dir(dir)?;
            }
        }
        journal.checkpoint(seq, &batch.ranges, &batch.hashes)?;
    }
    Ok(())
}

fn open_segment(
    t: &Target<'_>,
    spec: &SegmentSpec,
    start: u64,
    b: &mut Batch,
    c: &mut Counters,
) -> Result<(File, PathBuf)> {
    let path = data_file(t.drive, &t.plan.session_id, spec.segment);
    let dir = fsutil::parent(&path).to_path_buf();
    if !dir.is_dir() {
        fsutil::create_dir_durable(&dir)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(Error::io(&path))?;
    let at = spec.stored_offset(t.plan.range_size, start);
    let len = file.metadata().map_err(Error::io(&path))?.len();
    if len < at {
        return Err(Error::Io {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "data file is shorter than the journal records: the drive lost data",
            ),
        });
    }
    if len > at {
        c.bytes_discarded += len - at;
        file.set_len(at).map_err(Error::io(&path))?;
    }
    if len == 0 {
        b.dirs.insert(dir);
    }
    file.seek(SeekFrom::Start(at)).map_err(Error::io(&path))?;
    Ok((file, path))
}

/// The writer: appends ranges to data files and hands batches to the syncer.
fn write_all(
    t: &Target<'_>,
    rx: mpsc::Receiver<Result<Msg>>,
    batches: mpsc::SyncSender<Batch>,
    c: &mut Counters,
    task: &dyn Task,
) -> Result<()> {
    let mut b = Batch::default();
    let mut current: Option<(usize, File, PathBuf)> = None;
    let mut segments_done = 0u64;
    let hand_over = |b: &mut Batch, current: &Option<(usize, File, PathBuf)>| -> Result<()> {
        let mut batch = std::mem::take(b);
        if let Some((_, file, path)) = current {
            batch
                .files
                .push((file.try_clone().map_err(Error::io(path))?, path.clone()));
        }
        // A closed channel means the syncer failed; its error is reported instead.
        let _ = batches.send(batch);
        Ok(())
    };
    for msg in rx {
        match msg? {
            Msg::Range { seg, idx, record } => {
                let spec = &t.plan.segments[seg];
                let file = match &mut current {
                    Some((s, file, path)) if *s == seg => (file, path),
                    _ => {
                        if let Some((_, file, path)) = current.take() {
                            b.files.push((file, path));
                        }
                        let (file, path) = open_segment(t, spec, idx, &mut b, c)?;
                        let (_, file, path) = current.insert((seg, file, path));
                        (file, path)
                    }
                };
                file.0.write_all(&record).map_err(Error::io(&*file.1))?;
                let len = record.len() as u64;
                b.ranges
                    .push((spec.segment, idx, *blake3::hash(&record).as_bytes()));
                b.bytes += len;
                c.bytes_written += len;
                task.advance(len);
            }
            Msg::End { seg, file_hash } => {
                let spec = &t.plan.segments[seg];
                let done = match current.take() {
                    Some((s, file, path)) if s == seg => (file, path),
                    other => {
                        if let Some((_, file, path)) = other {
                            b.files.push((file, path));
                        }
                        open_segment(t, spec, spec.range_count(t.plan.range_size), &mut b, c)?
                    }
                };
                b.files.push(done);
                if let Some(hash) = file_hash {
                    let aad = format::value_aad("file-hash", &t.drive_id, &t.plan.session_id, spec.segment);
                    b.hashes.push((spec.segment, t.key.seal(&aad, &hash)?));
                }
                segments_done += 1;
                task.set_message(&format!("{segments_done} files"));
            }
        }
        if b.bytes >= CHECKPOINT_BYTES || b.files.len() >= CHECKPOINT_FILES {
            hand_over(&mut b, &current)?;
        }
    }
    hand_over(&mut b, &current)
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
