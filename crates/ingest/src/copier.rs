//! Copying the files of a drive set into the job's container: worker threads, small files in
//! batches, the disposition of names already taken, damaged files held back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use seedship_api::{BlobPlaced, BodyWriter, ClientError, ErrorCode, JobAction, JobDetail, UploadBody};
use seedship_drive::{FileCheck, FileStatus, ImportFile, ImportSet};
use seedship_jobs::{
    BlobLog, BlobStatus, Disposition, DispositionOutcome, RangeLog, RangeStatus, place_blob,
};
use seedship_progress::{Progress, Task, Unit};

use crate::error::Context as _;
use crate::status::range_status_of;
use crate::{Error, JobRef};

/// How often transfer progress is reported to the server.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// Files received at once (the server fsyncs each blob: more in flight overlap those waits).
const COPY_WORKERS: usize = 10;
/// Files up to this size go to the server in batches (one request for many small files).
const BATCH_FILE_MAX: u64 = 256 << 10;
/// A worker sends its batch once it holds this many bytes (well under the server's limit).
const BATCH_FLUSH_BYTES: usize = 4 << 20;

/// Copies the files of a drive set into the job's container, one blob log per file.
pub(crate) struct Copier<'a> {
    job: JobRef<'a>,
    detail: &'a JobDetail,
    set: &'a ImportSet,
    task: Box<dyn Task>,
    warn: &'a (dyn Fn(&str) + Sync),
    /// Blob names in the container when the run started: a name not among them needs no
    /// question to the server before it is placed.
    existing: BTreeSet<String>,
    sent: Mutex<SentProgress>,
}

/// Bytes done per drive id, and when progress was last sent to the server.
struct SentProgress {
    done: BTreeMap<String, u64>,
    reported: Instant,
}

/// Small files verified and waiting to be written together: one request per disposition.
#[derive(Default)]
struct Batch<'a> {
    parts: Vec<BatchPart<'a>>,
}

/// The files of a batch with one disposition.
struct BatchPart<'a> {
    disposition: Disposition,
    /// The request body, as [`seedship_jobs::decode_batch`] reads it.
    body: Vec<u8>,
    /// Each file and the index of its log.
    files: Vec<(&'a ImportFile, usize)>,
}

impl Batch<'_> {
    fn bytes(&self) -> usize {
        self.parts.iter().map(|p| p.body.len()).sum()
    }
}

/// The logs a worker made, by file index (ascending).
type Logs = Vec<(usize, Result<BlobLog, Error>)>;

/// What recognising a file's blob found before it is sent (the server places it, or holds it
/// back, and answers the name it used).
struct Placement {
    blob: String,
    outcome: DispositionOutcome,
    /// The blob already holds exactly this file.
    already_there: bool,
}

impl<'a> Copier<'a> {
    pub(crate) fn new(
        job: &JobRef<'a>,
        detail: &'a JobDetail,
        progress: &dyn Progress,
        warn: &'a (dyn Fn(&str) + Sync),
        set: &'a ImportSet,
        existing: Vec<String>,
    ) -> Self {
        let total = set.files().iter().map(|f| f.size).sum();
        Self {
            job: *job,
            detail,
            set,
            task: progress.task("receiving", Unit::Bytes, Some(total)),
            warn,
            existing: existing.into_iter().collect(),
            sent: Mutex::new(SentProgress {
                done: BTreeMap::new(),
                reported: Instant::now(),
            }),
        }
    }

    /// Ends the progress task.
    pub(crate) fn finish(&self) {
        self.task.finish();
    }

