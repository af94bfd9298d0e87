//! seedship's own writer for the first backup into a repository that holds no data yet: the
//! offline seeding's big backup into staging. Later backups (which need a parent snapshot and
//! the repository's index) go through rustic_core's archiver.
//!
//! Why its own: `perf record` of rustic_core 0.13's archiver on the 1.7 GB system tree put a
//! third of its CPU outside the work a backup must do (decompressing and decrypting every blob
//! again to check it, a new zstd context and its zeroed tables for every blob, a byte-at-a-time
//! chunk iterator), and it kept the two cores about 80% busy (docs/BENCHMARKS.md, "First
//! backup writer"). The work here is split so that both cores stay busy whatever the tree:
//!
//! - the walking thread (the caller's) lists the source in order, hands each file to the file
//!   workers, and builds the trees as the files come back, in the walk's order;
//! - file workers (one per core) take files in batches, read each in blocks of up to 16 MiB,
//!   cut it into chunks ([`crate::chunker`]) and hash each chunk; a small file that is one new
//!   chunk they compress and seal themselves, the new chunks of larger files they hand over;
//! - sealers (one per core) compress each chunk handed over, and each tree, with zstd and seal
//!   it under the master key (a zstd context and buffers kept per thread: nothing allocated
//!   per blob);
//! - whoever sealed a blob appends it to the open pack of its type (data and trees apart),
//!   and the pack writer writes each full pack, then the index files that name written packs.
//!
//! Files go to the workers in batches and sealed blobs into the packs under a lock, because on
//! a tree of small files a hand-over per file and per blob made the threads spend their time
//! waking each other (hundreds of thousands of `sched_yield` per second in `perf`).
//!
//! Every queue between them is bounded, so memory does not grow with the source: at most
//! [`PENDING`] walked entries wait for their file, and each queue holds a few chunks.
//! The snapshot is written last: a failure before it leaves only packs that no index or
//! snapshot names (the next backup writes their data again; `prune` removes them).

use crate::{
    chunker::{CHUNK_MAX, CHUNK_MIN, Chunker},
    error::{Error, Result},
    pack::{Hash, IndexFile, IndexedPack, PackBuilder, compressed_file, sha256},
    repository::Repo,
    source::Watched,
};
use aes256ctr_poly1305aes::Aes256CtrPoly1305Aes;
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use rustic_core::{
    DataId, FileType, Id, ReadSource, ReadSourceEntry, ReadSourceOpen, RusticResult, WriteBackend,
    jiff::Zoned,
    repofile::{BlobType, ConfigFile, Metadata, Node, NodeType, SnapshotFile, SnapshotSummary, Tree},
};
use seedship_progress::{Task, Unit};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    io::Read,
    num::NonZeroU32,
    path::{Component, Path, PathBuf},
    sync::{Mutex, PoisonError},
};
use zstd::zstd_safe::{DCtx, InBuffer, OutBuffer, ResetDirective};

/// Walked entries that may wait for their file's chunks at once.
const PENDING: usize = 4096;
/// A batch of files for a worker ends at this many files or this many bytes.
const BATCH_FILES: usize = 64;
const BATCH_BYTES: u64 = 4 << 20;
/// A file worker's read buffer: two chunks at most, so a full chunk is always in it.
const READ_BUFFER: usize = 2 * CHUNK_MAX;
/// Most blobs in one pack (rustic_core's and restic's limit).
const PACK_BLOBS: usize = 10_000;
/// Most blobs named by one index file.
const INDEX_BLOBS: usize = 50_000;
/// The largest pack the writer makes. rustic_core's pack size grows with the square root of
/// what is packed (32 MiB, plus 32 bytes per square root of a byte: 64 MiB at 1 TB, 176 MiB at
/// 20 TB); the writer holds two packs of each kind in memory (the one being filled and the one
/// being written), so it stops growing them at 64 MiB to keep its memory bounded. Smaller
/// packs than rustic_core's would cost more later: its prune repacks the packs below 30% of
/// its target size.
///
/// Each pack's buffer is reserved whole ([`PACK_CAPACITY`]) and reused once its pack is
/// written: buffers freed to glibc were kept in its arenas as well (peak 246 MiB at 5 GB
/// with 16 MiB packs, against 202).
const PACK_SIZE_LIMIT: u32 = 64 << 20;
/// What a pack can reach: it is cut once past its target, so one sealed blob (at most a chunk
/// and 32 bytes) beyond it, then its header (at most 10,000 entries of 41 bytes, sealed).
const PACK_CAPACITY: usize = PACK_SIZE_LIMIT as usize + CHUNK_MAX + (1 << 20);

/// Whether the repository holds no index file, so that a backup into it has no data to
/// deduplicate against and no parent: the case [`Repo::first_backup`] is for.
pub(crate) fn holds_no_index(backend: &dyn WriteBackend) -> RusticResult<bool> {
    Ok(backend.list(FileType::Index)?.is_empty())
}

