//! Debian's restic backs up to a vault through the real server, then `check --read-data` and
//! `restore` succeed and the restored tree is identical.

mod server_support;

use server_support::*;

#[test]
fn restic_backup_check_restore_through_vault() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let agent = provision(&server, dir.path(), "acme", "laptop", false);
    let repo = agent.repository();
    let cache = dir.path().join("cache");
    let source = dir.path().join("source");
    make_tree(&source, 1, 40);
    // One file larger than the server's in-memory threshold, so packs stream (multipart).
    let big: Vec<u8> = (0..9_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(source.join("big.bin"), big).expect("write big");

    restic_ok(&repo, &cache, &["init"]);
    restic_ok(&repo, &cache, &["backup", "--json", path(&source)]);
    // A second, incremental snapshot after a change.
    std::fs::write(source.join("changed.txt"), b"second run").expect("write");
    restic_ok(&repo, &cache, &["backup", path(&source)]);
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"])).expect("snapshots JSON");
    assert_eq!(snapshots.as_array().map(Vec::len), Some(2), "two snapshots");
    restic_ok(&repo, &cache, &["check", "--read-data"]);

    let target = dir.path().join("restore");
    restic_ok(&repo, &cache, &["restore", "latest", "--target", path(&target)]);
    let restored = target.join(source.strip_prefix("/").expect("absolute"));
    assert_eq!(
        tree_contents(&restored),
        tree_contents(&source),
        "restored tree differs from the source"
    );

    // The objects sit in the store under the vault's prefix with restic's layout.
    let listing = store_listing(&dir.path().join("data/objects"));
    assert!(
        listing.keys().any(|k| k.ends_with("/config")),
        "config object stored"
    );
    assert!(
        listing
            .keys()
            .any(|k| k.contains("/data/") && k.split('/').nth_back(1).is_some_and(|d| d.len() == 2)),
        "packs under data/<2 hex>/"
    );
    assert!(
        listing.values().any(|&size| size > 4 * 1024 * 1024),
        "a pack above the streaming threshold"
    );
}
