//! Backups as the command line shows them: one backup with its summary (and the partial
//! exit code), a policy backup's outcome (staged, waiting, cancelled, seeded: text and exit
//! codes 22 and 23), and the policy's schedule (`seedship agent run`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use seedship_agent::{Backups, Outcome, PolicyBackup};
use seedship_repo::{BackupOptions, Repo, RepoConfig, Sources};
use serde::Serialize;

use crate::args::AccessArgs;
use crate::exit::{self, Coded, PARTIAL};
use crate::{Context, output, shared};

#[derive(Serialize)]
pub struct Tagged<'a, T: Serialize> {
    pub message_type: &'static str,
    pub repository: &'a str,
    pub repository_id: String,
    #[serde(flatten)]
    pub body: T,
}

impl<'a, T: Serialize> Tagged<'a, T> {
    /// The `message_type` document about `repo`, with `body`'s fields beside its location
    /// and id.
    pub fn about(message_type: &'static str, repo: &'a seedship_repo::Repo, body: T) -> Self {
        Self {
            message_type,
            repository: repo.location(),
            repository_id: repo.id(),
            body,
        }
    }
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
    let doc = Tagged::about("summary", &repo, &summary);
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

/// What a policy backup needs besides the policy.
pub struct PolicyRun<'a> {
    pub access: &'a AccessArgs,
    pub options: BackupOptions,
    /// Agent configuration directory (default as `seedship agent register`).
    pub config_dir: Option<PathBuf>,
}

/// The policy's backups, made with the repository password of `access` and shown as
/// [`run_backup`] shows them.
struct Shown<'a> {
    ctx: &'a Context,
    access: &'a AccessArgs,
}

impl Backups for Shown<'_> {
    type Error = anyhow::Error;

    fn backup(
        &mut self,
        location: &str,
        sources: &Sources,
        options: &BackupOptions,
    ) -> anyhow::Result<(String, String)> {
        run_backup(
            self.ctx,
            &self.access.config(self.ctx, location.to_owned())?,
            sources,
            options,
        )
    }

    fn repository_id(&mut self, location: &str) -> anyhow::Result<String> {
        let repo = Repo::open(
            &self.access.config(self.ctx, location.to_owned())?,
            self.ctx.progress.clone(),
        )?;
        Ok(repo.id())
    }
}

/// One policy backup (`seedship backup` without paths): a seeded vault is backed up to at
/// once, as before.
pub fn policy_backup(ctx: &Context, run: &PolicyRun) -> anyhow::Result<()> {
    let policy = PolicyBackup::load(shared::agent_dir(run.config_dir.clone())?)?;
    let mut backups = Shown {
        ctx,
        access: run.access,
    };
    loop {
        let outcome = policy.run(&run.options, ctx.progress.as_ref(), &mut backups)?;
        let seeded = matches!(outcome, Outcome::Seeded { .. });
        show(ctx, outcome)?;
        if !seeded {
            return Ok(());
        }
    }
}

/// Shows a policy backup's outcome; waiting and cancelled end with their exit codes.
fn show(ctx: &Context, outcome: Outcome) -> anyhow::Result<()> {
    match outcome {
        Outcome::BackedUp => Ok(()),
        Outcome::Staged { staged, dir } => {
            let doc = serde_json::json!({
                "message_type": "staged", "job": staged.job, "staging": dir.staging().display().to_string(),
                "job_dir": dir.path().display().to_string(),
            });
            output::emit(ctx.json, &doc, || {
                format!(
                    "initial backup staged in {} for import job {}; next: seedship diskprep --staging {}",
                    dir.path().display(),
                    staged.job,
                    dir.staging().display()
                )
            })
        }
        Outcome::Waiting {
            backed_up,
            job,
            state,
            dir,
            next,
        } => {
            let shown = state.map_or_else(|| "not created".to_owned(), |s| format!("{s:?}"));
            let line = format!("waiting for import job {job} ({shown})");
            let doc = serde_json::json!({
                "message_type": "waiting", "job": job, "state": state,
                "staging": dir.path().display().to_string(), "next": next,
                "backed_up": backed_up,
            });
            output::emit(ctx.json, &doc, || line.clone())?;
            if let (Some(next), false) = (&next, ctx.json) {
                eprintln!("next: {next}");
            }
            if backed_up {
                // Backed up into the staged repository: no gap while the drives travel.
                return Ok(());
            }
            Err(exit::Reported {
                code: exit::WAITING_FOR_IMPORT,
                what: line,
            }
            .into())
        }
        Outcome::Cancelled { job, dir } => Err(exit::Coded {
            code: exit::IMPORT_CANCELLED,
            message: format!(
                "import job {job} was cancelled: its drives will not seed the vault; the staged \
                 backup in {} stays as it is. Give the policy a new job \
                 (`seedship policy set ... --offline --job <NEW> --abandon-offline-backup`) \
                 to stage and ship again.",
                dir.path().display()
            ),
        }
        .into()),
        Outcome::Seeded { job, record } => {
            let doc = serde_json::json!({ "message_type": "seeded", "job": job, "seeded": record });
            output::emit(ctx.json, &doc, || {
                format!(
                    "vault {} seeded from import job {job}: {} objects ({} copied, {} already there), {} snapshot(s); \
                     caught up: {} file(s), {}, {} snapshot(s) staged after the drives were prepared",
                    record.vault,
                    record.report.objects,
                    record.report.copied,
                    record.report.skipped,
                    record.report.snapshots,
                    record.caught_up.files,
                    bytes(record.caught_up.bytes),
                    record.caught_up.snapshots,
                )
            })
        }
    }
}

/// `seedship agent run`: a policy backup at every time of the policy's schedule (or one now
/// with `once`). A failed or waiting run is reported and the schedule goes on.
pub fn run_schedule(ctx: &Context, run: &PolicyRun, once: bool) -> anyhow::Result<()> {
    if once {
        return policy_backup(ctx, run);
    }
    let (policy, _) = shared::agent_dir(run.config_dir.clone())?.policy()?;
    let schedule = policy.schedule.context(
        "the policy has no schedule: set one with `seedship policy set ... --schedule CRON`, \
         or run `seedship agent run --once` from a systemd timer",
    )?;
    let cron: croner::Cron = schedule
        .parse()
        .with_context(|| format!("schedule {schedule:?} of the policy"))?;
    loop {
        let now = chrono::Local::now();
        let next = cron
            .find_next_occurrence(&now, false)
            .with_context(|| format!("no next time for schedule {schedule:?}"))?;
        let doc = serde_json::json!({ "message_type": "next_run", "at": next.to_rfc3339() });
        output::emit(ctx.json, &doc, || format!("next run at {}", next.to_rfc3339()))?;
        let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
        std::thread::sleep(wait);
        if let Err(err) = policy_backup(ctx, run) {
            // Reported like a command's error; the next run may succeed (server back, job done).
            let _ = exit::report(&err, ctx.json);
        }
    }
}

/// The first 8 hex digits of an id, as restic shows them.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Bytes in binary units, one decimal.
pub fn bytes(n: u64) -> String {
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
