//! The staging location of an offline policy around the shipment (issue 18): a missing one is
//! an error before seeding, never silently created again on the local disk.

use crate::offline_support::*;
use crate::server_support::*;

/// Exit code of a staging location that does not exist.
const NOT_FOUND: i32 = 10;

#[test]
fn a_missing_staging_location_before_seeding_is_an_error_and_nothing_is_created() {
    let (_tempdir, flow) = Flow::in_tempdir(MIB);
    // `policy set` made the staging location; the share is "unmounted" before the first run.
    std::fs::remove_dir(&flow.staging).expect("rmdir staging");
    for args in [
        &["--json", "backup", "--config-dir", path(&flow.config_dir)][..],
        &["agent", "run", "--once", "--config-dir", path(&flow.config_dir)],
    ] {
        let output = run(args);
        assert_exit(&output, NOT_FOUND);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "staging location {} does not exist",
                flow.staging.display()
            )),
            "{stderr}"
        );
        assert!(output.stdout.is_empty(), "{output:?}");
        assert!(!flow.staging.exists(), "the staging location was created again");
    }

    // Staged, then unmounted while the drives travel: the same error, nothing written.
    std::fs::create_dir(&flow.staging).expect("mount staging");
    flow.backup_ok();
    let mounted = flow.staging.with_extension("unmounted");
    std::fs::rename(&flow.staging, &mounted).expect("unmount staging");
    let output = flow.backup();
    assert_exit(&output, NOT_FOUND);
    assert!(!flow.staging.exists(), "the staging location was created again");
    assert_eq!(
        store_listing(&flow.data_vault()).len(),
        0,
        "nothing went to the vault"
    );
}

/// `GET /api/v1/vaults/<vault>` as the principal of credentials file `file`.
fn vault_info(file: &std::path::Path, vault: &str) -> serde_json::Value {
    let (url, token) = bearer(file);
    let response = reqwest::blocking::Client::new()
        .get(format!("{url}/api/v1/vaults/{vault}"))
        .bearer_auth(token)
        .send()
        .expect("GET vault");
    assert!(response.status().is_success(), "{response:?}");
    response.json().expect("vault JSON")
}

#[test]
fn the_server_records_the_seed_and_a_lost_staging_location_goes_on_with_the_vault() {
    let (_tempdir, flow) = Flow::in_tempdir(4 * MIB);
    let first = flow.backup_ok();
    let staged_id = message(&json_lines(&first), "summary")["repository_id"]
        .as_str()
        .expect("repository id")
        .to_owned();
    let agent_file = flow.config_dir.join("agent.toml");
    assert!(
        vault_info(&agent_file, "laptop")["seeded"].is_null(),
        "not seeded yet"
    );
    flow.import_staged();
    let seeding = json_lines(&flow.backup_ok());
    message(&seeding, "seeded");

    // The server recorded the seed: the job, the staged repository's id and when; the
    // agent and the owner read it.
    for file in [&agent_file, &flow.account] {
        let seeded = &vault_info(file, "laptop")["seeded"];
        assert_eq!(seeded["job"], JOB, "{seeded}");
        assert_eq!(seeded["storage_account"], "imports", "{seeded}");
        assert_eq!(seeded["container"], "seed", "{seeded}");
        assert_eq!(seeded["prefix"], JOB, "{seeded}");
        assert_eq!(
            seeded["repository_id"].as_str(),
            Some(staged_id.as_str()),
            "{seeded}"
        );
        let at = seeded["seeded_at"].as_str().expect("seeded_at");
        chrono::DateTime::parse_from_rfc3339(at).expect("RFC 3339");
    }

    // The whole staging location is deleted (or unmounted): the next backup goes to the
    // vault, incrementally, and creates nothing.
    std::fs::remove_dir_all(&flow.staging).expect("delete staging");
    std::fs::write(flow.source.join("after-seeding.txt"), b"new").expect("write");
    let received = flow.vault_bytes_received();
    let lines = json_lines(&flow.backup_ok());
    assert_eq!(lines.len(), 1, "{lines:?}");
    let summary = message(&lines, "summary");
    assert_eq!(
        summary["repository_id"].as_str(),
        Some(staged_id.as_str()),
        "{summary}"
    );
    assert!(summary["parent_id"].is_string(), "incremental: {summary}");
    assert!(flow.vault_bytes_received() > received, "uploaded to the vault");
    assert!(!flow.staging.exists(), "the staging location was created again");

    // The staging location is back, empty (only the job's directory is gone): the same.
    std::fs::create_dir(&flow.staging).expect("mkdir staging");
    let lines = json_lines(&flow.backup_ok());
    let summary = message(&lines, "summary");
    assert_eq!(
        summary["repository_id"].as_str(),
        Some(staged_id.as_str()),
        "{summary}"
    );
    assert!(
        !flow.job_dir().exists(),
        "no new initial backup in the staging location"
    );
    json_ok(&["check", "--repo", &flow.agent.repository()]);
}

