//! What an owner deletes once it is no longer needed, against the real server: a job's
//! imported blobs (refused before the job ended, recorded in the custody log, the job's logs
//! kept), and vaults, containers and storage accounts, each only when empty, with the
//! refusals' exit code 25 naming the reason.

use std::path::Path;

use seedship_api::{Client, Credentials, JobAction};

use crate::server_support::import::{MIB, Site, make_source, ok, run};
use crate::server_support::*;

/// Exit code of a delete refused: not empty, or still in use.
const REFUSED: i32 = 25;

fn client(file: &Path) -> Client {
    Client::new(&Credentials::load(file).expect("credentials")).expect("client")
}

/// `job delete-imported` of job `job` by the owner in `owner_file`.
fn delete_imported(owner_file: &Path, job: &str) -> std::process::Output {
    run(&[
        "job",
        "delete-imported",
        "--job",
        job,
        "--yes",
        "--credentials",
        path(owner_file),
    ])
}

/// The stderr of a run that must have ended with `code`.
fn refused_with(output: &std::process::Output, code: i32) -> String {
    assert_exit(output, code);
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn imported_blobs_are_deleted_once_the_job_ended_and_recorded_in_custody() {
    let (_tempdir, site) = Site::in_tempdir();
    let src = site.dir.join("src");
    let tree = make_source(&src, 7, 2 * MIB);
    let set = site.prepare_and_ship("cleanup", &src, 1, 64 * MIB);

    // Shipping: nothing imported yet, and nothing may be deleted.
    let stderr = refused_with(&delete_imported(&site.owner_file, "cleanup"), REFUSED);
    assert!(stderr.contains("Shipping"), "the state is not named: {stderr}");

    // Received and copied, not shipped back yet (Packaging): still refused.
    let received = site.receive("cleanup", &site.operator_file, &[set[0].0.as_path()]);
    assert_exit(&received, 0);
    site.assert_container_holds("cleanup", &tree);
    let stderr = refused_with(&delete_imported(&site.owner_file, "cleanup"), REFUSED);
    assert!(stderr.contains("Packaging"), "{stderr}");
    // The operator deletes nothing of the owner's.
    let by_operator = run(&[
        "job",
        "delete-imported",
        "--job",
        "cleanup",
        "--account",
        "acme",
        "--yes",
        "--credentials",
        path(&site.operator_file),
    ]);
    assert_exit(&by_operator, 13);

    ok(&[
        "import",
        "ship-back",
        "--credentials",
        path(&site.operator_file),
        "--job",
        "cleanup",
        "--tracking-number",
        "RET-7",
    ]);
    let owner = site.owner();
    let all_blobs = owner.list_blobs("acme", "cleanup", "").expect("list");
    let logs: Vec<&String> = all_blobs
        .iter()
        .filter(|name| name.starts_with("waimportexport/"))
        .collect();
    assert_eq!(logs.len(), 2, "a copy and an error log: {all_blobs:?}");

    // Without a terminal the deletion must be confirmed with --yes.
    let unconfirmed = run(&[
        "job",
        "delete-imported",
        "--job",
        "cleanup",
        "--credentials",
        path(&site.owner_file),
    ]);
    assert_exit(&unconfirmed, 2);
    assert_eq!(
        owner.list_blobs("acme", "cleanup", "host1").expect("list").len(),
        tree.len()
    );

    let deleted = ok(&[
        "job",
        "delete-imported",
        "--job",
        "cleanup",
        "--yes",
        "--credentials",
        path(&site.owner_file),
    ]);
    let bytes: usize = tree.values().map(Vec::len).sum();
    assert_eq!(deleted["prefix"], "host1", "{deleted}");
    assert_eq!(deleted["blobs"], tree.len(), "{deleted}");
    assert_eq!(deleted["bytes"], bytes, "{deleted}");
    assert!(
        owner
            .list_blobs("acme", "cleanup", "host1")
            .expect("list")
            .is_empty()
    );
    // The job's logs stay: in the container and on the server.
    let remaining = owner.list_blobs("acme", "cleanup", "").expect("list");
    assert_eq!(remaining.iter().collect::<Vec<_>>(), logs, "only the logs remain");
    let job_logs = ok(&[
        "job",
        "logs",
        "--job",
        "cleanup",
        "--credentials",
        path(&site.owner_file),
    ]);
    assert_eq!(job_logs.as_array().map(Vec::len), Some(1), "{job_logs}");

    let custody = site.verified_custody("cleanup");
    let entries = custody["entries"].as_array().expect("entries");
    let last = &entries.last().expect("an entry")["event"];
    assert_eq!(last["kind"], "imported_deleted", "{last}");
    assert_eq!(last["prefix"], "host1");
    assert_eq!(last["blobs"], tree.len());
    assert_eq!(last["bytes"], bytes);
    assert_eq!(entries.last().expect("entry")["actor"]["role"], "Owner");

    // Again: nothing is left, and that is recorded too.
    let again = ok(&[
        "job",
        "delete-imported",
        "--job",
        "cleanup",
        "--yes",
        "--credentials",
        path(&site.owner_file),
    ]);
    assert_eq!(again["blobs"], 0, "{again}");

    // The container holds only the logs now, and no job that has not ended names it: it
    // goes, logs and all, and its storage account after it.
    ok(&[
        "container",
        "delete",
        "seed",
        "--storage-account",
        "acme",
        "--credentials",
        path(&site.owner_file),
    ]);
    ok(&[
        "storage",
        "delete",
        "acme",
        "--credentials",
        path(&site.owner_file),
    ]);
    let listed = ok(&["storage", "list", "--credentials", path(&site.owner_file)]);
    assert_eq!(listed["names"], serde_json::json!([]), "{listed}");
}

#[test]
fn containers_and_storage_accounts_are_deleted_only_when_empty_and_unused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let server = Server::start(dir, "server", &dir.join("data"), None);
    provision(&server, dir, "acme", "unused", false);
    let owner_file = dir.join("acme.credentials");
    create_container(&owner_file, "archive", "tapes");
    let owner = client(&owner_file);

    // A job that has not ended imports into the container: in use.
    owner
        .create_job(&hand_job_spec("pending", "archive", "tapes", "host9"))
        .expect("create job");
    let container_delete = [
        "container",
        "delete",
        "tapes",
        "--storage-account",
        "archive",
        "--credentials",
        path(&owner_file),
    ];
    let stderr = refused_with(&run(&container_delete), REFUSED);
    assert!(
        stderr.contains("pending") && stderr.contains("Creating"),
        "{stderr}"
    );
    assert!(stderr.contains("InUse"), "{stderr}");
    // The storage account has a container: not empty.
    let storage_delete = ["storage", "delete", "archive", "--credentials", path(&owner_file)];
    let stderr = refused_with(&run(&storage_delete), REFUSED);
    assert!(
        stderr.contains("tapes") && stderr.contains("NotEmpty"),
        "{stderr}"
    );

    // Cancelled, the job no longer uses it; a blob in it keeps it from being deleted.
    let cancel: JobAction = serde_json::from_value(serde_json::json!({"action": "cancel"})).expect("action");
    owner.job_action("acme", "pending", &cancel).expect("cancel");
    let operator_file = dir.join("operator.credentials");
    server.seedship(&admin_create(
        "operator",
        "staff",
        &server.admin_credentials(),
        Some(&operator_file),
    ));
    client(&operator_file)
        .put_blob(
            "acme",
            "pending",
            "host9/left over.bin",
            std::io::Cursor::new(b"twelve bytes".to_vec()),
        )
        .expect("put blob");
    let stderr = refused_with(&run(&container_delete), REFUSED);
    assert!(
        stderr.contains("host9/left over.bin"),
        "the blob is not named: {stderr}"
    );

    // A job without a prefix owns no folder of its own.
    owner
        .create_job(&hand_job_spec("rootjob", "archive", "tapes", ""))
        .expect("create job");
    owner.job_action("acme", "rootjob", &cancel).expect("cancel");
    let stderr = refused_with(&delete_imported(&owner_file, "rootjob"), 1);
    assert!(stderr.contains("NoImportPrefix"), "{stderr}");

    let deleted = ok(&[
        "job",
        "delete-imported",
        "--job",
        "pending",
        "--yes",
        "--credentials",
        path(&owner_file),
    ]);
    assert_eq!(
        (deleted["blobs"].as_u64(), deleted["bytes"].as_u64()),
        (Some(1), Some(12))
    );
    ok(&container_delete);
    ok(&storage_delete);
    let listed = ok(&["storage", "list", "--credentials", path(&owner_file)]);
    assert_eq!(listed["names"], serde_json::json!([]), "{listed}");
    // What is gone is not found (exit 1), and another account's names are not reachable.
    assert_exit(&run(&storage_delete), 1);
    assert_exit(&run(&container_delete), 1);
}

