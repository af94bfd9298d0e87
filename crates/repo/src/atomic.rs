//! Crash-safe writes for local repositories.
//!
//! rustic_backend's local backend writes each repository file in place under its final
//! name, so a crash can leave a torn index or snapshot file that breaks later reads. This
//! wrapper writes to a temporary name in the same directory, fsyncs, renames into place and
//! fsyncs the directory, as restic's own local backend does. A leftover temporary file has
//! no valid id as its name, so rustic and restic both ignore it when listing.

use rustic_core::{BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend};
use std::{
    fs,
    io::Write,
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

    /// Where rustic's local backend (and restic) keep a file of this type and id.
    fn path(&self, tpe: FileType, id: &Id) -> PathBuf {
        let hex = id.to_hex();
        match tpe {
            FileType::Config => self.root.join("config"),
            FileType::Pack => self.root.join("data").join(&hex[..2]).join(&*hex),
            _ => self.root.join(tpe.dirname()).join(&*hex),
        }
    }
}

fn write_atomically(path: &Path, content: &BytesList) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = fs::File::create(&temporary)?;
    for chunk in content.slice() {
        file.write_all(chunk)?;
    }
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    fs::File::open(dir)?.sync_all()
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
