//! Access control and append-only vaults, against the real server: refused requests change
//! nothing in the store.

use std::collections::BTreeMap;
use std::process::Command;

use crate::server_support::*;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{Method, StatusCode};

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
    let refused = seedship_output(&admin_create("account", "mallory", &acme, None));
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
    // seedship's forget is refused with a reason (not "wrong credentials"), exit 13.
    let seedship_forget = Command::new(SEEDSHIP)
        .args(["--json", "forget", "--keep-last", "1", "--prune", "--repo", &repo])
        .env("SEEDSHIP_PASSWORD", "correct horse battery staple")
        .env("XDG_CACHE_HOME", &cache)
        .output()
        .expect("run seedship forget");
    let stderr = String::from_utf8_lossy(&seedship_forget.stderr);
    assert_eq!(seedship_forget.status.code(), Some(13), "{stderr}");
    assert!(stderr.contains("append-only"), "{stderr}");
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
    let pack = object_name(&before, "/data/");
    let response = http
        .delete(format!("{}data/{pack}", agent.url))
        .basic_auth(&agent.id, Some(&agent.secret))
        .send();
    assert_eq!(
        error_code(response.expect("delete")),
        (StatusCode::FORBIDDEN, "AppendOnly".to_owned())
    );
    let snapshot = object_name(&before, "/snapshots/");
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

/// The `secret` of a credentials file.
fn secret_of(file: &std::path::Path) -> String {
    let text: toml::Value = toml::from_str(&std::fs::read_to_string(file).expect("read")).expect("TOML");
    text["secret"].as_str().expect("secret").to_owned()
}

