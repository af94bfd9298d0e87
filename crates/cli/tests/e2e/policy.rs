//! `seedship policy set|show` on a registered agent: the import job name is validated at once
//! (nothing stored when it is refused), an offline policy is stored and read back; a later
//! `policy set` keeps what it was not asked to change, and abandons a staged initial backup
//! only with `--abandon-offline-backup`.

use crate::offline_support::*;
use crate::server_support::*;

#[test]
fn offline_policy_is_validated_and_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let server = Server::start(dir, "server", &dir.join("data"), None);
    provision(&server, dir, "acme", "laptop", false);
    let config = dir.join("agent-acme-laptop");
    let source = dir.join("source");
    make_tree(&source, 3, 5);
    let staging = dir.join("staging");
    let account = dir.join("acme.credentials");
    let owner = ["--credentials", path(&account)];
    seedship(&[&["storage", "create", "imports"][..], &owner].concat());
    let set = |job: &str| {
        seedship_output(&[
            "policy",
            "set",
            path(&source),
            "--offline",
            "--staging",
            path(&staging),
            "--job",
            job,
            "--storage-account",
            "imports",
            "--container",
            "import1",
            "--config-dir",
            path(&config),
        ])
    };

    let refused = set("Seed Job");
    assert!(
        !refused.status.success(),
        "a job name with uppercase/space is refused"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("import job name"), "{stderr}");
    assert!(
        !config.join("policy.toml").exists(),
        "nothing stored on a refused name"
    );

    // The import container does not exist yet: drives shipped to it would fail only at the
    // data centre. Refused, naming it; nothing stored.
    let missing = set("seed-job-1");
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("imports/import1"), "{stderr}");
    assert!(!config.join("policy.toml").exists(), "nothing stored");
    seedship(
        &[
            &["container", "create", "import1", "--storage-account", "imports"][..],
            &owner,
        ]
        .concat(),
    );

    // A staging location without room for the initial backup (a sparse 15 TiB file in the
    // source): refused, naming both sizes, and nothing is created, not even the directory.
    let huge = source.join("disk.img");
    std::fs::File::create(&huge)
        .and_then(|file| file.set_len(15 << 40))
        .expect("sparse file");
    let no_room = set("seed-job-1");
    assert_eq!(no_room.status.code(), Some(1), "{no_room:?}");
    let stderr = String::from_utf8_lossy(&no_room.stderr);
    assert!(
        stderr.contains("bytes free; the initial backup needs up to"),
        "{stderr}"
    );
    assert!(
        !staging.exists(),
        "a refused policy set created the staging directory"
    );
    assert!(!config.join("policy.toml").exists(), "nothing stored");
    std::fs::remove_file(&huge).expect("remove sparse file");

    let stored = set("seed-job-1");
    assert_exit(&stored, 0);
    let shown = seedship(&["policy", "show", "--config-dir", path(&config)]);
    assert_eq!(shown["offline"]["job"], "seed-job-1");
    assert_eq!(shown["offline"]["container"], "import1");
    assert_eq!(shown["offline"]["staging"], path(&staging));
    assert_eq!(shown["paths"][0], path(&source));

    // Without a registered agent there is no policy to set.
    let unregistered = seedship_output(&["policy", "show", "--config-dir", path(&dir.join("nowhere"))]);
    assert!(!unregistered.status.success());
    assert!(String::from_utf8_lossy(&unregistered.stderr).contains("seedship agent register"));
}

