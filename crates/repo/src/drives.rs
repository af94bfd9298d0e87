//! A repository read straight from drives (docs/design.md, "Restoring from drives").
//!
//! A drive set that carries a restic repository (an export of a vault, or `drive prepare` of a
//! repository directory with `--key-on-drive`) is opened with the owner's private key
//! (`seedship_drive::ImportSet::open_with_drive_keys`); the destination names of its files,
//! `<container/prefix>/config`, `.../keys/<id>`, `.../data/<2 digits>/<id>` and so on, are
//! mapped back to restic's layout by taking away the prefix the `config` file has. Every read
//! goes through the drive set's verified reads: each 4 MiB range it touches is checked against
//! the manifest's checksum and authenticated before a byte of it is used.
//!
//! The repository is served to rustic_core as a read-only backend ([`DriveBackend`]), and
//! the restore reads data packs through [`Drives::read`] itself, so that a damaged range is a
//! typed [`seedship_drive::Error::Damaged`] it can name and step over.

use crate::atomic::repo_path;
use crate::error::{Error, Result};
use crate::report::DamagedOnDrive;
use rustic_core::{BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend};
use seedship_drive::{Identity, ImportFile, ImportSet};
use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

/// The restic repository a drive set carries.
pub struct Drives {
    set: ImportSet,
    /// Index into `set.files()` of each repository file, by its type's directory and id.
    files: HashMap<(&'static str, Id), usize>,
    location: String,
    /// The repository's place in the destination names (`container/prefix/`).
    prefix: String,
    /// Damage met by reads through the backend (index, snapshots, trees), first one first:
    /// rustic_core's errors do not carry it as a type.
    damage: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Drives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drives")
            .field("location", &self.location)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

/// What [`Drives::copy_to`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DriveCopy {
    /// The directory copied into.
    pub target: PathBuf,
    /// Repository files copied, each verified whole.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files not copied because ranges of them are damaged on the drives.
    pub damaged: Vec<DamagedOnDrive>,
}

/// The repository file of a destination name relative to the repository's root, when it is
/// one of restic's (`config`, `keys/<id>`, `snapshots/<id>`, `index/<id>`,
/// `data/<first 2 digits>/<id>`, ids in lowercase hex); `None` for any other name (a lock,
/// a writer's temporary file), which a restore does not read.
fn repository_file(relative: &str) -> Option<(FileType, Id)> {
    let parts: Vec<&str> = relative.split('/').collect();
    let (tpe, hex) = match parts.as_slice() {
        ["config"] => return Some((FileType::Config, Id::default())),
        ["keys", hex] => (FileType::Key, *hex),
        ["snapshots", hex] => (FileType::Snapshot, *hex),
        ["index", hex] => (FileType::Index, *hex),
        ["data", _, hex] => (FileType::Pack, *hex),
        _ => return None,
    };
    let id: Id = hex.parse().ok()?;
    // exactly restic's name of that id (lowercase, the right subdirectory)
    (repo_path(tpe, &id) == Path::new(relative)).then_some((tpe, id))
}

impl Drives {
    /// Opens the drive set `dirs` with the owner's `identity` and finds the restic repository
    /// on it.
    ///
    /// # Errors
    /// [`Error::Drive`] when the drives do not open as one set (see
    /// `seedship_drive::ImportSet::open_with_drive_keys`); [`Error::NotARepositoryOnDrives`]
    /// when they hold no `config`, several, or files outside the `config`'s prefix.
    pub fn open(dirs: &[PathBuf], identity: &Identity) -> Result<Self> {
        let set = ImportSet::open_with_drive_keys(dirs, identity)?;
        let location = format!(
            "drives:{}",
            dirs.iter()
                .map(|dir| dir.display().to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        let not_a_repository = |reason: String| Error::NotARepositoryOnDrives {
            location: location.clone(),
            reason,
        };
        let configs: Vec<&str> = set
            .files()
            .iter()
            .filter_map(|file| {
                let prefix = file.dst.strip_suffix("config")?;
                (prefix.is_empty() || prefix.ends_with('/')).then_some(prefix)
            })
            .collect();
        let prefix = match configs.as_slice() {
            [prefix] => prefix.to_string(),
            [] => return Err(not_a_repository("no file is a repository's config".to_owned())),
            several => {
                return Err(not_a_repository(format!(
                    "several files are a repository's config: {}",
                    several
                        .iter()
                        .map(|prefix| format!("{prefix}config"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let mut files = HashMap::new();
        for (index, file) in set.files().iter().enumerate() {
            let relative = file.dst.strip_prefix(&prefix).ok_or_else(|| {
                not_a_repository(format!(
                    "{} lies outside the repository {prefix} (the config's place)",
                    file.dst
                ))
            })?;
            if let Some((tpe, id)) = repository_file(relative) {
                files.insert((tpe.dirname(), id), index);
            }
        }
        Ok(Self {
            set,
            files,
            location,
            prefix,
            damage: Mutex::default(),
        })
    }

    /// `drives:<dir>,<dir>...`, as errors and summaries show it.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn file(&self, tpe: FileType, id: &Id) -> std::result::Result<&ImportFile, std::io::Error> {
        self.files
            .get(&(tpe.dirname(), *id))
            .map(|&index| &self.set.files()[index])
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{} is not on the drives", repo_path(tpe, id).display()),
                )
            })
    }

    /// Reads `len` bytes at `offset` of a repository file, every range verified.
    ///
    /// # Errors
    /// `seedship_drive::Error::Damaged` for a range that does not verify; the drive set's
    /// other errors; an I/O error of kind `NotFound` (as [`seedship_drive::Error::Io`]) for a
    /// file the drives do not hold.
    pub(crate) fn read(
        &self,
        tpe: FileType,
        id: &Id,
        offset: u64,
        len: u64,
    ) -> seedship_drive::Result<Vec<u8>> {
        let file = self.file(tpe, id).map_err(|source| seedship_drive::Error::Io {
            path: repo_path(tpe, id),
            source,
        })?;
        self.set.read_at(file, offset, len)
    }

    /// Copies `file` (repository file `relative`) into `temporary`, one verified range at a
    /// time, checking the whole-file BLAKE3 too; stops at the first range that does not
    /// verify and answers its damage.
    fn copy_file(
        &self,
        file: &ImportFile,
        relative: &Path,
        temporary: &Path,
    ) -> Result<Option<DamagedOnDrive>> {
        let io = |source| Error::Io {
            path: temporary.to_owned(),
            source,
        };
        let mut out = std::fs::File::create(temporary).map_err(io)?;
        let mut hasher = blake3::Hasher::new();
        let step = u64::from(seedship_drive::format::RANGE_SIZE);
        let mut offset = 0;
        while offset < file.size {
            let len = step.min(file.size - offset);
            match self.set.read_at(file, offset, len) {
                Ok(bytes) => {
                    hasher.update(&bytes);
                    out.write_all(&bytes).map_err(io)?;
                }
                Err(err) => {
                    return DamagedOnDrive::of_error(relative, &err)
                        .map(Some)
                        .ok_or_else(|| err.into());
                }
            }
            offset += len;
        }
        if file.hash != Some(*hasher.finalize().as_bytes()) {
            // every range verified against the manifest, which then contradicts itself
            return Err(Error::DamagedOnDrives {
                location: self.location.clone(),
                operation: "copying",
                damage: format!(
                    "{}: the whole-file checksum differs from the manifest's",
                    relative.display()
                ),
            });
        }
        out.sync_all().map_err(io)?;
        Ok(None)
    }

    /// The first damage met by reads through [`DriveBackend`], if any.
    pub(crate) fn first_damage(&self) -> Option<String> {
        self.damage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first()
            .cloned()
    }

    /// Copies every repository file to `target` (restic's layout, created if needed), each
    /// verified whole (ranges, authentication, whole-file BLAKE3) and written atomically and
    /// durably. A file with damaged ranges is not written; it is named in the result with its
    /// ranges, and the copy goes on. Memory: one range at a time.
    ///
    /// # Errors
    /// I/O errors writing `target`, and errors reading the drives other than damage.
    pub fn copy_to(&self, target: &Path, progress: &dyn seedship_progress::Progress) -> Result<DriveCopy> {
        let total = self
            .files
            .values()
            .map(|&index| self.set.files()[index].size)
            .sum();
        let task = progress.task(
            "copying from the drives",
            seedship_progress::Unit::Bytes,
            Some(total),
        );
        let mut copy = DriveCopy {
            target: target.to_owned(),
            files: 0,
            bytes: 0,
            damaged: Vec::new(),
        };
        let mut indexes: Vec<usize> = self.files.values().copied().collect();
        indexes.sort_unstable();
        for index in indexes {
            let file = &self.set.files()[index];
            let relative = PathBuf::from(file.dst.strip_prefix(&self.prefix).unwrap_or(&file.dst));
            let path = target.join(&relative);
            let io = |source| Error::Io {
                path: path.clone(),
                source,
            };
            std::fs::create_dir_all(seedship_durable::parent(&path)).map_err(io)?;
            let temporary = seedship_durable::temporary_path(&path).map_err(io)?;
            let copied = self.copy_file(file, &relative, &temporary);
            task.advance(file.size);
            match copied {
                Ok(None) => {}
                Ok(Some(damage)) => {
                    let _ = std::fs::remove_file(&temporary);
                    copy.damaged.push(damage);
                    continue;
                }
                Err(err) => {
                    let _ = std::fs::remove_file(&temporary);
                    return Err(err);
                }
            }
            std::fs::rename(&temporary, &path).map_err(io)?;
            seedship_durable::sync_dir(seedship_durable::parent(&path)).map_err(io)?;
            copy.files += 1;
            copy.bytes += file.size;
        }
        // restic's empty directories, which its local backend expects
        for dir in ["keys", "snapshots", "index", "data", "locks"] {
            let dir = target.join(dir);
            std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir, source })?;
        }
        task.finish();
        Ok(copy)
    }
}

/// The drive set as a read-only rustic backend.
pub(crate) struct DriveBackend(pub(crate) Arc<Drives>);

impl DriveBackend {
    fn read(&self, tpe: FileType, id: &Id, offset: u64, len: u64) -> RusticResult<bytes::Bytes> {
        self.0
            .read(tpe, id, offset, len)
            .map(bytes::Bytes::from)
            .map_err(|err| {
                let message = err.to_string();
                if matches!(err, seedship_drive::Error::Damaged { .. }) {
                    self.0
                        .damage
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(message);
                }
                RusticError::with_source(ErrorKind::Backend, "Reading the drives failed.", err)
            })
    }
}

impl ReadBackend for DriveBackend {
    fn location(&self) -> String {
        self.0.location.clone()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        self.0
            .files
            .iter()
            .filter(|((kind, _), _)| *kind == tpe.dirname())
            .map(|((_, id), &index)| {
                let size = self.0.set.files()[index].size;
                u32::try_from(size).map(|size| (*id, size)).map_err(|_| {
                    RusticError::new(
                        ErrorKind::Backend,
                        "A repository file on the drives is larger than 4 GiB.",
                    )
                })
            })
            .collect()
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<bytes::Bytes> {
        let size = self
            .0
            .file(tpe, id)
            .map_err(|err| RusticError::with_source(ErrorKind::Backend, "Reading the drives failed.", err))?
            .size;
        self.read(tpe, id, 0, size)
    }

    fn read_partial(
        &self,
        tpe: FileType,
        id: &Id,
        _cacheable: bool,
        offset: u32,
        length: u32,
    ) -> RusticResult<bytes::Bytes> {
        self.read(tpe, id, offset.into(), length.into())
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        repo_path(tpe, id).display().to_string()
    }
}

fn read_only() -> Box<RusticError> {
    RusticError::new(
        ErrorKind::Backend,
        "A repository on drives is read-only: copy it to a directory first (--copy-to).",
    )
}

impl WriteBackend for DriveBackend {
    fn create(&self) -> RusticResult<()> {
        Err(read_only())
    }

    fn write_bytes(
        &self,
        _tpe: FileType,
        _id: &Id,
        _cacheable: bool,
        _content: BytesList,
    ) -> RusticResult<()> {
        Err(read_only())
    }

    fn remove(&self, _tpe: FileType, _id: &Id, _cacheable: bool) -> RusticResult<()> {
        Err(read_only())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_restics_own_names_are_repository_files() {
        let hex = "ab".repeat(32);
        assert_eq!(repository_file("config"), Some((FileType::Config, Id::default())));
        for (relative, tpe) in [
            (format!("keys/{hex}"), FileType::Key),
            (format!("snapshots/{hex}"), FileType::Snapshot),
            (format!("index/{hex}"), FileType::Index),
            (format!("data/ab/{hex}"), FileType::Pack),
        ] {
            assert_eq!(
                repository_file(&relative).map(|(t, _)| t),
                Some(tpe),
                "{relative}"
            );
        }
        for other in [
            format!("data/cd/{hex}"),
            format!("data/{hex}"),
            format!("keys/{}", hex.to_uppercase()),
            format!("locks/{hex}"),
            format!("keys/.{hex}.tmp-12"),
            "keys/ab".to_owned(),
            "config/x".to_owned(),
            "nothing".to_owned(),
        ] {
            assert_eq!(repository_file(&other), None, "{other}");
        }
    }
}
