//! `seedship export write` through the real server and binary: a vault seeded by the import
//! flow and backed up twice more comes back on two blank drives with spanning, restores from
//! them bit-exact, passes `restic check --read-data`, and the restored machine backs up on
//! into its vault uploading only what changed; a write killed at random points resumes with
//! at most one range per drive written again; a drive of another export, a wrong owner key,
//! drives of two exports mixed and a vault object damaged in storage are each refused with
//! their exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use seedship_treecmp::{Rng, compare_trees};

use crate::export_jobs::write_spec;
use crate::offline_support::{Flow, MIB, PASSPHRASE, json_lines, message};
use crate::server_support::*;

/// Exit codes of `docs/cli.md`.
const WRONG_KEY: i32 = 12;
const DRIVES_DAMAGED: i32 = 29;
const NOT_ONE_SET: i32 = 30;
const EXPORT_DRIVE_REFUSED: i32 = 31;
/// Bytes a range takes on a drive at most: 4 MiB of data, its nonce and tag.
const RANGE_STORED: u64 = (4 << 20) + 40;

/// `seedship --json <args>` with the repository password, the drive passphrase and a cache
/// under `dir`.
fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("run seedship")
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(SEEDSHIP);
    command
        .arg("--json")
        .args(args)
        .env("SEEDSHIP_PASSWORD", PASSWORD)
        .env("SEEDSHIP_DRIVE_PASSPHRASE", PASSPHRASE)
        .env("SEEDSHIP_CACHE_DIR", dir.join("cache"))
        .env_remove("SEEDSHIP_CREDENTIALS");
    command
}

fn ok(dir: &Path, args: &[&str]) -> serde_json::Value {
    let output = run(dir, args);
    assert!(
        output.status.success(),
        "seedship {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("JSON")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The export side of a site: owner and operator credentials, the owner's key pair, and
/// export jobs walked to the point where their drives are written.
struct Exporter<'a> {
    dir: &'a Path,
    owner: &'a Path,
    operator: &'a Path,
    config_dir: &'a Path,
}

impl Exporter<'_> {
    /// `<dir>/<name>.key` and `.pub`.
    fn keygen(&self, name: &str) -> (PathBuf, PathBuf) {
        let prefix = self.dir.join(name);
        ok(self.dir, &["keygen", "--out", path(&prefix)]);
        (prefix.with_extension("key"), prefix.with_extension("pub"))
    }

    /// Creates export job `name` of `snapshot` (or the whole vault), ships `drives` blank
    /// drives and receives them: answers their ids, and the bytes the export copies.
    fn ready(
        &self,
        name: &str,
        owner_pub: &Path,
        snapshot: Option<&str>,
        drives: usize,
    ) -> (Vec<String>, u64) {
        let spec = write_spec(self.dir, name);
        let mut args = vec![
            "job",
            "create",
            "--type",
            "export",
            "--credentials",
            path(self.owner),
        ];
        args.extend([
            "--spec",
            path(&spec),
            "--vault",
            "laptop",
            "--owner-key",
            path(owner_pub),
        ]);
        args.extend(["--config-dir", path(self.config_dir)]);
        if let Some(snapshot) = snapshot {
            args.extend(["--snapshot", snapshot]);
        }
        let created = ok(self.dir, &args);
        let bytes = created["summary"]["bytes_total"].as_u64().expect("bytes_total");
        let count = drives.to_string();
        let tracking = format!("TRACK-{name}");
        ok(
            self.dir,
            &[
                "job",
                "ship",
                "--job",
                name,
                "--credentials",
                path(self.owner),
                "--carrier",
                "DHL",
                "--tracking-number",
                &tracking,
                "--ship-date",
                "2026-12-01",
                "--drive-count",
                &count,
            ],
        );
        let ids: Vec<String> = (0..drives).map(|i| drive_id(&format!("{name}-{i}"))).collect();
        let mut receive = vec![
            "export",
            "receive",
            "--job",
            name,
            "--credentials",
            path(self.operator),
        ];
        for id in &ids {
            receive.extend(["--drive-id", id]);
        }
        let received = ok(self.dir, &receive);
        assert_eq!(received["state"], "Received", "{received}");
        (ids, bytes)
    }

    /// `export write` of job `name` onto `drives` (created), with `capacity` per drive.
    fn write_command(&self, name: &str, ids: &[String], drives: &[PathBuf], capacity: u64) -> Command {
        let capacity = capacity.to_string();
        let journals = self.dir.join("journals");
        let mut args = vec![
            "export",
            "write",
            "--job",
            name,
            "--credentials",
            path(self.operator),
        ];
        args.extend([
            "--journal-dir",
            path(&journals),
            "--capacity",
            &capacity,
            "--not-a-mount-point",
        ]);
        let pairs: Vec<String> = ids
            .iter()
            .zip(drives)
            .map(|(id, drive)| {
                std::fs::create_dir_all(drive).expect("drive directory");
                format!("{id}={}", drive.display())
            })
            .collect();
        for pair in &pairs {
            args.extend(["--drive", pair]);
        }
        command(self.dir, &args)
    }

    fn write(&self, name: &str, ids: &[String], drives: &[PathBuf], capacity: u64) -> Output {
        self.write_command(name, ids, drives, capacity)
            .output()
            .expect("run export write")
    }

    /// `restore latest --from-drive ... --key KEY --target TARGET` plus `extra`.
    fn restore(&self, drives: &[PathBuf], key: &Path, target: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["restore", "latest", "--target", path(target), "--key", path(key)];
        for drive in drives {
            args.extend(["--from-drive", path(drive)]);
        }
        args.extend(extra);
        run(self.dir, &args)
    }
}

