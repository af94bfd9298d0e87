//! Drive ingestion at the data centre against the real server on loopback, with real drives
//! from `seedship drive prepare`: a full import of three drives lands bit-exact in the job's
//! container (local directory and Azurite); a flipped byte is named in the error log, keeps
//! its blob out of the container, and `drive repair` re-sends only that range; an account
//! owner cannot receive; erasure empties the drive and enters the custody log.

use std::path::{Path, PathBuf};

use crate::server_support::import::{
    MIB, Site, largest_data_file, make_source, ok, run, stdout_json, succeeded,
};
use crate::server_support::{assert_exit, path, store_listing, write_storage_config};
use seedship_jobs::{DriveLog, DriveState, JobState, RangeStatus};

/// Three drives, a file spanning them, then ship-back, custody and erasure.
/// The blob names the owner lists under `prefix` of job `seed-one`'s container.
fn owner_listing(site: &Site, prefix: &str) -> Vec<String> {
    site.owner()
        .list_blobs("acme", "seed-one", prefix)
        .expect("list blobs")
}

fn full_import(dir: &Path, config: Option<&Path>) {
    let site = Site::start(dir, config);
    let src = dir.join("src");
    let tree = make_source(&src, 240, 14 * MIB);
    let set = site.prepare_and_ship("seed-one", &src, 3, 12 * MIB);
    let drives: Vec<&Path> = set.iter().map(|(d, _)| d.as_path()).collect();

    let output = site.receive("seed-one", &site.operator_file, &drives);
    assert!(
        output.status.success(),
        "receive: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    assert_eq!(report["job_state"], "Packaging", "{report}");
    let drives_report = report["drives"].as_array().expect("drives");
    assert_eq!(drives_report.len(), 3);
    for drive in drives_report {
        assert_eq!(drive["state"], "Completed", "{drive}");
        assert_eq!(drive["blobs_failed"], 0, "{drive}");
    }
    site.assert_container_holds("seed-one", &tree);
    // Listing under the job's prefix gives exactly its blobs; prefixes match whole segments.
    let listed = owner_listing(&site, "host1");
    let expected: Vec<String> = tree.keys().map(|name| format!("host1/{name}")).collect();
    assert_eq!(listed, expected);
    assert!(owner_listing(&site, "host").is_empty(), "not a segment prefix");
    assert!(owner_listing(&site, "").len() > tree.len(), "the logs too");

    // The copy log is in the container, parses, and lists every blob of its drive.
    let owner = site.owner();
    let mut logged = 0;
    for drive in drives_report {
        let name = drive["copy_log"].as_str().expect("copy log name");
        let log = owner
            .get_blob("acme", "seed-one", &format!("waimportexport/{name}"))
            .expect("copy log blob");
        let log = DriveLog::from_json(std::str::from_utf8(&log).expect("UTF-8")).expect("copy log");
        assert_eq!(log.drive_id, drive["drive_id"].as_str().expect("id"));
        logged += log.blobs.len();
    }
    assert_eq!(
        logged,
        tree.len(),
        "every file is logged once, on the drive where it starts"
    );

    // Receiving again is refused: the transfers are over.
    let again = site.receive("seed-one", &site.operator_file, &drives[..1]);
    assert!(!again.status.success(), "a finished drive is not received twice");

    ok(&[
        "import",
        "ship-back",
        "--credentials",
        path(&site.operator_file),
        "--job",
        "seed-one",
        "--tracking-number",
        "RET-1",
    ]);
    site.verified_custody("seed-one");

    // Erasure empties the drive, destroys the job's copy of its key and enters the custody log.
    let erased = ok(&[
        "import",
        "erase",
        "--credentials",
        path(&site.operator_file),
        "--job",
        "seed-one",
        "--drive",
        path(drives[0]),
    ]);
    assert!(
        erased["record"]["bytes_overwritten"].as_u64().expect("bytes") > 0,
        "{erased}"
    );
    assert_eq!(
        std::fs::read_dir(drives[0]).expect("drive").count(),
        0,
        "drive emptied"
    );
    let detail = owner.job("acme", "seed-one").expect("job");
    assert_eq!(detail.summary.state, JobState::Completed);
    let erased_drive = detail
        .job
        .drive(erased["drive_id"].as_str().expect("id"))
        .expect("erased drive");
    assert!(
        erased_drive.wrapped_key.is_empty(),
        "the wrapped key is destroyed"
    );
    assert!(erased_drive.erasure.is_some());
    let custody = site.verified_custody("seed-one");
    assert!(
        custody.to_string().contains("erased"),
        "custody log records the erasure: {custody}"
    );
}

#[test]
fn full_import_of_three_drives_into_the_local_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    full_import(dir.path(), None);
}

