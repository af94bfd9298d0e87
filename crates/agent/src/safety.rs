//! What formatting a drive would erase, checked before its first byte is erased (`drive
//! prepare --format`, `diskprep`). A drive never overlaps a protected path (a backup source,
//! the staging location, a journal, a server's data directory): nothing allows that. A drive
//! that holds files but no seedship drive marker is someone's directory: [`foreign_drives`]
//! says what it holds, for the operator to confirm.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The file a seedship server keeps in its data directory (written on its first start).
const SERVER_DATA_FILE: &str = "admin-credentials";

/// A path no drive may overlap, and what it is (named when a drive is refused).
#[derive(Debug, Clone)]
pub struct Protected {
    pub path: PathBuf,
    pub what: &'static str,
}

impl Protected {
    pub fn new(path: impl Into<PathBuf>, what: &'static str) -> Self {
        Self {
            path: path.into(),
            what,
        }
    }
}

/// A drive directory that holds files but no seedship drive marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignDrive {
    pub drive: PathBuf,
    /// The files under it, and their bytes.
    pub files: u64,
    pub bytes: u64,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io { what, path, source }
}

/// Counts the files under `dir` (symlinks are not followed); a server's data directory
/// among them is refused.
fn count(dir: &Path, contents: &mut ForeignDrive) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(io("listing", dir))? {
        let entry = entry.map_err(io("listing", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io("reading", &path))?;
        if kind.is_dir() {
            count(&path, contents)?;
            continue;
        }
        if entry.file_name() == SERVER_DATA_FILE {
            return Err(Error::ServerDataDir {
                dir: dir.to_owned(),
                file: SERVER_DATA_FILE,
            });
        }
        contents.files += 1;
        contents.bytes += entry.metadata().map_err(io("reading", &path))?.len();
    }
    Ok(())
}

/// The absolute, symlink-free form of `path`, or its absolute form if it does not exist.
fn resolved(path: &Path) -> Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(path) => Ok(path),
        Err(_) => std::path::absolute(path).map_err(io("path", path)),
    }
}

/// Refuses a drive that overlaps a protected path or lies in a server's data directory;
/// nothing allows either.
pub fn check_overlaps(drives: &[PathBuf], protected: &[Protected]) -> Result<()> {
    for drive in drives {
        let dir = resolved(drive)?;
        for guarded in protected {
            let path = resolved(&guarded.path)?;
            if dir.starts_with(&path) || path.starts_with(&dir) {
                return Err(Error::Overlap {
                    drive: drive.clone(),
                    what: guarded.what,
                    path: guarded.path.clone(),
                });
            }
        }
        if let Some(data) = dir.ancestors().find(|dir| dir.join(SERVER_DATA_FILE).is_file()) {
            return Err(Error::InServerDataDir {
                drive: drive.clone(),
                data: data.to_owned(),
            });
        }
    }
    Ok(())
}

/// The drives among `drives` that hold files but no seedship drive marker, with what they
/// hold: formatting them needs the operator's confirmation. A server's data directory inside
/// a drive is refused.
pub fn foreign_drives(drives: &[PathBuf]) -> Result<Vec<ForeignDrive>> {
    let mut foreign = Vec::new();
    for drive in drives {
        let marked = seedship_drive::read_drive_id(drive).map_err(|source| Error::Drive {
            drive: drive.clone(),
            source,
        })?;
        if marked.is_some() {
            continue;
        }
        let mut contents = ForeignDrive {
            drive: drive.clone(),
            files: 0,
            bytes: 0,
        };
        count(drive, &mut contents)?;
        if contents.files > 0 {
            foreign.push(contents);
        }
    }
    Ok(foreign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drive_may_not_overlap_a_protected_path() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let staging = tmp.path().join("staging");
        let protected = [Protected::new(&staging, "the staging location")];
        for drive in [staging.join("inside"), staging.clone(), tmp.path().to_owned()] {
            let err = check_overlaps(&[drive], &protected).expect_err("overlaps");
            assert!(err.to_string().contains("overlaps the staging location"), "{err}");
        }
        check_overlaps(&[tmp.path().join("drive")], &protected).expect("apart");
    }

    #[test]
    fn a_server_data_directory_is_never_a_drive() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join(SERVER_DATA_FILE), "").expect("write");
        let drive = tmp.path().join("objects");
        assert!(matches!(
            check_overlaps(std::slice::from_ref(&drive), &[]),
            Err(Error::InServerDataDir { .. })
        ));
        assert!(matches!(
            foreign_drives(&[tmp.path().to_owned()]),
            Err(Error::ServerDataDir { .. })
        ));
    }

    #[test]
    fn foreign_drives_say_what_they_hold() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let empty = tmp.path().join("empty");
        let used = tmp.path().join("used");
        std::fs::create_dir_all(used.join("sub")).expect("mkdir");
        std::fs::create_dir_all(&empty).expect("mkdir");
        std::fs::write(used.join("a"), "12345").expect("write");
        std::fs::write(used.join("sub/b"), "678").expect("write");
        assert_eq!(
            foreign_drives(&[empty, used.clone()]).expect("counted"),
            [ForeignDrive {
                drive: used,
                files: 2,
                bytes: 8
            }]
        );
    }
}