/// `seedship --json staging clean` of the flow's agent.
fn clean(flow: &Flow) -> std::process::Output {
    run(&[
        "--json",
        "staging",
        "clean",
        "--config-dir",
        path(&flow.config_dir),
    ])
}

/// Exit code of `staging clean` before the vault was seeded from the staging location.
const STAGING_NEEDED: i32 = 24;

#[test]
fn staging_clean_is_refused_before_seeding_and_removes_the_staged_copy_after() {
    let (_tempdir, flow) = Flow::in_tempdir(4 * MIB);
    flow.backup_ok();
    let refused_while = |what: &str, reason: &str| {
        let before = tree_contents(&flow.staging);
        let refused = clean(&flow);
        assert_exit(&refused, STAGING_NEEDED);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("is still needed")
                && stderr.contains(reason)
                && stderr.contains("nothing removed"),
            "{what}: {stderr}"
        );
        assert!(
            tree_contents(&flow.staging) == before,
            "{what}: the staging changed"
        );
    };
    refused_while("staged", "was not seeded from import job");
    // Imported (Completed), but no policy backup has seeded the vault yet.
    flow.import_staged();
    refused_while("imported", "was not seeded from import job");

    // Seeded (and verified by the agent, recorded by the server): the staged repository and
    // the journals (the job has ended) go; the records stay.
    let seeding = json_lines(&flow.backup_ok());
    message(&seeding, "seeded");
    let staged_bytes: u64 = store_listing(&flow.job_dir().join("repository")).values().sum();
    let cleaned = clean(&flow);
    assert_exit(&cleaned, 0);
    let cleaned = message(&json_lines(&cleaned), "staging_cleaned")["cleaned"].clone();
    let removed: Vec<_> = cleaned["removed"]
        .as_array()
        .expect("removed")
        .iter()
        .map(|path| path.as_str().expect("path").to_owned())
        .collect();
    let job_dir = flow.job_dir();
    assert_eq!(
        removed,
        [path(&job_dir.join("repository")), path(&job_dir.join("journals"))],
        "{cleaned}"
    );
    assert!(cleaned["bytes"].as_u64() >= Some(staged_bytes), "{cleaned}");
    assert!(!job_dir.join("repository").exists() && !job_dir.join("journals").exists());
    for kept in ["job.toml", "shipping.json", "seeded.toml"] {
        assert!(job_dir.join(kept).is_file(), "{kept} kept");
    }

    // Backups go on into the vault; nothing comes back into the staging; cleaning again
    // removes nothing.
    std::fs::write(flow.source.join("after-cleaning.txt"), b"new").expect("write");
    let summary = message(&json_lines(&flow.backup_ok()), "summary").clone();
    assert!(summary["parent_id"].is_string(), "incremental: {summary}");
    assert!(
        !job_dir.join("repository").exists(),
        "the staged repository came back"
    );
    let again = clean(&flow);
    assert_exit(&again, 0);
    let again = message(&json_lines(&again), "staging_cleaned")["cleaned"].clone();
    assert_eq!(again["removed"].as_array().map(Vec::len), Some(0), "{again}");
    json_ok(&["check", "--read-data", "--repo", &flow.agent.repository()]);
}
