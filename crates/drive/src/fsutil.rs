//! Small file-system helpers: durable writes, directory syncs, free space.

use crate::error::{Error, Result};
use rustix::fs::{FileType, Mode, OFlags};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// Writes `bytes` to `path` durably (`seedship_durable::write`): a crash leaves either the old
/// file or the new one, never a half-written one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    seedship_durable::write(path, bytes).map_err(Error::io(path))
}

/// The directory holding `path` (`.` for a bare name).
pub(crate) use seedship_durable::parent;

/// Flushes a directory's entries to stable storage.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    seedship_durable::sync_dir(dir).map_err(Error::io(dir))
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
    seedship_durable::tree_size(dir).map_err(Error::io(dir))
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

/// Opens `path`, a file below `drive`, for reading; `None` if it does not exist.
///
/// At the data centre every byte of a drive is hostile, so this is the one way drive files
/// are opened for reading: each directory below `drive` and the file itself are opened
/// without following symbolic links (a link could lead to another tenant's drive or to
/// `/dev/zero`), and only a regular file is returned. Each step is opened with `O_PATH`
/// first and its type checked, so a FIFO or device is never really opened (opening a FIFO
/// blocks, a device may act); the file is then opened `O_NONBLOCK` and checked again, which
/// catches an entry swapped in between.
///
/// # Errors
/// [`Error::NotRegularFile`] for a link, FIFO, device, socket or directory on the way or at
/// the end; [`Error::Io`] otherwise.
pub(crate) fn open_drive_file(drive: &Path, path: &Path) -> Result<Option<File>> {
    let io = |at: &Path| {
        let at = at.to_owned();
        move |e: rustix::io::Errno| Error::io(at)(e.into())
    };
    let rel = path.strip_prefix(drive).unwrap_or(path);
    let mut dir = match rustix::fs::open(
        drive,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(io(drive)(e)),
    };
    let mut at = drive.to_path_buf();
    let mut names = rel.components().peekable();
    while let Some(component) = names.next() {
        let Component::Normal(name) = component else {
            return Err(not_regular(path, "path outside the drive"));
        };
        at.push(name);
        let last = names.peek().is_none();
        let found = match rustix::fs::openat(
            &dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(io(&at)(e)),
        };
        let kind = file_type(&found).map_err(io(&at))?;
        match (kind, last) {
            (FileType::Directory, false) => dir = found,
            (FileType::RegularFile, true) => {
                let fd = rustix::fs::openat(
                    &dir,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(io(&at))?;
                return match file_type(&fd).map_err(io(&at))? {
                    FileType::RegularFile => Ok(Some(File::from(fd))),
                    other => Err(not_regular(&at, kind_name(other))),
                };
            }
            (other, _) => return Err(not_regular(&at, kind_name(other))),
        }
    }
    Err(not_regular(path, "directory"))
}

/// Reads a whole drive file of at most `limit` bytes (see [`open_drive_file`]); `None` if
/// it does not exist. The limit is checked before reading and while reading, so a file that
/// grows cannot make the reader hold more.
///
/// # Errors
/// As [`open_drive_file`], and [`Error::FileTooLarge`].
pub(crate) fn read_drive_file(drive: &Path, path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let Some(file) = open_drive_file(drive, path)? else {
        return Ok(None);
    };
    let too_large = |len| Error::FileTooLarge {
        path: path.to_owned(),
        len,
        limit,
    };
    let len = file.metadata().map_err(Error::io(path))?.len();
    if len > limit {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::io(path))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(Some(bytes))
}

fn file_type(fd: &OwnedFd) -> rustix::io::Result<FileType> {
    rustix::fs::fstat(fd).map(|st| FileType::from_raw_mode(st.st_mode))
}

fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "regular file where a directory belongs",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice | FileType::BlockDevice => "device",
        FileType::Unknown => "file of unknown type",
    }
}

fn not_regular(path: &Path, kind: &'static str) -> Error {
    Error::NotRegularFile {
        path: path.to_owned(),
        kind,
    }
}

