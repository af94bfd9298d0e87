//! The data centre's side of an import job: `seedship import receive` unlocks, verifies and
//! copies shipped drives into the job's container; `import erase` destroys a drive after its
//! transfer; `import ship-back` returns the drives. `seedship drive repair` (the customer's
//! side) re-sends the ranges an error log names.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use seedship_api::{
    BodyWriter, Client, ClientError, Credentials, ErrorCode, JobAction, JobDetail, UploadBody,
};
use seedship_drive::{FileStatus, ImportDrive, ImportFile, ImportSet, ShippedDrive};
use seedship_jobs::{
    BlobLog, BlobStatus, DispositionOutcome, Drive, DriveLog, DriveState, DriveStatus, ErasureRecord,
    RangeLog, RangeStatus, place_blob,
};
use seedship_progress::Unit;
use serde::Serialize;
use time::OffsetDateTime;

use crate::exit::{Coded, IMPORT_INCOMPLETE};
use crate::{Context, output};

/// Where copy and error logs go in the job's container, as the Import/Export service does.
const LOG_DIR: &str = seedship_jobs::LOG_FOLDER;
/// How often transfer progress is reported to the server.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// Files received at once (the server fsyncs each blob: more in flight overlap those waits).
const COPY_WORKERS: usize = 10;
/// Files up to this size go to the server in batches (one request for many small files).
const BATCH_FILE_MAX: u64 = 256 << 10;
/// A worker sends its batch once it holds this many bytes (well under the server's limit).
const BATCH_FLUSH_BYTES: usize = 4 << 20;

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Receive drives at the data centre: verify each and copy it into the job's container.
    Receive(ReceiveArgs),
    /// Destroy a transferred drive's contents and record the erasure in the custody log.
    Erase(EraseArgs),
    /// Record that the job's drives went back to the customer (Packaging -> Completed or Closed).
    ShipBack {
        #[command(flatten)]
        job: OperatorJob,
        /// Tracking number of the return package.
        #[arg(long)]
        tracking_number: String,
    },
}

#[derive(Debug, Args)]
pub struct OperatorJob {
    /// Operator credentials file.
    #[arg(long, env = "SEEDSHIP_CREDENTIALS", value_name = "FILE")]
    credentials: PathBuf,
    /// The import job's name.
    #[arg(long, value_name = "NAME")]
    job: String,
    /// The job's account (default: found among all jobs by name).
    #[arg(long)]
    account: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReceiveArgs {
    #[command(flatten)]
    job: OperatorJob,
    /// A mounted drive of the job; repeat for every drive in the package.
    #[arg(long = "drive", required = true, value_name = "DIR")]
    drives: Vec<PathBuf>,
    /// The import service's private key (the server's `<data-dir>/import-service.key`).
    #[arg(long, value_name = "FILE")]
    identity: PathBuf,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    #[command(flatten)]
    job: OperatorJob,
    /// The mounted drive to erase.
    #[arg(long, value_name = "DIR")]
    drive: PathBuf,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// Account owner (or operator) credentials file.
    #[arg(long, env = "SEEDSHIP_CREDENTIALS", value_name = "FILE")]
    credentials: PathBuf,
    /// The import job's name.
    #[arg(long, value_name = "NAME")]
    job: String,
    /// The job's account (default: the account of the credentials).
    #[arg(long)]
    account: Option<String>,
    /// The drive's journal (names the drive).
    #[arg(long, value_name = "FILE")]
    journal: PathBuf,
    /// The source directory the drive was prepared from.
    #[arg(long, value_name = "DIR")]
    srcdir: PathBuf,
}

impl ImportCmd {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            ImportCmd::Receive(args) => receive(&args, ctx),
            ImportCmd::Erase(args) => erase(&args, ctx),
            ImportCmd::ShipBack { job, tracking_number } => {
                let (client, account) = job.open()?;
                let detail = act(
                    &client,
                    &account,
                    &job.job,
                    &JobAction::ShipBack { tracking_number },
                )?;
                output::emit(ctx.json, &detail.summary, || {
                    format!("job {} is {:?}", job.job, detail.summary.state)
                })
            }
        }
    }
}

