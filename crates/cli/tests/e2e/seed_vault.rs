//! Vault seeding: a repository written by `seedship backup` to a local staging directory and
//! placed in a container is adopted by a vault through the server (nothing uploaded by the
//! client); restic lists, checks (`--read-data`) and restores it; a following
//! `seedship backup` to the vault is incremental, with the bytes received by the server
//! counted; seeding is idempotent, resumes after an interruption and refuses a vault holding
//! another repository.

use std::path::Path;
use std::process::Command;

use crate::server_support::*;
use seedship_treecmp::Rng;

/// Runs `seedship --json <args>` with the repository password in the environment.
fn seedship_pw(args: &[&str]) -> serde_json::Value {
    seedship_env(args, &[("SEEDSHIP_PASSWORD", PASSWORD)])
}

/// The store directory of container `name` (its id read from the server's SQLite metadata).
fn container_dir(data: &Path, name: &str) -> std::path::PathBuf {
    let output = Command::new("sqlite3")
        .arg(data.join("metadata.db"))
        .arg(format!("SELECT id FROM containers WHERE name = '{name}'"))
        .output()
        .expect("run sqlite3");
    let id = String::from_utf8(output.stdout).expect("UTF-8");
    data.join("objects/containers").join(id.trim())
}

#[test]
fn seeded_vault_serves_restic_and_takes_incrementals() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let imported = Imported::new(dir, |source| {
        make_tree(source, 7, 30);
        std::fs::write(source.join("big.bin"), Rng::new(1).random(6_000_000)).expect("write");
    });
    let Imported {
        server,
        agent,
        account,
        data,
        source,
        staging,
        vault_dir,
        repository_id: repo_id,
    } = imported;
    let creds = ["--credentials", path(&account)];
    let container = container_dir(&data, "import1");

    // Wrong prefix: not a repository.
    let missing = seedship_output(&seed_args("laptop", "repo/nothing", &creds));
    assert!(
        !missing.status.success(),
        "seeding from an empty prefix must fail"
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NotARepository"));

    // Interrupted seed: a third of the packs made it into the vault before the "crash".
    assert!(
        store_listing(&data.join("objects"))
            .keys()
            .all(|k| !k.starts_with("vaults/")),
        "vault empty before seeding"
    );
    let packs: Vec<_> = store_listing(&container.join("repo/data")).into_keys().collect();
    assert!(packs.len() >= 2, "several packs staged");
    for pack in packs.iter().step_by(3) {
        let to = vault_dir.join("data").join(pack);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(container.join("repo/data").join(pack), to).expect("copy");
    }

    let seed = seed_args("laptop", "repo", &creds);
    let before_seed = metrics(&server.admin_credentials());
    let seeded = seedship(&seed);
    let staged_objects = store_listing(&staging).len() as u64;
    assert_eq!(seeded["objects"].as_u64(), Some(staged_objects), "{seeded}");
    assert_eq!(
        seeded["skipped"].as_u64(),
        Some(packs.iter().step_by(3).count() as u64),
        "packs already in the vault are skipped"
    );
    assert_eq!(seeded["snapshots"].as_u64(), Some(1));
    assert_eq!(
        metrics(&server.admin_credentials())["vault_bytes_received"],
        before_seed["vault_bytes_received"],
        "seeding uploads nothing through the vault protocol"
    );
    // Idempotent.
    let again = seedship(&seed);
    assert_eq!(again["copied"].as_u64(), Some(0), "{again}");
    assert_eq!(again["skipped"].as_u64(), Some(staged_objects));

    // The vault is the staged repository, unchanged: same id, restic reads it.
    let repo = agent.repository();
    let cache = dir.join("cache");
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"])).expect("JSON");
    assert_eq!(snapshots.as_array().map(Vec::len), Some(1));
    let config = restic_ok(&repo, &cache, &["cat", "config"]);
    assert!(
        config.contains(&repo_id),
        "vault keeps the repository id: {config}"
    );
    restic_ok(&repo, &cache, &["check", "--read-data"]);

    // Incremental over the network: change a few files.
    let seeded_objects = store_listing(&vault_dir);
    let changed = 3_000_000usize;
    std::fs::write(source.join("new.bin"), Rng::new(2).random(changed)).expect("write");
    std::fs::write(source.join("file-1.bin"), b"changed").expect("write");
    let before = metrics(&server.admin_credentials());
    let incremental = seedship_pw(&[
        "backup",
        path(&source),
        "--repo",
        &repo,
        "--host",
        "laptop",
        "--cache-dir",
        path(&dir.join("agent-cache")),
    ]);
    let after = metrics(&server.admin_credentials());
    assert!(
        incremental["parent_id"].is_string(),
        "incremental has a parent: {incremental}"
    );
    assert_eq!(incremental["repository_id"].as_str(), Some(repo_id.as_str()));
    let received = after["vault_bytes_received"].as_u64().expect("n")
        - before["vault_bytes_received"].as_u64().expect("n");
    let compressed_change = incremental["data_added_packed"].as_u64().expect("packed");
    eprintln!(
        "seeded {} objects; incremental: {received} bytes received, {compressed_change} bytes packed, {changed} bytes changed",
        seeded_objects.len()
    );
    assert!(
        compressed_change >= changed as u64,
        "random data does not compress"
    );
    assert!(
        received as f64 <= 1.1 * compressed_change as f64,
        "incremental sent {received} bytes for {compressed_change} bytes of change"
    );
    // Nothing seeded was uploaded again: every seeded object is unchanged and the only new
    // objects are the incremental's.
    let now = store_listing(&vault_dir);
    for (key, size) in &seeded_objects {
        assert_eq!(now.get(key), Some(size), "seeded object {key} changed");
    }
    let new_bytes: u64 = now
        .iter()
        .filter(|(k, _)| !seeded_objects.contains_key(*k))
        .map(|(_, s)| s)
        .sum();
    assert_eq!(new_bytes, received, "bytes received are exactly the new objects");

    // restic lists and restores both snapshots from the vault.
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"])).expect("JSON");
    assert_eq!(snapshots.as_array().map(Vec::len), Some(2));
    restic_ok(&repo, &cache, &["check", "--read-data"]);
    let target = dir.join("restore");
    assert_restic_restores_latest(&repo, &cache, &target, &source);

    // A vault holding another repository refuses the seed.
    let other = provision(&server, dir, "acme", "desktop", false);
    restic_ok(&other.repository(), &dir.join("cache2"), &["init"]);
    let refused = seedship_output(&seed_args("desktop", "repo", &creds));
    assert!(
        !refused.status.success(),
        "seeding over another repository must fail"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("SeedConflict"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// The server is killed (SIGKILL) while it copies packs into the vault; after a restart the
/// same seed request completes, and restic's `check --read-data` passes on the vault.
/// A server whose container `imports/import1` holds, under `repo/`, a repository written by
/// `seedship backup --host laptop` into `staging`, and an agent's empty vault `laptop`.
struct Imported {
    server: Server,
    agent: Agent,
    account: std::path::PathBuf,
    data: std::path::PathBuf,
    source: std::path::PathBuf,
    staging: std::path::PathBuf,
    vault_dir: std::path::PathBuf,
    repository_id: String,
}

impl Imported {
    /// `fill` writes the source tree; a Completed import job `import1-repo` accounts for it.
    fn new(dir: &Path, fill: impl FnOnce(&Path)) -> Imported {
        let imported = Imported::staged(dir, fill);
        let container = ["imports", "import1", "repo"];
        complete_import(
            &imported.server,
            &imported.account,
            "import1-repo",
            container[0],
            container[1],
            container[2],
        );
        imported
    }

    /// As [`Imported::new`], but no import job wrote the container: the repository was put
    /// there by other means.
    fn staged(dir: &Path, fill: impl FnOnce(&Path)) -> Imported {
        let data = dir.join("data");
        let server = Server::start(dir, "server", &data, None);
        let agent = provision(&server, dir, "acme", "laptop", false);
        let account = dir.join("acme.credentials");
        let creds = ["--credentials", path(&account)];
        seedship(&[&["storage", "create", "imports"][..], &creds].concat());
        seedship(
            &[
                &["container", "create", "import1", "--storage-account", "imports"][..],
                &creds,
            ]
            .concat(),
        );
        let source = dir.join("source");
        std::fs::create_dir_all(&source).expect("mkdir");
        fill(&source);
        let staging = dir.join("staging");
        let first = seedship_pw(&[
            "backup",
            path(&source),
            "--repo",
            path(&staging),
            "--host",
            "laptop",
        ]);
        let repository_id = first["repository_id"].as_str().expect("id").to_owned();
        let container = container_dir(&data, "import1");
        copy_tree(&staging, &container.join("repo"));
        let vault_id = Command::new("sqlite3")
            .arg(data.join("metadata.db"))
            .arg("SELECT id FROM vaults WHERE name = 'laptop'")
            .output()
            .expect("sqlite3");
        let vault_dir = data
            .join("objects/vaults")
            .join(String::from_utf8_lossy(&vault_id.stdout).trim());
        Imported {
            server,
            agent,
            account,
            data,
            source,
            staging,
            vault_dir,
            repository_id,
        }
    }

    /// A source of 32 files of 8 MB of random data (~256 MB): a seed of it takes long enough
    /// (about a second) for the tests to act while it runs.
    fn large(dir: &Path) -> Imported {
        Imported::new(dir, |source| {
            for i in 0..32u64 {
                std::fs::write(
                    source.join(format!("f{i}.bin")),
                    Rng::new(i + 10).random(8_000_000),
                )
                .expect("write");
            }
        })
    }
}

#[test]
fn seed_completes_after_server_killed_midway() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let imported = Imported::large(dir);
    let server = imported.server;
    let creds = ["--credentials", path(&imported.account)];
    let seed = seed_args("laptop", "repo", &creds);
    let mut client = Command::new(SEEDSHIP)
        .arg("--json")
        .args(&seed)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn seed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Wait for a complete copied pack (the local store writes `<name>#<n>` temporaries first).
    let complete = |listing: &std::collections::BTreeMap<String, u64>| {
        listing
            .keys()
            .filter(|k| k.rsplit('/').next().is_some_and(|name| name.len() == 64))
            .count()
    };
    while complete(&store_listing(&imported.vault_dir.join("data"))) == 0 {
        assert!(std::time::Instant::now() < deadline, "seeding never started");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let port = server.url.rsplit(':').next().expect("port").to_owned();
    drop(server); // SIGKILL mid-seed
    let _ = client.wait();
    let partial = complete(&store_listing(&imported.vault_dir));
    assert!(
        !store_listing(&imported.vault_dir).contains_key("config"),
        "killed before the seed completed"
    );
    let total = store_listing(&imported.staging).len();
    assert!(partial < total, "killed mid-seed: {partial} of {total} objects");

    let listen = format!("127.0.0.1:{port}");
    let _server = Server::start_with(dir, "server2", &imported.data, None, &["--listen", &listen]);
    let seeded = seedship(&seed);
    assert_eq!(seeded["objects"].as_u64(), Some(total as u64), "{seeded}");
    assert_eq!(
        seeded["skipped"].as_u64(),
        Some(partial as u64),
        "objects copied before the kill are skipped: {seeded}"
    );
    eprintln!("killed after {partial} of {total} objects; resumed: {seeded}");
    let repo = imported.agent.repository();
    let cache = dir.join("cache");
    restic_ok(&repo, &cache, &["check", "--read-data"]);
    let target = dir.join("restore");
    restic_ok(&repo, &cache, &["restore", "latest", "--target", path(&target)]);
    let restored = target.join(imported.source.strip_prefix("/").expect("absolute"));
    assert_eq!(
        tree_contents(&restored),
        tree_contents(&imported.source),
        "restored tree differs"
    );
}

/// The seed runs on the server: a request that does not wait gets `202` and the progress, a
/// second source for the same vault is refused while it runs, and asking again collects the
/// report once it is done.
#[test]
fn seed_answers_with_progress_while_it_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let imported = Imported::large(dir.path());
    let (url, token) = bearer(&imported.account);
    let http = imported.server.http();
    let seed = |prefix: &str| {
        let response = http
            .post(format!("{url}/api/v1/vaults/laptop/seed?wait=0"))
            .bearer_auth(&token)
            .json(
                &serde_json::json!({"storage_account": "imports", "container": "import1", "prefix": prefix}),
            )
            .send()
            .expect("POST seed");
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().expect("JSON"))
    };
    let (status, first) = seed("repo");
    assert_eq!(status, 202, "{first}");
    let (status, other) = seed("repo/elsewhere");
    assert_eq!(status, 409, "{other}");
    assert_eq!(other["error"]["code"], "SeedConflict", "{other}");
    assert!(
        other["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"repo\"")),
        "names the running seed's source: {other}"
    );

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut answers = vec![first];
    let report = loop {
        assert!(std::time::Instant::now() < deadline, "seed not done: {answers:?}");
        std::thread::sleep(std::time::Duration::from_millis(5));
        match seed("repo") {
            (202, progress) => answers.push(progress),
            (200, report) => break report,
            (status, body) => panic!("seed answered {status}: {body}"),
        }
    };
    for pair in answers.windows(2) {
        assert!(
            pair[1]["bytes_done"].as_u64() >= pair[0]["bytes_done"].as_u64(),
            "progress goes forward: {answers:?}"
        );
    }
    let last = answers.last().expect("a progress answer");
    assert!(last["bytes_done"].as_u64() <= last["bytes"].as_u64(), "{last}");
    let staged = store_listing(&imported.staging);
    assert_eq!(report["objects"].as_u64(), Some(staged.len() as u64), "{report}");
    assert_eq!(report["copied"], report["objects"], "a fresh vault: {report}");
    assert_eq!(
        store_listing(&imported.vault_dir),
        staged,
        "the vault holds the repository"
    );
}

