//! The backup agent: `backup`, `snapshots`, `restore`, `check` on restic-format repositories.

use crate::exit::{self, Coded, PARTIAL};
use crate::{Context, output, prompt};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use seedship_repo::{BackupOptions, Excludes, Repo, RepoConfig, RestoreOptions, Sources};
use serde::Serialize;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Environment variable holding the repository password.
const PASSWORD_ENV: &str = "SEEDSHIP_PASSWORD";

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Back up paths into a repository (created on first use); later runs are incremental.
    /// Without paths: one backup as the registered agent's policy says (offline first backup).
    Backup(BackupArgs),
    /// List the snapshots of a repository.
    Snapshots(RepoArgs),
    /// Restore a snapshot into a directory.
    Restore(RestoreArgs),
    /// Check a repository's integrity.
    Check(CheckArgs),
}

/// How to reach and open a repository.
#[derive(Debug, Args)]
pub struct RepoArgs {
    /// Repository: a local directory or rest:http(s)://host:port/path.
    #[arg(short = 'r', long, env = "SEEDSHIP_REPO", value_name = "REPO")]
    repo: String,
    #[command(flatten)]
    access: AccessArgs,
}

/// The password and cache of a repository.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Read the repository password from the first line of this file. Without a password file
    /// or command: $SEEDSHIP_PASSWORD, else asked on the terminal.
    #[arg(
        short = 'p',
        long,
        env = "SEEDSHIP_PASSWORD_FILE",
        value_name = "FILE",
        conflicts_with = "password_command"
    )]
    password_file: Option<PathBuf>,
    /// Run this shell command (sh -c) and take the first line of its output as the repository
    /// password.
    #[arg(long, env = "SEEDSHIP_PASSWORD_COMMAND", value_name = "COMMAND")]
    password_command: Option<String>,
    /// Cache index and tree data in this directory (default: $XDG_CACHE_HOME/seedship, else
    /// ~/.cache/seedship).
    #[arg(long, env = "SEEDSHIP_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Use no cache directory (also when SEEDSHIP_CACHE_DIR is set).
    #[arg(long)]
    no_cache: bool,
    /// The password once found (a scheduled run asks only once).
    #[arg(skip)]
    resolved: Resolved,
}

/// A password found once and kept for the process; never shown by `Debug`.
#[derive(Default)]
pub struct Resolved(std::sync::OnceLock<Zeroizing<String>>);

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Files or directories to back up; none: back up as the agent's policy says
    /// (`seedship policy set`), offline first backup included.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Repository (with PATHs): a local directory or rest:http(s)://host:port/path.
    #[arg(short = 'r', long, env = "SEEDSHIP_REPO", value_name = "REPO")]
    repo: Option<String>,
    #[command(flatten)]
    access: AccessArgs,
    /// Record this host name in the snapshot (parent detection matches host and paths).
    #[arg(long)]
    host: Option<String>,
    /// Read every file again instead of skipping files unchanged since the parent snapshot.
    #[arg(long)]
    no_parent: bool,
    /// Agent configuration directory of a policy backup (default as `seedship agent register`).
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    config_dir: Option<PathBuf>,
    #[command(flatten)]
    excludes: ExcludeArgs,
}

/// What a backup leaves out (restic's `--exclude` and `--exclude-file`).
#[derive(Debug, Args)]
pub struct ExcludeArgs {
    /// Leave out files and directories matching this pattern, as restic does: `*`, `?`, `[...]`,
    /// `**`; a pattern starting with / matches from the root, any other one the end of a path
    /// (`*.tmp`, `cache`, `a/b/*.log`). Repeat for more.
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Read exclude patterns from this file: one a line; blank lines and lines starting with #
    /// are skipped. Repeat for more.
    #[arg(long, value_name = "FILE")]
    exclude_file: Vec<PathBuf>,
}

