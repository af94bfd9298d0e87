//! Restoring a snapshot into a local directory, with memory bounded whatever the file sizes.
//!
//! rustic_core 0.13's restore reads one pack range (up to 40 MiB) per task on a 20-thread
//! pool and queues every decrypted blob for writing, without a bound, so its memory grew
//! with the data restored (1.6 GiB for one 3 GiB file). seedship restores file contents
//! itself, streaming (docs/design.md, "Restore"):
//!
//! 1. One planner walks the snapshot listing in order: it creates directories, skips files
//!    already in place (same size and mtime, as restic and rustic do), creates or truncates the
//!    others at their final length, and looks each content blob up in the index. Consecutive
//!    blobs stored next to each other in the same pack become one [`Range`] of at most
//!    [`RANGE_BYTES`] (a blob repeated in a row, as in runs of zeros, is read once).
//! 2. The ranges go through a bounded channel to [`readers`] threads; each reads its range,
//!    decrypts, decompresses and verifies every blob ([`Unpacker`]) and writes it at its
//!    offsets. A file's mtime is set when its last blob is written. In memory at once: the
//!    ranges being read and one decompressed blob per reader, and the few queued range
//!    descriptions, never file contents in a queue.
//! 3. rustic_core then runs its own restore over the whole snapshot: it finds every file in
//!    place (size and mtime) and only creates symlinks, special files and hard links and sets
//!    metadata (ownership, permissions, extended attributes, times; directories last).

use crate::{
    error::{Error, Result},
    exclude::Includes,
    report::{DamagedOnDrive, RestoreSummary},
    repository::Repo,
    unpack::Unpacker,
};
use rustic_core::{
    DataId, FileType, IndexedFullStatus, LocalDestination, LsOptions, Repository,
    RestoreOptions as RusticRestoreOptions, RusticResult, WriteBackend,
    jiff::Timestamp,
    repofile::{Node, NodeType, PackId},
};
use seedship_progress::{Task, Unit};
use std::{
    collections::BTreeSet,
    fs::{File, OpenOptions},
    num::NonZeroU32,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc::{Receiver, SyncSender, sync_channel},
    },
    time::SystemTime,
};

/// Most bytes read from a pack at once (a larger blob is read alone).
const RANGE_BYTES: u32 = 8 << 20;

/// Most blob writes in one range, so that ranges of tiny blobs stay small too.
const RANGE_WRITES: usize = 1024;

impl Repo {
    /// Restores snapshot `snapshot` (an id, a unique id prefix, or `latest`), or the part of it
    /// `includes` names (all of it without patterns), into `target`,
    /// creating it if needed. Files already in `target` with the right size and mtime are
    /// kept; other entries in `target` are left alone. Every blob is verified against its id.
    ///
    /// # Errors
    ///
    /// [`Error::SnapshotNotFound`], [`Error::BadTarget`], [`Error::DamagedBlob`] when a blob
    /// read from a pack is not what its id says, [`Error::Io`] when writing a file fails, or
    /// [`Error::Engine`] when reading the repository fails.
    pub fn restore(&self, snapshot: &str, target: &Path, includes: &Includes) -> Result<RestoreSummary> {
        let _lock = self.lock(crate::lock::LockKind::Shared)?;
        let indexed = self
            .reopen()?
            .to_indexed()
            .map_err(self.fail("reading the index"))?;
        let snap = self.find_snapshot(&indexed, snapshot)?;
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
        // Directories are still walked when they do not match: a file below may.
        let ls_options = LsOptions::default().excludes(includes.to_rustic());
        let listing = || {
            indexed
                .ls(&root, &ls_options)
                .map_err(self.fail("listing the snapshot"))
        };

        let mut summary = RestoreSummary {
            snapshot_id: crate::report::hex(&snap.id),
            target: target.to_owned(),
            files_restored: 0,
            files_unchanged: 0,
            dirs_restored: 0,
            bytes_restored: 0,
            files_damaged: 0,
            damaged: Vec::new(),
        };
        let total = content_bytes(listing()?).map_err(self.fail("listing the snapshot"))?;
        let task = self.bridge.reporter().task("restoring", Unit::Bytes, Some(total));
        self.restore_contents(&indexed, target, listing()?, &*task, &mut summary)?;
        task.finish();
        // Files left incomplete by damage on the drives keep a wrong mtime (so that a restore
        // from the vault writes them again) and get no metadata: rustic_core would read them.
        let incomplete: BTreeSet<PathBuf> = summary
            .damaged
            .iter()
            .flat_map(|damage| damage.restored_files.iter().cloned())
            .collect();
        summary.files_damaged = incomplete.len() as u64;
        let complete = || -> Result<_> {
            Ok(listing()?.filter(|entry| {
                entry
                    .as_ref()
                    .map_or(true, |(relative, _)| !incomplete.contains(&target.join(relative)))
            }))
        };

        // rustic_core's pass finds the contents in place and sets the metadata.
        let metadata = self.bridge.reporter().task("setting metadata", Unit::Items, None);
        let _muted = self.bridge.mute();
        let options = RusticRestoreOptions::default();
        let plan = indexed
            .prepare_restore(&options, complete()?, &dest, false)
            .map_err(self.fail("planning the restore"))?;
        // Normally nothing: a file changed in `target` meanwhile is restored by rustic_core.
        summary.files_restored += plan.stats.files.restore + plan.stats.files.modify;
        summary.bytes_restored += plan.restore_size;
        indexed
            .restore(plan, &options, complete()?, &dest)
            .map_err(self.fail("restore"))?;
        metadata.finish();
        Ok(summary)
    }

