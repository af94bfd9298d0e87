//! What a backup of some paths would store, before anything is written: a metadata-only scan
//! and a bounded, spread sample chunked, deduplicated and compressed as the backup does it.
//!
//! The sample uses restic's content-defined chunking (the Rabin chunker with restic's chunk
//! sizes, 512 KiB to 8 MiB, 1 MiB on average) with a fixed polynomial: rustic_core keeps its
//! chunker private; the sample cuts with seedship's own ([`crate::chunker`]), which cuts where it does.
//! A repository's own polynomial is random; a different polynomial moves the cut points, not
//! their statistics, so the deduplication found is the same up to noise. Each new chunk is
//! compressed with zstd at level 3 (what the backup uses) and counted with the bytes restic
//! adds around a blob (encryption, pack header entry, index entry). So that the sample's time
//! is a backup's, each new chunk is also sealed as the backup seals it (AES-256-CTR and
//! Poly1305-AES under a random key of the sample's own) and written, as into a pack, to a
//! temporary file that is unlinked as soon as it is made, hashed with SHA-256 as pack files
//! are for their names.

use crate::chunker::Chunker;
use crate::{backup::Sources, error::Error, error::Result, exclude::Excludes};
use seedship_progress::{Progress, Unit};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

/// restic's chunker tests' polynomial (degree 53, irreducible).
const POLYNOMIAL: u64 = 0x003D_A335_8B4D_C173;
/// The zstd level of every seedship backup.
const ZSTD_LEVEL: i32 = 3;
/// Bytes restic adds to a stored blob: IV and MAC (32), its pack header entry (41, with the
/// uncompressed length) and its index entry (about 80 once the index is compressed).
pub const BLOB_OVERHEAD: u64 = 32 + 41 + 80;
/// Files up to this size are sampled whole; larger ones as slices of this size, spread over
/// the file.
pub const SLICE: u64 = 1024 * 1024;
/// A data pack's size (rustic_core's default): a sample worker's temporary file is written
/// over from its start once it holds this much, so the sample takes at most this much room
/// per core.
const PACK: u64 = 32 * 1024 * 1024;

/// What a metadata-only walk of the sources found (same excludes as the backup's).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Scan {
    /// Regular files.
    pub files: u64,
    /// Directories (the sources included).
    pub dirs: u64,
    /// Symlinks, devices, sockets, fifos.
    pub other: u64,
    /// The regular files' sizes added up.
    pub bytes: u64,
    /// Entries that could not be read (left out, as the backup would).
    pub unreadable: u64,
}

/// What the sample measured.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Sample {
    /// Bytes read, chunked and compressed.
    pub bytes: u64,
    /// Whole files and slices read.
    pub pieces: u64,
    /// Chunks found.
    pub chunks: u64,
    /// Chunks that were new (not duplicates of an earlier chunk of the sample).
    pub unique_chunks: u64,
    /// Bytes of the new chunks, before compression.
    pub unique_bytes: u64,
    /// What the new chunks store as: compressed, plus [`BLOB_OVERHEAD`] each.
    pub stored_bytes: u64,
    /// Wall-clock seconds of reading, chunking, hashing, compressing, sealing and writing.
    pub seconds: f64,
}

impl Sample {
    /// Stored bytes per byte of source (1.0 when nothing was sampled).
    pub fn stored_ratio(&self) -> f64 {
        if self.bytes == 0 {
            1.0
        } else {
            self.stored_bytes as f64 / self.bytes as f64
        }
    }

    /// Source bytes per second that this machine read, chunked, compressed, sealed and wrote
    /// (`None` when too little was sampled to time).
    pub fn throughput(&self) -> Option<f64> {
        (self.bytes > 0 && self.seconds > 0.0).then(|| self.bytes as f64 / self.seconds)
    }
}

/// Bytes a tree node takes per entry once compressed (name, times, ids, mode as JSON), and
/// per content blob id listed in it.
const NODE_BYTES: u64 = 120;
const NODE_BLOB_BYTES: u64 = 40;
/// Bytes of the repository's own files: config, key, snapshot (each a small file).
const FIXED_BYTES: u64 = 4096;

/// What a backup of the scanned tree would store, extrapolated from the sample.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Stored {
    /// Data packs: the source's bytes times the sample's stored ratio.
    pub data_bytes: u64,
    /// Trees (one node per entry, one tree blob per directory) and the repository's own files.
    pub metadata_bytes: u64,
    /// Both.
    pub total_bytes: u64,
}

