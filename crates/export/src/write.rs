//! `export write`: the job's vault objects onto its blank drives.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seedship_api::{JobAction, JobDetail};
use seedship_drive::{
    CopySummary, DriveTarget, ListedFiles, PrepareOptions, SessionPlan, Unlock, VerifyReport,
};
use seedship_ingest::JobRef;
use seedship_jobs::{
    BlobLog, BlobStatus, DispositionOutcome, DriveLog, DriveState, DriveStatus, JobState, RangeLog,
};
use seedship_progress::{Progress, Task, Unit};
use serde::Serialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::Error;
use crate::error::Context as _;
use crate::objects::JobObjects;

/// The copy session's id on an export drive (its directory on the drive).
const SESSION: &str = "export";
/// Where the repository lies in the drives' destination names. The owner's reader finds it by
/// the `config` file's place, whatever this is.
const DESTINATION: &str = "export/repository";
/// Time between two progress reports to the job service.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// What [`write`] needs besides the job.
pub struct WriteOptions {
    /// `(drive id, mounted directory)` of each blank drive, in filling order: the id the
    /// operator received the drive under (its label).
    pub drives: Vec<(String, PathBuf)>,
    /// Where the drives' journals are kept (off the drives): [`journal_path`].
    pub journal_dir: PathBuf,
    /// Wraps each drive key in its journal until the drive is written and verified, so that a
    /// killed write resumes; forgotten then.
    pub passphrase: Zeroizing<Vec<u8>>,
    /// Capacity per drive instead of the file system's free space.
    pub capacity: Option<u64>,
    /// Accept drive directories that are not mount points.
    pub not_a_mount_point: bool,
}

/// The outcome of [`write`].
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// The job.
    pub job: String,
    /// Its account.
    pub account: String,
    /// The job's state afterwards.
    pub job_state: JobState,
    /// Objects the export copies.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// This run's copy (`None` when every drive was written already).
    pub copy: Option<CopySummary>,
    /// Per drive given.
    pub drives: Vec<DriveWritten>,
}

/// One drive's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct DriveWritten {
    /// The drive id.
    pub drive_id: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Its state afterwards.
    pub state: DriveState,
    /// The write's status (from the verification after writing).
    pub status: DriveStatus,
    /// Objects (or parts of objects spanning drives) on the drive.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Ranges the verification found bad.
    pub bad_ranges: usize,
    /// Whether this run wrote it (false: it was written by an earlier run).
    pub written_now: bool,
}

/// The journal of drive `drive_id` of export job `job` in `dir`.
pub fn journal_path(dir: &Path, job: &str, drive_id: &str) -> PathBuf {
    dir.join(format!("{job}.{drive_id}.jrn"))
}

/// A drive given to the writer, checked against the job.
struct Given {
    drive_id: String,
    id: [u8; 16],
    dir: PathBuf,
    journal: PathBuf,
    state: DriveState,
}

