//! `seedship policy set|show`: the agent's backup policy, kept beside `agent.toml` as
//! `policy.toml`. An offline policy sends the first backup to a staging directory that is
//! shipped on drives (import job `<NAME>`) and seeds the vault.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use seedship_api::{Client, Credentials};
use serde::{Deserialize, Serialize};

use super::offline::JobDir;
use crate::{Context, durable, exit, output};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Store the backup policy of this agent (checked at once: job name, staging room); settings
    /// not given are kept from the stored policy.
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
    /// Drop the stored offline settings: every backup goes over the network to the vault.
    #[arg(long, conflicts_with = "offline")]
    no_offline: bool,
    /// Allow a change of the offline settings that abandons an initial backup already staged
    /// or shipped (it stays where it is, but will not seed the vault).
    #[arg(long)]
    abandon_offline_backup: bool,
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
    #[command(flatten)]
    excludes: super::agent::ExcludeArgs,
    /// Drop the stored exclude patterns (--exclude and --exclude-file replace them; an exclude
    /// file is read now and its patterns stored).
    #[arg(long, conflicts_with_all = ["exclude", "exclude_file"])]
    no_exclude: bool,
}

/// The stored policy (`policy.toml`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Policy {
    pub paths: Vec<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// restic exclude patterns every backup of the policy applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline: Option<Offline>,
}

/// The offline part of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        let (policy, text) = Policy::read(&path)?.with_context(|| {
            format!(
                "no policy at {}: set one with `seedship policy set`",
                path.display()
            )
        })?;
        Ok((dir, policy, text))
    }

    /// The policy stored at `path` and its text, `None` if there is none.
    fn read(path: &Path) -> anyhow::Result<Option<(Policy, String)>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("reading policy {}", path.display())),
        };
        let policy = toml::from_str(&text).with_context(|| format!("parsing policy {}", path.display()))?;
        Ok(Some((policy, text)))
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

/// An initial backup of `offline` that is staged (or shipped) but has not seeded the vault
/// yet, described for the owner; `None` when there is nothing to lose.
fn pending_backup(offline: &Offline) -> Option<String> {
    let dir = JobDir::new(&offline.staging, &offline.job);
    if !dir.staged_file().exists() || dir.seeded_file().exists() {
        return None;
    }
    let progress = if dir.shipping_file().exists() {
        ", its drives shipped"
    } else if !dir.journals().is_empty() {
        ", its drives prepared"
    } else {
        ""
    };
    Some(format!(
        "the initial backup staged in {} for import job {} (container {}/{}{progress})",
        dir.path().display(),
        offline.job,
        offline.storage_account,
        offline.container
    ))
}

/// The offline settings given on the command line (validated, nothing created yet).
fn offline_args(args: &SetArgs) -> anyhow::Result<Option<Offline>> {
    match (
        args.offline,
        &args.staging,
        &args.job,
        &args.storage_account,
        &args.container,
    ) {
        (true, Some(staging), Some(job), Some(storage_account), Some(container)) => {
            seedship_jobs::JobName::parse(job).with_context(|| format!("import job name {job:?}"))?;
            Ok(Some(Offline {
                staging: std::path::absolute(staging)
                    .with_context(|| format!("staging directory {}", staging.display()))?,
                job: job.clone(),
                storage_account: storage_account.clone(),
                container: container.clone(),
            }))
        }
        (false, None, None, None, None) => Ok(None),
        _ => anyhow::bail!("--staging, --job, --storage-account and --container go with --offline"),
    }
}

/// Asks the server (with the agent's credentials) whether the import container exists:
/// drives shipped to one that does not would only fail at the data centre.
fn check_destination(config_dir: &Path, offline: &Offline) -> anyhow::Result<()> {
    let credentials = Credentials::load(&config_dir.join("agent.toml"))?;
    let client = Client::new(&credentials)?;
    let storage = &offline.storage_account;
    let containers = client
        .containers(storage)
        .with_context(|| format!("checking the import destination: storage account {storage}"))?;
    anyhow::ensure!(
        containers.names.contains(&offline.container),
        "import container {storage}/{} does not exist: create it \
         (`seedship container create {} --storage-account {storage}`) first",
        offline.container,
        offline.container
    );
    Ok(())
}

