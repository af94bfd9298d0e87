//! End-to-end tests of `seedship backup/snapshots/restore/check`, running the real binary
//! against real directories, and Debian's `restic` as an outside reader.

use crate::agent_support::{Run, Sandbox, restic};
use crate::pty_support::Terminal;
use seedship_treecmp::{Rng, SampleTree, compare_trees, write_file};
use std::{fs, path::Path};

/// Acceptance: backup then restore of an awkward tree is bit-exact.
#[test]
fn backup_then_restore_is_bit_exact() {
    let sandbox = Sandbox::new();
    let tree = SampleTree::build(&sandbox.path("source"), 100 * 1024 * 1024).expect("sample tree");

    let backup = sandbox.seedship(&["backup", "source"]).success();
    assert_eq!(backup.json["message_type"], "summary");
    assert_eq!(backup.json["repository_created"], true);
    assert_eq!(backup.json["unreadable"].as_array().map(Vec::len), Some(0));
    assert_eq!(backup.json["bytes_processed"], tree.bytes);
    let snapshot = backup.json["snapshot_id"]
        .as_str()
        .expect("snapshot id")
        .to_owned();

    let restored = sandbox
        .seedship(&["restore", &snapshot[..8], "--target", "restored"])
        .success();
    assert_eq!(restored.json["bytes_restored"], tree.bytes);
    // Like restic, a restore recreates the absolute source path under the target.
    let inside = |target: &str| sandbox.path(target).join(sandbox.source_in_snapshot(&tree.root));
    let differences = compare_trees(&tree.root, &inside("restored")).expect("compare");
    assert!(differences.is_empty(), "restore differs: {differences:#?}");

    let check = sandbox.seedship(&["check", "--read-data"]).success();
    assert_eq!(check.json["errors"].as_array().map(Vec::len), Some(0));
}

/// The compare helper itself must notice changes, or the test above proves nothing.
#[test]
fn tree_compare_detects_each_kind_of_difference() {
    let sandbox = Sandbox::new();
    let a = sandbox.path("a");
    SampleTree::build(&a, 1024).expect("tree a");
    type Mutation = (&'static str, fn(&Path));
    let mutations: [Mutation; 6] = [
        ("content", |b| {
            fs::write(b.join("with space.txt"), b"changed").expect("write")
        }),
        ("mode", |b| {
            write_file(&b.join("empty"), b"", 0o600).expect("chmod")
        }),
        ("mtime", |b| {
            seedship_treecmp::set_mtime(&b.join("script.sh"), 1, 0).expect("mtime")
        }),
        ("symlink", |b| {
            fs::remove_file(b.join("link-dangling")).expect("rm");
            std::os::unix::fs::symlink("elsewhere", b.join("link-dangling")).expect("ln");
        }),
        ("missing", |b| {
            fs::remove_dir(b.join("nested/empty")).expect("rmdir")
        }),
        ("extra", |b| fs::write(b.join("new\nline2"), b"").expect("write")),
    ];
    for (name, mutate) in mutations {
        let b = sandbox.path(&format!("b-{name}"));
        SampleTree::build(&b, 1024).expect("tree b");
        assert!(
            compare_trees(&a, &b).expect("compare").is_empty(),
            "identical trees differ"
        );
        mutate(&b);
        assert!(
            !compare_trees(&a, &b).expect("compare").is_empty(),
            "{name} not detected"
        );
    }
}

/// Acceptance: Debian's restic reads what seedship wrote.
#[test]
fn restic_reads_a_seedship_repository() {
    let sandbox = Sandbox::new();
    let tree = SampleTree::build(&sandbox.path("source"), 3 * 1024 * 1024).expect("sample tree");
    let backup = sandbox.seedship(&["backup", "source"]).success();
    let snapshot = backup.json["snapshot_id"].as_str().expect("id").to_owned();

    let listed = restic(&sandbox, &["snapshots", "--json"]);
    let snapshots: serde_json::Value = serde_json::from_str(&listed).expect("restic json");
    assert_eq!(snapshots[0]["id"], snapshot.as_str(), "{listed}");
    let source = fs::canonicalize(&tree.root).expect("canonical");
    assert_eq!(snapshots[0]["paths"][0], source.to_str().expect("utf-8"));

    let checked = restic(&sandbox, &["check", "--read-data"]);
    assert!(checked.contains("no errors were found"), "{checked}");

    restic(
        &sandbox,
        &[
            "restore",
            "latest",
            "--target",
            &sandbox.path("by-restic").display().to_string(),
        ],
    );
    let restored = sandbox
        .path("by-restic")
        .join(sandbox.source_in_snapshot(&tree.root));
    let differences = compare_trees(&tree.root, &restored).expect("compare");
    assert!(
        differences.is_empty(),
        "restic's restore differs: {differences:#?}"
    );

    // restic chunking the same files (read again, `--force`) finds every data blob already
    // there: seedship cuts chunks exactly where restic does (vendor/rustic_cdc caches the
    // Rabin tables; they must stay the ones restic's polynomial gives).
    let again = restic(
        &sandbox,
        &["backup", "--json", "--force", &source.display().to_string()],
    );
    let summary: serde_json::Value = again
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|message| message["message_type"] == "summary")
        .unwrap_or_else(|| panic!("no summary from restic backup: {again}"));
    assert!(
        summary["total_bytes_processed"].as_u64().expect("processed") >= 3 * 1024 * 1024,
        "{summary}"
    );
    assert!(
        summary["data_added"].as_u64().expect("data_added") < 64 * 1024,
        "restic added data blobs for files seedship already stored: {summary}"
    );
}

