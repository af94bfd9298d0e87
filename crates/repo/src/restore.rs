//! Restoring a snapshot into a local directory, in groups of bounded size.
//!
//! rustic_core's restore plans the whole snapshot at once and then starts one reader task per
//! pack range on a 20-thread pool; each reader decrypts its blobs and queues one write task
//! per blob. Nothing limits how much decrypted data waits in that queue, so on large trees
//! the queue holds a large part of the snapshot in memory (measured: ~1.8 GiB peak for a
//! 2 GB tree). We hand rustic_core the files in groups of at most
//! [`RestoreOptions::group_bytes`] bytes, which bounds that queue, and finish with one pass
//! over the whole snapshot that finds every file already in place and creates symlinks,
//! special files and hard links and sets the metadata of every entry (directories last, so
//! their mtimes survive). The other half of the memory problem, freed buffers kept by glibc's
//! per-thread arenas, is the binary's to handle (it sets the allocator up before starting).

use crate::{
    error::{Error, Result},
    report::RestoreSummary,
    repository::Repo,
};
use rustic_core::{
    IndexedFullStatus, LocalDestination, LsOptions, Repository, RestoreOptions as RusticRestoreOptions,
    RusticResult,
    repofile::{Node, NodeType},
};
use seedship_progress::Unit;
use std::{
    ops::Range,
    path::{Path, PathBuf},
};

/// How to restore.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Most file bytes handed to the restore engine at once; bounds peak memory.
    /// `None` restores everything in one pass (rustic_core's own behaviour).
    pub group_bytes: Option<u64>,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        Self {
            group_bytes: Some(64 * 1024 * 1024),
        }
    }
}

impl Repo {
    /// Restores snapshot `snapshot` (an id, a unique id prefix, or `latest`) into `target`,
    /// creating it if needed. Files already in `target` with the right size and mtime are
    /// kept; other entries in `target` are left alone.
    ///
    /// # Errors
    ///
    /// [`Error::SnapshotNotFound`], [`Error::BadTarget`], or [`Error::Engine`] when reading
    /// the repository or writing the target fails.
    pub fn restore(&self, snapshot: &str, target: &Path, options: &RestoreOptions) -> Result<RestoreSummary> {
        let _lock = self.lock(crate::lock::LockKind::Shared)?;
        let indexed = self
            .reopen()?
            .to_indexed()
            .map_err(self.fail("reading the index"))?;
        let snap = indexed.get_snapshot_from_str(snapshot, |_| true).map_err(|_| {
            // Not found, unless the snapshots cannot even be read.
            match indexed.get_all_snapshots() {
                Ok(_) => Error::SnapshotNotFound {
                    id: snapshot.to_owned(),
                    location: self.location.clone(),
                },
                Err(err) => self.fail("reading the snapshots")(err),
            }
        })?;
        let root = indexed
            .node_from_snapshot_and_path(&snap, "")
            .map_err(self.fail("reading the snapshot"))?;
        let bad_target = |reason: String| Error::BadTarget {
            path: target.to_owned(),
            reason,
        };
        let target_text = target
            .to_str()
            .ok_or_else(|| bad_target("path is not UTF-8".to_owned()))?;
        let dest = LocalDestination::new(&format!("{target_text}/"), true, false)
            .map_err(|err| bad_target(crate::error::one_line(&err)))?;

        // The listing is read once and replayed for every pass: reading it from the
        // repository for each of them cost more CPU than the restore itself.
        let entries: Vec<(PathBuf, Node)> = indexed
            .ls(&root, &LsOptions::default())
            .and_then(Iterator::collect)
            .map_err(self.fail("listing the snapshot"))?;
        let listing = || Ok(entries.iter().cloned().map(Ok));
        let groups =
            plan_groups(listing()?, options.group_bytes).map_err(self.fail("listing the snapshot"))?;
        let mut summary = RestoreSummary {
            snapshot_id: crate::report::hex(&snap.id),
            target: target.to_owned(),
            files_restored: 0,
            files_unchanged: 0,
            dirs_restored: 0,
            bytes_restored: 0,
            passes: 0,
        };
        if groups.len() > 1 {
            let total = groups.iter().map(|group| group.bytes).sum();
            let task = self.bridge.reporter().task("restoring", Unit::Bytes, Some(total));
            let _muted = self.bridge.mute();
            for group in &groups {
                let nodes = || Ok(in_group(listing()?, group.files.clone()));
                self.pass(&indexed, &dest, nodes, &mut summary)?;
                task.advance(group.bytes);
            }
            task.finish();
        }
        // The final pass finds the files of the groups in place: they are not "unchanged".
        let restored_in_groups = summary.files_restored;
        self.pass(&indexed, &dest, listing, &mut summary)?;
        summary.files_unchanged = summary.files_unchanged.saturating_sub(restored_in_groups);
        Ok(summary)
    }
}

