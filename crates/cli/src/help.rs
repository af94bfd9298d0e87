//! What `--help` says beyond the flags: the environment variables a command reads that none
//! of its flags names (clap lists a flag's own `env`).

/// Environment variables and the commands that read them (`seedship <path>`; a path ending
/// in a space covers every subcommand under it).
const ENVIRONMENT: &[(&str, &str, &[&str])] = &[
    (
        "SEEDSHIP_PASSWORD",
        "the repository password, when no password file or command is given",
        &["backup", "snapshots", "restore", "check", "agent run"],
    ),
    (
        "XDG_CACHE_HOME",
        "the default cache directory is $XDG_CACHE_HOME/seedship (else ~/.cache/seedship)",
        &["backup", "snapshots", "restore", "check", "agent run"],
    ),
    (
        "SEEDSHIP_CONFIG_DIR",
        "the agent configuration directory when --config-dir is not given (else \
         $XDG_CONFIG_HOME/seedship, else ~/.config/seedship)",
        &["backup", "agent ", "policy "],
    ),
    (
        "SEEDSHIP_DRIVE_PASSPHRASE",
        "the preparer's passphrase, which wraps each drive key (resume and verify unwrap it)",
        &["diskprep", "drive prepare", "drive resume", "drive verify"],
    ),
    (
        "SEEDSHIP_CA_CERT",
        "a PEM file of certificates trusted for the server (and rest: repositories) besides the \
         system's",
        &[
            "backup",
            "snapshots",
            "restore",
            "check",
            "agent ",
            "policy set",
            "diskprep",
            "job ",
            "import ",
            "drive repair",
            "admin ",
            "storage ",
            "container ",
            "vault ",
        ],
    ),
    (
        "SEEDSHIP_LOG",
        "the server's log filter (default info)",
        &["server"],
    ),
    (
        "SEEDSHIP_TEST_CLOCK",
        "1 lets the admin move the server's clock (for tests of deadlines)",
        &["server"],
    ),
];

/// The environment variables `seedship <path>` reads besides its flags' own.
pub fn environment(path: &str) -> Vec<(&'static str, &'static str)> {
    ENVIRONMENT
        .iter()
        .filter(|(_, _, commands)| {
            commands.iter().any(|command| match command.strip_suffix(' ') {
                Some(family) => path.starts_with(command) || path == family,
                None => path == *command,
            })
        })
        .map(|(name, what, _)| (*name, *what))
        .collect()
}

/// Appends an "Environment:" section to the help of every command that reads variables its
/// flags do not name.
pub fn with_environment(command: clap::Command) -> clap::Command {
    fn walk(command: clap::Command, path: &str) -> clap::Command {
        let names: Vec<String> = command
            .get_subcommands()
            .map(|sub| sub.get_name().to_owned())
            .collect();
        let mut command = command;
        for name in names {
            let sub_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path} {name}")
            };
            command = command.mut_subcommand(&name, |sub| walk(sub, &sub_path));
        }
        let variables = environment(path);
        if variables.is_empty() || command.has_subcommands() {
            return command;
        }
        let lines: Vec<String> = variables
            .iter()
            .map(|(name, what)| format!("  {name}: {what}"))
            .collect();
        command.after_help(format!("Environment:\n{}", lines.join("\n")))
    }
    walk(command, "")
}
