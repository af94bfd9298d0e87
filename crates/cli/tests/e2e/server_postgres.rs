//! Two server processes sharing one PostgreSQL database and one storage directory serve the
//! same vaults: created through one, used through the other, with concurrent writes.
//!
//! The test starts its own PostgreSQL 15 cluster from Debian's binaries (or
//! `SEEDSHIP_TEST_PG_BIN`); as root it runs them as the `postgres` user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server_support::webhook_receiver::{Receiver, assert_signed, loopback};
use crate::server_support::*;

/// A PostgreSQL cluster in a temporary directory, stopped on drop.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    port: u16,
}

impl Postgres {
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn start(dir: &Path) -> Option<Postgres> {
        let bin = std::env::var_os("SEEDSHIP_TEST_PG_BIN")
            .map_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"), PathBuf::from);
        if !bin.join("initdb").is_file() {
            assert!(
                !skips_disallowed(),
                "PostgreSQL binaries not found in {}",
                bin.display()
            );
            eprintln!("SKIPPED: PostgreSQL binaries not found in {}", bin.display());
            return None;
        }
        let root = dir.join("pg");
        std::fs::create_dir_all(&root).expect("mkdir pg");
        // initdb refuses to run as root: as root, hand the directory to the `postgres` user.
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
        if as_postgres {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&root)
                .status()
                .expect("chown");
            assert!(status.success(), "chown postgres");
        }
        let pg = Postgres {
            bin,
            data: root.join("data"),
            as_postgres,
            port: seedship_store::testing::free_port(),
        };
        run_ok(
            pg.command("initdb")
                .args(["-A", "trust", "-U", "seedship", "--no-sync", "-D"])
                .arg(&pg.data),
            "initdb",
        );
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            pg.port,
            root.display()
        );
        run_ok(
            pg.command("pg_ctl")
                .arg("-D")
                .arg(&pg.data)
                .arg("-l")
                .arg(root.join("postgres.log"))
                .args(["-o", &options, "-w", "start"]),
            "pg_ctl start",
        );
        Some(pg)
    }

    /// Runs `sql` in the cluster's database with `psql`; panics on an error.
    fn sql(&self, sql: &str) {
        run_ok(
            self.command("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "seedship",
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                ])
                .args(["-p", &self.port.to_string(), "-c", sql]),
            &format!("psql {sql}"),
        );
    }

    /// The rows `sql` selects, one line each, fields separated by `|`.
    fn query(&self, sql: &str) -> String {
        let output = self
            .command("psql")
            .args(["-h", "127.0.0.1", "-U", "seedship", "-d", "postgres", "-At"])
            .args(["-p", &self.port.to_string(), "-c", sql])
            .output()
            .expect("psql");
        assert!(output.status.success(), "psql {sql}: {output:?}");
        String::from_utf8(output.stdout).expect("UTF-8").trim().to_owned()
    }

    fn url(&self) -> String {
        format!("postgres://seedship@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// A copy of a credentials file pointing at another server.
const JOB_SPEC: &str = r#"{"name": "pg-job", "job_type": "Import",
  "destination": {"storage_account": "acme", "container": "seed", "prefix": "", "disposition": "rename"},
  "region": "local", "contact": {"name": "Ann", "email": "ann@example.com", "phone": ""},
  "return_shipping": {"carrier": "DHL", "account_number": "1", "address": {"recipient": "Ann",
    "street": ["2 Lane"], "city": "Utrecht", "postal_code": "3511", "country": "NL", "phone": ""}},
  "drives": [{"drive_id": "0123456789abcdef0123456789abcdef", "wrapped_key": "k", "manifest_hash": "h", "bytes": 10}]}"#;

fn via(credentials: &Path, from: &Server, to: &Server) -> PathBuf {
    let text = std::fs::read_to_string(credentials).expect("read credentials");
    let target = credentials.with_extension(format!("via-{}", to.url.rsplit(':').next().expect("port")));
    std::fs::write(&target, text.replace(&from.url, &to.url)).expect("write credentials");
    target
}

#[test]
fn two_servers_share_postgres_and_one_storage_directory() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(pg) = Postgres::start(dir.path()) else {
        return;
    };
    let (a, b, shared_objects) = two_servers(dir.path(), &pg);
    assert!(
        a.admin_credentials().exists(),
        "the first server created the admin"
    );
    assert!(
        !b.admin_credentials().exists(),
        "the second server found the admin in PostgreSQL"
    );

    // Account through A; vault through B; agent registered through A.
    let admin = a.admin_credentials();
    let account = dir.path().join("acme.credentials");
    seedship(&admin_create("account", "acme", &admin, Some(&account)));
    let account_b = via(&account, &a, &b);
    // The job's destination container must exist before the job.
    create_container(&account, "acme", "seed");

    // Jobs live in PostgreSQL too: created through A, shipped through B, verified through A.
    let spec = dir.path().join("job.json");
    std::fs::write(&spec, JOB_SPEC).expect("job spec");
    seedship(&[
        "job",
        "create",
        "--credentials",
        path(&account),
        "--spec",
        path(&spec),
    ]);
    let shipped = seedship(&[
        "job",
        "ship",
        "pg-job",
        "--credentials",
        path(&account_b),
        "--carrier",
        "DHL",
        "--tracking-number",
        "PG 1",
        "--ship-date",
        "2026-01-02",
        "--drive-count",
        "1",
    ]);
    assert_eq!(shipped["summary"]["state"], "Shipping");
    let custody = seedship(&["job", "custody", "pg-job", "--credentials", path(&account)]);
    assert_eq!(custody["verified"], true);
    let vault = dir.path().join("shared.vault");
    seedship(&[
        "vault",
        "create",
        "shared",
        "--credentials",
        path(&account_b),
        "--out",
        path(&vault),
    ]);
    let vault_a = via(&vault, &b, &a);
    let config_dir = dir.path().join("agent");
    seedship(&register_args(&vault_a, "host", &config_dir));
    let registered = Agent::registered_in(&config_dir);
    let on = |server: &Server| Agent {
        id: registered.id.clone(),
        secret: registered.secret.clone(),
        url: format!("{}/vaults/acme/shared/", server.url),
    };
    // Both servers list the vault.
    for credentials in [&account, &account_b] {
        let listed = seedship(&["vault", "list", "--credentials", path(credentials)]);
        assert_eq!(listed[0]["name"], "shared", "vault visible through both servers");
    }

    // init through B, then two backups at the same time, one through each server.
    let cache = dir.path().join("cache");
    restic_ok(&on(&b).repository(), &cache, &["init"]);
    let sources: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("source{i}"))).collect();
    for (i, source) in sources.iter().enumerate() {
        make_tree(source, 50 + i as u64, 15);
    }
    std::thread::scope(|scope| {
        for (i, source) in sources.iter().enumerate() {
            let repo = on(if i == 0 { &a } else { &b }).repository();
            let cache = dir.path().join(format!("cache{i}"));
            scope.spawn(move || restic_ok(&repo, &cache, &["backup", path(source)]));
        }
    });
    // Both snapshots are seen through either server, and the repository checks out through A.
    for server in [&a, &b] {
        let snapshots: serde_json::Value = serde_json::from_str(&restic_ok(
            &on(server).repository(),
            &cache,
            &["snapshots", "--json"],
        ))
        .expect("JSON");
        assert_eq!(
            snapshots.as_array().map(Vec::len),
            Some(2),
            "two snapshots through {}",
            server.url
        );
    }
    restic_ok(&on(&a).repository(), &cache, &["check", "--read-data"]);
    let target = dir.path().join("restore");
    restic_ok(
        &on(&b).repository(),
        &cache,
        &[
            "restore",
            "latest",
            "--path",
            path(&sources[0]),
            "--target",
            path(&target),
        ],
    );
    let restored = target.join(sources[0].strip_prefix("/").expect("absolute"));
    assert_eq!(
        tree_contents(&restored),
        tree_contents(&sources[0]),
        "restore through B of A's backup"
    );
    assert!(
        store_listing(&shared_objects)
            .keys()
            .any(|k| k.contains("/data/")),
        "packs in the shared directory"
    );
    assert!(
        !dir.path().join("data-a/metadata.db").exists(),
        "no SQLite used when PostgreSQL is configured"
    );
}

