//! What formatting a drive would erase, checked before its first byte is erased (`drive
//! prepare --format`, `diskprep`). A drive never overlaps a protected path (a backup source,
//! the staging location, a journal, a server's data directory): no flag allows that. A drive
//! that holds files but no seedship drive marker is someone's directory: it is erased only
//! when the operator confirms on a terminal after seeing what it holds, or passes
//! [`ERASE_FLAG`]; `--yes` is not enough.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::{Context, prompt};

/// The flag that allows erasing a non-empty directory that is no seedship drive.
pub const ERASE_FLAG: &str = "--erase-existing-files";

/// The file a seedship server keeps in its data directory (written on its first start).
const SERVER_DATA_FILE: &str = "admin-credentials";

/// A path no drive may overlap, and what it is (named when a drive is refused).
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

/// Files and bytes under a directory that is no seedship drive.
#[derive(Default)]
struct Contents {
    files: u64,
    bytes: u64,
}

/// Counts the files under `dir` (symlinks are not followed); a server's data directory
/// among them is refused.
fn count(dir: &Path, contents: &mut Contents) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?;
        if kind.is_dir() {
            count(&path, contents)?;
            continue;
        }
        anyhow::ensure!(
            entry.file_name() != SERVER_DATA_FILE,
            "{} is a seedship server's data directory (it holds {SERVER_DATA_FILE}): it is never \
             erased with a drive",
            dir.display()
        );
        contents.files += 1;
        contents.bytes += entry
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?
            .len();
    }
    Ok(())
}

/// The absolute, symlink-free form of `path`, or its absolute form if it does not exist.
fn resolved(path: &Path) -> anyhow::Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(path) => Ok(path),
        Err(_) => std::path::absolute(path).with_context(|| format!("path {}", path.display())),
    }
}

/// Refuses a drive that overlaps a protected path or lies in a server's data directory;
/// no flag allows either.
pub fn check_overlaps(drives: &[PathBuf], protected: &[Protected]) -> anyhow::Result<()> {
    for drive in drives {
        let dir = resolved(drive)?;
        for guarded in protected {
            let path = resolved(&guarded.path)?;
            anyhow::ensure!(
                !dir.starts_with(&path) && !path.starts_with(&dir),
                "drive {} overlaps {} {}: formatting it would erase it; choose another directory",
                drive.display(),
                guarded.what,
                guarded.path.display()
            );
        }
        if let Some(data) = dir.ancestors().find(|dir| dir.join(SERVER_DATA_FILE).is_file()) {
            anyhow::bail!(
                "drive {} lies in a seedship server's data directory {}: it is never used as a drive",
                drive.display(),
                data.display()
            );
        }
    }
    Ok(())
}

/// Has the operator confirm, before anything is erased, formatting each of `drives` that
/// holds files but no seedship drive marker: `erase_given` ([`ERASE_FLAG`]), or a typed
/// `yes` on a terminal after being shown how many files and bytes it holds. A server's data
/// directory inside a drive is refused.
pub fn confirm_erase(ctx: &Context, drives: &[PathBuf], erase_given: bool) -> anyhow::Result<()> {
    let mut foreign = Vec::new();
    for drive in drives {
        if seedship_drive::read_drive_id(drive)
            .with_context(|| format!("drive {}", drive.display()))?
            .is_some()
        {
            continue;
        }
        let mut contents = Contents::default();
        count(drive, &mut contents)?;
        if contents.files > 0 {
            foreign.push((drive, contents));
        }
    }
    for (drive, contents) in foreign {
        let what = format!(
            "Erase {} file(s), {} bytes, in {}, which is no seedship drive (no {})",
            contents.files,
            contents.bytes,
            drive.display(),
            seedship_drive::MARKER_NAME
        );
        prompt::confirm_or_flag(ctx.json, erase_given, ERASE_FLAG, &what)?;
    }
    Ok(())
}
