//! Shared harness of the server tests: the real `seedship` binary as server and client, the
//! real `restic`, real trees on disk. Logs stay in each test's temporary directory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use seedship_store::testing::{find_program, skips_disallowed};

pub mod import;
pub mod webhook_receiver;

pub const SEEDSHIP: &str = env!("CARGO_BIN_EXE_seedship");

/// A running `seedship server`, stopped on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub data_dir: PathBuf,
    pub stderr_log: PathBuf,
    /// The certificate clients must trust: the self-signed one of `--tls`, or the CA given to
    /// [`Server::start_trusting`].
    pub ca: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Server {
    /// SIGKILL, as a crash would; the process is reaped.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server on a free port, with logs `<dir>/<name>.stdout|stderr.log`, and waits
    /// until `/healthz` answers.
    pub fn start(dir: &Path, name: &str, data_dir: &Path, config: Option<&Path>) -> Server {
        Self::start_with(dir, name, data_dir, config, &[])
    }

    /// [`Server::start`] with extra arguments, e.g. `--tls` or `--listen <ADDR>` (to restart on
    /// the port of an earlier run).
    pub fn start_with(
        dir: &Path,
        name: &str,
        data_dir: &Path,
        config: Option<&Path>,
        extra: &[&str],
    ) -> Server {
        let self_signed = extra.contains(&"--tls").then(|| data_dir.join("tls/cert.pem"));
        Self::start_trusting(dir, name, data_dir, config, extra, self_signed.as_deref())
    }

    /// [`Server::start_with`] for a server whose certificate `ca` (a CA or the certificate
    /// itself) vouches for.
    pub fn start_trusting(
        dir: &Path,
        name: &str,
        data_dir: &Path,
        config: Option<&Path>,
        extra: &[&str],
        ca: Option<&Path>,
    ) -> Server {
        let stdout_log = dir.join(format!("{name}.stdout.log"));
        let stderr_log = dir.join(format!("{name}.stderr.log"));
        let mut command = Command::new(SEEDSHIP);
        command.args(["--json", "server", "--data-dir"]).arg(data_dir);
        if !extra.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command.args(extra);
        // Lets the admin move the clock (deadline tests); nothing else changes.
        command.env("SEEDSHIP_TEST_CLOCK", "1");
        let child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_log).expect("stdout log"))
            .stderr(std::fs::File::create(&stderr_log).expect("stderr log"))
            .spawn()
            .expect("start seedship server");
        let mut server = Server {
            child,
            url: String::new(),
            data_dir: data_dir.to_owned(),
            stderr_log,
            ca: ca.map(Path::to_owned),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = std::fs::File::open(&stdout_log)
                .ok()
                .and_then(|f| BufReader::new(f).lines().next())
                .and_then(|line| line.ok())
                .and_then(|line| serde_json::from_str::<serde_json::Value>(&line).ok());
            if let Some(doc) = ready {
                assert_eq!(doc["message_type"], "server_ready", "ready line: {doc}");
                server.url = doc["url"].as_str().expect("url").to_owned();
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(&server.stderr_log).unwrap_or_default();
                panic!("server {name} exited with {status}:\n{log}");
            }
            assert!(Instant::now() < deadline, "server {name} not ready after 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let health = server
            .http()
            .get(format!("{}/healthz", server.url))
            .send()
            .expect("GET /healthz");
        assert!(health.status().is_success(), "healthz: {}", health.status());
        server
    }

    /// The self-signed certificate of a `--tls` server.
    pub fn certificate(&self) -> PathBuf {
        self.data_dir.join("tls/cert.pem")
    }

    /// An HTTP client that trusts the server's certificate if it has one.
    pub fn http(&self) -> reqwest::blocking::Client {
        let mut builder = reqwest::blocking::Client::builder();
        if let Some(ca) = &self.ca {
            let pem = std::fs::read(ca).expect("CA certificate");
            builder =
                builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("certificate"));
        }
        builder.build().expect("HTTP client")
    }

    /// Runs `seedship --json <args>` trusting the server's certificate; panics on failure.
    pub fn seedship(&self, args: &[&str]) -> serde_json::Value {
        match &self.ca {
            Some(ca) => seedship_trusting(ca, args),
            None => seedship(args),
        }
    }

    pub fn admin_credentials(&self) -> PathBuf {
        self.data_dir.join("admin-credentials")
    }
}