/// Acceptance: with 1% of the bytes changed, the second backup is incremental against the
/// first and adds at most 1.1x the zstd-compressed size of the changed bytes.
///
/// The change rewrites whole small files (each below the rabin chunker's 512 KiB minimum, so
/// one chunk each): a change inside a large file would re-store the whole ~1 MiB chunks
/// around it, whatever the engine.
#[test]
fn one_percent_change_adds_about_its_compressed_size() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    let mut rng = Rng::new(42);
    fs::create_dir_all(source.join("big")).expect("mkdir");
    fs::create_dir_all(source.join("small")).expect("mkdir");
    for i in 0..12 {
        write_file(&source.join(format!("big/{i}.bin")), &rng.random(10 << 20), 0o644).expect("big");
    }
    let small_size = 16 * 1024;
    let small_count = 100;
    for i in 0..small_count {
        write_file(
            &source.join(format!("small/{i:03}.txt")),
            &rng.text_like(small_size),
            0o644,
        )
        .expect("small");
    }
    let total = 12 * (10u64 << 20) + (small_count * small_size) as u64;

    let first = sandbox.seedship(&["backup", "source"]).success();
    let size_before = sandbox.repo_bytes();

    // Rewrite 1% of the bytes: whole small files, with new compressible content.
    let changed_files = (total / 100) as usize / small_size;
    let mut compressed = 0u64;
    for i in 0..changed_files {
        let content = rng.text_like(small_size);
        compressed += zstd::bulk::compress(&content, 3).expect("zstd").len() as u64;
        write_file(&source.join(format!("small/{i:03}.txt")), &content, 0o644).expect("rewrite");
    }
    let second = sandbox.seedship(&["backup", "source"]).success();
    let size_after = sandbox.repo_bytes();

    assert_eq!(second.json["parent_id"], first.json["snapshot_id"]);
    assert_eq!(second.json["files_changed"], changed_files as u64);
    assert_eq!(second.json["files_new"], 0);
    let limit = compressed as f64 * 1.1;
    let added = second.json["data_added_packed"].as_u64().expect("added");
    let on_disk = size_after - size_before;
    eprintln!(
        "changed {changed_files} files, compressed {compressed} B, added {added} B, repository grew {on_disk} B"
    );
    assert!(
        (added as f64) <= limit,
        "summary: added {added} B > 1.1 x {compressed} B"
    );
    assert!(
        (on_disk as f64) <= limit,
        "on disk: repository grew {on_disk} B > 1.1 x {compressed} B"
    );
    assert!(
        added >= compressed / 2,
        "implausibly small: {added} B for {compressed} B compressed"
    );
}

