//! The offline-seeding workflow end to end, on the real binary and a real server on loopback:
//! an offline policy stages the first backup; `diskprep` spans it over two drives, creates the
//! import job and records the shipment; a scheduled run while the job is Shipping only waits
//! (exit code 22, staging unchanged); the operator receives the drives and ships them back;
//! the next `backup` seeds the vault and uploads only the change; restic lists and restores
//! both snapshots; an agent killed during an incremental completes on the next run and
//! `check --read-data` passes; a server killed while it seeds the vault finishes seeding when
//! the next backup asks again; a diskprep killed while it copies resumes on its next run;
//! `agent run` keeps its schedule through a waiting run; a cancelled job ends with code 23.
//! An operator's mistake costs nothing: diskprep never erases a backup path, the staging
//! location, a server's data directory or someone's files without the explicit flag, checks
//! the job details and the destination before erasing, and never copies what an interrupted
//! backup left half-written.

mod offline_support;
mod server_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use offline_support::*;
use seedship_treecmp::{Rng, compare_trees};
use server_support::*;

#[test]
fn offline_seeding_end_to_end() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let flow = Flow::start(dir);

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
    let created = json_ok(&[
        "diskprep",
        "--staging",
        path(&flow.staging),
        "--credentials",
        path(&flow.account),
        "--drive",
        path(&drive1),
        "--drive",
        path(&drive2),
        "--capacity",
        &capacity,
        "--details",
        path(&flow.details()),
        "--yes",
        "--erase-existing-files",
    ]);
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
    let ship_without = run(&[
        "diskprep",
        "--staging",
        path(&flow.staging),
        "--credentials",
        path(&flow.account),
        "--ship",
        "--carrier",
        "DHL",
    ]);
    assert_eq!(ship_without.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&ship_without.stderr).contains("--tracking-number"));
    let shipped = json_ok(&[
        "diskprep",
        "--staging",
        path(&flow.staging),
        "--credentials",
        path(&flow.account),
        "--ship",
        "--carrier",
        "DHL",
        "--tracking-number",
        "TRACK-OFFLINE-1",
        "--ship-date",
        "2026-11-30",
        "--yes",
    ]);
    assert_eq!(shipped[0]["summary"]["state"], "Shipping");
    let shipping: serde_json::Value =
        serde_json::from_slice(&std::fs::read(flow.job_dir().join("shipping.json")).expect("shipping.json"))
            .expect("JSON");
    assert_eq!(shipping["shipping"]["drive_count"], 2, "{shipping}");
    let status = json_ok(&[
        "diskprep",
        "--staging",
        path(&flow.staging),
        "--credentials",
        path(&flow.account),
        "--status",
    ]);
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
    let mut child = command(&["backup", "--config-dir", path(&flow.config_dir)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn backup");
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
    let mut child = command(&["backup", "--config-dir", path(&flow.config_dir)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn backup");
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
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    // Large enough that the copy is still running when the poll below sees its first bytes.
    let flow = Flow::start_sized(dir, 64 * MIB);
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
    let status = json_ok(&[
        "diskprep",
        "--staging",
        path(&flow.staging),
        "--credentials",
        path(&flow.account),
        "--status",
    ]);
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
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let flow = Flow::start(dir);
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
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let flow = Flow::start(dir);
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

/// No journal was written and no job created: nothing was prepared.
fn assert_nothing_prepared(flow: &Flow) {
    assert!(
        !flow.job_dir().join("journals/drive-1.jrn").exists(),
        "a journal was written"
    );
    let status = json_ok(&[
        "diskprep",
        "--staging",
        path(&flow.staging),
        "--credentials",
        path(&flow.account),
        "--status",
    ]);
    assert_eq!(status[0]["created"], false, "{status:?}");
}

#[test]
fn diskprep_never_erases_what_it_must_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let flow = Flow::start_sized(dir, 2 * MIB);
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
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let flow = Flow::start_sized(dir, 2 * MIB);
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
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let flow = Flow::start_sized(dir, 4 * MIB);
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
