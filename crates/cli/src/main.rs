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
mod warnings;

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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    warnings::install(cli.global.json);
    let ctx = Context {
        json: cli.global.json,
        progress: progress::reporter(cli.global.json || cli.global.no_progress),
    };
    match cli.command.run(&ctx) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => exit::report(&err, ctx.json),
    }
}

/// Reports a command line clap refused: as clap does, or as an `exit_error` object when the
/// command line asked for `--json` (the rest of it could not be parsed, so it is looked for
/// among the raw arguments).
fn usage_error(err: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    let wants_json = std::env::args_os().skip(1).any(|arg| arg == "--json");
    let is_help = matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !wants_json || is_help {
        err.exit();
    }
    // The first line, without clap's "error: " and styling; the usage lines after it are
    // for a person.
    let rendered = err.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    exit::report(&exit::usage(message), true)
}