/// Acceptance: wrong password gives exit 12, and nothing is written.
#[test]
fn wrong_password_is_exit_12_and_leaves_the_repository_sound() {
    let sandbox = Sandbox::new();
    SampleTree::build(&sandbox.path("source"), 1024).expect("tree");
    sandbox.seedship(&["backup", "source"]).success();
    let before = sandbox.repo_files();
    let failed = sandbox
        .seedship_with(
            &["backup", "source"],
            &[("SEEDSHIP_PASSWORD", "not the password")],
        )
        .fails_with(12);
    assert!(
        failed.one_line_error().contains("wrong password"),
        "{}",
        failed.stderr
    );
    assert_eq!(sandbox.repo_files(), before, "a failed open wrote files");
    sandbox.seedship(&["check", "--read-data"]).success();
}

/// Acceptance: a missing repository is exit 10 for every command but backup, and is not
/// created as a side effect.
#[test]
fn missing_repository_is_exit_10() {
    let sandbox = Sandbox::new();
    for args in [
        vec!["snapshots"],
        vec!["check"],
        vec!["restore", "latest", "--target", "out"],
    ] {
        let failed = sandbox.seedship(&args).fails_with(10);
        assert!(failed.one_line_error().contains("not found"), "{}", failed.stderr);
        assert!(!sandbox.path("repo").exists(), "{args:?} created the repository");
    }
}

