//! `seedship staging clean`: removes what the offline policy's staging location no longer
//! needs once the vault is seeded from it (the staged repository and the journals). Refused
//! before, with the reason (exit 24).

use std::path::PathBuf;

use clap::Subcommand;

use crate::backups::bytes;
use crate::{Context, output, shared};

#[derive(Debug, Subcommand)]
pub enum StagingCommand {
    /// Remove the staged repository and the journals after the vault was seeded from them;
    /// refused before (exit 24).
    Clean {
        /// Agent configuration directory (default as `seedship agent register`).
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
    },
}

impl StagingCommand {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            StagingCommand::Clean { config_dir } => {
                let cleaned = seedship_agent::clean_staging(&shared::agent_dir(config_dir)?)?;
                let doc = serde_json::json!({ "message_type": "staging_cleaned", "cleaned": cleaned });
                output::emit(ctx.json, &doc, || {
                    let mut lines: Vec<String> = cleaned
                        .removed
                        .iter()
                        .map(|path| format!("removed {}", path.display()))
                        .collect();
                    if cleaned.removed.is_empty() {
                        lines.push(format!("{}: nothing to remove", cleaned.job_dir.display()));
                    } else {
                        lines.push(format!("{} freed", bytes(cleaned.bytes)));
                    }
                    lines.join("\n")
                })
            }
        }
    }
}
