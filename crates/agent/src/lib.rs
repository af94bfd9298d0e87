//! The seedship agent's offline workflow, without a terminal: the backup policy
//! (`policy.toml`, how a change is merged and checked), the staging layout of an offline
//! first backup (`<staging>/<job>/`), and the offline state machine of a policy backup, which
//! returns an [`Outcome`] (staged, waiting for the import job, cancelled, seeded, backed up)
//! for the command line to show and map to an exit code.
//!
//! The backups themselves are the caller's ([`Backups`]): it holds the repository password
//! and shows their summaries. Progress goes through [`seedship_progress::Progress`].

mod durable;
mod error;
mod format;
mod offline;
mod policy;
mod staging;

pub use error::{Error, Result};
pub use format::{Offline, Policy, SeededRecord, ShippingRecord, StagedJob};
pub use offline::{Backups, Outcome, PolicyBackup, next_step, seed_vault};
pub use policy::{AgentDir, Change, PolicyChange, PolicySet, merge, set_policy};
pub use staging::{JobDir, pending_backup, staged_jobs};
