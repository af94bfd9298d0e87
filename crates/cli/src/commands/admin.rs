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

/// The principals the admin issues secrets to.
#[derive(Debug, Clone, Copy)]
enum Principal {
    Account,
    Operator,
}

impl AdminCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let (principal, name, admin, out, rotate) = match self {
            AdminCommand::Account(AdminAccountCommand::Create { name, admin, out }) => {
                (Principal::Account, name, admin, out, false)
            }
            AdminCommand::Account(AdminAccountCommand::RotateSecret { name, admin, out }) => {
                (Principal::Account, name, admin, out, true)
            }
            AdminCommand::Operator(AdminOperatorCommand::Create { name, admin, out }) => {
                (Principal::Operator, name, admin, out, false)
            }
            AdminCommand::Operator(AdminOperatorCommand::RotateSecret { name, admin, out }) => {
                (Principal::Operator, name, admin, out, true)
            }
        };
        let admin_credentials = shared::load_credentials(&admin.admin_credentials, "admin")?;
        // Where the secret goes is settled before the server issues it.
        let destination = Destination::of(ctx, &out)?;
        let client = Client::new(&admin_credentials)?;
        let kind = match principal {
            Principal::Account => "account",
            Principal::Operator => "operator",
        };
        let issued = match (principal, rotate) {
            (Principal::Account, false) => client.create_account(&name),
            (Principal::Account, true) => client.rotate_account_secret(&name),
            (Principal::Operator, false) => client.create_operator(&name),
            (Principal::Operator, true) => client.rotate_operator_secret(&name),
        }
        .with_context(|| {
            if rotate {
                format!("rotating the secret of {kind} {name}")
            } else {
                format!("creating {kind} {name}")
            }
        })?;
        let server = admin_credentials.principal().0.to_owned();
        let credentials = match principal {
            Principal::Account => Credentials::Account {
                server,
                account: issued.name,
                id: issued.id,
                secret: issued.secret,
            },
            Principal::Operator => Credentials::Operator {
                server,
                id: issued.id,
                secret: issued.secret,
            },
        };
        destination.deliver(ctx, &credentials)
    }
}
