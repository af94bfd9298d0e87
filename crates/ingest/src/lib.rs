//! The data centre's side of an import job, against the seedship HTTP API
//! ([`seedship_api::Client`]):
//!
//! - [`receive`] unlocks, verifies and copies shipped drives into the job's container (worker
//!   threads, small files in batches), holds back damaged files on the server until a repair,
//!   writes each drive's copy and error logs and ends its transfer; the outcome comes back as
//!   data ([`Received`]) for the caller to render;
//! - [`repair`] (the customer's side, `seedship drive repair`) re-sends the ranges a drive's
//!   error log names;
//! - [`erase`] destroys a transferred drive's contents and records the erasure;
//! - [`ship_back`] records that the drives went back to the customer.
//!
//! The drive format's vocabulary (`seedship-drive`) and the job service's (`seedship-jobs`) meet
//! here, once: [`drive_status_of`] turns a drive that could not be opened into its
//! Import/Export drive status, and a range the drive reader found bad becomes a range status of
//! the blob's error log.

mod copier;
mod erase;
mod error;
mod job;
mod receive;
mod repair;
mod status;

pub use erase::{Erased, erase};
pub use error::Error;
pub use job::{JobRef, find_account, never_received, ship_back};
pub use receive::{DriveOutcome, Received, receive};
pub use repair::{Repaired, repair};
pub use status::{drive_status_of, range_status_of};

/// Where copy and error logs go in the job's container, as the Import/Export service does.
pub const LOG_DIR: &str = seedship_jobs::LOG_FOLDER;

/// A result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