fn written(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "export write failed: {}", stderr(output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("report")).expect("JSON");
    assert_eq!(report["message_type"], "export_written", "{report}");
    report
}

fn write_file(path: &Path, seed: u64, len: usize) {
    let mut rng = Rng::new(seed);
    let data: Vec<u8> = (0..len.div_ceil(8))
        .flat_map(|_| rng.next_u64().to_le_bytes())
        .take(len)
        .collect();
    std::fs::write(path, data).expect("write file");
}

#[test]
fn an_exported_vault_restores_bit_exact_from_two_drives_and_the_machine_backs_up_on() {
    let Some(_) = restic() else { return };
    let (_tempdir, flow) = Flow::in_tempdir(12 * MIB);
    let dir = flow.dir.clone();
    // Seeded by the import flow, then two more backups.
    flow.backup_ok();
    flow.import_staged();
    message(&json_lines(&flow.backup_ok()), "seeded");
    write_file(&flow.source.join("second.bin"), 2, 3 * MIB);
    flow.backup_ok();
    write_file(&flow.source.join("third.bin"), 3, MIB);
    flow.backup_ok();

    let exporter = Exporter {
        dir: &dir,
        owner: &flow.account,
        operator: &flow.operator,
        config_dir: &flow.config_dir,
    };
    let (owner_key, owner_pub) = exporter.keygen("owner");
    let (ids, bytes) = exporter.ready("bring-back", &owner_pub, Some("latest"), 2);
    let drives = [dir.join("export-a"), dir.join("export-b")];
    // Half the export and room for the reserve and a partly filled range: two drives, spanning.
    assert!(
        bytes > 12 * MIB as u64,
        "an export of {bytes} bytes would not span"
    );
    let report = written(&exporter.write("bring-back", &ids, &drives, bytes / 2 + 6 * MIB as u64));
    assert_eq!(report["objects"].as_u64().map(|n| n > 0), Some(true), "{report}");
    assert_eq!(report["bytes"].as_u64(), Some(bytes));
    assert_eq!(report["job_state"], "Packaging", "{report}");
    for drive in report["drives"].as_array().expect("drives") {
        assert_eq!(drive["state"], "Completed", "{drive}");
        assert!(
            drive["objects"].as_u64() > Some(0),
            "both drives hold part: {drive}"
        );
    }
    // Each drive carries its key for the owner only.
    for drive in &drives {
        assert!(drive.join("seedship-drive.key").is_file());
    }
    // The copy logs list every object, once per part; the sizes add up to the export.
    let logs = ok(
        &dir,
        &[
            "job",
            "logs",
            "--job",
            "bring-back",
            "--credentials",
            path(&flow.account),
        ],
    );
    let logged: u64 = logs
        .as_array()
        .expect("logs")
        .iter()
        .flat_map(|drive| drive["copy_log"]["blobs"].as_array().expect("blobs").clone())
        .map(|blob| {
            assert_eq!(blob["status"], "Completed", "{blob}");
            blob["length"].as_u64().expect("length")
        })
        .sum();
    assert_eq!(logged, bytes);
    // The owner's web page shows what the export moves and both drives done.
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let url = flow.server.url.clone();
    let cookie = crate::web_page::session_cookie(&http, &url, &flow.account);
    let page = crate::web_page::get(&http, &format!("{url}/web/jobs/acme/bring-back"), Some(&cookie))
        .text()
        .expect("job page");
    let objects = report["objects"].as_u64().expect("objects");
    for shown in [
        "Export of vault</dt><dd id=\"export-vault\">laptop".to_owned(),
        "<dd id=\"export-snapshots\">latest; hosts: any; paths: any</dd>".to_owned(),
        format!(
            "<dd id=\"export-objects\">{objects} (<span class=\"size\" title=\"{bytes} bytes\">{}</span>)</dd>",
            crate::web_page::human(bytes)
        ),
    ] {
        assert!(page.contains(&shown), "{shown} not in {page}");
    }
    assert_eq!(page.matches("class=\"state\">Completed<").count(), 2, "{page}");
    assert!(!page.contains("Destination"), "{page}");
    // The data centre kept nothing that opens the drives: the passphrase wrapping is gone.
    let journal = dir.join("journals").join(format!("bring-back.{}.jrn", ids[0]));
    let verify = run(
        &dir,
        &[
            "drive",
            "verify",
            "--journal",
            path(&journal),
            "--drive",
            path(&drives[0]),
        ],
    );
    assert_exit(&verify, WRONG_KEY);
    // Running the write again leaves the written drives as they are.
    let again = written(&exporter.write("bring-back", &ids, &drives, bytes / 2 + 6 * MIB as u64));
    assert!(again["copy"].is_null(), "{again}");

    // The owner restores from the drives, bit-exact, and the copy is a repository restic
    // checks, with the vault's own config (the same repository).
    let target = dir.join("restored");
    let copy = dir.join("copy");
    let restored = exporter.restore(&drives, &owner_key, &target, &["--copy-to", path(&copy)]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    let canonical = std::fs::canonicalize(&flow.source).expect("canonical source");
    let restored_source = target.join(canonical.strip_prefix("/").expect("absolute"));
    let differences = compare_trees(&flow.source, &restored_source).expect("compare");
    assert!(differences.is_empty(), "{differences:?}");
    restic_ok(path(&copy), &dir.join("restic-cache"), &["check", "--read-data"]);
    assert_eq!(
        std::fs::read(copy.join("config")).expect("copied config"),
        std::fs::read(flow.data_vault().join("config")).expect("vault config")
    );

    // The machine lost its disk: the restored tree takes the source's place, and the next
    // backups into the vault upload only what changed (metadata, then the new file).
    std::fs::rename(&flow.source, dir.join("lost")).expect("lose the source");
    std::fs::rename(&restored_source, &flow.source).expect("put the restored tree back");
    let before = flow.vault_bytes_received();
    flow.backup_ok();
    let unchanged = flow.vault_bytes_received() - before;
    assert!(
        unchanged < 256 * 1024,
        "a backup of the restored tree uploaded {unchanged} bytes; the vault holds every blob"
    );
    write_file(&flow.source.join("after.bin"), 4, 2 * MIB);
    let before = flow.vault_bytes_received();
    flow.backup_ok();
    let changed = flow.vault_bytes_received() - before;
    assert!(
        (2 * MIB as u64..2 * MIB as u64 + 512 * 1024).contains(&changed),
        "the new 2 MiB file uploaded {changed} bytes"
    );
}

/// A server with a vault backed up from 40 MB of incompressible files, its owner, an operator
/// and the agent's configuration.
struct Vaulted {
    dir: PathBuf,
    _server: Server,
    owner: PathBuf,
    operator: PathBuf,
    config_dir: PathBuf,
    source: PathBuf,
    vault_dir: PathBuf,
}

impl Vaulted {
    fn new(dir: &Path) -> Self {
        let server = Server::start(dir, "server", &dir.join("data"), None);
        let agent = provision(&server, dir, "acme", "laptop", false);
        let operator = dir.join("operator.credentials");
        seedship(&admin_create(
            "operator",
            "dc",
            &server.admin_credentials(),
            Some(&operator),
        ));
        let source = dir.join("source");
        std::fs::create_dir_all(&source).expect("source");
        for i in 0..5 {
            write_file(&source.join(format!("file-{i}.bin")), 10 + i, 8 * MIB);
        }
        make_tree(&source.join("small"), 5, 20);
        let backup = agent_run(
            &dir.join("cache"),
            &["backup", path(&source), "--repo", &agent.repository()],
        );
        assert!(backup.status.success(), "{}", stderr(&backup));
        let vault_dir = crate::offline_support::object_dir(&dir.join("data"), "vaults", "laptop");
        Self {
            dir: dir.to_owned(),
            _server: server,
            owner: dir.join("acme.credentials"),
            operator,
            config_dir: dir.join("agent-acme-laptop"),
            source,
            vault_dir,
        }
    }

    fn exporter(&self) -> Exporter<'_> {
        Exporter {
            dir: &self.dir,
            owner: &self.owner,
            operator: &self.operator,
            config_dir: &self.config_dir,
        }
    }

    fn assert_restores(&self, drives: &[PathBuf], key: &Path, target: &str) {
        let target = self.dir.join(target);
        let restored = self.exporter().restore(drives, key, &target, &[]);
        assert!(restored.status.success(), "{}", stderr(&restored));
        let canonical = std::fs::canonicalize(&self.source).expect("canonical");
        let differences = compare_trees(
            &self.source,
            &target.join(canonical.strip_prefix("/").expect("abs")),
        )
        .expect("compare");
        assert!(differences.is_empty(), "{differences:?}");
    }
}

