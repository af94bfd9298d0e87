//! Sessions: start (prepare), resume, abort.

use crate::copy::{self, Carry, Counters, DriveJob};
use crate::crypto::{self, DriveKey, Unlock};
use crate::drive_key;
use crate::error::{Error, Result};
use crate::format::{self, Plan, RANGE_SIZE, RangeCipher, Sealed, SetPosition, to_hex};
use crate::fsutil;
use crate::journal::{Holder, Journal, NewSession, SessionRow};
use crate::marker;
use crate::plan::{KeySetup, PreparedSession};
use crate::source::{LocalFiles, Source};
use seedship_jobs::DeviceInfo;
use seedship_progress::{Progress, Unit};
use std::path::PathBuf;
use std::time::Instant;

/// One drive's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DriveSummary {
    /// Position in the set (1-based).
    pub index: u8,
    /// Drives in the set.
    pub count: u8,
    /// The drive's directory.
    pub drive: PathBuf,
    /// Its journal.
    pub journal: PathBuf,
    /// Segments (data files) of the session on this drive.
    pub segments: usize,
    /// Stored bytes of the session on this drive.
    pub stored_bytes: u64,
    /// What this run wrote, skipped and discarded.
    #[serde(flatten)]
    pub counters: Counters,
    /// BLAKE3 of the manifest file, hex.
    pub manifest_hash: String,
    /// The device behind the drive when the session started, as the journal records it.
    pub device: Option<DeviceInfo>,
}

/// The result of `prepare` or `resume`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CopySummary {
    /// The session id.
    pub session_id: String,
    /// Per drive.
    pub drives: Vec<DriveSummary>,
    /// Drives given but not needed (left untouched).
    pub unused_drives: Vec<PathBuf>,
    /// Sum over drives.
    #[serde(flatten)]
    pub counters: Counters,
    /// Stored bytes of the session over all drives.
    pub stored_bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// Bytes written per second.
    pub bytes_per_second: f64,
}

struct Work {
    journal: Journal,
    seq: i64,
    drive: PathBuf,
    drive_id: [u8; 16],
    key: DriveKey,
    plan: Plan,
}