/// A PostgreSQL database made before operator names were unique may hold two operators of one
/// name: the server's migration keeps the older one's name, renames the other `<name>-<id>`,
/// both keep working, the admin rotates each by its name, and the name is refused from then on.
#[test]
fn duplicate_operator_names_in_an_existing_postgres_database_are_made_unique() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(pg) = Postgres::start(dir.path()) else {
        return;
    };
    let config = postgres_config(dir.path(), &pg, &dir.path().join("objects"));
    let data = dir.path().join("data");
    let mut server = Server::start(dir.path(), "server", &data, Some(&config));
    let admin = server.admin_credentials();
    let first = dir.path().join("dc.credentials");
    let operator = |command: &str, name: &str, out: &Path| {
        seedship_output(&[
            "admin",
            "operator",
            command,
            name,
            "--admin-credentials",
            path(&admin),
            "--out",
            path(out),
        ])
    };
    assert!(operator("create", "dc", &first).status.success());
    server.kill();

    // The schema before operator names were unique, with a second operator "dc", made later.
    let twin_secret = "7".repeat(64);
    let digest: String = <sha2::Sha256 as sha2::Digest>::digest(twin_secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    pg.sql(
        "DROP INDEX principals_operator_name; ALTER TABLE principals DROP COLUMN secret_rotated_at; \
         DELETE FROM _sqlx_migrations WHERE version = 4",
    );
    pg.sql(&format!(
        "INSERT INTO principals (id, kind, name, secret_hash, created_at) VALUES \
         ('op-twin', 'operator', 'dc', '{digest}', CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) + 100)"
    ));
    // on the same port: the credentials files name it
    let listen = server.url.trim_start_matches("http://").to_owned();
    let server = Server::start_with(
        dir.path(),
        "server-again",
        &data,
        Some(&config),
        &["--listen", &listen],
    );
    let twin = dir.path().join("twin.credentials");
    std::fs::write(
        &twin,
        format!(
            "kind = \"operator\"\nserver = \"{}\"\nid = \"op-twin\"\nsecret = \"{twin_secret}\"\n",
            server.url
        ),
    )
    .expect("write credentials");
    assert_eq!(
        whoami(&first),
        reqwest::StatusCode::OK,
        "the older operator still works"
    );
    assert_eq!(
        whoami(&twin),
        reqwest::StatusCode::OK,
        "the renamed operator still works"
    );

    let id_of = |file: &Path| bearer(file).1.split_once('.').expect("id.secret").0.to_owned();
    let rotated = dir.path().join("dc-rotated.credentials");
    assert!(operator("rotate-secret", "dc", &rotated).status.success());
    assert_eq!(id_of(&rotated), id_of(&first), "the older operator kept the name");
    let twin_rotated = dir.path().join("twin-rotated.credentials");
    assert!(
        operator("rotate-secret", "dc-op-twin", &twin_rotated)
            .status
            .success()
    );
    assert_eq!(
        id_of(&twin_rotated),
        "op-twin",
        "the later one is named <name>-<id>"
    );
    assert_eq!(whoami(&twin), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&twin_rotated), reqwest::StatusCode::OK);
    let again = operator("create", "dc", &dir.path().join("third.credentials"));
    assert_eq!(again.status.code(), Some(14), "the name is taken");
}