/// Acceptance: a source path that does not exist is exit 1, names the path, and is found
/// before anything is written (the repository is not even created).
#[test]
fn missing_source_path_is_exit_1_before_any_write() {
    let sandbox = Sandbox::new();
    let failed = sandbox.seedship(&["backup", "no-such-dir"]).fails_with(1);
    assert!(
        failed.one_line_error().contains("no-such-dir"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.one_line_error().contains("does not exist"),
        "{}",
        failed.stderr
    );
    assert!(!sandbox.path("repo").exists());

    // With an existing repository: still refused, and the repository stays sound.
    SampleTree::build(&sandbox.path("source"), 1024).expect("tree");
    sandbox.seedship(&["backup", "source"]).success();
    let before = sandbox.repo_files();
    sandbox
        .seedship(&["backup", "source", "no-such-dir"])
        .fails_with(1);
    assert_eq!(sandbox.repo_files(), before);
    sandbox.seedship(&["check", "--read-data"]).success();
}

/// Acceptance: an unreadable source file is exit 3, named on stderr; the snapshot holds
/// everything else and the repository checks clean.
///
/// Tests run as root, which reads a `chmod 000` file anyway. The backup therefore runs as
/// user `nobody` through `setpriv` (util-linux) when we are root, so the kernel really
/// refuses the open with EACCES; as an ordinary user it runs directly.
#[test]
fn unreadable_source_file_is_exit_3() {
    let sandbox = Sandbox::new_shared();
    let source = sandbox.path("source");
    fs::create_dir_all(source.join("sub")).expect("mkdir");
    write_file(&source.join("readable.txt"), b"fine", 0o644).expect("write");
    write_file(&source.join("sub/secret.txt"), b"hidden", 0o000).expect("write");
    let failed = sandbox.seedship_unprivileged(&["backup", "source"]).fails_with(3);
    let line = failed.one_line_error();
    assert!(
        line.contains("secret.txt") && line.contains("could not be read"),
        "{line}"
    );
    let summary: serde_json::Value = serde_json::from_str(&failed.stdout).expect("summary json");
    assert_eq!(
        summary["unreadable"].as_array().map(Vec::len),
        Some(1),
        "{}",
        failed.stdout
    );
    assert_eq!(summary["files_new"], 1);
    sandbox.seedship(&["check", "--read-data"]).success();
    sandbox
        .seedship(&["restore", "latest", "--target", "out"])
        .success();
    let out = sandbox.path("out").join(sandbox.source_in_snapshot(&source));
    assert_eq!(fs::read(out.join("readable.txt")).expect("restored"), b"fine");
    assert!(!out.join("sub/secret.txt").exists());
}

/// A second backup of the same tree through another spelling of its path finds its parent
/// (paths are made canonical) and reads nothing again.
#[test]
fn second_backup_through_another_path_spelling_is_incremental() {
    let sandbox = Sandbox::new();
    SampleTree::build(&sandbox.path("source"), 1024).expect("tree");
    let first = sandbox.seedship(&["backup", "source"]).success();
    let via = format!("{}/./source/../source", sandbox.root().display());
    let second = sandbox.seedship(&["backup", &via]).success();
    assert_eq!(second.json["parent_id"], first.json["snapshot_id"]);
    assert_eq!(second.json["files_new"], 0);
    assert_eq!(second.json["files_changed"], 0);
    assert_eq!(
        second.json["data_added"].as_u64().map(|b| b < 4096),
        Some(true),
        "{}",
        second.stdout
    );
    let list = sandbox.seedship(&["snapshots"]).success();
    assert_eq!(list.json["snapshots"].as_array().map(Vec::len), Some(2));
}

/// The password never appears in the output, and the human output is readable.
#[test]
fn human_output_and_no_password_leak() {
    let sandbox = Sandbox::new();
    SampleTree::build(&sandbox.path("source"), 1024).expect("tree");
    let run: Run = sandbox.seedship_human(&["backup", "source"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("created repository"), "{}", run.stdout);
    assert!(run.stdout.contains("snapshot "), "{}", run.stdout);
    assert!(
        !run.stdout.contains(crate::agent_support::PASSWORD)
            && !run.stderr.contains(crate::agent_support::PASSWORD)
    );
    let missing = sandbox.seedship_human(&["snapshots", "--repo", "/nonexistent/repo"]);
    assert_eq!(missing.code, 10);
    assert_eq!(
        missing.stderr.trim(),
        "seedship: error: repository /nonexistent/repo not found"
    );
}

/// A backup killed mid-way (SIGKILL, as in a crash or power cut) leaves nothing torn: the
/// repository checks clean for seedship and restic, and the next backup completes.
#[test]
fn killed_backup_leaves_the_repository_sound() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    fs::create_dir_all(&source).expect("mkdir");
    let mut rng = Rng::new(7);
    for i in 0..24 {
        write_file(&source.join(format!("{i}.bin")), &rng.random(8 << 20), 0o644).expect("write");
    }
    sandbox.seedship(&["backup", "source"]).success();
    // New content, so the second backup writes new packs from its start.
    for i in 0..24 {
        write_file(&source.join(format!("{i}.bin")), &rng.random(8 << 20), 0o644).expect("write");
    }
    let mut child = sandbox.spawn_seedship(&["backup", "source"]);
    // Kill once the second backup has written at least one new pack.
    let packs = || {
        sandbox
            .repo_files()
            .iter()
            .filter(|(path, _)| path.starts_with("data"))
            .count()
    };
    let packs_before = packs();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while packs() <= packs_before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the backup finished before it could be killed");
    sandbox.seedship(&["check", "--read-data"]).success();
    // The killed backup's lock stays behind, stale, as a killed restic's does; restic's check
    // (which locks exclusively) waits for it to be removed, as after a killed restic.
    let unlocked = sandbox.seedship(&["unlock"]).success();
    assert_eq!(unlocked.json["removed"], 1, "{}", unlocked.stdout);
    restic(&sandbox, &["check", "--read-data"]);
    sandbox.seedship(&["backup", "source"]).success();
    sandbox.seedship(&["check"]).success();
}

/// The password comes from `--password-file` (first line) when given; without any password
/// source the command refuses with a one-line error.
#[test]
fn password_file_and_missing_password() {
    let sandbox = Sandbox::new();
    SampleTree::build(&sandbox.path("source"), 1024).expect("tree");
    sandbox.seedship(&["backup", "source"]).success();
    fs::write(
        sandbox.path("pw"),
        format!("{}\nignored second line\n", crate::agent_support::PASSWORD),
    )
    .expect("pw");
    let listed = sandbox
        .seedship_with(
            &["snapshots", "--password-file", "pw"],
            &[("SEEDSHIP_PASSWORD", "wrong")],
        )
        .success();
    assert_eq!(listed.json["snapshots"].as_array().map(Vec::len), Some(1));
    fs::write(sandbox.path("bad"), "not it\n").expect("bad");
    sandbox
        .seedship(&["snapshots", "--password-file", "bad"])
        .fails_with(12);
    // No password source and no terminal to ask on: a usage error naming every source.
    let none = sandbox.seedship_without_password(&["snapshots"]).fails_with(2);
    let line = none.one_line_error();
    for source in [
        "--password-file",
        "--password-command",
        "SEEDSHIP_PASSWORD_FILE",
        "SEEDSHIP_PASSWORD_COMMAND",
        "SEEDSHIP_PASSWORD",
    ] {
        assert!(line.contains(source), "{source} not named: {line}");
    }
}

/// The password sources restic has, in its order: a password file (`-p`, `--password-file`,
/// `SEEDSHIP_PASSWORD_FILE`) or command (`--password-command`, `SEEDSHIP_PASSWORD_COMMAND`),
/// else `SEEDSHIP_PASSWORD`, else a question on the terminal, answered without echo. The
/// password is never printed.
#[test]
fn password_sources_and_the_terminal_prompt() {
    let sandbox = Sandbox::new();
    SampleTree::build(&sandbox.path("source"), 1024).expect("tree");
    sandbox.seedship(&["backup", "source"]).success();
    fs::write(
        sandbox.path("pw"),
        format!("{}\n", crate::agent_support::PASSWORD),
    )
    .expect("pw");
    let wrong = [("SEEDSHIP_PASSWORD", "wrong")];
    let one_snapshot = |run: Run| {
        let run = run.success();
        assert_eq!(
            run.json["snapshots"].as_array().map(Vec::len),
            Some(1),
            "{}",
            run.stdout
        );
        assert!(
            !run.stdout.contains(crate::agent_support::PASSWORD)
                && !run.stderr.contains(crate::agent_support::PASSWORD),
            "the password was printed"
        );
    };
    // A password file from the environment, or as -p, wins over SEEDSHIP_PASSWORD.
    one_snapshot(sandbox.seedship_with(&["snapshots"], &[wrong[0], ("SEEDSHIP_PASSWORD_FILE", "pw")]));
    one_snapshot(sandbox.seedship_with(&["snapshots", "-p", "pw"], &wrong));
    // A password command: its first line of output opens the repository.
    let command = format!(
        "printf '%s\\nsecond line\\n' '{}'",
        crate::agent_support::PASSWORD
    );
    one_snapshot(sandbox.seedship_with(&["snapshots", "--password-command", &command], &wrong));
    one_snapshot(sandbox.seedship_with(
        &["snapshots"],
        &[wrong[0], ("SEEDSHIP_PASSWORD_COMMAND", &command)],
    ));
    // A command printing the wrong password is a wrong password; a failing one is named.
    sandbox
        .seedship(&["snapshots", "--password-command", "echo nope"])
        .fails_with(12);
    let failed = sandbox
        .seedship(&["snapshots", "--password-command", "exit 3"])
        .fails_with(1);
    assert!(
        failed.one_line_error().contains("--password-command"),
        "{}",
        failed.stderr
    );
    // File and command together are refused (as restic does).
    sandbox
        .seedship(&["snapshots", "-p", "pw", "--password-command", "echo x"])
        .fails_with(2);

    // On a terminal, without any source: asked, typed without echo, and it opens the repository.
    let mut command = sandbox.command(&["snapshots"], &[], false);
    command.env_remove("SEEDSHIP_PASSWORD");
    let mut term = Terminal::spawn(command);
    term.expect("Repository password:");
    term.answer(crate::agent_support::PASSWORD);
    term.expect("1 snapshot(s)");
    let (code, seen) = term.finish();
    assert_eq!(code, Some(0), "{seen}");
    assert!(
        !seen.contains(crate::agent_support::PASSWORD),
        "the typed password was echoed: {seen}"
    );
    // A wrong answer is a wrong password.
    let mut command = sandbox.command(&["snapshots"], &[], false);
    command.env_remove("SEEDSHIP_PASSWORD");
    let mut term = Terminal::spawn(command);
    term.expect("Repository password:");
    term.answer("not the password");
    let (code, seen) = term.finish();
    assert_eq!(code, Some(12), "{seen}");
}

/// `--exclude` and `--exclude-file` leave out what restic would: a pattern without a leading
/// `/` matches the end of the path (a name at any depth, or `dir/name`), one with it matches
/// from the root; a matching directory is left out with its contents; the file's `#` lines
/// and blank lines are skipped. What is left out is in neither the snapshot nor the restore.
#[test]
fn excludes_leave_files_out_of_the_snapshot_and_the_restore() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    let files = [
        "keep.txt",
        "scratch.tmp",
        "deep/er/scratch.tmp",
        "deep/er/keep.tmpl",
        "cache/blob",
        "deep/cache/blob",
        "deep/mycache/kept",
        "logs/app.log",
        "logs/old/app.log",
        "skipme/inside",
        "deep/skipme/kept",
    ];
    for file in files {
        let path = source.join(file);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, file).expect("write");
    }
    let root = fs::canonicalize(&source).expect("canonical");
    fs::write(
        sandbox.path("excludes"),
        format!(
            "# caches, at any depth\n\ncache\n  logs/*.log  \n{}/skipme\n",
            root.display()
        ),
    )
    .expect("exclude file");
    let backup = sandbox
        .seedship(&[
            "backup",
            "source",
            "--exclude",
            "*.tmp",
            "--exclude-file",
            "excludes",
        ])
        .success();
    assert_eq!(backup.json["files_new"], 5, "{}", backup.stdout);
    sandbox
        .seedship(&["restore", "latest", "--target", "out"])
        .success();
    let restored = sandbox.path("out").join(sandbox.source_in_snapshot(&source));
    let mut present: Vec<&str> = files
        .iter()
        .copied()
        .filter(|f| restored.join(f).exists())
        .collect();
    present.sort_unstable();
    assert_eq!(
        present,
        [
            "deep/er/keep.tmpl",
            "deep/mycache/kept",
            "deep/skipme/kept",
            "keep.txt",
            "logs/old/app.log"
        ]
    );
    assert!(!restored.join("cache").exists() && !restored.join("skipme").exists());
    // restic sees the same snapshot.
    let listed = restic(&sandbox, &["ls", "latest"]);
    assert!(
        !listed.contains("scratch.tmp") && !listed.contains("/cache"),
        "{listed}"
    );
    assert!(listed.contains("keep.tmpl"), "{listed}");

    // A bad pattern or a missing file is refused before the repository is touched.
    let bad = sandbox
        .seedship(&["backup", "source", "--repo", "fresh", "--exclude", "!keep.txt"])
        .fails_with(2);
    assert!(bad.one_line_error().contains("\"!keep.txt\""), "{}", bad.stderr);
    let missing = sandbox
        .seedship(&["backup", "source", "--repo", "fresh", "--exclude-file", "nope"])
        .fails_with(1);
    assert!(
        missing.one_line_error().contains("exclude file nope"),
        "{}",
        missing.stderr
    );
    assert!(!sandbox.path("fresh").exists());
}