/// Helpers for tests of hostile drives.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Makes a FIFO at `path`.
    pub(crate) fn mkfifo(path: &Path) {
        use rustix::fs::{FileType, Mode};
        rustix::fs::mknodat(rustix::fs::CWD, path, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0)
            .expect("mkfifo");
    }

    /// Runs `f` on another thread and fails the test if it does not return within 10 s
    /// (a reader that opens a FIFO waits until something writes to it).
    pub(crate) fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(Duration::from_secs(10))
            .expect("returns without blocking")
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{mkfifo, within_seconds};
    use super::*;
    use std::os::unix::fs::symlink;

    /// A drive holding `sess/data/0000/00000000.dat` with `bytes`.
    fn drive(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let drive = tmp.path().join("drive");
        let file = drive.join("sess/data/0000/00000000.dat");
        fs::create_dir_all(parent(&file)).expect("mkdir");
        fs::write(&file, bytes).expect("write");
        (tmp, drive, file)
    }

    fn refused_as(result: Result<Option<File>>, expected: &str) {
        match result {
            Err(Error::NotRegularFile { kind, .. }) => assert_eq!(kind, expected),
            other => panic!("expected a refused {expected}, got {other:?}"),
        }
    }

    #[test]
    fn a_regular_file_opens_and_a_missing_one_is_none() {
        let (_tmp, drive, file) = drive(b"data");
        let mut text = String::new();
        open_drive_file(&drive, &file)
            .expect("open")
            .expect("present")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "data");
        assert!(
            open_drive_file(&drive, &drive.join("sess/none.dat"))
                .expect("open")
                .is_none()
        );
        assert!(
            open_drive_file(&drive, &drive.join("none/x/y.dat"))
                .expect("open")
                .is_none()
        );
    }

    #[test]
    fn a_symlink_is_not_followed_at_the_end_or_on_the_way() {
        let (tmp, drive, file) = drive(b"data");
        // the same bytes, outside the drive: following the link would read them
        let outside = tmp.path().join("outside");
        fs::create_dir_all(outside.join("0000")).expect("mkdir");
        fs::copy(&file, outside.join("0000/00000000.dat")).expect("copy");
        fs::remove_file(&file).expect("rm");
        symlink(outside.join("0000/00000000.dat"), &file).expect("symlink");
        refused_as(open_drive_file(&drive, &file), "symbolic link");
        fs::remove_dir_all(drive.join("sess/data")).expect("rm");
        symlink(&outside, drive.join("sess/data")).expect("symlink");
        refused_as(open_drive_file(&drive, &file), "symbolic link");
        // to a device
        let zero = drive.join("sess/zero");
        symlink("/dev/zero", &zero).expect("symlink");
        refused_as(open_drive_file(&drive, &zero), "symbolic link");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let (_tmp, drive, file) = drive(b"");
        fs::remove_file(&file).expect("rm");
        mkfifo(&file);
        refused_as(within_seconds(move || open_drive_file(&drive, &file)), "FIFO");
    }

    #[test]
    fn a_directory_or_a_file_where_a_directory_belongs_is_refused() {
        let (_tmp, drive, file) = drive(b"data");
        refused_as(open_drive_file(&drive, parent(&file)), "directory");
        refused_as(
            open_drive_file(&drive, &file.join("x")),
            "regular file where a directory belongs",
        );
    }

    #[test]
    fn a_read_beyond_the_limit_is_refused_before_reading() {
        let (_tmp, drive, file) = drive(b"0123456789");
        assert_eq!(
            read_drive_file(&drive, &file, 10).expect("read"),
            Some(b"0123456789".to_vec())
        );
        // a sparse file of 1 TiB: refused from its length, not read
        File::options()
            .write(true)
            .open(&file)
            .and_then(|f| f.set_len(1 << 40))
            .expect("grow");
        match read_drive_file(&drive, &file, 10) {
            Err(Error::FileTooLarge { len, limit, .. }) => assert_eq!((len, limit), (1 << 40, 10)),
            other => panic!("expected FileTooLarge, got {other:?}"),
        }
    }
}