impl ExcludeArgs {
    /// The patterns given, `--exclude`s first, checked; `None` when none were given.
    pub fn given(&self) -> anyhow::Result<Option<Excludes>> {
        if self.exclude.is_empty() && self.exclude_file.is_empty() {
            return Ok(None);
        }
        let mut patterns = self.exclude.clone();
        for file in &self.exclude_file {
            patterns.extend(Excludes::read_file(file)?);
        }
        Ok(Some(Excludes::new(patterns)?))
    }
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Snapshot id, unique id prefix, or `latest`.
    #[arg(value_name = "SNAPSHOT|latest")]
    snapshot: String,
    /// Directory to restore into (created if missing).
    #[arg(long, value_name = "DIR")]
    target: PathBuf,
    #[command(flatten)]
    repo: RepoArgs,
    /// Restore file contents in groups of at most this size (bounds memory; suffixes K, M, G,
    /// T as powers of 1024); 0: one group.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = seedship_progress::parse_size)]
    group_size: u64,
    /// Old spelling of --group-size, in MiB.
    #[arg(long, value_name = "MIB", hide = true, conflicts_with = "group_size")]
    group_mib: Option<u64>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Also read and verify all data in the repository.
    #[arg(long)]
    read_data: bool,
}

impl AgentCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            AgentCommand::Backup(args) => backup(ctx, args),
            AgentCommand::Snapshots(args) => snapshots(ctx, &args),
            AgentCommand::Restore(args) => restore(ctx, args),
            AgentCommand::Check(args) => check(ctx, &args),
        }
    }
}

impl AccessArgs {
    /// The configuration of the repository at `location`: the password from the first source
    /// that gives one (password file, password command, `$SEEDSHIP_PASSWORD`, the terminal)
    /// and the cache directory.
    pub fn config(&self, ctx: &Context, location: String) -> anyhow::Result<RepoConfig> {
        let password = match self.resolved.0.get() {
            Some(password) => password,
            None => {
                let found = self.password(ctx)?;
                anyhow::ensure!(!found.is_empty(), "the repository password is empty");
                self.resolved.0.get_or_init(|| found)
            }
        };
        let cache = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(super::cloud::default_cache_dir)
        };
        Ok(RepoConfig::new(location, password.to_string()).with_cache_dir(cache))
    }

    fn password(&self, ctx: &Context) -> anyhow::Result<Zeroizing<String>> {
        if let Some(file) = &self.password_file {
            let text = Zeroizing::new(
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading password file {}", file.display()))?,
            );
            return Ok(first_line(&text));
        }
        if let Some(command) = &self.password_command {
            let output = std::process::Command::new("sh")
                .args(["-c", command])
                .stdin(std::process::Stdio::inherit())
                .stderr(std::process::Stdio::inherit())
                .output()
                .context("running the password command (--password-command)")?;
            let text = Zeroizing::new(String::from_utf8(output.stdout).map_err(|_| {
                anyhow::anyhow!("the password command (--password-command) printed no UTF-8 text")
            })?);
            anyhow::ensure!(
                output.status.success(),
                "the password command (--password-command) failed: {}",
                output.status
            );
            return Ok(first_line(&text));
        }
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            return Ok(Zeroizing::new(password));
        }
        prompt::secret(
            ctx.json,
            "--password-file, --password-command, SEEDSHIP_PASSWORD_FILE, SEEDSHIP_PASSWORD_COMMAND or SEEDSHIP_PASSWORD",
            "Repository password:",
        )
    }
}

/// The first line of a password file or command output, without its line ending.
fn first_line(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.lines().next().unwrap_or_default().to_owned())
}

impl RepoArgs {
    fn open(&self, ctx: &Context) -> anyhow::Result<Repo> {
        Ok(Repo::open(
            &self.access.config(ctx, self.repo.clone())?,
            ctx.progress.clone(),
        )?)
    }
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    message_type: &'static str,
    repository: &'a str,
    repository_id: String,
    #[serde(flatten)]
    body: T,
}