fn run_all(
    session_id: String,
    mut work: Vec<Work>,
    unused: Vec<PathBuf>,
    source: &dyn Source,
    progress: &dyn Progress,
) -> Result<CopySummary> {
    let started = Instant::now();
    let mut carry = Carry::new();
    let mut drives = Vec::new();
    let mut total = Counters::default();
    for w in &mut work {
        let pos = &w.plan.position;
        let task = progress.task(&drive_task(pos.drive_index, pos.drive_count), Unit::Bytes, None);
        let mut job = DriveJob {
            journal: &mut w.journal,
            seq: w.seq,
            drive: &w.drive,
            drive_id: w.drive_id,
            key: &w.key,
            plan: &w.plan,
            source,
        };
        let (counters, hash) = copy::copy_drive(&mut job, &mut carry, task.as_ref())?;
        total.add(&counters);
        drives.push(DriveSummary {
            index: pos.drive_index,
            count: pos.drive_count,
            drive: w.drive.clone(),
            journal: w.journal.path().to_path_buf(),
            segments: w.plan.segments.len(),
            stored_bytes: w
                .plan
                .segments
                .iter()
                .map(|s| s.stored_len(w.plan.range_size))
                .sum(),
            counters,
            manifest_hash: to_hex(&hash),
            device: w.journal.device(w.seq)?,
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(CopySummary {
        session_id,
        stored_bytes: drives.iter().map(|d| d.stored_bytes).sum(),
        drives,
        unused_drives: unused,
        counters: total,
        seconds,
        bytes_per_second: total.bytes_written as f64 / seconds.max(1e-9),
    })
}

/// One drive's session, ready to be recorded in its journal.
struct Staged {
    /// A new journal built under its temporary name, not yet installed.
    built: Option<PathBuf>,
    journal: PathBuf,
    drive: PathBuf,
    drive_id: [u8; 16],
    key: DriveKey,
    plan: Plan,
    sealed: Sealed,
    stored: u64,
    device: Option<DeviceInfo>,
}

impl Staged {
    /// The session row to record.
    fn record(&self) -> NewSession<'_> {
        NewSession {
            session_id: &self.plan.session_id,
            drive_path: &self.drive,
            set_id: self.plan.position.set_id,
            drive_index: self.plan.position.drive_index,
            drive_count: self.plan.position.drive_count,
            plan: &self.sealed,
            segment_count: self.plan.segments.len() as u64,
            stored_bytes: self.stored,
            device: self.device.as_ref(),
        }
    }
}

fn plan_aad(drive_id: &[u8; 16], session_id: &str) -> Vec<u8> {
    format::value_aad("plan", drive_id, session_id, 0)
}

impl PreparedSession {
    /// Formats the drives marked for it, records the session in every journal, then copies
    /// drive after drive. Ask for confirmation before calling this when a drive is formatted.
    ///
    /// # Errors
    /// I/O, journal and source-change errors; the journals then allow `resume` or `abort`.
    pub fn run(self, progress: &dyn Progress) -> Result<CopySummary> {
        self.run_from(&LocalFiles, progress)
    }

    /// [`run`](Self::run), reading the files through `source` (a session of
    /// [`ListedFiles`](crate::ListedFiles)).
    ///
    /// # Errors
    /// As [`run`](Self::run), and `source`'s errors.
    pub fn run_from(self, source: &dyn Source, progress: &dyn Progress) -> Result<CopySummary> {
        let set_id = crypto::random()?;
        let count = u8::try_from(self.drives.len()).map_err(|_| Error::TooManyDrives {
            count: self.drives.len(),
        })?;
        let mut staged = Vec::new();
        for (i, d) in self.drives.into_iter().enumerate() {
            if d.target.format {
                fsutil::empty_dir(&d.target.dir)?;
            }
            let drive = std::fs::canonicalize(&d.target.dir).map_err(Error::io(&d.target.dir))?;
            let (key, drive_id, wrapped) = match d.key {
                KeySetup::New => {
                    let key = DriveKey::generate()?;
                    let drive_id = match d.target.drive_id {
                        Some(id) => id,
                        None => crypto::random()?,
                    };
                    let mut wrapped = Vec::new();
                    if let Some(service) = &self.service_key {
                        wrapped.push((Holder::Service, crypto::wrap_x25519(&key, &drive_id, service)?));
                    }
                    if let Some(recovery) = &self.recovery_key {
                        wrapped.push((Holder::Recovery, crypto::wrap_x25519(&key, &drive_id, recovery)?));
                    }
                    wrapped.push((
                        Holder::Passphrase,
                        crypto::wrap_passphrase(&key, &drive_id, &self.passphrase)?,
                    ));
                    (key, drive_id, Some(wrapped))
                }
                KeySetup::Existing {
                    key,
                    drive_id,
                    wrapped,
                } => (key, drive_id, Some(wrapped)),
                KeySetup::Own { key, drive_id } => (key, drive_id, None),
            };
            let plan = Plan {
                session_id: self.session_id.clone(),
                position: SetPosition {
                    set_id,
                    drive_index: u8::try_from(i + 1).unwrap_or(u8::MAX),
                    drive_count: count,
                },
                range_cipher: RangeCipher::CURRENT,
                range_size: RANGE_SIZE,
                roots: self.roots.clone(),
                segments: d.segments,
            };
            let sealed = key.seal(&plan_aad(&drive_id, &self.session_id), &plan.encode())?;
            let mut stage = Staged {
                built: None,
                journal: d.target.journal,
                drive,
                drive_id,
                key,
                plan,
                sealed,
                stored: d.stored,
                device: d.device,
            };
            // New journals are built first for every drive and renamed into place one after
            // the other below, once every drive is marked: a crash before that leaves no
            // journal, only drives that need formatting again.
            if let Some(keys) = wrapped {
                stage.built = Some(Journal::build(&stage.journal, &drive_id, &keys, &stage.record())?);
            }
            staged.push(stage);
        }
        // Resume (and any later session) checks the marker against the journal: a journal
        // installed before its drive was marked could not be resumed.
        for stage in &staged {
            if marker::read(&stage.drive)?.is_none() {
                marker::write(&stage.drive, &stage.drive_id)?;
            }
        }
        let mut work = Vec::new();
        for stage in staged {
            let journal = match &stage.built {
                Some(tmp) => Journal::install(tmp, &stage.journal)?,
                None => {
                    let mut journal = Journal::open(&stage.journal)?;
                    journal.begin_session(&stage.record())?;
                    journal
                }
            };
            let seq = last_session(&journal)?.seq;
            if let Some(to) = self.service_key.filter(|_| self.key_on_drive) {
                drive_key::put(&journal, &stage.drive, &to)?;
            }
            work.push(Work {
                journal,
                seq,
                drive: stage.drive,
                drive_id: stage.drive_id,
                key: stage.key,
                plan: stage.plan,
            });
        }
        let unused = self.unused.into_iter().map(|t| t.dir).collect();
        run_all(self.session_id, work, unused, source, progress)
    }
}

fn last_session(journal: &Journal) -> Result<SessionRow> {
    journal
        .last_session()?
        .ok_or_else(|| Error::state(journal.path(), "the journal holds no session"))
}

/// Opens the last sessions of `journals`, which must all be the same session of one set.
fn open_set(journals: &[PathBuf]) -> Result<Vec<(Journal, SessionRow)>> {
    if journals.is_empty() {
        return Err(Error::Conflict("no journal given"));
    }
    let mut out: Vec<(Journal, SessionRow)> = Vec::new();
    for path in journals {
        let journal = Journal::open(path)?;
        let row = last_session(&journal)?;
        if let Some((_, first)) = out.first()
            && (first.session_id != row.session_id || first.set_id != row.set_id)
        {
            return Err(Error::state(
                path,
                format!(
                    "last session {} is not the session {} of the other journals",
                    row.session_id, first.session_id
                ),
            ));
        }
        out.push((journal, row));
    }
    out.sort_by_key(|(_, row)| row.drive_index);
    Ok(out)
}

/// Continues the last session of each journal exactly where it stopped. Ranges the journal
/// records are kept; bytes written after the last record are cut off and written again.
/// Drives whose session is already complete are left as they are.
///
/// # Errors
/// Wrong passphrase, journals of different sessions, a changed source file, I/O errors.
pub fn resume(journals: &[PathBuf], passphrase: &[u8], progress: &dyn Progress) -> Result<CopySummary> {
    resume_from(journals, passphrase, &LocalFiles, progress)
}

/// [`resume`], reading the files through `source` (a session of
/// [`ListedFiles`](crate::ListedFiles)).
///
/// # Errors
/// As [`resume`], and `source`'s errors.
pub fn resume_from(
    journals: &[PathBuf],
    passphrase: &[u8],
    source: &dyn Source,
    progress: &dyn Progress,
) -> Result<CopySummary> {
    let set = open_set(journals)?;
    let session_id = set.first().map(|(_, r)| r.session_id.clone()).unwrap_or_default();
    let mut work = Vec::new();
    for (journal, row) in set {
        if row.completed {
            continue;
        }
        let drive_id = journal.drive_id()?;
        marker::check(&row.drive_path, &drive_id)?;
        let wrapped: Vec<_> = journal.wrapped_keys()?.into_iter().map(|(_, w)| w).collect();
        let key = crypto::unwrap(&wrapped, &drive_id, &Unlock::Passphrase(passphrase))?;
        let plan = open_plan(&journal, &row, &drive_id, &key)?;
        work.push(Work {
            seq: row.seq,
            drive: row.drive_path.clone(),
            journal,
            drive_id,
            key,
            plan,
        });
    }
    run_all(session_id, work, Vec::new(), source, progress)
}

/// The label of the progress task copying drive `index` of `count`: what a caller watching
/// the progress of one drive (an export reporting it to its job) looks for.
pub fn drive_task(index: u8, count: u8) -> String {
    format!("drive {index} of {count}")
}

/// One segment of a session on a drive, as its plan lays it out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedSegment {
    /// The file's path under its source root (lossy UTF-8): an export's object name.
    pub path: String,
    /// Destination name.
    pub dst: String,
    /// The data file on the drive, relative to the drive.
    pub drive_file: PathBuf,
    /// Offset of the segment in the file.
    pub offset: u64,
    /// Length of the segment.
    pub len: u64,
    /// Length of the whole file.
    pub file_size: u64,
}

/// What the last session of a journal puts on its drive.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionPlan {
    /// The session id.
    pub session_id: String,
    /// The drive's position in the set (1-based).
    pub drive_index: u8,
    /// Drives in the set.
    pub drive_count: u8,
    /// Whether the session is complete on this drive.
    pub completed: bool,
    /// The segments, in copy order.
    pub segments: Vec<PlannedSegment>,
}

