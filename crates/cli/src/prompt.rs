//! Questions on the terminal. Every question has a flag; when stdin is not a terminal (or
//! `--json` is set) a missing answer is a usage error naming that flag.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;
use rustix::termios;
use zeroize::Zeroizing;

use crate::exit;

/// Whether questions may be asked.
pub fn interactive(json: bool) -> bool {
    !json && std::io::stdin().is_terminal()
}

/// `given`, else the path the person types after `question` (see [`ask`]).
pub fn path_or_ask(
    json: bool,
    given: Option<&std::path::Path>,
    flag: &str,
    question: &str,
) -> anyhow::Result<std::path::PathBuf> {
    match given {
        Some(path) => Ok(path.to_owned()),
        None => ask(json, flag, question).map(std::path::PathBuf::from),
    }
}

/// Asks `question` and returns the trimmed answer; `flag` is named when nothing can be asked.
pub fn ask(json: bool, flag: &str, question: &str) -> anyhow::Result<String> {
    if !interactive(json) {
        let what = question.trim_end_matches([':', '?', ' ']);
        return Err(exit::usage(format!(
            "{what}: answer on a terminal or pass {flag}"
        )));
    }
    eprint!("{question} ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer from the terminal")?;
    anyhow::ensure!(read > 0, "no answer to {question:?}: the terminal was closed");
    Ok(answer.trim().to_owned())
}

/// Asks for a secret without echoing it (the terminal's echo is restored afterwards, also on
/// errors); `flags` name the other ways to give it when nothing can be asked.
pub fn secret(json: bool, flags: &str, question: &str) -> anyhow::Result<Zeroizing<String>> {
    if !interactive(json) {
        let what = question.trim_end_matches([':', '?', ' ']);
        return Err(exit::usage(format!(
            "{what}: answer on a terminal or give one of {flags}"
        )));
    }
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).context("reading the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(termios::LocalModes::ECHO);
    quiet.local_modes.insert(termios::LocalModes::ECHONL);
    // Echo goes off before the question shows, so that nothing typed after it is echoed;
    // `Now`, not `Flush`: what was typed ahead is kept.
    termios::tcsetattr(&stdin, termios::OptionalActions::Now, &quiet)
        .context("turning the terminal's echo off")?;
    eprint!("{question} ");
    std::io::stderr().flush().ok();
    let mut answer = Zeroizing::new(String::new());
    let read = stdin.lock().read_line(&mut answer);
    let restored = termios::tcsetattr(&stdin, termios::OptionalActions::Now, &saved);
    let read = read.context("reading the answer from the terminal")?;
    restored.context("turning the terminal's echo back on")?;
    anyhow::ensure!(read > 0, "no answer to {question:?}: the terminal was closed");
    let trimmed = answer.trim_end_matches(['\r', '\n']).len();
    answer.truncate(trimmed);
    Ok(answer)
}

/// Asks for a typed `yes` before `what`, unless `yes` (the `--yes` flag) is set.
pub fn confirm(json: bool, yes: bool, what: &str) -> anyhow::Result<()> {
    confirm_or_flag(json, yes, "--yes", what)
}

/// Asks for a typed `yes` before `what`, unless `given` (the flag `flag`) is set; without a
/// terminal the error names `flag`.
pub fn confirm_or_flag(json: bool, given: bool, flag: &str, what: &str) -> anyhow::Result<()> {
    if given {
        return Ok(());
    }
    if !interactive(json) {
        return Err(exit::usage(format!(
            "{what}: confirm on a terminal or pass {flag}"
        )));
    }
    let answer = ask(json, flag, &format!("{what}? Type 'yes' to continue:"))?;
    anyhow::ensure!(answer == "yes", "not confirmed ({what}); nothing done");
    Ok(())
}
