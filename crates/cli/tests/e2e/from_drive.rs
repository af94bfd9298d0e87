//! End-to-end tests of `seedship restore --from-drive`: a repository prepared onto two drives
//! with spanning and the drive key on the drives (wrapped to the owner's key, as an export
//! writes them), restored straight from the drives bit-exact; `--copy-to` and `restic check
//! --read-data` on the copy; a flipped byte and a truncated data file named with their
//! ranges while everything else is restored; drives of two sets mixed, a wrong owner key and
//! a drive without its key refused with their exit codes.

use crate::agent_support::{PASSWORD, Sandbox};
use seedship_treecmp::{SampleTree, compare_trees};
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

const PASSPHRASE: &str = "drive passphrase, not secret";
/// Exit codes (docs/cli.md).
const WRONG_KEY: i32 = 12;
const DRIVES_DAMAGED: i32 = 29;
const NOT_ONE_SET: i32 = 30;

/// A backed-up sample tree, the owner's key pair, and the repository prepared onto two
/// drives `d1`, `d2` (session `export-1`) with the key on the drives.
pub(crate) struct Exported {
    sandbox: Sandbox,
    source: PathBuf,
}

impl Exported {
    pub(crate) fn new() -> Self {
        let sandbox = Sandbox::new();
        let source = sandbox.path("source");
        SampleTree::build(&source, 12 << 20).expect("sample tree");
        sandbox.seedship(&["backup", "source"]).success();
        sandbox.seedship(&["keygen", "--out", "owner"]).success();
        let exported = Self { sandbox, source };
        let drives = exported.prepare("export-1", &["d1", "d2"], "owner.pub", true);
        assert_eq!(drives, 2, "the repository should span two drives");
        exported
    }

    /// `drive prepare` of the repository onto `drives` with a capacity that needs two of them;
    /// answers how many were used.
    fn prepare(&self, session: &str, drives: &[&str], public_key: &str, key_on_drive: bool) -> usize {
        let capacity = (self.sandbox.repo_bytes() / 2 + (3 << 20)).to_string();
        let mut args = vec!["drive", "prepare", "--session", session, "--srcdir", "repo"];
        args.extend([
            "--dstdir",
            "vault-a/restore",
            "--encrypt",
            "--service-key",
            public_key,
        ]);
        args.extend(["--not-a-mount-point", "--capacity", &capacity]);
        if key_on_drive {
            args.push("--key-on-drive");
        }
        let journals: Vec<String> = drives.iter().map(|d| format!("{d}.jrn")).collect();
        for (drive, journal) in drives.iter().zip(&journals) {
            fs::create_dir(self.sandbox.path(drive)).expect("drive directory");
            args.extend(["--drive", drive, "--journal", journal]);
        }
        let run = self
            .sandbox
            .seedship_with(&args, &[("SEEDSHIP_DRIVE_PASSPHRASE", PASSPHRASE)])
            .success();
        let summary: serde_json::Value =
            serde_json::from_str(run.stdout.lines().last().expect("summary")).expect("summary json");
        summary["summary"]["drives"].as_array().expect("drives").len()
    }

    /// `seedship restore --from-drive ... --key KEY latest --target TARGET` plus `extra`.
    pub(crate) fn restore(
        &self,
        drives: &[&str],
        key: &str,
        target: &str,
        extra: &[&str],
    ) -> crate::agent_support::Run {
        let mut args = vec!["restore", "latest", "--target", target, "--key", key];
        for drive in drives {
            args.extend(["--from-drive", drive]);
        }
        args.extend(extra);
        self.sandbox.seedship(&args)
    }

    /// Where the source lands under `target`.
    fn restored(&self, target: &str) -> PathBuf {
        self.sandbox
            .path(target)
            .join(self.sandbox.source_in_snapshot(&self.source))
    }

