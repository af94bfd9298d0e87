//! Files that are either whole or not there.
//!
//! Every file seedship writes in place (staging records, credentials, keys, drive markers,
//! manifests, repository files of a local repository) goes through [`PendingFile`]: the
//! contents go to a temporary file beside the target, which is fsynced, renamed over the
//! target (or, without `replace`, only where nothing is), and the directory is fsynced. A
//! crash leaves the old file or the new one, never a half-written one.
//!
//! One temporary-name scheme: `.<name>.tmp-<pid>` in the target's directory, so that a later
//! run can tell a dead writer's leftover ([`temporary_owner`], [`owner_alive`]) from a file a
//! running process is still writing. A write that fails removes its temporary file first, so
//! that a full disk gets its space back.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// What comes between a temporary file's name and its writer's process id.
pub const TEMPORARY_MARK: &str = ".tmp-";

/// The temporary files this process is writing, so that [`remove_own_temporaries`] can
/// remove them when the process ends early: a backup whose one pack write fails ends while
/// other threads are still in the middle of theirs, and exiting skips their clean-up.
static WRITING: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn writing() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    WRITING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes the temporary files this process is still writing (for a process about to end on
/// an error or a signal); returns how many it removed. A file still being written is
/// unlinked under its writer, which then fails or finishes into nothing.
pub fn remove_own_temporaries() -> usize {
    let mut removed = 0;
    for temporary in std::mem::take(&mut *writing()) {
        if std::fs::remove_file(&temporary).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Writes `contents` to `path` atomically and durably, replacing what is there (mode 0666
/// before the umask).
///
/// # Errors
///
/// The file system's error; the temporary file is removed.
pub fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write_chunks(path, [contents])
}

/// As [`write`], for contents in pieces (written in order).
///
/// # Errors
///
/// The file system's error; the temporary file is removed.
pub fn write_chunks<'a>(path: &Path, chunks: impl IntoIterator<Item = &'a [u8]>) -> std::io::Result<()> {
    PendingFile::open(path, &FileOptions::default())?.commit_chunks(chunks)
}

/// How a [`PendingFile`] is made.
#[derive(Debug, Clone, Copy)]
pub struct FileOptions {
    /// Permission bits of the new file (before the umask).
    pub mode: u32,
    /// Replace an existing file; otherwise the file is only ever created.
    pub replace: bool,
    /// Create missing directories with this mode; `None` leaves a missing directory an error.
    pub create_dirs: Option<u32>,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            mode: 0o666,
            replace: true,
            create_dirs: None,
        }
    }
}

impl FileOptions {
    /// A private file (mode 0600) in a private directory (0700 if it is created).
    pub fn private(replace: bool) -> Self {
        Self {
            mode: 0o600,
            replace,
            create_dirs: Some(0o700),
        }
    }
}

/// A file being written: its temporary file exists from [`PendingFile::open`], so that a place
/// that cannot be written is found before the contents exist (before a server issues a secret
/// that would go there); [`PendingFile::commit`] fills it and puts it in place. Dropped
/// uncommitted, it leaves nothing behind.
#[derive(Debug)]
pub struct PendingFile {
    path: PathBuf,
    temporary: PathBuf,
    file: Option<File>,
    replace: bool,
}

impl PendingFile {
    /// Makes the temporary file for `path`.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` when `path` exists and may not be replaced; the file system's error
    /// when the directory or the temporary file cannot be made.
    pub fn open(path: &Path, options: &FileOptions) -> std::io::Result<Self> {
        if !options.replace && std::fs::symlink_metadata(path).is_ok() {
            return Err(std::io::ErrorKind::AlreadyExists.into());
        }
        if let Some(mode) = options.create_dirs {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(parent(path))?;
        }
        let temporary = temporary_path(path)?;
        // One left by a dead process that had this process id: no live process owns it.
        let _ = std::fs::remove_file(&temporary);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(options.mode)
            .open(&temporary)?;
        writing().insert(temporary.clone());
        Ok(Self {
            path: path.to_owned(),
            temporary,
            file: Some(file),
            replace: options.replace,
        })
    }

    /// Where the file goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents`, fsyncs, renames into place (without `replace`: only if nothing is
    /// there by then) and fsyncs the directory.
    ///
    /// # Errors
    ///
    /// The file system's error (`AlreadyExists` if a file appeared that may not be
    /// replaced); the temporary file is removed.
    pub fn commit(self, contents: &[u8]) -> std::io::Result<()> {
        self.commit_chunks([contents])
    }

