//! `seedship drive repair` (the customer's side): re-sending the ranges a drive's error log
//! names, from the source the drive was prepared from.

use std::io::Read;
use std::path::Path;

use seedship_jobs::{BlobLog, DriveState, JobState, RangeStatus};
use seedship_progress::{Progress, Unit};
use serde::Serialize;

use crate::error::Context as _;
use crate::{Error, JobRef};

/// What [`repair`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Repaired {
    pub job: String,
    pub drive_id: String,
    /// Blobs repaired.
    pub blobs: usize,
    pub ranges: usize,
    pub bytes_sent: u64,
    /// The drive's state afterwards.
    pub drive_state: Option<DriveState>,
    pub job_state: JobState,
}

/// For every blob the error log of the drive named by `journal` names, reads the failed ranges
/// from `srcdir` and sends only them; the server rebuilds the blob from the file it held back
/// and writes it once the whole file matches the manifest's BLAKE3.
///
/// # Errors
/// A journal that cannot be read; a drive not received yet ([`Error::NoDriveLog`]); a source
/// file that changed since the drive was prepared ([`Error::SourceChanged`]); the server's
/// refusal.
pub fn repair(
    job: &JobRef<'_>,
    journal: &Path,
    srcdir: &Path,
    progress: &dyn Progress,
) -> Result<Repaired, Error> {
    let name = job.name;
    let record =
        seedship_drive::shipping_record(journal).context(|| format!("journal {}", journal.display()))?;
    let logs = job
        .client
        .job_logs(job.account, name)
        .context(|| format!("job {name}"))?;
    let log = logs
        .into_iter()
        .find(|l| l.drive_id == record.drive_id)
        .ok_or_else(|| Error::NoDriveLog {
            job: name.to_owned(),
            drive_id: record.drive_id.clone(),
        })?;
    let broken: Vec<&BlobLog> = log.error_log.blobs.iter().filter(|b| b.has_errors()).collect();
    let total = broken
        .iter()
        .flat_map(|b| &b.ranges)
        .filter(|r| r.status != RangeStatus::Completed)
        .map(|r| r.length)
        .sum();
    let task = progress.task("repairing", Unit::Bytes, Some(total));
    let mut report = Repaired {
        job: name.to_owned(),
        drive_id: record.drive_id.clone(),
        blobs: 0,
        ranges: 0,
        bytes_sent: 0,
        drive_state: None,
        job_state: job.detail()?.summary.state,
    };
    for blob in broken {
        let source = srcdir.join(&blob.file);
        let size = std::fs::metadata(&source)
            .context(|| format!("source file {} of blob {}", source.display(), blob.requested_blob))?
            .len();
        if size != blob.length {
            return Err(Error::SourceChanged {
                source_file: source,
                blob: blob.requested_blob.clone(),
                size,
                expected: blob.length,
            });
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
        // the name the server held the file back under (older logs of unrenamed files: the requested one)
        let held_back = if blob.blob.is_empty() {
            &blob.requested_blob
        } else {
            &blob.blob
        };
        let detail = job
            .client
            .repair_blob(job.account, name, held_back, &ranges, body)
            .context(|| format!("repairing blob {held_back} from {}", source.display()))?;
        task.advance(sent);
        report.blobs += 1;
        report.ranges += ranges.len();
        report.bytes_sent += sent;
        report.job_state = detail.summary.state;
        report.drive_state = detail.job.drive(&record.drive_id).map(|d| d.state);
    }
    task.finish();
    if report.drive_state.is_none() {
        report.drive_state = job.detail()?.job.drive(&record.drive_id).map(|d| d.state);
    }
    Ok(report)
}

/// Reads the given `(offset, length)` ranges of a file, one after the other.
struct RangesReader {
    file: std::fs::File,
    ranges: std::vec::IntoIter<(u64, u64)>,
    left: u64,
}

impl RangesReader {
    fn open(path: &Path, ranges: Vec<(u64, u64)>) -> Result<Self, Error> {
        let file = std::fs::File::open(path).context(|| format!("opening {}", path.display()))?;
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