#[test]
fn vaults_are_deleted_only_without_backups_and_their_agents_are_refused_after() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let server = Server::start(dir, "server", &dir.join("data"), None);
    let agent = provision(&server, dir, "acme", "laptop", false);
    let owner_file = dir.join("acme.credentials");
    let cache = dir.join("cache");
    let repo = agent.repository();
    let source = dir.join("source");
    make_tree(&source, 3, 8);
    restic_ok(&repo, &cache, &["init"]);
    restic_ok(&repo, &cache, &["backup", path(&source)]);

    let vault_delete = ["vault", "delete", "laptop", "--credentials", path(&owner_file)];
    let stderr = refused_with(&run(&vault_delete), REFUSED);
    assert!(
        stderr.contains("snapshots") && stderr.contains("NotEmpty"),
        "{stderr}"
    );
    restic_ok(&repo, &cache, &["snapshots"]);

    // Every snapshot forgotten and pruned: the repository holds no backup any more.
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"])).expect("JSON");
    let id = snapshots[0]["short_id"].as_str().expect("snapshot id").to_owned();
    restic_ok(&repo, &cache, &["forget", "--prune", &id]);
    let deleted = ok(&vault_delete);
    assert_eq!(deleted["deleted"]["vault"], "laptop", "{deleted}");
    let vaults = ok(&["vault", "list", "--credentials", path(&owner_file)]);
    assert_eq!(vaults, serde_json::json!([]), "{vaults}");
    let listing = store_listing(&dir.join("data/objects"));
    assert!(
        !listing.keys().any(|key| key.starts_with("vaults/")),
        "objects of the deleted vault remain: {listing:?}"
    );

    // Its agent is refused, also once a vault of the same name exists again.
    let refused = run_restic(&repo, &cache, &["snapshots"]);
    assert!(!refused.status.success(), "the deleted vault's agent was let in");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let again = dir.join("laptop-again.vault");
    ok(&[
        "vault",
        "create",
        "laptop",
        "--credentials",
        path(&owner_file),
        "--out",
        path(&again),
    ]);
    let refused = run_restic(&repo, &cache, &["snapshots"]);
    assert!(!refused.status.success(), "the old agent opened the new vault");
    assert_exit(
        &run(&["vault", "delete", "nothing", "--credentials", path(&owner_file)]),
        1,
    );
}

