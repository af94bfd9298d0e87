//! The cloud side: `seedship server` and the commands that manage accounts, storage accounts,
//! containers, vaults and agent registration through the server's API.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use seedship_api::{Client, Credentials};
use seedship_server::{ServerConfig, ServerOptions, TlsMode};

use super::issue::{Destination, OutArg, commit_or_print};
use crate::{Context, exit, output};

#[derive(Debug, Subcommand)]
pub enum CloudCommand {
    /// Run the seedship server (vaults over restic's REST protocol, accounts, storage).
    Server(ServerArgs),
    /// Administration: accounts and operators (needs the admin credentials).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Storage accounts of your account.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Containers of a storage account.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Vaults of your account (restic REST repositories).
    #[command(subcommand)]
    Vault(VaultCommand),
    /// This machine's agent identity.
    #[command(subcommand)]
    Agent(AgentCommand),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Data directory: SQLite metadata, local object storage, admin-credentials.
    #[arg(long)]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8420")]
    listen: SocketAddr,
    /// TOML configuration file selecting PostgreSQL metadata and Azure/S3 storage.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate (made once, kept in <data-dir>/tls/).
    #[arg(long, conflicts_with = "tls_cert")]
    tls: bool,
    /// Serve HTTPS with this certificate chain (PEM, server certificate first); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The import service's public key file (from `seedship keygen`): the server holds no
    /// private key; `import receive` takes it on the operator's machine. Default: a key pair in
    /// the data directory (or the config file's import_service_key), made on first start.
    #[arg(long)]
    service_public_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AdminCredentialsArg {
    /// Admin credentials file (written by the server at first start to <data-dir>/admin-credentials).
    #[arg(long, env = "SEEDSHIP_ADMIN_CREDENTIALS")]
    admin_credentials: PathBuf,
}

#[derive(Debug, Args)]
pub struct AccountCredentialsArg {
    /// Account credentials file (from `seedship admin account create`).
    #[arg(long, env = "SEEDSHIP_CREDENTIALS", value_name = "FILE")]
    credentials: PathBuf,
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
}

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

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Register this machine as an agent of a vault and store its configuration.
    Register {
        /// Vault registration credentials file (from `seedship vault create`).
        #[arg(long, env = "SEEDSHIP_CREDENTIALS", value_name = "FILE")]
        credentials: PathBuf,
        /// Agent name; default: the host name.
        #[arg(long)]
        name: Option<String>,
        /// Where to write agent.toml; default $SEEDSHIP_CONFIG_DIR, else $XDG_CONFIG_HOME/seedship,
        /// else ~/.config/seedship.
        #[arg(long)]
        config_dir: Option<PathBuf>,
        /// Replace an existing agent configuration.
        #[arg(long)]
        force: bool,
    },
    /// Give an agent a new secret (the old one stops working at once). The account owner names
    /// the agent by id (--credentials) and gets its new agent.toml (--out); without AGENT-ID
    /// the agent of this machine rotates its own secret and agent.toml is replaced.
    RotateSecret {
        /// The agent's id (`id` in its agent.toml, `agt-...`); needs the account owner's
        /// --credentials.
        #[arg(value_name = "AGENT-ID", requires = "credentials")]
        agent_id: Option<String>,
        /// Account owner credentials file (with AGENT-ID).
        #[arg(long, env = "SEEDSHIP_CREDENTIALS")]
        credentials: Option<PathBuf>,
        /// Without AGENT-ID: the agent configuration directory (default as `seedship agent
        /// register`).
        #[arg(long, value_name = "DIR", conflicts_with = "agent_id")]
        config_dir: Option<PathBuf>,
        #[command(flatten)]
        out: OutArg,
    },
    /// Keep the policy's schedule: a policy backup (as `seedship backup`) at every cron time.
    Run {
        /// Run one policy backup now and exit with its code (for a systemd timer or cron).
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        access: super::agent::AccessArgs,
        /// Record this host name in the snapshots.
        #[arg(long)]
        host: Option<String>,
        /// Agent configuration directory (default as `seedship agent register`).
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
    },
}

