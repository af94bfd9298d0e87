//! Crash-safe writes for local repositories.
//!
//! rustic_backend's local backend writes each repository file in place under its final
//! name, so a crash can leave a torn index or snapshot file that breaks later reads. This
//! wrapper writes through `seedship_durable` (a temporary name in the same directory, fsync,
//! rename into place, fsync of the directory), as restic's own local backend does. A leftover temporary file has
//! no valid id as its name, so rustic and restic both ignore it when listing; a write that
//! fails (full disk) removes its temporary file, and [`sweep_temporaries`] removes those of
//! killed writers, so that they neither fill the disk nor travel on drives.

use crate::error::{Error, Result};
use rustic_core::{BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend};
use std::{
    fs,
    path::{Path, PathBuf},
    sync::Arc,
};

/// A local repository backend whose writes are atomic.
#[derive(Debug)]
pub(crate) struct AtomicLocal {
    inner: Arc<dyn WriteBackend>,
    root: PathBuf,
}

impl AtomicLocal {
    pub(crate) fn new(inner: Arc<dyn WriteBackend>, root: PathBuf) -> Self {
        Self { inner, root }
    }

    fn path(&self, tpe: FileType, id: &Id) -> PathBuf {
        self.root.join(repo_path(tpe, id))
    }
}

/// Where restic (and rustic's local backend) keep a file of this type and id, relative to
/// the repository's root: `config`, `keys/<id>`, `data/<2 digits>/<id>`, ...
pub(crate) fn repo_path(tpe: FileType, id: &Id) -> PathBuf {
    let hex = id.to_hex();
    match tpe {
        FileType::Config => PathBuf::from("config"),
        FileType::Pack => Path::new("data").join(&hex[..2]).join(&*hex),
        _ => Path::new(tpe.dirname()).join(&*hex),
    }
}

fn write_atomically(path: &Path, content: &BytesList) -> std::io::Result<()> {
    seedship_durable::write_chunks(path, content.slice().iter().map(|chunk| &chunk[..]))
}

/// The temporary files found in a local repository by [`sweep_temporaries`].
#[derive(Debug, Default)]
pub struct Sweep {
    /// Files of writers that are gone (killed, crashed), now removed.
    pub removed: Vec<PathBuf>,
    /// Their total size in bytes.
    pub removed_bytes: u64,
    /// Files of writers still running, with their process ids; left alone.
    pub live: Vec<(PathBuf, u32)>,
}

/// Removes the temporary files that writers no longer running (killed by Ctrl-C, a crash or
/// power loss) left in the local repository at `root`; a file of a running process (this one
/// included) may still become a repository file and is left alone. A repository that does
/// not exist yet holds none.
///
/// # Errors
///
/// [`Error::Io`] when a directory cannot be listed or a file cannot be removed.
pub fn sweep_temporaries(root: &Path) -> Result<Sweep> {
    let mut sweep = Sweep::default();
    sweep_dir(root, &mut sweep, false)?;
    Ok(sweep)
}

/// As [`sweep_temporaries`], and removes this process's own temporary files too: after a
/// failed backup none of them will become a repository file, and writer threads still
/// running would leave theirs behind when the process exits.
pub(crate) fn discard_own_temporaries(root: &Path) -> Result<Sweep> {
    let mut sweep = Sweep::default();
    sweep_dir(root, &mut sweep, true)?;
    Ok(sweep)
}

fn sweep_dir(dir: &Path, sweep: &mut Sweep, own_too: bool) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io(dir)(err)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            sweep_dir(&path, sweep, own_too)?;
            continue;
        }
        let Some(pid) = seedship_durable::temporary_owner(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        let discarded = own_too && pid == std::process::id();
        if !discarded && seedship_durable::owner_alive(pid) {
            sweep.live.push((path, pid));
            continue;
        }
        let len = entry.metadata().map_err(io(&path))?.len();
        match fs::remove_file(&path) {
            Ok(()) => {
                sweep.removed_bytes += len;
                sweep.removed.push(path);
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io(&path)(err)),
        }
    }
    Ok(())
}

impl ReadBackend for AtomicLocal {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        self.inner.list_with_size(tpe)
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<bytes::Bytes> {
        self.inner.read_full(tpe, id)
    }

    fn read_partial(
        &self,
        tpe: FileType,
        id: &Id,
        cacheable: bool,
        offset: u32,
        length: u32,
    ) -> RusticResult<bytes::Bytes> {
        self.inner.read_partial(tpe, id, cacheable, offset, length)
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        self.inner.warmup_path(tpe, id)
    }
}

impl WriteBackend for AtomicLocal {
    fn create(&self) -> RusticResult<()> {
        self.inner.create()
    }

    fn write_bytes(&self, tpe: FileType, id: &Id, _cacheable: bool, content: BytesList) -> RusticResult<()> {
        let path = self.path(tpe, id);
        write_atomically(&path, &content).map_err(|err| {
            RusticError::with_source(ErrorKind::InputOutput, "Failed to write `{path}`.", err)
                .attach_context("path", path.display().to_string())
        })
    }

    fn remove(&self, tpe: FileType, id: &Id, cacheable: bool) -> RusticResult<()> {
        self.inner.remove(tpe, id, cacheable)
    }
}