/// Like restic, the repository cache is on by default, in $XDG_CACHE_HOME/seedship (else
/// ~/.cache/seedship), one directory per repository id; `--cache-dir`/`SEEDSHIP_CACHE_DIR`
/// move it and `--no-cache` turns it off.
#[test]
fn the_cache_directory_is_on_by_default() {
    let sandbox = Sandbox::new();
    SampleTree::build(&sandbox.path("source"), 1024).expect("tree");
    let xdg = sandbox.path("xdg-cache");
    let home = sandbox.path("home");
    let backup = sandbox
        .seedship_with(
            &["backup", "source"],
            &[("XDG_CACHE_HOME", xdg.to_str().expect("utf8"))],
        )
        .success();
    let id = backup.json["repository_id"].as_str().expect("id").to_owned();
    let holds_cache = |dir: &Path| dir.join(&id).is_dir();
    assert!(
        holds_cache(&xdg.join("seedship")),
        "no cache under XDG_CACHE_HOME"
    );
    sandbox
        .seedship_with(&["snapshots"], &[("HOME", home.to_str().expect("utf8"))])
        .success();
    assert!(
        holds_cache(&home.join(".cache/seedship")),
        "no cache under ~/.cache"
    );
    let elsewhere = sandbox.path("elsewhere");
    sandbox
        .seedship_with(
            &["snapshots"],
            &[("SEEDSHIP_CACHE_DIR", elsewhere.to_str().expect("utf8"))],
        )
        .success();
    assert!(holds_cache(&elsewhere), "no cache in SEEDSHIP_CACHE_DIR");
    let other_home = sandbox.path("home2");
    sandbox
        .seedship_with(
            &["snapshots", "--no-cache"],
            &[
                ("HOME", other_home.to_str().expect("utf8")),
                (
                    "SEEDSHIP_CACHE_DIR",
                    sandbox.path("elsewhere2").to_str().expect("utf8"),
                ),
            ],
        )
        .success();
    assert!(
        !other_home.exists() && !sandbox.path("elsewhere2").exists(),
        "--no-cache wrote a cache"
    );
}