/// The repository settings the writer follows, when it can write this repository: a
/// compressed (version 2) repository with restic's chunk sizes.
pub(crate) fn settings(config: &ConfigFile) -> Option<Settings> {
    let level = config.zstd().ok()??;
    let restic_sizes = config.chunk_size() == 1 << 20
        && config.chunk_min_size() == crate::chunker::CHUNK_MIN
        && config.chunk_max_size() == CHUNK_MAX;
    let polynomial = config.poly().ok()?;
    (config.chunker() == rustic_core::repofile::Chunker::Rabin && restic_sizes).then(|| Settings {
        level,
        chunker: Chunker::new(polynomial),
        pack_sizes: [BlobType::Data, BlobType::Tree].map(|kind| config.packsize(kind)),
    })
}

/// What the writer takes from the repository's config.
pub(crate) struct Settings {
    level: i32,
    chunker: Chunker,
    /// Per blob type (data, tree): default pack size, growth factor, limit.
    pack_sizes: [(u32, u32, u32); 2],
}

/// A chunk or tree to store.
struct Blob {
    kind: BlobType,
    id: Hash,
    data: Vec<u8>,
}

/// A file handed to a file worker.
struct FileJob<O> {
    seq: u64,
    node: Node,
    open: O,
}

/// What a file worker made of a file: its node with its content, and the bytes read; `None`
/// when the file could not be read (the source recorded why).
type FileDone = (u64, Option<(Node, u64)>);

/// The pipeline stopped (a later stage failed, or is gone): its own error says why.
struct Stopped;

/// The ids of the blobs stored so far, per blob type: a data blob and a tree blob with the
/// same bytes are two blobs (a file may hold exactly a tree's JSON), each stored once.
#[derive(Default)]
struct Seen([Mutex<HashSet<Hash>>; 2]);

impl Seen {
    /// Whether `id` of `kind` is new, marking it seen.
    fn first(&self, kind: BlobType, id: Hash) -> bool {
        lock(&self.0[slot(kind)]).insert(id)
    }
}

impl Repo {
    /// Backs up the entries of `source` into this repository, which holds no index yet, and
    /// writes snapshot `snapshot` of them (its paths, tree and summary filled in here).
    pub(crate) fn first_backup(
        &self,
        settings: &Settings,
        source: &Watched,
        paths: &[PathBuf],
        mut snapshot: SnapshotFile,
    ) -> Result<SnapshotFile> {
        let cipher = crate::crypto::cipher(&self.inner.key());
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let task = self.bridge.reporter().task("backing up", Unit::Bytes, None);
        let (files_tx, files_rx) = bounded::<Vec<FileJob<_>>>(threads * 2);
        let (done_tx, done_rx) = unbounded::<Vec<FileDone>>();
        // A chunk is handed over only when a sealer is ready for it: each is up to 8 MiB.
        let (blobs_tx, blobs_rx) = bounded::<Blob>(0);
        // Handed over only when the writer is ready for it: each pack is tens of MiB.
        let (packs_tx, packs_rx) = bounded::<(BlobType, PackBuilder)>(0);
        let packs = Packs::new(&settings.pack_sizes, packs_tx);
        let seen = Seen::default();
        let buffers = Buffers {
            free: Mutex::new(Vec::new()),
            keep: threads * 2,
        };
        let (seen, cipher, task, packs, backend, buffers) =
            (&seen, &cipher, &*task, &packs, &*self.backend, &buffers);

        let (walked, results, written) = std::thread::scope(|scope| {
            scope.spawn(|| {
                // The total, for the ETA, while the backup runs (as rustic_core does).
                if let Ok(Some(size)) = source.size() {
                    task.set_total(size);
                }
            });
            let writer = scope.spawn(move || write_packs(backend, cipher, settings.level, &packs_rx, packs));
            let sealer = |largest| Sealer::new(settings.level, cipher, largest);
            let mut stages = Vec::new();
            for _ in 0..threads {
                let work = FileWork {
                    chunker: &settings.chunker,
                    done: done_tx.clone(),
                    blobs: blobs_tx.clone(),
                    buffers,
                    packs,
                    seen,
                    task,
                };
                let files_rx = files_rx.clone();
                stages.push(scope.spawn(move || read_files(&work, &files_rx, sealer(CHUNK_MIN)?)));
                let blobs_rx = blobs_rx.clone();
                stages.push(scope.spawn(move || seal_blobs(sealer(CHUNK_MAX)?, &blobs_rx, packs, buffers)));
            }
            drop((files_rx, done_tx, blobs_rx));
            let summary = snapshot.summary.take().unwrap_or_default();
            let walked = walk(source, files_tx, &done_rx, blobs_tx, seen, summary);
            let results: Vec<Result<(), String>> = stages
                .into_iter()
                .map(|stage| join(stage).and_then(|done| done))
                .collect();
            // Every blob is in a pack: write the last ones, and let the writer end.
            packs.finish();
            (walked, results, join(writer))
        });
        task.finish();
        let failed = |message: String| Error::Engine {
            location: self.location.clone(),
            operation: "backup",
            message,
        };
        // A stage that failed stopped the others, which then end without an error of their
        // own. The storage refusing a pack (a full disk, a quota) is told apart as rustic_core's
        // errors are.
        written.map_err(failed)?.map_err(self.fail("backup"))?;
        if let Some(message) = results.into_iter().find_map(Result::err) {
            return Err(failed(message));
        }
        let (tree, mut summary) = walked.map_err(|Stopped| failed("the backup stopped".to_owned()))?;
        for (kind, added, packed, blobs) in packs.stats() {
            summary.data_added += added;
            summary.data_added_packed += packed;
            if kind == BlobType::Tree {
                summary.tree_blobs += blobs;
                summary.data_added_trees += added;
                summary.data_added_trees_packed += packed;
            } else {
                summary.data_blobs += blobs;
                summary.data_added_files += added;
                summary.data_added_files_packed += packed;
            }
        }
        let end = Zoned::now();
        summary.backup_duration = seconds_between(&summary.backup_start, &end);
        summary.total_duration = seconds_between(&snapshot.time, &end);
        summary.backup_end = end;
        snapshot.summary = Some(summary);
        snapshot.tree = tree.into();
        for path in paths {
            snapshot.paths.add(path.to_string_lossy().into_owned());
        }
        let id = save_file(backend, cipher, settings.level, FileType::Snapshot, &snapshot)
            .map_err(self.fail("backup"))?;
        snapshot.id = id.into();
        Ok(snapshot)
    }
}

