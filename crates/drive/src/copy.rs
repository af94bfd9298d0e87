//! Copying one drive's share of a session: a two-stage pipeline (read, hash and encrypt on
//! one thread; write, fsync and journal on the other), then the manifest.

use crate::crypto::DriveKey;
use crate::error::{Error, Result};
use crate::format::{self, Manifest, ManifestEntry, NONCE_LEN, Plan, SegmentSpec};
use crate::fsutil;
use crate::journal::{Journal, RangeDone};
use crate::plan::BUCKET;
use crate::source::{PlannedFile, Source};
use seedship_progress::Task;
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Hand a checkpoint to the syncer once this many bytes are written but not yet recorded.
const CHECKPOINT_BYTES: u64 = 32 << 20;
/// ... or once this many files are written but not yet synced.
const CHECKPOINT_FILES: usize = 512;
/// Above this many files in a checkpoint, one `syncfs(2)` replaces an `fsync(2)` per file.
const SYNCFS_FILES: usize = 8;
/// Bytes per `write(2)`: much faster than one call per 4 MiB range on the machines measured.
const WRITE_CHUNK: usize = 64 << 10;
/// Ranges queued on each lane (reader to worker, worker to writer).
const PIPELINE_DEPTH: usize = 2;
/// Threads sealing ranges and computing range checksums, beside the reader and the writer.
const CRYPTO_WORKERS: usize = 2;

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

/// A source file that ends early has changed since it was planned; any other read error is
/// the source's own (a vault object that fails its check, a connection lost).
fn read_error(path: &Path, err: std::io::Error) -> Error {
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::SourceChanged {
            path: path.to_owned(),
        }
    } else {
        Error::SourceRead {
            path: path.to_owned(),
            source: err,
        }
    }
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
    pub(crate) source: &'a dyn Source,
}

/// What reaches the writer, in copy order.
enum Msg {
    Range {
        seg: usize,
        idx: u64,
        record: Vec<u8>,
        checksum: [u8; 32],
    },
    End {
        seg: usize,
        file_hash: Option<[u8; 32]>,
    },
}

/// What the reader hands to a crypto worker: a range to seal, or a message to pass on.
enum Job {
    Seal { seg: usize, idx: u64, record: Vec<u8> },
    Pass(Result<Msg>),
}

/// Round-robin lanes from the reader through the crypto workers to the writer; strict
/// rotation keeps the copy order without a reorder buffer.
struct Lanes {
    txs: Vec<mpsc::SyncSender<Job>>,
    next: usize,
}

impl Lanes {
    /// Sends `job` down the next lane; `false` once the writer has stopped.
    fn send(&mut self, job: Job) -> bool {
        let lane = self.next % self.txs.len();
        self.next += 1;
        self.txs[lane].send(job).is_ok()
    }
}

