//! The offline-seeding workflow end to end, on the real binary and a real server on loopback:
//! an offline policy stages the first backup; `diskprep` spans it over two drives, creates the
//! import job and records the shipment; under `--wait-for-import` a scheduled run while the
//! job is Shipping only waits (exit code 22, staging unchanged); the operator receives the drives and ships them back;
//! the next `backup` seeds the vault and uploads only the change; restic lists and restores
//! both snapshots; an agent killed during an incremental completes on the next run and
//! `check --read-data` passes; a server killed while it seeds the vault finishes seeding when
//! the next backup asks again; a diskprep killed while it copies resumes on its next run;
//! `agent run` keeps its schedule through a waiting run; a cancelled job ends with code 23.
//! An operator's mistake costs nothing: diskprep never erases a backup path, the staging
//! location, a server's data directory or someone's files without the explicit flag, checks
//! the job details and the destination before erasing, and never copies what an interrupted
//! backup left half-written.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::offline_support::*;
use crate::server_support::*;
use seedship_treecmp::{Rng, compare_trees};

#[test]
fn offline_seeding_end_to_end() {
    let Some(_) = restic() else { return };
    let (_tempdir, flow) = Flow::in_tempdir(16 * MIB);
    flow.wait_for_import();
    let dir = flow.dir.as_path();

    // First run: the initial backup goes to the staging location.
    let first = flow.backup_ok();
    let lines = json_lines(&first);
    let staged_id = message(&lines, "summary")["repository_id"]
        .as_str()
        .expect("repository id")
        .to_owned();
    assert_eq!(message(&lines, "staged")["job"], JOB);
    let repository = flow.job_dir().join("repository");
    assert!(repository.join("config").is_file(), "staged repository");
    assert!(flow.job_dir().join("job.toml").is_file());
    assert_eq!(
        store_listing(&flow.data_vault()).len(),
        0,
        "nothing went to the vault"
    );

    // Before the job exists: waiting, "not created".
    let waiting = flow.backup();
    assert_eq!(waiting.status.code(), Some(WAITING), "{waiting:?}");
    let lines = json_lines(&waiting);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["message_type"], "waiting");
    assert!(lines[0]["state"].is_null(), "{lines:?}");
    let next = lines[0]["next"].as_str().expect("next step");
    assert!(next.contains("seedship diskprep --staging"), "{next}");

    // diskprep onto two drives of limited capacity: the staged backup spans them.
    let staged_bytes: u64 = store_listing(&repository).values().sum();
    let capacity = flow.spanning_capacity().to_string();
    let (drive1, drive2) = (flow.drive(1), flow.drive(2));
    std::fs::write(drive1.join("old-content"), b"erased by diskprep").expect("write");
    let details = flow.details();
    let diskprep_args = flow.owner_diskprep(&[
        "--drive",
        path(&drive1),
        "--drive",
        path(&drive2),
        "--capacity",
        &capacity,
        "--details",
        path(&details),
        "--yes",
        "--erase-existing-files",
    ]);
    // Drives that are not mount points are refused unless --not-a-mount-point; nothing erased.
    let mounted_only: Vec<&str> = diskprep_args
        .iter()
        .copied()
        .filter(|arg| *arg != "--not-a-mount-point")
        .collect();
    let refused = run(&mounted_only);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("drive {} is not a mount point", drive1.display())),
        "{stderr}"
    );
    assert!(drive1.join("old-content").exists(), "nothing erased");
    let created = json_ok(&diskprep_args);
    let job = created.last().expect("job detail");
    assert_eq!(job["summary"]["state"], "Creating", "{job}");
    assert_eq!(
        job["summary"]["drives"].as_array().map(Vec::len),
        Some(2),
        "{job}"
    );
    assert!(
        job["data_centre"]["shipping_address"]["city"].is_string(),
        "{job}"
    );
    assert!(!drive1.join("old-content").exists(), "drive 1 was erased");
    for n in 1..=2 {
        assert!(flow.job_dir().join(format!("journals/drive-{n}.jrn")).is_file());
    }
    // A missing answer without a terminal is a usage error naming the flag.
    let ship_without = run(&flow.owner_diskprep(&["--ship", "--carrier", "DHL"]));
    assert_eq!(ship_without.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&ship_without.stderr).contains("--tracking-number"));
    let shipped = json_ok(&flow.owner_diskprep(&[
        "--ship",
        "--carrier",
        "DHL",
        "--tracking-number",
        "TRACK-OFFLINE-1",
        "--ship-date",
        "2026-11-30",
        "--yes",
    ]));
    assert_eq!(shipped[0]["summary"]["state"], "Shipping");
    let shipping: serde_json::Value =
        serde_json::from_slice(&std::fs::read(flow.job_dir().join("shipping.json")).expect("shipping.json"))
            .expect("JSON");
    assert_eq!(shipping["shipping"]["drive_count"], 2, "{shipping}");
    let status = flow.diskprep_status();
    assert_eq!(status[0]["summary"]["state"], "Shipping");

    // A scheduled run while the job is Shipping: the waiting line, code 22, nothing changed.
    let before = tree_contents(&flow.staging);
    let scheduled = run(&["agent", "run", "--once", "--config-dir", path(&flow.config_dir)]);
    assert_eq!(scheduled.status.code(), Some(WAITING), "{scheduled:?}");
    assert_eq!(
        String::from_utf8_lossy(&scheduled.stdout),
        format!("waiting for import job {JOB} (Shipping)\n")
    );
    assert!(scheduled.stderr.is_empty(), "{scheduled:?}");
    assert!(tree_contents(&flow.staging) == before, "staging changed");
    assert_eq!(store_listing(&flow.data_vault()).len(), 0);

    // The data centre receives both drives and ships them back: Completed.
    let received = json_ok(&[
        "import",
        "receive",
        "--credentials",
        path(&flow.operator),
        "--job",
        JOB,
        "--identity",
        path(&flow.server.data_dir.join("import-service.key")),
        "--drive",
        path(&drive1),
        "--drive",
        path(&drive2),
    ]);
    assert_eq!(received[0]["job_state"], "Packaging", "{received:?}");
    let back = json_ok(&[
        "import",
        "ship-back",
        "--credentials",
        path(&flow.operator),
        "--job",
        JOB,
        "--tracking-number",
        "RET-OFFLINE-1",
    ]);
    assert_eq!(back[0]["state"], "Completed", "{back:?}");
    let container = object_dir(&flow.server.data_dir, "containers", "seed").join(JOB);
    let imported = store_listing(&container);
    assert_eq!(
        imported,
        store_listing(&repository),
        "the container holds the staged repository"
    );

    // Change a few files; the next run seeds the vault and uploads only the change.
    let changed = 3 * MIB;
    std::fs::write(flow.source.join("new.bin"), Rng::new(7).random(changed)).expect("write");
    std::fs::write(flow.source.join("with space.txt"), b"changed").expect("write");
    let received_before = flow.vault_bytes_received();
    let incremental = flow.backup_ok();
    let lines = json_lines(&incremental);
    let seeded = message(&lines, "seeded");
    assert_eq!(seeded["seeded"]["objects"].as_u64(), Some(imported.len() as u64));
    let summary = message(&lines, "summary");
    assert_eq!(summary["repository_id"].as_str(), Some(staged_id.as_str()));
    assert!(summary["parent_id"].is_string(), "incremental: {summary}");
    let uploaded = flow.vault_bytes_received() - received_before;
    let packed = summary["data_added_packed"].as_u64().expect("packed");
    eprintln!(
        "staged {staged_bytes} bytes; incremental uploaded {uploaded} bytes for {packed} bytes packed ({changed} bytes changed)"
    );
    assert!(packed >= changed as u64, "random data does not compress");
    assert!(
        uploaded as f64 <= 1.1 * packed as f64,
        "incremental uploaded {uploaded} bytes for {packed} bytes of compressed change"
    );
    // No seeded object was uploaded again: each is unchanged, and the bytes received are
    // exactly the objects that are new.
    let vault = store_listing(&flow.data_vault());
    for (key, size) in &imported {
        assert_eq!(vault.get(key), Some(size), "seeded object {key}");
    }
    let new_bytes: u64 = vault
        .iter()
        .filter(|(key, _)| !imported.contains_key(*key))
        .map(|(_, size)| size)
        .sum();
    assert_eq!(new_bytes, uploaded, "received bytes are the new objects");
    assert!(flow.job_dir().join("seeded.toml").is_file());

    // restic lists both snapshots and restores the incremental bit-exact.
    let repo = flow.agent.repository();
    let cache = dir.join("restic-cache");
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"])).expect("JSON");
    assert_eq!(snapshots.as_array().map(Vec::len), Some(2), "{snapshots}");
    let target = dir.join("restored");
    let latest = summary["snapshot_id"].as_str().expect("snapshot id");
    restic_ok(&repo, &cache, &["restore", latest, "--target", path(&target)]);
    let restored = target.join(flow.source.strip_prefix("/").expect("absolute"));
    let differences = compare_trees(&flow.source, &restored).expect("compare");
    assert!(differences.is_empty(), "restore differs: {differences:?}");

    // Later runs go straight to the vault; killing one mid-upload and running again completes.
    let mut rng = Rng::new(11);
    for i in 0..12 {
        std::fs::write(flow.source.join(format!("more-{i}.bin")), rng.random(8 * MIB)).expect("write");
    }
    let before_kill = flow.vault_bytes_received();
    let mut child = flow.spawn_backup();
    let deadline = Instant::now() + Duration::from_secs(120);
    while flow.vault_bytes_received() == before_kill {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "backup ended before uploading"
        );
        assert!(Instant::now() < deadline, "no upload within 120 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the backup finished before it could be killed"
    );
    child.kill().expect("kill");
    child.wait().expect("wait");
    let after_kill = flow.backup_ok();
    let lines = json_lines(&after_kill);
    assert!(
        lines.iter().all(|line| line["message_type"] != "seeded"),
        "seeded once only"
    );
    json_ok(&["check", "--read-data", "--repo", &repo]);
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"])).expect("JSON");
    assert_eq!(snapshots.as_array().map(Vec::len), Some(3), "{snapshots}");
}