/// An agent may seed only its own vault, and only from what a Completed import job of its
/// account wrote: a repository put into a container by other means, or another folder of the
/// container, is refused before anything is read.
#[test]
fn seeding_needs_a_completed_import_of_that_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let imported = Imported::staged(dir, |source| make_tree(source, 3, 5));
    let agent_seed = |vault: &str, prefix: &str| {
        let (url, _) = bearer(&imported.account);
        reqwest::blocking::Client::new()
            .post(format!("{url}/api/v1/vaults/{vault}/seed"))
            .bearer_auth(format!("{}.{}", imported.agent.id, imported.agent.secret))
            .json(
                &serde_json::json!({"storage_account": "imports", "container": "import1", "prefix": prefix}),
            )
            .send()
            .expect("seed request")
    };
    let refused = |response: reqwest::blocking::Response, why: &str| {
        assert_eq!(response.status().as_u16(), 403, "{why}");
        let body: serde_json::Value = response.json().expect("error body");
        assert_eq!(body["error"]["code"], "Forbidden", "{why}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains("no Completed import job"),
            "{why}: {body}"
        );
    };
    refused(agent_seed("laptop", "repo"), "no import job wrote the container");
    let vault_dir_is_empty = || {
        !imported.vault_dir.exists()
            || std::fs::read_dir(&imported.vault_dir)
                .expect("vault dir")
                .next()
                .is_none()
    };
    assert!(vault_dir_is_empty(), "nothing was copied into the vault");

    // Another folder of the same container, imported and Completed, does not open this one.
    complete_import(
        &imported.server,
        &imported.account,
        "other-folder",
        "imports",
        "import1",
        "other",
    );
    refused(
        agent_seed("laptop", "repo"),
        "the Completed job wrote another folder",
    );
    assert!(vault_dir_is_empty(), "nothing was copied into the vault");

    // An agent never seeds another vault of its account, whatever was imported.
    provision(&imported.server, dir, "acme", "desktop", false);
    complete_import(
        &imported.server,
        &imported.account,
        "import1-repo",
        "imports",
        "import1",
        "repo",
    );
    assert_eq!(
        agent_seed("desktop", "repo").status().as_u16(),
        403,
        "another vault"
    );

    // Once a Completed job wrote that folder, the agent seeds its vault from it.
    let response = agent_seed("laptop", "repo");
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.text());
    assert!(!vault_dir_is_empty(), "the vault holds the seeded repository");
}

