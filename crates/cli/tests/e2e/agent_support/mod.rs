//! Running the real `seedship` binary (and `restic`) in a temporary sandbox.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The repository password the tests use.
pub const PASSWORD: &str = "test password: not secret";

/// A temporary directory holding a source tree, a repository (`repo`) and restore targets.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

/// One finished run of a command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub json: serde_json::Value,
}

impl Run {
    fn from(output: Output) -> Self {
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        Self {
            code: output.status.code().unwrap_or(-1),
            json: serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            stdout,
        }
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    /// Asserts exit code `code`.
    #[track_caller]
    pub fn fails_with(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// The `exit_error` message on stderr, asserting it is exactly one line of JSON.
    #[track_caller]
    pub fn one_line_error(&self) -> String {
        let lines: Vec<_> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr is not one line: {}", self.stderr);
        let doc: serde_json::Value = serde_json::from_str(lines[0]).expect("exit_error json");
        assert_eq!(doc["message_type"], "exit_error");
        assert_eq!(doc["code"], self.code);
        doc["message"].as_str().expect("message").to_owned()
    }
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A sandbox every user may write to, for runs as `nobody`.
    pub fn new_shared() -> Self {
        let sandbox = Self::new();
        fs::set_permissions(sandbox.root(), fs::Permissions::from_mode(0o777)).expect("chmod");
        sandbox
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    /// `seedship ARGS` (with `--json` if `json`) in the sandbox: a clean environment with
    /// only PATH, the sandbox's repository and password, and `env`.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)], json: bool) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_seedship"));
        command.current_dir(self.root());
        command.env_clear();
        command.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        command.env("SEEDSHIP_REPO", self.path("repo"));
        command.env("SEEDSHIP_PASSWORD", PASSWORD);
        command.envs(env.iter().copied());
        command.args(args);
        if json {
            command.arg("--json");
        }
        command
    }

    /// Runs `seedship ARGS --json` with the sandbox's repository and password.
    pub fn seedship(&self, args: &[&str]) -> Run {
        self.seedship_with(args, &[])
    }

    /// As [`Sandbox::seedship`], with extra environment variables.
    pub fn seedship_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        Run::from(self.command(args, env, true).output().expect("run seedship"))
    }

    /// Starts `seedship ARGS --json` without waiting for it.
    pub fn spawn_seedship(&self, args: &[&str]) -> std::process::Child {
        self.command(args, &[], true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn seedship")
    }

    /// Runs `seedship ARGS --json` with no password in the environment.
    pub fn seedship_without_password(&self, args: &[&str]) -> Run {
        let mut command = self.command(args, &[], true);
        command.env_remove("SEEDSHIP_PASSWORD");
        Run::from(command.output().expect("run seedship"))
    }

    /// Runs `seedship ARGS` without `--json`.
    pub fn seedship_human(&self, args: &[&str]) -> Run {
        Run::from(self.command(args, &[], false).output().expect("run seedship"))
    }

    /// Runs `seedship ARGS --json` as user `nobody` when we are root (so file permissions
    /// apply), otherwise directly.
    pub fn seedship_unprivileged(&self, args: &[&str]) -> Run {
        let mut command = self.command(args, &[], true);
        let uid = fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
        if uid.ok() == Some(0) {
            let inner = command;
            command = Command::new("setpriv");
            command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            command.arg(inner.get_program()).args(inner.get_args());
            command.current_dir(self.root());
            command.env_clear();
            command.envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
        }
        Run::from(command.output().expect("run seedship"))
    }

    /// Where `source` lands under a restore target: its canonical path, made relative.
    pub fn source_in_snapshot(&self, source: &Path) -> PathBuf {
        let canonical = fs::canonicalize(source).expect("canonical source");
        canonical.strip_prefix("/").expect("absolute").to_owned()
    }

    /// Relative path and size of every file in the repository.
    pub fn repo_files(&self) -> Vec<(PathBuf, u64)> {
        let mut out = Vec::new();
        walk(&self.path("repo"), &self.path("repo"), &mut out);
        out.sort();
        out
    }

    /// Total bytes of the repository's files.
    pub fn repo_bytes(&self) -> u64 {
        self.repo_files().iter().map(|(_, size)| size).sum()
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    for entry in fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let meta = entry.metadata().expect("metadata");
        if meta.is_dir() {
            walk(root, &entry.path(), out);
        } else {
            let relative = entry.path().strip_prefix(root).expect("prefix").to_owned();
            out.push((relative, meta.len()));
        }
    }
}

/// Runs Debian's `restic` on the sandbox's repository; asserts success, returns stdout.
#[track_caller]
pub fn restic(sandbox: &Sandbox, args: &[&str]) -> String {
    let output = Command::new("restic")
        .args(["--no-cache", "--repo"])
        .arg(sandbox.path("repo"))
        .args(args)
        .env("RESTIC_PASSWORD", PASSWORD)
        .output()
        .expect("restic must be installed (scripts/install-test-deps.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "restic {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// How many lock files `repo/locks` holds (files named by a 64-digit id: a writer's temporary
/// file is not a lock yet).
pub fn lock_files(repo: &Path) -> usize {
    fs::read_dir(repo.join("locks")).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
            })
            .count()
    })
}

/// A `restic backup --stdin` into `repo` kept waiting for its input: restic holds a shared
/// lock on the repository until [`ResticHolding::finish`] (or drop) closes the input.
pub struct ResticHolding {
    child: std::process::Child,
    pub pid: u32,
}

impl ResticHolding {
    /// Starts restic and waits until its lock file is in `repo/locks`.
    pub fn start(repo: &Path, password: &str) -> Self {
        let child = Command::new("restic")
            .args(["--no-cache", "--repo"])
            .arg(repo)
            .args(["backup", "--stdin", "--stdin-filename", "held.bin"])
            .env("RESTIC_PASSWORD", password)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("restic must be installed (scripts/install-test-deps.sh)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while lock_files(repo) == 0 {
            assert!(std::time::Instant::now() < deadline, "restic never took its lock");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self {
            pid: child.id(),
            child,
        }
    }

    /// Gives restic its input and waits for it to save the snapshot and drop its lock.
    pub fn finish(mut self) {
        use std::io::Write;
        let mut stdin = self.child.stdin.take().expect("stdin");
        stdin.write_all(b"held data").expect("write to restic");
        drop(stdin);
        assert!(
            self.child.wait().expect("wait restic").success(),
            "restic backup failed"
        );
    }

    /// Kills restic (SIGKILL): its lock stays behind, stale (its process is gone).
    pub fn kill(mut self) {
        self.child.kill().expect("kill restic");
        self.child.wait().expect("wait restic");
    }
}

impl Drop for ResticHolding {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
