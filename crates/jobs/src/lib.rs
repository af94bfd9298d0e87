//! The import/export job service's domain core: pure, no I/O, no async, no database.
//!
//! - [`Job`]: an import or export job with up to [`MAX_DRIVES`] drives, created from a [`JobSpec`] and
//!   moved through the Import/Export job and drive state machines ([`JobState`],
//!   [`DriveState`]) by methods that take the acting [`Actor`] and the time `now`, and refuse
//!   with a semantic [`Error`] while leaving the job unchanged.
//! - [`tick`]: the deadlines (delete unshipped jobs, drives never received, purge ended jobs)
//!   as [`Effect`]s for the server to apply; the clock is whatever `now` the caller passes.
//! - [`CustodyLog`]: every event of a job, hash-chained; [`verify_chain`] names the first
//!   broken entry.
//! - [`DriveLog`]: per-drive copy and error logs with Import/Export's drive, blob and range
//!   codes; [`place_blob`] applies the disposition (rename, no-overwrite, overwrite).
//! - [`JobSummary`]: the view model of the web page and the API.
//! - [`decode_batch`]: the body of a batch upload of small blobs ([`BatchEntry`]).
//!
//! Everything serialises with serde (timestamps as `YYYY-MM-DDTHH:MM:SS.mmmZ`).
//!
//! ```
//! use seedship_jobs::*;
//! use time::macros::datetime;
//!
//! # fn address() -> Address {
//! #     Address { recipient: "R".into(), street: vec!["1 Road".into()], city: "C".into(),
//! #               postal_code: "1".into(), country: "NL".into(), phone: "".into() }
//! # }
//! let centres = DataCentres::new(vec![DataCentre {
//!     region: "eu-west".into(), name: "Amsterdam".into(), shipping_address: address() }]);
//! let owner = Actor::owner("acme");
//! let now = datetime!(2026-11-01 10:00 UTC);
//! let spec = JobSpec {
//!     name: "first-seed".into(),
//!     job_type: JobType::Import,
//!     destination: Destination { storage_account: "acme".into(), container: "seed".into(),
//!                                prefix: "host1/".into(), disposition: Disposition::Rename },
//!     region: "eu-west".into(),
//!     contact: Contact { name: "Ann".into(), email: "ann@example.com".into(), phone: "".into() },
//!     return_shipping: ReturnShipping { carrier: "DHL".into(), account_number: "123".into(),
//!                                       address: address() },
//!     drives: vec![DriveSpec { drive_id: "0123456789abcdef0123456789abcdef".into(), wrapped_key: "k".into(),
//!                              manifest_hash: "h".into(), earlier_manifest_hashes: vec![],
//!                              bytes: 100, device: None }],
//!     export: None,
//! };
//! let mut job = Job::create(spec, &centres, |_| false, &owner, now)?;
//! let ship = ShipRequest { carrier: "DHL".into(), tracking_number: "1Z 999".into(),
//!                          ship_date: now.date(), drive_count: 1 };
//! job.ship(&ship, |_| false, &owner, now)?;
//! assert_eq!(job.state(), JobState::Shipping);
//! assert_eq!(job.shipping().map(|s| s.tracking_number.as_str()), Some("1Z999"));
//! verify_chain("acme", "first-seed", job.custody().entries(), Some(&job.custody_head()))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod actor;
mod batch;
mod canonical;
mod custody;
mod deadline;
mod device;
mod disposition;
mod error;
mod export;
mod job;
mod log;
mod name;
mod names;
mod state;
mod summary;
mod timefmt;

pub use actor::{Actor, Role};
pub use batch::{BatchEntry, BatchError, MAX_BATCH_BODY, MAX_BATCH_ENTRIES, MAX_BATCH_NAME, decode_batch};
pub use custody::{
    ChainHash, CustodyEntry, CustodyError, CustodyEvent, CustodyLog, ErasureRecord, verify_chain,
};
pub use deadline::{
    Deadline, DeadlineKind, DeadlinePolicy, Effect, WARN_BEFORE, approaching_deadline, next_deadline, tick,
};
pub use device::{DeviceInfo, MAX_DEVICE_TEXT};
pub use disposition::{Disposition, MAX_RENAME_ATTEMPTS, Placement, numbered_name, place_blob};
pub use error::Error;
pub use export::{
    Export, ExportObject, ExportSpec, MAX_EXPORT_OBJECTS, MAX_FILTER_TEXT, MAX_FILTERS, is_repository_object,
    is_snapshot_ref,
};
pub use job::{
    Address, Contact, DataCentre, DataCentres, Destination, Drive, DriveSpec, Job, JobSpec, JobType,
    JobUpdate, MAX_DRIVE_BYTES, MAX_DRIVES, MAX_SESSIONS_PER_DRIVE, ReturnShipment, ReturnShipping,
    ShipRequest, ShippingInfo, StateTime, TransferOutcome, normalise_tracking_number,
};
pub use log::{
    BlobLog, BlobStatus, DispositionOutcome, DriveLog, DriveStatus, Problem, RangeLog, RangeStatus,
};
pub use name::{JOB_NAME_MAX_LEN, JOB_NAME_MIN_LEN, JobName, JobNameError};
pub use names::{
    BlobNameError, DRIVE_ID_LEN, LOG_FOLDER, MAX_BLOB_NAME, check_blob_name, is_drive_id, is_log_name,
};
pub use state::{DriveState, JobState, UnknownState};
pub use summary::{DriveSummary, JobSummary};