/// Writes export job `job`'s objects onto the drives of `options`: moves each drive to
/// Transferring, lays the objects out over the drives in the order given (a new session) or
/// continues the session its journals hold (after a crash or kill), reads every object from
/// the job service checking it against its name, puts each drive key on its drive wrapped to
/// the owner's key, then verifies each drive, ends its transfer with its copy log and forgets
/// the passphrase's wrapping. Drives not needed end their transfer blank. Drives already
/// written are left as they are. `warn` hears of progress reports the server did not take.
///
/// # Errors
/// A job that is not an export, a drive that is not the job's or carries another drive's
/// marker, a drive already past writing, too little room on the drives, an object that fails
/// its check, the server's refusals, I/O errors. A write stopped half-way continues when run
/// again with the same drives, journal directory and passphrase.
pub fn write(
    job: &JobRef<'_>,
    options: &WriteOptions,
    progress: &dyn Progress,
    warn: &(dyn Fn(&str) + Sync),
) -> Result<Written, Error> {
    let detail = job_detail(job)?;
    let export = detail.job.export().ok_or_else(|| Error::NotAnExport {
        job: job.name.to_owned(),
        job_type: detail.job.job_type(),
    })?;
    let owner = seedship_drive::parse_recipient(&export.owner_key).map_err(|source| Error::OwnerKey {
        job: job.name.to_owned(),
        source,
    })?;
    let given = check_drives(job, &detail, &options.drives, &options.journal_dir)?;
    let objects = job
        .client
        .export_objects(job.account, job.name)
        .context(|| format!("the object list of job {}", job.name))?;
    let total: u64 = objects.iter().map(|o| o.size).sum();
    let pending: Vec<&Given> = given
        .iter()
        .filter(|g| matches!(g.state, DriveState::Received | DriveState::Transferring))
        .collect();
    for drive in pending.iter().filter(|g| g.state == DriveState::Received) {
        act(
            job,
            JobAction::StartTransfer {
                drive_id: drive.drive_id.clone(),
            },
        )?;
    }
    let started_at = OffsetDateTime::now_utc();
    let source = JobObjects {
        client: job.client,
        account: job.account,
        name: job.name,
    };
    let resumed: Vec<&Given> = pending.iter().copied().filter(|g| g.journal.exists()).collect();
    let copy = if pending.is_empty() {
        None
    } else if resumed.is_empty() {
        let by_index: Vec<String> = pending.iter().map(|g| g.drive_id.clone()).collect();
        let labels = task_labels(&by_index, pending.len());
        let listed = ListedFiles {
            origin: format!("export:{}/{}", job.account, job.name),
            dst: DESTINATION.to_owned(),
            files: objects.iter().map(|o| (o.name.clone(), o.size)).collect(),
        };
        let session = seedship_drive::plan(PrepareOptions {
            session_id: SESSION.to_owned(),
            datasets: Vec::new(),
            listed: Some(listed),
            drives: pending
                .iter()
                .map(|g| DriveTarget {
                    dir: g.dir.clone(),
                    journal: g.journal.clone(),
                    format: false,
                    encrypt: true,
                    existing_key: None,
                    drive_id: Some(g.id),
                })
                .collect(),
            capacity: options.capacity,
            service_key: Some(owner),
            recovery_key: None,
            passphrase: options.passphrase.clone(),
            not_a_mount_point: options.not_a_mount_point,
            key_on_drive: true,
        })?;
        Some(with_job_progress(job, progress, labels, warn, |reporter| {
            session.run_from(&source, reporter)
        })?)
    } else {
        // The drives of the interrupted session have journals; the others were not needed.
        let mut by_index = Vec::new();
        let mut count = 0;
        for g in &resumed {
            let plan = seedship_drive::session_plan(&g.journal, &options.passphrase)?;
            let slot = usize::from(plan.drive_index).saturating_sub(1);
            if by_index.len() <= slot {
                by_index.resize(slot + 1, String::new());
            }
            by_index[slot] = g.drive_id.clone();
            count = usize::from(plan.drive_count);
        }
        // Every journal is installed before the first byte is copied: a set with one missing
        // lost it later (deleted, or its drive not given), and its drive cannot be resumed.
        let journaled = given.iter().filter(|g| g.journal.exists()).count();
        if journaled < count {
            return Err(Error::JournalsMissing {
                job: job.name.to_owned(),
                dir: options.journal_dir.clone(),
                found: journaled,
                count,
            });
        }
        let labels = task_labels(&by_index, count);
        let journals: Vec<PathBuf> = resumed.iter().map(|g| g.journal.clone()).collect();
        Some(with_job_progress(job, progress, labels, warn, |reporter| {
            seedship_drive::resume_from(&journals, &options.passphrase, &source, reporter)
        })?)
    };
    let mut drives = Vec::new();
    for g in &given {
        drives.push(finish(
            job,
            g,
            options,
            pending.iter().any(|p| p.drive_id == g.drive_id),
            started_at,
        )?);
    }
    Ok(Written {
        job: job.name.to_owned(),
        account: job.account.to_owned(),
        job_state: job_detail(job)?.summary.state,
        objects: objects.len(),
        bytes: total,
        copy,
        drives,
    })
}

/// Records that the blank drives `drive_ids` (the ids the operator labels them with, 32
/// lowercase hex digits) arrived at the data centre: each joins the job in Received.
///
/// # Errors
/// The server's refusal (not an export job, an id already received, more drives than the
/// owner announced).
pub fn receive_blank(job: &JobRef<'_>, drive_ids: &[String]) -> Result<JobDetail, Error> {
    let mut detail = job_detail(job)?;
    for drive_id in drive_ids {
        detail = act(
            job,
            JobAction::Receive {
                drive_id: drive_id.clone(),
            },
        )?;
    }
    Ok(detail)
}