#[test]
fn server_killed_while_seeding_resumes_on_the_next_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let mut flow = Flow::start(dir);
    flow.backup_ok();
    flow.import_staged();
    let staged = store_listing(&flow.job_dir().join("repository"));

    // The seeding run: SIGKILL the server as soon as the first object lands in the vault.
    let vault_dir = flow.data_vault();
    let mut child = flow.spawn_backup();
    let deadline = Instant::now() + Duration::from_secs(120);
    while store_listing(&vault_dir).is_empty() {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "backup ended before seeding"
        );
        assert!(Instant::now() < deadline, "no seeding within 120 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    flow.server.kill();
    let failed = child.wait().expect("wait");
    assert!(!failed.success(), "the backup cannot succeed without its server");
    let partial = store_listing(&vault_dir);
    assert!(
        !partial.contains_key("config") && partial.len() < staged.len(),
        "the kill came after seeding finished: {} of {} objects",
        partial.len(),
        staged.len()
    );
    assert!(
        !flow.job_dir().join("seeded.toml").exists(),
        "not recorded as seeded"
    );

    // Restarted on the same address, the next backup seeds what is missing and goes on.
    let listen = flow.server.url.trim_start_matches("http://").to_owned();
    flow.server = Server::start_with(
        dir,
        "server-restarted",
        &dir.join("data"),
        None,
        &["--listen", &listen],
    );
    let resumed = flow.backup_ok();
    let lines = json_lines(&resumed);
    let seeded = &message(&lines, "seeded")["seeded"];
    assert_eq!(seeded["objects"].as_u64(), Some(staged.len() as u64), "{seeded}");
    assert!(
        seeded["skipped"].as_u64() >= Some(1),
        "objects copied before the kill are kept: {seeded}"
    );
    let vault = store_listing(&vault_dir);
    for (key, size) in &staged {
        assert_eq!(vault.get(key), Some(size), "seeded object {key}");
    }
    json_ok(&["check", "--read-data", "--repo", &flow.agent.repository()]);
}

