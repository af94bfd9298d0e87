//! Small file-system helpers: durable writes, directory syncs, free space.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` durably: a temporary file beside it, fsync, rename, fsync of the
/// directory. A crash leaves either the old file or the new one, never a half-written one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let mut file = File::create(&tmp).map_err(Error::io(&tmp))?;
    file.write_all(bytes).map_err(Error::io(&tmp))?;
    file.sync_all().map_err(Error::io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(Error::io(path))?;
    sync_dir(parent(path))
}

/// `path` with `.tmp` appended to its name.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    path.with_file_name(name)
}

/// The directory holding `path` (`.` for a bare name).
pub(crate) fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Flushes a directory's entries to stable storage.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io(dir))
}

/// Creates `dir` and any missing parents, syncing each parent whose entries changed.
pub(crate) fn create_dir_durable(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    create_dir_durable(parent(dir))?;
    match fs::create_dir(dir) {
        Ok(()) => sync_dir(parent(dir)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(dir)(e)),
    }
}

/// Bytes available to unprivileged writers on the file system holding `dir`, and its block size.
pub(crate) fn space(dir: &Path) -> Result<(u64, u64)> {
    let st = rustix::fs::statvfs(dir).map_err(|e| Error::io(dir)(e.into()))?;
    Ok((st.f_bavail.saturating_mul(st.f_frsize), st.f_frsize.max(512)))
}

/// Total length of the regular files below `dir`.
pub(crate) fn tree_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let meta = entry.metadata().map_err(Error::io(entry.path()))?;
        total += if meta.is_dir() {
            tree_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// Removes everything inside `dir`, keeping `dir` itself.
pub(crate) fn empty_dir(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(Error::io(dir))? {
        let path = entry.map_err(Error::io(dir))?.path();
        let removed = if path.is_dir() && !path.is_symlink() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(Error::io(&path))?;
    }
    sync_dir(dir)
}

/// Checks that `dir` is a directory this process can create files in, by creating and
/// removing a probe file (which really fails, even for root, on a read-only file system).
pub(crate) fn check_writable(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::DriveNotDirectory { path: dir.into() });
    }
    let probe = dir.join(format!(".seedship-probe-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|source| Error::DriveNotWritable {
            path: dir.into(),
            source,
        })
}

/// The absolute, symlink-free form of `path`, or of its parent joined with its name when
/// `path` itself does not exist yet.
pub(crate) fn resolve(path: &Path) -> Result<PathBuf> {
    match fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(_) => {
            let dir = fs::canonicalize(parent(path)).map_err(Error::io(parent(path)))?;
            Ok(dir.join(path.file_name().unwrap_or_default()))
        }
    }
}
