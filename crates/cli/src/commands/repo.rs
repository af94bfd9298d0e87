//! The repository commands: `backup`, `snapshots`, `restore`, `check`, `forget`, `prune` on
//! restic-format repositories.

use crate::args::{AccessArgs, ExcludeArgs};
use crate::backups::{PolicyRun, Tagged, bytes, policy_backup, run_backup, short};
use crate::{Context, exit, output, shared};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use seedship_repo::{BackupOptions, Repo, Retention, Sources};
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
    /// Remove snapshots by restic's keep rules (a snapshot any rule keeps stays), group by
    /// group (same host and paths); `--prune` then deletes the data no snapshot uses.
    Forget(ForgetArgs),
    /// Delete the data no snapshot uses (after `forget`).
    Prune(PruneArgs),
    /// Remove stale locks (as `restic unlock`): those older than 30 minutes and those of this
    /// host whose process is gone.
    Unlock(UnlockArgs),
    /// Write one file of a snapshot to stdout (as `restic dump`).
    Dump(DumpArgs),
}

/// How to reach and open a repository.
#[derive(Debug, Args)]
pub struct RepoArgs {
    /// Repository: a local directory or rest:http(s)://host:port/path. Without it: the vault
    /// of the agent registered on this machine (`seedship agent register`).
    #[arg(short = 'r', long, env = "SEEDSHIP_REPO", value_name = "REPO")]
    repo: Option<String>,
    /// Agent configuration directory whose vault is used without --repo (default as
    /// `seedship agent register`).
    #[arg(long, value_name = "DIR", conflicts_with = "repo")]
    config_dir: Option<PathBuf>,
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
    /// Restore only what this pattern matches, with everything below it (restic's syntax:
    /// `/home/ann/docs`, `*.pdf`); repeat for more. Without it: the whole snapshot.
    #[arg(long, value_name = "PATTERN")]
    include: Vec<String>,
    /// Restore from the repository these drives carry instead of --repo: the drives of one
    /// set (an export of a vault, or `drive prepare --key-on-drive` of a repository); repeat
    /// for each drive. Every range read is verified; needs --key.
    #[arg(long, value_name = "DIR", requires = "key")]
    from_drive: Vec<PathBuf>,
    /// With --from-drive: the private key file the drive key is wrapped to (the owner's
    /// `seedship keygen` .key).
    #[arg(long, value_name = "FILE", requires = "from_drive")]
    key: Option<PathBuf>,
    /// With --from-drive: first copy the repository from the drives into this directory
    /// (every file verified whole), then restore from the copy.
    #[arg(long, value_name = "DIR", requires = "from_drive")]
    copy_to: Option<PathBuf>,
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

#[derive(Debug, Args)]
pub struct ForgetArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Keep the last N snapshots.
    #[arg(long, value_name = "N")]
    keep_last: Option<u32>,
    /// Keep the last snapshot of each of the last N hours that have one.
    #[arg(long, value_name = "N")]
    keep_hourly: Option<u32>,
    /// Keep the last snapshot of each of the last N days that have one.
    #[arg(long, value_name = "N")]
    keep_daily: Option<u32>,
    /// Keep the last snapshot of each of the last N weeks that have one.
    #[arg(long, value_name = "N")]
    keep_weekly: Option<u32>,
    /// Keep the last snapshot of each of the last N months that have one.
    #[arg(long, value_name = "N")]
    keep_monthly: Option<u32>,
    /// Keep the last snapshot of each of the last N years that have one.
    #[arg(long, value_name = "N")]
    keep_yearly: Option<u32>,
    /// Keep every snapshot taken within this duration of the newest (restic's form: `1y6m`,
    /// `30d`, `2d12h`; `m` is months).
    #[arg(long, value_name = "DURATION")]
    keep_within: Option<String>,
    /// Then delete the data no snapshot uses (as `seedship prune`).
    #[arg(long)]
    prune: bool,
    /// Only say what would be removed.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Only say what would be deleted.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Snapshot id, unique id prefix, or `latest`.
    #[arg(value_name = "SNAPSHOT|latest")]
    snapshot: String,
    /// The file's path in the snapshot, as `snapshots` and `restore` show it (e.g.
    /// `/home/ann/notes.txt`).
    #[arg(value_name = "PATH")]
    path: String,
    #[command(flatten)]
    repo: RepoArgs,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Remove every lock, live ones too (only when no other process uses the repository).
    #[arg(long)]
    remove_all: bool,
}

impl RepoCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        crate::interrupt::release_locks_on_ctrl_c();
        match self {
            RepoCommand::Backup(args) => backup(ctx, args),
            RepoCommand::Snapshots(args) => snapshots(ctx, &args),
            RepoCommand::Restore(args) => restore(ctx, args),
            RepoCommand::Check(args) => check(ctx, &args),
            RepoCommand::Forget(args) => forget(ctx, &args),
            RepoCommand::Prune(args) => prune(ctx, &args),
            RepoCommand::Unlock(args) => unlock(ctx, &args),
            RepoCommand::Dump(args) => dump(ctx, &args),
        }
    }
}