    /// Creates the directories and writes the contents of the files of `listing` under
    /// `target` (steps 1 and 2 of the module documentation), counting them in `summary`.
    fn restore_contents(
        &self,
        indexed: &Repository<IndexedFullStatus>,
        target: &Path,
        listing: impl Iterator<Item = RusticResult<(PathBuf, Node)>>,
        task: &dyn Task,
        summary: &mut RestoreSummary,
    ) -> Result<()> {
        let key = self.inner.key();
        let unpackers = (0..readers())
            .map(|_| Unpacker::new(&key))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|err| Error::Engine {
                location: self.location.clone(),
                operation: "starting the decompressor",
                message: err.to_string(),
            })?;
        let (send, receive) = sync_channel(unpackers.len());
        let receive = Mutex::new(receive);
        let failure = Mutex::new(None);
        let damaged = Mutex::new(Vec::new());
        let reader = Reader {
            repo: self,
            backend: &*self.backend,
            receive: &receive,
            failure: &failure,
            damaged: &damaged,
            task,
        };
        let planned = std::thread::scope(|scope| {
            for unpacker in unpackers {
                let reader = &reader;
                scope.spawn(move || reader.run(unpacker));
            }
            let mut planner = Planner {
                repo: self,
                indexed,
                target,
                ranges: Ranges {
                    current: None,
                    send,
                    failure: &failure,
                },
                links: HardLinks::default(),
                task,
                summary,
            };
            let planned = planner.walk(listing);
            // A reader's failure, if any, is reported instead of `Stopped`.
            let _ = planner.ranges.send();
            planned
            // The planner, and with it the channel's sender, is dropped here: the readers
            // finish the queued ranges and stop.
        });
        summary.damaged = damaged.into_inner().unwrap_or_else(PoisonError::into_inner);
        let failed = failure.into_inner().unwrap_or_else(PoisonError::into_inner);
        match (failed, planned) {
            (Some(err), _) | (None, Err(err)) => Err(err),
            (None, Ok(())) => Ok(()),
        }
    }
}

/// How many threads read, decrypt and write ranges: enough to keep the cores and a remote
/// repository busy; each holds at most one range and one decompressed blob.
fn readers() -> usize {
    std::thread::available_parallelism()
        .map_or(4, std::num::NonZeroUsize::get)
        .clamp(4, 8)
}

/// Bytes of file content in the snapshot (each hard-linked file once): the restore's total.
fn content_bytes(listing: impl Iterator<Item = RusticResult<(PathBuf, Node)>>) -> RusticResult<u64> {
    let mut links = HardLinks::default();
    let mut total = 0;
    for entry in listing {
        let (_, node) = entry?;
        if node.node_type == NodeType::File && links.first(&node) {
            total += node.meta.size;
        }
    }
    Ok(total)
}

/// The hard-linked files seen so far: rustic_core restores the contents of the first path
/// of each (device, inode) and links the others to it.
#[derive(Default)]
struct HardLinks(BTreeSet<(u64, u64)>);

