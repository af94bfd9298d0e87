//! Access control and append-only vaults, against the real server: refused requests change
//! nothing in the store.

mod server_support;

use std::collections::BTreeMap;

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{Method, StatusCode};
use server_support::*;

fn error_code(response: reqwest::blocking::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: serde_json::Value = response.json().unwrap_or_default();
    (
        status,
        body["error"]["code"].as_str().unwrap_or_default().to_owned(),
    )
}

fn without_locks(listing: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    listing
        .iter()
        .filter(|(k, _)| !k.contains("/locks/"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

#[test]
fn refuses_missing_foreign_and_wrong_credentials_and_changes_nothing() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let owner = provision(&server, dir.path(), "acme", "main", false);
    let sibling = provision(&server, dir.path(), "acme", "other", false);
    let stranger = provision(&server, dir.path(), "evil", "loot", false);
    let cache = dir.path().join("cache");
    let source = dir.path().join("source");
    make_tree(&source, 7, 10);
    restic_ok(&owner.repository(), &cache, &["init"]);
    restic_ok(&owner.repository(), &cache, &["backup", path(&source)]);

    let objects = dir.path().join("data/objects");
    let before = store_listing(&objects);
    let snapshot = before
        .keys()
        .find(|k| k.contains("/snapshots/"))
        .expect("a snapshot object")
        .clone();
    let snapshot_id = snapshot.rsplit('/').next().expect("id").to_owned();
    let base = owner.url.clone();
    let data_body = b"not restic data".to_vec();
    let data_id = {
        use std::fmt::Write;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&data_body);
        digest.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let requests: Vec<(Method, String)> = vec![
        (Method::GET, format!("{base}config")),
        (Method::HEAD, format!("{base}config")),
        (Method::GET, format!("{base}snapshots/")),
        (Method::GET, format!("{base}snapshots/{snapshot_id}")),
        (Method::POST, format!("{base}data/{data_id}")),
        (Method::DELETE, format!("{base}snapshots/{snapshot_id}")),
        (Method::POST, format!("{base}?create=true")),
    ];
    let http = Client::new();
    let send = |method: &Method, url: &str, auth: &dyn Fn(RequestBuilder) -> RequestBuilder| {
        let request = http.request(method.clone(), url);
        let request = if *method == Method::POST {
            request.body(data_body.clone())
        } else {
            request
        };
        auth(request).send().expect("request")
    };
    let account_file =
        |name: &str| std::fs::read_to_string(dir.path().join(format!("{name}.credentials"))).expect("read");
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
            .and_then(|r| r.strip_suffix('"'))
            .expect("field")
            .to_owned()
    };
    let evil = account_file("evil");
    let (evil_id, evil_secret) = (field(&evil, "id"), field(&evil, "secret"));
    let registration = std::fs::read_to_string(dir.path().join("acme-main.vault")).expect("read");
    let (reg_id, reg_secret) = (field(&registration, "id"), field(&registration, "secret"));

    type Auth = Box<dyn Fn(RequestBuilder) -> RequestBuilder>;
    let cases: Vec<(&str, Auth, StatusCode)> = vec![
        ("no credentials", Box::new(|r| r), StatusCode::UNAUTHORIZED),
        (
            "wrong password",
            Box::new({
                let id = owner.id.clone();
                move |r| r.basic_auth(&id, Some("0".repeat(64)))
            }),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown principal",
            Box::new(|r| r.basic_auth("agt-0000000000000000", Some("x"))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "malformed bearer",
            Box::new(|r| r.bearer_auth("garbage")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another account's owner",
            Box::new(move |r| r.bearer_auth(format!("{evil_id}.{evil_secret}"))),
            StatusCode::FORBIDDEN,
        ),
        (
            "another account's agent",
            Box::new({
                let (id, secret) = (stranger.id.clone(), stranger.secret.clone());
                move |r| r.basic_auth(&id, Some(&secret))
            }),
            StatusCode::FORBIDDEN,
        ),
        (
            "agent of another vault of the account",
            Box::new({
                let (id, secret) = (sibling.id.clone(), sibling.secret.clone());
                move |r| r.basic_auth(&id, Some(&secret))
            }),
            StatusCode::FORBIDDEN,
        ),
        (
            "vault registration credentials",
            Box::new(move |r| r.basic_auth(&reg_id, Some(&reg_secret))),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (what, auth, expected) in &cases {
        for (method, url) in &requests {
            let response = send(method, url, auth.as_ref());
            let status = response.status();
            assert_eq!(status, *expected, "{what}: {method} {url}");
            if *method != Method::HEAD {
                let (_, code) = error_code(response);
                let expected_code = if *expected == StatusCode::UNAUTHORIZED {
                    "Unauthenticated"
                } else {
                    "Forbidden"
                };
                assert_eq!(code, expected_code, "{what}: {method} {url}");
            }
        }
    }
    // restic itself with a wrong password in the URL fails.
    let wrong = format!(
        "rest:http://{}:{}@{}",
        owner.id,
        "1".repeat(64),
        owner.url.trim_start_matches("http://")
    );
    assert!(
        !run_restic(&wrong, &cache, &["snapshots"]).status.success(),
        "restic with a wrong password"
    );

    // The management API keeps accounts apart too.
    let evil_vaults = seedship(&[
        "vault",
        "list",
        "--credentials",
        path(&dir.path().join("evil.credentials")),
    ]);
    let names: Vec<&str> = evil_vaults
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(names, ["loot"], "an account sees only its own vaults");
    let acme = dir.path().join("acme.credentials");
    let refused = seedship_output(&[
        "admin",
        "account",
        "create",
        "mallory",
        "--admin-credentials",
        path(&acme),
    ]);
    assert!(
        !refused.status.success(),
        "an account owner's credentials are not admin credentials"
    );
    seedship(&["storage", "create", "imports", "--credentials", path(&acme)]);
    let foreign = seedship_output(&[
        "container",
        "create",
        "stolen",
        "--storage-account",
        "imports",
        "--credentials",
        path(&dir.path().join("evil.credentials")),
    ]);
    assert!(
        !foreign.status.success(),
        "another account's storage account is invisible"
    );
    assert!(
        String::from_utf8_lossy(&foreign.stderr).contains("not found"),
        "reported as not found"
    );

    assert_eq!(
        without_locks(&store_listing(&objects)),
        without_locks(&before),
        "refused requests changed the store"
    );
    assert_eq!(store_listing(&objects), before, "no stray locks either");
}

#[test]
fn append_only_vault_refuses_forget_prune_and_deletes_nothing() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let agent = provision(&server, dir.path(), "acme", "ledger", true);
    let repo = agent.repository();
    let cache = dir.path().join("cache");
    let source = dir.path().join("source");
    make_tree(&source, 3, 12);
    restic_ok(&repo, &cache, &["init"]);
    restic_ok(&repo, &cache, &["backup", path(&source)]);
    std::fs::write(source.join("new.txt"), b"more").expect("write");
    restic_ok(&repo, &cache, &["backup", path(&source)]);
    let objects = dir.path().join("data/objects");
    let before = without_locks(&store_listing(&objects));

    let forget = run_restic(&repo, &cache, &["forget", "--keep-last", "1", "--prune"]);
    assert!(
        !forget.status.success(),
        "forget --prune succeeded on an append-only vault"
    );
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"])).expect("JSON");
    assert_eq!(
        snapshots.as_array().map(Vec::len),
        Some(2),
        "both snapshots remain"
    );
    assert_eq!(
        without_locks(&store_listing(&objects)),
        before,
        "nothing deleted or rewritten"
    );

    // Direct requests: deleting a pack is refused, overwriting a snapshot is refused, an upload
    // whose bytes do not hash to its name is refused and stores nothing; locks can go.
    let http = Client::new();
    let pack = before
        .keys()
        .find(|k| k.contains("/data/"))
        .expect("a pack")
        .rsplit('/')
        .next()
        .expect("id")
        .to_owned();
    let response = http
        .delete(format!("{}data/{pack}", agent.url))
        .basic_auth(&agent.id, Some(&agent.secret))
        .send();
    assert_eq!(
        error_code(response.expect("delete")),
        (StatusCode::FORBIDDEN, "AppendOnly".to_owned())
    );
    let snapshot = before
        .keys()
        .find(|k| k.contains("/snapshots/"))
        .expect("snapshot")
        .rsplit('/')
        .next()
        .expect("id")
        .to_owned();
    let response = http
        .post(format!("{}snapshots/{snapshot}", agent.url))
        .basic_auth(&agent.id, Some(&agent.secret))
        .body("replacement")
        .send();
    assert_eq!(
        error_code(response.expect("post")),
        (StatusCode::FORBIDDEN, "ObjectExists".to_owned())
    );
    let bogus = "ab".repeat(32);
    let response = http
        .post(format!("{}data/{bogus}", agent.url))
        .basic_auth(&agent.id, Some(&agent.secret))
        .body(vec![7u8; 6 * 1024 * 1024])
        .send();
    assert_eq!(
        error_code(response.expect("post")),
        (StatusCode::BAD_REQUEST, "DigestMismatch".to_owned())
    );
    assert_eq!(
        without_locks(&store_listing(&objects)),
        before,
        "refused uploads stored nothing"
    );
    restic_ok(&repo, &cache, &["check"]);
}

/// Started with umask 022 on a data directory that exists with mode 0755, the server makes it
/// 0700, and nothing it writes below (database, credentials, keys, certificate, objects) is
/// open to group or others.
#[test]
fn the_data_directory_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    // children inherit it; the other tests of this binary do not care
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let server = Server::start_with(dir.path(), "server", &data, None, &["--tls"]);
    let agent = provision(&server, dir.path(), "acme", "laptop", false);
    let http = server.http();
    let key = b"a key file";
    let key_name: String = <sha2::Sha256 as sha2::Digest>::digest(key)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    for (object, body) in [
        ("config".to_owned(), &b"a config"[..]),
        (format!("keys/{key_name}"), &key[..]),
    ] {
        let response = http
            .post(format!("{}{object}", agent.url))
            .basic_auth(&agent.id, Some(&agent.secret))
            .body(body.to_vec())
            .send()
            .expect("POST");
        assert_eq!(response.status(), 200, "{object}");
    }

    let mode = |path: &std::path::Path| {
        std::fs::symlink_metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&data), 0o700, "data directory");
    let mut seen = Vec::new();
    let mut open = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            if mode(&path) & 0o077 != 0 {
                open.push(format!("{} {:o}", path.display(), mode(&path)));
            }
            seen.push(path.strip_prefix(&data).expect("relative").display().to_string());
        }
    }
    for expected in [
        "metadata.db",
        "admin-credentials",
        "import-service.key",
        "tls/key.pem",
        "objects",
    ] {
        assert!(seen.iter().any(|p| p == expected), "{expected} in {seen:?}");
    }
    assert!(
        seen.iter().any(|p| p.ends_with(&key_name)),
        "the key object in {seen:?}"
    );
    assert!(open.is_empty(), "open to group or others: {open:?}");
}