/// What [`abort`] removed.
#[derive(Debug, Clone, Serialize)]
pub struct Aborted {
    /// The job.
    pub job: String,
    /// Journals removed.
    pub journals: Vec<PathBuf>,
    /// Drives whose `export` session directory and drive key file were removed.
    pub drives: Vec<PathBuf>,
}

/// Rolls an interrupted write of job `job` back so that the next [`write`] starts it again:
/// removes the session from each drive given (its `export` directory and drive key file; the
/// marker, the id the drive was received under, stays) and deletes the drives' journals in
/// `journal_dir`. `drives` as [`WriteOptions::drives`]; only drives of the job still Received
/// or Transferring are taken.
///
/// # Errors
/// As [`write`]'s checks of the drives; journals of different sessions; I/O errors.
pub fn abort(job: &JobRef<'_>, drives: &[(String, PathBuf)], journal_dir: &Path) -> Result<Aborted, Error> {
    let detail = job_detail(job)?;
    let given = check_drives(job, &detail, drives, journal_dir)?;
    if let Some(g) = given
        .iter()
        .find(|g| !matches!(g.state, DriveState::Received | DriveState::Transferring))
    {
        return Err(Error::NotWritable {
            job: job.name.to_owned(),
            drive_id: g.drive_id.clone(),
            state: g.state,
        });
    }
    let journals: Vec<PathBuf> = given
        .iter()
        .map(|g| g.journal.clone())
        .filter(|j| j.exists())
        .collect();
    if !journals.is_empty() {
        seedship_drive::abort(&journals)?;
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Write(seedship_drive::Error::Io { path, source })
    };
    for journal in &journals {
        std::fs::remove_file(journal).map_err(io(journal))?;
    }
    for g in &given {
        let session = g.dir.join(SESSION);
        match std::fs::remove_dir_all(&session) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&session)(e)),
            _ => {}
        }
        let key = g.dir.join(seedship_drive::DRIVE_KEY_NAME);
        match std::fs::remove_file(&key) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&key)(e)),
            _ => {}
        }
    }
    Ok(Aborted {
        job: job.name.to_owned(),
        journals,
        drives: given.into_iter().map(|g| g.dir).collect(),
    })
}

fn job_detail(job: &JobRef<'_>) -> Result<JobDetail, Error> {
    job.client
        .job(job.account, job.name)
        .context(|| format!("job {} of account {}", job.name, job.account))
}

fn act(job: &JobRef<'_>, action: JobAction) -> Result<JobDetail, Error> {
    let name = action.name();
    job.client
        .job_action(job.account, job.name, &action)
        .context(|| format!("{name} on job {} of account {}", job.name, job.account))
}

/// Checks each drive given against the job: one of its drives, given once, in a state the
/// writer takes or already written, and carrying no other drive's marker.
fn check_drives(
    job: &JobRef<'_>,
    detail: &JobDetail,
    drives: &[(String, PathBuf)],
    journal_dir: &Path,
) -> Result<Vec<Given>, Error> {
    let mut ids = HashSet::new();
    let mut dirs = HashSet::new();
    let mut given = Vec::new();
    for (drive_id, dir) in drives {
        if !ids.insert(drive_id.clone()) {
            return Err(Error::DriveTwice {
                what: drive_id.clone(),
            });
        }
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if !dirs.insert(canonical) {
            return Err(Error::DriveTwice {
                what: dir.display().to_string(),
            });
        }
        let drive = detail.job.drive(drive_id).ok_or_else(|| Error::UnknownDrive {
            job: job.name.to_owned(),
            drive_id: drive_id.clone(),
        })?;
        let mut id = [0; 16];
        hex::decode_to_slice(drive_id, &mut id).map_err(|_| Error::UnknownDrive {
            job: job.name.to_owned(),
            drive_id: drive_id.clone(),
        })?;
        let marked = seedship_drive::read_drive_id(dir).map_err(|source| Error::Drive {
            dir: dir.clone(),
            source,
        })?;
        if let Some(found) = marked.filter(|found| found != drive_id) {
            return Err(Error::ForeignDrive {
                dir: dir.clone(),
                drive_id: drive_id.clone(),
                found,
                job: job.name.to_owned(),
            });
        }
        match drive.state {
            DriveState::Received
            | DriveState::Transferring
            | DriveState::Completed
            | DriveState::CompletedMoreInfo
            | DriveState::ShippedBack => {}
            state => {
                return Err(Error::NotWritable {
                    job: job.name.to_owned(),
                    drive_id: drive_id.clone(),
                    state,
                });
            }
        }
        given.push(Given {
            drive_id: drive_id.clone(),
            id,
            dir: dir.clone(),
            journal: journal_path(journal_dir, job.name, drive_id),
            state: drive.state,
        });
    }
    Ok(given)
}

