//! Where newly issued credentials go. A secret exists only in the server's answer (the server
//! keeps its digest), so the place it goes is settled before the server is asked: an `--out`
//! file that exists is refused and the file's directory is made writable first; a secret that
//! would only be shown on a terminal is refused; and a file that still cannot be written after
//! the answer gets the credentials printed on stdout instead, never dropped.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use seedship_api::{Credentials, CredentialsError, PendingCredentials};
use serde::Serialize;

use crate::{Context, exit, output};

#[derive(Debug, Args)]
pub struct OutArg {
    /// Write the new credentials to this file (mode 0600, atomically); an existing file is
    /// refused unless --force. Without it they are printed on stdout (not to a terminal).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace the --out file if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// The place new credentials go, settled before they are issued.
#[derive(Debug)]
pub enum Destination {
    /// A file, its temporary file already made.
    File(PendingCredentials),
    /// stdout: TOML, or JSON with `--json`.
    Stdout,
}

impl Destination {
    /// Where `out` says: the `--out` file (refused if it exists, unless `--force`), else stdout
    /// unless that is a terminal without `--json` (usage error naming `--out`).
    ///
    /// # Errors
    ///
    /// The `--out` file exists or cannot be written; a terminal on stdout.
    pub fn of(ctx: &Context, out: &OutArg) -> anyhow::Result<Self> {
        match &out.out {
            Some(path) => Self::file(path, out.force),
            None if !ctx.json && std::io::stdout().is_terminal() => Err(exit::usage(
                "the new secret would only be shown on this terminal, where it is easily lost: \
                 pass --out <FILE> (or --json, or redirect stdout); nothing was issued"
                    .to_owned(),
            )),
            None => Ok(Destination::Stdout),
        }
    }

    /// The file `path`, replaced if `replace` (refused if it exists otherwise).
    ///
    /// # Errors
    ///
    /// The file exists (and not `replace`) or cannot be written.
    pub fn file(path: &Path, replace: bool) -> anyhow::Result<Self> {
        match Credentials::create_file(path, replace) {
            Ok(pending) => Ok(Destination::File(pending)),
            Err(err @ CredentialsError::Exists { .. }) => Err(anyhow::anyhow!(
                "{err}: pass --force to replace it, or another --out file; nothing was issued"
            )),
            Err(err) => {
                let err = anyhow::Error::new(err);
                Err(anyhow::anyhow!("{err:#}; nothing was issued"))
            }
        }
    }

    /// Puts `credentials` where they go and prints the result: the credentials themselves on
    /// stdout, or where they were written (`{"kind","written_to"}`).
    ///
    /// # Errors
    ///
    /// The file could not be written: the credentials are then printed on stdout, and the
    /// error says so.
    pub fn deliver(self, ctx: &Context, credentials: &Credentials) -> anyhow::Result<()> {
        #[derive(Serialize)]
        struct Written<'a> {
            kind: &'a str,
            written_to: String,
        }
        match self {
            Destination::Stdout => print(ctx, credentials),
            Destination::File(pending) => {
                let path = commit_or_print(ctx, pending, credentials)?;
                let doc = Written {
                    kind: credentials.kind(),
                    written_to: path.display().to_string(),
                };
                output::emit(ctx.json, &doc, || {
                    format!("{} credentials written to {}", doc.kind, doc.written_to)
                })
            }
        }
    }
}

/// Writes `credentials` into `pending` and returns its path; if that fails, prints them on
/// stdout so the issued secret is not lost, and fails saying so.
///
/// # Errors
///
/// The file could not be written.
pub fn commit_or_print(
    ctx: &Context,
    pending: PendingCredentials,
    credentials: &Credentials,
) -> anyhow::Result<PathBuf> {
    let path = pending.path().to_owned();
    if let Err(err) = pending.commit(credentials) {
        print(ctx, credentials)?;
        return Err(anyhow::Error::new(err)).with_context(|| {
            format!(
                "the new {} credentials were issued but could not be written, so they are \
                 printed on stdout instead: save them",
                credentials.kind()
            )
        });
    }
    Ok(path)
}

/// The credentials on stdout: TOML, or the JSON object with `--json`.
fn print(ctx: &Context, credentials: &Credentials) -> anyhow::Result<()> {
    output::emit(ctx.json, credentials, || {
        credentials.to_toml().trim_end().to_owned()
    })
}
