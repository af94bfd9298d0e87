//! `seedship agent`: this machine's agent identity (register, rotate its secret) and the
//! policy's schedule (`run`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use seedship_api::{Client, Credentials};

use crate::args::AccessArgs;
use crate::backups::{PolicyRun, run_schedule};
use crate::issue::{Destination, OutArg, commit_or_print};
use crate::{Context, exit, output, shared};

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
        access: AccessArgs,
        /// Record this host name in the snapshots.
        #[arg(long)]
        host: Option<String>,
        /// Agent configuration directory (default as `seedship agent register`).
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
    },
}

impl AgentCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            AgentCommand::Register {
                credentials,
                name,
                config_dir,
                force,
            } => register_agent(ctx, &credentials, name, config_dir, force),
            AgentCommand::RotateSecret {
                agent_id,
                credentials,
                config_dir,
                out,
            } => match (agent_id, credentials) {
                (Some(id), Some(credentials)) => {
                    let owner = shared::load_credentials(&credentials, "account")?;
                    let destination = Destination::of(ctx, &out)?;
                    let rotated = Client::new(&owner)?
                        .rotate_agent_secret(&id)
                        .with_context(|| format!("rotating the secret of agent {id}"))?;
                    let (server, _, _) = owner.principal();
                    destination.deliver(ctx, &agent_credentials(server, rotated))
                }
                _ => rotate_own_agent_secret(ctx, config_dir, &out),
            },
            AgentCommand::Run {
                once,
                access,
                host,
                config_dir,
            } => {
                let run = PolicyRun {
                    access: &access,
                    options: seedship_repo::BackupOptions {
                        hostname: host,
                        ..Default::default()
                    },
                    config_dir,
                };
                crate::interrupt::release_locks_on_ctrl_c();
                run_schedule(ctx, &run, once)
            }
        }
    }
}

fn register_agent(
    ctx: &Context,
    credentials_file: &Path,
    name: Option<String>,
    config_dir: Option<PathBuf>,
    force: bool,
) -> anyhow::Result<()> {
    let registration = shared::load_credentials(credentials_file, "vault-registration")?;
    let config_dir = match config_dir {
        Some(dir) => dir,
        None => shared::default_config_dir()?,
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
fn agent_credentials(server: &str, agent: seedship_api::AgentInfo) -> Credentials {
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
        None => shared::default_config_dir()?,
    };
    let path = config_dir.join("agent.toml");
    let own = shared::load_credentials(&path, "agent")?;
    let (server, id, _) = own.principal();
    let destination = Destination::file(&path, true)?;
    let rotated = Client::new(&own)?
        .rotate_agent_secret(id)
        .with_context(|| format!("rotating the secret of agent {id}"))?;
    destination.deliver(ctx, &agent_credentials(server, rotated))
}