/// Ends a drive's part: a drive written by this run (or an earlier one that stopped before
/// this step) is verified, its transfer ended with its copy log, and its journal's
/// passphrase wrapping forgotten; a drive not needed ends its transfer blank.
fn finish(
    job: &JobRef<'_>,
    g: &Given,
    options: &WriteOptions,
    pending: bool,
    started_at: OffsetDateTime,
) -> Result<DriveWritten, Error> {
    let has_session = g.journal.exists() && seedship_drive::session_complete(&g.journal)? && pending;
    let (plan, report) = if has_session {
        let plan = seedship_drive::session_plan(&g.journal, &options.passphrase)?;
        let report = seedship_drive::verify(&g.journal, &g.dir, &Unlock::Passphrase(&options.passphrase))?;
        (Some(plan), Some(report))
    } else {
        (None, None)
    };
    let mut outcome = DriveWritten {
        drive_id: g.drive_id.clone(),
        dir: g.dir.clone(),
        state: g.state,
        status: DriveStatus::Completed,
        objects: plan.as_ref().map_or(0, |p| p.segments.len()),
        bytes: plan
            .as_ref()
            .map_or(0, |p| p.segments.iter().map(|s| s.len).sum()),
        bad_ranges: 0,
        written_now: pending,
    };
    if pending {
        let blobs = plan
            .as_ref()
            .map_or_else(Vec::new, |plan| copy_log(plan, report.as_ref()));
        outcome.bad_ranges = blobs
            .iter()
            .flat_map(|b| &b.ranges)
            .filter(|r| r.status != seedship_jobs::RangeStatus::Completed)
            .count();
        let log = DriveLog {
            job: job.name.to_owned(),
            drive_id: g.drive_id.clone(),
            status: DriveStatus::from_blobs(&blobs),
            started_at,
            finished_at: OffsetDateTime::now_utc(),
            blobs,
            device: seedship_drive::inspect_device(&g.dir).ok(),
            received_from: None,
        };
        outcome.status = log.status;
        let detail = act(
            job,
            JobAction::FinishTransfer {
                drive_id: g.drive_id.clone(),
                log: Box::new(log),
            },
        )?;
        outcome.state = detail.job.drive(&g.drive_id).map_or(g.state, |d| d.state);
    }
    // Last: while the wrapping is there, a run stopped before this point resumes.
    if g.journal.exists() {
        seedship_drive::forget_passphrase(&g.journal)?;
    }
    Ok(outcome)
}

/// The copy log of a drive's session: each object (or part of one) it holds, with the ranges
/// the verification found bad. Good ranges are not listed one by one (a drive of 8 TB holds
/// two million), unlike an import's copy log.
fn copy_log(plan: &SessionPlan, report: Option<&VerifyReport>) -> Vec<BlobLog> {
    let mut bad: HashMap<(&str, u64), Vec<RangeLog>> = HashMap::new();
    for problem in report
        .into_iter()
        .flat_map(|r| &r.sessions)
        .flat_map(|s| &s.problems)
    {
        let ranges = bad
            .entry((problem.dst.as_str(), problem.file_offset))
            .or_default();
        ranges.extend(problem.bad_ranges.iter().map(|r| RangeLog {
            offset: r.file_offset,
            length: r.len,
            checksum: String::new(),
            status: seedship_ingest::range_status_of(r.status),
        }));
        if problem.bad_ranges.is_empty() {
            // the segment as a whole does not match (its whole-file checksum)
            ranges.push(RangeLog {
                offset: problem.file_offset,
                length: problem.len,
                checksum: String::new(),
                status: seedship_jobs::RangeStatus::Corrupted,
            });
        }
    }
    plan.segments
        .iter()
        .map(|segment| {
            let ranges = bad
                .remove(&(segment.dst.as_str(), segment.offset))
                .unwrap_or_default();
            BlobLog {
                file: segment.drive_file.display().to_string(),
                requested_blob: segment.path.clone(),
                blob: segment.path.clone(),
                length: segment.len,
                status: if ranges.is_empty() {
                    BlobStatus::Completed
                } else {
                    BlobStatus::CompletedWithErrors
                },
                disposition: DispositionOutcome::Created,
                ranges,
            }
        })
        .collect()
}

