//! `seedship webhook`: the account's webhooks (signed event notifications) and their
//! deliveries.

use anyhow::Context as _;
use clap::Subcommand;
use seedship_api::{DeliveryState, WebhookDelivery};

use crate::args::AccountCredentialsArg;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Register a URL that receives signed JSON events (job and drive states, deadlines,
    /// seeding); prints its signing secret, once.
    Add {
        /// An http or https URL.
        url: String,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// List the account's webhooks (without their secrets).
    List {
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// Remove a webhook and its deliveries.
    Remove {
        /// The webhook's id (`whk-...`, from `webhook list`).
        id: String,
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
    /// List the latest deliveries, newest first, with their last status.
    Deliveries {
        #[command(flatten)]
        credentials: AccountCredentialsArg,
    },
}

impl WebhookCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            WebhookCommand::Add { url, credentials } => {
                let added = credentials
                    .client()?
                    .add_webhook(&url)
                    .with_context(|| format!("adding webhook {url}"))?;
                output::emit(ctx.json, &added, || {
                    format!(
                        "added webhook {} for {}\nsigning secret (shown only now): {}",
                        added.id,
                        added.url,
                        added.secret.as_deref().unwrap_or("")
                    )
                })
            }
            WebhookCommand::List { credentials } => {
                let webhooks = credentials.client()?.webhooks().context("listing webhooks")?;
                output::emit(ctx.json, &webhooks, || {
                    webhooks
                        .iter()
                        .map(|w| format!("{}  {}  added {}", w.id, w.url, w.created_at))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }
            WebhookCommand::Remove { id, credentials } => {
                credentials
                    .client()?
                    .remove_webhook(&id)
                    .with_context(|| format!("removing webhook {id}"))?;
                output::emit(ctx.json, &serde_json::json!({"removed": id}), || {
                    format!("removed webhook {id}")
                })
            }
            WebhookCommand::Deliveries { credentials } => {
                let deliveries = credentials
                    .client()?
                    .webhook_deliveries()
                    .context("listing webhook deliveries")?;
                output::emit(ctx.json, &deliveries, || {
                    deliveries
                        .iter()
                        .map(delivery_line)
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }
        }
    }
}

/// `<id> <webhook> <event type> <state> after <n> attempts[: <last error>]`.
fn delivery_line(delivery: &WebhookDelivery) -> String {
    let state = match delivery.state {
        DeliveryState::Pending => "pending",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Failed => "failed",
    };
    let mut line = format!(
        "{}  {}  {}  {state} after {} attempt(s)",
        delivery.id, delivery.webhook_id, delivery.event_type, delivery.attempts
    );
    if let Some(error) = delivery
        .last_error
        .as_deref()
        .filter(|_| delivery.state != DeliveryState::Delivered)
    {
        line.push_str(": ");
        line.push_str(error);
    }
    if let Some(next) = &delivery.next_attempt_at {
        line.push_str(&format!(" (next attempt {next})"));
    }
    line
}