impl CloudCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            CloudCommand::Server(args) => run_server(ctx, args),
            CloudCommand::Admin(AdminCommand::Account(command)) => {
                let (name, admin, out, rotate) = match command {
                    AdminAccountCommand::Create { name, admin, out } => (name, admin, out, false),
                    AdminAccountCommand::RotateSecret { name, admin, out } => (name, admin, out, true),
                };
                let admin_credentials = load(&admin.admin_credentials, "admin")?;
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
            CloudCommand::Admin(AdminCommand::Operator(command)) => {
                let (name, admin, out, rotate) = match command {
                    AdminOperatorCommand::Create { name, admin, out } => (name, admin, out, false),
                    AdminOperatorCommand::RotateSecret { name, admin, out } => (name, admin, out, true),
                };
                let admin_credentials = load(&admin.admin_credentials, "admin")?;
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
            CloudCommand::Storage(StorageCommand::Create { name, credentials }) => {
                account_client(&credentials)?
                    .create_storage_account(&name)
                    .with_context(|| format!("creating storage account {name}"))?;
                output::emit(ctx.json, &serde_json::json!({"storage_account": name}), || {
                    format!("created storage account {name}")
                })
            }
            CloudCommand::Storage(StorageCommand::List { credentials }) => {
                let listed = account_client(&credentials)?
                    .storage_accounts()
                    .context("listing storage accounts")?;
                output::emit(ctx.json, &listed, || listed.names.join("\n"))
            }
            CloudCommand::Container(ContainerCommand::Create {
                name,
                storage_account,
                credentials,
            }) => {
                account_client(&credentials)?
                    .create_container(&storage_account, &name)
                    .with_context(|| {
                        format!("creating container {name} in storage account {storage_account}")
                    })?;
                let doc = serde_json::json!({"storage_account": storage_account, "container": name});
                output::emit(ctx.json, &doc, || {
                    format!("created container {name} in storage account {storage_account}")
                })
            }
            CloudCommand::Container(ContainerCommand::List {
                storage_account,
                credentials,
            }) => {
                let listed = account_client(&credentials)?
                    .containers(&storage_account)
                    .with_context(|| format!("listing containers of storage account {storage_account}"))?;
                output::emit(ctx.json, &listed, || listed.names.join("\n"))
            }
            CloudCommand::Vault(VaultCommand::Create {
                name,
                append_only,
                credentials,
                out,
            }) => {
                let account_credentials = load(&credentials.credentials, "account")?;
                let destination = Destination::of(ctx, &out)?;
                let created = Client::new(&account_credentials)?
                    .create_vault(&name, append_only)
                    .with_context(|| format!("creating vault {name}"))?;
                let (server, _, _) = account_credentials.principal();
                let registration = Credentials::VaultRegistration {
                    server: server.to_owned(),
                    account: created.account,
                    vault: created.name,
                    url: created.url,
                    id: created.registration_id,
                    secret: created.registration_secret,
                };
                destination.deliver(ctx, &registration)
            }
            CloudCommand::Vault(VaultCommand::List { credentials }) => {
                let vaults = account_client(&credentials)?.vaults().context("listing vaults")?;
                let doc: Vec<_> = vaults
                    .iter()
                    .map(|(name, url, append_only)| serde_json::json!({"name": name, "url": url, "append_only": append_only}))
                    .collect();
                output::emit(ctx.json, &doc, || {
                    vaults
                        .iter()
                        .map(|(name, url, append_only)| {
                            format!(
                                "{name}\t{url}{}",
                                if *append_only { "\t(append-only)" } else { "" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }
            CloudCommand::Vault(VaultCommand::Seed {
                name,
                storage_account,
                container,
                prefix,
                credentials,
            }) => {
                let client = account_client(&credentials)?;
                let seeded =
                    super::offline::seed_vault(ctx, &client, &name, &storage_account, &container, &prefix)
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
            CloudCommand::Agent(AgentCommand::Register {
                credentials,
                name,
                config_dir,
                force,
            }) => register_agent(ctx, &credentials, name, config_dir, force),
            CloudCommand::Agent(AgentCommand::RotateSecret {
                agent_id,
                credentials,
                config_dir,
                out,
            }) => match (agent_id, credentials) {
                (Some(id), Some(credentials)) => {
                    let owner = load(&credentials, "account")?;
                    let destination = Destination::of(ctx, &out)?;
                    let rotated = Client::new(&owner)?
                        .rotate_agent_secret(&id)
                        .with_context(|| format!("rotating the secret of agent {id}"))?;
                    let (server, _, _) = owner.principal();
                    destination.deliver(ctx, &agent_credentials(server, rotated))
                }
                _ => rotate_own_agent_secret(ctx, config_dir, &out),
            },
            CloudCommand::Agent(AgentCommand::Run {
                once,
                access,
                host,
                config_dir,
            }) => {
                let run = super::offline::PolicyRun {
                    access: &access,
                    options: seedship_repo::BackupOptions {
                        hostname: host,
                        ..Default::default()
                    },
                    config_dir,
                };
                super::offline::run_schedule(ctx, &run, once)
            }
        }
    }
}

fn load(path: &Path, expected_kind: &str) -> anyhow::Result<Credentials> {
    let credentials = Credentials::load(path)?;
    anyhow::ensure!(
        credentials.kind() == expected_kind,
        "credentials file {} holds {} credentials, not {expected_kind} credentials",
        path.display(),
        credentials.kind()
    );
    Ok(credentials)
}

fn account_client(arg: &AccountCredentialsArg) -> anyhow::Result<Client> {
    Ok(Client::new(&load(&arg.credentials, "account")?)?)
}

/// `$SEEDSHIP_CONFIG_DIR`, else `$XDG_CONFIG_HOME/seedship`, else `~/.config/seedship`.
pub(super) fn default_config_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = env_dir("SEEDSHIP_CONFIG_DIR") {
        return Ok(dir);
    }
    xdg_dir("XDG_CONFIG_HOME", ".config").context("cannot find the configuration directory: HOME is not set")
}

/// The repository cache's default, as restic's: `$XDG_CACHE_HOME/seedship`, else
/// `~/.cache/seedship`; `None` without HOME.
pub(super) fn default_cache_dir() -> Option<PathBuf> {
    xdg_dir("XDG_CACHE_HOME", ".cache")
}

/// `$<variable>/seedship` (the XDG base directory), else `~/<fallback>/seedship`.
fn xdg_dir(variable: &str, fallback: &str) -> Option<PathBuf> {
    env_dir(variable)
        .or_else(|| env_dir("HOME").map(|home| home.join(fallback)))
        .map(|dir| dir.join("seedship"))
}

/// A directory named by an environment variable; unset and empty are the same.
fn env_dir(variable: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn register_agent(
    ctx: &Context,
    credentials_file: &Path,
    name: Option<String>,
    config_dir: Option<PathBuf>,
    force: bool,
) -> anyhow::Result<()> {
    let registration = load(credentials_file, "vault-registration")?;
    let config_dir = match config_dir {
        Some(dir) => dir,
        None => default_config_dir()?,
    };
    let path = config_dir.join("agent.toml");
    anyhow::ensure!(
        force || !path.exists(),
        "agent configuration {} exists; pass --force to replace it",
        path.display()
    );
    // the place is made before the agent is: its secret is never issued into nowhere
    let pending = seedship_api::Credentials::create_file(&path, force).context("nothing was registered")?;
    let name = match name {
        Some(name) => name,
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_lowercase())
            .context("reading the host name for the agent name (pass --name)")?,
    };
    let agent = Client::new(&registration)?
        .register_agent(&name)
        .with_context(|| format!("registering agent {name}"))?;
    let (server, _, _) = registration.principal();
    let doc = serde_json::json!({
        "agent": agent.id, "name": name, "account": agent.account, "vault": agent.vault, "url": agent.url,
        "config": path.display().to_string(),
    });
    let summary = format!(
        "registered agent {name} ({}) with vault {}/{}; configuration in {}",
        agent.id,
        agent.account,
        agent.vault,
        path.display()
    );
    commit_or_print(ctx, pending, &agent_credentials(server, agent))?;
    output::emit(ctx.json, &doc, || summary)
}

/// The agent.toml of an agent of `server`.
fn agent_credentials(server: &str, agent: seedship_api::AgentRegistered) -> Credentials {
    Credentials::Agent {
        server: server.to_owned(),
        account: agent.account,
        vault: agent.vault,
        url: agent.url,
        id: agent.id,
        secret: agent.secret,
    }
}

/// `agent rotate-secret` without an agent id: this machine's agent rotates its own secret and
/// its agent.toml is replaced (the replacement is made ready before the server is asked).
fn rotate_own_agent_secret(ctx: &Context, config_dir: Option<PathBuf>, out: &OutArg) -> anyhow::Result<()> {
    if out.out.is_some() {
        return Err(exit::usage(
            "--out needs an AGENT-ID: an agent rotating its own secret replaces its agent.toml".to_owned(),
        ));
    }
    let config_dir = match config_dir {
        Some(dir) => dir,
        None => default_config_dir()?,
    };
    let path = config_dir.join("agent.toml");
    let own = load(&path, "agent")?;
    let (server, id, _) = own.principal();
    let destination = Destination::file(&path, true)?;
    let rotated = Client::new(&own)?
        .rotate_agent_secret(id)
        .with_context(|| format!("rotating the secret of agent {id}"))?;
    destination.deliver(ctx, &agent_credentials(server, rotated))
}

fn run_server(ctx: &Context, args: ServerArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            ServerConfig::parse(&text).with_context(|| format!("parsing config file {}", path.display()))?
        }
        None => ServerConfig::default(),
    };
    if let Some(public) = &args.service_public_key {
        config.import_service_public_key = Some(public.clone());
    }
    let tls = match (args.tls, args.tls_cert, args.tls_key) {
        (_, Some(cert), Some(key)) => TlsMode::Files { cert, key },
        (true, _, _) => TlsMode::SelfSigned,
        _ => TlsMode::Off,
    };
    let log = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEEDSHIP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person watching, never in a log file or journald.
        .with_ansi(std::io::stderr().is_terminal())
        .finish();
    // Not `init()`: that would also claim the `log` crate's logger, which `main` gave to
    // the warnings of the repository libraries.
    tracing::subscriber::set_global_default(log).context("installing the server's log")?;
    let options = ServerOptions {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        tls,
        config,
        test_clock: std::env::var_os("SEEDSHIP_TEST_CLOCK").is_some_and(|v| v == "1"),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let json = ctx.json;
    runtime
        .block_on(seedship_server::serve(options, move |ready| {
            let admin = ready.admin_credentials.map(|p| p.display().to_string());
            let certificate = ready.certificate.map(|p| p.display().to_string());
            let doc = serde_json::json!({
                "message_type": "server_ready", "listen": ready.address.to_string(), "url": ready.url,
                "admin_credentials": admin, "certificate": certificate,
            });
            // Ready line for scripts and tests; nothing else goes to stdout.
            let _ = output::emit(json, &doc, || {
                let mut line = format!("listening on {}", ready.url);
                if let Some(path) = &admin {
                    line.push_str(&format!("; admin credentials written to {path}"));
                }
                if let Some(path) = &certificate {
                    line.push_str(&format!("; certificate {path}"));
                }
                line
            });
        }))
        .with_context(|| format!("server with data directory {}", args.data_dir.display()))
}
