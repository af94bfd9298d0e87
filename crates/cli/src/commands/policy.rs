//! `seedship policy set|show`: the agent's backup policy, kept beside `agent.toml` as
//! `policy.toml`. An offline policy sends the first backup to a staging directory that is
//! shipped on drives (import job `<NAME>`) and seeds the vault.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

use crate::{Context, durable, output};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Store the backup policy of this agent (checked at once: job name, staging room).
    Set(SetArgs),
    /// Print the stored policy.
    Show {
        /// Agent configuration directory (default as `seedship agent register`).
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Files or directories to back up.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// First backup offline: to `--staging`, shipped on drives, imported, seeded into the vault.
    #[arg(long, requires_all = ["staging", "job", "storage_account", "container"])]
    offline: bool,
    /// Staging directory for the initial backup (a repository that becomes the vault's).
    #[arg(long, value_name = "DIR")]
    staging: Option<PathBuf>,
    /// Import job name (validated at once with the import service's rules).
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Storage account of the import container.
    #[arg(long, value_name = "ACCOUNT")]
    storage_account: Option<String>,
    /// Container the drives are imported into.
    #[arg(long, value_name = "CONTAINER")]
    container: Option<String>,
    /// Schedule of `seedship agent run`: a cron expression (`min hour day month weekday`, or
    /// `sec min hour day month weekday`).
    #[arg(long, value_name = "CRON")]
    schedule: Option<String>,
    /// Agent configuration directory (default as `seedship agent register`).
    #[arg(long, value_name = "DIR")]
    config_dir: Option<PathBuf>,
}

/// The stored policy (`policy.toml`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Policy {
    pub paths: Vec<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline: Option<Offline>,
}

/// The offline part of a policy.
#[derive(Debug, Serialize, Deserialize)]
pub struct Offline {
    pub staging: PathBuf,
    pub job: String,
    pub storage_account: String,
    pub container: String,
}

impl PolicyCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            PolicyCommand::Set(args) => set(ctx, args),
            PolicyCommand::Show { config_dir } => {
                let (_, policy, text) = Policy::load(config_dir)?;
                output::emit(ctx.json, &policy, || text.trim_end().to_owned())
            }
        }
    }
}

impl Policy {
    /// The policy in the agent configuration directory (default as `seedship agent register`):
    /// the directory, the policy and its text.
    pub fn load(config_dir: Option<PathBuf>) -> anyhow::Result<(PathBuf, Policy, String)> {
        let dir = agent_dir(config_dir)?;
        let path = dir.join(POLICY_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading policy {}: set one with `seedship policy set`",
                path.display()
            )
        })?;
        let policy = toml::from_str(&text).with_context(|| format!("parsing policy {}", path.display()))?;
        Ok((dir, policy, text))
    }
}

/// The policy's file name in the agent configuration directory.
const POLICY_FILE: &str = "policy.toml";

/// The agent configuration directory (default as `seedship agent register`), which must hold
/// a registered agent's `agent.toml`.
pub fn agent_dir(config_dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match config_dir {
        Some(dir) => dir,
        None => super::cloud::default_config_dir()?,
    };
    let agent = dir.join("agent.toml");
    anyhow::ensure!(
        agent.exists(),
        "no agent configuration at {}: run `seedship agent register` first",
        agent.display()
    );
    Ok(dir)
}

/// Total size of the regular files under `path` (the estimate of the initial backup: restic's
/// compression only shrinks it, so this never underestimates).
fn tree_size(path: &Path) -> anyhow::Result<u64> {
    let meta = std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(if meta.is_file() { meta.len() } else { 0 });
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        total += tree_size(
            &entry
                .with_context(|| format!("listing {}", path.display()))?
                .path(),
        )?;
    }
    Ok(total)
}

fn set(ctx: &Context, args: SetArgs) -> anyhow::Result<()> {
    let path = agent_dir(args.config_dir)?.join(POLICY_FILE);
    let offline = match (
        args.offline,
        args.staging,
        args.job,
        args.storage_account,
        args.container,
    ) {
        (true, Some(staging), Some(job), Some(storage_account), Some(container)) => {
            seedship_jobs::JobName::parse(&job).with_context(|| format!("import job name {job:?}"))?;
            std::fs::create_dir_all(&staging)
                .with_context(|| format!("creating staging directory {}", staging.display()))?;
            let mut estimate = 0;
            for source in &args.paths {
                estimate += tree_size(source)?;
            }
            let stat = rustix::fs::statvfs(&staging)
                .with_context(|| format!("free space of staging directory {}", staging.display()))?;
            let free = stat.f_bavail.saturating_mul(stat.f_frsize);
            anyhow::ensure!(
                free >= estimate,
                "staging directory {} has {free} bytes free; the initial backup needs up to {estimate}",
                staging.display()
            );
            Some(Offline {
                staging: std::path::absolute(&staging)
                    .with_context(|| format!("staging directory {}", staging.display()))?,
                job,
                storage_account,
                container,
            })
        }
        (false, None, None, None, None) => None,
        _ => anyhow::bail!("--staging, --job, --storage-account and --container go with --offline"),
    };
    let paths = args
        .paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("path {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(schedule) = &args.schedule {
        schedule
            .parse::<croner::Cron>()
            .with_context(|| format!("--schedule {schedule:?} is not a cron expression"))?;
    }
    let policy = Policy {
        paths,
        schedule: args.schedule,
        offline,
    };
    let text = toml::to_string(&policy).context("encoding the policy")?;
    durable::write(&path, text.as_bytes())?;
    output::emit(ctx.json, &policy, || {
        format!("policy written to {}", path.display())
    })
}
