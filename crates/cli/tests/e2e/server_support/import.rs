//! Import helpers shared by the tests of ingestion and of the jobs web page: a server with an
//! account and an operator, source trees, drives prepared with `seedship drive prepare`, jobs
//! created from their journals and shipped, and `seedship import receive`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use seedship_api::{Client, Credentials};
use seedship_treecmp::Rng;

use super::{SEEDSHIP, Server, admin_create, create_container, path, seedship};

const PASSPHRASE: &str = "drive passphrase for the tests";
pub const MIB: usize = 1 << 20;

/// Runs `seedship --json <args>` with the drive passphrase set.
pub fn run(args: &[&str]) -> Output {
    Command::new(SEEDSHIP)
        .arg("--json")
        .args(args)
        .env("SEEDSHIP_DRIVE_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("run seedship")
}

pub fn ok(args: &[&str]) -> serde_json::Value {
    succeeded(&run(args))
}

/// The JSON on stdout of a run that must have succeeded.
pub fn succeeded(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "seedship failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

/// A source tree: `files` small files in nested directories (one empty, names with spaces and
/// UTF-8) and one file of `big` bytes.
pub fn make_source(root: &Path, files: usize, big: usize) -> BTreeMap<String, Vec<u8>> {
    let mut tree = BTreeMap::new();
    for i in 0..files {
        let dir = match i % 3 {
            0 => "",
            1 => "docs/année 2026/",
            _ => "a/b/c/",
        };
        let len = if i == 0 { 0 } else { (i * 7919) % 150_000 };
        tree.insert(format!("{dir}file {i}.bin"), Rng::new(i as u64 + 1).random(len));
    }
    tree.insert("big.img".to_owned(), Rng::new(99).random(big));
    for (name, data) in &tree {
        let file = root.join(name);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, data).expect("write source");
    }
    tree
}

/// The largest data file under a drive: the stored segment of the biggest source file.
pub fn largest_data_file(drive: &Path) -> PathBuf {
    let (name, _) = super::store_listing(drive)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".dat"))
        .max_by_key(|(_, size)| *size)
        .expect("a data file on the drive");
    drive.join(name)
}

/// A server with an account `acme` (storage account `acme`, container `seed`) and an operator.
pub struct Site {
    pub dir: PathBuf,
    pub server: Server,
    pub owner_file: PathBuf,
    pub operator_file: PathBuf,
    /// Path prefix of the import service's key pair (`.key` with the operator, `.pub`).
    pub service_key_prefix: PathBuf,
}

impl Site {
    /// A site whose server made the import service's key pair in its data directory.
    /// A site with the default store in a new temporary directory, which lives as long as the
    /// returned guard.
    pub fn in_tempdir() -> (tempfile::TempDir, Site) {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = Site::start(dir.path(), None);
        (dir, site)
    }

    pub fn start(dir: &Path, config: Option<&Path>) -> Site {
        let data = dir.join("data");
        let prefix = data.join("import-service");
        Site::start_with(dir, config, &[], prefix)
    }

    /// A site whose server runs with `extra` arguments, the service key pair being at `prefix`.
    pub fn start_with(
        dir: &Path,
        config: Option<&Path>,
        extra: &[&str],
        service_key_prefix: PathBuf,
    ) -> Site {
        let server = Server::start_with(dir, "server", &dir.join("data"), config, extra);
        let admin = server.admin_credentials();
        let owner_file = dir.join("acme.credentials");
        let operator_file = dir.join("operator.credentials");
        for (kind, name, file) in [
            ("account", "acme", &owner_file),
            ("operator", "dc-staff", &operator_file),
        ] {
            seedship(&admin_create(kind, name, &admin, Some(file)));
        }
        create_container(&owner_file, "acme", "seed");
        Site {
            dir: dir.to_owned(),
            server,
            owner_file,
            operator_file,
            service_key_prefix,
        }
    }

    pub fn owner(&self) -> Client {
        Client::new(&Credentials::load(&self.owner_file).expect("credentials")).expect("client")
    }

    pub fn service_key(&self, ext: &str) -> PathBuf {
        let mut file = self.service_key_prefix.clone().into_os_string();
        file.push(format!(".{ext}"));
        file.into()
    }

    /// Prepares `src` onto `drives` drives of `capacity` bytes (session `s1`, destination
    /// `seed/host1`), creates job `name` from the journals and ships it. Returns the drive
    /// directories and journals.
    pub fn prepare_and_ship(
        &self,
        name: &str,
        src: &Path,
        drives: usize,
        capacity: usize,
    ) -> Vec<(PathBuf, PathBuf)> {
        let set = self.prepare(name, src, drives, capacity);
        self.create_job(name, &set, "Ann");
        self.ship(name, drives);
        set
    }

    /// Prepares `src` onto `drives` drives of `capacity` bytes (session `sess1`, destination
    /// `seed/host1`). Returns the drive directories and journals.
    pub fn prepare(&self, name: &str, src: &Path, drives: usize, capacity: usize) -> Vec<(PathBuf, PathBuf)> {
        self.prepare_session(name, "sess1", src, drives, capacity)
    }