fn seconds_between(from: &Zoned, to: &Zoned) -> f64 {
    to.since(from)
        .and_then(|span| span.total(rustic_core::jiff::Unit::Second))
        .unwrap_or_default()
}

/// A stage's thread's outcome: a panic is reported as a failure, not carried on.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> Result<T, String> {
    handle.join().map_err(|_| "a backup thread panicked".to_owned())
}

/// The walking thread: lists the source, sends files to the workers, builds the trees in the
/// walk's order and returns the root tree's id with `summary` counting the entries walked.
fn walk<O: ReadSourceOpen>(
    source: &impl ReadSource<Open = O>,
    files: Sender<Vec<FileJob<O>>>,
    done: &Receiver<Vec<FileDone>>,
    blobs: Sender<Blob>,
    seen: &Seen,
    summary: SnapshotSummary,
) -> Result<(Id, SnapshotSummary), Stopped> {
    let mut trees = Trees::new(blobs, seen, summary);
    let mut pending: VecDeque<(PathBuf, Waiting)> = VecDeque::new();
    let mut finished: HashMap<u64, Option<(Node, u64)>> = HashMap::new();
    let mut batch = Batch::default();
    let mut seq = 0u64;
    for entry in source.entries() {
        // A failed entry is left out; the source recorded it.
        let Ok(ReadSourceEntry { path, node, open }) = entry else {
            continue;
        };
        let place = if node.is_dir() {
            path
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        match open {
            Some(open) if node.node_type == NodeType::File => {
                seq += 1;
                batch.bytes += node.meta.size;
                batch.jobs.push(FileJob { seq, node, open });
                if batch.jobs.len() >= BATCH_FILES || batch.bytes >= BATCH_BYTES {
                    batch.send(&files)?;
                }
                pending.push_back((place, Waiting::File(seq)));
            }
            _ => pending.push_back((place, Waiting::Ready(Box::new(node)))),
        }
        finished.extend(done.try_iter().flatten());
        trees.take_ready(&mut pending, &mut finished)?;
        if pending.len() > PENDING {
            batch.send(&files)?;
            while pending.len() > PENDING {
                finished.extend(recv(done)?);
                trees.take_ready(&mut pending, &mut finished)?;
            }
        }
    }
    batch.send(&files)?;
    drop(files);
    while !pending.is_empty() {
        finished.extend(recv(done)?);
        trees.take_ready(&mut pending, &mut finished)?;
    }
    trees.finish()
}

/// Files walked and not yet handed to a worker.
struct Batch<O> {
    jobs: Vec<FileJob<O>>,
    bytes: u64,
}

impl<O> Default for Batch<O> {
    fn default() -> Self {
        Self {
            jobs: Vec::new(),
            bytes: 0,
        }
    }
}

impl<O> Batch<O> {
    fn send(&mut self, files: &Sender<Vec<FileJob<O>>>) -> Result<(), Stopped> {
        self.bytes = 0;
        if self.jobs.is_empty() {
            return Ok(());
        }
        files.send(std::mem::take(&mut self.jobs)).map_err(|_| Stopped)
    }
}

fn recv(done: &Receiver<Vec<FileDone>>) -> Result<Vec<FileDone>, Stopped> {
    done.recv().map_err(|_| Stopped)
}

/// A walked entry in order: ready, or waiting for its file's chunks.
enum Waiting {
    /// Boxed: most entries are files waiting, a `Node` is large.
    Ready(Box<Node>),
    File(u64),
}

/// The trees being built: restic's layout, where a snapshot's root tree holds the backed-up
/// paths' ancestors down to them (as rustic_core's archiver builds it, so that its later
/// backups match these trees node for node).
struct Trees<'a> {
    /// The directory the current tree is for.
    current: PathBuf,
    tree: Tree,
    /// The enclosing trees, each with the node that will point at the current one.
    stack: Vec<(Node, Tree)>,
    /// The snapshot's summary, counting files and trees.
    summary: SnapshotSummary,
    blobs: Sender<Blob>,
    seen: &'a Seen,
}

