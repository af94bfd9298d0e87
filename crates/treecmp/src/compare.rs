//! Comparing two directory trees.

use std::{
    collections::BTreeMap,
    ffi::OsString,
    fs,
    io::{self, Read},
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

/// One way in which two trees differ, with the path relative to the tree roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub path: PathBuf,
    pub what: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.path, self.what)
    }
}

/// Compares the trees under `expected` and `actual` (the roots' own metadata included).
/// Compared: the set of names in every directory, entry types, file contents, symlink
/// targets, permission bits (`mode & 0o7777`) and mtimes to the nanosecond (not for
/// symlinks, whose own mtime restic does not restore). Returns every difference found.
///
/// # Errors
///
/// I/O errors while reading either tree.
pub fn compare_trees(expected: &Path, actual: &Path) -> io::Result<Vec<Difference>> {
    let mut differences = Vec::new();
    compare_entry(expected, actual, Path::new(""), &mut differences)?;
    Ok(differences)
}

fn compare_entry(
    expected: &Path,
    actual: &Path,
    relative: &Path,
    out: &mut Vec<Difference>,
) -> io::Result<()> {
    let mut differ = |what: String| {
        out.push(Difference {
            path: relative.to_owned(),
            what,
        });
    };
    let want = fs::symlink_metadata(expected)?;
    let have = match fs::symlink_metadata(actual) {
        Ok(have) => have,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            differ("missing".to_owned());
            return Ok(());
        }
        Err(err) => return Err(err),
    };
    let (want_type, have_type) = (want.file_type(), have.file_type());
    if kind(want_type) != kind(have_type) {
        differ(format!("type {} != {}", kind(want_type), kind(have_type)));
        return Ok(());
    }
    if want_type.is_symlink() {
        let (a, b) = (fs::read_link(expected)?, fs::read_link(actual)?);
        if a != b {
            differ(format!("symlink target {a:?} != {b:?}"));
        }
        return Ok(());
    }
    let (want_mode, have_mode) = (
        want.permissions().mode() & 0o7777,
        have.permissions().mode() & 0o7777,
    );
    if want_mode != have_mode {
        differ(format!("mode {want_mode:o} != {have_mode:o}"));
    }
    let (want_mtime, have_mtime) = (
        (want.mtime(), want.mtime_nsec()),
        (have.mtime(), have.mtime_nsec()),
    );
    if want_mtime != have_mtime {
        differ(format!("mtime {want_mtime:?} != {have_mtime:?}"));
    }
    if want_type.is_file() {
        if want.len() != have.len() {
            differ(format!("size {} != {}", want.len(), have.len()));
        } else if !same_content(expected, actual)? {
            differ("content differs".to_owned());
        }
    } else if want_type.is_dir() {
        let (a, b) = (children(expected)?, children(actual)?);
        for name in b.keys().filter(|name| !a.contains_key(*name)) {
            out.push(Difference {
                path: relative.join(name),
                what: "unexpected entry".to_owned(),
            });
        }
        for name in a.keys() {
            compare_entry(
                &expected.join(name),
                &actual.join(name),
                &relative.join(name),
                out,
            )?;
        }
    }
    Ok(())
}

fn kind(file_type: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_symlink() {
        "symlink"
    } else if file_type.is_dir() {
        "directory"
    } else if file_type.is_file() {
        "file"
    } else if file_type.is_fifo() {
        "fifo"
    } else if file_type.is_socket() {
        "socket"
    } else {
        "device"
    }
}

fn children(dir: &Path) -> io::Result<BTreeMap<OsString, ()>> {
    fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| (entry.file_name(), ())))
        .collect()
}

fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut a, mut b) = (fs::File::open(a)?, fs::File::open(b)?);
    let (mut buf_a, mut buf_b) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut a, &mut buf_a)?;
        let m = read_full(&mut b, &mut buf_b)?;
        if n != m || buf_a[..n] != buf_b[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(file: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