fn backup(ctx: &Context, args: BackupArgs) -> anyhow::Result<()> {
    let options = BackupOptions {
        hostname: args.host,
        no_parent: args.no_parent,
        excludes: args.excludes.given()?.unwrap_or_default(),
    };
    if args.paths.is_empty() {
        if args.repo.is_some() {
            return Err(exit::usage(
                "--repo (or SEEDSHIP_REPO) goes with PATHs; without PATHs the agent's policy says where"
                    .to_owned(),
            ));
        }
        return super::offline::backup(
            ctx,
            &super::offline::PolicyRun {
                access: &args.access,
                options,
                config_dir: args.config_dir,
            },
        );
    }
    let Some(location) = args.repo else {
        return Err(exit::usage(
            "backing up PATHs needs --repo (or SEEDSHIP_REPO)".to_owned(),
        ));
    };
    run_backup(
        ctx,
        &args.access.config(ctx, location)?,
        &Sources::new(&args.paths)?,
        &options,
    )
    .map(drop)
}

/// Backs `sources` up into the repository of `config` (created on first use), reports the
/// snapshot and returns the repository and snapshot ids; an unreadable source entry ends
/// with [`PARTIAL`].
pub fn run_backup(
    ctx: &Context,
    config: &RepoConfig,
    sources: &Sources,
    options: &BackupOptions,
) -> anyhow::Result<(String, String)> {
    let (repo, created) = Repo::open_or_init(config, ctx.progress.clone())?;
    let mut summary = repo.backup(sources, options)?;
    summary.repository_created = created;
    let doc = Tagged {
        message_type: "summary",
        repository: repo.location(),
        repository_id: repo.id(),
        body: &summary,
    };
    output::emit(ctx.json, &doc, || {
        let mut lines = Vec::new();
        if created {
            lines.push(format!(
                "created repository {} at {}",
                short(&repo.id()),
                repo.location()
            ));
        }
        lines.push(format!(
            "snapshot {} saved{}",
            short(&summary.snapshot_id),
            summary
                .parent_id
                .as_deref()
                .map(|parent| format!(" (parent {})", short(parent)))
                .unwrap_or_default()
        ));
        lines.push(format!(
            "files: {} new, {} changed, {} unchanged; {} processed, {} added ({} stored)",
            summary.files_new,
            summary.files_changed,
            summary.files_unchanged,
            bytes(summary.bytes_processed),
            bytes(summary.data_added),
            bytes(summary.data_added_packed),
        ));
        for entry in &summary.unreadable {
            let path = entry
                .path
                .as_ref()
                .map(|path| format!("{}: ", path.display()))
                .unwrap_or_default();
            lines.push(format!("unreadable: {path}{}", entry.error));
        }
        lines.join("\n")
    })?;
    if let Some(first) = summary.unreadable.first() {
        let what = first
            .path
            .as_ref()
            .map_or_else(|| first.error.clone(), |path| path.display().to_string());
        return Err(Coded {
            code: PARTIAL,
            message: format!(
                "{} source entr{} could not be read and are missing from snapshot {} (first: {what})",
                summary.unreadable.len(),
                if summary.unreadable.len() == 1 { "y" } else { "ies" },
                short(&summary.snapshot_id),
            ),
        }
        .into());
    }
    Ok((repo.id(), summary.snapshot_id))
}

fn snapshots(ctx: &Context, args: &RepoArgs) -> anyhow::Result<()> {
    let repo = args.open(ctx)?;
    let list = repo.snapshots()?;
    let doc = Tagged {
        message_type: "snapshots",
        repository: repo.location(),
        repository_id: repo.id(),
        body: serde_json::json!({ "snapshots": &list }),
    };
    output::emit(ctx.json, &doc, || {
        let mut lines = vec![format!(
            "{:<8}  {:<25}  {:<16}  {:>10}  paths",
            "id", "time", "host", "size"
        )];
        for snap in &list {
            lines.push(format!(
                "{:<8}  {:<25}  {:<16}  {:>10}  {}",
                short(&snap.id),
                snap.time,
                snap.hostname,
                snap.bytes.map(bytes).unwrap_or_default(),
                snap.paths.join(" ")
            ));
        }
        lines.push(format!("{} snapshot(s)", list.len()));
        lines.join("\n")
    })
}