impl<'a> Trees<'a> {
    fn new(blobs: Sender<Blob>, seen: &'a Seen, summary: SnapshotSummary) -> Self {
        Self {
            current: PathBuf::new(),
            tree: Tree::default(),
            stack: Vec::new(),
            summary,
            blobs,
            seen,
        }
    }

    /// Places the entries at the front of `pending` whose files are done, in order.
    fn take_ready(
        &mut self,
        pending: &mut VecDeque<(PathBuf, Waiting)>,
        finished: &mut HashMap<u64, Option<(Node, u64)>>,
    ) -> Result<(), Stopped> {
        while let Some((_, waiting)) = pending.front() {
            let entry = match waiting {
                Waiting::Ready(_) => None,
                Waiting::File(seq) => match finished.remove(seq) {
                    Some(done) => Some(done),
                    None => return Ok(()),
                },
            };
            let Some((place, waiting)) = pending.pop_front() else {
                return Ok(());
            };
            match (waiting, entry) {
                (Waiting::Ready(node), _) => self.place(&place, *node, 0)?,
                (Waiting::File(_), Some(Some((node, size)))) => self.place(&place, node, size)?,
                // An unreadable file is left out of the snapshot.
                (Waiting::File(_), _) => {}
            }
        }
        Ok(())
    }

    /// Puts `node` (of directory `place`, or the directory `place` itself) into its tree,
    /// opening the trees down to it and closing those it is not in.
    fn place(&mut self, place: &Path, node: Node, size: u64) -> Result<(), Stopped> {
        while place.strip_prefix(&self.current).is_err() {
            self.close()?;
        }
        let missing = place
            .strip_prefix(&self.current)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut node = Some(node);
        for component in missing.components() {
            self.current.push(component);
            let Component::Normal(name) = component else {
                continue;
            };
            let opened = match node.take_if(|node| node.is_dir() && self.current == place) {
                Some(dir) => dir,
                // An ancestor of a backed-up path: a plain directory, as rustic_core makes it.
                None => {
                    let meta = Metadata {
                        mode: Some(0o755),
                        ..Metadata::default()
                    };
                    Node::new_node(name, NodeType::Dir, meta)
                }
            };
            self.stack.push((opened, std::mem::take(&mut self.tree)));
        }
        if let Some(node) = node {
            self.summary.files_new += 1;
            self.summary.total_files_processed += 1;
            self.summary.total_bytes_processed += size;
            self.tree.nodes.push(node);
        }
        Ok(())
    }

    /// Closes the current tree: stores it and adds its directory's node to the enclosing one.
    fn close(&mut self) -> Result<(), Stopped> {
        let Some((mut node, outer)) = self.stack.pop() else {
            // Nothing left open: the current path is a root ("/").
            self.current = PathBuf::new();
            return Ok(());
        };
        let tree = std::mem::replace(&mut self.tree, outer);
        node.subtree = Some(self.store(&tree)?.into());
        self.tree.nodes.push(node);
        // Back to the enclosing directory (past a root component, which opens no tree).
        loop {
            let last = self.current.components().next_back();
            let Some(last) = last.map(|last| matches!(last, Component::Normal(_))) else {
                break;
            };
            self.current.pop();
            if last {
                break;
            }
        }
        Ok(())
    }

    /// Serialises `tree` as restic does and queues it unless an identical tree was stored.
    fn store(&mut self, tree: &Tree) -> Result<Id, Stopped> {
        let (json, _) = tree.serialize().map_err(|_| Stopped)?;
        self.summary.dirs_new += 1;
        self.summary.total_dirs_processed += 1;
        self.summary.total_dirsize_processed += json.len() as u64;
        let id = sha256(&json);
        if self.seen.first(BlobType::Tree, id) {
            let blob = Blob {
                kind: BlobType::Tree,
                id,
                data: json,
            };
            self.blobs.send(blob).map_err(|_| Stopped)?;
        }
        Ok(Id::new(id))
    }

