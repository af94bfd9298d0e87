//! One module per command family; each owns its clap structs and converts them into the
//! options of a library crate before doing any I/O.

mod agent;
mod exit_codes;

use crate::Context;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Agent(agent::AgentCommand),
    /// Print the table of exit codes this binary uses.
    ExitCodes,
}

impl Command {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            Command::Agent(command) => command.run(ctx),
            Command::ExitCodes => exit_codes::run(ctx),
        }
    }
}