#[test]
fn full_import_of_three_drives_into_azurite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(azurite) = seedship_store::testing::start_azurite(dir.path()) else {
        return;
    };
    let config = write_storage_config(dir.path(), &azurite.azure_config("imports"));
    full_import(dir.path(), Some(&config));
    assert!(
        !dir.path().join("data/objects").exists(),
        "nothing stored locally when Azure is configured"
    );
}

#[test]
fn flipped_byte_is_logged_held_back_and_repaired() {
    let (dir, site) = Site::in_tempdir();
    let src = dir.path().join("src");
    let tree = make_source(&src, 30, 10 * MIB);
    let set = site.prepare_and_ship("seed-two", &src, 1, 64 * MIB);
    let (drive, journal) = &set[0];

    // An account owner is no operator: refused, and nothing changes.
    let by_owner = site.receive("seed-two", &site.owner_file, &[drive]);
    assert_exit(&by_owner, 13);
    let owner = site.owner();
    let before = owner.job("acme", "seed-two").expect("job");
    assert_eq!(before.summary.state, JobState::Shipping);
    assert_eq!(before.job.drives()[0].state, DriveState::Specified);

    // Flip one byte in the second 4 MiB range of big.img's stored data.
    let data = largest_data_file(drive);
    let mut bytes = std::fs::read(&data).expect("read data file");
    bytes[5 * MIB] ^= 0x01;
    std::fs::write(&data, bytes).expect("write data file");

    let output = site.receive("seed-two", &site.operator_file, &[drive]);
    assert_exit(&output, 21);
    let report = stdout_json(&output);
    assert_eq!(report["drives"][0]["state"], "CompletedMoreInfo", "{report}");

    // The error log names exactly that blob and range; the blob is not in the container.
    let logs = owner.job_logs("acme", "seed-two").expect("logs");
    let errors = &logs[0].error_log;
    assert_eq!(errors.blobs.len(), 1, "{errors:?}");
    let blob = &errors.blobs[0];
    assert_eq!(blob.requested_blob, "host1/big.img");
    assert_eq!(blob.ranges.len(), 1);
    assert_eq!(blob.ranges[0].status, RangeStatus::Corrupted);
    assert_eq!(
        (blob.ranges[0].offset, blob.ranges[0].length),
        (4 * MIB as u64, 4 * MIB as u64)
    );
    assert!(
        owner.get_blob("acme", "seed-two", "host1/big.img").is_err(),
        "a corrupt file never becomes a blob"
    );
    let error_log_name = report["drives"][0]["error_log"].as_str().expect("error log name");
    let stored = owner
        .get_blob("acme", "seed-two", &format!("waimportexport/{error_log_name}"))
        .expect("error log in the container");
    assert!(String::from_utf8_lossy(&stored).contains("host1/big.img"));

    ok(&[
        "import",
        "ship-back",
        "--credentials",
        path(&site.operator_file),
        "--job",
        "seed-two",
        "--tracking-number",
        "RET-2",
    ]);
    assert_eq!(
        owner.job("acme", "seed-two").expect("job").summary.state,
        JobState::Closed
    );

    // Repair sends that range only; the job completes and the container matches the source.
    let repaired = succeeded(&site.repair("seed-two", journal, &src));
    assert_eq!(repaired["bytes_sent"], 4 * MIB as u64, "{repaired}");
    assert_eq!(repaired["job_state"], "Completed", "{repaired}");
    // The drive went home before the repair: it stays ShippedBack, its log holds the repair.
    assert_eq!(repaired["drive_state"], "ShippedBack", "{repaired}");
    site.assert_container_holds("seed-two", &tree);
    site.verified_custody("seed-two");

    // Nothing is left to repair.
    let again = site.repair("seed-two", journal, &src);
    assert!(!again.status.success(), "a second repair has nothing to send");
}