/// Runs `command`, which must succeed; `what` names it in the failure with its stderr.
fn run_ok(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|err| panic!("{what}: {err}"));
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A vault's seed is recorded in PostgreSQL as in SQLite: written by one server when the seed
/// completes (with the repository id the request states), read through the other, and kept
/// when the same repository is seeded again without an id.
#[test]
fn a_vault_seed_is_recorded_in_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(pg) = Postgres::start(dir.path()) else {
        return;
    };
    let (a, b, shared_objects) = two_servers(dir.path(), &pg);
    let account = dir.path().join("acme.credentials");
    seedship(&admin_create(
        "account",
        "acme",
        &a.admin_credentials(),
        Some(&account),
    ));
    let account_b = via(&account, &a, &b);
    create_container(&account, "acme", "seed");
    // Both servers deliver webhook events from the one outbox in PostgreSQL.
    let receiver = Receiver::start(loopback(), 0);
    let added = seedship(&["webhook", "add", &receiver.url(), "--credentials", path(&account)]);
    let secret = added["secret"].as_str().expect("secret").to_owned();
    seedship(&[
        "vault",
        "create",
        "laptop",
        "--credentials",
        path(&account),
        "--out",
        path(&dir.path().join("laptop.vault")),
    ]);
    complete_import(&a, &account, "pg-seed", "acme", "seed", "repo");

    // A repository "imported" into the container's folder `repo`.
    let source = dir.path().join("source");
    make_tree(&source, 18, 5);
    let staging = dir.path().join("staging");
    let backup = seedship_env(
        &["backup", path(&source), "--repo", path(&staging)],
        &[("SEEDSHIP_PASSWORD", "correct horse battery staple")],
    );
    let repository_id = backup["repository_id"].as_str().expect("id").to_owned();
    let container = pg.query("SELECT id FROM containers WHERE name = 'seed'");
    copy_tree(
        &staging,
        &shared_objects.join("containers").join(container).join("repo"),
    );

    // Seeded through A with the repository id; the record is read through B.
    let (url, token) = bearer(&account);
    let seeded = reqwest::blocking::Client::new()
        .post(format!("{url}/api/v1/vaults/laptop/seed"))
        .bearer_auth(&token)
        .json(
            &serde_json::json!({"storage_account": "acme", "container": "seed", "prefix": "repo",
            "repository_id": repository_id}),
        )
        .send()
        .expect("seed");
    assert_eq!(seeded.status(), 200, "{:?}", seeded.text());
    let (url_b, token_b) = bearer(&account_b);
    let show = || -> serde_json::Value {
        reqwest::blocking::Client::new()
            .get(format!("{url_b}/api/v1/vaults/laptop"))
            .bearer_auth(&token_b)
            .send()
            .expect("GET vault")
            .json()
            .expect("JSON")
    };
    let recorded = show()["seeded"].clone();
    assert_eq!(recorded["job"], "pg-seed", "{recorded}");
    assert_eq!(recorded["prefix"], "repo", "{recorded}");
    assert_eq!(
        recorded["repository_id"].as_str(),
        Some(repository_id.as_str()),
        "{recorded}"
    );
    assert_eq!(
        pg.query("SELECT job, repository_id FROM vault_seeds"),
        format!("pg-seed|{repository_id}")
    );

    // Seeded again through B without an id (`vault seed`): the record stays as it was.
    seedship(&[
        "vault",
        "seed",
        "laptop",
        "--storage-account",
        "acme",
        "--container",
        "seed",
        "--prefix",
        "repo",
        "--credentials",
        path(&account_b),
    ]);
    assert_eq!(show()["seeded"], recorded);

    // The job's changes and both seeds were notified, each event delivered once (the two
    // servers' delivery tasks take a delivery by moving its due time first), signed.
    let seeded = |e: &serde_json::Value| e["type"] == "vault.seeded" && e["vault"] == "laptop";
    let event = receiver.wait_for("vault.seeded", seeded);
    assert_eq!(event["job"], "pg-seed", "{event}");
    assert_eq!(event["prefix"], "repo", "{event}");
    receiver.wait_for("job completed", |e| {
        e["type"] == "job.state_changed" && e["to"] == "Completed"
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while receiver.received().iter().filter(|r| seeded(&r.event())).count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the second seed was not notified"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Anything sent twice would have arrived by now.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            assert_signed(r, &secret);
            r.event()["id"].as_str().expect("id").to_owned()
        })
        .collect();
    let received = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), received, "an event was delivered twice");
    assert_eq!(
        pg.query("SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'"),
        received.to_string()
    );
}

