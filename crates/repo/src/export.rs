//! What an export of a repository (all of it, or chosen snapshots) must copy so that the copy
//! is a valid restic repository: computed from the index, the snapshot files and the trees
//! the chosen snapshots reach, without reading data pack contents.
//!
//! A subset must not carry an index file that names a pack it lacks (`restic check` would
//! report the pack missing). Index files are encrypted with the repository key and written
//! per backup, so they cannot be filtered without rewriting them; instead the selection takes
//! whole index files: those that name a needed pack, and with each every pack it names
//! ([`covering_index_files`]). The copy is then a repository whose index names only packs it
//! holds; what the chosen snapshots do not use is unused blobs, which `restic check` does not
//! report (and `prune` would remove).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rustic_core::{
    FileType, Id, ReadBackend,
    repofile::{IndexFile, Node},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    lock::LockKind,
    report::SnapshotInfo,
    repository::Repo,
};

/// One file of a repository by its path in restic's layout (`config`, `keys/<id>`,
/// `snapshots/<id>`, `index/<id>`, `data/<id[..2]>/<id>`), with its size as stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RepoFile {
    /// The path in the repository.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Which snapshots an export carries. Everything empty: the whole repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotFilter {
    /// Snapshot ids, unique id prefixes, or `latest` (the newest snapshot the host and path
    /// filters leave); empty: every snapshot the other filters leave.
    pub snapshots: Vec<String>,
    /// Only snapshots of one of these hosts; empty: any host.
    pub hosts: Vec<String>,
    /// Only snapshots that back up each of these paths; empty: any paths.
    pub paths: Vec<String>,
}

impl SnapshotFilter {
    /// Whether the filter leaves the whole repository.
    pub fn is_everything(&self) -> bool {
        self.snapshots.is_empty() && self.hosts.is_empty() && self.paths.is_empty()
    }
}

/// What an export copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSelection {
    /// The full ids of the snapshots it carries, oldest first.
    pub snapshots: Vec<String>,
    /// The files to copy, sorted by name.
    pub files: Vec<RepoFile>,
    /// Their total size.
    pub bytes: u64,
}

/// The index files an export carries, and the packs they name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Covering<I, P> {
    /// Index files chosen.
    pub index_files: BTreeSet<I>,
    /// Every pack those index files name: what the export must copy.
    pub packs: BTreeSet<P>,
}

/// Chooses index files so that every pack of `needed` is named by one of them, and returns
/// them with every pack they name. Each chosen index file names at least one needed pack; a
/// needed pack that several index files name (after an interrupted prune) is taken from the
/// first chosen one.
///
/// # Errors
/// The first needed pack no index file names.
pub fn covering_index_files<I: Ord + Clone, P: Ord + Clone>(
    index_files: &BTreeMap<I, Vec<P>>,
    needed: &BTreeSet<P>,
) -> Result<Covering<I, P>, P> {
    let mut naming: BTreeMap<&P, Vec<&I>> = BTreeMap::new();
    for (index, packs) in index_files {
        for pack in packs {
            naming.entry(pack).or_default().push(index);
        }
    }
    let mut covering = Covering {
        index_files: BTreeSet::new(),
        packs: BTreeSet::new(),
    };
    for pack in needed {
        if covering.packs.contains(pack) {
            continue;
        }
        let index = naming
            .get(pack)
            .and_then(|named| named.first())
            .ok_or_else(|| pack.clone())?;
        covering.index_files.insert((*index).clone());
        covering.packs.extend(index_files[*index].iter().cloned());
    }
    Ok(covering)
}

