//! Webhooks against a real HTTP receiver on loopback (a std `TcpListener` thread): every
//! delivery's signature checked with the secret `seedship webhook add` printed (HMAC-SHA256
//! computed here, not by seedship's code), a receiver answering 500 gets the event again, a
//! drive's CompletedMoreInfo names its error log, deadlines are announced once, and an event
//! pending when the server is killed with SIGKILL arrives after its restart.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use seedship_api::{Client, Credentials};

use crate::server_support::import::{MIB, Site, largest_data_file, make_source, ok, run, stdout_json};
use crate::server_support::webhook_receiver::{Received, Receiver, assert_signed, loopback};
use crate::server_support::{Server, assert_exit, path};

/// The message of a failed `seedship --json` command (its JSON error line on stderr).
fn error_message(output: &std::process::Output) -> String {
    assert!(!output.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&output.stderr).expect("JSON error on stderr");
    doc["message"].as_str().expect("message").to_owned()
}

/// `seedship webhook add <url>` by the owner of `site`; returns (id, secret).
fn add_webhook(site: &Site, url: &str) -> (String, String) {
    let added = ok(&["webhook", "add", url, "--credentials", path(&site.owner_file)]);
    let id = added["id"].as_str().expect("id").to_owned();
    let secret = added["secret"].as_str().expect("secret, once").to_owned();
    assert_eq!(secret.len(), 64, "{added}");
    (id, secret)
}

fn deliveries(site: &Site) -> Vec<serde_json::Value> {
    let listed = ok(&["webhook", "deliveries", "--credentials", path(&site.owner_file)]);
    listed.as_array().expect("deliveries").clone()
}