impl HardLinks {
    /// Whether file `node` gets its contents restored (it is not a later link to a file
    /// seen before).
    fn first(&mut self, node: &Node) -> bool {
        let meta = &node.meta;
        if meta.links <= 1 || meta.device_id == 0 || meta.inode == 0 {
            return true;
        }
        self.0.insert((meta.device_id, meta.inode))
    }
}

/// A file whose contents are being written. The planner created or truncated it, so its
/// unwritten parts read as zeros: blobs of zeros are not written (the file stays sparse).
struct Restoring {
    path: PathBuf,
    mtime: Option<SystemTime>,
    /// Blob writes not done yet, plus one while the planner is still adding blobs.
    pending: AtomicUsize,
    /// A blob of it was lost to damage on the drives: it keeps a wrong mtime.
    incomplete: AtomicBool,
}

impl Restoring {
    fn io(&self) -> impl FnOnce(std::io::Error) -> Error + '_ {
        |source| Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes `data` at `offset` (nothing when it is all zeros).
    fn write(&self, data: &[u8], offset: u64, zeros: bool) -> Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(self.io())?;
        if !zeros {
            file.write_all_at(data, offset).map_err(self.io())?;
        }
        self.done(&file)
    }

    /// One pending write (or the planner) is done; after the last, sets the file's mtime,
    /// which rustic_core's metadata pass checks to find the file in place.
    fn done(&self, file: &File) -> Result<()> {
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1
            && !self.incomplete.load(Ordering::SeqCst)
            && let Some(mtime) = self.mtime
        {
            file.set_modified(mtime).map_err(self.io())?;
        }
        Ok(())
    }

    /// A pending write that cannot be done (its blob is damaged on the drives): the file
    /// stays incomplete, with a wrong mtime.
    fn lost(&self) {
        self.incomplete.store(true, Ordering::SeqCst);
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Blobs stored next to each other in one pack, read in one request.
struct Range {
    pack: PackId,
    offset: u32,
    length: u32,
    writes: usize,
    blobs: Vec<Blob>,
}

/// One blob of a [`Range`] and where its content goes.
struct Blob {
    id: DataId,
    /// Offset in the range.
    start: u32,
    length: u32,
    uncompressed: Option<NonZeroU32>,
    writes: Vec<(Arc<Restoring>, u64)>,
}

/// Where a blob is stored in its pack, from the index.
#[derive(Clone, Copy)]
struct Stored {
    offset: u32,
    length: u32,
    uncompressed: Option<NonZeroU32>,
}

/// Builds [`Range`]s from consecutive blob lookups and queues them for the readers.
struct Ranges<'a> {
    current: Option<Range>,
    send: SyncSender<Range>,
    failure: &'a Mutex<Option<Error>>,
}

/// The planner stops queueing when a reader failed; the reader's error is the one reported.
struct Stopped;

impl Ranges<'_> {
    /// Adds a write of blob `id`, stored `at` in `pack`, to a file at an offset.
    fn add(
        &mut self,
        pack: PackId,
        id: DataId,
        at: Stored,
        write: (Arc<Restoring>, u64),
    ) -> Result<(), Stopped> {
        let blob = |start, write| Blob {
            id,
            start,
            length: at.length,
            uncompressed: at.uncompressed,
            writes: vec![write],
        };
        if let Some(range) = self
            .current
            .as_mut()
            .filter(|range| range.pack == pack && range.writes < RANGE_WRITES)
        {
            let last = range.blobs.last_mut().expect("ranges are never empty");
            if last.id == id && range.offset + last.start == at.offset {
                last.writes.push(write);
                range.writes += 1;
                return Ok(());
            }
            if at.offset == range.offset + range.length && range.length + at.length <= RANGE_BYTES {
                range.blobs.push(blob(range.length, write));
                range.length += at.length;
                range.writes += 1;
                return Ok(());
            }
        }
        self.send()?;
        self.current = Some(Range {
            pack,
            offset: at.offset,
            length: at.length,
            writes: 1,
            blobs: vec![blob(0, write)],
        });
        Ok(())
    }

    /// Queues the range being built, if any.
    fn send(&mut self) -> Result<(), Stopped> {
        if self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return Err(Stopped);
        }
        match self.current.take() {
            // The readers hold the receiver until the planner is done: sending only fails
            // when every reader thread died.
            Some(range) => self.send.send(range).map_err(|_| Stopped),
            None => Ok(()),
        }
    }
}

