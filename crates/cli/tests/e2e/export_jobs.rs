//! Export jobs through the real server and the real binary: a vault backed up twice by
//! `seedship backup`, `job preview-export` of the whole vault (the server, from object sizes)
//! and of `latest` (the owner's machine, from the index and trees), export jobs created with
//! the selection and the owner's public key, the input checks and their exit codes, and a job
//! walked through its states (blank drives received, written, shipped back; cancel refused
//! once a drive arrived; the arrival deadline giving up on a missing drive).

use std::path::Path;

use seedship_api::{Client, Credentials, JobAction};
use seedship_jobs::{DriveLog, DriveState, DriveStatus, ExportObject, JobSpec, JobState, JobType};
use serde_json::json;

use crate::server_support::*;

/// Exit codes of `docs/cli.md`.
const OWNER_KEY_INVALID: i32 = 27;
const EXPORT_SELECTION_INVALID: i32 = 28;

fn agent_ok(cache: &Path, args: &[&str]) -> serde_json::Value {
    let output = agent_run(cache, args);
    assert!(
        output.status.success(),
        "seedship {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn action(value: serde_json::Value) -> JobAction {
    serde_json::from_value(value).expect("job action")
}

/// The spec file of an export job: no destination, no drives.
pub(crate) fn write_spec(dir: &Path, name: &str) -> std::path::PathBuf {
    let address = json!({"recipient": "Ann", "street": ["2 Lane"], "city": "Utrecht",
                         "postal_code": "3511", "country": "NL", "phone": ""});
    let file = dir.join(format!("{name}.json"));
    let spec = json!({
        "name": name, "job_type": "Export", "region": "local",
        "contact": {"name": "Ann", "email": "ann@example.com", "phone": ""},
        "return_shipping": {"carrier": "DHL", "account_number": "123", "address": address},
    });
    std::fs::write(&file, spec.to_string()).expect("spec");
    file
}

#[test]
fn export_jobs_are_sized_created_checked_and_walked_through_their_states() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let server = Server::start(dir, "server", &dir.join("data"), None);
    let agent = provision(&server, dir, "acme", "laptop", false);
    let owner_file = dir.join("acme.credentials");
    let owner_creds = path(&owner_file);
    let config_dir = dir.join("agent-acme-laptop");
    let cfg = path(&config_dir);
    let cache = dir.join("cache");
    // The first backup holds about 2.8 MB of incompressible data the second one lacks (a data
    // directory since moved). Each backup writes its own index file, so the latest snapshot's
    // export leaves the first backup's packs out: an export takes whole index files (see
    // docs/design.md, "Index files of a subset"), and an index file of a backup whose packs the
    // latest snapshot shares would come whole.
    let old = dir.join("old-data");
    make_tree(&old, 99, 20);
    let source = dir.join("source");
    make_tree(&source, 11, 30);
    let repo = agent.repository();
    agent_ok(&cache, &["backup", path(&old), "--repo", &repo]);
    agent_ok(&cache, &["backup", path(&source), "--repo", &repo]);

    // Preview: the whole vault by the server, `latest` on this machine (the agent's vault).
    let preview = [
        "job",
        "preview-export",
        "--credentials",
        owner_creds,
        "--vault",
        "laptop",
    ];
    let whole = seedship(&[&preview[..], &["--drive-size", "1G"]].concat());
    assert_eq!(whole["computed_by"], "server", "{whole}");
    assert_eq!(whole["drives"], 1);
    let latest = agent_ok(
        &cache,
        &[
            &preview[..],
            &["--drive-size", "1G", "--snapshot", "latest", "--config-dir", cfg],
        ]
        .concat(),
    );
    assert_eq!(latest["computed_by"], "client", "{latest}");
    assert_eq!(latest["snapshots"].as_array().map(Vec::len), Some(1));
    let (whole_bytes, latest_bytes) = (
        whole["bytes"].as_u64().expect("bytes"),
        latest["bytes"].as_u64().expect("bytes"),
    );
    assert!(
        latest_bytes + (2 << 20) < whole_bytes,
        "latest only ({latest_bytes}) should lack the 2.8 MB the first backup alone had ({whole_bytes})"
    );
    // The drive count follows the drive format's overheads, as `seedship plan` counts them.
    let small = 2u64 << 20;
    let split = seedship(&[&preview[..], &["--drive-size", &small.to_string()]].concat());
    let objects = whole["objects"].as_u64().expect("objects");
    assert_eq!(
        split["drives"].as_u64(),
        seedship_drive::drives_needed(whole_bytes, objects, small),
        "{split}"
    );
    assert!(split["drives"].as_u64() > Some(1));
    assert_exit(
        &seedship_output(&[&preview[..], &["--drive-size", "1K"]].concat()),
        2,
    );

    // The owner's key pair; the private half is not a public key.
    seedship(&["keygen", "--out", path(&dir.join("owner"))]);
    let public = dir.join("owner.pub");
    let spec_file = write_spec(dir, "bring-back");
    let create = |extra: &[&str]| -> std::process::Output {
        let args = [
            &["job", "create", "--type", "export", "--credentials", owner_creds][..],
            &[
                "--spec",
                path(&spec_file),
                "--vault",
                "laptop",
                "--config-dir",
                cfg,
            ],
            extra,
        ]
        .concat();
        agent_run(&cache, &args)
    };
    let stderr = |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).into_owned();
    let wrong_key = create(&["--owner-key", path(&dir.join("owner.key"))]);
    assert_exit(&wrong_key, OWNER_KEY_INVALID);
    assert!(stderr(&wrong_key).contains("owner.key"), "{}", stderr(&wrong_key));
    assert_exit(
        &create(&["--owner-key", path(&dir.join("missing.pub"))]),
        OWNER_KEY_INVALID,
    );
    for bad in ["XYZ", "ABCDEF12", "abc", "deadbeef"] {
        let output = create(&["--owner-key", path(&public), "--snapshot", bad]);
        assert_exit(&output, EXPORT_SELECTION_INVALID);
        assert!(stderr(&output).contains(bad), "{bad}: {}", stderr(&output));
    }
    let no_host = create(&["--owner-key", path(&public), "--host", "no-such-host"]);
    assert_exit(&no_host, EXPORT_SELECTION_INVALID);
    assert_exit(&create(&["--owner-key", path(&public), "--journal", "j.db"]), 2);

    let owner = Client::new(&Credentials::load(&owner_file).expect("credentials")).expect("client");
    assert!(
        owner.jobs().expect("jobs").is_empty(),
        "refused creates left nothing"
    );

    // The latest snapshot: the object list the client computed, its bytes recorded.
    let created = create(&["--owner-key", path(&public), "--snapshot", "latest"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let detail: serde_json::Value = serde_json::from_slice(&created.stdout).expect("JSON");
    assert_eq!(detail["summary"]["job_type"], "Export", "{detail}");
    assert_eq!(detail["summary"]["vault"], "laptop");
    assert_eq!(detail["summary"]["bytes_total"].as_u64(), Some(latest_bytes));
    assert_eq!(detail["summary"]["state"], "Creating");
    let key_text = std::fs::read_to_string(&public).expect("pub");
    assert_eq!(
        detail["job"]["export"]["owner_key"].as_str(),
        Some(key_text.trim())
    );
    let listed = owner.export_objects("acme", "bring-back").expect("objects");
    assert_eq!(listed.iter().map(|o| o.size).sum::<u64>(), latest_bytes);
    assert!(listed.iter().any(|o| o.name == "config"));
    assert_eq!(
        listed.iter().filter(|o| o.name.starts_with("snapshots/")).count(),
        1
    );
    assert!(listed.iter().all(|o| !o.name.starts_with("locks/")));

    // The whole vault: the server lists it.
    let whole_spec = write_spec(dir, "everything");
    let args = [
        "job",
        "create",
        "--type",
        "export",
        "--credentials",
        owner_creds,
        "--spec",
        path(&whole_spec),
        "--vault",
        "laptop",
        "--owner-key",
        path(&public),
    ];
    let everything = seedship(&args);
    assert_eq!(everything["summary"]["bytes_total"].as_u64(), Some(whole_bytes));
    assert_eq!(
        owner.export_objects("acme", "everything").expect("objects").len() as u64,
        objects
    );

    // The server checks a list it is given: every object in the vault, at its size, and the key.
    let mut forged: JobSpec = serde_json::from_value(json!({
        "name": "forged", "job_type": "Export", "region": "local",
        "contact": {"name": "Ann", "email": "ann@example.com", "phone": ""},
        "return_shipping": {"carrier": "DHL", "account_number": "123", "address":
            {"recipient": "Ann", "street": ["2 Lane"], "city": "Utrecht", "postal_code": "3511",
             "country": "NL", "phone": ""}},
        "export": {"vault": "laptop", "snapshots": ["latest"], "owner_key": key_text},
    }))
    .expect("spec");
    let export = forged.export.as_mut().expect("export");
    export.objects = listed.clone();
    export.objects.push(ExportObject {
        name: format!("data/ab/ab{}", "0".repeat(62)),
        size: 1,
    });
    assert_eq!(refused(owner.create_job(&forged), 422), "ExportObjectMissing");
    let export = forged.export.as_mut().expect("export");
    export.objects = listed.clone();
    export.objects[0].size += 1;
    assert_eq!(refused(owner.create_job(&forged), 422), "ExportObjectSize");
    let export = forged.export.as_mut().expect("export");
    export.objects = listed.clone();
    export.owner_key = "seedship-x25519-secret-1:00".into();
    assert_eq!(refused(owner.create_job(&forged), 400), "OwnerKeyInvalid");
    let export = forged.export.as_mut().expect("export");
    export.owner_key = key_text.clone();
    export.vault = "other".into();
    assert_eq!(refused(owner.create_job(&forged), 422), "VaultNotFound");
    let export = forged.export.as_mut().expect("export");
    export.vault = "laptop".into();
    export.snapshots = vec!["NOTHEX00".into()];
    assert_eq!(refused(owner.create_job(&forged), 400), "SnapshotRefInvalid");
    let names: Vec<_> = owner.jobs().expect("jobs").into_iter().map(|j| j.name).collect();
    assert_eq!(names, ["bring-back", "everything"]);

    // Cancel while Creating.
    let cancelled = seedship(&[
        "job",
        "cancel",
        "--job",
        "everything",
        "--credentials",
        owner_creds,
    ]);
    assert_eq!(cancelled["summary"]["state"], "Cancelled");

    // Ship two blank drives (at most ten); the tracking number is unique across import and
    // export jobs.
    let too_many = seedship_output(&[
        "job",
        "ship",
        "--job",
        "bring-back",
        "--credentials",
        owner_creds,
        "--carrier",
        "DHL",
        "--tracking-number",
        "x",
        "--ship-date",
        "2026-01-02",
        "--drive-count",
        "11",
    ]);
    assert_exit(&too_many, 1);
    assert!(
        stderr(&too_many).contains("at most 10 drives"),
        "{}",
        stderr(&too_many)
    );
    let shipped = seedship(&[
        "job",
        "ship",
        "--job",
        "bring-back",
        "--credentials",
        owner_creds,
        "--carrier",
        "DHL",
        "--tracking-number",
        "exp 42",
        "--ship-date",
        "2026-01-02",
        "--drive-count",
        "2",
    ]);
    assert_eq!(shipped["summary"]["state"], "Shipping");
    create_container(&owner_file, "acme", "seed");
    owner
        .create_job(&hand_job_spec("import-one", "acme", "seed", "host1/"))
        .expect("import job");
    let ship = |tracking: &str, count: u32| {
        action(
            json!({"action": "ship", "carrier": "DHL", "tracking_number": tracking,
                      "ship_date": "2026-01-02", "drive_count": count}),
        )
    };
    assert_eq!(
        refused(owner.job_action("acme", "import-one", &ship("EXP42", 1)), 409),
        "DuplicateTrackingNumber"
    );

    // The data centre receives one blank drive: Received; now cancel is refused.
    let operator_file = dir.join("dc.credentials");
    seedship(&admin_create(
        "operator",
        "dc",
        &server.admin_credentials(),
        Some(&operator_file),
    ));
    let operator = Client::new(&Credentials::load(&operator_file).expect("operator")).expect("client");
    let blank = drive_id("blank-0");
    let receive = |drive: &str| action(json!({"action": "receive", "drive_id": drive}));
    assert_eq!(
        refused(owner.job_action("acme", "bring-back", &receive(&blank)), 403),
        "NotPermitted"
    );
    assert_eq!(
        refused(operator.job_action("acme", "bring-back", &receive("BAD")), 400),
        "DriveIdInvalid"
    );
    let received = operator
        .job_action("acme", "bring-back", &receive(&blank))
        .expect("receive");
    assert_eq!(received.summary.state, JobState::Received);
    assert_eq!(
        received.job.drive(&blank).map(|d| d.state),
        Some(DriveState::Received)
    );
    assert_eq!(received.job.job_type(), JobType::Export);
    let refused_cancel = seedship_output(&[
        "job",
        "cancel",
        "--job",
        "bring-back",
        "--credentials",
        owner_creds,
    ]);
    assert_exit(&refused_cancel, 1);
    assert!(stderr(&refused_cancel).contains("only be cancelled before its drives are received"));

    // Written: Transferring, then Completed.
    let started = operator
        .job_action(
            "acme",
            "bring-back",
            &action(json!({"action": "start-transfer", "drive_id": blank})),
        )
        .expect("start");
    assert_eq!(started.summary.state, JobState::Transferring);
    let now = time::OffsetDateTime::now_utc();
    let log = DriveLog {
        job: "bring-back".into(),
        drive_id: blank.clone(),
        status: DriveStatus::from_blobs(&[]),
        started_at: now,
        finished_at: now,
        blobs: Vec::new(),
        device: None,
        received_from: None,
    };
    let finished = operator
        .job_action(
            "acme",
            "bring-back",
            &JobAction::FinishTransfer {
                drive_id: blank.clone(),
                log: Box::new(log),
            },
        )
        .expect("finish");
    assert_eq!(
        finished.job.drive(&blank).map(|d| d.state),
        Some(DriveState::Completed)
    );
    assert_eq!(
        finished.summary.state,
        JobState::Transferring,
        "the second announced drive has not come"
    );

    // 15 days on, the arrival deadline gives up on it: Packaging, then shipped back.
    let admin = Client::new(&Credentials::load(&server.admin_credentials()).expect("admin")).expect("client");
    admin.advance_clock(15 * 24 * 3600).expect("clock");
    let packaging = owner.job("acme", "bring-back").expect("job");
    assert_eq!(packaging.summary.state, JobState::Packaging);
    assert_eq!(packaging.job.export().map(|e| e.drives_never_received), Some(1));
    let back = operator
        .job_action(
            "acme",
            "bring-back",
            &action(json!({"action": "ship-back", "tracking_number": "RET 1"})),
        )
        .expect("ship back");
    assert_eq!(back.summary.state, JobState::Completed);
    assert_eq!(
        back.job.drive(&blank).map(|d| d.state),
        Some(DriveState::ShippedBack)
    );
    let custody = seedship(&[
        "job",
        "custody",
        "--job",
        "bring-back",
        "--credentials",
        owner_creds,
    ]);
    let events = custody["entries"].to_string();
    assert!(events.contains("blank_drives_never_received"), "{events}");
}