/// Bytes under the drives' session directories (the encrypted data diskprep writes).
fn session_bytes(drives: &[std::path::PathBuf]) -> u64 {
    drives
        .iter()
        .map(|drive| store_listing(&drive.join("initial-backup")).values().sum::<u64>())
        .sum()
}

#[test]
fn diskprep_killed_while_copying_resumes_on_the_next_run() {
    // Large enough that the copy is still running when the poll below sees its first bytes.
    let (_tempdir, flow) = Flow::in_tempdir(64 * MIB);
    flow.backup_ok();
    let args = flow.diskprep_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let drives = [flow.drive(1), flow.drive(2)];

    // SIGKILL diskprep as soon as the first encrypted bytes reach a drive.
    let mut child = command(&[&["--json"][..], &args].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn diskprep");
    let deadline = Instant::now() + Duration::from_secs(120);
    while session_bytes(&drives) == 0 {
        let exited = child.try_wait().expect("try_wait");
        assert!(
            exited.is_none(),
            "diskprep ended ({exited:?}) before it copied anything"
        );
        assert!(Instant::now() < deadline, "diskprep copied nothing in 120 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    let status = flow.diskprep_status();
    assert_eq!(
        status[0]["created"], false,
        "no job before the copy finished: {status:?}"
    );
    assert_eq!(status[0]["drives_prepared"], 2, "{status:?}");

    // The same diskprep again: resumes the copy from the journals and creates the job.
    let resumed = json_ok(&args);
    let summary = &message(&resumed, "summary")["summary"];
    assert_eq!(summary["session_id"], "initial-backup", "{summary}");
    assert!(
        !summary["drives"].as_array().expect("drives").is_empty(),
        "the resumed copy finished a drive: {summary}"
    );
    let job = resumed.last().expect("job detail");
    assert_eq!(job["summary"]["state"], "Creating", "{job}");
    assert_eq!(
        job["summary"]["drives"].as_array().map(Vec::len),
        Some(2),
        "{job}"
    );

    // The drives import bit-exact.
    flow.ship_receive_and_return();
    let container = object_dir(&flow.server.data_dir, "containers", "seed").join(JOB);
    assert!(
        tree_contents(&container) == tree_contents(&flow.job_dir().join("repository")),
        "the container holds the staged repository, bit-exact"
    );
}

#[test]
fn cancelled_job_ends_waiting_with_its_own_code() {
    let (_tempdir, flow) = Flow::in_tempdir(16 * MIB);
    flow.wait_for_import();
    flow.backup_ok();
    flow.diskprep();

    // Created, not shipped: waiting, and the owner's next step is named on stderr.
    let creating = run(&["backup", "--config-dir", path(&flow.config_dir)]);
    assert_eq!(creating.status.code(), Some(WAITING), "{creating:?}");
    assert_eq!(
        String::from_utf8_lossy(&creating.stdout),
        format!("waiting for import job {JOB} (Creating)\n")
    );
    let stderr = String::from_utf8_lossy(&creating.stderr);
    assert!(
        stderr.starts_with("next: ") && stderr.contains("--ship"),
        "{stderr}"
    );

    // Cancelled: no more waiting; code 23 names the job, and the staging is left as it is.
    json_ok(&["job", "cancel", JOB, "--credentials", path(&flow.account)]);
    let before = tree_contents(&flow.staging);
    let cancelled = run(&["backup", "--config-dir", path(&flow.config_dir)]);
    assert_eq!(cancelled.status.code(), Some(23), "{cancelled:?}");
    let stderr = String::from_utf8_lossy(&cancelled.stderr);
    assert!(
        stderr.contains(&format!("import job {JOB} was cancelled")) && stderr.contains("--job <NEW>"),
        "{stderr}"
    );
    assert!(cancelled.stdout.is_empty(), "{cancelled:?}");
    assert!(tree_contents(&flow.staging) == before, "staging changed");
}

#[test]
fn agent_run_keeps_the_schedule() {
    let (_tempdir, flow) = Flow::in_tempdir(16 * MIB);
    // Every two seconds (cron with a leading seconds field).
    flow.set_policy("*/2 * * * * *");
    let mut child = command(&["--json", "agent", "run", "--config-dir", path(&flow.config_dir)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agent run");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            let doc: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            if lines_tx.send(doc).is_err() {
                break;
            }
        }
    });

    // The first run stages the initial backup; the second waits for the job (code 22 is
    // reported) and the loop goes on to a third.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen: Vec<serde_json::Value> = Vec::new();
    let wanted = ["next_run", "staged", "next_run", "waiting", "next_run"];
    let kinds = |seen: &[serde_json::Value]| -> Vec<String> {
        seen.iter()
            .filter_map(|doc| doc["message_type"].as_str())
            .filter(|kind| wanted.contains(kind))
            .map(str::to_owned)
            .collect()
    };
    while kinds(&seen).len() < wanted.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(doc) => seen.push(doc),
            Err(err) => panic!("agent run: {err} after {:?}", kinds(&seen)),
        }
    }
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the loop still runs"
    );
    child.kill().expect("kill");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(kinds(&seen), wanted, "{seen:?}");
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = seen
        .iter()
        .filter(|doc| doc["message_type"] == "next_run")
        .map(|doc| chrono::DateTime::parse_from_rfc3339(doc["at"].as_str().expect("at")).expect("RFC 3339"))
        .collect();
    for pair in times.windows(2) {
        assert!(pair[0] < pair[1], "run times go forward: {times:?}");
    }
    for time in &times {
        assert_eq!(
            chrono::Timelike::second(time) % 2,
            0,
            "on the schedule: {times:?}"
        );
    }
    let waiting = message(&seen, "waiting");
    assert_eq!(waiting["job"], JOB, "{waiting}");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run_strings(args: &[String]) -> std::process::Output {
    run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// No journal was written (not even the journals directory made) and no job created:
/// nothing was prepared.
fn assert_nothing_prepared(flow: &Flow) {
    assert!(
        !flow.job_dir().join("journals").exists(),
        "a refused diskprep left a journals directory"
    );
    let status = flow.diskprep_status();
    assert_eq!(status[0]["created"], false, "{status:?}");
}

#[test]
fn diskprep_never_erases_what_it_must_not() {
    let (_tempdir, flow) = Flow::in_tempdir(16 * MIB);
    let dir = flow.dir.as_path();
    flow.backup_ok();
    let source = tree_contents(&flow.source);
    let admin = std::fs::read(flow.server.admin_credentials()).expect("admin credentials");
    let staged = tree_contents(&flow.job_dir());

    // The policy's own source, a server's data directory, the staging location: never a
    // drive, whatever the flags.
    let nested = flow.source.join("nested");
    // A directory holding (a copy of) a server's data directory deeper down.
    let holder = dir.join("holder");
    std::fs::create_dir_all(holder.join("srv")).expect("mkdir");
    std::fs::copy(
        flow.server.admin_credentials(),
        holder.join("srv/admin-credentials"),
    )
    .expect("copy");
    for (drive, named) in [
        (&flow.source, "the policy's backup path"),
        (&nested, "the policy's backup path"),
        (&flow.server.data_dir, "seedship server's data directory"),
        (&holder, "seedship server's data directory"),
        (&flow.staging, "the staging location"),
    ] {
        let refused = run_strings(&flow.diskprep_onto(&[drive], &["--erase-existing-files"]));
        assert_eq!(refused.status.code(), Some(1), "{}: {refused:?}", drive.display());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(named) && stderr.contains(path(drive)), "{stderr}");
    }
    assert!(tree_contents(&flow.source) == source, "the source is intact");
    assert!(tree_contents(&flow.job_dir()) == staged, "the staging is intact");
    assert!(holder.join("srv/admin-credentials").is_file());

    // Someone's files: --yes is not enough; the refusal says what would be erased.
    let photos = dir.join("photos");
    std::fs::create_dir_all(photos.join("2026")).expect("mkdir");
    std::fs::write(photos.join("a.jpg"), vec![1u8; 1000]).expect("write");
    std::fs::write(photos.join("2026/b.jpg"), vec![2u8; 234]).expect("write");
    let mine = tree_contents(&photos);
    let refused = run_strings(&flow.diskprep_onto(&[&photos], &[]));
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("Erase 2 file(s), 1234 bytes")
            && stderr.contains("confirm on a terminal or pass --erase-existing-files"),
        "{stderr}"
    );
    assert!(tree_contents(&photos) == mine, "the files are intact");
    assert_eq!(
        std::fs::read(flow.server.admin_credentials()).expect("admin credentials"),
        admin,
        "the server's data is intact"
    );
    assert_nothing_prepared(&flow);

    // With the explicit flag the directory is used, and the job is created.
    let created = run_strings(&flow.diskprep_onto(&[&photos], &["--erase-existing-files"]));
    assert!(created.status.success(), "{created:?}");
    assert!(!photos.join("a.jpg").exists(), "erased with the flag");
    assert!(tree_contents(&flow.source) == source, "the source is intact");
}