#[test]
fn policy_set_keeps_a_staged_offline_backup() {
    let (_tempdir, flow) = Flow::in_tempdir(2 * MIB);
    flow.backup_ok();
    let config = ["--config-dir", path(&flow.config_dir)];

    // Only the schedule changes: the offline settings stay, and the next backup still waits
    // for the import job (backing up into the staged repository) instead of backing up over
    // the network into the vault.
    json_ok(
        &[
            &["policy", "set", path(&flow.source), "--schedule", "0 3 * * *"][..],
            &config,
        ]
        .concat(),
    );
    let shown = seedship(&[&["policy", "show"][..], &config].concat());
    assert_eq!(shown["schedule"], "0 3 * * *", "{shown}");
    assert_eq!(shown["offline"]["job"], JOB, "{shown}");
    let waiting = flow.backup_ok();
    assert_eq!(message(&json_lines(&waiting), "waiting")["backed_up"], true);
    assert_eq!(
        store_listing(&flow.data_vault()).len(),
        0,
        "nothing went to the vault"
    );
    let staged = tree_contents(&flow.job_dir());

    // Another job, or no offline settings, would abandon the staged backup: refused as a
    // usage error naming the flag and the staged backup; the policy stays as it was.
    let policy_file = flow.config_dir.join("policy.toml");
    let before = std::fs::read(&policy_file).expect("policy.toml");
    let other_job = [
        "--offline",
        "--staging",
        path(&flow.staging),
        "--job",
        "seed-laptop-2",
        "--storage-account",
        "imports",
        "--container",
        "seed",
    ];
    for change in [&other_job[..], &["--no-offline"][..]] {
        let refused = run(&[&["policy", "set", path(&flow.source)][..], change, &config].concat());
        assert_eq!(refused.status.code(), Some(2), "{change:?}: {refused:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("--abandon-offline-backup") && stderr.contains(path(&flow.job_dir())),
            "{stderr}"
        );
        assert_eq!(
            std::fs::read(&policy_file).expect("policy.toml"),
            before,
            "{change:?}"
        );
    }

    // With the flag the change is made and says what it abandoned; the staged backup stays.
    let abandoned = run(&[
        &["policy", "set", path(&flow.source)][..],
        &other_job,
        &["--abandon-offline-backup"],
        &config,
    ]
    .concat());
    assert!(abandoned.status.success(), "{abandoned:?}");
    let stderr = String::from_utf8_lossy(&abandoned.stderr);
    assert!(stderr.contains("abandoned") && stderr.contains(JOB), "{stderr}");
    let shown = seedship(&[&["policy", "show"][..], &config].concat());
    assert_eq!(shown["offline"]["job"], "seed-laptop-2", "{shown}");
    assert_eq!(shown["schedule"], "0 3 * * *", "the schedule is kept: {shown}");
    assert!(
        tree_contents(&flow.job_dir()) == staged,
        "the staged backup is intact"
    );
}

/// A policy stores its exclude patterns (`policy set --exclude/--exclude-file`, restic's
/// semantics); a later `policy set` without them keeps them, `--no-exclude` drops them; the
/// policy backup leaves out what they match, and `backup --exclude` adds to them for one run.
#[test]
fn policy_excludes_are_stored_and_applied() {
    let (_tempdir, flow) = Flow::in_tempdir(MIB);
    let dir = flow.dir.as_path();
    let config = ["--config-dir", path(&flow.config_dir)];
    for (file, text) in [
        ("scratch.tmp", "t"),
        ("nested/scratch.tmp", "t"),
        ("build/out.o", "o"),
        ("nested/build/out.o", "o"),
        ("kept.txt", "k"),
        ("run-only.bak", "b"),
    ] {
        let file = flow.source.join(file);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    }
    let exclude_file = dir.join("excludes");
    std::fs::write(&exclude_file, "# build output\n\nbuild\n").expect("write");
    json_ok(
        &[
            &[
                "policy",
                "set",
                path(&flow.source),
                "--exclude",
                "*.tmp",
                "--exclude-file",
            ][..],
            &[path(&exclude_file)],
            &config,
        ]
        .concat(),
    );
    let shown = seedship(&[&["policy", "show"][..], &config].concat());
    assert_eq!(
        shown["excludes"],
        serde_json::json!(["*.tmp", "build"]),
        "{shown}"
    );
    assert_eq!(
        shown["offline"]["job"], JOB,
        "the offline settings are kept: {shown}"
    );
    // A later change of the schedule keeps them; a bad pattern is refused and changes nothing.
    json_ok(
        &[
            &["policy", "set", path(&flow.source), "--schedule", "0 4 * * *"][..],
            &config,
        ]
        .concat(),
    );
    let shown = seedship(&[&["policy", "show"][..], &config].concat());
    assert_eq!(
        shown["excludes"],
        serde_json::json!(["*.tmp", "build"]),
        "{shown}"
    );
    let refused = run(&[
        &["policy", "set", path(&flow.source), "--exclude", "[oops"][..],
        &config,
    ]
    .concat());
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("\"[oops\""),
        "{refused:?}"
    );

    // The staged initial backup leaves them out, and this run's --exclude too.
    let staged = run(&[&["--json", "backup", "--exclude", "*.bak"][..], &config].concat());
    assert_exit(&staged, 0);
    let target = dir.join("restored");
    let repository = flow.job_dir().join("repository");
    json_ok(&[
        "restore",
        "latest",
        "--target",
        path(&target),
        "-r",
        path(&repository),
    ]);
    let restored = target.join(
        std::fs::canonicalize(&flow.source)
            .expect("canonical")
            .strip_prefix("/")
            .expect("absolute"),
    );
    assert!(restored.join("kept.txt").is_file(), "the rest is backed up");
    for left_out in [
        "scratch.tmp",
        "nested/scratch.tmp",
        "build",
        "nested/build",
        "run-only.bak",
    ] {
        assert!(!restored.join(left_out).exists(), "{left_out} was backed up");
    }

    json_ok(
        &[
            &["policy", "set", path(&flow.source), "--no-exclude"][..],
            &config,
        ]
        .concat(),
    );
    let shown = seedship(&[&["policy", "show"][..], &config].concat());
    assert!(shown.get("excludes").is_none(), "{shown}");
}
