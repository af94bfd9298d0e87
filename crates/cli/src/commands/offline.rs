//! Policy backups of a registered agent: `seedship backup` without paths and `seedship agent
//! run`. Under an offline policy the first backup goes to the staging location; until the
//! import job is Completed every run only reports that it waits; then the vault is seeded
//! from the job's container once and every later backup goes over the network to the vault.
//! The staging layout is described in docs/design.md ("Offline backup on the agent").

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use seedship_api::{Client, ClientError, Credentials, Seeded};
use seedship_jobs::JobState;
use seedship_progress::Unit;
use seedship_repo::{BackupOptions, Excludes, Repo, Sources};
use serde::{Deserialize, Serialize};

use super::agent::{AccessArgs, run_backup};
use super::policy::{Offline, Policy};
use crate::{Context, durable, exit, output};

/// What a policy backup needs besides the policy.
pub struct PolicyRun<'a> {
    pub access: &'a AccessArgs,
    pub options: BackupOptions,
    /// Agent configuration directory (default as `seedship agent register`).
    pub config_dir: Option<PathBuf>,
}

/// One import job's directory in a staging location: `<staging>/<job>/`.
pub struct JobDir(PathBuf);

impl JobDir {
    pub fn new(staging: &Path, job: &str) -> Self {
        Self(staging.join(job))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The initial backup, a restic repository that becomes the vault's.
    pub fn repository(&self) -> PathBuf {
        self.0.join("repository")
    }

    /// `job.toml`, written once the initial backup is complete.
    pub fn staged_file(&self) -> PathBuf {
        self.0.join("job.toml")
    }

    /// The drives' journals, kept off the drives.
    pub fn journals_dir(&self) -> PathBuf {
        self.0.join("journals")
    }

    /// The journal of drive `index` (1-based).
    pub fn journal(&self, index: usize) -> PathBuf {
        self.journals_dir().join(format!("drive-{index}.jrn"))
    }

    /// The journals of the prepared drives, in drive order.
    pub fn journals(&self) -> Vec<PathBuf> {
        (1..)
            .map(|index| self.journal(index))
            .take_while(|journal| journal.exists())
            .collect()
    }

    /// The shipping details recorded by `seedship diskprep --ship`.
    pub fn shipping_file(&self) -> PathBuf {
        self.0.join("shipping.json")
    }

    /// `seeded.toml`: the vault was seeded from the import; backups go to the vault.
    pub fn seeded_file(&self) -> PathBuf {
        self.0.join("seeded.toml")
    }
}

/// `job.toml`: what the initial backup staged for which import job.
#[derive(Debug, Serialize, Deserialize)]
pub struct StagedJob {
    /// Import job name.
    pub job: String,
    /// The account owning the job and the vault.
    pub account: String,
    /// Storage account of the import container.
    pub storage_account: String,
    /// The import container.
    pub container: String,
    /// Folder of the repository in the container (the drives' destination prefix).
    pub prefix: String,
    /// The staged repository's id (the vault keeps it).
    pub repository_id: String,
    /// The initial snapshot.
    pub snapshot_id: String,
    /// The policy's backup paths (no drive may overlap them); empty in a `job.toml` written
    /// before they were recorded.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
}

impl StagedJob {
    /// The staged job of `dir`, `None` before the initial backup completed.
    pub fn load(dir: &JobDir) -> anyhow::Result<Option<Self>> {
        let path = dir.staged_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
            )),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// `seeded.toml`: the vault seeding that ended the offline phase.
#[derive(Debug, Serialize, Deserialize)]
struct SeededRecord {
    vault: String,
    repository_id: String,
    #[serde(flatten)]
    report: seedship_api::Seeded,
}

/// The agent's identity from `agent.toml`.
struct AgentIdentity {
    credentials: Credentials,
    account: String,
    vault: String,
    /// `rest:` repository of the vault with the agent's credentials (shown redacted).
    repository: String,
}

impl AgentIdentity {
    fn load(config_dir: &Path) -> anyhow::Result<Self> {
        let path = config_dir.join("agent.toml");
        let credentials = Credentials::load(&path)?;
        let Credentials::Agent {
            account,
            vault,
            url,
            id,
            secret,
            ..
        } = &credentials
        else {
            anyhow::bail!(
                "{} holds {} credentials, not an agent's",
                path.display(),
                credentials.kind()
            );
        };
        let (scheme, rest) = url
            .split_once("://")
            .with_context(|| format!("vault URL {url} in {}", path.display()))?;
        Ok(Self {
            account: account.clone(),
            vault: vault.clone(),
            repository: format!("rest:{scheme}://{id}:{secret}@{rest}"),
            credentials,
        })
    }
}

/// What the owner has to do for an import job in `state` (`None`: not on the server) to go
/// on; `None` while it is the carrier's or the data centre's turn. A Closed job can still
/// complete: a repair sends what its error logs name.
fn next_step(state: Option<JobState>, job: &str, dir: &JobDir, staging: &Path) -> Option<String> {
    match state {
        None => Some(format!(
            "prepare the drives and create the job: seedship diskprep --staging {}",
            staging.display()
        )),
        Some(JobState::Creating) => Some(format!(
            "ship the drives and record it: seedship diskprep --staging {} --ship",
            staging.display()
        )),
        Some(JobState::Closed) => Some(format!(
            "the import ended with drive problems: `seedship job logs {job}` names them; \
             `seedship drive repair --credentials <FILE> --job {job} --journal {} --srcdir {}` \
             re-sends them, for each drive with problems",
            dir.journals_dir().join("drive-<n>.jrn").display(),
            dir.repository().display()
        )),
        Some(_) => None,
    }
}

/// One policy backup (`seedship backup` without paths).
pub fn backup(ctx: &Context, run: &PolicyRun) -> anyhow::Result<()> {
    let (config_dir, policy, _) = Policy::load(run.config_dir.clone())?;
    let stored = Excludes::new(policy.excludes.clone())
        .with_context(|| format!("the policy in {}", config_dir.display()))?;
    let run = &PolicyRun {
        access: run.access,
        options: BackupOptions {
            excludes: stored.and(&run.options.excludes),
            ..run.options.clone()
        },
        config_dir: run.config_dir.clone(),
    };
    let agent = AgentIdentity::load(&config_dir)?;
    let sources = Sources::new(&policy.paths)?;
    let Some(offline) = &policy.offline else {
        return to_vault(ctx, run, &agent, &sources);
    };
    let dir = JobDir::new(&offline.staging, &offline.job);
    if dir.seeded_file().exists() {
        return to_vault(ctx, run, &agent, &sources);
    }
    let Some(staged) = StagedJob::load(&dir)? else {
        return stage(ctx, run, &agent, offline, &policy.paths, &dir, &sources);
    };
    let client = Client::new(&agent.credentials)?;
    let state = match client.job(&staged.account, &staged.job) {
        Ok(detail) => Some(detail.summary.state),
        Err(ClientError::Api { status: 404, .. }) => None,
        Err(err) => {
            return Err(err).with_context(|| format!("asking the server about import job {}", staged.job));
        }
    };
    if state == Some(JobState::Cancelled) {
        return Err(exit::Coded {
            code: exit::IMPORT_CANCELLED,
            message: format!(
                "import job {} was cancelled: its drives will not seed the vault; the staged \
                 backup in {} stays as it is. Give the policy a new job \
                 (`seedship policy set ... --offline --job <NEW> --abandon-offline-backup`) \
                 to stage and ship again.",
                staged.job,
                dir.path().display()
            ),
        }
        .into());
    }
    if state != Some(JobState::Completed) {
        let shown = state.map_or_else(|| "not created".to_owned(), |s| format!("{s:?}"));
        let line = format!("waiting for import job {} ({shown})", staged.job);
        let next = next_step(state, &staged.job, &dir, &offline.staging);
        let doc = serde_json::json!({
            "message_type": "waiting", "job": staged.job, "state": state,
            "staging": dir.path().display().to_string(), "next": next,
        });
        output::emit(ctx.json, &doc, || line.clone())?;
        if let (Some(next), false) = (&next, ctx.json) {
            eprintln!("next: {next}");
        }
        return Err(exit::Reported {
            code: exit::WAITING_FOR_IMPORT,
            what: line,
        }
        .into());
    }
    seed(ctx, run, &agent, &staged, &dir)?;
    to_vault(ctx, run, &agent, &sources)
}

/// The first backup of an offline policy, into `<staging>/<job>/repository`.
fn stage(
    ctx: &Context,
    run: &PolicyRun,
    agent: &AgentIdentity,
    offline: &Offline,
    paths: &[PathBuf],
    dir: &JobDir,
    sources: &Sources,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.path())
        .with_context(|| format!("creating staging directory {}", dir.path().display()))?;
    let location = dir.repository().display().to_string();
    let (repository_id, snapshot_id) =
        run_backup(ctx, &run.access.config(ctx, location)?, sources, &run.options)?;
    let staged = StagedJob {
        job: offline.job.clone(),
        account: agent.account.clone(),
        storage_account: offline.storage_account.clone(),
        container: offline.container.clone(),
        prefix: offline.job.clone(),
        repository_id,
        snapshot_id,
        paths: paths.to_vec(),
    };
    durable::write(&dir.staged_file(), toml::to_string(&staged)?.as_bytes())?;
    let doc = serde_json::json!({
        "message_type": "staged", "job": staged.job, "staging": offline.staging.display().to_string(),
        "job_dir": dir.path().display().to_string(),
    });
    output::emit(ctx.json, &doc, || {
        format!(
            "initial backup staged in {} for import job {}; next: seedship diskprep --staging {}",
            dir.path().display(),
            staged.job,
            offline.staging.display()
        )
    })
}

