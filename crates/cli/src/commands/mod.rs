//! One module per command family; each owns its clap structs and converts them into the
//! options of a library crate before doing any I/O.

mod cloud;
mod exit_codes;

use crate::Context;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the table of exit codes this binary uses.
    ExitCodes,
    #[command(flatten)]
    Cloud(cloud::CloudCommand),
}

impl Command {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            Command::ExitCodes => exit_codes::run(ctx),
            Command::Cloud(command) => command.run(ctx),
        }
    }
}
