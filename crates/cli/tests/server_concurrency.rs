//! 20 restic clients back up at once to 20 vaults (4 accounts x 5 vaults) of one server; all
//! finish and every vault passes `restic check`.

mod server_support;

use server_support::*;

#[test]
fn twenty_concurrent_restic_clients_on_twenty_vaults() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let agents: Vec<Agent> = (0..20)
        .map(|i| {
            provision(
                &server,
                dir.path(),
                &format!("tenant{}", i / 5),
                &format!("vault{i}"),
                false,
            )
        })
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = agents
            .iter()
            .enumerate()
            .map(|(i, agent)| {
                let root = dir.path().join(format!("client{i}"));
                scope.spawn(move || {
                    let source = root.join("source");
                    make_tree(&source, i as u64 + 100, 8);
                    let cache = root.join("cache");
                    let repo = agent.repository();
                    restic_ok(&repo, &cache, &["init"]);
                    restic_ok(&repo, &cache, &["backup", path(&source)]);
                    restic_ok(&repo, &cache, &["check", "--read-data"]);
                    let snapshots: serde_json::Value =
                        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"]))
                            .expect("JSON");
                    assert_eq!(
                        snapshots.as_array().map(Vec::len),
                        Some(1),
                        "client {i}: one snapshot"
                    );
                })
            })
            .collect();
        for (i, handle) in handles.into_iter().enumerate() {
            if let Err(panic) = handle.join() {
                let log = std::fs::read_to_string(&server.stderr_log).unwrap_or_default();
                eprintln!("server log:\n{log}");
                std::panic::panic_any(format!("client {i} failed: {panic:?}"));
            }
        }
    });
    // Each vault holds exactly its own snapshot: 20 vault prefixes, one snapshot each.
    let listing = store_listing(&dir.path().join("data/objects"));
    let mut snapshots_per_vault = std::collections::BTreeMap::new();
    for key in listing.keys().filter(|k| k.contains("/snapshots/")) {
        *snapshots_per_vault
            .entry(key.split('/').nth(1).expect("vault id").to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(snapshots_per_vault.len(), 20, "20 vaults hold snapshots");
    assert!(
        snapshots_per_vault.values().all(|&n| n == 1),
        "one snapshot per vault: {snapshots_per_vault:?}"
    );
}