/// Extrapolates `sample` to all of `scanned`: the data stores at the sample's ratio (its
/// compression and the deduplication found within it); the metadata is modelled per entry.
pub fn extrapolate(scanned: &Scan, sample: &Sample) -> Stored {
    let data_bytes = (scanned.bytes as f64 * sample.stored_ratio()).round() as u64;
    let chunks = if sample.bytes == 0 {
        scanned.files
    } else {
        (sample.chunks as f64 * scanned.bytes as f64 / sample.bytes as f64).round() as u64
    };
    let entries = scanned.files + scanned.dirs + scanned.other;
    let metadata_bytes = entries * NODE_BYTES
        + chunks.max(scanned.files) * NODE_BLOB_BYTES
        + scanned.dirs * BLOB_OVERHEAD
        + FIXED_BYTES;
    Stored {
        data_bytes,
        metadata_bytes,
        total_bytes: data_bytes + metadata_bytes,
    }
}

/// One part of a file to sample.
#[derive(Debug, Clone)]
struct Piece {
    path: PathBuf,
    offset: u64,
    len: u64,
}

/// Walks `sources` as the backup does (no symlinks followed, excludes applied), calling
/// `file` with each regular file's path and size, and counts what it finds.
fn walk(sources: &Sources, excludes: &Excludes, mut file: impl FnMut(PathBuf, u64)) -> Result<Scan> {
    let paths = sources.paths();
    let Some(first) = paths.first() else {
        return Ok(Scan::default());
    };
    let overrides = excludes
        .to_rustic()
        .as_override()
        .map_err(|err| Error::BadExclude {
            kind: "exclude",
            pattern: excludes.patterns().join(" "),
            reason: crate::error::one_line(&err),
        })?;
    let mut builder = ignore::WalkBuilder::new(first);
    for path in &paths[1..] {
        builder.add(path);
    }
    builder
        .follow_links(false)
        .hidden(false)
        .ignore(false)
        .git_ignore(false)
        .git_exclude(false)
        .git_global(false)
        .parents(false)
        .sort_by_file_path(std::path::Path::cmp)
        .overrides(overrides);
    let mut scan = Scan::default();
    for entry in builder.build() {
        let Ok(entry) = entry else {
            scan.unreadable += 1;
            continue;
        };
        let Some(kind) = entry.file_type() else {
            scan.unreadable += 1;
            continue;
        };
        if kind.is_dir() {
            scan.dirs += 1;
        } else if kind.is_file() {
            let Ok(meta) = entry.metadata() else {
                scan.unreadable += 1;
                continue;
            };
            scan.files += 1;
            scan.bytes += meta.len();
            file(entry.into_path(), meta.len());
        } else {
            scan.other += 1;
        }
    }
    Ok(scan)
}

/// Counts the files and bytes under `sources`, reading metadata only.
///
/// # Errors
///
/// [`Error::BadExclude`] when the patterns cannot be compiled.
pub fn scan(sources: &Sources, excludes: &Excludes, progress: &dyn Progress) -> Result<Scan> {
    let task = progress.task("scan", Unit::Items, None);
    let scan = walk(sources, excludes, |_, _| task.advance(1))?;
    task.finish();
    Ok(scan)
}