/// Bytes done per drive id, written by the copy's tasks, read by the reporter thread.
type Done = Arc<Mutex<BTreeMap<String, u64>>>;

/// Runs `run` with a progress that also reports each drive's bytes to the job service, from a
/// thread of its own at most every [`PROGRESS_EVERY`] (the copy never waits on the server).
/// `labels` maps each drive's task label to its drive id. A report the server does not take
/// is a warning: the transfer's end records the real figures.
fn with_job_progress<T>(
    job: &JobRef<'_>,
    progress: &dyn Progress,
    labels: BTreeMap<String, String>,
    warn: &(dyn Fn(&str) + Sync),
    run: impl FnOnce(&dyn Progress) -> T,
) -> T {
    let done: Done = Arc::default();
    let reporter = JobProgress {
        inner: progress,
        labels,
        done: done.clone(),
    };
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut sent: BTreeMap<String, u64> = BTreeMap::new();
            loop {
                let last = !matches!(
                    stopped.recv_timeout(PROGRESS_EVERY),
                    Err(RecvTimeoutError::Timeout)
                );
                let now = done.lock().map(|d| d.clone()).unwrap_or_default();
                for (drive_id, bytes_done) in now {
                    if sent.get(&drive_id) == Some(&bytes_done) {
                        continue;
                    }
                    let action = JobAction::Progress {
                        drive_id: drive_id.clone(),
                        bytes_done,
                    };
                    if let Err(err) = job.client.job_action(job.account, job.name, &action) {
                        warn(&format!("progress of drive {drive_id} not recorded: {err}"));
                    }
                    sent.insert(drive_id, bytes_done);
                }
                if last {
                    break;
                }
            }
        });
        let out = run(&reporter);
        drop(stop);
        out
    })
}

/// The task labels of drives 1, 2... of a set of `count` (`by_index`: their ids, empty where
/// the drive is not written now) -> drive id.
fn task_labels(by_index: &[String], count: usize) -> BTreeMap<String, String> {
    let count = u8::try_from(count).unwrap_or(u8::MAX);
    by_index
        .iter()
        .enumerate()
        .filter(|(_, id)| !id.is_empty())
        .map(|(i, id)| {
            let index = u8::try_from(i + 1).unwrap_or(u8::MAX);
            (seedship_drive::drive_task(index, count), id.clone())
        })
        .collect()
}

/// Passes progress on, and keeps each drive's bytes done in [`Done`].
struct JobProgress<'a> {
    inner: &'a dyn Progress,
    labels: BTreeMap<String, String>,
    done: Done,
}

impl Progress for JobProgress<'_> {
    fn task(&self, title: &str, unit: Unit, total: Option<u64>) -> Box<dyn Task> {
        let inner = self.inner.task(title, unit, total);
        match self.labels.get(title) {
            Some(drive_id) => Box::new(DriveTask {
                inner,
                drive_id: drive_id.clone(),
                done: self.done.clone(),
            }),
            None => inner,
        }
    }
}

/// A drive's copy task that also keeps its bytes done for the job service.
struct DriveTask {
    inner: Box<dyn Task>,
    drive_id: String,
    done: Done,
}

impl DriveTask {
    fn update(&self, done: impl FnOnce(u64) -> u64) {
        if let Ok(mut map) = self.done.lock() {
            let entry = map.entry(self.drive_id.clone()).or_default();
            *entry = done(*entry);
        }
    }
}

impl Task for DriveTask {
    fn set_total(&self, total: u64) {
        self.inner.set_total(total);
    }
    fn advance(&self, delta: u64) {
        self.inner.advance(delta);
        self.update(|done| done + delta);
    }
    fn set_position(&self, done: u64) {
        self.inner.set_position(done);
        self.update(|_| done);
    }
    fn set_message(&self, message: &str) {
        self.inner.set_message(message);
    }
    fn finish(&self) {
        self.inner.finish();
    }
}