/// Every command's --help names the environment variables it reads, and sizes take suffixes.
#[test]
fn help_names_the_environment_and_sizes_take_suffixes() {
    let sandbox = Sandbox::new();
    let help = |args: &[&str]| {
        let run = sandbox.command(args, &[], false).output().expect("help");
        String::from_utf8_lossy(&run.stdout).into_owned()
    };
    let diskprep = help(&["diskprep", "--help"]);
    for variable in [
        "SEEDSHIP_DRIVE_PASSPHRASE",
        "SEEDSHIP_CREDENTIALS",
        "SEEDSHIP_CA_CERT",
    ] {
        assert!(diskprep.contains(variable), "{variable}: {diskprep}");
    }
    let backup = help(&["backup", "--help"]);
    for variable in [
        "SEEDSHIP_PASSWORD_FILE",
        "SEEDSHIP_PASSWORD_COMMAND",
        "SEEDSHIP_PASSWORD:",
        "SEEDSHIP_REPO",
        "SEEDSHIP_CACHE_DIR",
        "XDG_CACHE_HOME",
    ] {
        assert!(backup.contains(variable), "{variable}: {backup}");
    }
    assert!(
        backup.contains("-r, --repo") && backup.contains("-p, --password-file"),
        "{backup}"
    );
    // A size that does not parse is a usage error naming it.
    let bad = sandbox.seedship(&["diskprep", "--capacity", "12Q"]).fails_with(2);
    assert!(
        bad.stderr.contains("12Q") && bad.stderr.contains("unknown unit"),
        "{}",
        bad.stderr
    );
}

