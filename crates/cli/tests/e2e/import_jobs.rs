//! Job rules and deadlines against the real server on loopback: every refusal names its rule
//! and changes nothing; with the clock moved 15 days the unshipped job is gone and the
//! missing drive is NeverReceived.

use crate::server_support::{
    SEEDSHIP, Server, admin_create, assert_exit, create_container, drive_id, path, refused, seedship,
    seedship_output,
};
use seedship_api::{Client, Credentials, JobAction};
use seedship_jobs::{DriveState, JobSpec, JobState};
use serde_json::json;
use std::process::Command;

fn spec(name: &str, drives: usize) -> JobSpec {
    let address = json!({"recipient": "Ann", "street": ["2 Lane"], "city": "Utrecht",
                         "postal_code": "3511", "country": "NL", "phone": ""});
    let drives: Vec<_> = (0..drives)
        .map(|i| {
            json!({"drive_id": drive_id(&format!("{name}-{i}")), "wrapped_key": "age1wrapped",
                        "manifest_hash": "abc", "bytes": 1000})
        })
        .collect();
    serde_json::from_value(json!({
        "name": name, "job_type": "Import",
        "destination": {"storage_account": "acme", "container": "seed", "prefix": "host1/",
                        "disposition": "rename"},
        "region": "local",
        "contact": {"name": "Ann", "email": "ann@example.com", "phone": ""},
        "return_shipping": {"carrier": "DHL", "account_number": "123", "address": address},
        "drives": drives,
    }))
    .expect("job spec")
}

fn ship(tracking: &str, drive_count: u32, dry_run: bool) -> JobAction {
    serde_json::from_value(
        json!({"action": "ship", "carrier": "DHL", "tracking_number": tracking,
                                  "ship_date": "2026-01-02", "drive_count": drive_count,
                                  "dry_run": dry_run}),
    )
    .expect("ship action")
}

fn receive(drive_id: &str) -> JobAction {
    serde_json::from_value(json!({"action": "receive", "drive_id": drive_id})).expect("receive")
}

fn client(dir: &std::path::Path, server: &Server, kind: &str, name: &str) -> Client {
    let file = dir.join(format!("{name}.credentials"));
    seedship(&admin_create(
        kind,
        name,
        &server.admin_credentials(),
        Some(&file),
    ));
    Client::new(&Credentials::load(&file).expect("credentials")).expect("client")
}