impl OperatorJob {
    /// The operator's client and the job's account.
    fn open(&self) -> anyhow::Result<(Client, String)> {
        let credentials = Credentials::load(&self.credentials)?;
        let client = Client::new(&credentials)
            .with_context(|| format!("credentials {}", self.credentials.display()))?;
        if let Some(account) = &self.account {
            return Ok((client, account.clone()));
        }
        let accounts: Vec<String> = client
            .jobs()?
            .into_iter()
            .filter(|job| job.name == self.job)
            .map(|job| job.account)
            .collect();
        match accounts.as_slice() {
            [account] => Ok((client, account.clone())),
            [] => bail!("no job named {} is visible to these credentials", self.job),
            _ => bail!(
                "jobs named {} exist in accounts {}; name one with --account",
                self.job,
                accounts.join(", ")
            ),
        }
    }
}

fn act(client: &Client, account: &str, job: &str, action: &JobAction) -> anyhow::Result<JobDetail> {
    client
        .job_action(account, job, action)
        .with_context(|| format!("job {job} of account {account}"))
}

/// A drive directory and the job's record of it.
struct Arrived {
    dir: PathBuf,
    drive: Drive,
}

/// The drive id a mounted drive carries.
fn drive_id_of(dir: &Path) -> anyhow::Result<String> {
    if std::fs::symlink_metadata(dir).is_err_and(|err| err.kind() == std::io::ErrorKind::NotFound) {
        bail!(
            "drive {} does not exist: check the path, and that the drive is mounted",
            dir.display()
        );
    }
    seedship_drive::read_drive_id(dir)
        .with_context(|| format!("drive {}", dir.display()))?
        .with_context(|| {
            format!(
                "drive {} carries no {} marker: not a prepared drive, or not mounted",
                dir.display(),
                seedship_drive::MARKER_NAME
            )
        })
}

/// The error for a drive (`dir`, carrying drive id `id`) that is not one of job `name`'s,
/// naming the job it belongs to when the credentials can see it.
fn not_a_drive_of(client: &Client, dir: &Path, id: &str, name: &str) -> anyhow::Error {
    let owner = client.jobs().ok().and_then(|jobs| {
        jobs.into_iter()
            .find(|job| job.drives.iter().any(|drive| drive.drive_id == id))
            .map(|job| format!("{}/{}", job.account, job.name))
    });
    match owner {
        Some(owner) => anyhow::anyhow!(
            "drive {} (id {id}) is a drive of job {owner}, not of job {name}",
            dir.display()
        ),
        None => anyhow::anyhow!(
            "drive {} (id {id}) is not a drive of job {name}, nor of any job these credentials see",
            dir.display()
        ),
    }
}

/// The Import/Export drive status for a drive that could not be opened.
fn drive_status_of(err: &seedship_drive::Error) -> DriveStatus {
    use seedship_drive::Error as E;
    match err {
        E::DriveNotDirectory { .. } => DriveStatus::DiskNotFound,
        E::DriveMismatch { .. } => DriveStatus::ManifestDriveIdMismatch,
        E::Format { path, .. } if path.as_os_str() == "<import job>" => DriveStatus::KeyInvalid,
        E::WrongKey => DriveStatus::UnlockFailed,
        E::ManifestNotFound { .. } => DriveStatus::ManifestNotFound,
        E::ManifestInvalid { .. } => DriveStatus::ManifestCorrupted,
        E::Format { .. } | E::DeclaredBeyondDrive { .. } => DriveStatus::ManifestFormatInvalid,
        E::NotRegularFile { .. } | E::FileTooLarge { .. } => DriveStatus::ReadManifestFailed,
        E::Io { .. } => DriveStatus::ReadManifestFailed,
        _ => DriveStatus::InternalError,
    }
}

/// What `import receive` reports per drive.
#[derive(Debug, Serialize)]
struct DriveOutcome {
    drive_id: String,
    dir: PathBuf,
    status: DriveStatus,
    state: DriveState,
    blobs: usize,
    blobs_failed: usize,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    copy_log: String,
    error_log: String,
}

#[derive(Debug, Serialize)]
struct ReceiveReport {
    message_type: &'static str,
    job: String,
    account: String,
    job_state: seedship_jobs::JobState,
    drives: Vec<DriveOutcome>,
}

