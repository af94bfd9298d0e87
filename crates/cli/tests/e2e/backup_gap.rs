//! No backup gap while the drives travel (issue 18): under an offline policy every run before
//! the import job is Completed (Creating, Shipping, Transferring) backs up into the staged
//! repository (exit 0, the summary and
//! the waiting line); the drives carry what was staged when they were prepared; the run after
//! the job completed seeds the vault from the import and uploads exactly what the staged
//! repository gained since (the catch-up), so the vault holds every snapshot and restic checks
//! and restores it.

use std::process::Command;

use crate::offline_support::*;
use crate::server_support::*;
use seedship_treecmp::Rng;

/// The summary and waiting messages of a backup made while the job is `state`.
fn backed_up_while(output: &std::process::Output, state: &str) -> serde_json::Value {
    assert_exit(output, 0);
    let lines = json_lines(output);
    let kinds: Vec<_> = lines.iter().map(|line| line["message_type"].clone()).collect();
    assert_eq!(kinds, ["summary", "waiting"], "{lines:?}");
    let waiting = message(&lines, "waiting");
    assert_eq!(waiting["state"], state, "{waiting}");
    assert_eq!(waiting["backed_up"], true, "{waiting}");
    message(&lines, "summary").clone()
}

#[test]
fn backups_go_on_while_the_drives_travel_and_the_vault_catches_up() {
    let Some(_) = restic() else { return };
    let (_tempdir, flow) = Flow::in_tempdir(8 * MIB);
    let repository = flow.job_dir().join("repository");
    let first = json_lines(&flow.backup_ok());
    let staged_id = message(&first, "summary")["repository_id"].clone();
    flow.diskprep();
    let prepared = store_listing(&repository);

    // Creating, Shipping, Transferring: each run backs up into the staged repository.
    let mut rng = Rng::new(18);
    let mut packed = 0;
    std::fs::write(flow.source.join("while-creating.bin"), rng.random(2 * MIB)).expect("write");
    let summary = backed_up_while(&flow.backup(), "Creating");
    assert_eq!(summary["repository"], path(&repository), "{summary}");
    assert_eq!(summary["repository_id"], staged_id, "{summary}");
    assert!(summary["parent_id"].is_string(), "incremental: {summary}");
    packed += summary["data_added_packed"].as_u64().expect("packed");
    flow.ship();
    std::fs::write(flow.source.join("while-shipping.bin"), rng.random(3 * MIB)).expect("write");
    let run = run(&[
        "--json",
        "agent",
        "run",
        "--once",
        "--config-dir",
        path(&flow.config_dir),
    ]);
    packed += backed_up_while(&run, "Shipping")["data_added_packed"]
        .as_u64()
        .expect("packed");
    // As a person sees it: the summary, then the waiting line; exit 0.
    std::fs::write(flow.source.join("small.txt"), b"written while shipping").expect("write");
    let human = command(&["backup", "--config-dir", path(&flow.config_dir)])
        .output()
        .expect("backup");
    assert_exit(&human, 0);
    let stdout = String::from_utf8_lossy(&human.stdout);
    assert!(stdout.contains(" saved (parent "), "{stdout}");
    assert!(
        stdout.ends_with(&format!("\nwaiting for import job {JOB} (Shipping)\n")),
        "{stdout}"
    );
    // The data centre receives the first drive and starts its copy: Transferring.
    let job = json_ok(&["job", "show", JOB, "--credentials", path(&flow.account)]);
    let summary = &job[0]["summary"];
    let drive_id = summary["drives"][0]["drive_id"]
        .as_str()
        .expect("drive id")
        .to_owned();
    let account = summary["account"].as_str().expect("account").to_owned();
    let operator = seedship_api::Client::new(
        &seedship_api::Credentials::load(&flow.operator).expect("operator credentials"),
    )
    .expect("client");
    for action in [
        seedship_api::JobAction::Receive {
            drive_id: drive_id.clone(),
        },
        seedship_api::JobAction::StartTransfer { drive_id },
    ] {
        operator.job_action(&account, JOB, &action).expect("job action");
    }
    std::fs::write(flow.source.join("while-transferring.bin"), rng.random(MIB)).expect("write");
    packed += backed_up_while(&flow.backup(), "Transferring")["data_added_packed"]
        .as_u64()
        .expect("packed");
    assert_eq!(
        store_listing(&flow.data_vault()).len(),
        0,
        "nothing went to the vault"
    );

    // The data centre imports the drives: they carried the staged repository as it was when
    // they were prepared, not the later backups.
    flow.receive_and_return();
    let container = object_dir(&flow.server.data_dir, "containers", "seed").join(JOB);
    assert_eq!(
        store_listing(&container),
        prepared,
        "the drives carry the prepared listing"
    );
    let staged = store_listing(&repository);
    let gained: u64 = staged
        .iter()
        .filter(|(key, _)| !prepared.contains_key(*key))
        .map(|(_, size)| size)
        .sum();

    // The next run seeds the vault, catches up and backs up incrementally (nothing changed).
    let received_before = flow.vault_bytes_received();
    let lines = json_lines(&flow.backup_ok());
    let received = flow.vault_bytes_received() - received_before;
    let seeded = &message(&lines, "seeded")["seeded"];
    let summary = message(&lines, "summary");
    assert_eq!(summary["repository_id"], staged_id, "{summary}");
    assert!(summary["parent_id"].is_string(), "incremental: {summary}");
    let vault = store_listing(&flow.data_vault());
    for (key, size) in &staged {
        assert_eq!(vault.get(key), Some(size), "staged file {key} in the vault");
    }
    let final_backup: u64 = vault
        .iter()
        .filter(|(key, _)| !staged.contains_key(*key))
        .map(|(_, size)| size)
        .sum();
    let caught_up = received - final_backup;
    eprintln!(
        "catch-up uploaded {caught_up} bytes for {packed} bytes packed by the backups while the drives travelled"
    );
    assert_eq!(
        caught_up, gained,
        "the catch-up sent exactly what was staged later"
    );
    assert_eq!(seeded["caught_up"]["bytes"].as_u64(), Some(caught_up), "{seeded}");
    assert_eq!(seeded["caught_up"]["snapshots"], 4, "{seeded}");
    assert!(packed >= (6 * MIB) as u64, "random data does not compress");
    assert!(
        caught_up as f64 <= 1.1 * packed as f64,
        "catch-up sent {caught_up} bytes for {packed} bytes packed"
    );

    // A run killed during the catch-up (here: after the packs, before the snapshots) left no
    // `seeded.toml`: the next run seeds again (nothing to copy) and uploads the rest.
    let later_snapshots: Vec<&String> = staged
        .keys()
        .filter(|key| key.starts_with("snapshots/") && !prepared.contains_key(*key))
        .collect();
    for key in &later_snapshots {
        std::fs::remove_file(flow.data_vault().join(key)).expect("remove from the vault");
    }
    std::fs::remove_file(flow.job_dir().join("seeded.toml")).expect("remove seeded.toml");
    let lines = json_lines(&flow.backup_ok());
    let seeded = &message(&lines, "seeded")["seeded"];
    assert_eq!(seeded["copied"], 0, "{seeded}");
    assert_eq!(seeded["caught_up"]["files"], 4, "{seeded}");
    assert_eq!(seeded["caught_up"]["snapshots"], 4, "{seeded}");
    let vault = store_listing(&flow.data_vault());
    for key in later_snapshots {
        assert_eq!(vault.get(key), staged.get(key), "{key} uploaded again");
    }

    // Every snapshot is in the vault; restic checks every byte and restores the latest.
    let repo = flow.agent.repository();
    let cache = flow.dir.join("restic-cache");
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"])).expect("JSON");
    assert_eq!(snapshots.as_array().map(Vec::len), Some(7), "{snapshots}");
    restic_ok(&repo, &cache, &["check", "--read-data"]);
    assert_restic_restores_latest(&repo, &cache, &flow.dir.join("restored"), &flow.source);
    // Seeded and caught up once: the next run only backs up.
    let lines = json_lines(&flow.backup_ok());
    assert_eq!(lines.len(), 1, "{lines:?}");
}

#[test]
fn diskprep_never_lists_the_staged_repository_while_a_backup_writes_it() {
    let (_tempdir, flow) = Flow::in_tempdir(MIB);
    flow.backup_ok();
    // A backup holds the staging lock (as a run into the staged repository does).
    let lock = flow.job_dir().join("staging.lock");
    // `--no-fork`: the process killed below is the one holding the lock.
    let mut holder = Command::new("flock")
        .arg("--no-fork")
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .expect("flock");
    while std::fs::metadata(&lock).is_err() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let drive = flow.drive(1);
    let args = flow.diskprep_onto(&[&drive], &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let refused = run(&args);
    holder.kill().expect("kill flock");
    holder.wait().expect("wait");
    assert_exit(&refused, 1);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("a backup is writing the staged repository"),
        "{stderr}"
    );
    assert!(!flow.job_dir().join("journals").exists(), "nothing prepared");
    // Released: diskprep goes on.
    json_ok(&args);
}