#[test]
fn job_rules_are_enforced_and_deadlines_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let owner = client(dir.path(), &server, "account", "acme");
    let operator = client(dir.path(), &server, "operator", "dc-staff");
    let admin = Client::new(&Credentials::load(&server.admin_credentials()).expect("admin")).expect("client");

    // A job whose destination container does not exist would fail only at the data centre,
    // after shipping: refused, nothing created.
    assert_eq!(
        refused(owner.create_job(&spec("seed-one", 2)), 422),
        "DestinationNotFound"
    );
    owner.create_storage_account("acme").expect("storage account");
    assert_eq!(
        refused(owner.create_job(&spec("seed-one", 2)), 422),
        "DestinationNotFound"
    );
    assert!(owner.jobs().expect("list").is_empty(), "nothing created");
    owner.create_container("acme", "seed").expect("container");

    let created = owner.create_job(&spec("seed-one", 2)).expect("create");
    assert_eq!(created.data_centre.region, "local");
    assert!(!created.data_centre.shipping_address.street.is_empty());
    assert_eq!(created.summary.state, JobState::Creating);

    for bad in ["Seed", "1seed", "seed one", "-seed", "seed/one", "séed", "", "s"] {
        assert_eq!(
            refused(owner.create_job(&spec(bad, 1)), 400),
            "JobNameInvalid",
            "name {bad:?}"
        );
    }
    assert_eq!(
        refused(owner.create_job(&spec("seed-one", 1)), 409),
        "JobNameTaken"
    );
    assert_eq!(
        refused(owner.create_job(&spec("seed-big", 11)), 400),
        "TooManyDrives"
    );
    let names: Vec<_> = owner.jobs().expect("list").into_iter().map(|j| j.name).collect();
    assert_eq!(names, ["seed-one"], "refused creates left nothing behind");

    // Review, then a wrong drive count, then the real shipment.
    let review = owner
        .job_action("acme", "seed-one", &ship("1Z 999 AA", 2, true))
        .expect("dry run");
    assert_eq!(review.review.expect("review").tracking_number, "1Z999AA");
    assert_eq!(review.summary.state, JobState::Creating);
    assert_eq!(
        owner.job("acme", "seed-one").expect("show").summary.state,
        JobState::Creating
    );
    let mismatch = owner.job_action("acme", "seed-one", &ship("1Z999AA", 3, false));
    assert_eq!(refused(mismatch, 400), "DriveCountMismatch");
    let shipped = owner
        .job_action("acme", "seed-one", &ship("1Z999AA", 2, false))
        .expect("ship");
    assert_eq!(shipped.summary.state, JobState::Shipping);

    // A tracking number is never shared, however it is spelled.
    owner.create_job(&spec("seed-two", 1)).expect("create second");
    let reused = owner.job_action("acme", "seed-two", &ship("1z 999aa", 1, false));
    assert_eq!(refused(reused, 409), "DuplicateTrackingNumber");
    assert_eq!(
        owner.job("acme", "seed-two").expect("show").summary.state,
        JobState::Creating
    );

    // Only operators receive; after receipt the owner can no longer cancel.
    assert_eq!(
        refused(
            owner.job_action("acme", "seed-one", &receive(&drive_id("seed-one-0"))),
            403
        ),
        "NotPermitted"
    );
    assert_eq!(
        owner.job("acme", "seed-one").expect("show").summary.state,
        JobState::Shipping
    );
    let received = operator
        .job_action("acme", "seed-one", &receive(&drive_id("seed-one-0")))
        .expect("receive");
    assert_eq!(received.summary.drives[0].state, DriveState::Received);
    let cancel: JobAction = serde_json::from_value(json!({"action": "cancel"})).expect("cancel");
    assert_eq!(
        refused(owner.job_action("acme", "seed-one", &cancel), 409),
        "CancelNotAllowed"
    );
    assert_eq!(
        owner.job("acme", "seed-one").expect("show").summary.state,
        JobState::Received
    );

    // Operators stream blobs into the job's container; owners read them but cannot write.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    operator
        .put_blob(
            "acme",
            "seed-one",
            "host1/a.bin",
            std::io::Cursor::new(data.clone()),
        )
        .expect("put blob");
    assert_eq!(
        owner
            .get_blob("acme", "seed-one", "host1/a.bin")
            .expect("get blob"),
        data
    );
    assert!(
        owner
            .blob_exists("acme", "seed-one", "host1/a.bin")
            .expect("head")
    );
    assert!(
        !owner
            .blob_exists("acme", "seed-one", "host1/b.bin")
            .expect("head")
    );
    let by_owner = owner.put_blob("acme", "seed-one", "host1/b.bin", std::io::Cursor::new(vec![1u8]));
    assert_eq!(refused(by_owner, 403), "only operators write imported blobs");
    assert!(
        !owner
            .blob_exists("acme", "seed-one", "host1/b.bin")
            .expect("head")
    );

    // Another account cannot see the job; the custody log verifies.
    let other = client(dir.path(), &server, "account", "other");
    assert_eq!(
        refused(other.job("acme", "seed-one"), 404),
        "job of account acme not found"
    );
    let custody = owner.job_custody("acme", "seed-one").expect("custody");
    assert!(custody.verified, "{:?}", custody.error);
    assert!(custody.entries.len() >= 3, "created, shipped, received");

    // The operator records that the second drive is not in the package; the owner cannot.
    let missing = drive_id("seed-one-1");
    let never = |credentials: &str| {
        seedship_output(&[
            "import",
            "never-received",
            "--job",
            "seed-one",
            "--account",
            "acme",
            "--drive-id",
            &missing,
            "--credentials",
            credentials,
        ])
    };
    assert_exit(&never(path(&dir.path().join("acme.credentials"))), 13);
    let marked = never(path(&dir.path().join("dc-staff.credentials")));
    assert_exit(&marked, 0);
    let marked: serde_json::Value = serde_json::from_slice(&marked.stdout).expect("JSON");
    assert_eq!(marked["drives"][1]["drive_id"], missing.as_str(), "{marked}");
    assert_eq!(marked["drives"][1]["state"], "NeverReceived", "{marked}");

    // 15 days later: the unshipped job is deleted, the missing drive is NeverReceived.
    assert_eq!(
        refused(owner.advance_clock(60), 403),
        "only the admin moves the clock"
    );
    admin.advance_clock(15 * 24 * 3600).expect("move clock");
    let names: Vec<_> = owner.jobs().expect("list").into_iter().map(|j| j.name).collect();
    assert_eq!(names, ["seed-one"], "seed-two was never shipped");
    let job = owner.job("acme", "seed-one").expect("show");
    assert_eq!(job.summary.drives[0].state, DriveState::Received);
    assert_eq!(job.summary.drives[1].state, DriveState::NeverReceived);
    assert!(owner.job_custody("acme", "seed-one").expect("custody").verified);
}