    /// Closes every open tree and stores the root: the snapshot's tree.
    fn finish(mut self) -> Result<(Id, SnapshotSummary), Stopped> {
        while !self.stack.is_empty() {
            self.close()?;
        }
        let root = std::mem::take(&mut self.tree);
        let id = self.store(&root)?;
        Ok((id, self.summary))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a stage stopped early.
enum Halt {
    /// Another stage stopped (its own error is the one to report).
    Stopped,
    /// This stage failed.
    Failed(String),
}

/// Chunk buffers handed from the file workers to the sealers and back. The same few buffers
/// are used again, each reserved for the largest chunk at once: a buffer allocated per chunk
/// (up to 8 MiB) and freed by another thread stays in glibc's arena of the thread that
/// allocated it, and so does one grown step by step; the peak grew with the data.
struct Buffers {
    free: Mutex<Vec<Vec<u8>>>,
    /// At most this many kept (what the sealers and the workers can hold at once).
    keep: usize,
}

impl Buffers {
    fn take(&self) -> Vec<u8> {
        lock(&self.free)
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK_MAX))
    }

    /// Takes back a buffer handed over with a blob: a chunk buffer is kept for the next chunk,
    /// a tree's (sized to its tree) is not.
    fn give(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() < CHUNK_MAX {
            return;
        }
        buffer.clear();
        let mut free = lock(&self.free);
        if free.len() < self.keep {
            free.push(buffer);
        }
    }
}

/// The channels and shared state a file worker works with.
struct FileWork<'a> {
    chunker: &'a Chunker,
    done: Sender<Vec<FileDone>>,
    blobs: Sender<Blob>,
    buffers: &'a Buffers,
    packs: &'a Packs<'a>,
    seen: &'a Seen,
    task: &'a dyn Task,
}