/// Damage inside the repository is reported as one line naming the file and the cause,
/// without rustic_core's multi-line report and backtrace.
#[test]
fn damaged_snapshot_file_is_one_line_error() {
    let sandbox = Sandbox::new();
    SampleTree::build(&sandbox.path("source"), 1024).expect("tree");
    sandbox.seedship(&["backup", "source"]).success();
    let snapshot = fs::read_dir(sandbox.path("repo/snapshots"))
        .expect("snapshots")
        .next()
        .expect("one")
        .expect("entry");
    fs::write(snapshot.path(), b"junk").expect("damage");
    let failed = sandbox.seedship(&["snapshots"]).fails_with(1);
    let line = failed.one_line_error();
    assert!(
        line.contains("listing snapshots failed") && line.contains("cannot decrypt"),
        "{line}"
    );
    assert!(!line.contains("Backtrace"), "{line}");
    let restore = sandbox
        .seedship(&["restore", "latest", "--target", "out"])
        .fails_with(1);
    assert!(
        restore.one_line_error().contains("cannot decrypt"),
        "{}",
        restore.stderr
    );
}

/// The first backup into an empty repository is written by seedship's own writer; later
/// backups by rustic_core's archiver. They must agree exactly: rustic_core reading every file
/// again (`--no-parent`) finds every chunk and every tree already stored, the incremental
/// finds every file unchanged, and restic reads the repository.
#[test]
fn the_first_backup_writer_stores_what_later_backups_find() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    let tree = SampleTree::build(&source.join("sample"), 20 << 20).expect("sample tree");
    let extra = source.join("extra");
    fs::create_dir_all(&extra).expect("mkdir");
    let mut rng = Rng::new(17);
    // Across several refills of a worker's 16 MiB read buffer.
    write_file(&extra.join("random-40M.bin"), &rng.random(40 << 20), 0o644).expect("write");
    // Around the chunker's 512 KiB minimum, where its window is primed.
    write_file(&extra.join("min.bin"), &rng.random(512 << 10), 0o644).expect("write");
    write_file(&extra.join("min-plus-1.bin"), &rng.random((512 << 10) + 1), 0o644).expect("write");
    // The same content twice, and a hard link: stored once.
    let twice = rng.random(6 << 20);
    write_file(&extra.join("copy-a.bin"), &twice, 0o644).expect("write");
    write_file(&extra.join("copy-b.bin"), &twice, 0o600).expect("write");
    fs::hard_link(extra.join("copy-a.bin"), extra.join("hard-link.bin")).expect("link");
    // 48 MiB, of which 47 are a hole: zero chunks, all alike.
    let sparse = fs::File::create(extra.join("sparse.img")).expect("create");
    sparse.set_len(48 << 20).expect("set_len");
    std::os::unix::fs::FileExt::write_all_at(&sparse, &rng.random(1 << 20), 20 << 20).expect("write");
    drop(sparse);
    let total = tree.bytes + (40 << 20) + (1 << 20) + 1 + 3 * (6 << 20) + (48 << 20);

    let first = sandbox.seedship(&["backup", "source"]).success();
    assert_eq!(first.json["repository_created"], true);
    assert_eq!(first.json["bytes_processed"], total, "{}", first.stdout);
    let added = first.json["data_added"].as_u64().expect("data_added");
    // The copies, the hard link and the hole's zeros (47 MiB, in 512 KiB chunks all alike but
    // the two next to the data) are stored once.
    assert!(
        added < total - (12 << 20) - (44 << 20),
        "{added} of {total}: {}",
        first.stdout
    );

    let again = sandbox.seedship(&["backup", "source", "--no-parent"]).success();
    assert_eq!(again.json["parent_id"], serde_json::Value::Null);
    for field in ["files_new", "dirs", "bytes_processed"] {
        assert_eq!(again.json[field], first.json[field], "{field}: {}", again.stdout);
    }
    assert_eq!(
        again.json["data_added"], 0,
        "rustic_core cut or serialised differently: {}",
        again.stdout
    );

    let incremental = sandbox.seedship(&["backup", "source"]).success();
    assert_eq!(incremental.json["files_unchanged"], first.json["files_new"]);
    assert_eq!(incremental.json["files_new"], 0);
    assert_eq!(incremental.json["data_added"], 0, "{}", incremental.stdout);

    let checked = restic(&sandbox, &["check", "--read-data"]);
    assert!(checked.contains("no errors were found"), "{checked}");
    let snapshot = first.json["snapshot_id"].as_str().expect("id").to_owned();
    sandbox
        .seedship(&["restore", &snapshot, "--target", "restored"])
        .success();
    let restored = sandbox.path("restored").join(sandbox.source_in_snapshot(&source));
    let differences = compare_trees(&source, &restored).expect("compare");
    assert!(differences.is_empty(), "restore differs: {differences:#?}");
}