/// `seedship --json <args>` that must fail: its exit code and the `exit_error` message.
fn refused(args: &[&str]) -> (i32, String) {
    let output = seedship_output(args);
    let error: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap_or_else(|_| {
        panic!(
            "seedship {args:?}: no exit_error on stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(output.status.code(), error["code"].as_i64().map(|c| c as i32));
    (
        output.status.code().expect("exit code"),
        error["message"].as_str().expect("message").to_owned(),
    )
}

/// An account owner who lost the secret gets access back from the admin by rotation, not by
/// re-creating the account (refused: the name is taken). From the rotation on the old secret
/// is refused (API, web session), the new one works; the server stores only the new secret's
/// digest and logs no secret; an existing `--out` file is never overwritten without `--force`,
/// and a refused call issues nothing.
#[test]
fn a_lost_account_secret_is_recovered_by_rotation_and_the_old_one_stops_at_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let admin = server.admin_credentials();
    let old = dir.path().join("acme.credentials");
    let create =
        |name: &str, out: &std::path::Path| seedship(&admin_create("account", name, &admin, Some(out)));
    create("acme", &old);
    create("evil", &dir.path().join("evil.credentials"));
    let old_text = std::fs::read_to_string(&old).expect("read");
    // The owner signs in on the web page too.
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let (id, old_secret) = {
        let (_, token) = bearer(&old);
        let (id, secret) = token.split_once('.').expect("id.secret");
        (id.to_owned(), secret.to_owned())
    };
    let login = http
        .post(format!("{}/web/login", server.url))
        .header(reqwest::header::ORIGIN, &server.url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("id={id}&secret={old_secret}"))
        .send()
        .expect("sign in");
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let cookie = login.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    let jobs_page = || {
        http.get(format!("{}/web/jobs", server.url))
            .header(reqwest::header::COOKIE, &cookie)
            .send()
            .expect("jobs page")
            .status()
    };
    assert_eq!(jobs_page(), StatusCode::OK, "signed in");

    // Re-creating the name is refused (14), and so is an --out file that exists: nothing issued.
    let (code, message) = refused(&admin_create(
        "account",
        "acme",
        &admin,
        Some(&dir.path().join("again.credentials")),
    ));
    assert_eq!(code, 14, "{message}");
    assert!(message.contains("account acme already exists"), "{message}");
    let (code, message) = refused(&admin_rotate("account", "acme", &admin, Some(&old)));
    assert_eq!(code, 1, "{message}");
    assert!(
        message.contains("already exists") && message.contains("--force") && message.contains(path(&old)),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(&old).expect("read"),
        old_text,
        "file untouched"
    );
    assert_eq!(whoami(&old), StatusCode::OK, "nothing was rotated");
    // A place that cannot be written (its parent is a file) is found before anything is issued.
    let (code, message) = refused(&admin_rotate(
        "account",
        "acme",
        &admin,
        Some(&old.join("new.credentials")),
    ));
    assert_eq!(code, 1, "{message}");
    assert!(message.contains("nothing was issued"), "{message}");
    assert_eq!(whoami(&old), StatusCode::OK, "nothing was rotated");

    // The admin rotates: the old secret is refused at once, everywhere; the new file works.
    let new = dir.path().join("acme-new.credentials");
    let written = seedship(&admin_rotate("account", "acme", &admin, Some(&new)));
    assert_eq!(written["kind"], "account");
    assert_eq!(written["written_to"], path(&new));
    let mode = std::fs::metadata(&new).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "credentials file mode");
    let new_secret = secret_of(&new);
    assert_ne!(new_secret, old_secret);
    assert_eq!(
        bearer(&new).1.split_once('.').map(|(i, _)| i),
        Some(id.as_str()),
        "same principal"
    );
    assert_eq!(
        whoami(&old),
        StatusCode::UNAUTHORIZED,
        "old secret after rotation"
    );
    assert_eq!(whoami(&new), StatusCode::OK, "new secret");
    let (code, _) = refused(&["storage", "list", "--credentials", path(&old)]);
    assert_eq!(code, 13, "the old file is refused credentials");
    seedship(&["storage", "create", "imports", "--credentials", path(&new)]);
    assert_eq!(
        jobs_page(),
        StatusCode::SEE_OTHER,
        "the web session signed in with the old secret ended"
    );

    // --force replaces the old file; the owner rotates its own secret through the API; another
    // account's owner may not rotate it (403, and nothing changes).
    seedship(&[
        "admin",
        "account",
        "rotate-secret",
        "acme",
        "--admin-credentials",
        path(&admin),
        "--out",
        path(&old),
        "--force",
    ]);
    assert_eq!(
        whoami(&new),
        StatusCode::UNAUTHORIZED,
        "replaced by the second rotation"
    );
    assert_eq!(
        whoami(&old),
        StatusCode::OK,
        "the replaced file holds the newest secret"
    );
    let owner =
        seedship_api::Client::new(&seedship_api::Credentials::load(&old).expect("load")).expect("client");
    let own = owner
        .rotate_account_secret("acme")
        .expect("the owner rotates its own secret");
    assert_eq!(own.id, id);
    assert_eq!(
        whoami(&old),
        StatusCode::UNAUTHORIZED,
        "after the owner's rotation"
    );
    let evil = seedship_api::Client::new(
        &seedship_api::Credentials::load(&dir.path().join("evil.credentials")).expect("load"),
    )
    .expect("client");
    match evil.rotate_account_secret("acme") {
        Err(seedship_api::ClientError::Api { status: 403, .. }) => {}
        other => panic!("another account's owner rotated acme: {other:?}"),
    }
    let current = dir.path().join("acme-current.credentials");
    std::fs::write(&current, old_text.replace(&old_secret, &own.secret)).expect("write");
    assert_eq!(
        whoami(&current),
        StatusCode::OK,
        "the owner's new secret still works"
    );

    // Only digests at rest, and no secret in the server's log.
    let mut database = std::fs::read(server.data_dir.join("metadata.db")).expect("database");
    database.extend(std::fs::read(server.data_dir.join("metadata.db-wal")).unwrap_or_default());
    let database = String::from_utf8_lossy(&database);
    let digest = |secret: &str| {
        <sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert!(
        database.contains(&digest(&own.secret)),
        "the new secret's digest is stored"
    );
    let log = std::fs::read_to_string(&server.stderr_log).expect("server log");
    assert!(log.contains("secret rotated"), "the rotations are logged");
    for secret in [&old_secret, &new_secret, &own.secret] {
        assert!(!database.contains(secret.as_str()), "a secret in the database");
        assert!(!log.contains(secret.as_str()), "a secret in the server log");
    }
}

/// Operator names are unique (409, exit 14); the admin or the operator itself rotates an
/// operator's secret, nobody else.
#[test]
fn operator_names_are_unique_and_their_secrets_rotate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let admin = server.admin_credentials();
    let operator = |command: &str, name: &str, out: &std::path::Path| {
        vec![
            "admin".to_owned(),
            "operator".to_owned(),
            command.to_owned(),
            name.to_owned(),
            "--admin-credentials".to_owned(),
            path(&admin).to_owned(),
            "--out".to_owned(),
            path(out).to_owned(),
        ]
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let staff = dir.path().join("staff.credentials");
    let other = dir.path().join("other.credentials");
    seedship(&args(&operator("create", "dc-staff", &staff)));
    seedship(&args(&operator("create", "dc-other", &other)));
    let (code, message) = refused(&args(&operator(
        "create",
        "dc-staff",
        &dir.path().join("twin.credentials"),
    )));
    assert_eq!(code, 14, "{message}");
    assert!(message.contains("operator dc-staff already exists"), "{message}");
    assert!(
        !dir.path().join("twin.credentials").exists(),
        "no file for a refused create"
    );

    let rotated = dir.path().join("staff-rotated.credentials");
    seedship(&args(&operator("rotate-secret", "dc-staff", &rotated)));
    assert_eq!(whoami(&staff), StatusCode::UNAUTHORIZED, "old operator secret");
    assert_eq!(whoami(&rotated), StatusCode::OK, "new operator secret");
    let (_, message) = refused(&args(&operator(
        "rotate-secret",
        "nobody",
        &dir.path().join("nobody.credentials"),
    )));
    assert!(message.contains("operator nobody not found"), "{message}");
    assert!(
        !dir.path().join("nobody.credentials").exists(),
        "no file left behind"
    );

    let client = |file: &std::path::Path| {
        seedship_api::Client::new(&seedship_api::Credentials::load(file).expect("load")).expect("client")
    };
    match client(&other).rotate_operator_secret("dc-staff") {
        Err(seedship_api::ClientError::Api { status: 403, .. }) => {}
        other => panic!("an operator rotated another's secret: {other:?}"),
    }
    let owner = dir.path().join("acme.credentials");
    seedship(&admin_create("account", "acme", &admin, Some(&owner)));
    match client(&owner).rotate_operator_secret("dc-staff") {
        Err(seedship_api::ClientError::Api { status: 403, .. }) => {}
        other => panic!("an account owner rotated an operator's secret: {other:?}"),
    }
    assert_eq!(
        whoami(&rotated),
        StatusCode::OK,
        "refused rotations changed nothing"
    );
    let own = client(&rotated)
        .rotate_operator_secret("dc-staff")
        .expect("the operator rotates its own secret");
    assert_eq!(
        whoami(&rotated),
        StatusCode::UNAUTHORIZED,
        "after its own rotation"
    );
    let (url, _) = bearer(&rotated);
    let status = Client::new()
        .get(format!("{url}/api/v1/metrics"))
        .bearer_auth(format!("{}.{}", own.id, own.secret))
        .send()
        .expect("metrics")
        .status();
    assert_eq!(status, StatusCode::OK, "the operator's own new secret works");
}

/// The account owner rotates an agent's secret by its id (an agent of another account is
/// "not found", as one that does not exist); an agent rotates its own, and its agent.toml is
/// replaced. The old secret is refused by the vault at once.
#[test]
fn agent_secrets_rotate_by_the_owner_or_the_agent_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let agent = provision(&server, dir.path(), "acme", "laptop", false);
    let sibling = provision(&server, dir.path(), "acme", "desktop", false);
    provision(&server, dir.path(), "evil", "loot", false);
    let owner = dir.path().join("acme.credentials");
    let config_dir = dir.path().join("agent-acme-laptop");
    let vault_status_at = |url: &str, id: &str, secret: &str| {
        Client::new()
            .post(format!("{url}?create=true"))
            .basic_auth(id, Some(secret))
            .send()
            .expect("POST ?create=true")
            .status()
    };
    let vault_status = |id: &str, secret: &str| vault_status_at(&agent.url, id, secret);
    assert_eq!(vault_status(&agent.id, &agent.secret), StatusCode::OK);

    // Another account's owner: the same answer as for an agent that does not exist.
    let (code, foreign) = refused(&[
        "agent",
        "rotate-secret",
        &agent.id,
        "--credentials",
        path(&dir.path().join("evil.credentials")),
        "--out",
        path(&dir.path().join("stolen.toml")),
    ]);
    assert_eq!(code, 1, "{foreign}");
    assert!(
        foreign.contains(&format!("agent {} not found", agent.id)),
        "{foreign}"
    );
    let (_, missing) = refused(&[
        "agent",
        "rotate-secret",
        "agt-0000000000000000",
        "--credentials",
        path(&owner),
        "--out",
        path(&dir.path().join("missing.toml")),
    ]);
    assert_eq!(
        foreign.replace(&agent.id, "ID"),
        missing.replace("agt-0000000000000000", "ID"),
        "a foreign agent is indistinguishable from a missing one"
    );
    assert!(!dir.path().join("stolen.toml").exists());
    assert_eq!(
        vault_status(&agent.id, &agent.secret),
        StatusCode::OK,
        "nothing changed"
    );

    // The owner rotates it: the new agent.toml opens the vault, the old secret does not.
    let by_owner = dir.path().join("laptop-agent.toml");
    seedship(&[
        "agent",
        "rotate-secret",
        &agent.id,
        "--credentials",
        path(&owner),
        "--out",
        path(&by_owner),
    ]);
    let file: toml::Value = toml::from_str(&std::fs::read_to_string(&by_owner).expect("read")).expect("TOML");
    assert_eq!(file["kind"].as_str(), Some("agent"));
    assert_eq!(file["id"].as_str(), Some(agent.id.as_str()));
    assert_eq!(file["vault"].as_str(), Some("laptop"));
    assert_eq!(file["url"].as_str(), Some(agent.url.as_str()));
    let owners_secret = secret_of(&by_owner);
    assert_eq!(
        vault_status(&agent.id, &agent.secret),
        StatusCode::UNAUTHORIZED,
        "old secret"
    );
    assert_eq!(
        vault_status(&agent.id, &owners_secret),
        StatusCode::OK,
        "new secret"
    );

    // An agent rotates only its own secret; with it, agent.toml is replaced in place.
    std::fs::copy(&by_owner, config_dir.join("agent.toml")).expect("install agent.toml");
    let sibling_client = seedship_api::Client::new(&seedship_api::Credentials::Agent {
        server: server.url.clone(),
        account: "acme".into(),
        vault: "desktop".into(),
        url: sibling.url.clone(),
        id: sibling.id.clone(),
        secret: sibling.secret.clone(),
    })
    .expect("client");
    match sibling_client.rotate_agent_secret(&agent.id) {
        Err(seedship_api::ClientError::Api { status: 403, .. }) => {}
        other => panic!("an agent rotated another agent's secret: {other:?}"),
    }
    let rotated = seedship(&["agent", "rotate-secret", "--config-dir", path(&config_dir)]);
    assert_eq!(rotated["written_to"], path(&config_dir.join("agent.toml")));
    let own_secret = secret_of(&config_dir.join("agent.toml"));
    assert_ne!(own_secret, owners_secret);
    assert_eq!(vault_status(&agent.id, &owners_secret), StatusCode::UNAUTHORIZED);
    assert_eq!(vault_status(&agent.id, &own_secret), StatusCode::OK);
    assert_eq!(
        vault_status_at(&sibling.url, &sibling.id, &sibling.secret),
        StatusCode::OK,
        "the sibling is untouched"
    );
}

/// Without `--out`, a new secret is never shown only on a terminal (refused, exit 2, nothing
/// created, so the retry with `--out` is not refused); into a pipe it is printed as the
/// credentials file, and with `--json` it is in the JSON.
#[test]
fn a_new_secret_is_never_shown_only_on_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let admin = server.admin_credentials();
    let (_master, terminal) = crate::pty_support::open_pty();
    let output = std::process::Command::new(SEEDSHIP)
        .args(admin_create("account", "acme", &admin, None))
        .stdout(terminal)
        .output()
        .expect("run seedship");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--out") && stderr.contains("terminal"),
        "{stderr}"
    );

    // Nothing was created: the same name is free, and a pipe gets the credentials file.
    let output = std::process::Command::new(SEEDSHIP)
        .args(admin_create("account", "acme", &admin, None))
        .output()
        .expect("run seedship");
    assert_exit(&output, 0);
    let piped = dir.path().join("piped.credentials");
    std::fs::write(&piped, &output.stdout).expect("write");
    assert_eq!(whoami(&piped), StatusCode::OK, "the printed credentials work");
    let json = seedship(&admin_create("operator", "dc", &admin, None));
    assert_eq!(json["kind"], "operator");
    assert_eq!(
        json["secret"].as_str().map(str::len),
        Some(64),
        "the secret is in the JSON"
    );
}

