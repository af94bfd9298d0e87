//! Restic-format repositories for seedship.
//!
//! This crate is the only place in seedship that knows about `rustic_core`: everything else
//! talks to a [`Repo`] through the small interface below and gets plain, serialisable results
//! back ([`BackupSummary`], [`SnapshotInfo`], [`RestoreSummary`], [`CheckReport`]).
//!
//! Repositories are written in restic's format, version 2 (zstd compression), with restic's
//! rabin chunker, so Debian's `restic` reads them. A repository's identity (its id, keys and
//! chunker polynomial) lives in its own files: copied or moved anywhere, it stays the same
//! repository and later backups stay incremental against it.
//!
//! Locations are a local directory or `rest:http(s)://...` (restic's REST protocol).
//! [`copy_missing_files`] brings an earlier copy of a repository (a seeded vault) up to date
//! byte for byte, without a password.
//!
//! ```no_run
//! use seedship_repo::{BackupOptions, Repo, RepoConfig, Sources};
//! use std::sync::Arc;
//!
//! let config = RepoConfig::new("/srv/staging/repo", "correct horse".to_owned());
//! let progress = Arc::new(seedship_progress::NoProgress);
//! let sources = Sources::new(&["/home".into()])?;
//! let (repo, _created) = Repo::open_or_init(&config, progress.clone())?;
//! let summary = repo.backup(&sources, &BackupOptions::default())?;
//! println!("snapshot {}", summary.snapshot_id);
//! # Ok::<(), seedship_repo::Error>(())
//! ```
//!
//! The API is synchronous and runs its own worker threads; call it from async code through
//! `tokio::task::spawn_blocking`.

mod archive;
mod atomic;
mod backup;
mod check;
mod chunker;
mod copy;
mod crypto;
mod drives;
mod dump;
mod error;
mod estimate;
mod exclude;
mod export;
mod forget;
mod lock;
mod pack;
mod progress;
mod report;
mod repository;
mod restore;
mod snapshots;
mod source;
mod unpack;

pub use crate::{
    atomic::{Sweep, sweep_temporaries},
    backup::{BackupOptions, Sources},
    copy::{CopiedFiles, copy_missing_files},
    drives::{DriveCopy, Drives},
    error::{Error, Result},
    estimate::{Sample, Scan, Stored, extrapolate, sample, scan},
    exclude::{Excludes, Includes},
    export::{Covering, ExportSelection, RepoFile, SnapshotFilter, covering_index_files, select_snapshots},
    forget::{Retention, parse_duration},
    lock::release_held_locks,
    report::{
        BackupSummary, CheckReport, DamagedOnDrive, ForgetDecision, ForgetGroup, ForgetReport, PruneReport,
        RestoreSummary, SnapshotInfo, Unreadable,
    },
    repository::{Repo, RepoConfig, redact_passwords},
    unpack::BlobFault,
};