/// `admin account quota acme` with the admin of `server` and `extra` arguments.
fn quota(server: &Server, extra: &[&str]) -> serde_json::Value {
    let admin = server.admin_credentials();
    let mut args = quota_args("acme", &admin);
    args.extend(extra);
    ok(&args)
}

/// The bytes the objects under `prefix` of the server's local object store hold (not its
/// temporaries, `<name>#<n>`).
fn stored_under(server: &Server, prefix: &str) -> u64 {
    store_listing(&server.data_dir.join("objects"))
        .iter()
        .filter(|(key, _)| key.starts_with(prefix) && !key.contains('#'))
        .map(|(_, size)| size)
        .sum()
}

#[test]
fn a_quota_stops_a_backup_midway_and_the_vault_stays_consistent() {
    let Some(_) = restic() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let server = Server::start(dir, "server", &dir.join("data"), None);
    let agent = provision(&server, dir, "acme", "laptop", false);
    let repo = agent.repository();
    let cache = dir.join("cache");
    let shown = quota(&server, &[]);
    assert_eq!(shown["quota_bytes"], serde_json::Value::Null, "{shown}");

    // A first backup, within any quota.
    let small = dir.join("small");
    make_tree(&small, 1, 6);
    let first = agent_run(&cache, &["backup", path(&small), "--repo", &repo]);
    assert_exit(&first, 0);
    let stored = stored_under(&server, "vaults/");
    assert!(stored > 0);

    // The quota leaves 2 MiB; setting it recounts what the account stores.
    let limit = stored + 2 * MIB as u64;
    let set = quota(&server, &["--bytes", &limit.to_string()]);
    assert_eq!(set["quota_bytes"], limit, "{set}");
    assert_eq!(
        set["used_bytes"], stored,
        "the recount is what the store holds: {set}"
    );
    // The owner sees it too.
    let owner_file = dir.join("acme.credentials");
    let seen = ok(&["storage", "usage", "--credentials", path(&owner_file)]);
    assert_eq!(seen, set, "the owner's view");

    // 12 MiB that do not compress: the backup stops at the quota, with exit 26 and the reason.
    let big = dir.join("big");
    std::fs::create_dir(&big).expect("mkdir");
    for n in 0..6 {
        let data = seedship_treecmp::Rng::new(700 + n).random(2 * MIB);
        std::fs::write(big.join(format!("part-{n}")), data).expect("write");
    }
    let over = agent_run(&cache, &["backup", path(&big), "--repo", &repo]);
    let stderr = refused_with(&over, 26);
    assert!(stderr.contains("quota"), "the quota is not named: {stderr}");
    let (used, on_disk) = settled_usage(&server.admin_credentials(), "acme", || {
        stored_under(&server, "vaults/")
    });
    assert!(used <= limit, "over the quota: {used} > {limit}");
    assert_eq!(
        used, on_disk,
        "the usage is what the store holds, refused uploads left nothing"
    );

    // What was committed is consistent: restic checks every pack, and the first snapshot is
    // the only one.
    restic_ok(&repo, &cache, &["check", "--read-data"]);
    let snapshots: serde_json::Value =
        serde_json::from_str(&restic_ok(&repo, &cache, &["snapshots", "--json"])).expect("JSON");
    assert_eq!(snapshots.as_array().map(Vec::len), Some(1), "{snapshots}");

    // Without the quota the same backup goes through, and the vault checks.
    let none = quota(&server, &["--none"]);
    assert_eq!(none["quota_bytes"], serde_json::Value::Null, "{none}");
    assert_exit(&agent_run(&cache, &["backup", path(&big), "--repo", &repo]), 0);
    restic_ok(&repo, &cache, &["check", "--read-data"]);
    let (used, on_disk) = settled_usage(&server.admin_credentials(), "acme", || {
        stored_under(&server, "vaults/")
    });
    assert_eq!(used, on_disk, "the usage is what the store holds");
}