/// A change to the job details file.
type DetailsEdit = fn(&mut serde_json::Value);

#[test]
fn diskprep_checks_the_job_details_before_erasing() {
    let (_tempdir, flow) = Flow::in_tempdir(16 * MIB);
    flow.backup_ok();
    // A drive that carries an earlier seedship copy: diskprep may erase it, but only once
    // everything else was checked.
    let drive = flow.drive(1);
    std::fs::write(
        drive.join(seedship_drive::MARKER_NAME),
        "seedship-drive-1:00112233445566778899aabbccddeeff\n",
    )
    .expect("marker");
    std::fs::write(drive.join("earlier-copy.dat"), b"an earlier shipment").expect("write");
    let before = tree_contents(&drive);

    let template = run(&["diskprep", "--details-template"]);
    assert!(template.status.success(), "{template:?}");
    let template: serde_json::Value = serde_json::from_slice(&template.stdout).expect("JSON template");
    let with = |edit: DetailsEdit| {
        let mut details = template.clone();
        edit(&mut details);
        std::fs::write(flow.details(), details.to_string()).expect("details");
    };
    let mistakes: [(&str, DetailsEdit); 3] = [
        ("lcoal", |d| d["region"] = "lcoal".into()),
        ("contact", |d| {
            d.as_object_mut().expect("object").remove("contact");
        }),
        ("contact.email", |d| d["contact"]["email"] = "".into()),
    ];
    for (named, edit) in mistakes {
        with(edit);
        let refused = run_strings(&flow.diskprep_onto(&[&drive], &[]));
        assert_eq!(refused.status.code(), Some(1), "{named}: {refused:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(named) && stderr.contains(path(&flow.details())),
            "{stderr}"
        );
        assert!(tree_contents(&drive) == before, "{named}: the drive was touched");
        assert_nothing_prepared(&flow);
    }
    std::fs::write(flow.details(), "{\"region\": \"local\",").expect("details");
    let refused = run_strings(&flow.diskprep_onto(&[&drive], &[]));
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(tree_contents(&drive) == before, "the drive was touched");

    // A staged job whose import container does not exist (staged before `policy set`
    // checked it): found before erasing, not at the data centre.
    with(|_| {});
    let job_toml = flow.job_dir().join("job.toml");
    let staged = std::fs::read_to_string(&job_toml).expect("job.toml");
    std::fs::write(
        &job_toml,
        staged.replace("container = \"seed\"", "container = \"sead\""),
    )
    .expect("job.toml");
    let refused = run_strings(&flow.diskprep_onto(&[&drive], &[]));
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("destination container imports/sead does not exist"),
        "{stderr}"
    );
    assert!(tree_contents(&drive) == before, "the drive was touched");
    assert_nothing_prepared(&flow);
    std::fs::write(&job_toml, staged).expect("job.toml");

    // The template as it is: the drive is erased and the job created.
    let created = run_strings(&flow.diskprep_onto(&[&drive], &["--json"]));
    assert!(created.status.success(), "{created:?}");
    assert!(!drive.join("earlier-copy.dat").exists(), "the drive was used");
    assert_eq!(
        json_lines(&created).last().expect("job")["summary"]["state"],
        "Creating"
    );
}

