//! The backup source: rustic_core's [`LocalSource`] with two corrections.
//!
//! - rustic_core logs unreadable source entries and leaves them out of the snapshot; we need
//!   them as data (for the summary and exit code 3), so every failed walk, open or read is
//!   recorded in [`Failures`].
//! - rustic_core's walker drops the backed-up directories themselves, so their mode, owner
//!   and mtime are lost (restic keeps them); we put their entries back, read with the same
//!   mapping rustic_core uses for every other entry.

use crate::report::Unreadable;
use rustic_core::{
    LocalSource, LocalSourceSaveOptions, ReadSource, ReadSourceEntry, ReadSourceOpen, RusticResult,
};
use std::{
    io::Read,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

/// The shared list of unreadable entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Failures(Arc<Mutex<Vec<Unreadable>>>);

impl Failures {
    fn record(&self, path: Option<PathBuf>, error: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Unreadable { path, error });
    }

    /// Everything recorded so far, sorted by path.
    pub(crate) fn take(&self) -> Vec<Unreadable> {
        let mut all = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        all.sort_by(|a, b| a.path.cmp(&b.path));
        all
    }
}

type Open = <LocalSource as ReadSource>::Open;
type Entry = RusticResult<ReadSourceEntry<Open>>;

/// The local source of a backup of `paths` (canonical, in walk order), watched.
pub(crate) struct Watched {
    inner: LocalSource,
    save_options: LocalSourceSaveOptions,
    paths: Vec<PathBuf>,
    failures: Failures,
}

impl Watched {
    pub(crate) fn new(
        inner: LocalSource,
        save_options: LocalSourceSaveOptions,
        paths: &[PathBuf],
        failures: Failures,
    ) -> Self {
        Self {
            inner,
            save_options,
            paths: paths.to_vec(),
            failures,
        }
    }

    /// The entry of a backed-up directory, or `None` if `path` is no directory.
    fn root_entry(&self, path: &Path) -> Option<ReadSourceEntry<Open>> {
        let entry = ignore::WalkBuilder::new(path)
            .max_depth(Some(0))
            .follow_links(false)
            .standard_filters(false)
            .build()
            .next()?;
        let mapped = match entry {
            Ok(entry) if entry.file_type().is_some_and(|t| t.is_dir()) => {
                self.save_options.map_entry(entry).map_err(|err| err.to_string())
            }
            Ok(_) => return None,
            Err(err) => Err(err.to_string()),
        };
        mapped
            .inspect_err(|err| self.failures.record(Some(path.to_owned()), err.clone()))
            .ok()
    }
}

impl ReadSource for Watched {
    type Open = WatchedOpen<Open>;
    type Iter = WatchedIter;

    fn size(&self) -> RusticResult<Option<u64>> {
        self.inner.size()
    }

    fn entries(&self) -> Self::Iter {
        WatchedIter {
            roots: self
                .paths
                .iter()
                .map(|path| (path.clone(), self.root_entry(path)))
                .collect(),
            pending: None,
            inner: self.inner.entries(),
            failures: self.failures.clone(),
        }
    }
}

pub(crate) struct WatchedIter {
    inner: <LocalSource as ReadSource>::Iter,
    /// Backup paths in walk order with the entry still to emit for directories.
    roots: std::collections::VecDeque<(PathBuf, Option<ReadSourceEntry<Open>>)>,
    /// An entry from `inner` held back while roots before it are emitted.
    pending: Option<Entry>,
    failures: Failures,
}

impl WatchedIter {
    /// The next entry in walk order, with the backed-up directories' entries put back
    /// before their contents (or in place, for empty ones).
    fn next_entry(&mut self) -> Option<Entry> {
        let item = match self.pending.take().or_else(|| self.inner.next()) {
            Some(item) => item,
            // Roots never reached are empty directories (files were emitted by the walker).
            None => {
                return std::iter::from_fn(|| self.roots.pop_front())
                    .find_map(|(_, entry)| entry)
                    .map(Ok);
            }
        };
        let Ok(entry) = &item else {
            return Some(item);
        };
        while let Some((root, root_entry)) = self.roots.front_mut() {
            if entry.path.starts_with(&*root) {
                // `entry` is in the current root: emit the root's own entry first, once.
                if *root != entry.path
                    && let Some(root_entry) = root_entry.take()
                {
                    self.pending = Some(item);
                    return Some(Ok(root_entry));
                }
                break;
            }
            // `entry` is past the front root, which is finished.
            if let Some((_, Some(root_entry))) = self.roots.pop_front() {
                self.pending = Some(item);
                return Some(Ok(root_entry));
            }
        }
        Some(item)
    }
}

impl Iterator for WatchedIter {
    type Item = RusticResult<ReadSourceEntry<WatchedOpen<Open>>>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.next_entry()? {
            Err(err) => {
                self.failures.record(None, crate::error::one_line(&err));
                Err(err)
            }
            Ok(ReadSourceEntry { path, node, open }) => Ok(ReadSourceEntry {
                open: open.map(|inner| WatchedOpen {
                    inner,
                    path: path.clone(),
                    failures: self.failures.clone(),
                }),
                path,
                node,
            }),
        })
    }
}

pub(crate) struct WatchedOpen<O> {
    inner: O,
    path: PathBuf,
    failures: Failures,
}

impl<O: ReadSourceOpen> ReadSourceOpen for WatchedOpen<O> {
    type Reader = WatchedReader<O::Reader>;

    fn open(self) -> RusticResult<Self::Reader> {
        match self.inner.open() {
            Ok(inner) => Ok(WatchedReader {
                inner,
                path: self.path,
                failures: self.failures,
                failed: false,
            }),
            Err(err) => {
                self.failures
                    .record(Some(self.path), crate::error::one_line(&err));
                Err(err)
            }
        }
    }
}

pub(crate) struct WatchedReader<R> {
    inner: R,
    path: PathBuf,
    failures: Failures,
    failed: bool,
}

impl<R: Read> Read for WatchedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = self.inner.read(buf);
        if let Err(err) = &result
            && err.kind() != std::io::ErrorKind::Interrupted
            && !self.failed
        {
            self.failed = true;
            self.failures.record(Some(self.path.clone()), err.to_string());
        }
        result
    }
}