/// Checks the staging directory has room for the initial backup of `paths` and creates it,
/// unless that backup is staged already (then it takes the room it needs). A refused check
/// creates nothing.
fn prepare_staging(offline: &Offline, paths: &[PathBuf]) -> anyhow::Result<()> {
    if JobDir::new(&offline.staging, &offline.job).staged_file().exists() {
        return Ok(());
    }
    let staging = &offline.staging;
    let mut estimate = 0;
    for source in paths {
        estimate += tree_size(source)?;
    }
    // The file system it will be on: the nearest part of the path that exists.
    let existing = staging
        .ancestors()
        .find(|dir| dir.exists())
        .unwrap_or_else(|| Path::new("/"));
    let stat = rustix::fs::statvfs(existing)
        .with_context(|| format!("free space for staging directory {}", staging.display()))?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    anyhow::ensure!(
        free >= estimate,
        "staging directory {} has {free} bytes free; the initial backup needs up to {estimate}",
        staging.display()
    );
    std::fs::create_dir_all(staging)
        .with_context(|| format!("creating staging directory {}", staging.display()))
}

/// Stores the policy: the given paths, and the schedule and offline settings given, the
/// stored ones kept where none are given (`--no-offline` drops them). A change that would
/// abandon a staged or shipped initial backup needs `--abandon-offline-backup`.
fn set(ctx: &Context, args: SetArgs) -> anyhow::Result<()> {
    let config_dir = agent_dir(args.config_dir.clone())?;
    let path = config_dir.join(POLICY_FILE);
    let stored = Policy::read(&path)?.map(|(policy, _)| policy);
    let given = offline_args(&args)?;
    let stored_offline = stored.as_ref().and_then(|policy| policy.offline.clone());
    let offline = if args.offline || args.no_offline {
        given
    } else {
        stored_offline.clone()
    };
    let paths = args
        .paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("path {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let given_excludes = args.excludes.given()?;
    if let Some(schedule) = &args.schedule {
        schedule
            .parse::<croner::Cron>()
            .with_context(|| format!("--schedule {schedule:?} is not a cron expression"))?;
    }
    let abandoned = stored_offline
        .as_ref()
        .filter(|old| offline.as_ref() != Some(*old))
        .and_then(pending_backup);
    if let Some(abandoned) = &abandoned
        && !args.abandon_offline_backup
    {
        return Err(exit::usage(format!(
            "this change of the offline settings abandons {abandoned}: it would never seed the \
             vault; nothing changed. To go on regardless, pass --abandon-offline-backup"
        )));
    }
    if let (true, Some(offline)) = (args.offline, &offline) {
        check_destination(&config_dir, offline)?;
        prepare_staging(offline, &paths)?;
    }
    let policy = Policy {
        paths,
        excludes: match (given_excludes, args.no_exclude) {
            (Some(excludes), _) => excludes.patterns().to_vec(),
            (None, true) => Vec::new(),
            (None, false) => stored
                .as_ref()
                .map(|policy| policy.excludes.clone())
                .unwrap_or_default(),
        },
        schedule: args
            .schedule
            .or_else(|| stored.and_then(|policy| policy.schedule)),
        offline,
    };
    let text = toml::to_string(&policy).context("encoding the policy")?;
    durable::write(&path, text.as_bytes())?;
    if let Some(abandoned) = &abandoned {
        eprintln!("abandoned {abandoned}; it stays on disk, but will not seed the vault");
    }
    output::emit(ctx.json, &policy, || {
        format!("policy written to {}", path.display())
    })
}