/// Walks the listing (step 1).
struct Planner<'a> {
    repo: &'a Repo,
    indexed: &'a Repository<IndexedFullStatus>,
    target: &'a Path,
    ranges: Ranges<'a>,
    links: HardLinks,
    task: &'a dyn Task,
    summary: &'a mut RestoreSummary,
}

impl Planner<'_> {
    /// Plans every entry of `listing`, or until a reader failed.
    fn walk(&mut self, listing: impl Iterator<Item = RusticResult<(PathBuf, Node)>>) -> Result<()> {
        for entry in listing {
            let entry = entry.map_err(self.repo.fail("listing the snapshot"))?;
            if let Err(Stopped) = self.entry(entry)? {
                break;
            }
        }
        Ok(())
    }

    fn entry(&mut self, (relative, node): (PathBuf, Node)) -> Result<Result<(), Stopped>> {
        let path = self.target.join(&relative);
        match node.node_type {
            NodeType::Dir => {
                if !path.is_dir() {
                    std::fs::create_dir_all(&path).map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                    self.summary.dirs_restored += 1;
                }
                Ok(Ok(()))
            }
            NodeType::File if self.links.first(&node) => self.file(path, &node),
            NodeType::File => {
                // A later hard link: rustic_core's metadata pass links it to the first path,
                // which fails where a file already is (a restore into the same target again).
                match std::fs::symlink_metadata(&path) {
                    Ok(meta) if !meta.is_dir() => {
                        std::fs::remove_file(&path).map_err(|source| Error::Io {
                            path: path.clone(),
                            source,
                        })?
                    }
                    _ => {}
                }
                Ok(Ok(()))
            }
            // Symlinks and special files: rustic_core's metadata pass.
            _ => Ok(Ok(())),
        }
    }

    /// Skips, or creates the file and queues its blobs; `Stopped` when a reader failed.
    fn file(&mut self, path: PathBuf, node: &Node) -> Result<Result<(), Stopped>> {
        let size = node.meta.size;
        let existing = std::fs::symlink_metadata(&path).ok();
        if let Some(meta) = &existing {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|time| Timestamp::try_from(time).ok());
            if meta.is_file() && meta.len() == size && (size == 0 || mtime == node.meta.mtime) {
                self.summary.files_unchanged += 1;
                self.task.advance(size);
                return Ok(Ok(()));
            }
            if !meta.is_file() {
                return Err(Error::BadTarget {
                    path,
                    reason: "exists and is not a regular file".to_owned(),
                });
            }
        }
        let restoring = Arc::new(Restoring {
            path,
            mtime: node.meta.mtime.map(SystemTime::from),
            pending: AtomicUsize::new(1),
            incomplete: AtomicBool::new(false),
        });
        // The directories above an included file are not in a listing by include patterns.
        if let Some(parent) = restoring.path.parent() {
            std::fs::create_dir_all(parent).map_err(restoring.io())?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&restoring.path)
            .map_err(restoring.io())?;
        file.set_len(size).map_err(restoring.io())?;
        self.summary.files_restored += 1;
        self.summary.bytes_restored += size;
        let mut offset = 0;
        for id in node.content.iter().flatten() {
            let entry = self
                .indexed
                .get_index_entry(id)
                .map_err(self.repo.fail("looking up a data blob"))?;
            let at = Stored {
                offset: entry.location.offset,
                length: entry.location.length,
                uncompressed: entry.location.uncompressed_length,
            };
            restoring.pending.fetch_add(1, Ordering::AcqRel);
            if let Err(Stopped) = self.ranges.add(entry.pack, *id, at, (restoring.clone(), offset)) {
                return Ok(Err(Stopped));
            }
            offset += u64::from(entry.location.data_length());
        }
        restoring.done(&file)?;
        Ok(Ok(()))
    }
}

/// What the reader threads share (step 2).
struct Reader<'a> {
    repo: &'a Repo,
    backend: &'a dyn WriteBackend,
    receive: &'a Mutex<Receiver<Range>>,
    failure: &'a Mutex<Option<Error>>,
    /// Ranges of packs damaged on the drives, with the files they left incomplete.
    damaged: &'a Mutex<Vec<DamagedOnDrive>>,
    task: &'a dyn Task,
}