/// The files of a local repository that are temporary files (`.<name>.tmp-<pid>`).
fn temporaries(repository: &std::path::Path) -> Vec<String> {
    store_listing(repository)
        .into_keys()
        .filter(|key| key.contains(".tmp-"))
        .collect()
}

#[test]
fn interrupted_backups_leave_nothing_on_disk_or_drives() {
    let (_tempdir, flow) = Flow::in_tempdir(4 * MIB);
    let repository = flow.job_dir().join("repository");

    // A full disk (here: a file size limit of 1 MiB, below the size of a data pack): the
    // backup fails and gives the half-written pack's space back.
    let limited = Command::new("bash")
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 1024; exec \"$@\"",
            "bash",
            SEEDSHIP,
        ])
        .args(["--json", "backup", "--config-dir", path(&flow.config_dir)])
        .env("SEEDSHIP_PASSWORD", PASSWORD)
        .env_remove("SEEDSHIP_REPO")
        .output()
        .expect("run limited backup");
    assert!(
        !limited.status.success(),
        "the limited backup failed: {limited:?}"
    );
    assert!(repository.join("config").exists(), "the backup had started");
    assert_eq!(
        temporaries(&repository),
        Vec::<String>::new(),
        "space given back: {limited:?}"
    );
    assert!(!flow.job_dir().join("job.toml").exists());

    // What killed writers leave (Ctrl-C, power loss) is removed at the next start; a live
    // writer's file is left alone.
    let mut gone = Command::new("true").spawn().expect("spawn");
    gone.wait().expect("wait");
    let mut live = Command::new("sleep").arg("600").spawn().expect("spawn sleep");
    let stale = format!(".{}.tmp-{}", "ab".repeat(32), gone.id());
    let running = format!(".{}.tmp-{}", "cd".repeat(32), live.id());
    std::fs::create_dir_all(repository.join("data/ab")).expect("mkdir");
    std::fs::create_dir_all(repository.join("data/cd")).expect("mkdir");
    std::fs::write(repository.join("data/ab").join(&stale), vec![0u8; 3 * MIB]).expect("stale");
    std::fs::write(repository.join("data/cd").join(&running), vec![0u8; MIB]).expect("running");
    flow.backup_ok();
    assert_eq!(temporaries(&repository), vec![format!("data/cd/{running}")]);

    // diskprep copies no temporary file: while a writer lives it refuses, naming it.
    let drive = flow.drive(1);
    let refused = run_strings(&flow.diskprep_onto(&[&drive], &[]));
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!("process {}", live.id())),
        "{refused:?}"
    );
    assert_eq!(
        std::fs::read_dir(&drive).expect("drive").count(),
        0,
        "the drive is untouched"
    );
    live.kill().expect("kill");
    live.wait().expect("wait");
    std::fs::write(repository.join("data/ab").join(&stale), vec![0u8; 3 * MIB]).expect("stale");
    let created = run_strings(&flow.diskprep_onto(&[&drive], &["--json"]));
    assert!(created.status.success(), "{created:?}");
    assert_eq!(temporaries(&repository), Vec::<String>::new());
    let staged = store_listing(&repository);
    let lines = json_lines(&created);
    let plan = &message(&lines, "plan")["plan"];
    assert_eq!(plan["files"], staged.len(), "{plan}");
    assert_eq!(plan["bytes"], staged.values().sum::<u64>(), "{plan}");
}