/// A container whose repository `config` is larger than any restic config (here a sparse 3 MB
/// file; by hand, 2 GiB) is refused with 422 `NotARepository` before the config is read, and
/// nothing reaches the vault; the vault's own `config` upload is refused above 64 KiB (413).
#[test]
fn an_oversized_config_is_refused_by_seed_and_upload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let imported = Imported::new(dir, |source| make_tree(source, 5, 3));
    let container_config = container_dir(&imported.data, "import1").join("repo/config");
    std::fs::File::options()
        .write(true)
        .open(&container_config)
        .expect("open config")
        .set_len(3_000_000)
        .expect("grow config");
    let creds = ["--credentials", path(&imported.account)];
    let refused = seedship_output(&seed_args("laptop", "repo", &creds));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "an oversized config was seeded");
    assert!(
        stderr.contains("NotARepository") && stderr.contains("3000000 bytes"),
        "{stderr}"
    );
    assert!(
        store_listing(&imported.vault_dir).is_empty(),
        "nothing copied into the vault"
    );

    // Uploads of the vault's config: one byte over 64 KiB, and a few MB, are refused with 413
    // and store nothing; 64 KiB is taken. The body is sent by a thread while the answer is read,
    // as the server answers (and closes) as soon as the limit is passed.
    let agent = &imported.agent;
    let (_, address_and_path) = agent.url.split_once("://").expect("URL");
    let (address, vault_path) = address_and_path.split_once('/').expect("path");
    let post_config = |size: usize| -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        let credentials = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", agent.id, agent.secret),
        );
        write!(
            stream,
            "POST /{vault_path}config HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {credentials}\r\n\
             Content-Length: {size}\r\nConnection: close\r\n\r\n"
        )
        .expect("request head");
        let mut sender = stream.try_clone().expect("clone stream");
        let feeder = std::thread::spawn(move || {
            let chunk = vec![b'c'; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len());
                if sender.write_all(&chunk[..n]).is_err() {
                    break; // the server stopped reading
                }
                left -= n;
            }
        });
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        feeder.join().expect("feeder");
        String::from_utf8_lossy(&answer).into_owned()
    };
    for size in [64 * 1024 + 1, 8 * 1024 * 1024] {
        let answer = post_config(size);
        assert!(
            answer.starts_with("HTTP/1.1 413 "),
            "config of {size} bytes: {answer}"
        );
        assert!(answer.contains("\"code\":\"TooLarge\""), "{answer}");
    }
    assert!(store_listing(&imported.vault_dir).is_empty(), "no config stored");
    assert!(
        post_config(64 * 1024).starts_with("HTTP/1.1 200 "),
        "a config of 64 KiB"
    );
}

