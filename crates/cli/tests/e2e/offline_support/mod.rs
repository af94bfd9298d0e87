//! Shared set-up of the offline-seeding tests: a server with account, storage account,
//! container, operator, vault and registered agent, and an offline policy over a sample tree.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use seedship_treecmp::SampleTree;

use crate::server_support::*;

pub use crate::server_support::PASSWORD;
pub const PASSPHRASE: &str = "drive passphrase of the offline flow";
pub const JOB: &str = "seed-laptop";
pub const WAITING: i32 = 22;
pub const MIB: usize = 1 << 20;

/// `seedship <args>` with the repository password and drive passphrase set.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(SEEDSHIP);
    command
        .args(args)
        .env("SEEDSHIP_PASSWORD", PASSWORD)
        .env("SEEDSHIP_DRIVE_PASSPHRASE", PASSPHRASE)
        // The repository cache (on by default) stays in the build's temporary directory.
        .env("XDG_CACHE_HOME", concat!(env!("CARGO_TARGET_TMPDIR"), "/cache"))
        .env_remove("SEEDSHIP_REPO")
        .env_remove("SEEDSHIP_CREDENTIALS");
    command
}

pub fn run(args: &[&str]) -> Output {
    command(args).output().expect("run seedship")
}

/// Runs `seedship --json <args>`, which must succeed; returns its JSON lines.
pub fn json_ok(args: &[&str]) -> Vec<serde_json::Value> {
    let output = run(&[&["--json"][..], args].concat());
    assert!(
        output.status.success(),
        "seedship {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    json_lines(&output)
}

pub fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("JSON line {line:?}: {e}")))
        .collect()
}

pub fn message<'a>(lines: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|line| line["message_type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} message in {lines:?}"))
}

/// Store directory of the row `name` of `table` (its id from the server's SQLite metadata).
pub fn object_dir(data: &Path, table: &str, name: &str) -> PathBuf {
    let output = Command::new("sqlite3")
        .arg(data.join("metadata.db"))
        .arg(format!("SELECT id FROM {table} WHERE name = '{name}'"))
        .output()
        .expect("run sqlite3");
    let id = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(!id.trim().is_empty(), "no {table} row {name}");
    data.join("objects").join(table).join(id.trim())
}

pub struct Flow {
    pub dir: PathBuf,
    pub server: Server,
    pub agent: Agent,
    pub config_dir: PathBuf,
    pub account: PathBuf,
    pub operator: PathBuf,
    pub staging: PathBuf,
    pub source: PathBuf,
}

impl Flow {
    pub fn start(dir: &Path) -> Flow {
        Flow::start_sized(dir, 16 * MIB)
    }

    /// As [`Flow::start_sized`], in a new temporary directory that lives as long as the
    /// returned guard.
    pub fn in_tempdir(bytes: usize) -> (tempfile::TempDir, Flow) {
        let dir = tempfile::tempdir().expect("tempdir");
        let flow = Flow::start_sized(dir.path(), bytes);
        (dir, flow)
    }

    /// As [`Flow::start`], with a sample tree of `bytes`.
    pub fn start_sized(dir: &Path, bytes: usize) -> Flow {
        let server = Server::start(dir, "server", &dir.join("data"), None);
        let agent = provision(&server, dir, "acme", "laptop", false);
        let account = dir.join("acme.credentials");
        let operator = dir.join("operator.credentials");
        seedship(&admin_create(
            "operator",
            "dc-staff",
            &server.admin_credentials(),
            Some(&operator),
        ));
        create_container(&account, "imports", "seed");
        let source = dir.join("source");
        SampleTree::build(&source, bytes).expect("sample tree");
        let flow = Flow {
            dir: dir.to_owned(),
            config_dir: dir.join("agent-acme-laptop"),
            staging: dir.join("staging"),
            server,
            agent,
            account,
            operator,
            source,
        };
        flow.set_policy("0 2 * * *");
        std::fs::write(
            dir.join("details.json"),
            serde_json::json!({
                "region": "local",
                "contact": {"name": "Ann", "email": "ann@example.com", "phone": ""},
                "return_shipping": {"carrier": "DHL", "account_number": "123", "address":
                    {"recipient": "Ann", "street": ["2 Lane"], "city": "Utrecht",
                     "postal_code": "3511", "country": "NL", "phone": ""}},
            })
            .to_string(),
        )
        .expect("write details");
        flow
    }

    /// The offline policy over the sample tree, with `schedule` (cron) for `agent run`.
    pub fn set_policy(&self, schedule: &str) {
        json_ok(&[
            "policy",
            "set",
            path(&self.source),
            "--offline",
            "--staging",
            path(&self.staging),
            "--job",
            JOB,
            "--storage-account",
            "imports",
            "--container",
            "seed",
            "--schedule",
            schedule,
            "--config-dir",
            path(&self.config_dir),
        ]);
    }

