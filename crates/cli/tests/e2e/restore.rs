//! End-to-end tests of `seedship restore`'s own content restore: a file spanning several
//! packs, with runs of zeros, restored bit-exact with its metadata and sparse; a file changed
//! in the target restored again; damaged blobs named with their pack.

use crate::agent_support::{Sandbox, restic};
use seedship_treecmp::{Rng, compare_trees, set_mtime, write_file};
use std::{
    fs,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

const MIB: usize = 1 << 20;

/// A data blob in a pack, from the index: id, offset, length.
type IndexedBlob = (String, u64, u64);

/// The packs of the repository's index (read with restic): pack id and its data blobs.
fn data_packs(sandbox: &Sandbox) -> Vec<(String, Vec<IndexedBlob>)> {
    let mut packs = Vec::new();
    for index in restic(sandbox, &["list", "index"]).lines() {
        let json: serde_json::Value =
            serde_json::from_str(&restic(sandbox, &["cat", "index", index])).expect("index json");
        for pack in json["packs"].as_array().expect("packs") {
            let blobs: Vec<_> = pack["blobs"]
                .as_array()
                .expect("blobs")
                .iter()
                .filter(|blob| blob["type"] == "data")
                .map(|blob| {
                    (
                        blob["id"].as_str().expect("id").to_owned(),
                        blob["offset"].as_u64().expect("offset"),
                        blob["length"].as_u64().expect("length"),
                    )
                })
                .collect();
            if !blobs.is_empty() {
                packs.push((pack["id"].as_str().expect("pack id").to_owned(), blobs));
            }
        }
    }
    packs
}

fn pack_path(sandbox: &Sandbox, pack: &str) -> PathBuf {
    let path = sandbox.path("repo").join("data").join(&pack[..2]).join(pack);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("make the pack writable");
    path
}

/// A 3-pack file with a 40 MiB run of zeros, a hard link and a symlink to it, plus a small
/// file: restored bit-exact with modes and mtimes, the link one file again, the zeros left as
/// a hole; restored again, nothing is written; a file changed in the target (same size,
/// other mtime) is written again.
#[test]
fn file_spanning_packs_is_restored_exact_and_sparse() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    fs::create_dir(&source).expect("source dir");
    let mut rng = Rng::new(17);
    let mut big = rng.random(40 * MIB);
    big.resize(80 * MIB, 0);
    big.extend(rng.random(44 * MIB + 12_345));
    let big_path = source.join("disk.img");
    write_file(&big_path, &big, 0o640).expect("big file");
    set_mtime(&big_path, 1_600_000_000, 123_456_789).expect("mtime");
    write_file(&source.join("small.txt"), b"small", 0o600).expect("small file");
    fs::hard_link(&big_path, source.join("disk-link.img")).expect("hard link");
    std::os::unix::fs::symlink("disk.img", source.join("disk-symlink")).expect("symlink");
    set_mtime(&source, 1_500_000_000, 1).expect("dir mtime");

    sandbox.seedship(&["backup", "source"]).success();
    let packs = data_packs(&sandbox);
    assert!(
        packs.len() >= 3,
        "the file should span 3 packs or more: {packs:?}"
    );

    let restored = sandbox
        .seedship(&["restore", "latest", "--target", "out"])
        .success();
    assert_eq!(restored.json["files_restored"], 2, "{}", restored.stdout);
    assert_eq!(restored.json["bytes_restored"], big.len() as u64 + 5);
    let inside = sandbox.path("out").join(sandbox.source_in_snapshot(&source));
    let differences = compare_trees(&source, &inside).expect("compare");
    assert!(differences.is_empty(), "restore differs: {differences:#?}");
    let restored_big = fs::metadata(inside.join("disk.img")).expect("restored");
    let restored_link = fs::metadata(inside.join("disk-link.img")).expect("restored link");
    assert_eq!(
        restored_big.ino(),
        restored_link.ino(),
        "the hard link is one file again"
    );
    let allocated = restored_big.blocks() * 512;
    assert!(
        allocated < (big.len() - 32 * MIB) as u64,
        "the run of zeros should stay a hole: {allocated} bytes allocated for {}",
        big.len()
    );

    let again = sandbox
        .seedship(&["restore", "latest", "--target", "out"])
        .success();
    assert_eq!(again.json["files_restored"], 0, "{}", again.stdout);
    assert_eq!(again.json["files_unchanged"], 2);

    // Same size, other content and mtime: not "unchanged", so written again.
    let mut damaged = big.clone();
    damaged[50 * MIB] = 1;
    damaged[90 * MIB] ^= 0xff;
    fs::write(inside.join("disk.img"), &damaged).expect("change the restored file");
    let third = sandbox
        .seedship(&["restore", "latest", "--target", "out"])
        .success();
    assert_eq!(third.json["files_restored"], 1, "{}", third.stdout);
    let differences = compare_trees(&source, &inside).expect("compare");
    assert!(
        differences.is_empty(),
        "restore over a changed file differs: {differences:#?}"
    );
}