/// The snapshots of `all` (oldest first, as [`Repo::snapshots`] lists them) that `filter`
/// selects, oldest first.
///
/// # Errors
/// [`Error::SnapshotNotFound`] for an id no snapshot the host and path filters leave has, an
/// ambiguous prefix, or `latest` (or no id) when the filters leave no snapshot.
pub fn select_snapshots<'a>(
    all: &'a [SnapshotInfo],
    filter: &SnapshotFilter,
    location: &str,
) -> Result<Vec<&'a SnapshotInfo>> {
    let candidates: Vec<&SnapshotInfo> = all
        .iter()
        .filter(|snap| filter.hosts.is_empty() || filter.hosts.contains(&snap.hostname))
        .filter(|snap| filter.paths.iter().all(|path| snap.paths.contains(path)))
        .collect();
    let not_found = |id: &str| Error::SnapshotNotFound {
        id: id.to_owned(),
        location: location.to_owned(),
    };
    if filter.snapshots.is_empty() {
        if candidates.is_empty() {
            return Err(not_found("matching the host and path filters"));
        }
        return Ok(candidates);
    }
    let mut chosen = BTreeSet::new();
    for wanted in &filter.snapshots {
        let found: Vec<&SnapshotInfo> = if wanted == "latest" {
            candidates.last().copied().into_iter().collect()
        } else {
            candidates
                .iter()
                .copied()
                .filter(|snap| snap.id.starts_with(wanted.as_str()))
                .collect()
        };
        match found.as_slice() {
            [one] => {
                chosen.insert(one.id.as_str());
            }
            [] => return Err(not_found(wanted)),
            _ => {
                return Err(not_found(&format!(
                    "{wanted} (ambiguous: {} snapshots start so)",
                    found.len()
                )));
            }
        }
    }
    Ok(candidates
        .into_iter()
        .filter(|snap| chosen.contains(snap.id.as_str()))
        .collect())
}

/// The path of object `id` of `kind` in restic's layout.
fn file_name(kind: FileType, id: &Id) -> String {
    let hex = id.to_hex();
    match kind {
        FileType::Pack => format!("data/{}/{}", &hex[..2], hex.as_str()),
        FileType::Config => "config".to_owned(),
        other => format!("{}/{}", other.dirname(), hex.as_str()),
    }
}

impl Repo {
    /// The files an export of the snapshots `filter` selects must copy: `config`, every key,
    /// the chosen snapshot files, the index files covering the packs their trees and file
    /// contents are in, and every pack those index files name (see the module documentation).
    /// For an empty filter, every file of the repository but its locks. Reads the index, the
    /// snapshot files and the chosen snapshots' trees; no data pack.
    ///
    /// # Errors
    ///
    /// [`Error::SnapshotNotFound`] as [`select_snapshots`], [`Error::Engine`] when listing or
    /// reading fails or a blob the snapshots need is in no pack an index file names.
    pub fn export_selection(&self, filter: &SnapshotFilter) -> Result<ExportSelection> {
        let _lock = self.lock(LockKind::Shared)?;
        let sizes = |kind: FileType| -> Result<HashMap<Id, u64>> {
            Ok(self
                .backend
                .list_with_size(kind)
                .map_err(self.fail("listing the repository"))?
                .into_iter()
                .map(|(id, size)| (id, u64::from(size)))
                .collect())
        };
        let config_size = self
            .backend
            .read_full(FileType::Config, &Id::default())
            .map_err(self.fail("reading the config"))?
            .len() as u64;
        let mut files = vec![RepoFile {
            name: "config".to_owned(),
            size: config_size,
        }];
        let mut take = |kind: FileType, ids: &mut dyn Iterator<Item = (Id, u64)>| {
            files.extend(ids.map(|(id, size)| RepoFile {
                name: file_name(kind, &id),
                size,
            }));
        };
        take(FileType::Key, &mut sizes(FileType::Key)?.into_iter());
        let all = self.snapshots()?;
        let chosen: Vec<&SnapshotInfo> = if filter.is_everything() {
            all.iter().collect()
        } else {
            select_snapshots(&all, filter, &self.location)?
        };
        let snapshot_sizes = sizes(FileType::Snapshot)?;
        let mut snapshot_ids = Vec::with_capacity(chosen.len());
        for snap in &chosen {
            let id: Id = snap.id.parse().map_err(self.fail("reading a snapshot id"))?;
            let size = snapshot_sizes.get(&id).copied().unwrap_or_default();
            snapshot_ids.push(id);
            take(FileType::Snapshot, &mut std::iter::once((id, size)));
        }
        let index_sizes = sizes(FileType::Index)?;
        let pack_sizes = sizes(FileType::Pack)?;
        if filter.is_everything() {
            take(FileType::Index, &mut index_sizes.into_iter());
            take(FileType::Pack, &mut pack_sizes.into_iter());
        } else {
            let covering = self.covering(&snapshot_ids, &pack_sizes)?;
            for index in covering.index_files {
                let size = index_sizes.get(&index).copied().unwrap_or_default();
                take(FileType::Index, &mut std::iter::once((index, size)));
            }
            for pack in covering.packs {
                let size = pack_sizes.get(&pack).copied().ok_or_else(|| Error::Engine {
                    location: self.location.clone(),
                    operation: "selecting the packs of the snapshots",
                    message: format!(
                        "the index names pack {} the repository does not have",
                        pack.to_hex().as_str()
                    ),
                })?;
                take(FileType::Pack, &mut std::iter::once((pack, size)));
            }
        }
        files.sort();
        Ok(ExportSelection {
            snapshots: chosen.iter().map(|snap| snap.id.clone()).collect(),
            bytes: files.iter().map(|file| file.size).sum(),
            files,
        })
    }

