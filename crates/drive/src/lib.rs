//! Drive preparation for offline seeding: the WAImportExport `PrepImport` equivalent.
//!
//! A source tree is laid out over one to ten drives (mounted directories) and copied as
//! encrypted, checksummed ranges. Each drive has its own journal, a SQLite database kept off
//! the drive, which records every range once it is durable, so that [`resume`] continues a
//! crashed session where it stopped and [`abort`] rolls it back. Each drive gets a random key,
//! wrapped to the import service's X25519 key, optionally to the user's recovery key, and to
//! the preparer's passphrase; the journal holds only the wrapped forms. When a drive's share
//! is copied, its encrypted manifest is written last and its BLAKE3 recorded in the journal.
//! [`verify()`] re-reads a drive; [`ImportSet`] is the import service's reader.
//!
//! Pure format types live in [`format`](mod@format); the byte layouts are specified in `docs/design.md`.
//!
//! ```no_run
//! # fn main() -> seedship_drive::Result<()> {
//! use seedship_drive::{Dataset, DriveTarget, PrepareOptions, BlobType, Disposition};
//! let service = seedship_drive::read_recipient("service.pub".as_ref())?;
//! let opts = PrepareOptions {
//!     session_id: "first-copy".into(),
//!     datasets: vec![Dataset {
//!         base: "/srv/staging".into(),
//!         dst: "seeds/machine-1".into(),
//!         blob_type: BlobType::Block,
//!         disposition: Disposition::Rename,
//!         metadata: None,
//!         properties: None,
//!     }],
//!     drives: vec![DriveTarget {
//!         dir: "/mnt/drive1".into(),
//!         journal: "/root/drive1.jrn".into(),
//!         format: false,
//!         encrypt: true,
//!         existing_key: None,
//!         drive_id: None,
//!     }],
//!     listed: None,
//!     capacity: None,
//!     service_key: Some(service),
//!     recovery_key: None,
//!     passphrase: zeroize::Zeroizing::new(b"correct horse".to_vec()),
//!     not_a_mount_point: false,
//!     key_on_drive: false,
//! };
//! let session = seedship_drive::plan(opts)?;
//! let summary = session.run(&seedship_progress::NoProgress)?;
//! println!("wrote {} bytes", summary.counters.bytes_written);
//! # Ok(()) }
//! ```

mod check;
mod copy;
mod crypto;
mod device;
mod drive_key;
mod error;
pub mod format;
mod fsutil;
mod journal;
mod keys;
mod marker;
mod plan;
mod reader;
mod session;
mod shipping;
mod source;
mod verify;

pub use check::{RangeProblem, RangeSink, RangeStatus, SegmentCheck, SegmentStatus, WriteSink};
pub use copy::Counters;
pub use crypto::{Identity, Recipient, Unlock};
pub use device::{MAX_ATTRIBUTE, MAX_MOUNTINFO, MAX_MOUNTS, inspect_device};
pub use drive_key::{DRIVE_KEY_NAME, forget_passphrase, write_drive_key};
pub use error::{Error, Result};
pub use format::{BlobType, Disposition, MAX_DRIVES};
pub use keys::{parse_recipient, read_identity, read_recipient, write_keypair};
pub use marker::{MARKER_NAME, read_drive_id};
pub use plan::{Dataset, DriveTarget, PlanSummary, PrepareOptions, PreparedSession, drives_needed, plan};
pub use reader::{FileCheck, FileRange, FileStatus, ImportDrive, ImportFile, ImportSet, ShippedDrive};
pub use seedship_jobs::DeviceInfo;
pub use session::{
    AbortSummary, CopySummary, DriveSummary, PlannedSegment, SessionPlan, abort, drive_task, resume,
    resume_from, session_plan,
};
pub use shipping::{ShippingRecord, session_complete, shipping_record};
pub use source::{ListedFiles, PlannedFile, Source};
pub use verify::{ManifestStatus, SessionReport, VerifyReport, verify};