/// Small files travel in batches: a damaged one is held back on its own, the rest of its batch
/// is written, and the repair completes the container.
#[test]
fn a_damaged_small_file_is_held_back_and_its_batch_written() {
    let (dir, site) = Site::in_tempdir();
    let src = dir.path().join("src");
    let tree = make_source(&src, 40, MIB);
    let set = site.prepare_and_ship("seed-small", &src, 1, 64 * MIB);
    let (drive, journal) = &set[0];
    let (smallest, size) = store_listing(drive)
        .into_iter()
        .filter(|(name, size)| name.ends_with(".dat") && *size > 1000)
        .min_by_key(|(_, size)| *size)
        .expect("a small data file on the drive");
    assert!(size < 256 * 1024, "the smallest file is batched ({size} bytes)");
    let data = drive.join(smallest);
    let mut bytes = std::fs::read(&data).expect("read data file");
    bytes[500] ^= 0x80;
    std::fs::write(&data, bytes).expect("write data file");

    let output = site.receive("seed-small", &site.operator_file, &[drive]);
    assert_exit(&output, 21);
    let owner = site.owner();
    let logs = owner.job_logs("acme", "seed-small").expect("logs");
    let errors = &logs[0].error_log;
    assert_eq!(errors.blobs.len(), 1, "{errors:?}");
    let damaged = errors.blobs[0].requested_blob.clone();
    assert_eq!(errors.blobs[0].ranges.len(), 1, "{errors:?}");
    assert_eq!(errors.blobs[0].ranges[0].status, RangeStatus::Corrupted);
    assert!(
        owner.get_blob("acme", "seed-small", &damaged).is_err(),
        "the damaged file is no blob"
    );
    let mut rest = tree.clone();
    rest.remove(damaged.strip_prefix("host1/").expect("under the prefix"));
    assert_eq!(rest.len(), tree.len() - 1, "{damaged} is a file of the source");
    site.assert_container_holds("seed-small", &rest);

    succeeded(&site.repair("seed-small", journal, &src));
    site.assert_container_holds("seed-small", &tree);
}