    /// As [`Site::prepare`], in session `session`.
    pub fn prepare_session(
        &self,
        name: &str,
        session: &str,
        src: &Path,
        drives: usize,
        capacity: usize,
    ) -> Vec<(PathBuf, PathBuf)> {
        let set: Vec<(PathBuf, PathBuf)> = (1..=drives)
            .map(|i| {
                let drive = self.dir.join(format!("{name}-drive{i}"));
                std::fs::create_dir_all(&drive).expect("mkdir drive");
                (drive, self.dir.join(format!("{name}-drive{i}.jrn")))
            })
            .collect();
        let capacity = capacity.to_string();
        let output = self.prepare_onto(
            session,
            src,
            &set,
            &["--encrypt", "--capacity", &capacity, "--not-a-mount-point"],
        );
        assert!(
            output.status.success(),
            "drive prepare failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        set
    }

    /// Prepares `src` onto the drives of `set` in a later session `session` (the journals
    /// of an earlier one, whose key is unwrapped with the passphrase).
    pub fn prepare_later_session(&self, session: &str, src: &Path, set: &[(PathBuf, PathBuf)]) {
        let output = self.prepare_onto(session, src, set, &["--not-a-mount-point"]);
        assert!(
            output.status.success(),
            "drive prepare (session {session}) failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `seedship drive prepare` of `src` (destination `seed/host1`, the service's key) onto
    /// the drives and journals of `set` in session `session`, with `extra` flags.
    pub fn prepare_onto(
        &self,
        session: &str,
        src: &Path,
        set: &[(PathBuf, PathBuf)],
        extra: &[&str],
    ) -> Output {
        let service_key = self.service_key("pub");
        let mut args = vec![
            "drive",
            "prepare",
            "--session",
            session,
            "--srcdir",
            path(src),
            "--dstdir",
            "seed/host1",
            "--service-key",
            path(&service_key),
        ];
        args.extend(extra);
        for (drive, journal) in set {
            args.extend(["--drive", path(drive), "--journal", path(journal)]);
        }
        // Its JSON is a line per message (plan, summary), not one document.
        run(&args)
    }

    /// Creates job `name` (contact `contact`) from the journals of `set`.
    pub fn create_job(&self, name: &str, set: &[(PathBuf, PathBuf)], contact: &str) {
        let spec = self.dir.join(format!("{name}.json"));
        let address = serde_json::json!({"recipient": "Ann", "street": ["2 Lane"], "city": "Utrecht",
                                         "postal_code": "3511", "country": "NL", "phone": ""});
        let doc = serde_json::json!({
            "name": name, "job_type": "Import",
            "destination": {"storage_account": "acme", "container": "seed", "prefix": "host1",
                            "disposition": "rename"},
            "region": "local",
            "contact": {"name": contact, "email": "ann@example.com", "phone": ""},
            "return_shipping": {"carrier": "DHL", "account_number": "123", "address": address},
            "drives": [],
        });
        std::fs::write(&spec, doc.to_string()).expect("write spec");
        let mut args = vec![
            "job",
            "create",
            "--credentials",
            path(&self.owner_file),
            "--spec",
            path(&spec),
        ];
        for (_, journal) in set {
            args.extend(["--journal", path(journal)]);
        }
        ok(&args);
    }

    /// Ships job `name` with its `drives` drives.
    pub fn ship(&self, name: &str, drives: usize) {
        let tracking = format!("TRACK-{name}");
        let count = drives.to_string();
        ok(&[
            "job",
            "ship",
            name,
            "--credentials",
            path(&self.owner_file),
            "--carrier",
            "DHL",
            "--tracking-number",
            &tracking,
            "--ship-date",
            "2026-11-30",
            "--drive-count",
            &count,
        ]);
    }

    /// `job custody` of job `job` by the owner, which must verify.
    pub fn verified_custody(&self, job: &str) -> serde_json::Value {
        let custody = ok(&["job", "custody", job, "--credentials", path(&self.owner_file)]);
        assert_eq!(custody["verified"], true, "{custody}");
        custody
    }

    /// `seedship drive repair` of job `job` by the owner, from `journal` and the source `src`.
    pub fn repair(&self, job: &str, journal: &Path, src: &Path) -> Output {
        run(&[
            "drive",
            "repair",
            "--credentials",
            path(&self.owner_file),
            "--job",
            job,
            "--journal",
            path(journal),
            "--srcdir",
            path(src),
        ])
    }

    pub fn receive(&self, job: &str, credentials: &Path, drives: &[&Path]) -> Output {
        let key = self.service_key("key");
        let mut args = vec![
            "import",
            "receive",
            "--credentials",
            path(credentials),
            "--job",
            job,
            "--identity",
            path(&key),
        ];
        for drive in drives {
            args.extend(["--drive", path(drive)]);
        }
        run(&args)
    }

    /// Every file of `tree` must be in the container under `host1/`, bit-exact.
    pub fn assert_container_holds(&self, job: &str, tree: &BTreeMap<String, Vec<u8>>) {
        let owner = self.owner();
        for (name, data) in tree {
            let blob = owner
                .get_blob("acme", job, &format!("host1/{name}"))
                .unwrap_or_else(|e| panic!("blob host1/{name}: {e}"));
            assert!(blob == *data, "blob host1/{name} differs from the source");
        }
    }
}

pub fn stdout_json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON on stdout ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