fn receive(args: &ReceiveArgs, ctx: &Context) -> anyhow::Result<()> {
    let (client, account) = args.job.open()?;
    let name = args.job.job.as_str();
    let identity = seedship_drive::read_identity(&args.identity)
        .with_context(|| format!("import service key {}", args.identity.display()))?;
    let detail = client
        .job(&account, name)
        .with_context(|| format!("job {name} of account {account}"))?;
    let mut arrived = Vec::new();
    for dir in &args.drives {
        let id = drive_id_of(dir)?;
        let drive = detail
            .job
            .drive(&id)
            .ok_or_else(|| not_a_drive_of(&client, dir, &id, name))?;
        arrived.push(Arrived {
            dir: dir.clone(),
            drive: drive.clone(),
        });
    }
    for a in &arrived {
        let drive_id = a.drive.drive_id.clone();
        match a.drive.state {
            DriveState::Specified | DriveState::NeverReceived => {
                act(
                    &client,
                    &account,
                    name,
                    &JobAction::Receive {
                        drive_id: drive_id.clone(),
                    },
                )?;
                act(&client, &account, name, &JobAction::StartTransfer { drive_id })?;
            }
            DriveState::Received => {
                act(&client, &account, name, &JobAction::StartTransfer { drive_id })?;
            }
            // an earlier receive stopped half-way: copy again (blobs already written are recognised)
            DriveState::Transferring => {}
            state => bail!(
                "drive {} of job {name} is {state:?}: its transfer already finished",
                a.dir.display()
            ),
        }
    }
    let started_at = OffsetDateTime::now_utc();
    let mut outcomes = Vec::new();
    let mut opened = Vec::new();
    for a in &arrived {
        let shipped = ShippedDrive {
            dir: &a.dir,
            drive_id: &a.drive.drive_id,
            wrapped_key: &a.drive.wrapped_key,
            manifest_hash: &a.drive.manifest_hash,
        };
        match ImportDrive::open_shipped(&shipped, &identity) {
            Ok(drive) => opened.push(drive),
            Err(err) => {
                let log = DriveLog {
                    job: name.to_owned(),
                    drive_id: a.drive.drive_id.clone(),
                    status: drive_status_of(&err),
                    started_at,
                    finished_at: OffsetDateTime::now_utc(),
                    blobs: Vec::new(),
                };
                let mut outcome = finish_drive(&client, &account, name, &a.dir, &log)?;
                outcome.error = Some(format!("{:#}", anyhow::Error::from(err)));
                outcomes.push(outcome);
            }
        }
    }
    let set = ImportSet::join(opened);
    // Every blob the job writes lies under its destination prefix.
    let existing = client
        .list_blobs(&account, name, &detail.job.destination().prefix)
        .with_context(|| format!("listing the container of job {name}"))?;
    let copier = Copier::new(&client, &account, &detail, ctx, &set, existing);
    let mut logs: BTreeMap<String, Vec<BlobLog>> = BTreeMap::new();
    for (file, blob) in set.files().iter().zip(copier.copy_all()?) {
        logs.entry(set.home_drive(file).drive_id())
            .or_default()
            .push(blob);
    }
    copier.task.finish();
    for drive in set.drives() {
        let blobs = logs.remove(&drive.drive_id()).unwrap_or_default();
        let log = DriveLog {
            job: name.to_owned(),
            drive_id: drive.drive_id(),
            status: DriveStatus::from_blobs(&blobs),
            started_at,
            finished_at: OffsetDateTime::now_utc(),
            blobs,
        };
        outcomes.push(finish_drive(&client, &account, name, drive.dir(), &log)?);
    }
    let job_state = client.job(&account, name)?.summary.state;
    let incomplete = outcomes
        .iter()
        .filter(|o| o.state != DriveState::Completed)
        .count();
    let report = ReceiveReport {
        message_type: "import_received",
        job: name.to_owned(),
        account: account.clone(),
        job_state,
        drives: outcomes,
    };
    output::emit(ctx.json, &report, || {
        let mut lines: Vec<String> = report
            .drives
            .iter()
            .map(|o| {
                let mut line = format!(
                    "drive {} ({}): {:?}, {:?}, {} blobs ({} failed), {} bytes; logs {LOG_DIR}/{} and {LOG_DIR}/{}",
                    o.drive_id,
                    o.dir.display(),
                    o.state,
                    o.status,
                    o.blobs,
                    o.blobs_failed,
                    o.bytes,
                    o.copy_log,
                    o.error_log
                );
                if let Some(error) = &o.error {
                    line.push_str(&format!("\n  {error}"));
                }
                line
            })
            .collect();
        lines.push(format!("job {name} is {job_state:?}"));
        lines.join("\n")
    })?;
    if incomplete > 0 {
        return Err(Coded {
            code: IMPORT_INCOMPLETE,
            message: format!(
                "{incomplete} drive(s) of job {name} finished with errors; see `seedship job logs {name}`"
            ),
        }
        .into());
    }
    Ok(())
}