#[test]
fn a_drive_that_does_not_open_ends_with_its_drive_status() {
    let (dir, site) = Site::in_tempdir();
    let src = dir.path().join("src");
    make_source(&src, 5, MIB);
    let set = site.prepare_and_ship("seed-three", &src, 1, 64 * MIB);
    let (drive, _) = &set[0];
    // A drive path that is not there says so; a drive of another job names that job. Nothing
    // is received either way.
    let refused = |drive: &Path| {
        let output = site.receive("seed-three", &site.operator_file, &[drive]);
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = refused(&dir.path().join("not-mounted"));
    assert!(stderr.contains("not-mounted does not exist"), "{stderr}");
    let other_set = site.prepare_and_ship("seed-other", &src, 1, 64 * MIB);
    let stderr = refused(&other_set[0].0);
    assert!(
        stderr.contains("is a drive of job acme/seed-other, not of job seed-three"),
        "{stderr}"
    );
    let untouched = site.owner().job("acme", "seed-three").expect("job");
    assert_eq!(untouched.job.drives()[0].state, DriveState::Specified);
    // Another import service's key cannot unwrap the drive key.
    let other = dir.path().join("other-service");
    ok(&["keygen", "--out", path(&other)]);
    let mut args = vec![
        "import",
        "receive",
        "--credentials",
        path(&site.operator_file),
        "--job",
        "seed-three",
    ];
    let key = dir.path().join("other-service.key");
    args.extend(["--identity", path(&key), "--drive", path(drive)]);
    let output = run(&args);
    assert_exit(&output, 21);
    let report = stdout_json(&output);
    assert_eq!(report["drives"][0]["status"], "UnlockFailed", "{report}");
    assert_eq!(report["drives"][0]["state"], "CompletedMoreInfo", "{report}");
    let listing = site.owner().get_blob("acme", "seed-three", "host1/big.img");
    assert!(listing.is_err(), "nothing of the drive was written");
}

/// Names a customer chooses never reach past the job's own destination: a drive id that is a
/// path is refused at job creation; the operator's client refuses to send a path with a `..`
/// segment; the server refuses an operator's write outside the job's prefix and log names;
/// and a manifest name that is no valid blob name is refused for that file alone, the rest of
/// the drive imported.
#[test]
fn customer_names_never_leave_the_jobs_destination() {
    let (dir, site) = Site::in_tempdir();

    // A drive id that is a path, as a hostile journal or hand-written spec would carry it.
    let spec = dir.path().join("hostile.json");
    let address = serde_json::json!({"recipient": "Ann", "street": ["2 Lane"], "city": "Utrecht",
                                     "postal_code": "3511", "country": "NL", "phone": ""});
    std::fs::write(
        &spec,
        serde_json::json!({
            "name": "hostile", "job_type": "Import",
            "destination": {"storage_account": "acme", "container": "seed", "prefix": "host1",
                            "disposition": "rename"},
            "region": "local",
            "contact": {"name": "Mallory", "email": "m@example.com", "phone": ""},
            "return_shipping": {"carrier": "DHL", "account_number": "1", "address": address},
            "drives": [{"drive_id": "x/../../..", "wrapped_key": "k", "manifest_hash": "h", "bytes": 1}],
        })
        .to_string(),
    )
    .expect("write spec");
    let refused = run(&[
        "job",
        "create",
        "--credentials",
        path(&site.owner_file),
        "--spec",
        path(&spec),
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a path as drive id was accepted");
    assert!(
        stderr.contains("32 lowercase hex") && stderr.contains("x/../../.."),
        "{stderr}"
    );

    // A job with a file whose name is no valid blob name (a backslash) beside good ones.
    let src = dir.path().join("src");
    let tree = make_source(&src, 6, MIB);
    std::fs::write(src.join("bad\\name.bin"), b"refused at the data centre").expect("write");
    let set = site.prepare_and_ship("seed-names", &src, 1, 64 * MIB);

    // The operator's client refuses dot segments instead of letting the URL parser resolve them
    // into another account's job.
    let operator = seedship_api::Client::new(
        &seedship_api::Credentials::load(&site.operator_file).expect("credentials"),
    )
    .expect("client");
    for name in [
        "waimportexport/../../../other/job/blobs/x",
        "host1/./x",
        "host1//x",
    ] {
        let err = operator
            .put_blob("acme", "seed-names", name, std::io::empty())
            .expect_err(name);
        assert!(
            matches!(err, seedship_api::ClientError::BadPathSegment { .. }),
            "{name}: {err}"
        );
    }
    // The server, whatever a client sends, takes writes only under the prefix and the job's logs.
    let (url, token) = crate::server_support::bearer(&site.operator_file);
    let http = reqwest::blocking::Client::new();
    let put = |name: &str| {
        http.put(format!("{url}/api/v1/jobs/acme/seed-names/blobs/{name}"))
            .bearer_auth(&token)
            .body("x")
            .send()
            .expect("PUT")
            .status()
            .as_u16()
    };
    let id = "0123456789abcdef0123456789abcdef";
    assert_eq!(put("host2/x"), 403, "outside the prefix");
    assert_eq!(
        put(&format!(
            "waimportexport/seed-one_{id}_20261206T000000Z_copy.json"
        )),
        403,
        "another job's log"
    );
    assert_eq!(put("waimportexport/notes.txt"), 403, "not a log name");
    assert_eq!(put("host1/operator-probe"), 201, "under the prefix");
    assert_eq!(
        put(&format!(
            "waimportexport/seed-names_{id}_20261206T000000Z_copy.json"
        )),
        201,
        "own log"
    );
    let mut batch = Vec::new();
    seedship_jobs::BatchEntry {
        name: "elsewhere/x",
        blake3: *blake3::hash(b"x").as_bytes(),
        data: b"x",
    }
    .encode(&mut batch);
    let status = http
        .post(format!("{url}/api/v1/jobs/acme/seed-names/blobs"))
        .bearer_auth(&token)
        .body(batch)
        .send()
        .expect("POST batch")
        .status();
    assert_eq!(status.as_u16(), 403, "a batch entry outside the prefix");

    // The bad name is one file's error; every other file is imported.
    let output = site.receive("seed-names", &site.operator_file, &[set[0].0.as_path()]);
    let report = stdout_json(&output);
    let drive = &report["drives"][0];
    assert_eq!(drive["state"], "CompletedMoreInfo", "{report}");
    assert_eq!(drive["blobs_failed"], 1, "{report}");
    site.assert_container_holds("seed-names", &tree);
    let error_log = site
        .owner()
        .get_blob(
            "acme",
            "seed-names",
            &format!("waimportexport/{}", drive["error_log"].as_str().expect("name")),
        )
        .expect("error log");
    let error_log = DriveLog::from_json(std::str::from_utf8(&error_log).expect("UTF-8")).expect("error log");
    assert_eq!(error_log.blobs.len(), 1, "{error_log:?}");
    assert_eq!(
        error_log.blobs[0].status,
        seedship_jobs::BlobStatus::FileNameInvalid
    );
    assert!(
        error_log.blobs[0].file.ends_with("bad\\name.bin"),
        "{error_log:?}"
    );
}

/// Issue 15, item 2: every byte of a drive is hostile input. One drive's data file is a
/// symbolic link to a copy of itself outside the drive (the same bytes: a reader following it
/// would import them), the other drive's manifest is a FIFO (a reader opening it would wait
/// for ever). Both end with a drive-level status in their copy logs, nothing of them reaches
/// the container, and the receive finishes.
#[test]
fn hostile_drives_end_with_their_drive_status_and_the_receive_finishes() {
    let (dir, site) = Site::in_tempdir();
    let src = dir.path().join("src");
    make_source(&src, 5, 10 * MIB);
    let set = site.prepare_and_ship("seed-hostile", &src, 2, 8 * MIB);
    let (linked, fifo) = (&set[0].0, &set[1].0);

    let data = largest_data_file(linked);
    let outside = dir.path().join("outside.dat");
    std::fs::copy(&data, &outside).expect("copy the data file out");
    std::fs::remove_file(&data).expect("remove the data file");
    std::os::unix::fs::symlink(&outside, &data).expect("symlink");
    let manifest = fifo.join("sess1/manifest.ssm");
    std::fs::remove_file(&manifest).expect("remove the manifest");
    let made = std::process::Command::new("mkfifo")
        .arg(&manifest)
        .status()
        .expect("mkfifo");
    assert!(made.success());

    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = tx.send(site.receive("seed-hostile", &site.operator_file, &[linked, fifo]));
        });
        let received = rx.recv_timeout(std::time::Duration::from_secs(120));
        if received.is_err() {
            // the receive waits on the FIFO: open and close its other end, so the test ends
            drop(std::fs::OpenOptions::new().write(true).open(&manifest));
        }
        let output = received.expect("import receive finishes on hostile drives");
        assert_exit(&output, 21);
        let report = stdout_json(&output);
        let owner = site.owner();
        for (drive, needle) in [(linked, "is a symbolic link"), (fifo, "is a FIFO")] {
            let outcome = report["drives"]
                .as_array()
                .expect("drives")
                .iter()
                .find(|d| d["dir"].as_str() == drive.to_str())
                .unwrap_or_else(|| panic!("{} not reported: {report}", drive.display()));
            assert_eq!(outcome["status"], "ReadManifestFailed", "{outcome}");
            assert_eq!(outcome["state"], "CompletedMoreInfo", "{outcome}");
            assert_eq!(outcome["blobs"], 0, "{outcome}");
            let error = outcome["error"].as_str().expect("error");
            assert!(error.contains(needle), "{error}");
            let name = outcome["copy_log"].as_str().expect("copy log name");
            let log = owner
                .get_blob("acme", "seed-hostile", &format!("waimportexport/{name}"))
                .expect("copy log blob");
            let log = DriveLog::from_json(std::str::from_utf8(&log).expect("UTF-8")).expect("copy log");
            assert_eq!(log.status, seedship_jobs::DriveStatus::ReadManifestFailed);
        }
        assert!(
            owner.get_blob("acme", "seed-hostile", "host1/big.img").is_err(),
            "nothing of the drives was written"
        );
    });
}

