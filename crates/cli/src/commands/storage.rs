//! `seedship storage` and `seedship container`: storage accounts and their containers.

use anyhow::Context as _;
use clap::Subcommand;

use crate::args::AccountCredentialsArg;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Create a storage account.
    Create {
        /// Storage account name.
        name: String,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// List storage accounts.
    List {
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// Delete a storage account that has no containers.
    Delete {
        /// Storage account name.
        name: String,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// Show the account's storage quota and the bytes it stores (vaults, containers,
    /// held-back files).
    Usage {
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create a container in a storage account.
    Create {
        /// Container name.
        name: String,
        /// The storage account.
        #[arg(long)]
        storage_account: String,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// List the containers of a storage account.
    List {
        /// The storage account.
        #[arg(long)]
        storage_account: String,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// Delete a container that holds no blobs and that no job which has not ended imports into.
    Delete {
        /// Container name.
        name: String,
        /// The storage account.
        #[arg(long)]
        storage_account: String,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
}

impl StorageCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            StorageCommand::Create { name, credentials } => {
                credentials
                    .client()?
                    .create_storage_account(&name)
                    .with_context(|| format!("creating storage account {name}"))?;
                output::emit(ctx.json, &serde_json::json!({"storage_account": name}), || {
                    format!("created storage account {name}")
                })
            }
            StorageCommand::List { credentials } => {
                let listed = credentials
                    .client()?
                    .storage_accounts()
                    .context("listing storage accounts")?;
                output::emit(ctx.json, &listed, || listed.names.join("\n"))
            }
            StorageCommand::Usage { credentials } => {
                let (client, account) = crate::shared::connect(&credentials.credentials)?;
                let account = account.context("storage usage needs account credentials")?;
                let usage = client
                    .account_quota(&account)
                    .with_context(|| format!("reading the quota of account {account}"))?;
                output::emit(ctx.json, &usage, || output::usage_line(&usage))
            }
            StorageCommand::Delete { name, credentials } => {
                credentials
                    .client()?
                    .delete_storage_account(&name)
                    .with_context(|| format!("deleting storage account {name}"))?;
                output::emit(
                    ctx.json,
                    &serde_json::json!({"deleted": {"storage_account": name}}),
                    || format!("deleted storage account {name}"),
                )
            }
        }
    }
}

impl ContainerCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            ContainerCommand::Create {
                name,
                storage_account,
                credentials,
            } => {
                credentials
                    .client()?
                    .create_container(&storage_account, &name)
                    .with_context(|| {
                        format!("creating container {name} in storage account {storage_account}")
                    })?;
                let doc = serde_json::json!({"storage_account": storage_account, "container": name});
                output::emit(ctx.json, &doc, || {
                    format!("created container {name} in storage account {storage_account}")
                })
            }
            ContainerCommand::List {
                storage_account,
                credentials,
            } => {
                let listed = credentials
                    .client()?
                    .containers(&storage_account)
                    .with_context(|| format!("listing containers of storage account {storage_account}"))?;
                output::emit(ctx.json, &listed, || listed.names.join("\n"))
            }
            ContainerCommand::Delete {
                name,
                storage_account,
                credentials,
            } => {
                credentials
                    .client()?
                    .delete_container(&storage_account, &name)
                    .with_context(|| {
                        format!("deleting container {name} of storage account {storage_account}")
                    })?;
                let doc =
                    serde_json::json!({"deleted": {"storage_account": storage_account, "container": name}});
                output::emit(ctx.json, &doc, || {
                    format!("deleted container {name} of storage account {storage_account}")
                })
            }
        }
    }
}