/// Writes a drive's copy and error logs into the container and ends its transfer.
fn finish_drive(
    client: &Client,
    account: &str,
    job: &str,
    dir: &Path,
    log: &DriveLog,
) -> anyhow::Result<DriveOutcome> {
    let error_log = log.error_log();
    for (name, content) in [
        (log.copy_log_name(), log),
        (error_log.error_log_name(), &error_log),
    ] {
        let json = content.to_json()?.into_bytes();
        client
            .put_blob(
                account,
                job,
                &format!("{LOG_DIR}/{name}"),
                std::io::Cursor::new(json),
            )
            .with_context(|| format!("writing log {LOG_DIR}/{name}"))?;
    }
    let detail = act(
        client,
        account,
        job,
        &JobAction::FinishTransfer {
            drive_id: log.drive_id.clone(),
            log: log.clone(),
        },
    )?;
    let state = detail
        .job
        .drive(&log.drive_id)
        .map_or(DriveState::CompletedMoreInfo, |d| d.state);
    Ok(DriveOutcome {
        drive_id: log.drive_id.clone(),
        dir: dir.to_owned(),
        status: log.status,
        state,
        blobs: log.blobs.len(),
        blobs_failed: log.blobs.iter().filter(|b| b.has_errors()).count(),
        bytes: log.bytes_completed(),
        error: None,
        copy_log: log.copy_log_name(),
        error_log: error_log.error_log_name(),
    })
}

/// Copies the files of a drive set into the job's container, one blob log per file.
struct Copier<'a> {
    client: &'a Client,
    account: &'a str,
    job: &'a JobDetail,
    set: &'a ImportSet,
    task: Box<dyn seedship_progress::Task>,
    /// Blob names in the container when the run started: a name not among them needs no
    /// question to the server before it is placed.
    existing: BTreeSet<String>,
    /// Blob names chosen in this run; held while a name is chosen, so that two files copied
    /// at once never pick the same one.
    placed: Mutex<BTreeSet<String>>,
    sent: Mutex<SentProgress>,
}

/// Bytes done per drive id, and when progress was last sent to the server.
struct SentProgress {
    done: BTreeMap<String, u64>,
    reported: Instant,
}

impl<'a> Copier<'a> {
    fn new(
        client: &'a Client,
        account: &'a str,
        job: &'a JobDetail,
        ctx: &Context,
        set: &'a ImportSet,
        existing: Vec<String>,
    ) -> Self {
        let total = set.files().iter().map(|f| f.size).sum();
        Self {
            client,
            account,
            job,
            set,
            task: ctx.progress.task("receiving", Unit::Bytes, Some(total)),
            existing: existing.into_iter().collect(),
            placed: Mutex::new(BTreeSet::new()),
            sent: Mutex::new(SentProgress {
                done: BTreeMap::new(),
                reported: Instant::now(),
            }),
        }
    }