/// `vault seed VAULT` from `--prefix PREFIX` of container imports/import1, with `creds`.
fn seed_args<'a>(vault: &'a str, prefix: &'a str, creds: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "vault",
        "seed",
        vault,
        "--storage-account",
        "imports",
        "--container",
        "import1",
        "--prefix",
        prefix,
    ];
    args.extend_from_slice(creds);
    args
}

/// The imported copy is deleted only once no seed reads it: while the seed runs, `job
/// delete-imported` is refused (exit 25, naming the vault); once it is done, the imported
/// blobs go and the seeded vault keeps every object.
#[test]
fn imported_blobs_are_kept_while_a_seed_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let imported = Imported::large(dir.path());
    let (url, token) = bearer(&imported.account);
    let http = imported.server.http();
    let seed = || {
        let response = http
            .post(format!("{url}/api/v1/vaults/laptop/seed?wait=0"))
            .bearer_auth(&token)
            .json(
                &serde_json::json!({"storage_account": "imports", "container": "import1", "prefix": "repo"}),
            )
            .send()
            .expect("POST seed");
        response.status().as_u16()
    };
    let delete = || {
        seedship_output(&[
            "job",
            "delete-imported",
            "--job",
            "import1-repo",
            "--yes",
            "--credentials",
            path(&imported.account),
        ])
    };
    assert_eq!(seed(), 202, "the seed runs");
    let refused = delete();
    assert_exit(&refused, 25);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("InUse") && stderr.contains("vault laptop"),
        "{stderr}"
    );

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while seed() != 200 {
        assert!(std::time::Instant::now() < deadline, "seed not done");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let deleted = delete();
    assert_exit(&deleted, 0);
    let deleted: serde_json::Value = serde_json::from_slice(&deleted.stdout).expect("JSON");
    let staged = store_listing(&imported.staging);
    assert_eq!(deleted["blobs"].as_u64(), Some(staged.len() as u64), "{deleted}");
    assert_eq!(
        store_listing(&imported.vault_dir),
        staged,
        "the vault keeps the repository"
    );
}

