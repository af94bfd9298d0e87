//! Building sample trees with awkward content.

use std::{
    fs, io,
    os::unix::fs::{PermissionsExt, symlink},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

/// A small deterministic random generator (xorshift64*), so trees are reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `len` bytes that zstd compresses roughly 2:1: random words from a small vocabulary
    /// mixed with random bytes.
    pub fn text_like(&mut self, len: usize) -> Vec<u8> {
        const WORDS: [&[u8]; 8] = [
            b"seed ", b"ship ", b"backup ", b"restic ", b"drive ", b"vault ", b"data\n", b"0123 ",
        ];
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            let r = self.next_u64();
            if r.is_multiple_of(3) {
                out.extend_from_slice(&r.to_le_bytes());
            } else {
                out.extend_from_slice(WORDS[(r >> 8) as usize % WORDS.len()]);
            }
        }
        out.truncate(len);
        out
    }

    /// `len` incompressible bytes.
    pub fn random(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// Writes `content` to `path` with mode `mode`.
///
/// # Errors
///
/// I/O errors.
pub fn write_file(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    fs::write(path, content)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Sets the mtime of a file or directory (not through symlinks) to `secs.nanos` after the epoch.
///
/// # Errors
///
/// I/O errors.
pub fn set_mtime(path: &Path, secs: u64, nanos: u32) -> io::Result<()> {
    let time = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
    let file = fs::File::open(path)?;
    file.set_times(fs::FileTimes::new().set_modified(time).set_accessed(time))
}

/// The tree of the backup/restore acceptance test.
#[derive(Debug)]
pub struct SampleTree {
    pub root: PathBuf,
    /// Total bytes of regular files.
    pub bytes: u64,
}

impl SampleTree {
    /// Builds under `root` (which must not exist): regular files of several sizes and
    /// modes, empty files, one file of `big_bytes` bytes, relative, absolute and dangling
    /// symlinks, nested and empty directories, names with spaces, UTF-8 and a newline, and
    /// distinct mtimes with nanoseconds on files and directories (set bottom-up).
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn build(root: &Path, big_bytes: usize) -> io::Result<Self> {
        let mut rng = Rng::new(0x5eed_5417);
        let mut bytes = 0u64;
        let mut file = |path: &Path, content: Vec<u8>, mode: u32| -> io::Result<()> {
            bytes += content.len() as u64;
            write_file(path, &content, mode)
        };
        fs::create_dir_all(root.join("nested/deeper/deepest"))?;
        fs::create_dir_all(root.join("empty dir"))?;
        fs::create_dir_all(root.join("nested/empty"))?;
        fs::create_dir_all(root.join("ünïcödé ディレクトリ"))?;
        file(
            &root.join("big.bin"),
            {
                let mut big = rng.random(big_bytes / 2);
                big.extend(rng.text_like(big_bytes - big_bytes / 2));
                big
            },
            0o644,
        )?;
        file(&root.join("empty"), Vec::new(), 0o644)?;
        file(&root.join("nested/empty file"), Vec::new(), 0o600)?;
        file(&root.join("with space.txt"), rng.text_like(3_000), 0o644)?;
        file(&root.join("new\nline"), rng.text_like(100), 0o640)?;
        file(
            &root.join("ünïcödé ディレクトリ/файл ✓.txt"),
            rng.text_like(5_000),
            0o644,
        )?;
        file(&root.join("script.sh"), b"#!/bin/sh\necho hi\n".to_vec(), 0o755)?;
        file(&root.join("readonly"), rng.text_like(700), 0o444)?;
        file(&root.join("setgid-ish"), rng.text_like(10), 0o2750)?;
        for i in 0..40u32 {
            let size = (rng.next_u64() % 200_000) as usize;
            let content = if i.is_multiple_of(2) {
                rng.text_like(size)
            } else {
                rng.random(size)
            };
            file(&root.join(format!("nested/deeper/file-{i:03}")), content, 0o644)?;
        }
        file(
            &root.join("nested/deeper/deepest/leaf"),
            rng.text_like(1_234_567),
            0o600,
        )?;
        symlink("nested/deeper/file-000", root.join("link-relative"))?;
        symlink("/etc/hostname", root.join("link-absolute"))?;
        symlink("does/not/exist", root.join("link-dangling"))?;
        symlink("../..", root.join("nested/deeper/link-up"))?;
        fs::set_permissions(root.join("nested/deeper"), fs::Permissions::from_mode(0o750))?;
        fs::set_permissions(root.join("empty dir"), fs::Permissions::from_mode(0o700))?;
        // mtimes bottom-up, so setting a child does not disturb its directory afterwards.
        let mut secs = 1_600_000_000u64;
        set_mtimes(root, &mut secs)?;
        Ok(Self {
            root: root.to_owned(),
            bytes,
        })
    }
}

fn set_mtimes(dir: &Path, secs: &mut u64) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            set_mtimes(&entry.path(), secs)?;
        } else if file_type.is_file() {
            *secs += 3_601;
            set_mtime(&entry.path(), *secs, (*secs % 1_000_000_000) as u32)?;
        }
    }
    *secs += 86_400;
    set_mtime(dir, *secs, 123_456_789)
}