/// Seals each range of its lane and computes the range checksum.
fn crypto_worker(t: &Target<'_>, jobs: mpsc::Receiver<Job>, out: &mpsc::SyncSender<Result<Msg>>) {
    for job in jobs {
        let msg = match job {
            Job::Pass(msg) => msg,
            Job::Seal { seg, idx, mut record } => {
                let spec = &t.plan.segments[seg];
                let last = idx + 1 == spec.range_count(t.plan.range_size);
                let aad = format::range_aad(&t.drive_id, &t.plan.session_id, spec.segment, idx, last);
                t.key
                    .seal_in_place(t.plan.range_cipher, &aad, &mut record)
                    .map(|()| Msg::Range {
                        seg,
                        idx,
                        checksum: *blake3::hash(&record).as_bytes(),
                        record,
                    })
            }
        };
        if out.send(msg).is_err() {
            return;
        }
    }
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
    let (batch_tx, batch_rx) = mpsc::sync_channel::<Batch>(1);
    let (pool_tx, pool_rx) = mpsc::channel::<Vec<u8>>();
    let target = Target {
        drive: job.drive,
        drive_id: job.drive_id,
        key: job.key,
        plan,
        source: job.source,
    };
    let journal = &mut *job.journal;
    let seq = job.seq;
    std::thread::scope(|scope| {
        let mut lanes = Lanes {
            txs: Vec::new(),
            next: 0,
        };
        let mut outs = Vec::new();
        for _ in 0..CRYPTO_WORKERS {
            let (job_tx, job_rx) = mpsc::sync_channel::<Job>(PIPELINE_DEPTH);
            let (out_tx, out_rx) = mpsc::sync_channel::<Result<Msg>>(PIPELINE_DEPTH);
            let t = &target;
            scope.spawn(move || crypto_worker(t, job_rx, &out_tx));
            lanes.txs.push(job_tx);
            outs.push(out_rx);
        }
        let t = &target;
        scope.spawn(move || {
            for &(i, start) in &todo {
                match produce(t, &plan.segments[i], i, start, carry, &mut lanes, &pool_rx) {
                    Ok(true) => {}
                    // The writer has stopped; it reports why.
                    Ok(false) => return,
                    Err(e) => {
                        lanes.send(Job::Pass(Err(e)));
                        return;
                    }
                }
            }
        });
        let syncer = scope.spawn(move || sync_batches(journal, seq, batch_rx));
        let written = write_all(&target, &outs, batch_tx, &pool_tx, &mut counters, task);
        drop(outs);
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
    let path = manifest_path(job.drive, &plan.session_id);
    // the plan keeps within the limit; a plan from an older version might not, and a drive
    // whose manifest no reader accepts must not be shipped
    if bytes.len() as u64 > format::MAX_MANIFEST_LEN {
        return Err(Error::FileTooLarge {
            path,
            len: bytes.len() as u64,
            limit: format::MAX_MANIFEST_LEN,
        });
    }
    fsutil::write_atomic(&path, &bytes)?;
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
    source: &'a dyn Source,
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
        let Some(mut file) = fsutil::open_drive_file(job.drive, &path)? else {
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
            if job.key.open_in_place(plan.range_cipher, &aad, &mut buf).is_none() {
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

/// Reads a segment from `start` on, hashing each range into the file checksum, and sends
/// the ranges on to be sealed. Returns `false` when the writer has stopped.
fn produce(
    t: &Target<'_>,
    spec: &SegmentSpec,
    seg: usize,
    start: u64,
    carry: &mut Carry,
    lanes: &mut Lanes,
    pool: &mpsc::Receiver<Vec<u8>>,
) -> Result<bool> {
    let plan = t.plan;
    let root = plan.roots.get(spec.root as usize).map_or(&[][..], Vec::as_slice);
    let file = PlannedFile {
        root,
        rel: &spec.path,
        size: spec.file_size,
        mtime_ns: spec.mtime_ns,
    };
    let path = file.path();
    let range = u64::from(plan.range_size);
    let from = spec.offset + (start * range).min(spec.len);
    // The whole-file hash needs every byte before `from`: carried over from the previous
    // drive in this run, or read again from the source (read only, nothing is rewritten).
    let (mut reader, mut hasher) = match carry.remove(&spec.file_id) {
        Some((pos, h)) if pos == from => (t.source.open(&file, from)?, h),
        _ => {
            let mut reader = t.source.open(&file, 0)?;
            let mut h = blake3::Hasher::new();
            let copied =
                std::io::copy(&mut (&mut reader).take(from), &mut h).map_err(|e| read_error(&path, e))?;
            if copied != from {
                return Err(Error::SourceChanged { path });
            }
            (reader, h)
        }
    };
    let count = spec.range_count(plan.range_size);
    for idx in start..count {
        let len = spec.range_len(plan.range_size, idx) as usize;
        // Buffers come back from the writer, so steady state allocates nothing.
        let mut record = pool.try_recv().unwrap_or_default();
        record.clear();
        record.resize(NONCE_LEN + len, 0);
        reader
            .read_exact(&mut record[NONCE_LEN..])
            .map_err(|e| read_error(&path, e))?;
        hasher.update(&record[NONCE_LEN..]);
        if !lanes.send(Job::Seal { seg, idx, record }) {
            return Ok(false);
        }
    }
    let file_hash = if spec.is_last() {
        Some(*hasher.finalize().as_bytes())
    } else {
        carry.insert(spec.file_id, (spec.offset + spec.len, hasher));
        None
    };
    Ok(lanes.send(Job::Pass(Ok(Msg::End { seg, file_hash }))))
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
    lanes: &[mpsc::Receiver<Result<Msg>>],
    batches: mpsc::SyncSender<Batch>,
    pool: &mpsc::Sender<Vec<u8>>,
    c: &mut Counters,
    task: &dyn Task,
) -> Result<()> {
    let mut b = Batch::default();
    let mut current: Option<(usize, File, PathBuf)> = None;
    let mut segments_done = 0u64;
    // Returns `false` when the syncer has failed (its error is reported, not this one's).
    let hand_over = |b: &mut Batch, current: &Option<(usize, File, PathBuf)>| -> Result<bool> {
        let mut batch = std::mem::take(b);
        if let Some((_, file, path)) = current {
            batch
                .files
                .push((file.try_clone().map_err(Error::io(path))?, path.clone()));
        }
        Ok(batches.send(batch).is_ok())
    };
    // Strict rotation over the lanes, as the reader sent them; a closed lane means the
    // reader has finished (or stopped, having sent its error first).
    for lane in (0..lanes.len()).cycle() {
        let Ok(msg) = lanes[lane].recv() else {
            break;
        };
        match msg? {
            Msg::Range {
                seg,
                idx,
                record,
                checksum,
            } => {
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
                for chunk in record.chunks(WRITE_CHUNK) {
                    file.0.write_all(chunk).map_err(Error::io(&*file.1))?;
                }
                let len = record.len() as u64;
                b.ranges.push((spec.segment, idx, checksum));
                b.bytes += len;
                c.bytes_written += len;
                task.advance(len);
                // The reader may have finished; then the buffer is simply dropped.
                let _ = pool.send(record);
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
        if (b.bytes >= CHECKPOINT_BYTES || b.files.len() >= CHECKPOINT_FILES) && !hand_over(&mut b, &current)?
        {
            return Ok(());
        }
    }
    hand_over(&mut b, &current).map(drop)
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
        range_cipher: plan.range_cipher,
        range_size: plan.range_size,
        entries,
    })
}
