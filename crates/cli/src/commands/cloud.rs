//! The cloud side: `seedship server` and the commands that manage accounts, storage accounts,
//! containers, vaults and agent registration through the server's API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use seedship_server::{Client, Credentials, ServerConfig, ServerOptions, TlsMode};
use serde::Serialize;

use crate::{Context, output};

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

#[derive(Debug, Args)]
pub struct OutArg {
    /// Write the new credentials to this file (mode 0600) instead of printing them.
    #[arg(long)]
    out: Option<PathBuf>,
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
    /// Create an account and print its credentials file.
    Create {
        /// Account name (lowercase letters, digits, '-', '_'; starts with a letter).
        name: String,
        #[command(flatten)]
        admin: AdminCredentialsArg,
        #[command(flatten)]
        out: OutArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminOperatorCommand {
    /// Create an operator and print its credentials file.
    Create {
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
            CloudCommand::Admin(AdminCommand::Account(AdminAccountCommand::Create { name, admin, out })) => {
                let admin_credentials = load(&admin.admin_credentials, "admin")?;
                let created = Client::new(&admin_credentials)?
                    .create_account(&name)
                    .with_context(|| format!("creating account {name}"))?;
                let (server, _, _) = admin_credentials.principal();
                let credentials = Credentials::Account {
                    server: server.to_owned(),
                    account: created.name,
                    id: created.id,
                    secret: created.secret,
                };
                emit_credentials(ctx, &credentials, out.out.as_deref())
            }
            CloudCommand::Admin(AdminCommand::Operator(AdminOperatorCommand::Create {
                name,
                admin,
                out,
            })) => {
                let admin_credentials = load(&admin.admin_credentials, "admin")?;
                let created = Client::new(&admin_credentials)?
                    .create_operator(&name)
                    .with_context(|| format!("creating operator {name}"))?;
                let (server, _, _) = admin_credentials.principal();
                let credentials = Credentials::Operator {
                    server: server.to_owned(),
                    id: created.id,
                    secret: created.secret,
                };
                emit_credentials(ctx, &credentials, out.out.as_deref())
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
                emit_credentials(ctx, &registration, out.out.as_deref())
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

/// Prints new credentials (TOML on stdout, or JSON with `--json`), or writes them to `out`.
fn emit_credentials(ctx: &Context, credentials: &Credentials, out: Option<&Path>) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Written<'a> {
        kind: &'a str,
        written_to: String,
    }
    match out {
        Some(path) => {
            credentials.save(path)?;
            let doc = Written {
                kind: credentials.kind(),
                written_to: path.display().to_string(),
            };
            output::emit(ctx.json, &doc, || {
                format!("{} credentials written to {}", doc.kind, doc.written_to)
            })
        }
        None => output::emit(ctx.json, credentials, || {
            credentials.to_toml().trim_end().to_owned()
        }),
    }
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
    let config = Credentials::Agent {
        server: server.to_owned(),
        account: agent.account,
        vault: agent.vault,
        url: agent.url,
        id: agent.id,
        secret: agent.secret,
    };
    config.save(&path)?;
    output::emit(ctx.json, &doc, || summary)
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEEDSHIP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
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
