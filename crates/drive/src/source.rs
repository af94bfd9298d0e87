//! Where a session's files are read from: this machine's file system (`drive prepare`), or a
//! list of files that live elsewhere, read through a [`Source`] the caller provides (an export
//! job's vault objects, read from the job service at the data centre).

use crate::error::{Error, Result};
use crate::plan::mtime_ns;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Files a session copies that are not on this machine's file system: their names and sizes
/// are known up front, their bytes come from a [`Source`].
#[derive(Debug, Clone)]
pub struct ListedFiles {
    /// What the list is, recorded in the journal's plan as the source root (for messages:
    /// `export:<account>/<job>`). Must not start with `/`, so that a local resume never
    /// mistakes it for a directory.
    pub origin: String,
    /// Destination `container/prefix` every file goes under.
    pub dst: String,
    /// `(name under dst, size in bytes)`, in copy order.
    pub files: Vec<(String, u64)>,
}

/// Reads the files of a session.
pub trait Source: Sync {
    /// Opens file `rel` (relative to `root`, as the plan records them) positioned at byte
    /// `from`, after checking that it is still what the plan saw (`size` bytes; a local file
    /// also its modification time).
    ///
    /// # Errors
    /// [`Error::SourceChanged`] when the file is not what the plan saw; any error that stops
    /// reading it.
    fn open(&self, file: &PlannedFile<'_>, from: u64) -> Result<Box<dyn Read + Send + '_>>;
}

/// A planned file as a [`Source`] is asked for it.
#[derive(Debug, Clone, Copy)]
pub struct PlannedFile<'a> {
    /// The source root the plan records (a directory, or a [`ListedFiles::origin`]).
    pub root: &'a [u8],
    /// The file's path under the root.
    pub rel: &'a [u8],
    /// Its size when planned.
    pub size: u64,
    /// Its modification time when planned (0 for listed files).
    pub mtime_ns: i64,
}

impl PlannedFile<'_> {
    /// The file as messages name it.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(std::ffi::OsStr::from_bytes(self.root)).join(std::ffi::OsStr::from_bytes(self.rel))
    }
}

/// This machine's file system: `drive prepare`, `resume`, `diskprep`.
pub(crate) struct LocalFiles;

impl Source for LocalFiles {
    fn open(&self, file: &PlannedFile<'_>, from: u64) -> Result<Box<dyn Read + Send + '_>> {
        let path = file.path();
        if !file.root.starts_with(b"/") {
            // a listed session's journal given to `drive resume`: its files are not here
            return Err(Error::SourceMissing { path });
        }
        let meta = std::fs::metadata(&path).map_err(|_| Error::SourceChanged { path: path.clone() })?;
        if meta.len() != file.size || mtime_ns(&meta) != file.mtime_ns {
            return Err(Error::SourceChanged { path });
        }
        let mut opened = File::open(&path).map_err(Error::io(&path))?;
        opened.seek(SeekFrom::Start(from)).map_err(Error::io(&path))?;
        Ok(Box::new(opened))
    }
}