    /// Copies every file of the set, [`COPY_WORKERS`] at a time (a single pipeline leaves a core
    /// idle and waits on each file's round trips and fsyncs); the logs come back in file order.
    /// The first error stops the workers from starting more files.
    pub(crate) fn copy_all(&self) -> Result<Vec<BlobLog>, Error> {
        let files = self.set.files();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let mut results: Vec<(usize, Result<BlobLog, Error>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..COPY_WORKERS)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine: Logs = Vec::new();
                        let mut batch = Batch::default();
                        while !failed.load(Ordering::Relaxed) {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            let Some(file) = files.get(index) else { break };
                            let result = self.copy(index, file, &mut batch);
                            let copied = result.is_ok();
                            mine.push((index, result));
                            let full = copied && batch.bytes() >= BATCH_FLUSH_BYTES;
                            let flushed = if full {
                                self.send_batch(&mut batch, &mut mine)
                            } else {
                                Ok(())
                            };
                            if let Err(err) = flushed {
                                mine.last_mut().expect("this file's log").1 = Err(err);
                            }
                            if mine.last().is_some_and(|(_, r)| r.is_err()) {
                                failed.store(true, Ordering::Relaxed);
                            }
                        }
                        if let Err(err) = self.send_batch(&mut batch, &mut mine) {
                            failed.store(true, Ordering::Relaxed);
                            mine.push((files.len(), Err(err)));
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
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }

    fn name(&self) -> &str {
        self.job.name
    }

    /// The blob name of `file` in the container: its destination without the container,
    /// under the job's prefix. A manifest naming another container or a name that could leave
    /// the prefix (`..`, empty segments, ...) gets the blob status that refuses the file.
    fn requested_blob(&self, file: &ImportFile) -> Result<String, BlobStatus> {
        self.detail
            .job
            .destination()
            .blob_for(&file.dst)
            .map_err(|err| match err {
                seedship_jobs::BlobNameError::TooLong { .. } => BlobStatus::FileNameTooLong,
                _ => BlobStatus::FileNameInvalid,
            })
    }

    /// Copies file `index` of the set; a small file joins `batch`, and its log gets the name
    /// the server placed it under once the batch is sent.
    fn copy(&self, index: usize, file: &'a ImportFile, batch: &mut Batch<'a>) -> Result<BlobLog, Error> {
        let mut log = BlobLog {
            file: file.path.to_string_lossy().into_owned(),
            requested_blob: file.dst.clone(),
            blob: String::new(),
            length: file.size,
            status: BlobStatus::Completed,
            disposition: DispositionOutcome::Cancelled,
            ranges: Vec::new(),
        };
        let requested = match self.requested_blob(file) {
            Ok(requested) => requested,
            Err(status) => {
                log.status = status;
                return Ok(log);
            }
        };
        // a page blob (a drive prepared before they were refused, or a hostile one) is
        // refused, never written as a block blob
        if file.blob_type == seedship_drive::BlobType::Page {
            log.requested_blob = requested;
            log.status = BlobStatus::BlobTypeUnsupported;
            return Ok(log);
        }
        log.requested_blob = requested.clone();
        let hash = file.hash.map(|h| seedship_drive::format::to_hex(&h));
        // already there (an earlier run) or kept by no-overwrite; else the server places the
        // file, or holds a damaged one back, and answers the name it used
        let placement = self.place(&requested, file, hash.as_deref())?;
        log.blob = placement.blob.clone();
        log.disposition = placement.outcome;
        // a batched file counts as done when its batch is written
        let mut batched = false;
        let (check, placed) = match (placement.outcome, hash.as_deref()) {
            // already in the container from an earlier run, or kept by no-overwrite
            (_, Some(_)) if placement.already_there => (None, None),
            (DispositionOutcome::Skipped, _) => (None, None),
            (_, Some(hash)) if file.complete && file.size <= BATCH_FILE_MAX => {
                let (check, held) = self.add_to_batch(batch, index, file, &requested, hash)?;
                batched = check.status == FileStatus::Ok;
                (Some(check), held)
            }
            (_, Some(hash)) if file.complete => self.upload(file, &requested, hash)?,
            _ => {
                let (check, held) = self.hold_back(file, &requested, hash.as_deref())?;
                (Some(check), held)
            }
        };
        if let Some(placed) = placed {
            log.blob = placed.blob;
            log.disposition = placed.disposition;
        }
        // a damaged file no-overwrite did not hold back (its name taken) is not repaired
        let check = check.filter(|_| log.disposition != DispositionOutcome::Skipped);
        let bad: BTreeMap<u64, RangeStatus> = check
            .iter()
            .flat_map(|c| &c.segments)
            .flat_map(|s| &s.bad_ranges)
            .map(|r| (r.file_offset, range_status_of(r.status)))
            .collect();
        log.ranges = self
            .set
            .ranges(file)
            .into_iter()
            .map(|range| RangeLog {
                offset: range.offset,
                length: range.len,
                checksum: range
                    .checksum
                    .map(|c| seedship_drive::format::to_hex(&c))
                    .unwrap_or_default(),
                status: match range.checksum {
                    None => RangeStatus::Missing,
                    Some(_) => bad.get(&range.offset).copied().unwrap_or(RangeStatus::Completed),
                },
            })
            .collect();
        let whole_file_bad = check.as_ref().is_some_and(|c| c.status != FileStatus::Ok);
        if whole_file_bad && log.ranges.iter().all(|r| r.status == RangeStatus::Completed) {
            // every range verified but the file as a whole does not: no range to blame
            log.status = BlobStatus::CompletedWithErrors;
        }
        if hash.is_none() {
            log.status = BlobStatus::Failed;
        }
        if !batched {
            self.advance(file);
        }
        Ok(log)
    }

    /// Reads and verifies a small file; a good one joins `batch` under its requested name
    /// (sent later by [`Copier::send_batch`]), a damaged one is held back at once (with the
    /// name the server answered).
    fn add_to_batch(
        &self,
        batch: &mut Batch<'a>,
        index: usize,
        file: &'a ImportFile,
        requested: &str,
        hash: &str,
    ) -> Result<(FileCheck, Option<BlobPlaced>), Error> {
        let mut data = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        let check = self
            .set
            .read_file(file, &mut data)
            .context(|| format!("reading {} from the drive", file.path.display()))?;
        let Some(blake3) = file.hash.filter(|_| check.status == FileStatus::Ok) else {
            return self.hold_back(file, requested, Some(hash));
        };
        let part = match batch.parts.iter().position(|p| p.disposition == file.disposition) {
            Some(at) => &mut batch.parts[at],
            None => {
                batch.parts.push(BatchPart {
                    disposition: file.disposition,
                    body: Vec::new(),
                    files: Vec::new(),
                });
                batch.parts.last_mut().expect("just pushed")
            }
        };
        seedship_jobs::BatchEntry {
            name: requested,
            blake3,
            data: &data,
        }
        .encode(&mut part.body);
        part.files.push((file, index));
        Ok((check, None))
    }

    /// Writes the batch's blobs (if any), records in their logs (in `logs`) where the server
    /// placed them, and counts them as done.
    fn send_batch(&self, batch: &mut Batch<'a>, logs: &mut Logs) -> Result<(), Error> {
        for part in std::mem::take(&mut batch.parts) {
            let count = part.files.len();
            let placed = self
                .job
                .client
                .put_blob_batch(self.job.account, self.name(), part.disposition, part.body)
                .context(|| format!("writing a batch of {count} small blobs"))?;
            for ((file, index), placed) in part.files.into_iter().zip(placed) {
                let at = logs.binary_search_by_key(&index, |(i, _)| *i);
                if let Some((_, Ok(log))) = at.ok().map(|at| &mut logs[at]) {
                    log.blob = placed.blob;
                    log.disposition = placed.disposition;
                }
                self.advance(file);
            }
        }
        Ok(())
    }

    /// Recognises a blob with the file's hash among the names taken when the run started (an
    /// earlier, interrupted run wrote it), and a name no-overwrite keeps. Every other name is
    /// the server's to choose (for a complete file and a held-back one alike): the one found
    /// here is only the log's until the server answers.
    fn place(&self, requested: &str, file: &ImportFile, hash: Option<&str>) -> Result<Placement, Error> {
        let mut ours = None;
        let mut failure = None;
        let placed = place_blob(requested, file.disposition, |name| {
            if ours.is_some() || failure.is_some() {
                return true;
            }
            if !self.existing.contains(name) {
                return false;
            }
            match self.job.client.blob_blake3(self.job.account, self.name(), name) {
                Ok(None) => false,
                Ok(Some(found)) => {
                    if hash == Some(found.as_str()) {
                        ours = Some(name.to_owned());
                    }
                    true
                }
                Err(err) => {
                    failure = Some(err);
                    true
                }
            }
        });
        if let Some(err) = failure {
            return Err(err).context(|| format!("checking blob {requested}"));
        }
        if let Some(blob) = ours {
            return Ok(Placement {
                blob,
                outcome: DispositionOutcome::Created,
                already_there: true,
            });
        }
        let placed = placed.context(|| format!("placing blob {requested}"))?;
        Ok(Placement {
            blob: placed.blob,
            outcome: placed.outcome,
            already_there: false,
        })
    }

    /// Streams a complete file to the server under its requested name; the server places it
    /// by the file's disposition (and answers where) and writes it only if the bytes hash to
    /// the manifest's BLAKE3; a file that fails verification is held back instead (the server
    /// answers the name either way).
    fn upload(
        &self,
        file: &ImportFile,
        requested: &str,
        hash: &str,
    ) -> Result<(Option<FileCheck>, Option<BlobPlaced>), Error> {
        // the server checks the whole-file BLAKE3 as the bytes arrive
        let (check, sent) = self.stream(
            |w| self.set.read_file_ranges(file, w),
            |body| {
                self.job.client.put_placed_blob(
                    self.job.account,
                    self.name(),
                    requested,
                    file.disposition,
                    body,
                    hash,
                )
            },
        );
        let mismatch = matches!(
            &sent,
            Err(ClientError::Api {
                code: Some(ErrorCode::DigestMismatch),
                ..
            })
        );
        if !mismatch && let Err(err) = sent {
            // the upload failed on its own (the server's error, e.g. QuotaExceeded, passed on
            // as the cause); the reader then only saw the pipe close
            return Err(err).context(|| format!("writing blob {requested}"));
        }
        let check = check.context(|| format!("reading {} from the drive", file.path.display()))?;
        match sent {
            Ok(placed) if check.status == FileStatus::Ok => Ok((Some(check), Some(placed))),
            // a bad range, or good ranges that do not make the file: read again, checking all
            Err(ClientError::Api {
                code: Some(ErrorCode::DigestMismatch),
                ..
            }) => {
                let full = self
                    .set
                    .read_file(file, &mut std::io::sink())
                    .context(|| format!("reading {} from the drive", file.path.display()))?;
                if full.status == FileStatus::Ok {
                    return Err(Error::DamagedInTransit {
                        blob: requested.to_owned(),
                        file: file.path.clone(),
                    });
                }
                let (check, held) = self.hold_back(file, requested, Some(hash))?;
                Ok((Some(check), held))
            }
            Ok(placed) => Err(Error::WroteUnverified {
                blob: placed.blob,
                file: file.path.clone(),
            }),
            Err(err) => Err(err).context(|| format!("writing blob {requested}")),
        }
    }

    /// Keeps a damaged file (bad ranges as zeros) on the server, outside the container, until
    /// `seedship drive repair` sends the ranges it lacks; the server chooses the name it is
    /// held back under by the file's disposition and answers it (none: nothing was sent).
    fn hold_back(
        &self,
        file: &ImportFile,
        requested: &str,
        hash: Option<&str>,
    ) -> Result<(FileCheck, Option<BlobPlaced>), Error> {
        let reading = || format!("reading {} from the drive", file.path.display());
        let Some(hash) = hash else {
            // the segment carrying the file's checksum is on a drive not given: nothing to verify a repair against
            let check = self.set.read_file(file, &mut std::io::sink()).context(reading)?;
            return Ok((check, None));
        };
        let drive_id = self.set.home_drive(file).drive_id();
        // The spans on drives not given are not sent: the server keeps them as holes that a
        // repair must fill.
        let holes: Vec<(u64, u64)> = self
            .set
            .ranges(file)
            .iter()
            .filter(|range| range.checksum.is_none())
            .map(|range| (range.offset, range.len))
            .collect();
        let (check, sent) = self.stream(
            |w| self.set.read_file(file, w),
            |body| {
                let held_back = seedship_api::HeldBack {
                    requested,
                    disposition: file.disposition,
                    drive_id: &drive_id,
                    blake3: hash,
                    holes: &holes,
                };
                self.job
                    .client
                    .put_damaged(self.job.account, self.name(), &held_back, body)
            },
        );
        let placed = sent.context(|| format!("holding back damaged file {requested}"))?;
        Ok((check.context(reading)?, Some(placed)))
    }

    /// Runs `read` (a file from the drives) on a second thread into the body it hands `send`;
    /// a read error fails the request, so that no part of a file is taken for all of it.
    fn stream<T>(
        &self,
        read: impl FnOnce(&mut BodyWriter) -> seedship_drive::Result<FileCheck> + Send,
        send: impl FnOnce(UploadBody) -> T,
    ) -> (seedship_drive::Result<FileCheck>, T) {
        let (mut writer, body) = self.job.client.upload_body();
        std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                let check = read(&mut writer);
                match &check {
                    // a failed finish means the request is gone; it reports why itself
                    Ok(_) => drop(writer.finish()),
                    Err(err) => writer.fail(std::io::Error::other(err.to_string())),
                }
                check
            });
            let sent = send(body);
            let check = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (check, sent)
        })
    }

    fn advance(&self, file: &ImportFile) {
        self.task.advance(file.size);
        let drive_id = self.set.home_drive(file).drive_id();
        let mut sent = self.sent.lock().expect("progress lock");
        *sent.done.entry(drive_id).or_default() += file.size;
        if sent.reported.elapsed() >= PROGRESS_EVERY {
            sent.reported = Instant::now();
            for (drive_id, bytes_done) in &sent.done {
                let action = JobAction::Progress {
                    drive_id: drive_id.clone(),
                    bytes_done: *bytes_done,
                };
                if let Err(err) = self.job.client.job_action(self.job.account, self.name(), &action) {
                    (self.warn)(&format!("reporting progress of drive {drive_id}: {err}"));
                }
            }
        }
    }
}