/// The plan of the last session of `journal` (its key unwrapped with `passphrase`).
///
/// # Errors
/// A missing journal or session, a wrong passphrase.
pub fn session_plan(journal: &std::path::Path, passphrase: &[u8]) -> Result<SessionPlan> {
    let journal = Journal::open(journal)?;
    let row = last_session(&journal)?;
    let drive_id = journal.drive_id()?;
    let wrapped: Vec<_> = journal.wrapped_keys()?.into_iter().map(|(_, w)| w).collect();
    let key = crypto::unwrap(&wrapped, &drive_id, &Unlock::Passphrase(passphrase))?;
    let plan = open_plan(&journal, &row, &drive_id, &key)?;
    let segments = plan
        .segments
        .iter()
        .map(|spec| PlannedSegment {
            path: String::from_utf8_lossy(&spec.path).into_owned(),
            dst: spec.dst.clone(),
            drive_file: copy::data_file(std::path::Path::new(""), &plan.session_id, spec.segment),
            offset: spec.offset,
            len: spec.len,
            file_size: spec.file_size,
        })
        .collect();
    Ok(SessionPlan {
        session_id: plan.session_id,
        drive_index: plan.position.drive_index,
        drive_count: plan.position.drive_count,
        completed: row.completed,
        segments,
    })
}

