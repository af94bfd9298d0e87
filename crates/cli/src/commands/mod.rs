//! One module per command family; each owns its clap structs and converts them into the
//! options of a library crate before doing any I/O.

mod admin;
mod agent;
mod completions;
mod diskprep;
mod drive;
mod exit_codes;
mod export;
mod import;
mod job;
mod job_export;
mod keygen;
mod plan;
mod policy;
mod repo;
mod server;
mod staging;
mod storage;
mod vault;
mod webhook;

use crate::Context;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Repo(repo::RepoCommand),
    /// Print the table of exit codes this binary uses.
    ExitCodes,
    /// Print a shell completion script (`seedship completions bash > /etc/bash_completion.d/seedship`).
    Completions(completions::CompletionsArgs),
    /// The seeding advisor: what a backup of PATHs would store, online against offline
    /// seeding times, drives and staging space needed; writes nothing.
    Plan(plan::PlanArgs),
    /// Drive preparation: copy a source tree onto drives for shipping (WAImportExport PrepImport).
    Drive {
        #[command(subcommand)]
        cmd: drive::DriveCmd,
    },
    /// Prepare drives from an offline backup's staging location, create its import job, record
    /// its shipment and show it (AzureOfflineBackupDiskPrep).
    Diskprep(Box<diskprep::DiskprepArgs>),
    /// Write an X25519 key pair for the import service (PREFIX.key, PREFIX.pub).
    Keygen(keygen::KeygenArgs),
    /// Run the seedship server (vaults over restic's REST protocol, accounts, storage).
    Server(server::ServerArgs),
    /// Administration: accounts and operators (needs the admin credentials).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Storage accounts of your account.
    #[command(subcommand)]
    Storage(storage::StorageCommand),
    /// Containers of a storage account.
    #[command(subcommand)]
    Container(storage::ContainerCommand),
    /// Vaults of your account (restic REST repositories).
    #[command(subcommand)]
    Vault(vault::VaultCommand),
    /// This machine's agent identity.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// The agent's backup policy (offline first backup through drives).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// The offline policy's staging location (clean it once the vault is seeded).
    #[command(subcommand)]
    Staging(staging::StagingCommand),
    /// Webhooks of your account: signed event notifications and their deliveries.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Import/export jobs on the server (account owner or operator credentials).
    Job {
        #[command(subcommand)]
        cmd: job::JobCmd,
    },
    /// The data centre's side of import jobs (operator credentials).
    Import {
        #[command(subcommand)]
        cmd: import::ImportCmd,
    },
    /// The data centre's side of export jobs (operator credentials).
    Export {
        #[command(subcommand)]
        cmd: export::ExportCmd,
    },
}

impl Command {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            Command::Repo(command) => command.run(ctx),
            Command::ExitCodes => exit_codes::run(ctx),
            Command::Completions(args) => completions::run(args),
            Command::Plan(args) => plan::run(args, ctx),
            Command::Drive { cmd } => cmd.run(ctx),
            Command::Diskprep(args) => diskprep::run(*args, ctx),
            Command::Keygen(args) => keygen::run(args, ctx),
            Command::Server(args) => server::run(ctx, args),
            Command::Admin(command) => command.run(ctx),
            Command::Storage(command) => command.run(ctx),
            Command::Container(command) => command.run(ctx),
            Command::Vault(command) => command.run(ctx),
            Command::Agent(command) => command.run(ctx),
            Command::Policy(command) => command.run(ctx),
            Command::Staging(command) => command.run(ctx),
            Command::Webhook(command) => command.run(ctx),
            Command::Job { cmd } => cmd.run(ctx),
            Command::Import { cmd } => cmd.run(ctx),
            Command::Export { cmd } => cmd.run(ctx),
        }
    }
}
