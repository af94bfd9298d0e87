//! Our own agent against the vault: `seedship backup --repo rest:...` through the real server,
//! an incremental second run, `check --read-data`, `restore` bit-exact, and restic reading what
//! the agent wrote. The agent's secret never appears in anything the agent prints.

use std::path::Path;

use crate::server_support::*;

/// Runs the agent, asserts success and that `secret` is in neither stream; returns stdout JSON.
fn agent_ok(cache: &Path, secret: &str, args: &[&str]) -> serde_json::Value {
    let output = agent_run(cache, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "seedship {args:?} failed: {stderr}");
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "seedship {args:?} printed the agent secret:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(&stdout).expect("JSON on stdout")
}

#[test]
fn seedship_agent_backs_up_checks_and_restores_through_the_vault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let server = Server::start(dir, "server", &dir.join("data"), None);
    let agent = provision(&server, dir, "acme", "fileserver", false);
    let repo = agent.repository();
    let cache = dir.join("cache");
    let source = dir.join("source");
    make_tree(&source, 7, 60);

    let first = agent_ok(&cache, &agent.secret, &["backup", path(&source), "--repo", &repo]);
    assert_eq!(
        first["repository_created"], true,
        "first run creates the vault's repository"
    );
    assert!(first["parent_id"].is_null(), "first run has no parent");

    std::fs::write(source.join("sub/changed.txt"), b"the second run sees this").expect("write");
    let second = agent_ok(&cache, &agent.secret, &["backup", path(&source), "--repo", &repo]);
    assert_eq!(
        second["parent_id"], first["snapshot_id"],
        "second run is incremental"
    );
    assert_eq!(second["files_new"], 1, "only the new file is new");
    assert!(
        second["data_added_packed"].as_u64().expect("data_added_packed") < 64 * 1024,
        "the incremental uploads only the change: {second}"
    );

    let listed = agent_ok(&cache, &agent.secret, &["snapshots", "--repo", &repo]);
    assert_eq!(
        listed["snapshots"].as_array().map(Vec::len),
        Some(2),
        "two snapshots: {listed}"
    );
    agent_ok(&cache, &agent.secret, &["check", "--read-data", "--repo", &repo]);

    let target = dir.join("restore");
    agent_ok(
        &cache,
        &agent.secret,
        &["restore", "latest", "--target", path(&target), "--repo", &repo],
    );
    let restored = target.join(source.strip_prefix("/").expect("absolute source"));
    let restored = if restored.exists() {
        restored
    } else {
        target.clone()
    };
    assert_eq!(
        tree_contents(&restored),
        tree_contents(&source),
        "restore differs from the source"
    );

    // Without --repo the registered agent's vault is used: no URL with the secret pasted in.
    let config_dir = dir.join("agent-acme-fileserver");
    let agent_dir = ["--config-dir", path(&config_dir)];
    let listed = agent_ok(&cache, &agent.secret, &[&["snapshots"][..], &agent_dir].concat());
    assert_eq!(listed["snapshots"].as_array().map(Vec::len), Some(2), "{listed}");
    agent_ok(&cache, &agent.secret, &[&["check"][..], &agent_dir].concat());
    let dumped = agent_run(
        &cache,
        &[
            &["dump", "latest", &format!("{}/sub/changed.txt", path(&source))][..],
            &agent_dir,
        ]
        .concat(),
    );
    assert!(
        dumped.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    assert_eq!(
        dumped.stdout, b"the second run sees this",
        "dump writes the file as backed up"
    );
    let missing = agent_run(
        &cache,
        &[&["dump", "latest", "/no/such/file"][..], &agent_dir].concat(),
    );
    assert_eq!(
        missing.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/no/such/file"));
    let vault_target = dir.join("restore-from-agent-vault");
    agent_ok(
        &cache,
        &agent.secret,
        &[
            &["restore", "latest", "--target", path(&vault_target)][..],
            &agent_dir,
        ]
        .concat(),
    );
    assert_eq!(
        tree_contents(&vault_target.join(source.strip_prefix("/").expect("absolute source"))),
        tree_contents(&source),
        "restore from the agent's vault differs from the source"
    );
    let forgot = agent_ok(
        &cache,
        &agent.secret,
        &[&["forget", "--keep-last", "1"][..], &agent_dir].concat(),
    );
    assert_eq!(forgot["removed"], 1, "{forgot}");
    agent_ok(&cache, &agent.secret, &[&["prune"][..], &agent_dir].concat());
    agent_ok(
        &cache,
        &agent.secret,
        &[&["check", "--read-data"][..], &agent_dir].concat(),
    );
    let none = agent_run(&cache, &["snapshots", "--config-dir", path(&dir.join("nowhere"))]);
    assert!(!none.status.success(), "no agent, no --repo: refused");
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no --repo given"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );

    // An outside client reads what the agent wrote through the vault.
    if restic().is_some() {
        let snapshots: serde_json::Value = serde_json::from_str(&restic_ok(
            &repo,
            &dir.join("restic-cache"),
            &["snapshots", "--json"],
        ))
        .expect("restic snapshots JSON");
        assert_eq!(
            snapshots.as_array().map(Vec::len),
            Some(1),
            "restic sees the snapshot forget kept"
        );
    }

    // A wrong agent secret is refused with the documented exit code and changes nothing.
    let before = store_listing(&server.data_dir.join("objects"));
    let wrong = repo.replacen(&agent.secret, "not-the-secret", 1);
    let refused = agent_run(&cache, &["backup", path(&source), "--repo", &wrong]);
    assert!(!refused.status.success(), "a wrong agent secret must be refused");
    assert_eq!(
        before,
        store_listing(&server.data_dir.join("objects")),
        "refusal changed the store"
    );
}