/// `--service-public-key`: the server holds only the import service's public key (it makes no
/// key pair and serves the given key); `import receive` unlocks the drives with the private key
/// from the operator's machine.
#[test]
fn the_server_needs_only_the_public_service_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let operator_machine = dir.path().join("operator");
    std::fs::create_dir(&operator_machine).expect("mkdir");
    let prefix = operator_machine.join("import-service");
    ok(&["keygen", "--out", path(&prefix)]);
    let public = operator_machine.join("import-service.pub");
    let site = Site::start_with(dir.path(), None, &["--service-public-key", path(&public)], prefix);
    for ext in ["key", "pub"] {
        assert!(
            !site
                .server
                .data_dir
                .join(format!("import-service.{ext}"))
                .exists(),
            "the server made import-service.{ext}"
        );
    }
    let served = site.owner().service_key().expect("service key");
    assert_eq!(
        served.trim(),
        std::fs::read_to_string(&public).expect("public key").trim(),
        "the server serves the given public key"
    );

    let src = dir.path().join("src");
    let tree = make_source(&src, 6, MIB);
    let set = site.prepare_and_ship("seed-four", &src, 1, 64 * MIB);
    let output = site.receive("seed-four", &site.operator_file, &[set[0].0.as_path()]);
    assert!(
        output.status.success(),
        "receive: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    site.assert_container_holds("seed-four", &tree);
}