    /// Azure's behaviour: nothing is backed up while the import job is not Completed.
    pub fn wait_for_import(&self) {
        json_ok(&[
            "policy",
            "set",
            path(&self.source),
            "--wait-for-import",
            "--config-dir",
            path(&self.config_dir),
        ]);
    }

    pub fn job_dir(&self) -> PathBuf {
        self.staging.join(JOB)
    }

    /// The job details file (`diskprep --details`).
    pub fn details(&self) -> PathBuf {
        self.dir.join("details.json")
    }

    /// A drive capacity (`--capacity`) at which the staged repository needs two drives.
    pub fn spanning_capacity(&self) -> u64 {
        let staged: u64 = store_listing(&self.job_dir().join("repository")).values().sum();
        staged * 2 / 3 + MIB as u64
    }

    pub fn backup(&self) -> Output {
        run(&["--json", "backup", "--config-dir", path(&self.config_dir)])
    }

    /// A policy backup started in the background, its output discarded (to be killed).
    pub fn spawn_backup(&self) -> std::process::Child {
        command(&["backup", "--config-dir", path(&self.config_dir)])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn backup")
    }

    /// A policy backup that must succeed.
    pub fn backup_ok(&self) -> Output {
        let output = self.backup();
        assert_exit(&output, 0);
        output
    }

    pub fn drive(&self, n: usize) -> PathBuf {
        let drive = self.dir.join(format!("drive{n}"));
        std::fs::create_dir_all(&drive).expect("mkdir drive");
        drive
    }

    /// The vault's store directory.
    pub fn data_vault(&self) -> PathBuf {
        object_dir(&self.server.data_dir, "vaults", "laptop")
    }

    /// Bytes the vault received over restic's REST protocol so far.
    pub fn vault_bytes_received(&self) -> u64 {
        metrics(&self.server.admin_credentials())["vault_bytes_received"]
            .as_u64()
            .expect("vault_bytes_received")
    }

    /// `diskprep` of the staging location with the owner's credentials, plus `extra`.
    pub fn owner_diskprep<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "diskprep",
            "--not-a-mount-point",
            "--staging",
            path(&self.staging),
            "--credentials",
            path(&self.account),
        ];
        args.extend_from_slice(extra);
        args
    }

    /// `diskprep --status`, which must succeed.
    pub fn diskprep_status(&self) -> Vec<serde_json::Value> {
        json_ok(&self.owner_diskprep(&["--status"]))
    }

    /// `diskprep` arguments for the staged job onto `drives` (with `--yes`), plus `extra`.
    pub fn diskprep_onto(&self, drives: &[&Path], extra: &[&str]) -> Vec<String> {
        let details = self.details();
        let mut args: Vec<String> = self
            .owner_diskprep(&["--details", path(&details), "--yes"])
            .into_iter()
            .map(String::from)
            .collect();
        for drive in drives {
            args.extend(["--drive".to_owned(), path(drive).to_owned()]);
        }
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args
    }

    /// `diskprep` arguments that prepare the staged job on two drives and create the job.
    pub fn diskprep_args(&self) -> Vec<String> {
        let capacity = self.spanning_capacity().to_string();
        let (drive1, drive2) = (self.drive(1), self.drive(2));
        self.diskprep_onto(&[&drive1, &drive2], &["--capacity", &capacity])
    }

    /// Prepares the drives and creates the job ([`Flow::diskprep_args`]), which must succeed.
    pub fn diskprep(&self) -> Vec<serde_json::Value> {
        let args = self.diskprep_args();
        json_ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Runs the staged job through diskprep (two drives), shipping, receipt and ship-back, to
    /// Completed, without the checks `offline_flow`'s end-to-end test makes on the way.
    pub fn import_staged(&self) {
        self.diskprep();
        self.ship_receive_and_return();
    }

    /// Ships the prepared drives, receives both at the data centre and ships them back.
    pub fn ship_receive_and_return(&self) {
        self.ship();
        self.receive_and_return();
    }

    /// Records the shipment of the prepared drives: the job is Shipping.
    pub fn ship(&self) {
        json_ok(&self.owner_diskprep(&[
            "--ship",
            "--yes",
            "--carrier",
            "DHL",
            "--tracking-number",
            "TRACK-2",
            "--ship-date",
            "2026-11-30",
        ]));
    }

    /// Receives both shipped drives at the data centre and ships them back: Completed.
    pub fn receive_and_return(&self) {
        let operator = ["--credentials", path(&self.operator), "--job", JOB];
        let key = self.server.data_dir.join("import-service.key");
        let (drive1, drive2) = (self.drive(1), self.drive(2));
        let drives = ["--drive", path(&drive1), "--drive", path(&drive2)];
        let identity = ["--identity", path(&key)];
        json_ok(&[&["import", "receive"][..], &operator, &identity, &drives].concat());
        let back = json_ok(
            &[
                &["import", "ship-back", "--tracking-number", "RET-2"][..],
                &operator,
            ]
            .concat(),
        );
        assert_eq!(back[0]["state"], "Completed", "{back:?}");
    }
}