impl RepoArgs {
    pub(crate) fn open(&self, ctx: &Context) -> anyhow::Result<Repo> {
        let location = match &self.repo {
            Some(location) => location.clone(),
            None => shared::agent_dir(self.config_dir.clone())
                .context("no --repo given, and no registered agent whose vault to use")?
                .vault_repository()?,
        };
        Ok(Repo::open(
            &self.access.config(ctx, location)?,
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
    let includes = seedship_repo::Includes::new(args.include.clone())?;
    let (repo, copied) = match &args.key {
        Some(key) => {
            let identity = seedship_drive::read_identity(key)?;
            let drives = seedship_repo::Drives::open(&args.from_drive, &identity)?;
            match &args.copy_to {
                Some(dir) => {
                    let config = args.repo.access.config(ctx, dir.display().to_string())?;
                    let (repo, copy) = Repo::open_drives_via_copy(&config, drives, ctx.progress.clone())?;
                    (repo, Some(copy))
                }
                None => {
                    let config = args.repo.access.config(ctx, drives.location().to_owned())?;
                    (Repo::open_drives(&config, drives, ctx.progress.clone())?, None)
                }
            }
        }
        None => (args.repo.open(ctx)?, None),
    };
    let summary = repo.restore(&args.snapshot, &args.target, &includes)?;
    let mut doc = serde_json::to_value(Tagged::about("summary", &repo, &summary))?;
    if let Some(copy) = &copied {
        doc["copied_to"] = serde_json::to_value(copy)?;
    }
    output::emit(ctx.json, &doc, || {
        let mut lines = Vec::new();
        if let Some(copy) = &copied {
            lines.push(format!(
                "copied {} repository files ({}) from the drives into {}{}",
                copy.files,
                bytes(copy.bytes),
                copy.target.display(),
                if copy.damaged.is_empty() {
                    ""
                } else {
                    "; damaged files left out, restoring from the drives"
                }
            ));
        }
        lines.extend(summary.damaged.iter().map(|damage| {
            format!(
                "damaged on the drives: {} bytes {}..{} {} ({}); incomplete: {}",
                damage.file.display(),
                damage.offset,
                damage.offset + damage.len,
                damage.status,
                damage.drive_file.display(),
                damage
                    .restored_files
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }));
        lines.push(format!(
            "restored snapshot {} into {}: {} files ({}) written, {} unchanged, {} directories created",
            short(&summary.snapshot_id),
            summary.target.display(),
            summary.files_restored,
            bytes(summary.bytes_restored),
            summary.files_unchanged,
            summary.dirs_restored,
        ));
        lines.join("\n")
    })?;
    if summary.damaged.is_empty() {
        return Ok(());
    }
    Err(exit::Reported {
        code: exit::DRIVES_DAMAGED,
        what: format!(
            "{} file(s) left incomplete by damage on the drives; fetch them from the vault",
            summary.files_damaged
        ),
    }
    .into())
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

fn forget(ctx: &Context, args: &ForgetArgs) -> anyhow::Result<()> {
    let retention = Retention {
        last: args.keep_last,
        hourly: args.keep_hourly,
        daily: args.keep_daily,
        weekly: args.keep_weekly,
        monthly: args.keep_monthly,
        yearly: args.keep_yearly,
        within: args.keep_within.clone(),
    };
    if retention.is_empty() {
        return Err(exit::usage(
            "forget needs at least one keep rule (--keep-last, --keep-hourly, --keep-daily, --keep-weekly, \
             --keep-monthly, --keep-yearly or --keep-within); nothing was removed"
                .to_owned(),
        ));
    }
    if let Some(within) = &retention.within {
        seedship_repo::parse_duration(within)?;
    }
    let repo = args.repo.open(ctx)?;
    let report = repo.forget(&retention, args.dry_run)?;
    let doc = Tagged::about("forget", &repo, &report);
    output::emit(ctx.json, &doc, || {
        let mut lines = Vec::new();
        for group in &report.groups {
            lines.push(format!(
                "host {}, paths {}:",
                group.hostname,
                group.paths.join(" ")
            ));
            for kept in &group.keep {
                lines.push(format!(
                    "  keep    {}  {}  {}",
                    short(&kept.id),
                    kept.time,
                    kept.reasons.join(", ")
                ));
            }
            for removed in &group.remove {
                lines.push(format!("  remove  {}  {}", short(&removed.id), removed.time));
            }
        }
        let removing: usize = report.groups.iter().map(|group| group.remove.len()).sum();
        lines.push(if report.dry_run {
            format!("dry run: {removing} snapshot(s) would be removed")
        } else {
            format!("{} snapshot(s) removed", report.removed)
        });
        lines.join("\n")
    })?;
    if args.prune {
        show_prune(ctx, &repo, args.dry_run)?;
    }
    Ok(())
}

fn prune(ctx: &Context, args: &PruneArgs) -> anyhow::Result<()> {
    let repo = args.repo.open(ctx)?;
    show_prune(ctx, &repo, args.dry_run)
}

fn show_prune(ctx: &Context, repo: &Repo, dry_run: bool) -> anyhow::Result<()> {
    let report = repo.prune(dry_run)?;
    let doc = Tagged::about("prune", repo, &report);
    output::emit(ctx.json, &doc, || {
        format!(
            "{}{} pack(s) deleted, {} repacked ({} written again), {} kept; {} freed of {} unused",
            if report.dry_run { "dry run: would be " } else { "" },
            report.packs_removed,
            report.packs_repacked,
            bytes(report.repacked_bytes),
            report.packs_kept,
            bytes(report.freed_bytes),
            bytes(report.unused_bytes),
        )
    })
}

fn unlock(ctx: &Context, args: &UnlockArgs) -> anyhow::Result<()> {
    let repo = args.repo.open(ctx)?;
    let removed = repo.unlock(args.remove_all)?;
    let doc = Tagged::about("unlock", &repo, serde_json::json!({ "removed": removed }));
    output::emit(ctx.json, &doc, || format!("{removed} lock(s) removed"))
}

fn dump(ctx: &Context, args: &DumpArgs) -> anyhow::Result<()> {
    let repo = args.repo.open(ctx)?;
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::new(stdout);
    repo.dump(&args.snapshot, &args.path, &mut out)?;
    std::io::Write::flush(&mut out).context("writing to stdout")?;
    Ok(())
}