impl Repo {
    /// One restore run over the entries `nodes` yields (called twice: to plan, then to
    /// restore), adding its counts to `summary`.
    fn pass<I: Iterator<Item = Entry>>(
        &self,
        indexed: &Repository<IndexedFullStatus>,
        dest: &LocalDestination,
        nodes: impl Fn() -> Result<I>,
        summary: &mut RestoreSummary,
    ) -> Result<()> {
        let options = RusticRestoreOptions::default();
        let plan = indexed
            .prepare_restore(&options, nodes()?, dest, false)
            .map_err(self.fail("planning the restore"))?;
        summary.files_restored += plan.stats.files.restore + plan.stats.files.modify;
        summary.files_unchanged += plan.stats.files.unchanged;
        summary.dirs_restored += plan.stats.dirs.restore;
        summary.bytes_restored += plan.restore_size;
        summary.passes += 1;
        indexed
            .restore(plan, &options, nodes()?, dest)
            .map_err(self.fail("restore"))
    }
}

type Entry = RusticResult<(PathBuf, Node)>;

/// A run of consecutive grouped files (by their index among grouped files) and their size.
#[derive(Debug)]
struct Group {
    files: Range<usize>,
    bytes: u64,
}

/// Files restored in groups: plain files that are not hard links (hard links are restored,
/// and linked, in the final pass, which sees all of them).
fn grouped(node: &Node) -> bool {
    node.node_type == NodeType::File && node.meta.links <= 1
}

/// Splits the grouped files of `listing` into consecutive groups of at most `limit` bytes
/// (a larger file gets a group of its own). No groups when everything fits in one.
fn plan_groups(listing: impl Iterator<Item = Entry>, limit: Option<u64>) -> RusticResult<Vec<Group>> {
    let Some(limit) = limit else {
        return Ok(Vec::new());
    };
    let mut groups = Vec::new();
    let mut current = Group {
        files: 0..0,
        bytes: 0,
    };
    for entry in listing {
        let (_, node) = entry?;
        if !grouped(&node) {
            continue;
        }
        let size = node.meta.size;
        if current.bytes > 0 && current.bytes.saturating_add(size) > limit {
            let next = current.files.end;
            groups.push(std::mem::replace(
                &mut current,
                Group {
                    files: next..next,
                    bytes: 0,
                },
            ));
        }
        current.files.end += 1;
        current.bytes += size;
    }
    if !groups.is_empty() {
        groups.push(current);
    }
    Ok(groups)
}

/// The entries of one group: every directory (so paths exist) plus the group's files.
fn in_group(listing: impl Iterator<Item = Entry>, files: Range<usize>) -> impl Iterator<Item = Entry> {
    let mut index = 0;
    listing.filter(move |entry| match entry {
        Err(_) => true,
        Ok((_, node)) if node.node_type == NodeType::Dir => true,
        Ok((_, node)) if grouped(node) => {
            index += 1;
            files.contains(&(index - 1))
        }
        Ok(_) => false,
    })
}
