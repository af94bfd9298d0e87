//! Debian's restic backs up to a vault through the real server, then `check --read-data` and
//! `restore` succeed and the restored tree is identical: on the embedded defaults (local
//! object directory), on Azure Blob (Azurite) and on S3 (moto). An interrupted upload stores
//! nothing.

use std::io::{Read, Write};
use std::path::Path;

use crate::server_support::*;

/// Backs up, checks and restores through a server whose storage `config` selects (embedded
/// defaults if `None`); returns the server so callers can inspect it.
fn backup_check_restore(dir: &Path, config: Option<&Path>) -> Server {
    let server = Server::start(dir, "server", &dir.join("data"), config);
    let agent = provision(&server, dir, "acme", "laptop", false);
    let repo = agent.repository();
    let cache = dir.join("cache");
    let source = dir.join("source");
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

    let target = dir.join("restore");
    assert_restic_restores_latest(&repo, &cache, &target, &source);
    server
}

#[test]
fn restic_backup_check_restore_through_vault() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    backup_check_restore(dir.path(), None);
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

#[test]
fn restic_through_vault_on_azurite() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(azurite) = seedship_store::testing::start_azurite(dir.path()) else {
        return;
    };
    let config = write_storage_config(dir.path(), &azurite.azure_config("vaults"));
    backup_check_restore(dir.path(), Some(&config));
    assert!(
        !dir.path().join("data/objects").exists(),
        "nothing stored locally when Azure is configured"
    );
}

#[test]
fn restic_through_vault_on_moto_s3() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(moto) = seedship_store::testing::start_moto(dir.path()) else {
        return;
    };
    let config = write_storage_config(dir.path(), &moto.s3_config("vaults"));
    backup_check_restore(dir.path(), Some(&config));
    assert!(
        !dir.path().join("data/objects").exists(),
        "nothing stored locally when S3 is configured"
    );
}

#[test]
fn interrupted_upload_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let agent = provision(&server, dir.path(), "acme", "laptop", false);
    let name = "cd".repeat(32);
    let address = server.url.trim_start_matches("http://").to_owned();
    let url_path = format!("{}data/{name}", agent.url.trim_start_matches(&server.url));
    // Announce 12 MB, send 6 MB (past the streaming threshold), then drop the connection.
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", agent.id, agent.secret))
    };
    write!(
        stream,
        "POST {url_path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {auth}\r\nContent-Length: 12000000\r\n\r\n"
    )
    .expect("headers");
    stream.write_all(&vec![1u8; 6_000_000]).expect("body");
    stream.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(stream);
    std::thread::sleep(std::time::Duration::from_millis(500));

    let http = reqwest::blocking::Client::new();
    let head = http
        .head(format!("{}data/{name}", agent.url))
        .basic_auth(&agent.id, Some(&agent.secret))
        .send();
    assert_eq!(
        head.expect("HEAD").status(),
        reqwest::StatusCode::NOT_FOUND,
        "partial upload visible"
    );
    let mut listing = String::new();
    http.get(format!("{}data/", agent.url))
        .basic_auth(&agent.id, Some(&agent.secret))
        .send()
        .expect("list")
        .read_to_string(&mut listing)
        .expect("read listing");
    assert_eq!(listing, "[]", "partial upload listed");
    let leftovers: Vec<String> = store_listing(&dir.path().join("data/objects"))
        .into_keys()
        .collect();
    assert!(leftovers.is_empty(), "aborted upload left files: {leftovers:?}");
}
