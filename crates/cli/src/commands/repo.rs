//! The repository commands: `backup`, `snapshots`, `restore`, `check` on restic-format repositories.

use crate::args::{AccessArgs, ExcludeArgs};
use crate::backups::{PolicyRun, Tagged, bytes, policy_backup, run_backup, short};
use crate::{Context, exit, output};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use seedship_repo::{BackupOptions, Repo, Sources};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
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
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Also read and verify all data in the repository.
    #[arg(long)]
    read_data: bool,
}

impl RepoCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            RepoCommand::Backup(args) => backup(ctx, args),
            RepoCommand::Snapshots(args) => snapshots(ctx, &args),
            RepoCommand::Restore(args) => restore(ctx, args),
            RepoCommand::Check(args) => check(ctx, &args),
        }
    }
}

impl RepoArgs {
    fn open(&self, ctx: &Context) -> anyhow::Result<Repo> {
        Ok(Repo::open(
            &self.access.config(ctx, self.repo.clone())?,
            ctx.progress.clone(),
        )?)
    }
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
        return policy_backup(
            ctx,
            &PolicyRun {
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

fn snapshots(ctx: &Context, args: &RepoArgs) -> anyhow::Result<()> {
    let repo = args.open(ctx)?;
    let list = repo.snapshots()?;
    let doc = Tagged::about("snapshots", &repo, serde_json::json!({ "snapshots": &list }));
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
    let summary = repo.restore(&args.snapshot, &args.target)?;
    let doc = Tagged::about("summary", &repo, &summary);
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
    let doc = Tagged::about("check", &repo, &report);
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
