//! `seedship`: offline seeding of large backups, from the first backup to the vault.
//!
//! The binary is thin: it parses arguments, builds a [`Context`], runs one command from
//! `commands/`, and maps any error to a documented exit code in [`exit`].

mod args;
mod backups;
mod commands;
mod drives;
mod exit;
mod help;
mod interrupt;
mod issue;
mod jobs;
mod output;
mod progress;
mod prompt;
mod shared;
mod warnings;

use clap::{Args, CommandFactory, FromArgMatches, Parser};

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

/// The whole command line definition, with the environment variables named in the help.
fn command() -> clap::Command {
    help::with_environment(Cli::command())
}

fn main() -> std::process::ExitCode {
    let parsed = command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
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
        Err(err) => {
            // Pack writes other threads were in the middle of would stay behind as
            // temporary files: a full disk gets all of its space back.
            seedship_durable::remove_own_temporaries();
            exit::report(&err, ctx.json)
        }
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

#[cfg(test)]
mod tests {

    /// Every command under `command` with its path (`seedship job show`).
    fn commands(command: &clap::Command, path: &str, out: &mut Vec<(String, clap::Command)>) {
        let path = format!("{path} {}", command.get_name()).trim().to_owned();
        out.push((path.clone(), command.clone()));
        for sub in command.get_subcommands() {
            commands(sub, &path, out);
        }
    }

    fn all() -> Vec<(String, clap::Command)> {
        let mut root = crate::command();
        root.build();
        let mut out = Vec::new();
        commands(&root, "", &mut out);
        out
    }

    #[test]
    fn every_argument_and_command_has_help() {
        let mut missing = Vec::new();
        for (path, command) in all() {
            if command.get_about().is_none() && path != "seedship" && path != "seedship help" {
                missing.push(format!("{path} (the command)"));
            }
            for arg in command.get_arguments() {
                if arg.is_hide_set() || ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "arguments without help text: {missing:#?}");
    }

    #[test]
    fn help_names_the_environment_variables_read() {
        let help = |wanted: &str| {
            let (_, mut command) = all()
                .into_iter()
                .find(|(path, _)| path == wanted)
                .unwrap_or_else(|| panic!("no command {wanted}"));
            command.render_long_help().to_string()
        };
        for (path, variables) in [
            (
                "seedship diskprep",
                &[
                    "SEEDSHIP_DRIVE_PASSPHRASE",
                    "SEEDSHIP_CREDENTIALS",
                    "SEEDSHIP_CA_CERT",
                ][..],
            ),
            (
                "seedship backup",
                &[
                    "SEEDSHIP_PASSWORD",
                    "SEEDSHIP_PASSWORD_FILE",
                    "SEEDSHIP_PASSWORD_COMMAND",
                    "SEEDSHIP_REPO",
                    "SEEDSHIP_CACHE_DIR",
                    "XDG_CACHE_HOME",
                    "SEEDSHIP_CONFIG_DIR",
                ],
            ),
            (
                "seedship agent run",
                &[
                    "SEEDSHIP_PASSWORD",
                    "SEEDSHIP_PASSWORD_FILE",
                    "SEEDSHIP_CONFIG_DIR",
                ],
            ),
            ("seedship drive resume", &["SEEDSHIP_DRIVE_PASSPHRASE"]),
            (
                "seedship drive repair",
                &["SEEDSHIP_CREDENTIALS", "SEEDSHIP_CA_CERT"],
            ),
            ("seedship job show", &["SEEDSHIP_CREDENTIALS", "SEEDSHIP_CA_CERT"]),
            ("seedship import receive", &["SEEDSHIP_CREDENTIALS"]),
            (
                "seedship agent register",
                &["SEEDSHIP_CREDENTIALS", "SEEDSHIP_CONFIG_DIR"],
            ),
            ("seedship admin account create", &["SEEDSHIP_ADMIN_CREDENTIALS"]),
            ("seedship server", &["SEEDSHIP_LOG"]),
        ] {
            let text = help(path);
            for variable in variables {
                assert!(
                    text.contains(variable),
                    "`{path} --help` does not name {variable}:\n{text}"
                );
            }
        }
    }

    #[test]
    fn every_credentials_flag_reads_the_environment() {
        for (path, command) in all() {
            for arg in command.get_arguments() {
                if arg.get_id() == "credentials" {
                    assert_eq!(
                        arg.get_env().and_then(|env| env.to_str()),
                        Some("SEEDSHIP_CREDENTIALS"),
                        "{path} --credentials"
                    );
                }
            }
        }
    }
}