/// The arguments of `admin <kind> create <name>` with the admin credentials `admin`, writing
/// the new credentials to `out` when given.
pub fn admin_create<'a>(
    kind: &'a str,
    name: &'a str,
    admin: &'a Path,
    out: Option<&'a Path>,
) -> Vec<&'a str> {
    admin_args(kind, "create", name, admin, out)
}

/// As [`admin_create`], for `admin <kind> rotate-secret <name>`.
pub fn admin_rotate<'a>(
    kind: &'a str,
    name: &'a str,
    admin: &'a Path,
    out: Option<&'a Path>,
) -> Vec<&'a str> {
    admin_args(kind, "rotate-secret", name, admin, out)
}

fn admin_args<'a>(
    kind: &'a str,
    verb: &'a str,
    name: &'a str,
    admin: &'a Path,
    out: Option<&'a Path>,
) -> Vec<&'a str> {
    let mut args = vec!["admin", kind, verb, name, "--admin-credentials", path(admin)];
    if let Some(out) = out {
        args.extend(["--out", path(out)]);
    }
    args
}

/// `admin account quota <account> --admin-credentials <admin>`, to which a test adds
/// `--bytes N`, `--none` or nothing (show).
pub fn quota_args<'a>(account: &'a str, admin: &'a Path) -> Vec<&'a str> {
    vec![
        "admin",
        "account",
        "quota",
        account,
        "--admin-credentials",
        path(admin),
    ]
}

/// Runs `seedship --json <args>` and returns its stdout as JSON; panics on failure.
pub fn seedship(args: &[&str]) -> serde_json::Value {
    seedship_env(args, &[])
}

/// `output` ended with exit code `code` (its stderr shown otherwise).
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `seedship --json <args>`.
pub fn seedship_output(args: &[&str]) -> Output {
    Command::new(SEEDSHIP)
        .arg("--json")
        .args(args)
        .output()
        .expect("run seedship")
}

/// An agent's identity for one vault.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub secret: String,
    /// The vault URL without credentials.
    pub url: String,
}

impl Agent {
    /// The agent `agent register` wrote to `config_dir` (its `agent.toml`).
    pub fn registered_in(config_dir: &Path) -> Agent {
        let config = std::fs::read_to_string(config_dir.join("agent.toml")).expect("agent.toml");
        let field = |name: &str| {
            config
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name} = \"")))
                .and_then(|rest| rest.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{name} in agent.toml"))
                .to_owned()
        };
        Agent {
            id: field("id"),
            secret: field("secret"),
            url: field("url"),
        }
    }

    /// The restic repository string with the agent's credentials.
    pub fn repository(&self) -> String {
        let (scheme, rest) = self.url.split_once("://").expect("URL with scheme");
        format!("rest:{scheme}://{}:{}@{rest}", self.id, self.secret)
    }
}

/// The arguments of `agent register` with the vault registration credentials `vault_file`,
/// agent name `name`, writing to `config_dir`.
pub fn register_args<'a>(vault_file: &'a Path, name: &'a str, config_dir: &'a Path) -> Vec<&'a str> {
    vec![
        "agent",
        "register",
        "--credentials",
        path(vault_file),
        "--name",
        name,
        "--config-dir",
        path(config_dir),
    ]
}

/// Creates account `account` (unless `account_file` exists) and vault `vault`, and registers an
/// agent; files go to `dir`.
pub fn provision(server: &Server, dir: &Path, account: &str, vault: &str, append_only: bool) -> Agent {
    let account_file = dir.join(format!("{account}.credentials"));
    if !account_file.exists() {
        let admin = server.admin_credentials();
        server.seedship(&[
            "admin",
            "account",
            "create",
            account,
            "--admin-credentials",
            path(&admin),
            "--out",
            path(&account_file),
        ]);
    }
    let vault_file = dir.join(format!("{account}-{vault}.vault"));
    let mut args = vec![
        "vault",
        "create",
        vault,
        "--credentials",
        path(&account_file),
        "--out",
        path(&vault_file),
    ];
    if append_only {
        args.push("--append-only");
    }
    server.seedship(&args);
    let config_dir = dir.join(format!("agent-{account}-{vault}"));
    let registered = server.seedship(&register_args(&vault_file, "agent", &config_dir));
    let agent = Agent::registered_in(&config_dir);
    assert_eq!(registered["agent"].as_str(), Some(agent.id.as_str()));
    agent
}

