//! `seedship policy set|show`: the agent's backup policy, kept beside `agent.toml` as
//! `policy.toml`. An offline policy sends the first backup to a staging directory that is
//! shipped on drives (import job `<NAME>`) and seeds the vault.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use seedship_agent::{Change, Offline, PolicyChange};

use crate::args::ExcludeArgs;
use crate::{Context, output, shared};

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
    /// Back up nothing while the import job is not Completed (Azure's behaviour: exit 22);
    /// without it each run backs up into the staged repository and the vault catches up after
    /// seeding.
    #[arg(long, conflicts_with = "no_wait_for_import")]
    wait_for_import: bool,
    /// Back up into the staged repository while the import job is not Completed (the default).
    #[arg(long)]
    no_wait_for_import: bool,
    /// Schedule of `seedship agent run`: a cron expression (`min hour day month weekday`, or
    /// `sec min hour day month weekday`).
    #[arg(long, value_name = "CRON")]
    schedule: Option<String>,
    /// Agent configuration directory (default as `seedship agent register`).
    #[arg(long, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    #[command(flatten)]
    excludes: ExcludeArgs,
    /// Drop the stored exclude patterns (--exclude and --exclude-file replace them; an exclude
    /// file is read now and its patterns stored).
    #[arg(long, conflicts_with_all = ["exclude", "exclude_file"])]
    no_exclude: bool,
}

impl PolicyCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            PolicyCommand::Set(args) => set(ctx, args),
            PolicyCommand::Show { config_dir } => {
                let (policy, text) = shared::agent_dir(config_dir)?.policy()?;
                output::emit(ctx.json, &policy, || text.trim_end().to_owned())
            }
        }
    }
}

/// The offline settings given on the command line (validated, nothing created yet).
fn offline_args(args: &SetArgs) -> anyhow::Result<Change<Offline>> {
    match (
        args.offline,
        &args.staging,
        &args.job,
        &args.storage_account,
        &args.container,
    ) {
        (true, Some(staging), Some(job), Some(storage_account), Some(container)) => Ok(Change::Set(
            Offline::new(staging, job, storage_account, container)?,
        )),
        (false, None, None, None, None) if args.no_offline => Ok(Change::Drop),
        (false, None, None, None, None) => Ok(Change::Keep),
        _ => anyhow::bail!("--staging, --job, --storage-account and --container go with --offline"),
    }
}

/// Stores the policy: the given paths, and the schedule and offline settings given, the
/// stored ones kept where none are given (`--no-offline` drops them). A change that would
/// abandon a staged or shipped initial backup needs `--abandon-offline-backup`.
fn set(ctx: &Context, args: SetArgs) -> anyhow::Result<()> {
    let dir = shared::agent_dir(args.config_dir.clone())?;
    let offline = offline_args(&args)?;
    let paths = args
        .paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("path {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let excludes = match (args.excludes.given()?, args.no_exclude) {
        (Some(excludes), _) => Change::Set(excludes.patterns().to_vec()),
        (None, true) => Change::Drop,
        (None, false) => Change::Keep,
    };
    let change = PolicyChange {
        paths,
        schedule: args.schedule,
        excludes,
        offline,
        wait_for_import: match (args.wait_for_import, args.no_wait_for_import) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        abandon_offline_backup: args.abandon_offline_backup,
    };
    let set = seedship_agent::set_policy(&dir, &change)?;
    if let Some(abandoned) = &set.abandoned {
        eprintln!("abandoned {abandoned}; it stays on disk, but will not seed the vault");
    }
    output::emit(ctx.json, &set.policy, || {
        format!("policy written to {}", set.path.display())
    })
}
