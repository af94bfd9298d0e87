//! `seedship server --tls`: a self-signed certificate is made once; the seedship commands
//! (trusting it through `SEEDSHIP_CA_CERT`) and restic (`--cacert`) work over HTTPS, and a
//! client that does not trust it is refused by TLS.

mod server_support;

use server_support::*;

#[test]
fn restic_and_seedship_over_https_with_self_signed_certificate() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::start_with(dir.path(), "server", &data, None, &["--tls"]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "HTTPS URL: {}",
        server.url
    );
    let ca = server.certificate();
    let key_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.join("tls/key.pem"))
            .expect("key")
            .permissions(),
    );
    assert_eq!(key_mode & 0o777, 0o600, "private key is 0600");

    // Without trusting the certificate the client fails (exit 15: server unreachable).
    let account = dir.path().join("acme.credentials");
    let untrusted = seedship_output(&[
        "admin",
        "account",
        "create",
        "acme",
        "--admin-credentials",
        path(&server.admin_credentials()),
    ]);
    assert_eq!(
        untrusted.status.code(),
        Some(15),
        "untrusted certificate accepted"
    );

    seedship_trusting(
        &ca,
        &[
            "admin",
            "account",
            "create",
            "acme",
            "--admin-credentials",
            path(&server.admin_credentials()),
            "--out",
            path(&account),
        ],
    );
    let vault = dir.path().join("vault.credentials");
    seedship_trusting(
        &ca,
        &[
            "vault",
            "create",
            "main",
            "--credentials",
            path(&account),
            "--out",
            path(&vault),
        ],
    );
    let config_dir = dir.path().join("agent");
    seedship_trusting(
        &ca,
        &[
            "agent",
            "register",
            "--credentials",
            path(&vault),
            "--name",
            "a",
            "--config-dir",
            path(&config_dir),
        ],
    );
    let agent_toml = std::fs::read_to_string(config_dir.join("agent.toml")).expect("agent.toml");
    let field = |name: &str| {
        agent_toml
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
            .and_then(|r| r.strip_suffix('"'))
            .expect("field")
            .to_owned()
    };
    let agent = Agent {
        id: field("id"),
        secret: field("secret"),
        url: field("url"),
    };
    assert!(agent.url.starts_with("https://"), "vault URL is HTTPS");

    let cache = dir.path().join("cache");
    let source = dir.path().join("source");
    make_tree(&source, 9, 10);
    let repo = agent.repository();
    assert!(
        !run_restic(&repo, &cache, &["init"]).status.success(),
        "restic trusted an unknown certificate"
    );
    restic_ok(&repo, &cache, &["--cacert", path(&ca), "init"]);
    restic_ok(&repo, &cache, &["--cacert", path(&ca), "backup", path(&source)]);
    restic_ok(&repo, &cache, &["--cacert", path(&ca), "check", "--read-data"]);
    let target = dir.path().join("restore");
    restic_ok(
        &repo,
        &cache,
        &[
            "--cacert",
            path(&ca),
            "restore",
            "latest",
            "--target",
            path(&target),
        ],
    );
    let restored = target.join(source.strip_prefix("/").expect("absolute"));
    assert_eq!(
        tree_contents(&restored),
        tree_contents(&source),
        "restore over HTTPS"
    );

    // A restart keeps the same certificate.
    let before = std::fs::read(&ca).expect("cert");
    drop(server);
    let again = Server::start_with(dir.path(), "server2", &data, None, &["--tls"]);
    assert_eq!(
        std::fs::read(again.certificate()).expect("cert"),
        before,
        "certificate reused"
    );
}
