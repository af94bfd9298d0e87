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
