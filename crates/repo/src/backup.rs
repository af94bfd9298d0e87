//! Backing up local paths.

use crate::{
    error::{Error, Result},
    exclude::Excludes,
    report::BackupSummary,
    repository::Repo,
    source::{Failures, Watched},
};
use rustic_core::{BackupOptions as RusticBackupOptions, LocalSource, ParentOptions, SnapshotOptions};
use std::path::{Path, PathBuf};

/// How to back up.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Record this host name instead of the machine's (parent detection matches on it).
    pub hostname: Option<String>,
    /// Read every file again instead of trusting unchanged metadata from the parent.
    pub no_parent: bool,
    /// What to leave out (restic's exclude patterns).
    pub excludes: Excludes,
}

/// The paths of a backup, checked and made canonical before any repository is touched.
///
/// Paths are kept absolute and canonical (symlinks resolved up to, not including, the last
/// component), sorted, without paths inside other given paths, so a later backup of the same tree from the same host finds the
/// earlier snapshot as its parent and reads only changed files.
#[derive(Debug, Clone)]
pub struct Sources(Vec<PathBuf>);

impl Sources {
    /// Checks that every path exists and makes it canonical.
    ///
    /// # Errors
    ///
    /// [`Error::SourceNotFound`] or [`Error::SourceUnreadable`] for the first bad path.
    pub fn new(paths: &[PathBuf]) -> Result<Self> {
        let mut paths = paths
            .iter()
            .map(|path| canonical(path))
            .collect::<Result<Vec<_>>>()?;
        paths.sort();
        // A path inside another one is already covered by it (sorted, a parent comes first).
        let mut kept: Vec<PathBuf> = Vec::with_capacity(paths.len());
        for path in paths {
            if !kept.iter().any(|parent| path.starts_with(parent)) {
                kept.push(path);
            }
        }
        Ok(Self(kept))
    }

    /// The canonical paths, sorted.
    pub fn paths(&self) -> &[PathBuf] {
        &self.0
    }
}

impl Repo {
    /// Backs up `sources` into a new snapshot and returns what it did. Entries that cannot
    /// be read are left out of the snapshot and listed in [`BackupSummary::unreadable`].
    ///
    /// # Errors
    ///
    /// [`Error::Engine`] when reading the index or writing to the repository fails.
    pub fn backup(&self, sources: &Sources, options: &BackupOptions) -> Result<BackupSummary> {
        let _lock = self.lock(crate::lock::LockKind::Shared)?;
        let paths = sources.paths();

        let mut snapshot = SnapshotOptions::default()
            .to_snapshot()
            .map_err(self.fail("preparing the snapshot"))?;
        if let Some(hostname) = &options.hostname {
            snapshot.hostname.clone_from(hostname);
        }
        let rustic_options =
            RusticBackupOptions::default().parent_opts(ParentOptions::default().force(options.no_parent));
        let failures = Failures::default();
        let local = LocalSource::new(
            rustic_options.ignore_save_opts,
            &options.excludes.to_rustic(),
            &rustic_options.ignore_filter_opts,
            paths,
        )
        .map_err(self.fail("reading the source"))?;
        let source = Watched::new(local, rustic_options.ignore_save_opts, paths, failures.clone());
        let first =
            crate::archive::holds_no_index(self.backend.as_ref()).map_err(self.fail("reading the index"))?;
        let settings = crate::archive::settings(self.inner.config());
        let written = match settings.filter(|_| first) {
            // Nothing to deduplicate against and no parent: seedship's own writer.
            Some(settings) => self.first_backup(&settings, &source, paths, snapshot),
            None => self
                .reopen()?
                .to_indexed_ids()
                .map_err(self.fail("reading the index"))?
                .archive(&rustic_options, &source, snapshot, paths)
                .map_err(self.fail("backup")),
        };
        let snapshot = written.inspect_err(|_| {
            if let Some(root) = &self.local_root {
                // Give the space of packs that will never be used back (a full disk).
                // A failure here must not hide the backup's own error.
                let _ = crate::atomic::discard_own_temporaries(root);
            }
        })?;
        let summary = snapshot.summary.unwrap_or_default();
        Ok(BackupSummary {
            snapshot_id: crate::report::hex(&snapshot.id),
            parent_id: snapshot.parent.map(|id| crate::report::hex(&id)),
            repository_created: false,
            files_new: summary.files_new,
            files_changed: summary.files_changed,
            files_unchanged: summary.files_unmodified,
            dirs: summary.total_dirs_processed,
            bytes_processed: summary.total_bytes_processed,
            data_added: summary.data_added,
            data_added_packed: summary.data_added_packed,
            unreadable: failures.take(),
        })
    }
}

/// The absolute, canonical form of a source path; the last component is kept as is so a
/// symlink given as a source is backed up as the symlink.
fn canonical(path: &Path) -> Result<PathBuf> {
    let io_error = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::SourceNotFound {
                path: path.to_owned(),
            }
        } else {
            Error::SourceUnreadable {
                path: path.to_owned(),
                source,
            }
        }
    };
    std::fs::symlink_metadata(path).map_err(io_error)?;
    let absolute = std::path::absolute(path).map_err(io_error)?;
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => Ok(std::fs::canonicalize(parent).map_err(io_error)?.join(name)),
        // "/" itself, or a path ending in "..": canonicalise the whole path.
        _ => std::fs::canonicalize(&absolute).map_err(io_error),
    }
}