/// A seed's copies count against the account's quota (the vault holds a second copy of the
/// import): over it the seed stops with exit 26 and the vault is no repository yet (no
/// `config`), never a damaged one; with room, the same seed completes.
#[test]
fn a_seed_over_the_quota_stops_and_completes_once_there_is_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let imported = Imported::new(dir, |source| {
        for i in 0..4u64 {
            std::fs::write(
                source.join(format!("f{i}.bin")),
                Rng::new(i + 40).random(1_500_000),
            )
            .expect("write");
        }
    });
    let admin = imported.server.admin_credentials();
    let quota = quota_args("acme", &admin);
    // Room for the import and half of it again.
    let imported_bytes: u64 = store_listing(&imported.staging).values().sum();
    let stored = seedship(&quota)["used_bytes"].as_u64().expect("used");
    let limit = (stored.max(imported_bytes) + imported_bytes / 2).to_string();
    let set = seedship(&[&quota[..], &["--bytes", &limit]].concat());
    assert!(
        set["used_bytes"].as_u64() >= Some(imported_bytes),
        "recounted: {set}"
    );

    let creds = ["--credentials", path(&imported.account)];
    let over = seedship_output(&seed_args("laptop", "repo", &creds));
    assert_exit(&over, 26);
    assert!(
        String::from_utf8_lossy(&over.stderr).contains("QuotaExceeded"),
        "{}",
        String::from_utf8_lossy(&over.stderr)
    );
    assert!(
        !store_listing(&imported.vault_dir).contains_key("config"),
        "a seed stopped part-way leaves no repository"
    );
    let usage = seedship(&quota);
    assert!(
        usage["used_bytes"].as_u64() <= usage["quota_bytes"].as_u64(),
        "{usage}"
    );

    seedship(&[&quota[..], &["--none"]].concat());
    let seeded = seedship(&seed_args("laptop", "repo", &creds));
    assert_eq!(
        seeded["objects"],
        store_listing(&imported.staging).len(),
        "{seeded}"
    );
    assert_eq!(
        store_listing(&imported.vault_dir),
        store_listing(&imported.staging)
    );
}