/// The name of the first object of `listing` under `dir` (such as `/data/`).
fn object_name(listing: &BTreeMap<String, u64>, dir: &str) -> String {
    let key = listing
        .keys()
        .find(|key| key.contains(dir))
        .unwrap_or_else(|| panic!("no object under {dir}"));
    key.rsplit('/').next().expect("a name").to_owned()
}

/// Sends a `POST /api/v1/uplink-probe` by hand over a raw connection (headers only, no body)
/// and answers the status line and the body of the response.
fn raw_probe(server_url: &str, headers: &str) -> (String, String) {
    use std::io::{Read, Write};
    let address = server_url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "POST /api/v1/uplink-probe HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{headers}\r\n"
    )
    .expect("send");
    let mut response = Vec::new();
    // The server answers and closes; a read error after the answer (reset) is no failure.
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_uplink_probe_is_for_agents_and_owners_bounded_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), "server", &dir.path().join("data"), None);
    let agent = provision(&server, dir.path(), "acme", "main", false);
    let objects = dir.path().join("data/objects");
    let admin = server.admin_credentials();
    let before = (store_listing(&objects), metrics(&admin));
    let probe = format!("{}/api/v1/uplink-probe", server.url);
    let http = Client::new();
    let body = vec![0x5a_u8; 300_000];
    let post_body = |auth: &dyn Fn(RequestBuilder) -> RequestBuilder, body: &[u8]| {
        auth(http.post(&probe).body(body.to_vec())).send().expect("probe")
    };
    let post = |auth: &dyn Fn(RequestBuilder) -> RequestBuilder| post_body(auth, &body);

    // The agent's upload is read to its end and counted.
    let accepted = post(&|r| r.basic_auth(&agent.id, Some(&agent.secret)));
    assert_eq!(accepted.status(), StatusCode::OK);
    let answer: serde_json::Value = accepted.json().expect("JSON");
    assert_eq!(answer["bytes"], 300_000, "{answer}");
    let seconds = answer["seconds"].as_f64().expect("seconds");
    assert!(seconds.is_finite() && seconds >= 0.0, "{answer}");
    // An account owner may measure too (bearer token).
    let (_, owner_token) = bearer(&dir.path().join("acme.credentials"));
    assert_eq!(post(&|r| r.bearer_auth(&owner_token)).status(), StatusCode::OK);

    let field = |file: &str, name: &str| {
        let text = std::fs::read_to_string(dir.path().join(file)).expect("read");
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
            .and_then(|r| r.strip_suffix('"'))
            .expect("field")
            .to_owned()
    };
    let (reg_id, reg_secret) = (field("acme-main.vault", "id"), field("acme-main.vault", "secret"));
    let (_, admin_token) = bearer(&admin);
    type Auth<'a> = Box<dyn Fn(RequestBuilder) -> RequestBuilder + 'a>;
    let refusals: Vec<(&str, Auth<'_>, StatusCode, &str)> = vec![
        (
            "no credentials",
            Box::new(|r| r),
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
        ),
        (
            "the agent with a wrong secret",
            Box::new(|r| r.basic_auth(&agent.id, Some("0".repeat(64)))),
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
        ),
        (
            "an unknown principal",
            Box::new(|r| r.bearer_auth("agt-0000000000000000.x")),
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
        ),
        (
            "vault registration credentials",
            Box::new(move |r| r.basic_auth(&reg_id, Some(&reg_secret))),
            StatusCode::FORBIDDEN,
            "Forbidden",
        ),
        (
            "the admin",
            Box::new(move |r| r.bearer_auth(&admin_token)),
            StatusCode::FORBIDDEN,
            "Forbidden",
        ),
    ];
    // A short body: the server answers a refusal without reading the body and closes the
    // connection, which a client still sending a long one sees as a broken request.
    for (what, auth, status, code) in &refusals {
        let (got, got_code) = error_code(post_body(auth.as_ref(), b"short"));
        assert_eq!((got, got_code.as_str()), (*status, *code), "{what}");
    }

    // A body declared longer than 1 GiB is refused before a byte of it is read; a wrong
    // secret is refused before that.
    let token = format!("Authorization: Bearer {}.{}\r\n", agent.id, agent.secret);
    let (status, answer) = raw_probe(
        &server.url,
        &format!("{token}Content-Length: {}\r\n", (1_u64 << 30) + 1),
    );
    assert!(status.contains(" 413 "), "{status}: {answer}");
    assert!(answer.contains("TooLarge"), "{answer}");
    let (status, _) = raw_probe(
        &server.url,
        &format!(
            "Authorization: Bearer {}.{}\r\nContent-Length: {}\r\n",
            agent.id,
            "1".repeat(64),
            (1_u64 << 30) + 1
        ),
    );
    assert!(status.contains(" 401 "), "{status}");

    // Nothing of it was stored or counted as vault data.
    assert_eq!(
        (store_listing(&objects), metrics(&admin)),
        before,
        "the probe stored or counted something"
    );
}