#[test]
fn job_commands_create_ship_and_verify_custody() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    client(dir.path(), &server, "account", "acme");
    let creds = dir.path().join("acme.credentials");
    let spec_file = dir.path().join("job.json");
    std::fs::write(&spec_file, serde_json::to_vec(&spec("cli-job", 1)).expect("json")).expect("write spec");
    // The destination container does not exist yet: refused, naming it; nothing created.
    let create = [
        "job",
        "create",
        "--credentials",
        path(&creds),
        "--spec",
        path(&spec_file),
    ];
    let refused = seedship_output(&create);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("destination container acme/seed does not exist"),
        "{stderr}"
    );
    assert_eq!(
        seedship(&["job", "list", "--credentials", path(&creds)]),
        json!([])
    );
    create_container(&creds, "acme", "seed");
    let created = seedship(&create);
    assert_eq!(created["summary"]["state"], "Creating");
    assert_eq!(created["data_centre"]["region"], "local");
    let ship_args = |extra: &[&'static str]| {
        let mut args = vec!["job", "ship", "--job", "cli-job", "--credentials", path(&creds)];
        args.extend([
            "--carrier",
            "DHL",
            "--tracking-number",
            "JD 0001",
            "--ship-date",
            "2026-01-02",
        ]);
        args.extend(["--drive-count", "1"]);
        args.extend(extra);
        seedship(&args)
    };
    let review = ship_args(&["--dry-run"]);
    assert_eq!(review["review"]["tracking_number"], "JD0001");
    assert_eq!(review["summary"]["state"], "Creating");
    assert_eq!(ship_args(&[])["summary"]["state"], "Shipping");
    let listed = seedship(&["job", "list", "--credentials", path(&creds)]);
    assert_eq!(listed[0]["name"], "cli-job");
    assert_eq!(listed[0]["state"], "Shipping");
    // The job is named with --job in every command; the earlier positional name still works.
    // The credentials may come from SEEDSHIP_CREDENTIALS.
    let shown = std::process::Command::new(crate::server_support::SEEDSHIP)
        .args(["--json", "job", "show", "--job", "cli-job"])
        .env("SEEDSHIP_CREDENTIALS", &creds)
        .output()
        .expect("run seedship");
    assert_exit(&shown, 0);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(shown["summary"]["state"], "Shipping", "{shown}");
    let custody = seedship(&["job", "custody", "cli-job", "--credentials", path(&creds)]);
    assert_eq!(custody["verified"], true);
    let kinds: Vec<_> = custody["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("created"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "shipped"), "{kinds:?}");

    // What a person reads: the custody log itself, and the shipping address only while the
    // drives are still to be sent.
    let human = |args: &[&str]| {
        let output = Command::new(SEEDSHIP).args(args).output().expect("run seedship");
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    let custody_text = human(&["job", "custody", "cli-job", "--credentials", path(&creds)]);
    let lines: Vec<&str> = custody_text.lines().collect();
    assert_eq!(lines.len(), kinds.len() + 1, "{custody_text}");
    assert!(
        lines[0].contains("owner acme: created in region local with 1 drive(s)"),
        "{custody_text}"
    );
    assert!(
        custody_text.contains("shipped 1 drive(s) with DHL, tracking number JD0001, on 2026-01-02"),
        "{custody_text}"
    );
    assert!(lines[kinds.len()].ends_with(": verified"), "{custody_text}");
    let show = ["job", "show", "cli-job", "--credentials", path(&creds)];
    assert!(
        human(&show).contains("ship to: "),
        "Shipping: the address is needed"
    );
    human(&["job", "cancel", "cli-job", "--credentials", path(&creds)]);
    let ended = human(&show);
    assert!(ended.contains("Cancelled"), "{ended}");
    assert!(
        !ended.contains("ship to"),
        "an ended job shows no address to ship to: {ended}"
    );
}

/// Numbers from requests are checked, not trusted: a drive of 2^64-1 bytes, a negative size, a
/// copy log whose lengths overflow and a clock moved by 2^63 s are each refused with a 400 that
/// names the field, and the (debug-built) server goes on serving.
#[test]
fn absurd_numbers_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let owner = client(dir.path(), &server, "account", "acme");
    let operator = client(dir.path(), &server, "operator", "dc-staff");
    create_container(&dir.path().join("acme.credentials"), "acme", "seed");
    let http = server.http();
    let post = |credentials: &std::path::Path, path: &str, body: &serde_json::Value| {
        let (url, token) = crate::server_support::bearer(credentials);
        let response = http
            .post(format!("{url}{path}"))
            .bearer_auth(token)
            .json(body)
            .send()
            .expect("POST");
        let status = response.status().as_u16();
        (
            status,
            response.json::<serde_json::Value>().expect("JSON error body"),
        )
    };

    let mut huge = serde_json::to_value(spec("huge", 10)).expect("spec");
    for drive in huge["drives"].as_array_mut().expect("drives") {
        drive["bytes"] = json!(u64::MAX);
    }
    let (status, body) = post(&dir.path().join("acme.credentials"), "/api/v1/jobs", &huge);
    assert_bad_request(status, &body, "rule", "ValueTooLarge", "drives[0].bytes");

    let mut negative = serde_json::to_value(spec("negative", 1)).expect("spec");
    negative["drives"][0]["bytes"] = json!(-1);
    let (status, body) = post(&dir.path().join("acme.credentials"), "/api/v1/jobs", &negative);
    assert_bad_request(status, &body, "code", "InvalidRequest", "drives[0].bytes");

    // A finish-transfer log whose blob lengths overflow a u64 when added.
    owner.create_job(&spec("seed-one", 1)).expect("create");
    let drive = drive_id("seed-one-0");
    owner
        .job_action("acme", "seed-one", &ship("1Z1", 1, false))
        .expect("ship");
    operator
        .job_action("acme", "seed-one", &receive(&drive))
        .expect("receive");
    let start: JobAction =
        serde_json::from_value(json!({"action": "start-transfer", "drive_id": drive})).expect("start");
    operator.job_action("acme", "seed-one", &start).expect("start");
    let blob = |length: u64| {
        json!({"file": "f", "requested_blob": "host1/f", "blob": "host1/f", "length": length,
               "status": "Completed", "disposition": "Created", "ranges": []})
    };
    let now = "2026-12-01T00:00:00.000Z";
    let finish = json!({"action": "finish-transfer", "drive_id": drive, "log": {"job": "seed-one",
        "drive_id": drive, "status": "Completed", "started_at": now, "finished_at": now,
        "blobs": [blob(1000), blob(u64::MAX)]}});
    let (status, body) = post(
        &dir.path().join("dc-staff.credentials"),
        "/api/v1/jobs/acme/seed-one/actions",
        &finish,
    );
    assert_bad_request(status, &body, "rule", "ValueTooLarge", "blobs[1].length");
    assert_eq!(
        owner
            .job("acme", "seed-one")
            .expect("show")
            .job
            .drive(&drive)
            .expect("drive")
            .state,
        seedship_jobs::DriveState::Transferring,
        "the refused log changed nothing"
    );

    let (status, body) = post(
        &server.admin_credentials(),
        "/api/v1/admin/clock",
        &json!({"advance_seconds": i64::MAX}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("advance_seconds"),
        "{body}"
    );
    assert!(owner.jobs().is_ok(), "the server still serves");
}

/// A 400 answer whose error has `key` (`rule` or `code`) `value` and a message naming `field`.
fn assert_bad_request(status: u16, body: &serde_json::Value, key: &str, value: &str, field: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"][key], value, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains(field), "{body}");
}

/// Shipping details are corrected while the job is Shipping and the contact and return address
/// until it ended, with `job update`: each correction is in the custody log, a tracking number
/// another job has is refused (and the corrected job's old number is free again), and nothing
/// is corrected once the drives arrived (shipping) or the job ended (anything).
#[test]
fn shipping_details_are_corrected_while_shipping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let owner = client(dir.path(), &server, "account", "acme");
    let operator = client(dir.path(), &server, "operator", "dc-staff");
    let creds = dir.path().join("acme.credentials");
    owner.create_storage_account("acme").expect("storage account");
    owner.create_container("acme", "seed").expect("container");
    for (name, tracking) in [("seed-one", "1Z 111"), ("seed-two", "1Z 222")] {
        owner.create_job(&spec(name, 1)).expect("create");
        owner
            .job_action("acme", name, &ship(tracking, 1, false))
            .expect("ship");
    }
    let update = |job: &str, extra: &[&str]| {
        let mut args = vec!["job", "update", "--job", job, "--credentials", path(&creds)];
        args.extend(extra);
        seedship_output(&args)
    };
    let custody_kinds = |job: &str| -> Vec<String> {
        let report = owner.job_custody("acme", job).expect("custody");
        assert!(report.verified, "{:?}", report.error);
        report.entries.iter().map(|e| e.event.to_string()).collect()
    };

    // Another job's number (spelled differently) is refused, naming it; nothing changes.
    let before = custody_kinds("seed-one");
    let duplicate = update("seed-one", &["--tracking-number", "1z222"]);
    assert_exit(&duplicate, 1);
    let stderr = String::from_utf8_lossy(&duplicate.stderr);
    assert!(
        stderr.contains("tracking number \\\"1Z222\\\" is already used"),
        "{stderr}"
    );
    assert_eq!(custody_kinds("seed-one"), before);

    // Carrier, tracking number and ship date corrected together: one custody entry.
    let corrected = update(
        "seed-one",
        &[
            "--carrier",
            "UPS",
            "--tracking-number",
            "1z 333",
            "--ship-date",
            "2026-01-01",
        ],
    );
    assert_exit(&corrected, 0);
    let corrected: serde_json::Value = serde_json::from_slice(&corrected.stdout).expect("JSON");
    assert_eq!(
        corrected["job"]["shipping"]["tracking_number"], "1Z333",
        "{corrected}"
    );
    assert_eq!(corrected["job"]["shipping"]["carrier"], "UPS");
    assert_eq!(corrected["job"]["shipping"]["ship_date"], "2026-01-01");
    assert_eq!(corrected["summary"]["state"], "Shipping");
    let kinds = custody_kinds("seed-one");
    assert_eq!(kinds.len(), before.len() + 1);
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("shipping corrected: UPS, tracking number 1Z333, shipped on 2026-01-01")
    );
    // The old number is free again: the other job may take it.
    let other = update("seed-two", &["--tracking-number", "1Z111"]);
    assert_exit(&other, 0);
    // A ship date in the future, or one that is not a date, is refused.
    assert_exit(&update("seed-one", &["--ship-date", "2999-01-01"]), 1);
    assert_exit(&update("seed-one", &["--ship-date", "tomorrow"]), 2);

    // The contact (one field; the rest stays) and the whole return address.
    let address_file = dir.path().join("address.json");
    std::fs::write(
        &address_file,
        serde_json::to_vec(&json!({"recipient": "Acme Warehouse", "street": ["9 Dock"],
            "city": "Rotterdam", "postal_code": "3011", "country": "NL", "phone": ""}))
        .expect("json"),
    )
    .expect("write address");
    let changed = update(
        "seed-one",
        &[
            "--contact-email",
            "it@example.com",
            "--return-address",
            path(&address_file),
        ],
    );
    assert_exit(&changed, 0);
    let changed: serde_json::Value = serde_json::from_slice(&changed.stdout).expect("JSON");
    assert_eq!(changed["job"]["contact"]["name"], "Ann", "{changed}");
    assert_eq!(changed["job"]["contact"]["email"], "it@example.com");
    assert_eq!(changed["job"]["return_shipping"]["address"]["city"], "Rotterdam");
    let custody = owner.job_custody("acme", "seed-one").expect("custody");
    let last = serde_json::to_value(&custody.entries.last().expect("entry").event).expect("event");
    assert_eq!(last["kind"], "contact_changed", "{last}");
    assert_eq!(last["contact"]["email"], "it@example.com");
    assert_eq!(last["return_address"]["city"], "Rotterdam");

    // Once a drive arrived the shipping details stay, the contact can still change.
    let drive = drive_id("seed-one-0");
    operator
        .job_action("acme", "seed-one", &receive(&drive))
        .expect("receive");
    let late = update("seed-one", &["--carrier", "DHL"]);
    assert_exit(&late, 1);
    assert!(
        String::from_utf8_lossy(&late.stderr)
            .contains("cannot correct the shipping details while the job is Received"),
        "{late:?}"
    );
    assert_exit(&update("seed-one", &["--contact-phone", "+31 10 000"]), 0);

    // After the job ended nothing changes.
    assert_exit(
        &Command::new(SEEDSHIP)
            .args([
                "job",
                "cancel",
                "--job",
                "seed-two",
                "--credentials",
                path(&creds),
            ])
            .output()
            .expect("cancel"),
        0,
    );
    let before = custody_kinds("seed-two");
    for extra in [
        &["--contact-name", "Bob"][..],
        &["--tracking-number", "1Z444"][..],
    ] {
        let ended = update("seed-two", extra);
        assert_exit(&ended, 1);
        assert!(
            String::from_utf8_lossy(&ended.stderr).contains("while the job is Cancelled"),
            "{ended:?}"
        );
    }
    assert_eq!(custody_kinds("seed-two"), before);
}
