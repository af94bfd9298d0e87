//! `seedship vault`: the vaults of an account (restic REST repositories) and their seeding
//! from an import.

use anyhow::Context as _;
use clap::Subcommand;
use seedship_api::{Client, Credentials};

use crate::args::AccountCredentialsArg;
use crate::issue::{Destination, OutArg};
use crate::{Context, output, shared};

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Create a vault and print its registration credentials (for `seedship agent register`).
    Create {
        /// Vault name.
        name: String,
        /// Refuse deletion of anything but locks (no forget/prune through the vault).
        #[arg(long)]
        append_only: bool,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
        #[command(flatten)]
        out: OutArg,
    },
    /// List vaults and their URLs.
    List {
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// Delete a vault whose repository holds no snapshots and no packs (forget and prune them
    /// first), with its registration and its agents, which are refused from then on.
    Delete {
        /// Vault name.
        name: String,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// Adopt a restic repository imported into a container as the vault's repository
    /// (server-side copy; resumable; refused if the vault holds another repository).
    Seed {
        /// Vault name.
        name: String,
        /// Storage account of the container.
        #[arg(long)]
        storage_account: String,
        /// Container the repository was imported into.
        #[arg(long)]
        container: String,
        /// Folder of the repository inside the container (default: its root).
        #[arg(long, default_value = "")]
        prefix: String,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
}

impl VaultCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            VaultCommand::Create {
                name,
                append_only,
                credentials,
                out,
            } => {
                let account_credentials = shared::load_credentials(&credentials.credentials, "account")?;
                let destination = Destination::of(ctx, &out)?;
                let (created, secret) = Client::new(&account_credentials)?
                    .create_vault(&name, append_only)
                    .with_context(|| format!("creating vault {name}"))?;
                let (server, _, _) = account_credentials.principal();
                let registration = Credentials::VaultRegistration {
                    server: server.to_owned(),
                    account: created.account,
                    vault: created.name,
                    url: created.url,
                    id: secret.id,
                    secret: secret.secret,
                };
                destination.deliver(ctx, &registration)
            }
            VaultCommand::List { credentials } => {
                let vaults = credentials.client()?.vaults().context("listing vaults")?;
                let doc: Vec<_> = vaults
                    .iter()
                    .map(|v| serde_json::json!({"name": v.name, "url": v.url, "append_only": v.append_only}))
                    .collect();
                output::emit(ctx.json, &doc, || {
                    vaults
                        .iter()
                        .map(|v| {
                            format!(
                                "{}\t{}{}",
                                v.name,
                                v.url,
                                if v.append_only { "\t(append-only)" } else { "" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }
            VaultCommand::Delete { name, credentials } => {
                credentials
                    .client()?
                    .delete_vault(&name)
                    .with_context(|| format!("deleting vault {name}"))?;
                output::emit(ctx.json, &serde_json::json!({"deleted": {"vault": name}}), || {
                    format!("deleted vault {name}; its agents are refused from now on")
                })
            }
            VaultCommand::Seed {
                name,
                storage_account,
                container,
                prefix,
                credentials,
            } => {
                let client = credentials.client()?;
                let request = seedship_api::SeedRequest {
                    storage_account: storage_account.clone(),
                    container: container.clone(),
                    prefix,
                    repository_id: None,
                };
                let seeded = seedship_agent::seed_vault(&client, ctx.progress.as_ref(), &name, &request)
                    .with_context(|| {
                        format!("seeding vault {name} from container {storage_account}/{container}")
                    })?;
                output::emit(ctx.json, &seeded, || {
                    format!(
                        "vault {name} seeded: {} objects ({} bytes), {} copied, {} already there, {} snapshots",
                        seeded.objects, seeded.bytes, seeded.copied, seeded.skipped, seeded.snapshots
                    )
                })
            }
        }
    }
}
