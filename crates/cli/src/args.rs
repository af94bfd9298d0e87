//! Argument groups several commands take: how to open a repository (password, cache) and
//! what a backup leaves out.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use seedship_repo::{Excludes, RepoConfig};
use zeroize::Zeroizing;

use crate::{Context, prompt, shared};

/// Environment variable holding the repository password.
const PASSWORD_ENV: &str = "SEEDSHIP_PASSWORD";

/// The password and cache of a repository.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Read the repository password from the first line of this file. Without a password file
    /// or command: $SEEDSHIP_PASSWORD, else asked on the terminal.
    #[arg(
        short = 'p',
        long,
        env = "SEEDSHIP_PASSWORD_FILE",
        value_name = "FILE",
        conflicts_with = "password_command"
    )]
    password_file: Option<PathBuf>,
    /// Run this shell command (sh -c) and take the first line of its output as the repository
    /// password.
    #[arg(long, env = "SEEDSHIP_PASSWORD_COMMAND", value_name = "COMMAND")]
    password_command: Option<String>,
    /// Cache index and tree data in this directory (default: $XDG_CACHE_HOME/seedship, else
    /// ~/.cache/seedship).
    #[arg(long, env = "SEEDSHIP_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Use no cache directory (also when SEEDSHIP_CACHE_DIR is set).
    #[arg(long)]
    no_cache: bool,
    /// The password once found (a scheduled run asks only once).
    #[arg(skip)]
    resolved: Resolved,
}

/// A password found once and kept for the process; never shown by `Debug`.
#[derive(Default)]
pub struct Resolved(std::sync::OnceLock<Zeroizing<String>>);

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What a backup leaves out (restic's `--exclude` and `--exclude-file`).
#[derive(Debug, Args)]
pub struct ExcludeArgs {
    /// Leave out files and directories matching this pattern, as restic does: `*`, `?`, `[...]`,
    /// `**`; a pattern starting with / matches from the root, any other one the end of a path
    /// (`*.tmp`, `cache`, `a/b/*.log`). Repeat for more.
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Read exclude patterns from this file: one a line; blank lines and lines starting with #
    /// are skipped. Repeat for more.
    #[arg(long, value_name = "FILE")]
    exclude_file: Vec<PathBuf>,
}

impl ExcludeArgs {
    /// The patterns given, `--exclude`s first, checked; `None` when none were given.
    pub fn given(&self) -> anyhow::Result<Option<Excludes>> {
        if self.exclude.is_empty() && self.exclude_file.is_empty() {
            return Ok(None);
        }
        let mut patterns = self.exclude.clone();
        for file in &self.exclude_file {
            patterns.extend(Excludes::read_file(file)?);
        }
        Ok(Some(Excludes::new(patterns)?))
    }
}

impl AccessArgs {
    /// The configuration of the repository at `location`: the password from the first source
    /// that gives one (password file, password command, `$SEEDSHIP_PASSWORD`, the terminal)
    /// and the cache directory.
    pub fn config(&self, ctx: &Context, location: String) -> anyhow::Result<RepoConfig> {
        let password = match self.resolved.0.get() {
            Some(password) => password,
            None => {
                let found = self.password(ctx)?;
                anyhow::ensure!(!found.is_empty(), "the repository password is empty");
                self.resolved.0.get_or_init(|| found)
            }
        };
        let cache = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(shared::default_cache_dir)
        };
        Ok(RepoConfig::new(location, password.to_string()).with_cache_dir(cache))
    }

    fn password(&self, ctx: &Context) -> anyhow::Result<Zeroizing<String>> {
        if let Some(file) = &self.password_file {
            let text = Zeroizing::new(
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading password file {}", file.display()))?,
            );
            return Ok(first_line(&text));
        }
        if let Some(command) = &self.password_command {
            let output = std::process::Command::new("sh")
                .args(["-c", command])
                .stdin(std::process::Stdio::inherit())
                .stderr(std::process::Stdio::inherit())
                .output()
                .context("running the password command (--password-command)")?;
            let text = Zeroizing::new(String::from_utf8(output.stdout).map_err(|_| {
                anyhow::anyhow!("the password command (--password-command) printed no UTF-8 text")
            })?);
            anyhow::ensure!(
                output.status.success(),
                "the password command (--password-command) failed: {}",
                output.status
            );
            return Ok(first_line(&text));
        }
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            return Ok(Zeroizing::new(password));
        }
        prompt::secret(
            ctx.json,
            "--password-file, --password-command, SEEDSHIP_PASSWORD_FILE, SEEDSHIP_PASSWORD_COMMAND or SEEDSHIP_PASSWORD",
            "Repository password:",
        )
    }
}

/// The first line of a password file or command output, without its line ending.
fn first_line(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.lines().next().unwrap_or_default().to_owned())
}

/// The account owner's credentials file.
#[derive(Debug, Args)]
pub struct AccountCredentialsArg {
    /// Account credentials file (from `seedship admin account create`).
    #[arg(long, env = "SEEDSHIP_CREDENTIALS", value_name = "FILE")]
    pub credentials: PathBuf,
}

impl AccountCredentialsArg {
    /// A client with these (account) credentials.
    pub fn client(&self) -> anyhow::Result<seedship_api::Client> {
        Ok(seedship_api::Client::new(&shared::load_credentials(
            &self.credentials,
            "account",
        )?)?)
    }
}

/// An import job named on the command line, with the credentials that act on it (an account
/// owner's or an operator's).
#[derive(Debug, Args)]
pub struct JobTarget {
    /// Account owner or operator credentials file.
    #[arg(long, env = "SEEDSHIP_CREDENTIALS", value_name = "FILE")]
    credentials: PathBuf,
    /// The job's name.
    #[arg(long, value_name = "NAME")]
    pub job: String,
    /// The job's account (default: the account of owner credentials; for an operator, the
    /// account whose job has this name).
    #[arg(long)]
    account: Option<String>,
}

impl JobTarget {
    /// The client of the credentials and the job's account.
    pub fn open(&self) -> anyhow::Result<(seedship_api::Client, String)> {
        let (client, own) = shared::connect(&self.credentials)?;
        let account = match self.account.clone().or(own) {
            Some(account) => account,
            None => seedship_ingest::find_account(&client, &self.job)?,
        };
        Ok((client, account))
    }

    /// The job on `client` in `account`.
    pub fn at<'a>(
        &'a self,
        client: &'a seedship_api::Client,
        account: &'a str,
    ) -> seedship_ingest::JobRef<'a> {
        seedship_ingest::JobRef {
            client,
            account,
            name: &self.job,
        }
    }
}