/// Runs `write` and kills it (SIGKILL) once the drives hold `point` bytes; `false` when it
/// finished before.
fn kill_once_written(mut write: Command, drives: &[PathBuf], point: u64) -> bool {
    let on_drives = || -> u64 {
        drives
            .iter()
            .map(|d| store_listing(d).values().sum::<u64>())
            .sum()
    };
    let mut child = write
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn export write");
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "export write failed before it was killed");
            return false;
        }
        if on_drives() >= point {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    true
}

#[test]
fn a_killed_export_write_resumes_with_at_most_one_range_per_drive_written_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = Vaulted::new(dir.path());
    let exporter = site.exporter();
    let (owner_key, owner_pub) = exporter.keygen("owner");
    let (ids, bytes) = exporter.ready("killed", &owner_pub, None, 2);
    let drives = [site.dir.join("k1"), site.dir.join("k2")];
    let capacity = bytes / 2 + 6 * MIB as u64;
    // Kill points spread over the copy: once the drives hold a fifth, two fifths... of the
    // export (plus a random part of a fifth), as the files on them show.
    let mut rng = Rng::new(77);
    let mut kills = 0;
    for step in 1..=4 {
        let point = bytes * step / 5 + rng.next_u64() % (bytes / 5);
        let write = exporter.write_command("killed", &ids, &drives, capacity);
        if !kill_once_written(write, &drives, point) {
            break;
        }
        kills += 1;
    }
    assert!(
        kills > 0,
        "the write finished before the first kill: make the vault larger"
    );
    // Without the second drive's journal the write does not go on (its drive could not be
    // resumed, and the set would lack it): refused, naming what is missing.
    let journal = site.dir.join("journals").join(format!("killed.{}.jrn", ids[1]));
    let hidden = journal.with_extension("hidden");
    std::fs::rename(&journal, &hidden).expect("hide a journal");
    let refused = exporter.write("killed", &ids, &drives, capacity);
    assert_exit(&refused, EXPORT_DRIVE_REFUSED);
    assert!(
        stderr(&refused).contains("spans 2 drives"),
        "{}",
        stderr(&refused)
    );
    std::fs::rename(&hidden, &journal).expect("the journal back");
    let report = written(&exporter.write("killed", &ids, &drives, capacity));
    for drive in report["drives"].as_array().expect("drives") {
        assert_eq!(drive["state"], "Completed", "{drive}");
    }
    if let Some(copy) = report["copy"].as_object() {
        let discarded = copy["bytes_discarded"].as_u64().expect("discarded");
        assert!(
            discarded <= 2 * RANGE_STORED,
            "{discarded} bytes cut off and written again: more than one range per drive"
        );
        let accounted = ["bytes_written", "bytes_skipped", "bytes_adopted"]
            .iter()
            .map(|k| copy[*k].as_u64().expect("counter"))
            .sum::<u64>();
        assert_eq!(
            accounted,
            copy["stored_bytes"].as_u64().expect("stored"),
            "{report}"
        );
    }
    site.assert_restores(&drives, &owner_key, "restored");
}