/// A file spanning from a drive that is not received is held back with only the bytes that
/// arrived: the span on the missing drive is a hole the server records, not zeros streamed for
/// however long a manifest says it is. The repair then sends that span, and only it. (The
/// file's checksum travels with its last segment, so drive 2 alone is what can be held back.)
#[test]
fn a_span_on_a_drive_not_received_is_a_hole_the_repair_fills() {
    let (dir, site) = Site::in_tempdir();
    let src = dir.path().join("src");
    let tree = make_source(&src, 3, 20 * MIB);
    let set = site.prepare_and_ship("seed-span", &src, 2, 16 * MIB);
    let (second, journal) = &set[1];

    let output = site.receive("seed-span", &site.operator_file, &[second.as_path()]);
    assert_exit(&output, 21);
    let owner = site.owner();
    let logs = owner.job_logs("acme", "seed-span").expect("logs");
    let errors = &logs[0].error_log;
    let big = errors
        .blobs
        .iter()
        .find(|b| b.requested_blob == "host1/big.img")
        .unwrap_or_else(|| panic!("big.img spans onto the missing drive: {errors:?}"));
    let missing: Vec<_> = big
        .ranges
        .iter()
        .filter(|r| r.status == RangeStatus::Missing)
        .collect();
    assert_eq!(missing.len(), 1, "{big:?}");
    let hole = missing[0].length;
    assert!(hole > 0 && hole < 20 * MIB as u64, "{big:?}");

    // What the server holds back is the bytes that arrived, without the hole.
    let held: Vec<(String, u64)> = store_listing(&site.server.data_dir.join("objects"))
        .into_iter()
        .filter(|(key, _)| key.contains("/damaged/data/"))
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].1, 20 * MIB as u64 - hole, "{held:?}");

    let repaired = succeeded(&site.repair("seed-span", journal, &src));
    assert_eq!(repaired["bytes_sent"], hole, "{repaired}");
    let blob = owner
        .get_blob("acme", "seed-span", "host1/big.img")
        .expect("repaired blob");
    assert!(blob == tree["big.img"], "the repaired blob is the source file");
}

/// Two receivers of one job at once, each with a drive whose files have the same names as
/// the other's (disposition rename): the server places every file exactly once, under
/// distinct names (the requested one or a numbered one), and each copy log names where its
/// files went.
#[test]
fn two_concurrent_receives_of_colliding_names_place_every_file_once() {
    let (dir, site) = Site::in_tempdir();
    let base = make_source(&dir.path().join("base"), 60, 2 * MIB);
    let (trees, set) = colliding_drives(&site, dir.path(), &base);
    let outputs = receive_concurrently(&site, "race", &set);
    let owner = site.owner();
    let mut placed = std::collections::BTreeSet::new();
    for (output, tree) in outputs.iter().zip(&trees) {
        // a drive some of whose files were renamed ends with warnings (exit code 21)
        let report = stdout_json(output);
        let drive = &report["drives"][0];
        assert_eq!(drive["blobs_failed"], 0, "{report}");
        let renamed = drive["status"] == "CompletedWithWarnings";
        assert_eq!(
            output.status.code(),
            Some(if renamed { 21 } else { 0 }),
            "receive: {}\n{report}",
            String::from_utf8_lossy(&output.stderr)
        );
        let state = if renamed { "CompletedMoreInfo" } else { "Completed" };
        assert_eq!(drive["state"], state, "{report}");
        let name = drive["copy_log"].as_str().expect("copy log name");
        let log = owner
            .get_blob("acme", "race", &format!("waimportexport/{name}"))
            .expect("copy log blob");
        let log = DriveLog::from_json(std::str::from_utf8(&log).expect("UTF-8")).expect("copy log");
        assert_eq!(log.blobs.len(), tree.len(), "every file of the drive is logged");
        for blob in &log.blobs {
            let source = blob
                .requested_blob
                .strip_prefix("host1/")
                .expect("requested under the prefix");
            let expected = if blob.blob == blob.requested_blob {
                seedship_jobs::DispositionOutcome::Created
            } else {
                assert_eq!(
                    blob.blob,
                    seedship_jobs::numbered_name(&blob.requested_blob, 1),
                    "renamed to the first numbered name"
                );
                seedship_jobs::DispositionOutcome::Renamed
            };
            assert_eq!(blob.disposition, expected, "{blob:?}");
            let stored = owner.get_blob("acme", "race", &blob.blob).expect("placed blob");
            assert!(
                stored == tree[source],
                "blob {} holds the file of its drive",
                blob.blob
            );
            assert!(
                placed.insert(blob.blob.clone()),
                "blob {} placed twice",
                blob.blob
            );
        }
        let any_renamed = log
            .blobs
            .iter()
            .any(|b| b.disposition == seedship_jobs::DispositionOutcome::Renamed);
        assert_eq!(renamed, any_renamed, "warnings exactly when renamed: {report}");
    }
    // Nothing else in the container: each file once, under its own name.
    let listed: std::collections::BTreeSet<String> =
        owner_listing_of(&site, "race", "host1").into_iter().collect();
    assert_eq!(listed, placed);
    assert_eq!(listed.len(), 2 * base.len());
}