impl Reader<'_> {
    /// Restores ranges until the planner is done; after the first failure (of any reader)
    /// only takes the queued ranges off the channel, so that the planner never blocks.
    fn run(&self, mut unpacker: Unpacker) {
        loop {
            let next = self.receive.lock().unwrap_or_else(PoisonError::into_inner).recv();
            let Ok(range) = next else { break };
            if self
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
            {
                continue;
            }
            if let Err(err) = self.range(range, &mut unpacker) {
                self.failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(err);
            }
        }
    }

    fn range(&self, range: Range, unpacker: &mut Unpacker) -> Result<()> {
        match self.read(&range.pack, range.offset, range.length)? {
            Ok(data) => self.unpack(&range.pack, data, range.blobs, unpacker),
            // Damaged on the drives: blob by blob, so that only the blobs in the damaged
            // range are lost.
            Err(_) => {
                for blob in range.blobs {
                    match self.read(&range.pack, range.offset + blob.start, blob.length)? {
                        Ok(data) => {
                            self.unpack(&range.pack, data, vec![Blob { start: 0, ..blob }], unpacker)?
                        }
                        Err(damage) => self.lost(&range.pack, &damage, &blob),
                    }
                }
                Ok(())
            }
        }
    }

    /// Reads `length` bytes at `offset` of `pack`: from the drive set's verified reads for
    /// a repository on drives, where a damaged range is answered as `Ok(Err(damage))`, else
    /// from the backend.
    fn read(
        &self,
        pack: &PackId,
        offset: u32,
        length: u32,
    ) -> Result<Result<Vec<u8>, seedship_drive::Error>> {
        let data = match &self.repo.drives {
            Some(drives) => match drives.read(FileType::Pack, pack, offset.into(), length.into()) {
                Ok(data) => data,
                Err(err @ seedship_drive::Error::Damaged { .. }) => return Ok(Err(err)),
                Err(err) => return Err(err.into()),
            },
            // Without a copy: the backend's buffer is ours alone.
            None => Vec::from(
                self.backend
                    .read_partial(FileType::Pack, pack, false, offset, length)
                    .map_err(self.repo.fail("reading a pack"))?,
            ),
        };
        if data.len() != length as usize {
            return Err(Error::Engine {
                location: self.repo.location.clone(),
                operation: "reading a pack",
                message: format!(
                    "pack {} gave {} bytes at offset {offset} instead of {length}",
                    &*pack.to_hex(),
                    data.len(),
                ),
            });
        }
        Ok(Ok(data))
    }

    /// Records that `blob` of `pack` is lost to `damage`, and the files it leaves incomplete.
    fn lost(&self, pack: &PackId, damage: &seedship_drive::Error, blob: &Blob) {
        let file = crate::atomic::repo_path(FileType::Pack, pack);
        let Some(found) = DamagedOnDrive::of_error(&file, damage) else {
            return;
        };
        let mut damaged = self.damaged.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match damaged
            .iter()
            .position(|d| d.file == found.file && d.offset == found.offset)
        {
            Some(index) => index,
            None => {
                damaged.push(found);
                damaged.len() - 1
            }
        };
        for (restoring, _) in &blob.writes {
            restoring.lost();
            let files = &mut damaged[index].restored_files;
            if !files.contains(&restoring.path) {
                files.push(restoring.path.clone());
            }
        }
    }

    /// Decrypts, decompresses and verifies each of `blobs` in `data` (read from `pack`) and
    /// writes it at its offsets.
    fn unpack(
        &self,
        pack: &PackId,
        mut data: Vec<u8>,
        blobs: Vec<Blob>,
        unpacker: &mut Unpacker,
    ) -> Result<()> {
        for blob in blobs {
            let start = blob.start as usize;
            let sealed = &mut data[start..start + blob.length as usize];
            let content = unpacker
                .open(sealed, blob.uncompressed, &blob.id)
                .map_err(|fault| Error::DamagedBlob {
                    location: self.repo.location.clone(),
                    blob: blob.id.to_hex().to_string(),
                    pack: pack.to_hex().to_string(),
                    fault: Box::new(fault),
                })?;
            let zeros = content.iter().all(|&byte| byte == 0);
            for (file, offset) in &blob.writes {
                file.write(content, *offset, zeros)?;
                self.task.advance(content.len() as u64);
            }
        }
        Ok(())
    }
}
