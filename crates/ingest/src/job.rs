//! The job a command works on, and the drives that belong to it.

use std::path::Path;

use seedship_api::{Client, JobAction, JobDetail};

use crate::Error;
use crate::error::Context as _;

/// An import job as seen through a client: its account and its name.
#[derive(Clone, Copy)]
pub struct JobRef<'a> {
    pub client: &'a Client,
    pub account: &'a str,
    pub name: &'a str,
}

impl JobRef<'_> {
    /// The job as the server has it now.
    pub(crate) fn detail(&self) -> Result<JobDetail, Error> {
        self.client
            .job(self.account, self.name)
            .context(|| format!("job {} of account {}", self.name, self.account))
    }

    /// Applies `action` to the job.
    pub(crate) fn act(&self, action: &JobAction) -> Result<JobDetail, Error> {
        self.client
            .job_action(self.account, self.name, action)
            .context(|| format!("job {} of account {}", self.name, self.account))
    }

    /// The error for a drive (`dir`, carrying drive id `id`) that is not one of this job's,
    /// naming the job it belongs to when the credentials can see it.
    pub(crate) fn not_a_drive_of(&self, dir: &Path, id: &str) -> Error {
        let owner = self.client.jobs().ok().and_then(|jobs| {
            jobs.into_iter()
                .find(|job| job.drives.iter().any(|drive| drive.drive_id == id))
                .map(|job| format!("{}/{}", job.account, job.name))
        });
        match owner {
            Some(owner) => Error::DriveOfAnotherJob {
                dir: dir.to_owned(),
                drive_id: id.to_owned(),
                owner,
                job: self.name.to_owned(),
            },
            None => Error::UnknownDrive {
                dir: dir.to_owned(),
                drive_id: id.to_owned(),
                job: self.name.to_owned(),
            },
        }
    }
}

/// The account of the one job named `job` that the client's credentials see.
///
/// # Errors
/// [`Error::NoSuchJob`], [`Error::AmbiguousJob`] (the caller names the account), or the
/// server's error.
pub fn find_account(client: &Client, job: &str) -> Result<String, Error> {
    let accounts: Vec<String> = client
        .jobs()
        .context(|| "listing jobs".to_owned())?
        .into_iter()
        .filter(|j| j.name == job)
        .map(|j| j.account)
        .collect();
    match <[String; 1]>::try_from(accounts) {
        Ok([account]) => Ok(account),
        Err(accounts) if accounts.is_empty() => Err(Error::NoSuchJob { job: job.to_owned() }),
        Err(accounts) => Err(Error::AmbiguousJob {
            job: job.to_owned(),
            accounts,
        }),
    }
}

/// Records that the job's drives went back to the customer (Packaging -> Completed or Closed).
///
/// # Errors
/// The server's refusal.
pub fn ship_back(job: &JobRef<'_>, tracking_number: String) -> Result<JobDetail, Error> {
    job.act(&JobAction::ShipBack { tracking_number })
}

/// Records that drive `drive_id` was not in the package (Specified -> NeverReceived), as the
/// arrival deadline would.
///
/// # Errors
/// The server's refusal (a drive that arrived, an unknown drive, a job not Shipping to
/// Transferring).
pub fn never_received(job: &JobRef<'_>, drive_id: String) -> Result<JobDetail, Error> {
    job.act(&JobAction::NeverReceived { drive_id })
}

/// The drive id a mounted drive carries.
pub(crate) fn drive_id_of(dir: &Path) -> Result<String, Error> {
    if std::fs::symlink_metadata(dir).is_err_and(|err| err.kind() == std::io::ErrorKind::NotFound) {
        return Err(Error::DriveMissing { dir: dir.to_owned() });
    }
    seedship_drive::read_drive_id(dir)
        .context(|| format!("drive {}", dir.display()))?
        .ok_or_else(|| Error::NotADrive { dir: dir.to_owned() })
}