/// glibc's malloc setting that bounds restore memory (see [`restore_in_tuned_process`]).
const MMAP_THRESHOLD_ENV: &str = "MALLOC_MMAP_THRESHOLD_";

/// Runs this same restore command again in a child process whose glibc malloc hands every
/// allocation of 256 KiB or more (decrypted blobs, pack reads) back to the system when it is
/// freed, and returns the child's exit code; `None` when already in such a process.
///
/// rustic_core restores on 20 threads; with glibc's default, which raises its mmap threshold
/// up to 32 MiB after the first large free, the freed blob buffers stay in per-thread arenas
/// and peak memory was 3x the data actually in flight (measured in docs/BENCHMARKS.md). The
/// setting is only read at process start, and our code may not call `mallopt` (no `unsafe`),
/// hence the child process.
fn restore_in_tuned_process() -> anyhow::Result<Option<i32>> {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) || std::env::var_os(MMAP_THRESHOLD_ENV).is_some() {
        return Ok(None);
    }
    let exe = std::env::current_exe().context("finding the seedship executable")?;
    let status = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .env(MMAP_THRESHOLD_ENV, "262144")
        .status()
        .with_context(|| format!("running {}", exe.display()))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(Some(
        status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
    ))
}

fn restore(ctx: &Context, args: RestoreArgs) -> anyhow::Result<()> {
    if let Some(code) = restore_in_tuned_process()? {
        std::process::exit(code);
    }
    let repo = args.repo.open(ctx)?;
    let options = RestoreOptions {
        group_bytes: Some(
            args.group_mib
                .map_or(args.group_size, |mib| mib.saturating_mul(1024 * 1024)),
        )
        .filter(|&bytes| bytes > 0),
    };
    let summary = repo.restore(&args.snapshot, &args.target, &options)?;
    let doc = Tagged {
        message_type: "summary",
        repository: repo.location(),
        repository_id: repo.id(),
        body: &summary,
    };
    output::emit(ctx.json, &doc, || {
        format!(
            "restored snapshot {} into {}: {} files ({}) written, {} unchanged, {} directories created",
            short(&summary.snapshot_id),
            summary.target.display(),
            summary.files_restored,
            bytes(summary.bytes_restored),
            summary.files_unchanged,
            summary.dirs_restored,
        )
    })
}

fn check(ctx: &Context, args: &CheckArgs) -> anyhow::Result<()> {
    let repo = args.repo.open(ctx)?;
    let report = repo.check(args.read_data)?;
    let doc = Tagged {
        message_type: "check",
        repository: repo.location(),
        repository_id: repo.id(),
        body: &report,
    };
    output::emit(ctx.json, &doc, || {
        let mut lines: Vec<String> = report.warnings.iter().map(|w| format!("warning: {w}")).collect();
        lines.extend(report.errors.iter().map(|e| format!("error: {e}")));
        lines.push(format!(
            "repository {}: {} error(s), {} warning(s){}",
            repo.location(),
            report.errors.len(),
            report.warnings.len(),
            if report.read_data { ", all data read" } else { "" }
        ));
        lines.join("\n")
    })?;
    if !report.errors.is_empty() {
        return Err(seedship_repo::Error::CheckFailed {
            location: repo.location().to_owned(),
            errors: report.errors.len(),
        }
        .into());
    }
    Ok(())
}

/// The first 8 hex digits of an id, as restic shows them.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Bytes in binary units, one decimal.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
