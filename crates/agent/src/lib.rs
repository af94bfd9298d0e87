//! The seedship agent's offline workflow, without a terminal: the backup policy
//! (`policy.toml`, how a change is merged and checked), the staging layout of an offline
//! first backup (`<staging>/<job>/`), and the offline state machine of a policy backup, which
//! returns an [`Outcome`] (staged, waiting for the import job, cancelled, seeded, backed up)
//! for the command line to show and map to an exit code.
//!
//! The backups themselves are the caller's ([`Backups`]): it holds the repository password
//! and shows their summaries. Progress goes through [`seedship_progress::Progress`].
//!
//! Drive preparation from a staging location (`seedship diskprep`) is here too: the checks
//! that keep a drive from erasing what it must not ([`check_overlaps`], [`foreign_drives`]),
//! the copy of the staged repository onto drives ([`copy_to_drives`], whose questions an
//! [`Operator`] answers) and the import job's typed spec ([`JobDetails::job_spec`]). Once the
//! vault is seeded, [`clean_staging`] removes what the staging location no longer needs.
//!
//! Before any of it, [`plan`] (the seeding advisor) says whether offline seeding pays off,
//! how many drives it needs and how much staging space, at an uplink given or measured
//! against the agent's vault server ([`measure_uplink`]).

mod clean;
mod diskprep;
mod error;
mod format;
mod offline;
mod plan;
mod policy;
mod safety;
mod staging;

pub use clean::{Cleaned, clean_staging};
pub use diskprep::{
    CopyOptions, JobDetails, Operator, copy_to_drives, drive_specs, protected, sweep_staged, unfinished,
};
pub use error::{Error, Result};
pub use format::{Offline, Policy, SeededRecord, ShippingRecord, StagedJob};
pub use offline::{Backups, Outcome, PolicyBackup, next_step, seed_vault};
pub use plan::{
    DRIVE_WRITE_RATE, IMPORT_DAYS, MARGIN_DAYS, MAX_MEASURE_SECONDS, MEASURE_SECONDS, MIN_SAMPLE,
    Offline as OfflineSeeding, Online, Plan, PlanOptions, RateError, Recommendation, SHIPPING_DAYS, Uplink,
    UplinkMeasured, UplinkSource, Way, measure_uplink, parse_rate, plan, sample_budget,
};
pub use policy::{AgentDir, Change, PolicyChange, PolicySet, merge, set_policy};
pub use safety::{ForeignDrive, Protected, check_overlaps, foreign_drives};
pub use staging::{JobDir, pending_backup, staged_jobs};