    /// Copies every file of the set, [`COPY_WORKERS`] at a time (a single pipeline leaves a core
    /// idle and waits on each file's round trips and fsyncs); the logs come back in file order.
    /// The first error stops the workers from starting more files.
    fn copy_all(&self) -> anyhow::Result<Vec<BlobLog>> {
        let files = self.set.files();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let mut results: Vec<(usize, anyhow::Result<BlobLog>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..COPY_WORKERS)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        let mut batch = Batch::default();
                        while !failed.load(Ordering::Relaxed) {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            let Some(file) = files.get(index) else { break };
                            let mut result = self.copy(file, &mut batch);
                            if result.is_ok() && batch.body.len() >= BATCH_FLUSH_BYTES {
                                result = self.send_batch(&mut batch).and(result);
                            }
                            if result.is_err() {
                                failed.store(true, Ordering::Relaxed);
                            }
                            mine.push((index, result));
                        }
                        if let Err(err) = self.send_batch(&mut batch) {
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
        self.job.job.name().as_str()
    }

    /// The blob name of `file` in the container: its destination without the container,
    /// under the job's prefix. A manifest naming another container or a name that could leave
    /// the prefix (`..`, empty segments, ...) gets the blob status that refuses the file.
    fn requested_blob(&self, file: &ImportFile) -> Result<String, BlobStatus> {
        self.job
            .job
            .destination()
            .blob_for(&file.dst)
            .map_err(|err| match err {
                seedship_jobs::BlobNameError::TooLong { .. } => BlobStatus::FileNameTooLong,
                _ => BlobStatus::FileNameInvalid,
            })
    }

    fn copy(&self, file: &'a ImportFile, batch: &mut Batch<'a>) -> anyhow::Result<BlobLog> {
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
        log.requested_blob = requested.clone();
        let hash = file.hash.map(|h| seedship_drive::format::to_hex(&h));
        let placement = self.place(&requested, file, hash.as_deref())?;
        log.blob = placement.blob.clone();
        log.disposition = placement.outcome;
        // a batched file counts as done when its batch is written
        let mut batched = false;
        let check = match (placement.outcome, hash.as_deref()) {
            // already in the container from an earlier run, or kept by no-overwrite
            (_, Some(_)) if placement.already_there => None,
            (DispositionOutcome::Skipped, _) => None,
            (_, Some(hash)) if file.complete && file.size <= BATCH_FILE_MAX => {
                let check = self.add_to_batch(batch, file, &placement.blob, hash)?;
                batched = check.status == FileStatus::Ok;
                Some(check)
            }
            (_, Some(hash)) if file.complete => self.upload(file, &placement.blob, hash)?,
            _ => Some(self.hold_back(file, &requested, &placement.blob, hash.as_deref())?),
        };
        let bad: BTreeMap<u64, RangeStatus> = check
            .iter()
            .flat_map(|c| &c.segments)
            .flat_map(|s| &s.bad_ranges)
            .map(|r| {
                let status = match r.status {
                    seedship_drive::RangeStatus::Changed => RangeStatus::Corrupted,
                    seedship_drive::RangeStatus::Truncated => RangeStatus::FileUnexpectedEnd,
                    seedship_drive::RangeStatus::Missing => RangeStatus::Missing,
                };
                (r.file_offset, status)
            })
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

    /// Reads and verifies a small file; a good one joins `batch` (sent later by
    /// [`Copier::send_batch`]), a damaged one is held back at once.
    fn add_to_batch(
        &self,
        batch: &mut Batch<'a>,
        file: &'a ImportFile,
        blob: &str,
        hash: &str,
    ) -> anyhow::Result<seedship_drive::FileCheck> {
        let mut data = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        let check = self
            .set
            .read_file(file, &mut data)
            .with_context(|| format!("reading {} from the drive", file.path.display()))?;
        if check.status != FileStatus::Ok {
            let requested = self.requested_blob(file).unwrap_or_else(|_| blob.to_owned());
            return self.hold_back(file, &requested, blob, Some(hash));
        }
        let blake3 = file.hash.expect("a file with a hash");
        seedship_jobs::BatchEntry {
            name: blob,
            blake3,
            data: &data,
        }
        .encode(&mut batch.body);
        batch.files.push(file);
        Ok(check)
    }

    /// Writes the batch's blobs (if any) and counts them as done.
    fn send_batch(&self, batch: &mut Batch<'a>) -> anyhow::Result<()> {
        if batch.files.is_empty() {
            return Ok(());
        }
        let count = batch.files.len();
        self.client
            .put_blob_batch(self.account, self.name(), std::mem::take(&mut batch.body))
            .with_context(|| format!("writing a batch of {count} small blobs"))?;
        for file in batch.files.drain(..) {
            self.advance(file);
        }
        Ok(())
    }

    /// Decides the blob name; recognises a blob with the file's hash as written by an
    /// earlier, interrupted run.
    fn place(&self, requested: &str, file: &ImportFile, hash: Option<&str>) -> anyhow::Result<Placement> {
        let mut placed_here = self.placed.lock().expect("placement lock");
        let mut ours = None;
        let mut failure = None;
        let disposition = match file.disposition {
            seedship_drive::Disposition::Rename => seedship_jobs::Disposition::Rename,
            seedship_drive::Disposition::NoOverwrite => seedship_jobs::Disposition::NoOverwrite,
            seedship_drive::Disposition::Overwrite => seedship_jobs::Disposition::Overwrite,
        };
        let placed = place_blob(requested, disposition, |name| {
            if ours.is_some() || failure.is_some() || placed_here.contains(name) {
                return true;
            }
            if !self.existing.contains(name) {
                return false;
            }
            match self.client.blob_blake3(self.account, self.name(), name) {
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
            return Err(err).with_context(|| format!("checking blob {requested}"));
        }
        if let Some(blob) = ours {
            placed_here.insert(blob.clone());
            return Ok(Placement {
                blob,
                outcome: DispositionOutcome::Created,
                already_there: true,
            });
        }
        let placed = placed.with_context(|| format!("placing blob {requested}"))?;
        placed_here.insert(placed.blob.clone());
        Ok(Placement {
            blob: placed.blob,
            outcome: placed.outcome,
            already_there: false,
        })
    }

    /// Streams a complete file into its blob, which the server writes only if the bytes hash
    /// to the manifest's BLAKE3; a file that fails verification is held back instead.
    fn upload(
        &self,
        file: &ImportFile,
        blob: &str,
        hash: &str,
    ) -> anyhow::Result<Option<seedship_drive::FileCheck>> {
        // the server checks the whole-file BLAKE3 as the bytes arrive
        let (check, sent) = self.stream(
            |w| self.set.read_file_ranges(file, w),
            |body| {
                self.client
                    .put_verified_blob(self.account, self.name(), blob, body, Some(hash))
            },
        );
        let mismatch = matches!(
            &sent,
            Err(ClientError::Api {
                code: Some(ErrorCode::DigestMismatch),
                ..
            })
        );
        if let (Err(err), false) = (&sent, mismatch) {
            // the upload failed on its own; the reader then only saw the pipe close
            bail!("writing blob {blob}: {err}");
        }
        let check = check.with_context(|| format!("reading {} from the drive", file.path.display()))?;
        match sent {
            Ok(()) if check.status == FileStatus::Ok => Ok(Some(check)),
            // a bad range, or good ranges that do not make the file: read again, checking all
            Err(ClientError::Api {
                code: Some(ErrorCode::DigestMismatch),
                ..
            }) => {
                let full = self
                    .set
                    .read_file(file, &mut std::io::sink())
                    .with_context(|| format!("reading {} from the drive", file.path.display()))?;
                if full.status == FileStatus::Ok {
                    bail!(
                        "blob {blob} reached the server damaged although {} verifies on the drive; receive the drive again",
                        file.path.display()
                    );
                }
                let requested = self.requested_blob(file).unwrap_or_else(|_| blob.to_owned());
                self.hold_back(file, &requested, blob, Some(hash)).map(Some)
            }
            Ok(()) => bail!(
                "the server wrote blob {blob} although {} failed verification",
                file.path.display()
            ),
            Err(err) => Err(err).with_context(|| format!("writing blob {blob}")),
        }
    }

    /// Keeps a damaged file (bad ranges as zeros) on the server, outside the container, until
    /// `seedship drive repair` sends the ranges it lacks.
    fn hold_back(
        &self,
        file: &ImportFile,
        requested: &str,
        blob: &str,
        hash: Option<&str>,
    ) -> anyhow::Result<seedship_drive::FileCheck> {
        let Some(hash) = hash else {
            // the segment carrying the file's checksum is on a drive not given: nothing to verify a repair against
            return Ok(self.set.read_file(file, &mut std::io::sink())?);
        };
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
                    blob,
                    blake3: hash,
                    holes: &holes,
                };
                self.client
                    .put_damaged(self.account, self.name(), &held_back, body)
            },
        );
        sent.with_context(|| format!("holding back damaged file {requested}"))?;
        Ok(check?)
    }

    /// Runs `read` (a file from the drives) on a second thread into the body it hands `send`;
    /// a read error fails the request, so that no part of a file is taken for all of it.
    fn stream<T>(
        &self,
        read: impl FnOnce(&mut BodyWriter) -> seedship_drive::Result<seedship_drive::FileCheck> + Send,
        send: impl FnOnce(UploadBody) -> T,
    ) -> (seedship_drive::Result<seedship_drive::FileCheck>, T) {
        let (mut writer, body) = self.client.upload_body();
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
                if let Err(err) = self.client.job_action(self.account, self.name(), &action) {
                    eprintln!("seedship: warning: reporting progress of drive {drive_id}: {err}");
                }
            }
        }
    }
}