/// docs/cli.md's table of exit codes: code -> meaning.
fn documented_exit_codes() -> std::collections::BTreeMap<i32, String> {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md"))
        .expect("read docs/cli.md");
    let table = docs
        .split("\n## Exit codes\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("an \"Exit codes\" section in docs/cli.md");
    table
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
            Some((cells.first()?.parse().ok()?, (*cells.get(1)?).to_owned()))
        })
        .collect()
}

/// Which case produced each exit code, checked as it runs.
#[derive(Default)]
struct ExitCases(std::collections::BTreeMap<i32, Vec<&'static str>>);

impl ExitCases {
    /// `output` must end with `code`, and a failure must say why in one line on stderr
    /// (a JSON `exit_error` object with `--json`), except the outcomes a command reports in
    /// its own result (waiting, cancelled, an import or a restore with damaged drives).
    fn expect(&mut self, case: &'static str, output: &std::process::Output, code: i32) -> String {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        self.check(case, output.status.code(), stderr, code)
    }

    /// As [`ExitCases::expect`], for a run of a test sandbox.
    fn expect_run(&mut self, case: &'static str, run: &crate::agent_support::Run, code: i32) -> String {
        self.check(case, Some(run.code), run.stderr.clone(), code)
    }

    fn check(&mut self, case: &'static str, produced: Option<i32>, stderr: String, code: i32) -> String {
        assert_eq!(produced, Some(code), "{case}: {stderr}");
        if code != 0 && code != WAITING && code != 23 && code != 21 && code != 29 {
            // seedship's own line, clap's usage error, or the JSON object.
            let reported = stderr.lines().any(|line| {
                line.starts_with("seedship: error: ")
                    || line.starts_with("error: ")
                    || serde_json::from_str::<serde_json::Value>(line)
                        .is_ok_and(|doc| doc["message_type"] == "exit_error" && doc["code"] == code)
            });
            assert!(reported, "{case}: the error is not reported on stderr: {stderr}");
        }
        self.0.entry(code).or_default().push(case);
        stderr
    }
}

#[test]
fn every_exit_code_in_the_docs_is_produced_as_documented() {
    let Some(_) = restic() else { return };
    let (_tempdir, flow) = Flow::in_tempdir(16 * MIB);
    let dir = flow.dir.as_path();
    let password_file = dir.join("password");
    std::fs::write(&password_file, PASSWORD).expect("write password");
    let pw = path(&password_file);
    let mut cases = ExitCases::default();

    // A server that does not answer (a port nobody listens on): retried, visibly, then 15.
    // Started first: the retries take about 31 s, while the other cases run.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let unreachable_repo = format!("rest:http://agent:s3cr3t-of-the-test@{closed}/vaults/a/v/");
    let unreachable = command(&["snapshots", "--repo", &unreachable_repo])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn seedship");

    // 0, and the binary's table is the documented one.
    let documented = documented_exit_codes();
    let printed = run(&["--json", "exit-codes"]);
    cases.expect("exit-codes", &printed, 0);
    let printed: Vec<serde_json::Value> = serde_json::from_slice(&printed.stdout).expect("JSON table");
    let printed: Vec<i64> = printed.iter().filter_map(|row| row["code"].as_i64()).collect();
    let documented_codes: Vec<i64> = documented.keys().map(|&code| i64::from(code)).collect();
    assert_eq!(
        printed, documented_codes,
        "`seedship exit-codes` and docs/cli.md differ"
    );

    // 2: usage errors, as exit_error objects with --json, before anything is done.
    let usage = run(&["--json", "backup", "--no-such-flag"]);
    let stderr = cases.expect("unknown flag with --json", &usage, 2);
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
    // `job ship` of the flow's job with this tracking number, date and drive count.
    let ship_args = |tracking: &'static str, date: &'static str, drives: &'static str| {
        let credentials = path(&flow.account);
        vec![
            "job",
            "ship",
            "--job",
            JOB,
            "--credentials",
            credentials,
            "--carrier",
            "DHL",
            "--tracking-number",
            tracking,
            "--ship-date",
            date,
            "--drive-count",
            drives,
        ]
    };
    let usage = run(&ship_args("T-1", "2026-02-30", "1"));
    let stderr = cases.expect("ship date that is no date", &usage, 2);
    assert!(stderr.contains("2026-02-30"), "{stderr}");
    let usage = run(&[
        "snapshots",
        "--repo",
        "http://127.0.0.1:1/vaults/a/v/",
        "--password-file",
        pw,
    ]);
    let stderr = cases.expect("a URL without rest:", &usage, 2);
    assert!(stderr.contains("rest:http"), "{stderr}");

    // 10, 12, 1 on a local repository.
    let repo = dir.join("repo");
    let local = ["--repo", path(&repo), "--password-file", pw];
    let missing = run(&[&["--json", "snapshots"][..], &local].concat());
    cases.expect("no repository at --repo", &missing, 10);
    cases.expect(
        "backup",
        &run(&[&["--json", "backup"][..], &local, &[path(&flow.source)]].concat()),
        0,
    );
    std::fs::write(dir.join("wrong"), "not the password").expect("write");
    let wrong = run(&[
        "--json",
        "snapshots",
        "--repo",
        path(&repo),
        "--password-file",
        path(&dir.join("wrong")),
    ]);
    cases.expect("wrong password", &wrong, 12);
    let unknown = run(&[
        &["--json", "restore", "0123abcd"][..],
        &local,
        &["--target", path(&dir.join("t"))],
    ]
    .concat());
    cases.expect("unknown snapshot", &unknown, 1);

    // 11: restic holds a lock that a prune cannot share.
    let holding = crate::agent_support::ResticHolding::start(&repo, PASSWORD);
    let locked = run(&[&["--json", "prune"][..], &local].concat());
    let stderr = cases.expect("prune while restic backs up", &locked, 11);
    assert!(stderr.contains(&format!("PID {}", holding.pid)), "{stderr}");
    holding.finish();

    // 13: the vault refuses a wrong secret; it is not "repository not found".
    let forged = flow
        .agent
        .repository()
        .replace(&flow.agent.secret, "not-the-secret");
    let refused = run(&["snapshots", "--repo", &forged]);
    let stderr = cases.expect("rest: repository with a wrong secret", &refused, 13);
    assert!(stderr.contains("credentials"), "{stderr}");
    assert!(
        !stderr.contains("not-the-secret"),
        "the secret is shown: {stderr}"
    );

    // 14: a name already taken.
    let taken = run(&[
        "container",
        "create",
        "seed",
        "--storage-account",
        "imports",
        "--credentials",
        path(&flow.account),
    ]);
    cases.expect("container created twice", &taken, 14);

    // 26: a backup into a vault of an account whose quota is used up.
    let admin = flow.server.admin_credentials();
    let quota = quota_args("acme", &admin);
    cases.expect("quota set", &run(&[&quota[..], &["--bytes", "1"]].concat()), 0);
    let over = run(&["backup", "--repo", &flow.agent.repository(), path(&flow.source)]);
    let stderr = cases.expect("backup over the account's quota", &over, 26);
    assert!(stderr.contains("quota"), "{stderr}");
    cases.expect("quota removed", &run(&[&quota[..], &["--none"]].concat()), 0);

    // 25: a delete of something that is not empty.
    let not_empty = run(&[
        "storage",
        "delete",
        "imports",
        "--credentials",
        path(&flow.account),
    ]);
    let stderr = cases.expect("storage account with a container deleted", &not_empty, 25);
    assert!(stderr.contains("seed"), "the container is not named: {stderr}");

    // 10: a staging location that is not there (an unmounted disk).
    let unmounted = run(&[
        "diskprep",
        "--staging",
        path(&dir.join("unmounted")),
        "--credentials",
        path(&flow.account),
    ]);
    let stderr = cases.expect("diskprep of a missing staging location", &unmounted, 10);
    assert!(stderr.contains("unmounted"), "{stderr}");

    // 22: the job exists, the drives are not at the data centre, and the policy waits.
    flow.wait_for_import();
    flow.backup_ok();
    // 24: the staging location is still needed (the vault is not seeded from it).
    cases.expect(
        "staging clean before seeding",
        &run(&["staging", "clean", "--config-dir", path(&flow.config_dir)]),
        24,
    );
    flow.diskprep();
    cases.expect("policy backup while the job is Creating", &flow.backup(), WAITING);

    // 20: a drive checked against another drive's journal.
    let journals = flow.job_dir().join("journals");
    let swapped = run(&[
        "drive",
        "verify",
        "--journal",
        path(&journals.join("drive-1.jrn")),
        "--drive",
        path(&flow.drive(2)),
    ]);
    cases.expect("drive verified against another drive's journal", &swapped, 20);

    // 1: a job rule (shipping twice) is no "name already taken".
    let ship = ship_args("TRACK-9", "2026-11-30", "2");
    cases.expect("ship", &run(&ship), 0);
    let again = run(&ship);
    let stderr = cases.expect("ship twice", &again, 1);
    assert!(!stderr.contains("Some("), "{stderr}");

    // 23: the job cancelled while the drives travel.
    cases.expect(
        "cancel",
        &run(&["job", "cancel", JOB, "--credentials", path(&flow.account)]),
        0,
    );
    cases.expect("policy backup of a cancelled job", &flow.backup(), 23);

    // 21: a drive with one flipped byte ends CompletedMoreInfo.
    std::fs::create_dir(dir.join("site")).expect("mkdir site");
    let site = crate::server_support::import::Site::start(&dir.join("site"), None);
    let src = dir.join("site-src");
    crate::server_support::import::make_source(&src, 4, 6 * MIB);
    let set = site.prepare_and_ship("exit-21", &src, 1, 64 * MIB);
    let (drive, _) = &set[0];
    let (data, _) = store_listing(drive)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".dat"))
        .max_by_key(|(_, size)| *size)
        .expect("a data file");
    let data = drive.join(data);
    let mut bytes = std::fs::read(&data).expect("read data file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&data, bytes).expect("write data file");
    cases.expect(
        "import of a damaged drive",
        &site.receive("exit-21", &site.operator_file, &[drive]),
        21,
    );

    // 3: a source file the backup cannot read (as an unprivileged user when run as root).
    let shared = tempfile::Builder::new().tempdir_in("/tmp").expect("shared dir");
    let shared_dir = shared.path();
    std::fs::set_permissions(shared_dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let partial_src = shared_dir.join("src");
    std::fs::create_dir(&partial_src).expect("mkdir");
    std::fs::write(partial_src.join("readable"), b"fine").expect("write");
    std::fs::write(partial_src.join("secret"), b"no").expect("write");
    std::fs::set_permissions(
        partial_src.join("secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .expect("chmod");
    std::fs::set_permissions(
        &password_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let shared_password = shared_dir.join("password");
    std::fs::copy(&password_file, &shared_password).expect("copy password");
    let shared_repo = shared_dir.join("repo");
    let partial_args = [
        "--json",
        "backup",
        "--repo",
        path(&shared_repo),
        "--password-file",
        path(&shared_password),
        path(&partial_src),
    ];
    let mut partial = command(&partial_args);
    if rustix::process::geteuid().is_root() {
        partial = Command::new("setpriv");
        partial
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", SEEDSHIP])
            .args(partial_args);
    }
    cases.expect("backup of an unreadable file", &partial.output().expect("run"), 3);

    // 130: Ctrl-C during a backup (the shell's status for a process ended by SIGINT).
    let big = dir.join("big");
    std::fs::create_dir(&big).expect("mkdir");
    let mut rng = Rng::new(130);
    for n in 0..8 {
        std::fs::write(big.join(format!("f{n}")), rng.random(16 * MIB)).expect("write");
    }
    let interrupted_repo = dir.join("interrupted");
    let mut child = command(&["--json", "backup", "--repo", path(&interrupted_repo), path(&big)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn backup");
    // Interrupted while it holds its repository lock, which it removes as it ends.
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::agent_support::lock_files(&interrupted_repo) == 0 {
        assert!(Instant::now() < deadline, "the backup never took its lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).expect("pid")).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let status = child.wait().expect("wait");
    let shell_status = status
        .code()
        .or_else(|| std::os::unix::process::ExitStatusExt::signal(&status).map(|signal| 128 + signal));
    assert_eq!(shell_status, Some(130), "{status:?}");
    assert_eq!(
        crate::agent_support::lock_files(&interrupted_repo),
        0,
        "an interrupted backup leaves no lock behind"
    );
    cases.0.entry(130).or_default().push("Ctrl-C during a backup");

    // 15, with every retry shown and the secret never.
    let unreachable = unreachable.wait_with_output().expect("wait");
    let stderr = cases.expect("rest: server that does not answer", &unreachable, 15);
    assert!(stderr.contains("retrying"), "retries are not shown: {stderr}");
    assert!(
        stderr.contains(&closed.to_string()),
        "the server is not named: {stderr}"
    );
    assert!(
        !stderr.contains("s3cr3t-of-the-test"),
        "the secret is shown: {stderr}"
    );

    // 27 and 28: an export's owner key that is not a public key, a snapshot that is no id;
    // both refused on the owner's machine before anything is sent.
    let spec = crate::export_jobs::write_spec(dir, "bring-back");
    let export = |extra: &[&str]| {
        let credentials = path(&flow.account);
        let spec = path(&spec);
        run(&[
            &[
                "--json",
                "job",
                "create",
                "--type",
                "export",
                "--credentials",
                credentials,
            ][..],
            &["--spec", spec, "--vault", "laptop"],
            extra,
        ]
        .concat())
    };
    let stderr = cases.expect(
        "export owner key that is a password file",
        &export(&["--owner-key", pw]),
        27,
    );
    assert!(stderr.contains(pw), "{stderr}");
    let owner = dir.join("owner");
    assert!(run(&["keygen", "--out", path(&owner)]).status.success());
    let public = dir.join("owner.pub");
    let no_id = export(&["--owner-key", path(&public), "--snapshot", "not-an-id"]);
    let stderr = cases.expect("export of a snapshot that is no id", &no_id, 28);
    assert!(stderr.contains("not-an-id"), "{stderr}");

    // 29 and 30: a restore from drives with a flipped byte, and from half a drive set.
    let exported = crate::from_drive::Exported::new();
    let flipped = exported.largest_data_file("d1");
    let mut bytes = std::fs::read(&flipped).expect("data file");
    bytes[1000] ^= 0x20;
    std::fs::write(&flipped, &bytes).expect("flip a byte");
    let damaged = exported.restore(&["d1", "d2"], "owner.key", "out", &[]);
    // Reported in the result itself (each damaged range), as an import's 21 is.
    cases.expect_run("restore from drives with a flipped byte", &damaged, 29);
    assert!(
        damaged.json["damaged"].as_array().is_some_and(|d| !d.is_empty()),
        "{}",
        damaged.stdout
    );
    let half = exported.restore(&["d1"], "owner.key", "out-half", &[]);
    cases.expect_run("restore from one drive of two", &half, 30);

    // 31: `export write` given an import job's name.
    let blank = format!("{}={}", "0".repeat(32), path(&flow.drive(1)));
    let journals = dir.join("export-journals");
    let credentials = path(&flow.operator);
    let not_export = run(&[
        &[
            "--json",
            "export",
            "write",
            "--job",
            JOB,
            "--credentials",
            credentials,
        ][..],
        &["--journal-dir", path(&journals), "--drive", &blank],
    ]
    .concat());
    let stderr = cases.expect("export write of an import job", &not_export, 31);
    assert!(stderr.contains("only an export job"), "{stderr}");

    // Every documented code was produced.
    let produced: Vec<i32> = cases.0.keys().copied().collect();
    let expected: Vec<i32> = documented.keys().copied().collect();
    assert_eq!(produced, expected, "cases: {:?}", cases.0);
}
