//! `import erase`: destroying a transferred drive's contents, recorded in the custody log.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use seedship_api::JobAction;
use seedship_jobs::{DriveState, ErasureRecord};
use serde::Serialize;

use crate::error::Context as _;
use crate::job::drive_id_of;
use crate::{Error, JobRef};

/// What [`erase`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Erased {
    pub drive_id: String,
    pub dir: PathBuf,
    /// Files overwritten and removed.
    pub files: u64,
    /// The record now in the job's custody log.
    pub record: ErasureRecord,
}

/// Overwrites every file of the drive mounted at `dir` with zeros, syncs, removes it, checks
/// the drive is empty, and records the erasure (the job's wrapped key is destroyed with it).
///
/// # Errors
/// A drive that is not the job's, not transferred yet or already erased ([`Error::NotErasable`]);
/// a file that could not be overwritten or removed; the server's refusal.
pub fn erase(job: &JobRef<'_>, dir: &Path) -> Result<Erased, Error> {
    let drive_id = drive_id_of(dir)?;
    let detail = job.detail()?;
    let drive = detail
        .job
        .drive(&drive_id)
        .ok_or_else(|| job.not_a_drive_of(dir, &drive_id))?;
    if !matches!(
        drive.state,
        DriveState::Completed | DriveState::CompletedMoreInfo | DriveState::ShippedBack
    ) || drive.erasure.is_some()
    {
        return Err(Error::NotErasable {
            dir: dir.to_owned(),
            job: job.name.to_owned(),
            state: drive.state,
            erased: drive.erasure.is_some(),
        });
    }
    let mut files = 0;
    let mut bytes = 0;
    overwrite_and_remove(dir, &mut files, &mut bytes)?;
    let left = std::fs::read_dir(dir)
        .context(|| format!("drive {}", dir.display()))?
        .count();
    if left != 0 {
        return Err(Error::NotEmptyAfterErase {
            dir: dir.to_owned(),
            left,
        });
    }
    let record = ErasureRecord {
        method: "overwrite-zero-1-pass,unlink".to_owned(),
        bytes_overwritten: bytes,
        key_material_destroyed: true,
        verification: format!("{files} files overwritten and removed; drive directory empty afterwards"),
    };
    job.act(&JobAction::Erase {
        drive_id: drive_id.clone(),
        record: record.clone(),
    })?;
    Ok(Erased {
        drive_id,
        dir: dir.to_owned(),
        files,
        record,
    })
}

fn overwrite_and_remove(dir: &Path, files: &mut u64, bytes: &mut u64) -> Result<(), Error> {
    let zeros = vec![0u8; 1 << 20];
    let reading = || format!("reading {}", dir.display());
    for entry in std::fs::read_dir(dir).context(reading)? {
        let entry = entry.context(reading)?;
        let path = entry.path();
        let kind = entry.file_type().context(|| format!("{}", path.display()))?;
        if kind.is_dir() {
            overwrite_and_remove(&path, files, bytes)?;
            std::fs::remove_dir(&path).context(|| format!("removing {}", path.display()))?;
            continue;
        }
        if kind.is_file() {
            let overwriting = || format!("overwriting {}", path.display());
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .context(overwriting)?;
            let mut left = file.metadata().context(|| format!("{}", path.display()))?.len();
            *bytes += left;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                file.write_all(&zeros[..n]).context(overwriting)?;
                left -= n as u64;
            }
            file.sync_all()
                .context(|| format!("syncing {}", path.display()))?;
            *files += 1;
        }
        std::fs::remove_file(&path).context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}