/// Samples about `budget` bytes of the `scanned` tree, spread over it: every file is in the
/// sample with the same probability (the budget's share of the tree), a file up to [`SLICE`]
/// whole, a larger one as slices of [`SLICE`] at evenly spaced offsets, as many as its share
/// of the budget. The draw is keyed by the file's size and first bytes (or, under 64 KiB,
/// its name), not by its place in the tree, so copies of a file are sampled together, the
/// same slices of each, and the sample sees the deduplication between them. Pieces are
/// chunked, deduplicated and compressed on all cores.
///
/// # Errors
///
/// [`Error::BadExclude`] when the patterns cannot be compiled. Files that vanished or cannot
/// be read since the scan are skipped.
pub fn sample(
    sources: &Sources,
    excludes: &Excludes,
    scanned: &Scan,
    budget: u64,
    progress: &dyn Progress,
) -> Result<Sample> {
    let fraction = if scanned.bytes == 0 {
        0.0
    } else {
        (budget as f64 / scanned.bytes as f64).min(1.0)
    };
    let mut pieces = Vec::new();
    walk(sources, excludes, |path, size| {
        if size == 0 {
            return;
        }
        let draw = if fraction >= 1.0 {
            Some(0.0)
        } else {
            draw(&path, size)
        };
        let Some(draw) = draw else { return };
        if size <= SLICE {
            if fraction >= 1.0 || draw < fraction {
                pieces.push(Piece {
                    path,
                    offset: 0,
                    len: size,
                });
            }
            return;
        }
        if fraction >= 1.0 {
            // Everything, in consecutive slices (memory stays bounded).
            for offset in (0..size).step_by(SLICE as usize) {
                let len = SLICE.min(size - offset);
                pieces.push(Piece {
                    path: path.clone(),
                    offset,
                    len,
                });
            }
            return;
        }
        // Expected slices: the file's share of the budget; the fraction of one decided by the draw.
        let slices = ((size as f64 * fraction / SLICE as f64 + draw).floor() as u64).min(size / SLICE);
        // Evenly spaced: slice i is centred in the i-th of `slices` equal parts.
        for i in 0..slices {
            let part = size / slices;
            let offset = (i * part + part / 2).saturating_sub(SLICE / 2).min(size - SLICE);
            pieces.push(Piece {
                path: path.clone(),
                offset,
                len: SLICE,
            });
        }
    })?;
    let total: u64 = pieces.iter().map(|piece| piece.len).sum();
    let task = progress.task("sample", Unit::Bytes, Some(total));
    let started = Instant::now();
    let seen = Mutex::new(HashSet::<[u8; 32]>::new());
    let next = Mutex::new(pieces.iter());
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let cipher = crate::crypto::cipher(&rustic_core::repofile::MasterKey::new());
    let (cipher, seen, next, task) = (&cipher, &seen, &next, &task);
    let parts: Vec<Sample> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|worker| {
                scope.spawn(move || {
                    let mut sample = Sample::default();
                    let chunker = Chunker::new(POLYNOMIAL);
                    let mut buffer = Vec::new();
                    let mut pack = PackSink::new(worker);
                    loop {
                        let piece = next
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .next();
                        let Some(piece) = piece else { break };
                        if read_piece(piece, &mut buffer).is_err() {
                            continue;
                        }
                        sample.bytes += buffer.len() as u64;
                        sample.pieces += 1;
                        for chunk in chunker.chunks(&buffer) {
                            sample.chunks += 1;
                            let id: [u8; 32] = Sha256::digest(chunk).into();
                            let new = seen
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .insert(id);
                            if new {
                                sample.unique_chunks += 1;
                                sample.unique_bytes += chunk.len() as u64;
                                let compressed = zstd::bulk::compress(chunk, ZSTD_LEVEL);
                                let stored = compressed.as_deref().unwrap_or(chunk);
                                sample.stored_bytes += stored.len() as u64 + BLOB_OVERHEAD;
                                pack.add(&crate::crypto::seal(cipher, stored));
                            }
                        }
                        task.advance(piece.len);
                    }
                    sample
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    task.finish();
    let mut sample = parts.into_iter().fold(Sample::default(), |mut all, part| {
        all.bytes += part.bytes;
        all.pieces += part.pieces;
        all.chunks += part.chunks;
        all.unique_chunks += part.unique_chunks;
        all.unique_bytes += part.unique_bytes;
        all.stored_bytes += part.stored_bytes;
        all
    });
    sample.seconds = started.elapsed().as_secs_f64();
    Ok(sample)
}

/// Where a sample worker writes what the backup would store, as the backup writes a pack:
/// sealed blobs appended to a file and hashed for the pack's name. The file is unlinked as
/// soon as it is made (nothing stays behind, whatever ends the process) and written over from
/// its start every [`PACK`] bytes; without a file (a temporary directory that cannot be
/// written) the blobs are only hashed.
struct PackSink {
    file: Option<File>,
    hasher: Sha256,
    written: u64,
}

impl PackSink {
    fn new(worker: usize) -> Self {
        Self {
            file: scratch_file(worker).ok(),
            hasher: Sha256::new(),
            written: 0,
        }
    }

    fn add(&mut self, sealed: &[u8]) {
        self.hasher.update(sealed);
        if let Some(file) = self.file.as_mut()
            && file.write_all(sealed).is_err()
        {
            // A full temporary directory: the time of the writes is left out from here on.
            self.file = None;
        }
        self.written += sealed.len() as u64;
        if self.written >= PACK {
            // The pack's name; then the next pack, over the same bytes of the file.
            std::hint::black_box(self.hasher.finalize_reset());
            self.written = 0;
            if let Some(file) = self.file.as_mut()
                && file.seek(SeekFrom::Start(0)).is_err()
            {
                self.file = None;
            }
        }
    }
}

/// A file in the temporary directory, already unlinked, for worker `worker` of this process.
fn scratch_file(worker: usize) -> std::io::Result<File> {
    let path = std::env::temp_dir().join(format!(".seedship-plan-{}-{worker}", std::process::id()));
    // One left by a dead process that had this process id (killed between making and unlinking it).
    let _ = std::fs::remove_file(&path);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// A number in [0, 1) fixed by a file's size and its first 4 KiB (its name instead when under
/// 64 KiB, where reading every file would cost more than sampling): copies of a file draw the
/// same, different files of the same size do not. `None` when the file cannot be read.
fn draw(path: &std::path::Path, size: u64) -> Option<f64> {
    let mut hasher = Sha256::new();
    hasher.update(size.to_le_bytes());
    if size < 64 * 1024 {
        hasher.update(
            path.file_name()
                .map(std::os::unix::ffi::OsStrExt::as_bytes)
                .unwrap_or_default(),
        );
    } else {
        let mut head = Vec::with_capacity(4096);
        std::fs::File::open(path)
            .ok()?
            .take(4096)
            .read_to_end(&mut head)
            .ok()?;
        hasher.update(&head);
    }
    let digest = hasher.finalize();
    let mut head = [0_u8; 8];
    head.copy_from_slice(&digest[..8]);
    Some((u64::from_le_bytes(head) >> 11) as f64 / (1_u64 << 53) as f64)
}

/// Reads `piece` into `buffer` (replacing what it held).
fn read_piece(piece: &Piece, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    buffer.clear();
    let mut file = std::fs::File::open(&piece.path)?;
    file.seek(SeekFrom::Start(piece.offset))?;
    file.take(piece.len).read_to_end(buffer)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{PACK, POLYNOMIAL, PackSink};
    use crate::chunker::{CHUNK_MAX, CHUNK_MIN, Chunker, tests::noise};

    #[test]
    fn sealed_blobs_go_to_an_unlinked_file_written_over_every_pack() {
        let mut pack = PackSink::new(4242);
        let name = format!(".seedship-plan-{}-4242", std::process::id());
        assert!(!std::env::temp_dir().join(name).exists(), "unlinked at once");
        let len = |pack: &PackSink| {
            pack.file
                .as_ref()
                .expect("file")
                .metadata()
                .expect("metadata")
                .len()
        };
        let blob = noise(1 << 20, 3);
        pack.add(&blob);
        pack.add(&blob);
        assert_eq!(len(&pack), 2 << 20, "written");
        for _ in 2..PACK >> 20 {
            pack.add(&blob);
        }
        // A full pack: the next one is written over the first from the file's start.
        pack.add(&blob);
        assert_eq!(len(&pack), PACK, "no larger than a pack");
        assert_eq!(pack.written, 1 << 20);
    }

    #[test]
    fn chunks_cover_the_data_within_restics_sizes_and_resynchronise() {
        let data = noise(24 << 20, 7);
        let chunker = Chunker::new(POLYNOMIAL);
        let chunks: Vec<&[u8]> = chunker.chunks(&data).collect();
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), data.len());
        let (last, most) = chunks.split_last().expect("chunks");
        assert!(most.iter().all(|c| (CHUNK_MIN..=CHUNK_MAX).contains(&c.len())));
        assert!(!last.is_empty());
        // Content-defined: the same data after an unrelated prefix cuts at the same places.
        let mut shifted = noise(3 << 20, 9);
        shifted.extend_from_slice(&data);
        let again: Vec<&[u8]> = chunker.chunks(&shifted).collect();
        let shared = chunks.iter().filter(|c| again.contains(c)).count();
        assert!(shared + 2 >= chunks.len(), "{shared} of {}", chunks.len());
    }
}
