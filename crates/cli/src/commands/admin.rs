//! `seedship admin`: accounts and operators (admin credentials).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use seedship_api::{Client, Credentials};

use crate::issue::{Destination, OutArg};
use crate::{Context, output, shared};

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
    Account(AccountCommand),
    /// Operators (data-centre staff).
    #[command(subcommand)]
    Operator(IssueCommand),
}

/// What the admin does for an account: issue secrets, and set its storage quota.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    #[command(flatten)]
    Issue(IssueCommand),
    /// Show or set the account's storage quota (bytes its vaults, containers and held-back
    /// files may use); setting it recounts what the account stores.
    #[command(group(clap::ArgGroup::new("limit").args(["bytes", "none"])))]
    Quota {
        /// The account's name.
        name: String,
        /// The quota: bytes, or with a suffix K, M, G or T (powers of 1024), e.g. 500G.
        #[arg(long, value_name = "SIZE", value_parser = seedship_progress::parse_size)]
        bytes: Option<u64>,
        /// Remove the quota.
        #[arg(long)]
        none: bool,
        #[command(flatten)]
        admin: AdminCredentialsArg,
    },
}

/// What the admin does for an account or an operator: the same two commands.
#[derive(Debug, Subcommand)]
pub enum IssueCommand {
    /// Create it and write (or print) its credentials file.
    Create(IssueArgs),
    /// Give it a new secret (the old one stops working at once) and write (or print) its new
    /// credentials file: how one who lost the secret gets access back.
    RotateSecret(IssueArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The account's or operator's name (unique; lowercase letters, digits, '-', '_'; starts
    /// with a letter).
    name: String,
    #[command(flatten)]
    admin: AdminCredentialsArg,
    #[command(flatten)]
    out: OutArg,
}

/// The principals the admin issues secrets to.
#[derive(Debug, Clone, Copy)]
enum Principal {
    Account,
    Operator,
}

impl AdminCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let (principal, command) = match self {
            AdminCommand::Account(AccountCommand::Issue(command)) => (Principal::Account, command),
            AdminCommand::Account(AccountCommand::Quota {
                name,
                bytes,
                none,
                admin,
            }) => return quota(ctx, &name, bytes, none, &admin),
            AdminCommand::Operator(command) => (Principal::Operator, command),
        };
        let (rotate, IssueArgs { name, admin, out }) = match command {
            IssueCommand::Create(args) => (false, args),
            IssueCommand::RotateSecret(args) => (true, args),
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

/// `admin account quota`: shows the quota of account `name`, or sets it to `bytes` (`none`:
/// removes it).
fn quota(
    ctx: &Context,
    name: &str,
    bytes: Option<u64>,
    none: bool,
    admin: &AdminCredentialsArg,
) -> anyhow::Result<()> {
    let admin_credentials = shared::load_credentials(&admin.admin_credentials, "admin")?;
    let client = Client::new(&admin_credentials)?;
    let usage = if bytes.is_some() || none {
        client
            .set_account_quota(name, bytes)
            .with_context(|| format!("setting the quota of account {name}"))?
    } else {
        client
            .account_quota(name)
            .with_context(|| format!("reading the quota of account {name}"))?
    };
    output::emit(ctx.json, &usage, || output::usage_line(&usage))
}
