//! Copying a repository's files as they are (no decryption, no repacking) into another copy of
//! the same repository: what a copy of it that was made earlier (a seeded vault) lacks.

use std::collections::HashMap;
use std::sync::Arc;

use rustic_core::{FileType, Id, ReadBackend, WriteBackend};
use seedship_progress::{Progress, Unit};
use serde::Serialize;

use crate::error::{Error, Result, engine};
use crate::progress::Bridge;
use crate::repository::RepoConfig;

/// The kinds copied, in restic's write order: an index never names a pack the target lacks,
/// and a snapshot never a tree whose index is missing.
const ORDER: [FileType; 4] = [FileType::Pack, FileType::Index, FileType::Key, FileType::Snapshot];

/// What [`copy_missing_files`] copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CopiedFiles {
    /// Files copied (packs, index files, keys, snapshots).
    pub files: u64,
    /// Their total size, as stored.
    pub bytes: u64,
    /// Snapshots among them.
    pub snapshots: u64,
}

/// Copies every pack, index file, key and snapshot of the repository at `from` that the one
/// at `to` lacks, byte for byte (packs first, snapshots last), and returns what it copied.
/// Both must be the same repository (the same `config` file); nothing is decrypted, so no
/// password is needed.
///
/// # Errors
///
/// [`Error::DifferentRepositories`] when the `config` files differ (nothing copied), else as
/// opening, listing, reading or writing fails.
pub fn copy_missing_files(from: &str, to: &str, progress: &dyn Progress) -> Result<CopiedFiles> {
    // Opening a backend reports nothing worth showing; the copy has its own task below.
    let bridge = Bridge::new(Arc::new(seedship_progress::NoProgress));
    let source = RepoConfig::new(from, String::new());
    let target = RepoConfig::new(to, String::new());
    let (_, source_backend) = source.unopened(bridge.clone())?;
    let (_, target_backend) = target.unopened(bridge)?;
    let (shown_from, shown_to) = (source.display_location(), target.display_location());
    let config = |backend: &Arc<dyn WriteBackend>, shown: &str| {
        backend
            .read_full(FileType::Config, &Id::default())
            .map_err(engine(shown, "reading the config"))
    };
    if config(&source_backend, &shown_from)? != config(&target_backend, &shown_to)? {
        return Err(Error::DifferentRepositories {
            from: shown_from,
            to: shown_to,
        });
    }
    let mut missing = Vec::new();
    for kind in ORDER {
        let present: HashMap<Id, u32> = target_backend
            .list_with_size(kind)
            .map_err(engine(&shown_to, "listing"))?
            .into_iter()
            .collect();
        for (id, size) in source_backend
            .list_with_size(kind)
            .map_err(engine(&shown_from, "listing"))?
        {
            if !present.contains_key(&id) {
                missing.push((kind, id, u64::from(size)));
            }
        }
    }
    let total = missing.iter().map(|(_, _, size)| size).sum();
    let task = progress.task(&format!("copying to {shown_to}"), Unit::Bytes, Some(total));
    let mut copied = CopiedFiles::default();
    for (kind, id, size) in missing {
        let bytes = source_backend
            .read_full(kind, &id)
            .map_err(engine(&shown_from, "reading"))?;
        let cacheable = !matches!(kind, FileType::Pack);
        target_backend
            .write_bytes(kind, &id, cacheable, bytes.into())
            .map_err(engine(&shown_to, "writing"))?;
        task.advance(size);
        copied.files += 1;
        copied.bytes += size;
        copied.snapshots += u64::from(kind == FileType::Snapshot);
    }
    task.finish();
    Ok(copied)
}