/// Waits until the delivery of event `event_id` is listed delivered; returns it.
fn wait_delivered(site: &Site, event_id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = deliveries(site);
        if let Some(d) = listed
            .iter()
            .find(|d| d["event"]["id"] == event_id && d["state"] == "delivered")
        {
            return d.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{event_id} not delivered in 30 s: {listed:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn job_state_event(job: &str, to: &str) -> impl Fn(&serde_json::Value) -> bool {
    let (job, to) = (job.to_owned(), to.to_owned());
    move |e| e["type"] == "job.state_changed" && e["job"] == job.as_str() && e["to"] == to.as_str()
}

#[test]
fn job_and_drive_changes_arrive_signed_retried_after_500_with_the_error_log_of_completed_more_info() {
    let (dir, site) = Site::in_tempdir();
    let receiver = Receiver::start(loopback(), 2);

    // Only http(s) URLs; the secret is printed once and never listed.
    let refused = run(&[
        "webhook",
        "add",
        "ftp://127.0.0.1/x",
        "--credentials",
        path(&site.owner_file),
    ]);
    let message = error_message(&refused);
    assert!(
        message.contains(r#"webhook URL "ftp://127.0.0.1/x" is not an http or https URL"#),
        "{message}"
    );
    let (id, secret) = add_webhook(&site, &receiver.url());
    let listed = ok(&["webhook", "list", "--credentials", path(&site.owner_file)]);
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed[0]["url"], receiver.url().as_str(), "{listed}");
    assert!(listed[0].get("secret").is_none(), "{listed}");
    let log = std::fs::read_to_string(&site.server.stderr_log).expect("server log");
    assert!(!log.contains(&secret), "the server logged the secret");

    // A job with one drive whose big file gets a flipped byte: CompletedMoreInfo.
    let src = dir.path().join("src");
    make_source(&src, 6, 6 * MIB);
    let set = site.prepare_and_ship("hooked", &src, 1, 64 * MIB);
    let (drive, _) = &set[0];
    let data = largest_data_file(drive);
    let mut bytes = std::fs::read(&data).expect("read data file");
    bytes[5 * MIB] ^= 0x01;
    std::fs::write(&data, bytes).expect("write data file");
    let output = site.receive("hooked", &site.operator_file, &[drive]);
    assert_exit(&output, 21);
    let report = stdout_json(&output);
    let error_log = report["drives"][0]["error_log"].as_str().expect("error log name");

    // The first event was answered 500 twice and came again; all arrive, signed.
    let created = receiver.wait_for("job created", |e| {
        e["type"] == "job.state_changed"
            && e["job"] == "hooked"
            && e["from"].is_null()
            && e["to"] == "Creating"
    });
    receiver.wait_for("job shipped", job_state_event("hooked", "Shipping"));
    receiver.wait_for("job transferring", job_state_event("hooked", "Transferring"));
    let drive_id = set_drive_id(&site, "hooked");
    for (from, to) in [
        ("Specified", "Received"),
        ("Received", "Transferring"),
        ("Transferring", "CompletedMoreInfo"),
    ] {
        receiver.wait_for(&format!("drive {from} -> {to}"), |e| {
            e["type"] == "drive.state_changed"
                && e["drive_id"] == drive_id.as_str()
                && e["from"] == from
                && e["to"] == to
        });
    }
    let more_info = receiver.wait_for("drive.completed_more_info", |e| {
        e["type"] == "drive.completed_more_info"
    });
    assert_eq!(more_info["account"], "acme", "{more_info}");
    assert_eq!(more_info["drive_id"], drive_id.as_str(), "{more_info}");
    let location = &more_info["error_log"];
    assert_eq!(location["storage_account"], "acme", "{more_info}");
    assert_eq!(location["container"], "seed", "{more_info}");
    let blob = location["blob"].as_str().expect("blob");
    assert_eq!(blob, format!("waimportexport/{error_log}"));
    let stored = site
        .owner()
        .get_blob("acme", "hooked", blob)
        .expect("the error log is where the event says");
    assert!(String::from_utf8_lossy(&stored).contains("host1/big.img"));
    assert_eq!(
        location["web_url"],
        format!("{}/web/jobs/acme/hooked/logs/{drive_id}/error", site.server.url),
        "{more_info}"
    );

    let received = receiver.received();
    for r in &received {
        assert_signed(r, &secret);
    }
    // The receiver answered 500 to its first two requests: each of those events came again
    // until answered 200, and its delivery counts every attempt.
    let refused: Vec<String> = received
        .iter()
        .filter(|r| r.status == 500)
        .map(|r| r.event()["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    for event_id in &refused {
        let attempts: Vec<u16> = received
            .iter()
            .filter(|r| r.event()["id"] == event_id.as_str())
            .map(|r| r.status)
            .collect();
        assert_eq!(attempts.last(), Some(&200), "{event_id}: {attempts:?}");
        let delivery = wait_delivered(&site, event_id);
        assert_eq!(delivery["attempts"], attempts.len(), "{delivery}");
        assert_eq!(delivery["last_status"], 200, "{delivery}");
        assert_eq!(delivery["webhook_id"], id.as_str(), "{delivery}");
    }
    assert_eq!(
        received
            .iter()
            .filter(|r| r.event()["id"] == created["id"])
            .count(),
        received
            .iter()
            .filter(|r| r.event()["id"] == created["id"] && r.status == 500)
            .count()
            + 1,
        "answered 200 once"
    );

    // Removed: nothing more is sent, and no delivery is listed.
    ok(&["webhook", "remove", &id, "--credentials", path(&site.owner_file)]);
    assert!(deliveries(&site).is_empty());
    let missing = run(&["webhook", "remove", &id, "--credentials", path(&site.owner_file)]);
    let message = error_message(&missing);
    assert!(message.contains(&format!("webhook {id} not found")), "{message}");
}

/// The id of the only drive of job `job`.
fn set_drive_id(site: &Site, job: &str) -> String {
    let detail = site.owner().job("acme", job).expect("job");
    detail.job.drives()[0].drive_id.clone()
}

#[test]
fn a_job_creating_for_12_days_is_announced_once_then_its_deletion() {
    let (dir, site) = Site::in_tempdir();
    let receiver = Receiver::start(loopback(), 0);
    let (_, secret) = add_webhook(&site, &receiver.url());
    let src = dir.path().join("src");
    make_source(&src, 3, MIB);
    let set = site.prepare("unshipped", &src, 1, 64 * MIB);
    site.create_job("unshipped", &set, "Ann");
    receiver.wait_for("job created", job_state_event("unshipped", "Creating"));

    let admin =
        Client::new(&Credentials::load(&site.server.admin_credentials()).expect("admin")).expect("client");
    let approaching =
        |e: &serde_json::Value| e["type"] == "job.deadline_approaching" && e["job"] == "unshipped";
    admin.advance_clock(11 * 24 * 3600).expect("move clock");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !receiver
            .received()
            .iter()
            .map(Received::event)
            .any(|e| approaching(&e)),
        "not announced on day 11"
    );
    admin.advance_clock(24 * 3600 + 60).expect("move clock");
    let warning = receiver.wait_for("deadline approaching", approaching);
    assert_eq!(warning["deadline"], "DeleteUnshipped", "{warning}");
    // Later passes (every request runs one) announce it no more.
    admin.advance_clock(3600).expect("move clock");
    site.owner().jobs().expect("jobs");
    admin.advance_clock(2 * 24 * 3600).expect("move clock");
    receiver.wait_for("job deleted", |e| {
        e["type"] == "job.deleted" && e["job"] == "unshipped"
    });
    let warnings = receiver
        .received()
        .iter()
        .map(Received::event)
        .filter(|e| approaching(e))
        .count();
    assert_eq!(warnings, 1, "announced once");
    for r in &receiver.received() {
        assert_signed(r, &secret);
    }
}

#[test]
fn an_event_pending_when_the_server_is_killed_arrives_after_its_restart() {
    let (dir, mut site) = Site::in_tempdir();
    // The receiver's port is reserved, then closed: connections are refused until it starts.
    let reserved = loopback();
    let receiver_addr = reserved.local_addr().expect("address");
    drop(reserved);
    let url = format!("http://{receiver_addr}/hooks/seedship");
    let (_, secret) = add_webhook(&site, &url);
    let src = dir.path().join("src");
    make_source(&src, 3, MIB);
    let set = site.prepare("survivor", &src, 1, 64 * MIB);
    site.create_job("survivor", &set, "Ann");

    // Attempted and refused at least once, still pending.
    let deadline = Instant::now() + Duration::from_secs(30);
    let pending = loop {
        let listed = deliveries(&site);
        if let Some(d) = listed.iter().find(|d| d["attempts"].as_u64().unwrap_or(0) >= 1) {
            break d.clone();
        }
        assert!(Instant::now() < deadline, "no attempt in 30 s: {listed:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(pending["state"], "pending", "{pending}");
    assert!(
        pending["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{pending}"
    );
    let event_id = pending["event"]["id"].clone();

    // SIGKILL, restart on the same port (the credentials name it), then the receiver comes up.
    let listen = site.server.url.trim_start_matches("http://").to_owned();
    site.server.kill();
    site.server = Server::start_with(
        dir.path(),
        "server-restarted",
        &dir.path().join("data"),
        None,
        &["--listen", &listen],
    );
    let receiver = Receiver::start(
        TcpListener::bind(receiver_addr).expect("bind the reserved port"),
        0,
    );
    let arrived = receiver.wait_for("the pending event", |e| e["id"] == event_id);
    assert_eq!(arrived["type"], "job.state_changed", "{arrived}");
    assert_eq!(arrived["to"], "Creating", "{arrived}");
    for r in &receiver.received() {
        assert_signed(r, &secret);
    }
    let delivered = wait_delivered(&site, event_id.as_str().expect("event id"));
    let attempts = delivered["attempts"].as_u64().expect("attempts");
    assert!(
        attempts >= 2,
        "refused before the kill, delivered after: {delivered}"
    );
}

#[test]
fn denied_networks_are_refused_at_registration_and_delivery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        "webhook_deny_networks = [\"127.0.0.0/8\", \"::1/128\"]\n",
    )
    .expect("config");
    let site = Site::start(dir.path(), Some(&config));
    let receiver = Receiver::start(loopback(), 0);

    // An address literal in a denied network: refused, naming it.
    let refused = run(&[
        "webhook",
        "add",
        &receiver.url(),
        "--credentials",
        path(&site.owner_file),
    ]);
    let message = error_message(&refused);
    assert!(
        message.contains("in 127.0.0.0/8, which webhook_deny_networks refuses"),
        "{message}"
    );

    // A name that resolves into one: taken, but never connected to.
    let by_name = format!("http://localhost:{}/hooks/seedship", receiver.addr.port());
    add_webhook(&site, &by_name);
    let src = dir.path().join("src");
    make_source(&src, 3, MIB);
    let set = site.prepare("denied", &src, 1, 64 * MIB);
    site.create_job("denied", &set, "Ann");
    let deadline = Instant::now() + Duration::from_secs(30);
    let error = loop {
        let listed = deliveries(&site);
        if let Some(error) = listed
            .iter()
            .find_map(|d| d["last_error"].as_str().map(str::to_owned))
        {
            break error;
        }
        assert!(Instant::now() < deadline, "no attempt in 30 s: {listed:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(error.contains("localhost resolves to"), "{error}");
    assert!(error.contains("which webhook_deny_networks refuses"), "{error}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(receiver.received().is_empty(), "the receiver was reached");
}
