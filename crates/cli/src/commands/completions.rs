//! `seedship completions`: the shell completion script, generated from the same clap
//! definitions the binary parses with, so it never falls behind a new command or option.

use clap::Args;
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for (bash, zsh, fish, elvish, powershell).
    shell: Shell,
}

/// Writes the completion script for `args.shell` to stdout.
pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = crate::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "seedship",
        &mut std::io::stdout().lock(),
    );
    Ok(())
}
