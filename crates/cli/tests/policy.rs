//! `seedship policy set|show` on a registered agent: the import job name is validated at once
//! (nothing stored when it is refused), an offline policy is stored and read back.

mod server_support;

use server_support::*;

#[test]
fn offline_policy_is_validated_and_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let server = Server::start(dir, "server", &dir.join("data"), None);
    provision(&server, dir, "acme", "laptop", false);
    let config = dir.join("agent-acme-laptop");
    let source = dir.join("source");
    make_tree(&source, 3, 5);
    let staging = dir.join("staging");
    let set = |job: &str| {
        seedship_output(&[
            "policy",
            "set",
            path(&source),
            "--offline",
            "--staging",
            path(&staging),
            "--job",
            job,
            "--storage-account",
            "imports",
            "--container",
            "import1",
            "--config-dir",
            path(&config),
        ])
    };

    let refused = set("Seed Job");
    assert!(
        !refused.status.success(),
        "a job name with uppercase/space is refused"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("import job name"), "{stderr}");
    assert!(
        !config.join("policy.toml").exists(),
        "nothing stored on a refused name"
    );

    let stored = set("seed-job-1");
    assert!(
        stored.status.success(),
        "{}",
        String::from_utf8_lossy(&stored.stderr)
    );
    let shown = seedship(&["policy", "show", "--config-dir", path(&config)]);
    assert_eq!(shown["offline"]["job"], "seed-job-1");
    assert_eq!(shown["offline"]["container"], "import1");
    assert_eq!(shown["offline"]["staging"], path(&staging));
    assert_eq!(shown["paths"][0], path(&source));

    // Without a registered agent there is no policy to set.
    let unregistered = seedship_output(&["policy", "show", "--config-dir", path(&dir.join("nowhere"))]);
    assert!(!unregistered.status.success());
    assert!(String::from_utf8_lossy(&unregistered.stderr).contains("seedship agent register"));
}