/// A first backup killed once it has written packs leaves a repository that checks clean for
/// seedship and restic, and the next backup writes it whole.
#[test]
fn a_killed_first_backup_leaves_the_repository_sound() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    fs::create_dir_all(&source).expect("mkdir");
    let mut rng = Rng::new(8);
    for i in 0..24 {
        write_file(&source.join(format!("{i}.bin")), &rng.random(8 << 20), 0o644).expect("write");
    }
    let mut child = sandbox.spawn_seedship(&["backup", "source"]);
    // Packs written whole (named by their hash); the repository appears while the backup runs.
    let packs = || {
        fs::read_dir(sandbox.path("repo/data"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|dir| fs::read_dir(dir.path()).ok())
            .flatten()
            .flatten()
            .filter(|file| file.file_name().len() == 64)
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while packs() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("kill");
    assert!(
        !child.wait().expect("wait").success(),
        "the backup finished before it could be killed"
    );
    sandbox.seedship(&["check", "--read-data"]).success();
    sandbox.seedship(&["unlock"]).success();
    restic(&sandbox, &["check", "--read-data"]);
    let done = sandbox.seedship(&["backup", "source"]).success();
    assert_eq!(done.json["files_new"], 24, "{}", done.stdout);
    assert_eq!(done.json["bytes_processed"], 24 * (8u64 << 20));
    sandbox.seedship(&["check", "--read-data"]).success();
    sandbox
        .seedship(&["restore", "latest", "--target", "out"])
        .success();
    let restored = sandbox.path("out").join(sandbox.source_in_snapshot(&source));
    let differences = compare_trees(&source, &restored).expect("compare");
    assert!(differences.is_empty(), "restore differs: {differences:#?}");
}