/// The blob names the owner lists under `prefix` of job `job`'s container.
fn owner_listing_of(site: &Site, job: &str, prefix: &str) -> Vec<String> {
    site.owner().list_blobs("acme", job, prefix).expect("list blobs")
}

/// Two drives prepared from sources with the names of `base` and different bytes ("drive a",
/// "drive b" appended to each file, sources under `dir`): each source tree and its (drive, journal).
type Tree = std::collections::BTreeMap<String, Vec<u8>>;

fn colliding_drives(site: &Site, dir: &Path, base: &Tree) -> (Vec<Tree>, Vec<(PathBuf, PathBuf)>) {
    let mut trees = Vec::new();
    let mut set = Vec::new();
    for side in ["a", "b"] {
        // the same names, different bytes on each drive
        let src = dir.join(format!("src-{side}"));
        let tree: Tree = base
            .iter()
            .map(|(name, data)| {
                let mut data = data.clone();
                data.extend_from_slice(format!("drive {side}").as_bytes());
                (name.clone(), data)
            })
            .collect();
        for (name, data) in &tree {
            let file = src.join(name);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(file, data).expect("write source");
        }
        let mut prepared = site.prepare_session(
            &format!("collide-{side}"),
            &format!("sess{side}"),
            &src,
            1,
            64 * MIB,
        );
        trees.push(tree);
        set.push(prepared.remove(0));
    }
    (trees, set)
}

/// Two receivers of one job at once, each with a drive whose big.img (the same requested name
/// on both, different bytes) is damaged: the server holds each back under its own name (the
/// requested one and a numbered one, reserved create-if-absent), each error log names it, and
/// each drive's repair writes its own file into its own blob, fixing only its own drive.
#[test]
fn two_concurrent_receives_hold_back_colliding_damaged_files_under_distinct_names() {
    let (dir, site) = Site::in_tempdir();
    let base = make_source(&dir.path().join("base"), 6, 10 * MIB);
    let (trees, set) = colliding_drives(&site, dir.path(), &base);
    for (drive, _) in &set {
        // one flipped byte in the second 4 MiB range of big.img's stored data
        let data = largest_data_file(drive);
        let mut bytes = std::fs::read(&data).expect("read data file");
        bytes[5 * MIB] ^= 0x01;
        std::fs::write(&data, bytes).expect("write data file");
    }
    let outputs = receive_concurrently(&site, "held", &set);
    let owner = site.owner();
    let mut held_back = Vec::new();
    for output in &outputs {
        assert_exit(output, 21);
        let report = stdout_json(output);
        let drive = &report["drives"][0];
        assert_eq!(drive["blobs_failed"], 1, "{report}");
        let name = drive["error_log"].as_str().expect("error log name");
        let log = owner
            .get_blob("acme", "held", &format!("waimportexport/{name}"))
            .expect("error log blob");
        let log = DriveLog::from_json(std::str::from_utf8(&log).expect("UTF-8")).expect("error log");
        // (renamed files are in the error log too, as warnings)
        let broken: Vec<_> = log.blobs.iter().filter(|b| b.has_errors()).collect();
        assert_eq!(broken.len(), 1, "{log:?}");
        let blob = broken[0];
        assert_eq!(blob.requested_blob, "host1/big.img");
        assert_eq!(blob.ranges.len(), 1, "{blob:?}");
        assert_eq!(blob.ranges[0].status, RangeStatus::Corrupted);
        assert!(
            owner.get_blob("acme", "held", &blob.blob).is_err(),
            "a damaged file is no blob before its repair"
        );
        held_back.push(blob.blob.clone());
    }
    let names: std::collections::BTreeSet<&String> = held_back.iter().collect();
    let expected = [
        "host1/big.img".to_owned(),
        seedship_jobs::numbered_name("host1/big.img", 1),
    ];
    assert_eq!(names, expected.iter().collect(), "held back under distinct names");
    let damaged: Vec<(String, u64)> = store_listing(&site.server.data_dir.join("objects"))
        .into_iter()
        .filter(|(key, _)| key.contains("/damaged/data/"))
        .collect();
    assert_eq!(damaged.len(), 2, "{damaged:?}");

    // Each drive's repair writes its own bytes into the name its file was held back under.
    // colliding_drives made the sources src-a and src-b, in drive order
    for ((((_, journal), tree), blob), side) in set.iter().zip(&trees).zip(&held_back).zip(["a", "b"]) {
        let src = dir.path().join(format!("src-{side}"));
        let repaired = succeeded(&site.repair("held", journal, &src));
        assert_eq!(repaired["blobs"], 1, "{repaired}");
        assert_eq!(repaired["bytes_sent"], 4 * MIB as u64, "{repaired}");
        let stored = owner.get_blob("acme", "held", blob).expect("repaired blob");
        assert!(
            stored == tree["big.img"],
            "blob {blob} holds the file of its own drive"
        );
    }
    let job = owner.job("acme", "held").expect("job");
    for drive in job.job.drives() {
        let problems = drive.transfer.iter().flat_map(|t| &t.problems).count();
        assert_eq!(problems, 0, "drive {} is repaired", drive.drive_id);
    }
    // Each file once in the container: every name of both drives, big.img twice.
    let listed = owner_listing_of(&site, "held", "host1");
    assert_eq!(listed.len(), 2 * base.len(), "{listed:?}");
    assert!(
        !store_listing(&site.server.data_dir.join("objects"))
            .iter()
            .any(|(key, _)| key.contains("/damaged/") || key.contains("/staging/")),
        "nothing left held back or staged"
    );
}

