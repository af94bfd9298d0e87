//! `seedship server --tls`: a self-signed certificate is made once; the seedship commands
//! (trusting it through `SEEDSHIP_CA_CERT`) and restic (`--cacert`) work over HTTPS, and a
//! client that does not trust it is refused by TLS.

use std::path::{Path, PathBuf};

use crate::server_support::*;

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
    let untrusted = seedship_output(&admin_create(
        "account",
        "acme",
        &server.admin_credentials(),
        None,
    ));
    assert_eq!(
        untrusted.status.code(),
        Some(15),
        "untrusted certificate accepted"
    );

    seedship_trusting(
        &ca,
        &admin_create("account", "acme", &server.admin_credentials(), Some(&account)),
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
    seedship_trusting(&ca, &register_args(&vault, "a", &config_dir));
    let agent = Agent::registered_in(&config_dir);
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

/// A CA made for the test, and a certificate for `127.0.0.1` and `localhost` it signed; returns
/// the CA's, the server certificate's and its key's PEM files.
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "seedship test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("server params");
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    let files = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&files.0, ca_cert.pem()).expect("write CA");
    std::fs::write(&files.1, server_cert.pem()).expect("write certificate");
    std::fs::write(&files.2, server_key.serialize_pem()).expect("write key");
    (files.0, files.1, files.2)
}

/// `--tls-cert`/`--tls-key` with a certificate from a private CA: `seedship backup` to the
/// vault trusts that CA through `SEEDSHIP_CA_CERT`, as the management commands do, and without
/// it refuses the server's certificate.
#[test]
fn seedship_backup_over_https_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let (ca, cert, key) = private_ca(dir);
    let server = Server::start_trusting(
        dir,
        "server",
        &dir.join("data"),
        None,
        &["--tls-cert", path(&cert), "--tls-key", path(&key)],
        Some(&ca),
    );
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    assert!(
        !dir.join("data/tls").exists(),
        "no self-signed certificate is made"
    );
    let agent = provision(&server, dir, "acme", "laptop", false);
    let source = dir.join("source");
    make_tree(&source, 3, 8);
    let backup = |trust: Option<&Path>| {
        let mut command = std::process::Command::new(SEEDSHIP);
        command
            .args(["--json", "backup", path(&source), "--repo", &agent.repository()])
            .env("SEEDSHIP_PASSWORD", "correct horse battery staple")
            .env("SEEDSHIP_CACHE_DIR", dir.join("cache"))
            .env_remove("SEEDSHIP_CA_CERT");
        if let Some(ca) = trust {
            command.env("SEEDSHIP_CA_CERT", ca);
        }
        command.output().expect("run seedship backup")
    };

    let untrusted = backup(None);
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(!untrusted.status.success(), "an unknown CA was trusted");
    assert!(
        stderr.contains("certificate") || stderr.contains("UnknownIssuer") || stderr.contains("TLS"),
        "a TLS error: {stderr}"
    );

    let trusted = backup(Some(&ca));
    assert!(
        trusted.status.success(),
        "backup trusting the CA: {}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&trusted.stdout).expect("JSON");
    assert_eq!(report["repository_created"], true, "{report}");

    // Both or neither: a certificate without its key is refused before anything starts.
    let half = seedship_output(&[
        "server",
        "--data-dir",
        path(&dir.join("data2")),
        "--tls-cert",
        path(&cert),
    ]);
    assert!(!half.status.success(), "--tls-cert alone accepted");
}
