//! `seedship admin`: accounts and operators (admin credentials).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use seedship_api::{Client, Credentials};

use crate::issue::{Destination, OutArg};
use crate::{Context, shared};

#[derive(Debug, Args)]
pub struct AdminCredentialsArg {
    /// Admin credentials file (written by the server at first start to <data-dir>/admin-credentials).
    #[arg(long, env = "SEEDSHIP_ADMIN_CREDENTIALS")]
    admin_credentials: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Accounts (tenants).
    #[command(subcommand)]
    Account(AdminAccountCommand),
    /// Operators (data-centre staff).
    #[command(subcommand)]
    Operator(AdminOperatorCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminAccountCommand {
    /// Create an account and write (or print) its credentials file.
    Create {
        /// Account name (lowercase letters, digits, '-', '_'; starts with a letter).
        name: String,
        #[command(flatten)]
        admin: AdminCredentialsArg,
        #[command(flatten)]
        out: OutArg,
    },
    /// Give an account a new secret (the old one stops working at once) and write (or print)
    /// its new credentials file: how an owner who lost the secret gets access back.
    RotateSecret {
        /// Account name.
        name: String,
        #[command(flatten)]
        admin: AdminCredentialsArg,
        #[command(flatten)]
        out: OutArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminOperatorCommand {
    /// Create an operator and write (or print) its credentials file.
    Create {
        /// Operator name (unique; lowercase letters, digits, '-', '_'; starts with a letter).
        name: String,
        #[command(flatten)]
        admin: AdminCredentialsArg,
        #[command(flatten)]
        out: OutArg,
    },
    /// Give an operator a new secret (the old one stops working at once) and write (or print)
    /// its new credentials file.
    RotateSecret {
        /// Operator name.
        name: String,
        #[command(flatten)]
        admin: AdminCredentialsArg,
        #[command(flatten)]
        out: OutArg,
    },
}

impl AdminCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            AdminCommand::Account(command) => {
                let (name, admin, out, rotate) = match command {
                    AdminAccountCommand::Create { name, admin, out } => (name, admin, out, false),
                    AdminAccountCommand::RotateSecret { name, admin, out } => (name, admin, out, true),
                };
                let admin_credentials = shared::load_credentials(&admin.admin_credentials, "admin")?;
                let destination = Destination::of(ctx, &out)?;
                let client = Client::new(&admin_credentials)?;
                let issued = if rotate {
                    client
                        .rotate_account_secret(&name)
                        .with_context(|| format!("rotating the secret of account {name}"))?
                } else {
                    client
                        .create_account(&name)
                        .with_context(|| format!("creating account {name}"))?
                };
                let (server, _, _) = admin_credentials.principal();
                let credentials = Credentials::Account {
                    server: server.to_owned(),
                    account: issued.name,
                    id: issued.id,
                    secret: issued.secret,
                };
                destination.deliver(ctx, &credentials)
            }
            AdminCommand::Operator(command) => {
                let (name, admin, out, rotate) = match command {
                    AdminOperatorCommand::Create { name, admin, out } => (name, admin, out, false),
                    AdminOperatorCommand::RotateSecret { name, admin, out } => (name, admin, out, true),
                };
                let admin_credentials = shared::load_credentials(&admin.admin_credentials, "admin")?;
                let destination = Destination::of(ctx, &out)?;
                let client = Client::new(&admin_credentials)?;
                let issued = if rotate {
                    client
                        .rotate_operator_secret(&name)
                        .with_context(|| format!("rotating the secret of operator {name}"))?
                } else {
                    client
                        .create_operator(&name)
                        .with_context(|| format!("creating operator {name}"))?
                };
                let (server, _, _) = admin_credentials.principal();
                let credentials = Credentials::Operator {
                    server: server.to_owned(),
                    id: issued.id,
                    secret: issued.secret,
                };
                destination.deliver(ctx, &credentials)
            }
        }
    }
}
