//! The export side of `seedship job`: what an export selects, computed on the owner's machine
//! (the server cannot read the repository: it does not hold the password), its preview
//! (`job preview-export`) and the export part of `job create --type export`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use seedship_api::{Client, ExportPreview, PreviewSource};
use seedship_jobs::{ExportObject, ExportSpec, is_snapshot_ref};
use seedship_repo::SnapshotFilter;

use super::repo::RepoArgs;
use crate::exit::{self, Coded};
use crate::{Context, output};

/// Which snapshots of which vault an export carries.
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// The vault to export (one of the account's vaults).
    #[arg(long, value_name = "NAME")]
    vault: Option<String>,
    /// Only this snapshot: an id (8 to 64 lowercase hex digits, a unique prefix) or `latest`;
    /// once per snapshot. Without --snapshot, --host or --path: the whole vault.
    #[arg(long = "snapshot", value_name = "ID")]
    snapshots: Vec<String>,
    /// Only snapshots of this host (any of those given).
    #[arg(long = "host", value_name = "HOST")]
    hosts: Vec<String>,
    /// Only snapshots that back up this path (each of those given).
    #[arg(long = "path", value_name = "PATH")]
    paths: Vec<String>,
    /// The vault's repository, opened to compute a snapshot selection (default: the vault of
    /// the agent registered on this machine, with its password).
    #[command(flatten)]
    repo: RepoArgs,
}

/// What a selection copies: the chosen snapshots' full ids (none for the whole vault) and
/// the objects (none for the whole vault: the server lists them).
struct Selected {
    snapshots: Vec<String>,
    objects: Vec<ExportObject>,
}

impl SelectionArgs {
    /// The vault's name, required for an export.
    pub(crate) fn vault(&self) -> anyhow::Result<&str> {
        self.vault
            .as_deref()
            .ok_or_else(|| exit::usage("an export names its vault with --vault".to_owned()))
    }

    fn filter(&self) -> anyhow::Result<SnapshotFilter> {
        if let Some(bad) = self.snapshots.iter().find(|s| !is_snapshot_ref(s)) {
            return Err(selection_error(format!(
                "--snapshot {bad:?} is not a snapshot id (8 to 64 lowercase hex digits) or latest"
            )));
        }
        for (flag, list) in [("--host", &self.hosts), ("--path", &self.paths)] {
            if list.iter().any(|text| text.trim().is_empty()) {
                return Err(exit::usage(format!("{flag} must not be empty")));
            }
        }
        Ok(SnapshotFilter {
            snapshots: self.snapshots.clone(),
            hosts: self.hosts.clone(),
            paths: self.paths.clone(),
        })
    }

    /// Opens the repository and computes the selection, unless it is the whole vault.
    fn select(&self, ctx: &Context) -> anyhow::Result<Selected> {
        let filter = self.filter()?;
        if filter.is_everything() {
            return Ok(Selected {
                snapshots: Vec::new(),
                objects: Vec::new(),
            });
        }
        let repo = self.repo.open(ctx)?;
        let selection = repo.export_selection(&filter).map_err(|err| match err {
            seedship_repo::Error::SnapshotNotFound { .. } => selection_error(err.to_string()),
            other => other.into(),
        })?;
        Ok(Selected {
            snapshots: selection.snapshots,
            objects: selection
                .files
                .into_iter()
                .map(|file| ExportObject {
                    name: file.name,
                    size: file.size,
                })
                .collect(),
        })
    }

    /// The export section of a job spec, with the owner's public key read from `owner_key`.
    pub(crate) fn export_spec(&self, owner_key: &Path, ctx: &Context) -> anyhow::Result<ExportSpec> {
        let vault = self.vault()?.to_owned();
        let owner_key = read_owner_key(owner_key)?;
        let selected = self.select(ctx)?;
        Ok(ExportSpec {
            vault,
            snapshots: self.snapshots.clone(),
            hosts: self.hosts.clone(),
            paths: self.paths.clone(),
            owner_key,
            objects: selected.objects,
        })
    }
}

fn selection_error(message: String) -> anyhow::Error {
    Coded {
        code: exit::EXPORT_SELECTION_INVALID,
        message,
    }
    .into()
}

/// The text of a `seedship keygen` public key file, checked.
fn read_owner_key(path: &Path) -> anyhow::Result<String> {
    let invalid = |reason: String| -> anyhow::Error {
        Coded {
            code: exit::OWNER_KEY_INVALID,
            message: format!(
                "--owner-key {}: {reason} (give the .pub file `seedship keygen` wrote)",
                path.display()
            ),
        }
        .into()
    };
    let text = std::fs::read_to_string(path).map_err(|err| invalid(err.to_string()))?;
    seedship_drive::parse_recipient(&text).map_err(|err| invalid(format!("not a public key: {err}")))?;
    Ok(text.trim().to_owned())
}

/// `seedship job preview-export`: bytes and drives of an export, before the drives are sent.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    selection: SelectionArgs,
    /// Capacity of each blank drive (e.g. 8T, 500G).
    #[arg(long, value_name = "SIZE", value_parser = seedship_progress::parse_size)]
    drive_size: u64,
}

pub fn preview(args: &PreviewArgs, client: &Client, ctx: &Context) -> anyhow::Result<()> {
    let vault = args.selection.vault()?;
    let too_small = || {
        exit::usage(format!(
            "--drive-size {} cannot hold even a drive's reserve",
            args.drive_size
        ))
    };
    if seedship_drive::drives_needed(1, 1, args.drive_size).is_none() {
        return Err(too_small());
    }
    let selected = args.selection.select(ctx)?;
    let preview = if selected.objects.is_empty() {
        client
            .export_preview(vault, args.drive_size)
            .with_context(|| format!("previewing the export of vault {vault}"))?
    } else {
        ExportPreview::of(
            vault,
            selected.snapshots,
            &selected.objects,
            args.drive_size,
            PreviewSource::Client,
        )
        .map_err(|_| too_small())?
    };
    output::emit(ctx.json, &preview, || {
        let what = if preview.snapshots.is_empty() {
            "the whole vault".to_owned()
        } else {
            format!("snapshot(s) {}", preview.snapshots.join(", "))
        };
        let by = match preview.computed_by {
            PreviewSource::Server => "the server, from the vault's object sizes",
            PreviewSource::Client => "this machine, from the vault's index and trees",
        };
        format!(
            "export of vault {} ({what}): {} objects, {} bytes\ndrives: {} of {} bytes\ncomputed by {by}",
            preview.vault, preview.objects, preview.bytes, preview.drives, preview.drive_size
        )
    })
}

/// The export flags of `job create --type export`: the selection and the owner's key file.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// The vault owner's X25519 public key file (`seedship keygen --out PREFIX` wrote
    /// PREFIX.pub): the data centre wraps each drive's key to it, so that only the owner's
    /// private key opens the drives.
    #[arg(long, value_name = "FILE.pub")]
    pub owner_key: Option<PathBuf>,
}

impl ExportArgs {
    /// The export section of the job spec.
    pub fn spec(&self, ctx: &Context) -> anyhow::Result<ExportSpec> {
        let owner_key = self.owner_key.as_deref().ok_or_else(|| {
            exit::usage("an export names the owner's public key with --owner-key".to_owned())
        })?;
        self.selection.export_spec(owner_key, ctx)
    }
}