/// Decrypts and decodes a session's plan.
pub(crate) fn open_plan(
    journal: &Journal,
    row: &SessionRow,
    drive_id: &[u8; 16],
    key: &DriveKey,
) -> Result<Plan> {
    let plain = key
        .open(&plan_aad(drive_id, &row.session_id), &row.plan)
        .ok_or(Error::WrongKey)?;
    Plan::decode(&plain).map_err(Error::format(journal.path()))
}

/// The result of `abort`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AbortSummary {
    /// The session rolled back.
    pub session_id: String,
    /// Drives whose session directory was removed.
    pub drives: Vec<PathBuf>,
}

/// Rolls the last session of each journal back: removes `<drive>/<session>` and forgets the
/// session in the journal (which keeps the drive key for later sessions). Needs no key.
///
/// # Errors
/// Journals of different sessions, I/O errors.
pub fn abort(journals: &[PathBuf]) -> Result<AbortSummary> {
    let set = open_set(journals)?;
    let session_id = set.first().map(|(_, r)| r.session_id.clone()).unwrap_or_default();
    let mut drives = Vec::new();
    for (mut journal, row) in set {
        let dir = copy::session_dir(&row.drive_path, &row.session_id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&dir)(e)),
            _ => {}
        }
        if row.drive_path.is_dir() {
            fsutil::sync_dir(&row.drive_path)?;
        }
        journal.delete_session(row.seq)?;
        drives.push(row.drive_path);
    }
    Ok(AbortSummary { session_id, drives })
}
