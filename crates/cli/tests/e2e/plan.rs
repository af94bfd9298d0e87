//! `seedship plan` (the seeding advisor) against the real thing: its estimate of what a backup
//! stores, from a sample smaller than the tree, is checked against a real backup of the same
//! tree with the same excludes, and its drive count against the drive crate's rule applied to
//! the real repository.

use crate::agent_support::Sandbox;
use seedship_treecmp::{Rng, SampleTree, write_file};
use std::path::Path;

/// The sample tree, plus files of text and of random bytes, a large file and its copy (which
/// the backup deduplicates), and a `cache` directory the plan and the backup both exclude:
/// about 48 MiB to back up.
fn tree(root: &Path) {
    SampleTree::build(root, 4 << 20).expect("sample tree");
    for dir in ["mixed", "large", "copies", "cache"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    let mut rng = Rng::new(20);
    for i in 0..80_u64 {
        let size = (rng.next_u64() % (600 << 10)) as usize;
        let content = if i % 3 == 0 {
            rng.random(size)
        } else {
            rng.text_like(size)
        };
        write_file(&root.join(format!("mixed/file-{i:03}")), &content, 0o644).expect("file");
    }
    let large = rng.text_like(6 << 20);
    write_file(&root.join("large/original.log"), &large, 0o644).expect("large");
    write_file(&root.join("copies/renamed.log"), &large, 0o644).expect("copy");
    write_file(&root.join("cache/skip.bin"), &rng.random(10 << 20), 0o644).expect("cache");
}

/// `plan` of the sandbox's `source` with a sample of 8 MiB (a sixth of the tree) and drives of
/// `drive_size`; returns the JSON.
fn plan(sandbox: &Sandbox, drive_size: &str) -> serde_json::Value {
    let run = sandbox
        .seedship(&[
            "plan",
            "source",
            "--exclude",
            "cache",
            "--sample-size",
            "8M",
            "--drive-size",
            drive_size,
            "--uplink",
            "1Gbit/s",
        ])
        .success();
    assert_eq!(run.json["message_type"], "plan", "{}", run.stdout);
    run.json
}

#[test]
fn plan_estimates_what_a_real_backup_stores_and_the_drives_it_needs() {
    let sandbox = Sandbox::new();
    tree(&sandbox.path("source"));
    let first = plan(&sandbox, "8T");
    let scan = &first["scan"];
    let sample = &first["sample"];
    let estimate = first["stored"]["total_bytes"].as_u64().expect("stored");
    // The scan left the excluded cache out; the sample was bounded and smaller than the tree.
    let scanned = scan["bytes"].as_u64().expect("bytes");
    assert!((40 << 20..56 << 20).contains(&scanned), "{scan}");
    let sampled = sample["bytes"].as_u64().expect("sampled");
    assert!(sampled > 0 && sampled < scanned / 2, "{sample}");
    assert!(
        first["offline"]["backup_bytes_per_second"].as_f64() > Some(0.0),
        "{first}"
    );
    assert_eq!(first["offline"]["drives"], 1, "{first}");
    assert_eq!(first["offline"]["staging_bytes"], estimate);

    let backup = sandbox
        .seedship(&["backup", "source", "--exclude", "cache"])
        .success();
    // The same files (restic counts symlinks as files) and bytes: the same excludes.
    assert_eq!(backup.json["bytes_processed"], scan["bytes"], "{}", backup.stdout);
    assert_eq!(
        backup.json["files_new"].as_u64(),
        Some(scan["files"].as_u64().expect("files") + scan["other"].as_u64().expect("other"))
    );
    let real = sandbox.repo_bytes();
    let error = (estimate as f64 - real as f64) / real as f64;
    eprintln!(
        "plan estimated {estimate} bytes, the backup stored {real} ({:+.1}%)",
        error * 100.0
    );
    assert!(
        error.abs() < 0.15,
        "estimated {estimate} bytes, the backup stored {real} ({:+.1}%)",
        error * 100.0
    );

    // Drives of 2/5 of the real size: the real repository needs 3 by the drive crate's rule,
    // and so does the plan (the same sample, deterministic, with a different --drive-size).
    let drive_size = real * 2 / 5 + (1 << 20);
    let files = sandbox.repo_files().len() as u64;
    let needed = seedship_drive::drives_needed(real, files, drive_size).expect("drives");
    assert_eq!(needed, 3);
    let second = plan(&sandbox, &drive_size.to_string());
    assert_eq!(
        second["stored"]["total_bytes"], estimate,
        "the sample is deterministic"
    );
    assert_eq!(second["offline"]["drives"], needed, "{second}");
}

#[test]
fn plan_shows_the_advice_and_a_bad_uplink_is_a_usage_error_naming_it() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("source")).expect("mkdir");
    write_file(
        &sandbox.path("source/a.txt"),
        &Rng::new(1).text_like(100_000),
        0o644,
    )
    .expect("file");
    let human = sandbox
        .seedship_human(&["plan", "source", "--uplink", "10MB/s", "--shipping-days", "1"])
        .success();
    for line in [
        "data:",
        "stored:",
        "online:",
        "offline:",
        "drives:   1 of 8.0 TiB",
        "advice:   seed online",
    ] {
        assert!(human.stdout.contains(line), "no {line:?} in:\n{}", human.stdout);
    }
    for bad in ["50Mbit/h", "fast", "0Mbit/s"] {
        let run = sandbox
            .seedship(&["plan", "source", "--uplink", bad])
            .fails_with(2);
        let message = run.one_line_error();
        assert!(message.contains(&format!("{bad:?}")), "{message}");
    }
    let tiny = sandbox
        .seedship(&["plan", "source", "--drive-size", "1M"])
        .fails_with(2);
    assert!(
        tiny.one_line_error().contains("--drive-size 1048576"),
        "{}",
        tiny.stderr
    );
    let missing = sandbox.seedship(&["plan", "nowhere"]).fails_with(1);
    assert!(missing.one_line_error().contains("nowhere"), "{}", missing.stderr);
}