    /// The index files (and their packs) covering every pack the trees and contents of
    /// `snapshots` are in. Packs an index file only marks for deletion go with it when the
    /// repository still has them (`present`).
    fn covering(&self, snapshots: &[Id], present: &HashMap<Id, u64>) -> Result<Covering<Id, Id>> {
        let mut index_files: BTreeMap<Id, Vec<Id>> = BTreeMap::new();
        let mut pack_of: HashMap<Id, Id> = HashMap::new();
        for item in self
            .inner
            .stream_files::<IndexFile>()
            .map_err(self.fail("reading the index"))?
        {
            let (index_id, file) = item.map_err(self.fail("reading the index"))?;
            let mut packs = Vec::with_capacity(file.packs.len());
            for pack in &file.packs {
                for blob in &pack.blobs {
                    pack_of.entry(*blob.id).or_insert(*pack.id);
                }
                packs.push(*pack.id);
            }
            packs.extend(
                file.packs_to_delete
                    .iter()
                    .map(|pack| *pack.id)
                    .filter(|pack| present.contains_key(pack)),
            );
            index_files.insert(*index_id, packs);
        }
        let snapshot_files = self
            .inner
            .get_snapshots(
                &snapshots
                    .iter()
                    .map(|id| id.to_hex().to_string())
                    .collect::<Vec<_>>(),
            )
            .map_err(self.fail("reading the snapshots"))?;
        let trees = self
            .reopen()?
            .to_indexed_ids()
            .map_err(self.fail("reading the index"))?;
        let mut needed = BTreeSet::new();
        let mut pending: Vec<Id> = snapshot_files.iter().map(|snap| *snap.tree).collect();
        let mut seen: BTreeSet<Id> = BTreeSet::new();
        let unindexed = |blob: &Id| Error::Engine {
            location: self.location.clone(),
            operation: "selecting the packs of the snapshots",
            message: format!("blob {} is in no pack the index names", blob.to_hex().as_str()),
        };
        while let Some(tree_id) = pending.pop() {
            if !seen.insert(tree_id) {
                continue;
            }
            needed.insert(*pack_of.get(&tree_id).ok_or_else(|| unindexed(&tree_id))?);
            let tree = trees
                .get_tree(&tree_id.into())
                .map_err(self.fail("reading a tree"))?;
            for node in &tree.nodes {
                let Node { subtree, content, .. } = node;
                pending.extend(subtree.iter().map(|id| **id));
                for blob in content.iter().flatten() {
                    needed.insert(*pack_of.get(&**blob).ok_or_else(|| unindexed(blob))?);
                }
            }
        }
        covering_index_files(&index_files, &needed).map_err(|pack| Error::Engine {
            location: self.location.clone(),
            operation: "selecting the index files of the snapshots",
            message: format!("pack {} is named by no index file", pack.to_hex().as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, host: &str, paths: &[&str]) -> SnapshotInfo {
        SnapshotInfo {
            id: id.to_owned(),
            time: String::new(),
            hostname: host.to_owned(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            parent_id: None,
            bytes: None,
            files: None,
        }
    }

    fn filter(snapshots: &[&str], hosts: &[&str], paths: &[&str]) -> SnapshotFilter {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        SnapshotFilter {
            snapshots: owned(snapshots),
            hosts: owned(hosts),
            paths: owned(paths),
        }
    }

    #[test]
    fn snapshots_are_selected_by_id_prefix_latest_host_and_path() {
        let all = [
            snap("aaaa1111", "web", &["/srv"]),
            snap("aaaa2222", "db", &["/var/lib", "/etc"]),
            snap("bbbb3333", "web", &["/srv", "/etc"]),
            snap("cccc4444", "db", &["/var/lib"]),
        ];
        let ids = |f: SnapshotFilter| -> Vec<String> {
            select_snapshots(&all, &f, "repo")
                .expect("selected")
                .into_iter()
                .map(|s| s.id.clone())
                .collect()
        };
        assert_eq!(ids(filter(&["latest"], &[], &[])), ["cccc4444"]);
        assert_eq!(ids(filter(&["latest"], &["web"], &[])), ["bbbb3333"]);
        assert_eq!(ids(filter(&[], &["db"], &[])), ["aaaa2222", "cccc4444"]);
        assert_eq!(ids(filter(&[], &[], &["/etc"])), ["aaaa2222", "bbbb3333"]);
        assert_eq!(
            ids(filter(&["bbbb", "aaaa1"], &[], &[])),
            ["aaaa1111", "bbbb3333"]
        );
        assert_eq!(ids(filter(&["latest", "cccc"], &[], &[])), ["cccc4444"]);
        for (bad, shown) in [
            (
                filter(&["aaaa"], &[], &[]),
                "aaaa (ambiguous: 2 snapshots start so)",
            ),
            (filter(&["dddd"], &[], &[]), "dddd"),
            (filter(&["aaaa1"], &["db"], &[]), "aaaa1"),
            (filter(&["latest"], &["mail"], &[]), "latest"),
            (filter(&[], &[], &["/home"]), "matching the host and path filters"),
        ] {
            match select_snapshots(&all, &bad, "repo") {
                Err(Error::SnapshotNotFound { id, location }) => {
                    assert_eq!((id.as_str(), location.as_str()), (shown, "repo"));
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_pack_no_index_names_is_named() {
        let index: BTreeMap<u8, Vec<u8>> = BTreeMap::from([(1, vec![10, 11])]);
        assert_eq!(covering_index_files(&index, &BTreeSet::from([10, 12])), Err(12));
    }

    proptest::proptest! {
        #[test]
        fn the_covering_holds_every_needed_pack_and_every_pack_its_index_files_name(
            index in proptest::collection::btree_map(0u8..20, proptest::collection::vec(0u8..60, 0..8), 0..20),
            wanted in proptest::collection::btree_set(0u8..60, 0..20),
        ) {
            let named: BTreeSet<u8> = index.values().flatten().copied().collect();
            let needed: BTreeSet<u8> = wanted.intersection(&named).copied().collect();
            let covering = covering_index_files(&index, &needed).expect("every needed pack is named");
            // a valid repository: no chosen index file names a pack the export lacks
            for file in &covering.index_files {
                proptest::prop_assert!(index[file].iter().all(|p| covering.packs.contains(p)));
            }
            // nothing but what the chosen index files name
            let from_files: BTreeSet<u8> =
                covering.index_files.iter().flat_map(|f| index[f].iter().copied()).collect();
            proptest::prop_assert_eq!(&covering.packs, &from_files);
            // every needed pack, and no index file that names none of them
            proptest::prop_assert!(needed.is_subset(&covering.packs));
            for file in &covering.index_files {
                proptest::prop_assert!(index[file].iter().any(|p| needed.contains(p)));
            }
            // everything needed: every index file naming a pack
            let all = covering_index_files(&index, &named).expect("every named pack is named");
            proptest::prop_assert_eq!(&all.packs, &named);
            if let Some(missing) = (0u8..60).find(|p| !named.contains(p)) {
                let mut more = needed.clone();
                more.insert(missing);
                proptest::prop_assert_eq!(covering_index_files(&index, &more), Err(missing));
            }
        }
    }
}