#[test]
fn an_import_over_the_quota_is_refused_clearly_and_writes_nothing() {
    let (_tempdir, site) = Site::in_tempdir();
    let src = site.dir.join("src");
    make_source(&src, 5, 3 * MIB);
    let set = site.prepare_and_ship("quota", &src, 1, 64 * MIB);
    let admin = site.server.admin_credentials();
    let quota = quota_args("acme", &admin);
    ok(&[&quota[..], &["--bytes", "1M"]].concat());

    let received = site.receive("quota", &site.operator_file, &[set[0].0.as_path()]);
    let stderr = refused_with(&received, 26);
    assert!(stderr.contains("QuotaExceeded"), "{stderr}");
    let objects = site.server.data_dir.join("objects");
    let (used, stored) = settled_usage(&admin, "acme", || {
        store_listing(&objects)
            .iter()
            .filter(|(key, _)| !key.contains('#'))
            .filter(|(key, _)| key.starts_with("containers/") || key.contains("/damaged/data/"))
            .map(|(_, size)| size)
            .sum()
    });
    assert!(used <= 1 << 20, "over the quota: {used}");
    assert_eq!(used, stored, "the usage is what the store holds");
    let staged = store_listing(&objects)
        .into_keys()
        .filter(|key| key.contains("/staging/"))
        .collect::<Vec<_>>();
    assert!(
        staged.is_empty(),
        "refused uploads left staged objects: {staged:?}"
    );

    // With room, the same receive completes.
    ok(&[&quota[..], &["--bytes", "64M"]].concat());
    assert_exit(
        &site.receive("quota", &site.operator_file, &[set[0].0.as_path()]),
        0,
    );
}