/// Small files verified and waiting to be written together.
#[derive(Default)]
struct Batch<'a> {
    /// The request body, as [`seedship_jobs::decode_batch`] reads it.
    body: Vec<u8>,
    files: Vec<&'a ImportFile>,
}

/// Where a file's blob goes.
struct Placement {
    blob: String,
    outcome: DispositionOutcome,
    /// The blob already holds exactly this file.
    already_there: bool,
}

#[derive(Debug, Serialize)]
struct Erased {
    message_type: &'static str,
    drive_id: String,
    dir: PathBuf,
    files: u64,
    record: ErasureRecord,
}

/// Overwrites every file of the drive with zeros, syncs, removes it, checks the drive is
/// empty, and records the erasure (the job's wrapped key is destroyed with it).
fn erase(args: &EraseArgs, ctx: &Context) -> anyhow::Result<()> {
    let (client, account) = args.job.open()?;
    let name = args.job.job.as_str();
    let dir = &args.drive;
    let drive_id = drive_id_of(dir)?;
    let detail = client.job(&account, name)?;
    let drive = detail
        .job
        .drive(&drive_id)
        .ok_or_else(|| not_a_drive_of(&client, dir, &drive_id, name))?;
    if !matches!(
        drive.state,
        DriveState::Completed | DriveState::CompletedMoreInfo | DriveState::ShippedBack
    ) || drive.erasure.is_some()
    {
        bail!(
            "drive {} of job {name} is {:?}{}: only a transferred drive is erased, once",
            dir.display(),
            drive.state,
            if drive.erasure.is_some() {
                " and already erased"
            } else {
                ""
            }
        );
    }
    let mut files = 0;
    let mut bytes = 0;
    overwrite_and_remove(dir, &mut files, &mut bytes)?;
    let left = std::fs::read_dir(dir)
        .with_context(|| format!("drive {}", dir.display()))?
        .count();
    if left != 0 {
        bail!(
            "drive {} still holds {left} entries after the erasure",
            dir.display()
        );
    }
    let record = ErasureRecord {
        method: "overwrite-zero-1-pass,unlink".to_owned(),
        bytes_overwritten: bytes,
        key_material_destroyed: true,
        verification: format!("{files} files overwritten and removed; drive directory empty afterwards"),
    };
    act(
        &client,
        &account,
        name,
        &JobAction::Erase {
            drive_id: drive_id.clone(),
            record: record.clone(),
        },
    )?;
    let report = Erased {
        message_type: "drive_erased",
        drive_id,
        dir: dir.clone(),
        files,
        record,
    };
    output::emit(ctx.json, &report, || {
        format!(
            "erased drive {} ({}): {} files, {} bytes overwritten; recorded in the custody log",
            report.drive_id,
            dir.display(),
            files,
            report.record.bytes_overwritten
        )
    })
}