/// Creates storage account `storage` and its container `container` with the account owner
/// credentials `owner` (an import job's destination must exist).
pub fn create_container(owner: &Path, storage: &str, container: &str) {
    seedship(&["storage", "create", storage, "--credentials", path(owner)]);
    seedship(&[
        "container",
        "create",
        container,
        "--storage-account",
        storage,
        "--credentials",
        path(owner),
    ]);
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `restic` on PATH, or `None` (skip) unless skips are disallowed.
pub fn restic() -> Option<PathBuf> {
    let found = find_program("restic");
    if found.is_none() {
        assert!(
            !skips_disallowed(),
            "restic not found and SEEDSHIP_TEST_DISALLOW_SKIP=1"
        );
        eprintln!("SKIPPED: restic not found on PATH");
    }
    found
}

/// The password of the harness's repositories, so restic opens what the agent wrote.
pub const PASSWORD: &str = "correct horse battery staple";

/// Runs `seedship --json <args>` as an agent: with [`PASSWORD`] and its cache under `cache`.
pub fn agent_run(cache: &Path, args: &[&str]) -> Output {
    Command::new(SEEDSHIP)
        .arg("--json")
        .args(args)
        .env("SEEDSHIP_PASSWORD", PASSWORD)
        .env("SEEDSHIP_CACHE_DIR", cache)
        .output()
        .expect("run seedship")
}

/// Runs restic against `repository` with [`PASSWORD`] and a cache under `cache`.
pub fn run_restic(repository: &str, cache: &Path, args: &[&str]) -> Output {
    Command::new("restic")
        .args(args)
        .env("RESTIC_REPOSITORY", repository)
        .env("RESTIC_PASSWORD", PASSWORD)
        .env("RESTIC_CACHE_DIR", cache)
        .output()
        .expect("run restic")
}

/// Runs restic and panics with its output unless it succeeds.
/// restic restores the latest snapshot of `repository` into `target`, bit-exact with `source`
/// (an absolute path, found under `target` as restic lays it out).
pub fn assert_restic_restores_latest(repository: &str, cache: &Path, target: &Path, source: &Path) {
    restic_ok(
        repository,
        cache,
        &["restore", "latest", "--target", path(target)],
    );
    let restored = target.join(source.strip_prefix("/").expect("absolute"));
    assert_eq!(
        tree_contents(&restored),
        tree_contents(source),
        "restored tree differs"
    );
}

pub fn restic_ok(repository: &str, cache: &Path, args: &[&str]) -> String {
    let output = run_restic(repository, cache, args);
    assert!(
        output.status.success(),
        "restic {args:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes a small deterministic tree: `files` files of varied sizes derived from `seed`, a
/// subdirectory, an empty file and a symlink.
pub fn make_tree(root: &Path, seed: u64, files: usize) {
    std::fs::create_dir_all(root.join("sub/deeper")).expect("mkdir");
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in 0..files {
        let size = 1000 + (i * 37_001) % 300_000;
        let mut data = Vec::with_capacity(size);
        while data.len() < size {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            data.extend_from_slice(&state.to_le_bytes());
        }
        data.truncate(size);
        let dir = if i % 3 == 0 {
            root.join("sub/deeper")
        } else {
            root.to_owned()
        };
        std::fs::write(dir.join(format!("file-{i}.bin")), &data).expect("write file");
    }
    std::fs::write(root.join("empty"), b"").expect("write empty");
    std::os::unix::fs::symlink("file-1.bin", root.join("link")).expect("symlink");
}

/// Every regular file and symlink under `root`, relative path to content (or link target).
pub fn tree_contents(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let kind = entry.file_type().expect("file type");
            let rel = path.strip_prefix(root).expect("relative").to_owned();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_symlink() {
                out.insert(
                    rel,
                    std::fs::read_link(&path)
                        .expect("readlink")
                        .into_os_string()
                        .into_encoded_bytes(),
                );
            } else {
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    out
}

/// Every object in a local object directory: key to size. It may be listed while a writer
/// works in it, so an entry gone between the listing and its metadata (a temporary file
/// renamed into place, a directory removed) is left out.
pub fn store_listing(objects: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if !objects.exists() {
        return out;
    }
    let gone = |err: &std::io::Error| err.kind() == std::io::ErrorKind::NotFound;
    let mut stack = vec![objects.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Err(err) if gone(&err) => continue,
            entries => entries.expect("read_dir"),
        };
        for entry in entries {
            let entry = entry.expect("entry");
            let meta = match entry.metadata() {
                Err(err) if gone(&err) => continue,
                meta => meta.expect("metadata"),
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let key = entry
                    .path()
                    .strip_prefix(objects)
                    .expect("relative")
                    .display()
                    .to_string();
                out.insert(key, meta.len());
            }
        }
    }
    out
}

/// Runs `seedship --json <args>` with `SEEDSHIP_CA_CERT=<ca>`; panics on failure.
pub fn seedship_trusting(ca: &Path, args: &[&str]) -> serde_json::Value {
    seedship_env(args, &[("SEEDSHIP_CA_CERT", path(ca))])
}

/// Runs `seedship --json <args>` with `env` set; panics on failure.
pub fn seedship_env(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let output = Command::new(SEEDSHIP)
        .arg("--json")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run seedship");
    assert!(
        output.status.success(),
        "seedship {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

/// Writes a server configuration file `<dir>/server.toml` selecting `storage`.
pub fn write_storage_config(dir: &Path, storage: &seedship_store::StoreConfig) -> PathBuf {
    #[derive(serde::Serialize)]
    struct Config<'a> {
        storage: &'a seedship_store::StoreConfig,
    }
    let file = dir.join("server.toml");
    std::fs::write(&file, toml::to_string(&Config { storage }).expect("TOML")).expect("write config");
    file
}

/// The server URL and bearer token of a credentials file.
pub fn bearer(credentials: &Path) -> (String, String) {
    let file: toml::Value =
        toml::from_str(&std::fs::read_to_string(credentials).expect("credentials")).expect("toml");
    let token = format!(
        "{}.{}",
        file["id"].as_str().expect("id"),
        file["secret"].as_str().expect("secret")
    );
    (file["server"].as_str().expect("server url").to_owned(), token)
}

/// The status of `GET /api/v1/whoami` as the principal of credentials file `file`.
pub fn whoami(file: &Path) -> reqwest::StatusCode {
    let (url, token) = bearer(file);
    reqwest::blocking::Client::new()
        .get(format!("{url}/api/v1/whoami"))
        .bearer_auth(token)
        .send()
        .expect("whoami")
        .status()
}

/// The server's counters (`GET /api/v1/metrics`, admin credentials).
pub fn metrics(admin: &Path) -> serde_json::Value {
    let (url, token) = bearer(admin);
    reqwest::blocking::Client::new()
        .get(format!("{url}/api/v1/metrics"))
        .bearer_auth(token)
        .send()
        .expect("metrics")
        .json()
        .expect("metrics JSON")
}

/// Copies a directory tree (the "import" of a staged repository into a container).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::create_dir_all(to).expect("mkdir");
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Takes job `job` of the account in `owner_file` through a whole import by API calls alone
/// (one drive with an empty copy log, shipped back), so that it ends Completed with
/// destination `storage`/`container`/`prefix`: what vault seeding requires of a container
/// whose contents a test put there itself.
pub fn complete_import(
    server: &Server,
    owner_file: &Path,
    job: &str,
    storage: &str,
    container: &str,
    prefix: &str,
) {
    use seedship_api::{Client, Credentials, JobAction};
    let operator_file = owner_file.with_file_name("operator-for-imports.credentials");
    if !operator_file.exists() {
        let admin = server.admin_credentials();
        seedship(&[
            "admin",
            "operator",
            "create",
            "imports-staff",
            "--admin-credentials",
            path(&admin),
            "--out",
            path(&operator_file),
        ]);
    }
    let client = |file: &Path| Client::new(&Credentials::load(file).expect("credentials")).expect("client");
    let (owner, operator) = (client(owner_file), client(&operator_file));
    let drive_id = drive_id(job);
    let created = owner
        .create_job(&hand_job_spec(job, storage, container, prefix))
        .expect("create job");
    let account = created.job.account().to_owned();
    let now = "2026-12-01T00:00:00.000Z";
    let actions = [
        (
            &owner,
            serde_json::json!({"action": "ship", "carrier": "DHL", "tracking_number": format!("T-{job}"),
                                    "ship_date": "2026-11-30", "drive_count": 1}),
        ),
        (
            &operator,
            serde_json::json!({"action": "receive", "drive_id": drive_id}),
        ),
        (
            &operator,
            serde_json::json!({"action": "start-transfer", "drive_id": drive_id}),
        ),
        (
            &operator,
            serde_json::json!({"action": "finish-transfer", "drive_id": drive_id,
            "log": {"job": job, "drive_id": drive_id, "status": "Completed", "started_at": now,
                    "finished_at": now, "blobs": []}}),
        ),
        (
            &operator,
            serde_json::json!({"action": "ship-back", "tracking_number": format!("B-{job}")}),
        ),
    ];
    for (who, action) in actions {
        let action: JobAction = serde_json::from_value(action).expect("job action");
        who.job_action(&account, job, &action).expect("job action");
    }
    let state = owner.job(&account, job).expect("job").summary.state;
    assert_eq!(state, seedship_jobs::JobState::Completed);
}

/// The bytes the server says `account` stores (`admin account quota` with the admin
/// credentials `admin`) and `stored()`, once they agree or after 10 s: a server may still be
/// finishing requests of a client that went away (an upload whose body had arrived is stored,
/// one cut off gives its reservation back when the server notices).
pub fn settled_usage(admin: &Path, account: &str, stored: impl Fn() -> u64) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let usage = seedship(&[
            "admin",
            "account",
            "quota",
            account,
            "--admin-credentials",
            path(admin),
        ]);
        let (used, on_disk) = (usage["used_bytes"].as_u64().expect("used_bytes"), stored());
        if used == on_disk || Instant::now() > deadline {
            return (used, on_disk);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The spec of an import job made by hand (one drive, [`drive_id`] of the job's name, nothing
/// prepared) into `storage`/`container`/`prefix`.
pub fn hand_job_spec(job: &str, storage: &str, container: &str, prefix: &str) -> seedship_jobs::JobSpec {
    let address = serde_json::json!({"recipient": "Ann", "street": ["2 Lane"], "city": "Utrecht",
                                     "postal_code": "3511", "country": "NL", "phone": ""});
    let spec = serde_json::json!({
        "name": job, "job_type": "Import",
        "destination": {"storage_account": storage, "container": container, "prefix": prefix,
                        "disposition": "rename"},
        "region": "local",
        "contact": {"name": "Ann", "email": "ann@example.com", "phone": ""},
        "return_shipping": {"carrier": "DHL", "account_number": "123", "address": address},
        "drives": [{"drive_id": drive_id(job), "wrapped_key": "k", "manifest_hash": "h", "bytes": 0}],
    });
    serde_json::from_value(spec).expect("job spec")
}

/// The drive id (32 lowercase hex digits, as `drive prepare` makes them) that stands for
/// `label` in a job made by hand.
pub fn drive_id(label: &str) -> String {
    blake3::hash(label.as_bytes()).to_hex()[..32].to_owned()
}

/// The rule that refused, after checking it was a refusal with that HTTP status.
pub fn refused<T: std::fmt::Debug>(result: Result<T, seedship_api::ClientError>, status: u16) -> String {
    match result {
        Err(seedship_api::ClientError::Api {
            status: got,
            rule,
            message,
            ..
        }) => {
            assert_eq!(got, status, "{message}");
            rule.unwrap_or(message)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