/// A file worker: reads each file it is given and cuts it into chunks. A file that is one
/// chunk is sealed here (most files of a tree: one hand-over fewer per file); the chunks of a
/// larger file go to the sealers, so that one large file still keeps every core busy.
fn read_files<O: ReadSourceOpen>(
    work: &FileWork<'_>,
    files: &Receiver<Vec<FileJob<O>>>,
    mut sealer: Sealer<'_>,
) -> Result<(), String> {
    let mut buffer = vec![0u8; READ_BUFFER];
    for batch in files {
        let mut results = Vec::with_capacity(batch.len());
        for FileJob { seq, mut node, open } in batch {
            let content = match open.open() {
                Ok(reader) => chunk_file(work, reader, &mut buffer, &mut sealer),
                // The source recorded why.
                Err(_) => Ok(None),
            };
            let content = match content {
                Ok(content) => content,
                Err(Halt::Stopped) => return Ok(()),
                Err(Halt::Failed(message)) => return Err(message),
            };
            results.push((
                seq,
                content.map(|(ids, size)| {
                    node.content = Some(ids);
                    (node, size)
                }),
            ));
        }
        if work.done.send(results).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The chunk ids of the file `reader` reads and its size; `Ok(None)` when reading failed.
fn chunk_file(
    work: &FileWork<'_>,
    mut reader: impl Read,
    buffer: &mut [u8],
    sealer: &mut Sealer<'_>,
) -> Result<Option<(Vec<DataId>, u64)>, Halt> {
    let (mut start, mut end, mut at_end) = (0, 0, false);
    let mut ids = Vec::new();
    let mut size = 0u64;
    loop {
        // Keep at least a whole chunk in the buffer, unless the file ends first.
        if !at_end && end - start < CHUNK_MAX {
            buffer.copy_within(start..end, 0);
            (start, end) = (0, end - start);
            while end < buffer.len() {
                match reader.read(&mut buffer[end..]) {
                    Ok(0) => {
                        at_end = true;
                        break;
                    }
                    Ok(read) => end += read,
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return Ok(None),
                }
            }
        }
        if start == end && at_end {
            return Ok(Some((ids, size)));
        }
        let Some(len) = work.chunker.cut(&buffer[start..end], at_end) else {
            continue;
        };
        let chunk = &buffer[start..start + len];
        let id = sha256(chunk);
        if work.seen.first(BlobType::Data, id) {
            // A small file that is one chunk is sealed here (most files of a tree); larger
            // chunks go to the sealers, so that the workers' buffers stay small.
            let small_file = size == 0 && at_end && start + len == end && len <= CHUNK_MIN;
            if small_file {
                sealer.seal_into(work.packs, BlobType::Data, id, chunk)?;
            } else {
                let mut data = work.buffers.take();
                data.extend_from_slice(chunk);
                let blob = Blob {
                    kind: BlobType::Data,
                    id,
                    data,
                };
                work.blobs.send(blob).map_err(|_| Halt::Stopped)?;
            }
        }
        ids.push(DataId::from(Id::new(id)));
        size += len as u64;
        work.task.advance(len as u64);
        start += len;
    }
}

/// Compresses and seals blobs into the packs, with one zstd context each way and buffers kept
/// for all of them. The compressed bytes are decompressed again and compared before sealing,
/// so that a fault of the compressor cannot reach a pack (rustic_core's "extra verification",
/// without its second decryption). The comparison streams through a small window, so that a
/// sealer holds one buffer of a blob's size, not two.
struct Sealer<'a> {
    compressor: zstd::bulk::Compressor<'static>,
    decoder: DCtx<'static>,
    cipher: &'a Aes256CtrPoly1305Aes,
    compressed: Vec<u8>,
    window: Vec<u8>,
}

/// The bytes of decompressed output compared at a time.
const CHECK_WINDOW: usize = 256 << 10;

/// The most a blob of `len` bytes takes compressed and sealed.
fn sealed_bound(len: usize) -> usize {
    zstd::zstd_safe::compress_bound(len) + 32
}

impl<'a> Sealer<'a> {
    /// A sealer whose buffer is reserved at once for blobs of up to `largest` bytes (a larger
    /// tree grows it): a buffer grown step by step leaves its smaller ones to the allocator.
    fn new(level: i32, cipher: &'a Aes256CtrPoly1305Aes, largest: usize) -> Result<Self, String> {
        Ok(Self {
            compressor: zstd::bulk::Compressor::new(level).map_err(|err| format!("zstd: {err}"))?,
            decoder: DCtx::create(),
            cipher,
            compressed: Vec::with_capacity(sealed_bound(largest)),
            window: vec![0; CHECK_WINDOW],
        })
    }

    /// Compresses, checks and seals `data`, and adds it to the open pack of its kind.
    fn seal_into(&mut self, packs: &Packs<'_>, kind: BlobType, id: Hash, data: &[u8]) -> Result<(), Halt> {
        let name = || Id::new(id).to_hex().to_string();
        let plain_len = u32::try_from(data.len())
            .map_err(|_| Halt::Failed(format!("blob {} is larger than 4 GiB", name())))?;
        self.compressed.clear();
        // Room for the nonce and MAC too: sealing happens in this buffer.
        self.compressed.reserve(sealed_bound(data.len()));
        self.compressor
            .compress_to_buffer(data, &mut self.compressed)
            .map_err(|err| Halt::Failed(format!("compressing blob {}: {err}", name())))?;
        if !self.decompresses_to(data) {
            return Err(Halt::Failed(format!(
                "compressing blob {}: its compressed form does not decompress to it",
                name()
            )));
        }
        crate::crypto::seal_in_place(self.cipher, &mut self.compressed);
        packs.add(kind, id, &self.compressed, plain_len)
    }

    /// Whether the compressed bytes decompress to exactly `expected`.
    fn decompresses_to(&mut self, expected: &[u8]) -> bool {
        let Self {
            decoder,
            compressed,
            window,
            ..
        } = self;
        if decoder.reset(ResetDirective::SessionOnly).is_err() {
            return false;
        }
        let mut input = InBuffer::around(compressed);
        let mut matched = 0;
        loop {
            let mut output = OutBuffer::around(&mut window[..]);
            let Ok(hint) = decoder.decompress_stream(&mut output, &mut input) else {
                return false;
            };
            let produced = output.pos();
            let Some(part) = expected.get(matched..matched + produced) else {
                return false;
            };
            if window[..produced] != *part {
                return false;
            }
            matched += produced;
            if hint == 0 {
                return matched == expected.len();
            }
            if produced == 0 && input.pos() == compressed.len() {
                // The frame wants more input than there is: cut short.
                return false;
            }
        }
    }
}

/// A sealer thread: seals the blobs the file workers and the tree builder hand over.
fn seal_blobs(
    mut sealer: Sealer<'_>,
    blobs: &Receiver<Blob>,
    packs: &Packs<'_>,
    buffers: &Buffers,
) -> Result<(), String> {
    for Blob { kind, id, data } in blobs {
        let sealed = sealer.seal_into(packs, kind, id, &data);
        buffers.give(data);
        match sealed {
            Ok(()) => {}
            // The pack writer stopped; its error is the one to report.
            Err(Halt::Stopped) => return Ok(()),
            Err(Halt::Failed(message)) => return Err(message),
        }
    }
    Ok(())
}

/// The open packs, one per blob type, and what was added to them. A pack's target size grows
/// with the bytes already packed, as rustic_core's does.
struct Packs<'a> {
    sizes: &'a [(u32, u32, u32); 2],
    state: Mutex<PackState>,
    /// Per blob type: the buffers of written packs, for the next packs. A lock of its own:
    /// the writer gives buffers back while a sealer may hold `state` waiting for it.
    spare: Mutex<[Vec<Vec<u8>>; 2]>,
}

struct PackState {
    /// Per blob type (data, tree): the open pack, bytes in the packs handed to the writer,
    /// plaintext bytes added, sealed bytes added, blobs added.
    open: [PackBuilder; 2],
    packed: [u64; 2],
    added: [u64; 2],
    sealed: [u64; 2],
    blobs: [u64; 2],
    /// Where full packs go; `None` once [`Packs::finish`] handed over the last ones.
    writer: Option<Sender<(BlobType, PackBuilder)>>,
}

fn slot(kind: BlobType) -> usize {
    usize::from(kind == BlobType::Tree)
}