/// Has the server seed `vault` from the repository at `prefix` of `storage`/`container`,
/// showing the seed's progress (bytes verified and copied) while it runs.
pub(super) fn seed_vault(
    ctx: &Context,
    client: &Client,
    vault: &str,
    storage: &str,
    container: &str,
    prefix: &str,
) -> Result<Seeded, ClientError> {
    let task = ctx
        .progress
        .task(&format!("seeding vault {vault}"), Unit::Bytes, None);
    task.set_message("listing the imported repository");
    let seeded = client.seed_vault(vault, storage, container, prefix, &mut |running| {
        // Until the listing found something, a total of 0 B would read as "nothing to do".
        if running.bytes > 0 {
            task.set_message("");
            task.set_total(running.bytes);
            task.set_position(running.bytes_done);
        }
    });
    task.finish();
    seeded
}

/// Asks the server to adopt the imported repository into the vault, checks the vault is the
/// staged repository and records it in `seeded.toml`.
fn seed(
    ctx: &Context,
    run: &PolicyRun,
    agent: &AgentIdentity,
    staged: &StagedJob,
    dir: &JobDir,
) -> anyhow::Result<()> {
    let client = Client::new(&agent.credentials)?;
    let report = seed_vault(
        ctx,
        &client,
        &agent.vault,
        &staged.storage_account,
        &staged.container,
        &staged.prefix,
    )
    .with_context(|| {
        format!(
            "seeding vault {} from container {}/{} (folder {})",
            agent.vault, staged.storage_account, staged.container, staged.prefix
        )
    })?;
    let vault = Repo::open(
        &run.access.config(ctx, agent.repository.clone())?,
        ctx.progress.clone(),
    )?;
    anyhow::ensure!(
        vault.id() == staged.repository_id,
        "vault {} holds repository {}, not the staged repository {} of import job {}",
        agent.vault,
        vault.id(),
        staged.repository_id,
        staged.job
    );
    let record = SeededRecord {
        vault: agent.vault.clone(),
        repository_id: staged.repository_id.clone(),
        report,
    };
    durable::write(&dir.seeded_file(), toml::to_string(&record)?.as_bytes())?;
    let doc = serde_json::json!({ "message_type": "seeded", "job": staged.job, "seeded": record });
    output::emit(ctx.json, &doc, || {
        format!(
            "vault {} seeded from import job {}: {} objects ({} copied, {} already there), {} snapshot(s)",
            record.vault,
            staged.job,
            record.report.objects,
            record.report.copied,
            record.report.skipped,
            record.report.snapshots
        )
    })
}

/// A backup over the network into the agent's vault.
fn to_vault(ctx: &Context, run: &PolicyRun, agent: &AgentIdentity, sources: &Sources) -> anyhow::Result<()> {
    run_backup(
        ctx,
        &run.access.config(ctx, agent.repository.clone())?,
        sources,
        &run.options,
    )
    .map(drop)
}

/// `seedship agent run`: a policy backup at every time of the policy's schedule (or one now
/// with `once`). A failed or waiting run is reported and the schedule goes on.
pub fn run_schedule(ctx: &Context, run: &PolicyRun, once: bool) -> anyhow::Result<()> {
    if once {
        return backup(ctx, run);
    }
    let (_, policy, _) = Policy::load(run.config_dir.clone())?;
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
        if let Err(err) = backup(ctx, run) {
            // Reported like a command's error; the next run may succeed (server back, job done).
            let _ = exit::report(&err, ctx.json);
        }
    }
}