    /// The largest file below drive `drive`'s session directory: a segment of the data pack.
    pub(crate) fn largest_data_file(&self, drive: &str) -> PathBuf {
        let mut files = Vec::new();
        walk(&self.sandbox.path(drive).join("export-1/data"), &mut files);
        files
            .into_iter()
            .max_by_key(|path| fs::metadata(path).expect("metadata").len())
            .expect("data files")
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Asserts a restore that met damage: exit 29, every damaged range named with its
/// repository file and drive file, the files it broke named, and every other file restored
/// exactly. Answers the damage list.
#[track_caller]
fn damaged_but_rest_restored(
    exported: &Exported,
    run: crate::agent_support::Run,
    target: &str,
    drive_file: &Path,
    status: &str,
) -> Vec<serde_json::Value> {
    let run = run.fails_with(DRIVES_DAMAGED);
    let damaged = run.json["damaged"].as_array().expect("damaged list").clone();
    assert!(!damaged.is_empty(), "{}", run.stdout);
    assert!(
        damaged.iter().any(|d| d["status"] == status
            && exported
                .sandbox
                .root()
                .join(d["drive_file"].as_str().expect("drive file"))
                == drive_file),
        "no {status} range of {} named: {}",
        drive_file.display(),
        run.stdout
    );
    let mut incomplete = Vec::new();
    for damage in &damaged {
        let file = damage["file"].as_str().expect("file");
        assert!(file.starts_with("data/") && file.len() == 5 + 3 + 64, "{file}");
        assert!(damage["len"].as_u64().expect("len") > 0);
        for path in damage["restored_files"].as_array().expect("restored files") {
            incomplete.push(exported.sandbox.root().join(path.as_str().expect("path")));
        }
    }
    incomplete.sort();
    incomplete.dedup();
    assert!(
        !incomplete.is_empty(),
        "the damage broke no restored file: {}",
        run.stdout
    );
    assert_eq!(
        run.json["files_damaged"].as_u64(),
        Some(incomplete.len() as u64),
        "{}",
        run.stdout
    );
    let inside = exported.restored(target);
    let differences = compare_trees(&exported.source, &inside).expect("compare");
    assert!(!differences.is_empty(), "the damaged files cannot be whole");
    for difference in &differences {
        assert!(
            incomplete.contains(&inside.join(&difference.path)),
            "{difference} differs but is not named as damaged: {incomplete:?}"
        );
    }
    damaged
}

#[test]
fn from_drive_restores_bit_exact_and_the_copy_passes_restic_check() {
    let exported = Exported::new();
    let sandbox = &exported.sandbox;
    // Nothing on the drives names a repository file: names live in the encrypted manifests.
    let pack_names: Vec<String> = sandbox
        .repo_files()
        .iter()
        .filter_map(|(path, _)| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|name| name.len() == 64)
        .collect();
    for drive in ["d1", "d2"] {
        let mut files = Vec::new();
        walk(&sandbox.path(drive), &mut files);
        for file in files {
            let name = file.to_string_lossy();
            assert!(!pack_names.iter().any(|p| name.contains(p.as_str())), "{name}");
        }
        assert!(sandbox.path(drive).join("seedship-drive.key").is_file());
    }

    let run = exported.restore(&["d1", "d2"], "owner.key", "out", &[]).success();
    assert_eq!(run.json["files_damaged"], 0, "{}", run.stdout);
    assert!(
        run.json["repository"]
            .as_str()
            .expect("location")
            .starts_with("drives:")
    );
    let differences = compare_trees(&exported.source, &exported.restored("out")).expect("compare");
    assert!(
        differences.is_empty(),
        "restore from drives differs: {differences:#?}"
    );

    // The drives in the other order, through a verified local copy.
    let run = exported
        .restore(&["d2", "d1"], "owner.key", "out2", &["--copy-to", "copy"])
        .success();
    assert_eq!(run.json["copied_to"]["damaged"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        run.json["repository"].as_str(),
        Some("copy"),
        "the restore reads the copy"
    );
    let differences = compare_trees(&exported.source, &exported.restored("out2")).expect("compare");
    assert!(
        differences.is_empty(),
        "restore from the copy differs: {differences:#?}"
    );
    let output = Command::new("restic")
        .args(["--no-cache", "--repo"])
        .arg(sandbox.path("copy"))
        .args(["check", "--read-data"])
        .env("RESTIC_PASSWORD", PASSWORD)
        .output()
        .expect("restic must be installed (scripts/install-test-deps.sh)");
    assert!(
        output.status.success(),
        "restic check --read-data of the copy failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_flipped_byte_is_named_with_its_range_and_everything_else_is_restored() {
    let exported = Exported::new();
    let flipped = exported.largest_data_file("d1");
    let mut bytes = fs::read(&flipped).expect("data file");
    bytes[1000] ^= 0x20;
    fs::write(&flipped, &bytes).expect("flip a byte");

    let run = exported.restore(&["d1", "d2"], "owner.key", "out", &[]);
    let damaged = damaged_but_rest_restored(&exported, run, "out", &flipped, "changed");
    assert_eq!(damaged[0]["offset"], 0, "the first range: {damaged:?}");
    assert_eq!(damaged[0]["len"], 4 << 20);

    // Through --copy-to: the damaged pack is left out of the copy, the restore reads the drives.
    let run = exported.restore(&["d1", "d2"], "owner.key", "out2", &["--copy-to", "copy"]);
    assert_eq!(
        run.json["copied_to"]["damaged"][0]["drive_file"]
            .as_str()
            .map(|file| exported.sandbox.root().join(file)),
        Some(flipped.clone()),
        "{}",
        run.stdout
    );
    damaged_but_rest_restored(&exported, run, "out2", &flipped, "changed");

    // The damaged files come back from the vault (here the repository the drives were made
    // of): a restore into the same target writes only them.
    let run = exported
        .sandbox
        .seedship(&["restore", "latest", "--target", "out"])
        .success();
    assert!(run.json["files_unchanged"].as_u64().expect("unchanged") > 0);
    let differences = compare_trees(&exported.source, &exported.restored("out")).expect("compare");
    assert!(differences.is_empty(), "after the repair: {differences:#?}");
}

#[test]
fn a_truncated_data_file_is_named_and_everything_else_is_restored() {
    let exported = Exported::new();
    let truncated = exported.largest_data_file("d1");
    fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .and_then(|file| file.set_len(1000))
        .expect("truncate");
    let run = exported.restore(&["d1", "d2"], "owner.key", "out", &[]);
    damaged_but_rest_restored(&exported, run, "out", &truncated, "truncated");
}

#[test]
fn mixed_sets_a_wrong_key_and_a_drive_without_its_key_are_refused() {
    let exported = Exported::new();
    let sandbox = &exported.sandbox;
    assert_eq!(exported.prepare("export-2", &["d3", "d4"], "owner.pub", true), 2);
    let run = exported
        .restore(&["d1", "d4"], "owner.key", "out", &[])
        .fails_with(NOT_ONE_SET);
    let message = run.one_line_error();
    assert!(
        message.contains("d4") && message.contains("belongs to another set"),
        "{message}"
    );
    let run = exported
        .restore(&["d1"], "owner.key", "out", &[])
        .fails_with(NOT_ONE_SET);
    let message = run.one_line_error();
    assert!(message.contains("drive(s) 2 of 2 not given"), "{message}");

    sandbox.seedship(&["keygen", "--out", "other"]).success();
    let run = exported
        .restore(&["d1", "d2"], "other.key", "out", &[])
        .fails_with(WRONG_KEY);
    let message = run.one_line_error();
    assert!(message.contains("wrapped to public key"), "{message}");

    assert_eq!(exported.prepare("import-1", &["d5", "d6"], "owner.pub", false), 2);
    let run = exported
        .restore(&["d5", "d6"], "owner.key", "out", &[])
        .fails_with(NOT_ONE_SET);
    let message = run.one_line_error();
    assert!(message.contains("carries no drive key"), "{message}");
    assert!(!sandbox.path("out").exists(), "nothing restored");
}