impl<'a> Packs<'a> {
    fn new(sizes: &'a [(u32, u32, u32); 2], writer: Sender<(BlobType, PackBuilder)>) -> Self {
        Self {
            sizes,
            state: Mutex::new(PackState {
                open: [
                    PackBuilder::with_capacity(PACK_CAPACITY),
                    PackBuilder::with_capacity(PACK_CAPACITY),
                ],
                packed: [0; 2],
                added: [0; 2],
                sealed: [0; 2],
                blobs: [0; 2],
                writer: Some(writer),
            }),
            spare: Mutex::default(),
        }
    }

    /// A new pack of the blob type at `at`, in a written pack's buffer when there is one.
    fn fresh(&self, at: usize) -> PackBuilder {
        lock(&self.spare)[at].pop().map_or_else(
            || PackBuilder::with_capacity(PACK_CAPACITY),
            PackBuilder::in_buffer,
        )
    }

    /// Takes back the buffer of a written pack of type `kind`.
    fn give_back(&self, kind: BlobType, buffer: Vec<u8>) {
        if buffer.capacity() >= PACK_CAPACITY {
            lock(&self.spare)[slot(kind)].push(buffer);
        }
    }

    /// Appends a sealed blob to the open pack of its kind, and hands the pack to the writer
    /// once it is full. The hand-over waits for the writer under the lock, so that no third
    /// pack is started while one is written and another waits: the blobs sealed meanwhile wait
    /// in the sealers and their queue instead, which hold a few chunks.
    fn add(&self, kind: BlobType, id: Hash, sealed: &[u8], plain_len: u32) -> Result<(), Halt> {
        let at = slot(kind);
        let mut state = lock(&self.state);
        state.open[at].add(kind, id, sealed, NonZeroU32::new(plain_len));
        state.added[at] += u64::from(plain_len);
        state.sealed[at] += sealed.len() as u64;
        state.blobs[at] += 1;
        let (default, grow, limit) = self.sizes[at];
        let target = u32::try_from(state.packed[at].isqrt())
            .unwrap_or(u32::MAX)
            .saturating_mul(grow)
            .saturating_add(default)
            .min(limit)
            .min(PACK_SIZE_LIMIT) as usize;
        let open = &state.open[at];
        if open.len() < target && open.count() < PACK_BLOBS {
            return Ok(());
        }
        state.packed[at] += open.len() as u64;
        let full = std::mem::replace(&mut state.open[at], PackBuilder::with_capacity(0));
        let Some(writer) = &state.writer else {
            return Err(Halt::Stopped);
        };
        writer.send((kind, full)).map_err(|_| Halt::Stopped)?;
        // The writer took this pack once it had written the one before and given back its
        // buffer, which the next pack is built in.
        state.open[at] = self.fresh(at);
        Ok(())
    }

    /// Hands the packs still open to the writer and closes its queue (once every blob is in).
    fn finish(&self) {
        let (open, writer) = {
            let mut state = lock(&self.state);
            let open = std::mem::replace(
                &mut state.open,
                [PackBuilder::with_capacity(0), PackBuilder::with_capacity(0)],
            );
            (open, state.writer.take())
        };
        let Some(writer) = writer else {
            return;
        };
        for (kind, pack) in [BlobType::Data, BlobType::Tree].into_iter().zip(open) {
            // A writer that stopped reports its own error.
            if pack.count() > 0 && writer.send((kind, pack)).is_err() {
                return;
            }
        }
    }

    /// Per blob type: plaintext bytes, sealed bytes and blobs added.
    fn stats(&self) -> [(BlobType, u64, u64, u64); 2] {
        let state = lock(&self.state);
        [BlobType::Data, BlobType::Tree].map(|kind| {
            let at = slot(kind);
            (kind, state.added[at], state.sealed[at], state.blobs[at])
        })
    }
}

/// The pack writer: seals each pack's header, writes the pack and gives its buffer back, and
/// writes index files naming the packs written (never a pack not yet written).
fn write_packs(
    backend: &dyn WriteBackend,
    cipher: &Aes256CtrPoly1305Aes,
    level: i32,
    full: &Receiver<(BlobType, PackBuilder)>,
    packs: &Packs<'_>,
) -> RusticResult<()> {
    let mut index: Vec<IndexedPack> = Vec::new();
    let mut blobs = 0;
    let save_index = |index: &mut Vec<IndexedPack>| -> RusticResult<()> {
        let file = IndexFile {
            packs: std::mem::take(index),
        };
        save_file(backend, cipher, level, FileType::Index, &file).map(drop)
    };
    for (kind, pack) in full {
        let (id, bytes, entry) = pack.finish(|header| crate::crypto::seal(cipher, header));
        let bytes = bytes::Bytes::from(bytes);
        backend.write_bytes(FileType::Pack, &id, kind == BlobType::Tree, bytes.clone().into())?;
        // The storage is done with the bytes, unless it kept them (then they are not reused).
        if let Ok(buffer) = bytes.try_into_mut() {
            packs.give_back(kind, buffer.into());
        }
        blobs += entry.blobs.len();
        index.push(entry);
        if blobs >= INDEX_BLOBS {
            save_index(&mut index)?;
            blobs = 0;
        }
    }
    if !index.is_empty() {
        save_index(&mut index)?;
    }
    Ok(())
}