/// Creates and ships job `job` of the drives of `set`, then receives each drive in its own
/// `import receive`, all at once; returns their outputs in drive order.
fn receive_concurrently(site: &Site, job: &str, set: &[(PathBuf, PathBuf)]) -> Vec<std::process::Output> {
    site.create_job(job, set, "Ann");
    site.ship(job, set.len());
    std::thread::scope(|scope| {
        let receivers: Vec<_> = set
            .iter()
            .map(|(drive, _)| scope.spawn(move || site.receive(job, &site.operator_file, &[drive.as_path()])))
            .collect();
        receivers
            .into_iter()
            .map(|receiver| receiver.join().expect("receiver"))
            .collect()
    })
}

/// A drive that two `drive prepare` sessions wrote is imported whole: the job names both
/// sessions' manifests (from the journal), and every file of both sessions lands in the
/// container, bit-exact, logged once in the drive's copy log.
#[test]
fn a_drive_with_two_sessions_is_imported_whole() {
    let (dir, site) = Site::in_tempdir();
    let first_src = dir.path().join("first");
    let mut tree = make_source(&first_src, 30, 5 * MIB);
    let set = site.prepare_session("two-sessions", "sess1", &first_src, 1, 64 * MIB);
    // the second session: other names, other bytes
    let second_src = dir.path().join("second");
    for i in 0..12 {
        let name = format!("later/file {i}.bin");
        let data = seedship_treecmp::Rng::new(1000 + i).random((i as usize * 104_729) % 300_000);
        let file = second_src.join(&name);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, &data).expect("write source");
        tree.insert(name, data);
    }
    site.prepare_later_session("sess2", &second_src, &set);
    site.create_job("two-sessions", &set, "Ann");
    let drive = &site
        .owner()
        .job("acme", "two-sessions")
        .expect("job")
        .job
        .drives()[0]
        .clone();
    assert_eq!(
        drive.manifest_hashes().len(),
        2,
        "both sessions are named: {drive:?}"
    );
    site.ship("two-sessions", 1);

    let output = site.receive("two-sessions", &site.operator_file, &[set[0].0.as_path()]);
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    assert_eq!(report["drives"][0]["state"], "Completed", "{report}");
    site.assert_container_holds("two-sessions", &tree);
    let listed = site
        .owner()
        .list_blobs("acme", "two-sessions", "host1")
        .expect("list blobs");
    let expected: Vec<String> = tree.keys().map(|name| format!("host1/{name}")).collect();
    assert_eq!(listed, expected, "exactly the files of both sessions");
    let logs = site.owner().job_logs("acme", "two-sessions").expect("logs");
    assert_eq!(logs[0].copy_log.blobs.len(), tree.len(), "every file logged once");
}