fn overwrite_and_remove(dir: &Path, files: &mut u64, bytes: &mut u64) -> anyhow::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let kind = entry.file_type().with_context(|| format!("{}", path.display()))?;
        if kind.is_dir() {
            overwrite_and_remove(&path, files, bytes)?;
            std::fs::remove_dir(&path).with_context(|| format!("removing {}", path.display()))?;
            continue;
        }
        if kind.is_file() {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .with_context(|| format!("overwriting {}", path.display()))?;
            let mut left = file
                .metadata()
                .with_context(|| format!("{}", path.display()))?
                .len();
            *bytes += left;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                file.write_all(&zeros[..n])
                    .with_context(|| format!("overwriting {}", path.display()))?;
                left -= n as u64;
            }
            file.sync_all()
                .with_context(|| format!("syncing {}", path.display()))?;
            *files += 1;
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct Repaired {
    message_type: &'static str,
    job: String,
    drive_id: String,
    blobs: usize,
    ranges: usize,
    bytes_sent: u64,
    drive_state: Option<DriveState>,
    job_state: seedship_jobs::JobState,
}

/// `seedship drive repair`: for every blob the drive's error log names, reads the failed
/// ranges from the source and sends only them; the server rebuilds the blob from the file it
/// held back and writes it once the whole file matches the manifest's BLAKE3.
pub fn repair(args: &RepairArgs, ctx: &Context) -> anyhow::Result<()> {
    let credentials = Credentials::load(&args.credentials)?;
    let own = match &credentials {
        Credentials::Account { account, .. } => Some(account.clone()),
        _ => None,
    };
    let account = args
        .account
        .clone()
        .or(own)
        .context("operators name the job's account with --account")?;
    let client =
        Client::new(&credentials).with_context(|| format!("credentials {}", args.credentials.display()))?;
    let name = args.job.as_str();
    let record = seedship_drive::shipping_record(&args.journal)
        .with_context(|| format!("journal {}", args.journal.display()))?;
    let logs = client
        .job_logs(&account, name)
        .with_context(|| format!("job {name}"))?;
    let log = logs
        .into_iter()
        .find(|l| l.drive_id == record.drive_id)
        .with_context(|| {
            format!(
                "job {name} has no log for drive {} yet: receive it first",
                record.drive_id
            )
        })?;
    let broken: Vec<&BlobLog> = log.error_log.blobs.iter().filter(|b| b.has_errors()).collect();
    let total = broken
        .iter()
        .flat_map(|b| &b.ranges)
        .filter(|r| r.status != RangeStatus::Completed)
        .map(|r| r.length)
        .sum();
    let task = ctx.progress.task("repairing", Unit::Bytes, Some(total));
    let mut report = Repaired {
        message_type: "drive_repaired",
        job: name.to_owned(),
        drive_id: record.drive_id.clone(),
        blobs: 0,
        ranges: 0,
        bytes_sent: 0,
        drive_state: None,
        job_state: client.job(&account, name)?.summary.state,
    };
    for blob in broken {
        let source = args.srcdir.join(&blob.file);
        let size = std::fs::metadata(&source)
            .with_context(|| format!("source file {} of blob {}", source.display(), blob.requested_blob))?
            .len();
        if size != blob.length {
            bail!(
                "source file {} is {size} bytes, but blob {} was {} bytes when prepared: the source changed",
                source.display(),
                blob.requested_blob,
                blob.length
            );
        }
        let mut ranges: Vec<(u64, u64)> = blob
            .ranges
            .iter()
            .filter(|r| r.status != RangeStatus::Completed)
            .map(|r| (r.offset, r.length))
            .collect();
        if ranges.is_empty() {
            // the whole file failed its checksum with every range intact: send it all
            ranges.push((0, size));
        }
        ranges.sort_unstable();
        let sent: u64 = ranges.iter().map(|r| r.1).sum();
        let body = RangesReader::open(&source, ranges.clone())?;
        let detail = client
            .repair_blob(&account, name, &blob.requested_blob, &ranges, body)
            .with_context(|| format!("repairing blob {} from {}", blob.requested_blob, source.display()))?;
        task.advance(sent);
        report.blobs += 1;
        report.ranges += ranges.len();
        report.bytes_sent += sent;
        report.job_state = detail.summary.state;
        report.drive_state = detail.job.drive(&record.drive_id).map(|d| d.state);
    }
    task.finish();
    if report.drive_state.is_none() {
        report.drive_state = client
            .job(&account, name)?
            .job
            .drive(&record.drive_id)
            .map(|d| d.state);
    }
    output::emit(ctx.json, &report, || {
        format!(
            "repaired {} blob(s) of drive {}: {} range(s), {} bytes sent; drive {:?}, job {:?}",
            report.blobs,
            report.drive_id,
            report.ranges,
            report.bytes_sent,
            report.drive_state,
            report.job_state
        )
    })
}

/// Reads the given `(offset, length)` ranges of a file, one after the other.
struct RangesReader {
    file: std::fs::File,
    ranges: std::vec::IntoIter<(u64, u64)>,
    left: u64,
}

impl RangesReader {
    fn open(path: &Path, ranges: Vec<(u64, u64)>) -> anyhow::Result<Self> {
        let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Self {
            file,
            ranges: ranges.into_iter(),
            left: 0,
        })
    }
}

impl Read for RangesReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::io::{Seek, SeekFrom};
        while self.left == 0 {
            let Some((offset, length)) = self.ranges.next() else {
                return Ok(0);
            };
            self.file.seek(SeekFrom::Start(offset))?;
            self.left = length;
        }
        let want = out.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut out[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "source file ends before a range to repair",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
