//! `seedship`: offline seeding of large backups, from the first backup to the vault.
//!
//! The binary is thin: it parses arguments, builds a [`Context`], runs one command from
//! `commands/`, and maps any error to a documented exit code in [`exit`].

mod commands;
mod durable;
mod exit;
mod output;
mod progress;
mod prompt;

use clap::{Args, Parser};

/// Options every command takes.
#[derive(Debug, Args, Clone)]
struct GlobalOpts {
    /// Print machine-readable JSON on stdout (errors as JSON on stderr); hides progress bars.
    #[arg(long, global = true)]
    json: bool,
    /// Hide progress bars even on a terminal.
    #[arg(long, global = true)]
    no_progress: bool,
}

#[derive(Debug, Parser)]
#[command(
    name = "seedship",
    version,
    about = "Offline seeding for large backups",
    max_term_width = 100
)]
struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    command: commands::Command,
}

/// What every command receives: output mode and the progress reporter.
pub struct Context {
    pub json: bool,
    pub progress: std::sync::Arc<dyn seedship_progress::Progress>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let ctx = Context {
        json: cli.global.json,
        progress: progress::reporter(cli.global.json || cli.global.no_progress),
    };
    match cli.command.run(&ctx) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => exit::report(&err, ctx.json),
    }
}