    /// As [`PendingFile::commit`], for contents in pieces.
    ///
    /// # Errors
    ///
    /// As [`PendingFile::commit`].
    pub fn commit_chunks<'a>(mut self, chunks: impl IntoIterator<Item = &'a [u8]>) -> std::io::Result<()> {
        let mut file = self.file.take().ok_or(std::io::ErrorKind::NotFound)?;
        for chunk in chunks {
            file.write_all(chunk)?;
        }
        file.sync_all()?;
        drop(file);
        if self.replace {
            std::fs::rename(&self.temporary, &self.path)?;
        } else {
            use rustix::fs::{CWD, RenameFlags, renameat_with};
            renameat_with(CWD, &self.temporary, CWD, &self.path, RenameFlags::NOREPLACE)?;
        }
        // In place: nothing left for `drop` to remove.
        writing().remove(&self.temporary);
        self.temporary = PathBuf::new();
        sync_dir(parent(&self.path))
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.temporary.as_os_str().is_empty() {
            // No half-written temporary file stays behind (a full disk gets its space back);
            // the target, if any, is untouched. The removal's own failure would hide the
            // cause the caller reports.
            let _ = std::fs::remove_file(&self.temporary);
            writing().remove(&self.temporary);
        }
    }
}

/// The temporary file of this process for `path`: `.<name>.tmp-<pid>` beside it.
///
/// # Errors
///
/// `InvalidInput` when `path` names no file.
pub fn temporary_path(path: &Path) -> std::io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    Ok(parent(path).join(format!(
        ".{}{TEMPORARY_MARK}{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// The process id of the writer of a temporary file named `.<name>.tmp-<pid>`.
pub fn temporary_owner(file_name: &str) -> Option<u32> {
    let (stem, pid) = file_name.rsplit_once(TEMPORARY_MARK)?;
    stem.strip_prefix('.').filter(|stem| !stem.is_empty())?;
    pid.parse().ok()
}

/// Whether process `pid` is running. A process id is reused eventually: a live process that is
/// not the writer only keeps a leftover until the next clean-up after it ends.
pub fn owner_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the temporary files of `path` that writers no longer running left beside it.
///
/// # Errors
///
/// The file system's error listing the directory or removing a file.
pub fn remove_dead_temporaries(path: &Path) -> std::io::Result<()> {
    let Some(name) = path.file_name().map(|name| name.to_string_lossy().into_owned()) else {
        return Ok(());
    };
    let prefix = format!(".{name}{TEMPORARY_MARK}");
    let entries = match std::fs::read_dir(parent(path)) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let dead = file_name.starts_with(&prefix)
            && temporary_owner(&file_name).is_some_and(|pid| !owner_alive(pid));
        if dead {
            match std::fs::remove_file(entry.path()) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The directory holding `path` (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Flushes a directory's entries to stable storage.
///
/// # Errors
///
/// The file system's error.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Total length of the regular files at or below `path` (symbolic links are not followed).
///
/// # Errors
///
/// The file system's error for the first entry that cannot be read.
pub fn tree_size(path: &Path) -> std::io::Result<u64> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(if meta.is_file() { meta.len() } else { 0 });
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        total += tree_size(&entry?.path())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record.toml");
        write(&path, b"one").expect("write");
        write_chunks(&path, [&b"tw"[..], &b"o"[..]]).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["record.toml"]);
    }

    #[test]
    fn a_private_file_is_0600_and_never_replaces_one_that_appeared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/secret");
        let pending = PendingFile::open(&path, &FileOptions::private(false)).expect("open");
        std::fs::write(&path, "theirs").expect("a file appears meanwhile");
        let err = pending.commit(b"mine").expect_err("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "theirs");
        std::fs::remove_file(&path).expect("rm");
        PendingFile::open(&path, &FileOptions::private(false))
            .expect("open")
            .commit(b"mine")
            .expect("commit");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(dir.path().join("sub"))
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(
            std::fs::read_dir(dir.path().join("sub")).expect("list").count(),
            1
        );
    }

    #[test]
    fn temporaries_of_dead_writers_are_told_apart_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("drive-1.jrn");
        let own = temporary_path(&path).expect("temporary");
        assert_eq!(
            temporary_owner(&own.file_name().expect("name").to_string_lossy()),
            Some(std::process::id())
        );
        assert_eq!(temporary_owner(".tmp-12"), None, "no name before the mark");
        assert_eq!(temporary_owner("x.tmp-12"), None, "not hidden");
        // No process has the largest pid the kernel can hand out plus one.
        let dead = dir.path().join(".drive-1.jrn.tmp-4194305");
        std::fs::write(&dead, b"left over").expect("write");
        std::fs::write(&own, b"mine").expect("write");
        remove_dead_temporaries(&path).expect("clean");
        assert!(!dead.exists(), "a dead writer's leftover is removed");
        assert!(own.exists(), "a live writer's file stays");
    }

    #[test]
    fn tree_size_counts_regular_files_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("a")).expect("mkdir");
        std::fs::write(dir.path().join("a/f"), [0u8; 10]).expect("write");
        std::fs::write(dir.path().join("g"), [0u8; 5]).expect("write");
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).expect("symlink");
        assert_eq!(tree_size(dir.path()).expect("size"), 15);
        assert_eq!(tree_size(&dir.path().join("g")).expect("size"), 5);
    }
}