/// Two servers sharing PostgreSQL keep one account's usage: backups through both at once
/// against a quota both enforce stop at it, the usage both report is what the store holds,
/// and a vault deleted through one is refused to its agent through the other.
#[test]
fn two_servers_share_one_quota_and_deletions() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(pg) = Postgres::start(dir.path()) else {
        return;
    };
    let (a, b, shared_objects) = two_servers(dir.path(), &pg);
    let agent = provision(&a, dir.path(), "acme", "shared", false);
    let admin = a.admin_credentials();
    let quota = |extra: &[&str]| {
        let mut args = quota_args("acme", &admin);
        args.extend(extra);
        seedship(&args)
    };
    // Objects only: not the local store's temporaries (`<name>#<n>`) of uploads in flight, or
    // of uploads whose client went away while the server wrote them.
    let stored = || -> u64 {
        store_listing(&shared_objects)
            .iter()
            .filter(|(key, _)| key.starts_with("vaults/") && !key.contains('#'))
            .map(|(_, size)| size)
            .sum()
    };
    let cache = dir.path().join("cache");
    let on = |server: &Server| Agent {
        url: format!("{}/vaults/acme/shared/", server.url),
        ..agent.clone()
    };
    restic_ok(&on(&a).repository(), &cache, &["init"]);
    let limit = stored() + (3 << 20);
    quota(&["--bytes", &limit.to_string()]);

    // Two backups of 4 MiB each that do not compress, one through each server, at once: the
    // quota holds for both together.
    let sources: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("big{i}"))).collect();
    let outputs: Vec<std::process::Output> = std::thread::scope(|scope| {
        let runs: Vec<_> = sources
            .iter()
            .zip([&a, &b])
            .enumerate()
            .map(|(i, (source, server))| {
                std::fs::create_dir(source).expect("mkdir");
                for n in 0..4 {
                    let data = seedship_treecmp::Rng::new(900 + 10 * i as u64 + n).random(1 << 20);
                    std::fs::write(source.join(format!("part-{n}")), data).expect("write");
                }
                let repo = on(server).repository();
                let cache = dir.path().join(format!("cache-{i}"));
                scope.spawn(move || agent_run(&cache, &["backup", path(source), "--repo", &repo]))
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("backup thread"))
            .collect()
    });
    assert!(
        outputs.iter().any(|output| output.status.code() == Some(26)),
        "one backup at least is stopped by the quota: {:?}",
        outputs
            .iter()
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .collect::<Vec<_>>()
    );
    let (used, on_disk) = settled_usage(&admin, "acme", stored);
    assert!(
        used <= limit,
        "both servers together went over the quota: {used} > {limit}"
    );
    assert_eq!(
        used,
        on_disk,
        "the shared usage is what the store holds: {:?}",
        store_listing(&shared_objects)
    );
    restic_ok(&on(&b).repository(), &cache, &["check", "--read-data"]);

    // Through B: every snapshot forgotten and pruned, the vault deleted; A refuses its agent.
    quota(&["--none"]);
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&on(&b).repository(), &cache, &["snapshots", "--json"]))
            .expect("JSON");
    for snapshot in snapshots.as_array().expect("snapshots") {
        let id = snapshot["short_id"].as_str().expect("id");
        restic_ok(&on(&b).repository(), &cache, &["forget", id]);
    }
    restic_ok(&on(&b).repository(), &cache, &["prune"]);
    let account = dir.path().join("acme.credentials");
    seedship(&[
        "vault",
        "delete",
        "shared",
        "--credentials",
        path(&via(&account, &a, &b)),
    ]);
    let refused = run_restic(&on(&a).repository(), &cache, &["snapshots"]);
    assert!(
        !refused.status.success(),
        "server A let the deleted vault's agent in"
    );
    assert_eq!(
        quota(&[])["used_bytes"],
        stored(),
        "the deleted vault's bytes were given back"
    );
    assert_eq!(stored(), 0);
}

/// A server configuration (`dir/server.toml`) keeping metadata in `pg` and objects in `objects`.
fn postgres_config(dir: &Path, pg: &Postgres, objects: &Path) -> PathBuf {
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[metadata]\nurl = \"{}\"\n\n[storage]\nbackend = \"local\"\npath = \"{}\"\n",
            pg.url(),
            objects.display()
        ),
    )
    .expect("write config");
    config
}

/// Two servers sharing `pg` and one object directory (`dir/shared-objects`, answered too).
fn two_servers(dir: &Path, pg: &Postgres) -> (Server, Server, PathBuf) {
    let shared_objects = dir.join("shared-objects");
    let config = postgres_config(dir, pg, &shared_objects);
    let a = Server::start(dir, "server-a", &dir.join("data-a"), Some(&config));
    let b = Server::start(dir, "server-b", &dir.join("data-b"), Some(&config));
    (a, b, shared_objects)
}