#[test]
fn foreign_drives_wrong_keys_and_damaged_objects_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = Vaulted::new(dir.path());
    let exporter = site.exporter();
    let (owner_key, owner_pub) = exporter.keygen("owner");
    let (other_key, _) = exporter.keygen("stranger");
    let big = 1 << 40;
    let (one, _) = exporter.ready("one", &owner_pub, None, 1);
    let (two, _) = exporter.ready("two", &owner_pub, None, 1);
    let (a, b) = (site.dir.join("a"), site.dir.join("b"));
    written(&exporter.write("one", &one, std::slice::from_ref(&a), big));

    // Drive a, written for job one, given to job two: refused, naming it; nothing written.
    let swapped = exporter.write("two", &two, std::slice::from_ref(&a), big);
    assert_exit(&swapped, EXPORT_DRIVE_REFUSED);
    assert!(stderr(&swapped).contains(&one[0]), "{}", stderr(&swapped));
    assert!(
        stderr(&swapped).contains("another export"),
        "{}",
        stderr(&swapped)
    );
    // A drive id the job lacks, and the same drive twice.
    let unknown = exporter.write("two", &[drive_id("nobody")], std::slice::from_ref(&b), big);
    assert_exit(&unknown, EXPORT_DRIVE_REFUSED);
    written(&exporter.write("two", &two, std::slice::from_ref(&b), big));

    // Drives of two exports are not one set; a key that is not the owner's opens nothing.
    let target = site.dir.join("nothing");
    assert_exit(
        &exporter.restore(&[a.clone(), b.clone()], &owner_key, &target, &[]),
        NOT_ONE_SET,
    );
    assert_exit(
        &exporter.restore(std::slice::from_ref(&a), &other_key, &target, &[]),
        WRONG_KEY,
    );
    site.assert_restores(std::slice::from_ref(&b), &owner_key, "from-b");
    // A byte flipped on drive a after writing: the restore names the damaged range.
    let data = crate::server_support::import::largest_data_file(&a);
    let mut stored = std::fs::read(&data).expect("read data file");
    stored[5000] ^= 1;
    std::fs::write(&data, &stored).expect("flip a byte");
    let flipped = exporter.restore(
        std::slice::from_ref(&a),
        &owner_key,
        &site.dir.join("flipped"),
        &[],
    );
    assert_exit(&flipped, DRIVES_DAMAGED);
    let named = data.file_name().expect("name").to_string_lossy().into_owned();
    let said = format!("{}{}", String::from_utf8_lossy(&flipped.stdout), stderr(&flipped));
    assert!(said.contains(&named), "{said}");

    // An interrupted write rolled back with `export abort` starts again from nothing.
    let (four, four_bytes) = exporter.ready("four", &owner_pub, None, 1);
    let d = site.dir.join("d");
    assert!(kill_once_written(
        exporter.write_command("four", &four, std::slice::from_ref(&d), big),
        std::slice::from_ref(&d),
        four_bytes / 2
    ));
    let journal = site.dir.join("journals").join(format!("four.{}.jrn", four[0]));
    assert!(journal.exists() && d.join("export").exists());
    let pair = format!("{}={}", four[0], d.display());
    let journals = site.dir.join("journals");
    let abort = [
        "export",
        "abort",
        "--job",
        "four",
        "--credentials",
        path(&site.operator),
        "--drive",
        &pair,
        "--journal-dir",
        path(&journals),
    ];
    let aborted = ok(&site.dir, &abort);
    assert_eq!(aborted["message_type"], "export_aborted", "{aborted}");
    assert!(!journal.exists() && !d.join("export").exists() && !d.join("seedship-drive.key").exists());
    let again = written(&exporter.write("four", &four, std::slice::from_ref(&d), big));
    assert_eq!(again["copy"]["bytes_skipped"], 0, "{again}");
    assert_eq!(again["copy"]["bytes_adopted"], 0, "{again}");
    site.assert_restores(std::slice::from_ref(&d), &owner_key, "from-d");

    // A pack damaged in the vault's storage stops the write, named, before it reaches a drive.
    let (three, _) = exporter.ready("three", &owner_pub, None, 1);
    let pack = store_listing(&site.vault_dir.join("data"))
        .into_iter()
        .max_by_key(|(_, size)| *size)
        .map(|(name, _)| site.vault_dir.join("data").join(name))
        .expect("a pack");
    let mut bytes = std::fs::read(&pack).expect("read pack");
    bytes[1000] ^= 0x40;
    std::fs::write(&pack, &bytes).expect("damage pack");
    let damaged = exporter.write("three", &three, &[site.dir.join("c")], big);
    assert_exit(&damaged, 1);
    let name = pack.file_name().expect("name").to_string_lossy().into_owned();
    assert!(stderr(&damaged).contains(&name), "{}", stderr(&damaged));
    assert!(
        stderr(&damaged).contains("does not hash to its name"),
        "{}",
        stderr(&damaged)
    );
}