/// `plan --measure` against a real server on loopback: the uplink is what the agent's
/// connection to its vault server carried in a bounded time, the online time follows from it,
/// and nothing is stored in the vault.
#[test]
fn plan_measures_the_uplink_to_the_agents_vault_server() {
    use crate::server_support::{
        Server, assert_exit, metrics, path, provision, seedship_output, store_listing,
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let server = Server::start(dir, "server", &dir.join("data"), None);
    provision(&server, dir, "acme", "main", false);
    let config_dir = dir.join("agent-acme-main");
    let source = dir.join("source");
    std::fs::create_dir(&source).expect("mkdir");
    let mut rng = Rng::new(7);
    write_file(&source.join("random.bin"), &rng.random(3 << 20), 0o644).expect("file");
    write_file(&source.join("text.log"), &rng.text_like(2 << 20), 0o644).expect("file");
    let objects = dir.join("data/objects");
    let admin = server.admin_credentials();
    let before = (store_listing(&objects), metrics(&admin));

    let run = seedship_output(&[
        "plan",
        path(&source),
        "--config-dir",
        path(&config_dir),
        "--measure",
        "2",
    ]);
    assert_exit(&run, 0);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
    let online = &doc["online"];
    assert_eq!(online["uplink_source"], "measured", "{doc}");
    let measured = &online["measurement"];
    assert_eq!(measured["server"], server.url.as_str(), "{doc}");
    let bytes = measured["bytes"].as_u64().expect("bytes");
    let seconds = measured["seconds"].as_f64().expect("seconds");
    let server_seconds = measured["server_seconds"].as_f64().expect("server_seconds");
    let rate = online["uplink_bytes_per_second"].as_f64().expect("rate");
    assert!(bytes > 0, "{doc}");
    assert!(rate.is_finite() && rate > 0.0, "{doc}");
    assert_eq!(measured["bytes_per_second"].as_f64(), Some(rate), "{doc}");
    assert!((rate - bytes as f64 / seconds).abs() <= rate * 1e-9, "{doc}");
    // Sent for 2 s, unless the probe's cap of 1 GiB came first; the answer follows at once.
    assert!(
        (2.0..20.0).contains(&seconds) || (bytes == 1 << 30 && seconds < 20.0),
        "{doc}"
    );
    assert!(bytes <= 1 << 30, "{doc}");
    assert!(server_seconds > 0.0 && server_seconds <= seconds, "{doc}");
    // The online time is what the backup stores over the measured rate.
    let stored = doc["stored"]["total_bytes"].as_u64().expect("stored");
    let days = online["days"].as_f64().expect("days");
    let expected = stored as f64 / rate / 86_400.0;
    assert!(stored > 3 << 20, "{doc}");
    assert!(
        (days - expected).abs() <= expected * 1e-9,
        "{days} days, expected {expected}"
    );

    // Shown without --json too, naming the server.
    let human = std::process::Command::new(crate::server_support::SEEDSHIP)
        .args([
            "plan",
            path(&source),
            "--config-dir",
            path(&config_dir),
            "--measure=1",
        ])
        .output()
        .expect("run seedship");
    assert_exit(&human, 0);
    let text = String::from_utf8_lossy(&human.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("online:"))
        .unwrap_or_else(|| panic!("no online line in:\n{text}"));
    assert!(
        line.contains("(measured: ") && line.contains(&format!("to {} in ", server.url)),
        "{line}"
    );

    // The probe stored nothing and counted nothing as vault data.
    assert_eq!((store_listing(&objects), metrics(&admin)), before);

    // A wrong secret in agent.toml: the server refuses the credentials (exit 13).
    let agent_toml = config_dir.join("agent.toml");
    let text = std::fs::read_to_string(&agent_toml).expect("agent.toml");
    let secret_line = text
        .lines()
        .find(|l| l.starts_with("secret = "))
        .expect("secret line")
        .to_owned();
    std::fs::write(
        &agent_toml,
        text.replace(&secret_line, &format!("secret = \"{}\"", "0".repeat(64))),
    )
    .expect("write agent.toml");
    let refused = seedship_output(&[
        "plan",
        path(&source),
        "--config-dir",
        path(&config_dir),
        "--measure",
        "1",
    ]);
    assert_exit(&refused, 13);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("measuring the uplink to"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn plan_measure_needs_an_agent_and_does_not_go_with_uplink() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("source")).expect("mkdir");
    write_file(&sandbox.path("source/a.txt"), b"some data", 0o644).expect("file");
    let both = sandbox
        .seedship(&["plan", "source", "--uplink", "10MB/s", "--measure", "2"])
        .fails_with(2);
    let message = both.one_line_error();
    assert!(
        message.contains("--measure") && message.contains("--uplink"),
        "{message}"
    );
    for bad in ["0", "61", "fast"] {
        sandbox
            .seedship(&["plan", "source", &format!("--measure={bad}")])
            .fails_with(2);
    }
    let unregistered = sandbox
        .seedship(&["plan", "source", "--measure", "--config-dir", "nowhere"])
        .fails_with(1);
    let message = unregistered.one_line_error();
    assert!(
        message.contains("--measure needs a registered agent") && message.contains("seedship agent register"),
        "{message}"
    );
    // A PATH that is not there is named before anything is measured.
    let missing = sandbox
        .seedship(&["plan", "missing-path", "--measure", "--config-dir", "nowhere"])
        .fails_with(1);
    assert!(
        missing.one_line_error().contains("missing-path"),
        "{}",
        missing.stderr
    );
}
