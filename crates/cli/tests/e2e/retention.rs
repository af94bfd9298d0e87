//! `forget` and `prune` by restic's keep rules, and restic's locks on both sides: seedship
//! refuses (exit 11, naming the holder) while restic holds a conflicting lock, restic refuses
//! while seedship does, and stale locks block until `unlock` removes them, as restic's do.

use crate::agent_support::{PASSWORD, ResticHolding, Sandbox, lock_files, restic};
use seedship_treecmp::{Rng, write_file};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `n` backups of `source`, each after adding a file of random bytes.
fn backups(sandbox: &Sandbox, source: &Path, n: usize) {
    let mut rng = Rng::new(7);
    for i in 0..n {
        std::fs::create_dir_all(source).expect("mkdir");
        write_file(&source.join(format!("file-{i}")), &rng.random(256 * 1024), 0o644).expect("write");
        sandbox
            .seedship(&["backup", source.to_str().expect("utf-8")])
            .success();
    }
}

#[test]
fn forget_and_prune_keep_what_the_rules_say_and_restic_reads_the_result() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    backups(&sandbox, &source, 4);
    let before = sandbox.repo_bytes();

    let dry = sandbox
        .seedship(&["forget", "--keep-last", "2", "--dry-run"])
        .success();
    assert_eq!(dry.json["dry_run"], true, "{}", dry.stdout);
    assert_eq!(dry.json["groups"][0]["remove"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        sandbox.seedship(&["snapshots"]).success().json["snapshots"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );

    // Rules nobody gave, or in a form restic does not know, are usage errors: nothing goes.
    let none = sandbox.seedship(&["forget"]).fails_with(2);
    assert!(none.one_line_error().contains("keep rule"), "{}", none.stderr);
    let weeks = sandbox.seedship(&["forget", "--keep-within", "3w"]).fails_with(2);
    assert!(weeks.one_line_error().contains("\"3w\""), "{}", weeks.stderr);

    let forgot = sandbox
        .seedship(&["forget", "--keep-last", "2", "--prune"])
        .success();
    let lines: Vec<serde_json::Value> = forgot
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    assert_eq!(lines[0]["message_type"], "forget", "{}", forgot.stdout);
    assert_eq!(lines[0]["removed"], 2);
    let kept: Vec<&str> = lines[0]["groups"][0]["keep"]
        .as_array()
        .expect("keep")
        .iter()
        .map(|kept| kept["id"].as_str().expect("id"))
        .collect();
    assert_eq!(lines[1]["message_type"], "prune", "{}", forgot.stdout);
    assert!(
        lines[1]["packs_removed"].as_u64().expect("packs") > 0,
        "{}",
        forgot.stdout
    );

    let remaining: Vec<serde_json::Value> =
        serde_json::from_str(&restic(&sandbox, &["snapshots", "--json"])).expect("restic JSON");
    let mut remaining: Vec<&str> = remaining.iter().map(|s| s["id"].as_str().expect("id")).collect();
    let mut kept_sorted = kept.clone();
    remaining.sort_unstable();
    kept_sorted.sort_unstable();
    assert_eq!(remaining, kept_sorted, "restic sees exactly the kept snapshots");
    restic(&sandbox, &["check", "--read-data"]);
    assert!(sandbox.repo_bytes() < before, "prune freed nothing");
    // The newest snapshot still restores bit-exact.
    let target = sandbox.path("restored");
    sandbox
        .seedship(&["restore", "latest", "--target", target.to_str().expect("utf-8")])
        .success();
    seedship_treecmp::compare_trees(&source, &target.join(sandbox.source_in_snapshot(&source)))
        .expect("restored tree equals the source");
    assert_eq!(lock_files(&sandbox.path("repo")), 0, "every lock was removed");
}

#[test]
fn restic_and_seedship_honour_each_others_locks() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("source");
    backups(&sandbox, &source, 1);
    let repo = sandbox.path("repo");

    // restic holds a shared lock: seedship's exclusive prune and forget give way (exit 11)
    // naming restic's process; a seedship backup shares the repository with it.
    let holding = ResticHolding::start(&repo, PASSWORD);
    let refused = sandbox.seedship(&["prune"]).fails_with(11);
    let message = refused.one_line_error();
    assert!(message.contains(&format!("PID {}", holding.pid)), "{message}");
    sandbox.seedship(&["forget", "--keep-last", "1"]).fails_with(11);
    sandbox
        .seedship(&["backup", source.to_str().expect("utf-8")])
        .success();
    holding.finish();
    sandbox.seedship(&["prune"]).success();

    // seedship holds a lock (a backup, stopped while it holds it): restic's prune refuses.
    let mut rng = Rng::new(11);
    write_file(&source.join("big"), &rng.random(64 * 1024 * 1024), 0o644).expect("write");
    let mut backup = sandbox.spawn_seedship(&["backup", source.to_str().expect("utf-8")]);
    let pid = rustix::process::Pid::from_raw(i32::try_from(backup.id()).expect("pid")).expect("pid");
    let deadline = Instant::now() + Duration::from_secs(30);
    while lock_files(&repo) == 0 {
        assert!(Instant::now() < deadline, "seedship never took its lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).expect("SIGSTOP");
    let restic_prune = Command::new("restic")
        .args(["--no-cache", "--repo"])
        .arg(&repo)
        .arg("prune")
        .env("RESTIC_PASSWORD", PASSWORD)
        .output()
        .expect("restic");
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).expect("SIGCONT");
    let stderr = String::from_utf8_lossy(&restic_prune.stderr);
    assert!(
        !restic_prune.status.success(),
        "restic pruned under seedship's lock"
    );
    assert!(
        stderr.contains(&format!("locked by PID {}", backup.id())),
        "restic did not name seedship's lock: {stderr}"
    );
    assert!(
        backup.wait().expect("wait").success(),
        "the stopped backup failed"
    );

    // A lock whose process is gone (restic killed) is stale: it still blocks, as restic's
    // stale locks do, and the error says `seedship unlock` removes it; unlock removes only it.
    let killed = ResticHolding::start(&repo, PASSWORD);
    killed.kill();
    assert_eq!(lock_files(&repo), 1);
    let blocked = sandbox.seedship(&["prune"]).fails_with(11);
    assert!(
        blocked.one_line_error().contains("seedship unlock"),
        "{}",
        blocked.stderr
    );
    let unlocked = sandbox.seedship(&["unlock"]).success();
    assert_eq!(unlocked.json["removed"], 1, "{}", unlocked.stdout);
    assert_eq!(lock_files(&repo), 0);
    sandbox.seedship(&["prune"]).success();
    restic(&sandbox, &["check", "--read-data"]);
}