/// Writes an unpacked repository file (index, snapshot) as restic does and returns its id.
fn save_file(
    backend: &dyn WriteBackend,
    cipher: &Aes256CtrPoly1305Aes,
    level: i32,
    kind: FileType,
    file: &impl serde::Serialize,
) -> RusticResult<Id> {
    let json = serde_json::to_vec(file).map_err(|err| {
        rustic_core::RusticError::with_source(
            rustic_core::ErrorKind::Internal,
            "serialising a repository file",
            err,
        )
    })?;
    let plain = compressed_file(&json, level).map_err(|err| {
        rustic_core::RusticError::with_source(
            rustic_core::ErrorKind::Internal,
            "compressing a repository file",
            err,
        )
    })?;
    let sealed = crate::crypto::seal(cipher, &plain);
    let id = Id::new(sha256(&sealed));
    backend.write_bytes(kind, &id, kind == FileType::Index, sealed.into())?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> Node {
        Node::new_node(std::ffi::OsStr::new(name), NodeType::Dir, Metadata::default())
    }

    fn file(name: &str) -> Node {
        Node::new_node(std::ffi::OsStr::new(name), NodeType::File, Metadata::default())
    }

    /// The trees built for a walk, by directory: names of their nodes.
    fn build(entries: Vec<(&str, Node)>) -> (Vec<Vec<String>>, Id) {
        let (blobs_tx, blobs_rx) = unbounded();
        let seen = Seen::default();
        let mut trees = Trees::new(blobs_tx, &seen, SnapshotSummary::default());
        for (place, node) in entries {
            trees
                .place(Path::new(place), node, 0)
                .unwrap_or_else(|_| panic!("stopped"));
        }
        let (root, _) = trees.finish().unwrap_or_else(|_| panic!("stopped"));
        let stored = blobs_rx
            .try_iter()
            .map(|blob| {
                let tree: Tree = serde_json::from_slice(&blob.data).expect("tree json");
                tree.nodes
                    .iter()
                    .map(|node| node.name().to_string_lossy().into_owned())
                    .collect()
            })
            .collect();
        (stored, root)
    }

    #[test]
    fn trees_hold_the_ancestors_of_the_backed_up_paths_and_close_in_order() {
        let (stored, _) = build(vec![
            ("/srv/data", dir("data")),
            ("/srv/data", file("a")),
            ("/srv/data/sub", dir("sub")),
            ("/srv/data/sub", file("b")),
            ("/srv/data", file("c")),
            ("/var/log", dir("log")),
            ("/var/log", file("d")),
        ]);
        // Trees in the order they close: sub, data, srv, log, var, then the root.
        assert_eq!(
            stored,
            vec![
                vec!["b".to_owned()],
                vec!["a".to_owned(), "sub".to_owned(), "c".to_owned()],
                vec!["data".to_owned()],
                vec!["d".to_owned()],
                vec!["log".to_owned()],
                vec!["srv".to_owned(), "var".to_owned()],
            ]
        );
    }

    #[test]
    fn the_check_of_a_compressed_blob_finds_any_difference() {
        let cipher = crate::crypto::cipher(&rustic_core::repofile::MasterKey::new());
        let mut sealer = Sealer::new(3, &cipher, 0).unwrap_or_else(|err| panic!("{err}"));
        // Larger than the check's window, compressible, so that the frame spans many windows.
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i / 7 % 251) as u8).collect();
        sealer.compressed = zstd::bulk::compress(&data, 3).expect("compress");
        assert!(sealer.decompresses_to(&data));
        let mut other = data.clone();
        other[2_500_000] ^= 1;
        assert!(!sealer.decompresses_to(&other), "a changed byte");
        assert!(
            !sealer.decompresses_to(&data[..data.len() - 1]),
            "more output than expected"
        );
        let mut longer = data.clone();
        longer.push(0);
        assert!(!sealer.decompresses_to(&longer), "less output than expected");
        let cut = sealer.compressed.len() / 2;
        sealer.compressed.truncate(cut);
        assert!(!sealer.decompresses_to(&data), "a truncated frame");
    }

    #[test]
    fn a_tree_is_stored_even_when_a_file_holds_its_bytes() {
        let seen = Seen::default();
        assert!(seen.first(BlobType::Data, [7; 32]));
        assert!(!seen.first(BlobType::Data, [7; 32]));
        assert!(
            seen.first(BlobType::Tree, [7; 32]),
            "a data blob with the tree's id is another blob"
        );
        assert!(!seen.first(BlobType::Tree, [7; 32]));
    }

    #[test]
    fn identical_trees_are_stored_once() {
        let (stored, _) = build(vec![
            ("/a", dir("a")),
            ("/a/x", dir("x")),
            ("/a/x", file("same")),
            ("/a/y", dir("y")),
            ("/a/y", file("same")),
        ]);
        // x and y hold the same tree: stored once; then a, then the root.
        assert_eq!(stored.len(), 3);
    }
}