/// Two blobs of the same length swapped inside their pack (each still decrypts: the MAC does
/// not cover the id) fail on their ids; a changed byte fails the MAC. Both name blob and pack.
#[test]
fn damaged_blobs_are_named_with_their_pack() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    fs::create_dir(&source).expect("source dir");
    // Runs of one byte value: restic's chunker cuts them at its 8 MiB maximum, and zstd
    // compresses each run to the same length.
    let mut content = Vec::new();
    for byte in 1..=3u8 {
        content.resize(content.len() + 8 * MIB, byte);
    }
    write_file(&source.join("runs.bin"), &content, 0o644).expect("file");
    sandbox.seedship(&["backup", "source"]).success();

    let packs = data_packs(&sandbox);
    let (pack, a, b) = packs
        .iter()
        .find_map(|(pack, blobs)| {
            blobs.iter().enumerate().find_map(|(i, a)| {
                blobs[i + 1..]
                    .iter()
                    .find(|b| b.2 == a.2)
                    .map(|b| (pack.clone(), a.clone(), b.clone()))
            })
        })
        .expect("two data blobs of the same length in one pack");
    let path = pack_path(&sandbox, &pack);
    let original = fs::read(&path).expect("pack");
    let mut swapped = original.clone();
    let (ra, rb) = (
        a.1 as usize..(a.1 + a.2) as usize,
        b.1 as usize..(b.1 + b.2) as usize,
    );
    swapped[ra.clone()].copy_from_slice(&original[rb.clone()]);
    swapped[rb].copy_from_slice(&original[ra]);
    fs::write(&path, &swapped).expect("swap blobs");

    let failed = sandbox
        .seedship(&["restore", "latest", "--target", "swapped"])
        .fails_with(1);
    let error = failed.one_line_error();
    assert!(
        (error.contains(&a.0) || error.contains(&b.0))
            && error.contains(&pack)
            && error.contains("hashes to"),
        "{error}"
    );

    let mut flipped = original;
    flipped[(a.1 + a.2 / 2) as usize] ^= 0x01;
    fs::write(&path, &flipped).expect("flip a byte");
    let failed = sandbox
        .seedship(&["restore", "latest", "--target", "flipped"])
        .fails_with(1);
    let error = failed.one_line_error();
    assert!(
        error.contains(&a.0) && error.contains(&pack) && error.contains("MAC"),
        "{error}"
    );
    assert_partial_is_not_unchanged(&sandbox, &source);
}

/// A restore that failed part-way left its file without the snapshot's mtime: restored again
/// from a sound repository, the file is written, not taken as unchanged.
fn assert_partial_is_not_unchanged(sandbox: &Sandbox, source: &Path) {
    let file = sandbox
        .path("flipped")
        .join(sandbox.source_in_snapshot(source))
        .join("runs.bin");
    let meta = fs::metadata(&file).expect("the failed restore created the file");
    let snapshot_mtime = fs::metadata(source.join("runs.bin")).expect("source").mtime();
    assert_ne!(
        meta.mtime(),
        snapshot_mtime,
        "a partly written file must not look restored"
    );
}

/// A repository restic wrote with its smallest packs (4 MiB): seedship restores a file spread
/// over five or more of them, random and compressible content, bit-exact with its mtime.
#[test]
fn restic_written_file_over_many_small_packs_is_restored_exact() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    fs::create_dir(&source).expect("source dir");
    let mut rng = Rng::new(23);
    let mut content = rng.random(24 * MIB);
    content.extend(rng.text_like(6 * MIB + 777));
    write_file(&source.join("mixed.bin"), &content, 0o600).expect("file");
    set_mtime(&source.join("mixed.bin"), 1_650_000_000, 5).expect("mtime");
    restic(&sandbox, &["init", "--repository-version", "2"]);
    let source_arg = source.to_str().expect("utf-8");
    restic(&sandbox, &["backup", "--pack-size", "4", source_arg]);
    let packs = data_packs(&sandbox);
    assert!(
        packs.len() >= 5,
        "restic should have written many packs: {}",
        packs.len()
    );

    let restored = sandbox
        .seedship(&["restore", "latest", "--target", "out"])
        .success();
    assert_eq!(
        restored.json["bytes_restored"],
        content.len() as u64,
        "{}",
        restored.stdout
    );
    let inside = sandbox.path("out").join(sandbox.source_in_snapshot(&source));
    let differences = compare_trees(&source, &inside).expect("compare");
    assert!(differences.is_empty(), "restore differs: {differences:#?}");
}

/// Every file below `root`, as paths relative to it.
fn files_below(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path.strip_prefix(root).expect("below").to_owned());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn include_patterns_restore_only_what_they_match_with_the_directories_above() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    for (name, text) in [
        ("a/report.pdf", "pdf a"),
        ("a/notes.txt", "notes"),
        ("b/deep/scan.pdf", "pdf b"),
        ("c/d/e.txt", "e"),
        ("c/d/f.txt", "f"),
    ] {
        let path = source.join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        write_file(&path, text.as_bytes(), 0o644).expect("write");
    }
    sandbox.seedship(&["backup", "source"]).success();
    let inside = sandbox.source_in_snapshot(&source);

    let pdfs = sandbox.path("pdfs");
    sandbox
        .seedship(&[
            "restore",
            "latest",
            "--target",
            pdfs.to_str().expect("utf-8"),
            "--include",
            "*.pdf",
        ])
        .success();
    assert_eq!(
        files_below(&pdfs.join(&inside)),
        [PathBuf::from("a/report.pdf"), PathBuf::from("b/deep/scan.pdf")]
    );
    assert_eq!(
        fs::read(pdfs.join(&inside).join("b/deep/scan.pdf")).expect("read"),
        b"pdf b"
    );

    let subtree = sandbox.path("subtree");
    let anchored = format!("/{}", inside.join("c").display());
    sandbox
        .seedship(&[
            "restore",
            "latest",
            "--target",
            subtree.to_str().expect("utf-8"),
            "--include",
            &anchored,
        ])
        .success();
    assert_eq!(
        files_below(&subtree.join(&inside)),
        [PathBuf::from("c/d/e.txt"), PathBuf::from("c/d/f.txt")]
    );

    let bad = sandbox
        .seedship(&["restore", "latest", "--target", "x", "--include", "!*.pdf"])
        .fails_with(2);
    assert!(bad.one_line_error().contains("include pattern"), "{}", bad.stderr);
}
