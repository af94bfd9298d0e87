//! `seedship drive prepare|resume|abort|verify`: the WAImportExport `PrepImport` equivalent;
//! `seedship drive repair`: the customer's side of a drive the data centre found damaged
//! (the work is `seedship-ingest`'s).

use crate::drives::MountArgs;
use crate::{Context, drives, exit, output, prompt};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use seedship_drive::{BlobType, Dataset, Disposition, DriveTarget, PrepareOptions, format};
use std::path::{Path, PathBuf};

/// Environment variable holding the preparer's passphrase (never a command-line argument).

#[derive(Debug, Subcommand)]
pub enum DriveCmd {
    /// Start a copy session: lay the source out over the drives and copy it, encrypted.
    Prepare(Box<PrepareArgs>),
    /// Continue the last session of the journals exactly where it stopped (PrepImport /ResumeSession).
    Resume(JournalArgs),
    /// Roll the last session of the journals back (PrepImport /AbortSession).
    Abort(JournalArgs),
    /// Re-read a drive and name every file and range that does not match its journal.
    Verify(VerifyArgs),
    /// Re-send over the network only the ranges a received drive's error log names.
    Repair(RepairArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BlobTypeArg {
    Block,
    Page,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DispositionArg {
    Rename,
    NoOverwrite,
    Overwrite,
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Journal file of each drive, off the drives; give one per drive, in drive order.
    #[arg(long, value_name = "FILE", required = true)]
    journal: Vec<PathBuf>,
    /// Copy session id: 3 to 30 letters, digits, '_', '-', '#'; files land in <drive>/<session>/.
    #[arg(long, value_name = "ID")]
    session: String,
    /// Source directory (or use --dataset).
    #[arg(long, value_name = "DIR", requires = "dstdir", conflicts_with = "dataset")]
    srcdir: Option<PathBuf>,
    /// Destination container/prefix of --srcdir.
    #[arg(long, value_name = "CONTAINER/PREFIX", requires = "srcdir")]
    dstdir: Option<String>,
    /// WAImportExport v2 dataset CSV (BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile).
    #[arg(long, value_name = "CSV", required_unless_present = "srcdir")]
    dataset: Option<PathBuf>,
    /// Target drive directory; repeat for a multi-drive set (at most 10), filled in order.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "driveset",
        conflicts_with = "driveset"
    )]
    drive: Vec<PathBuf>,
    /// WAImportExport v2 driveset CSV (DriveLetter holds the drive directory, ExistingBitLockerKey an earlier journal).
    #[arg(long, value_name = "CSV")]
    driveset: Option<PathBuf>,
    /// Wipe the drives first (asks for confirmation; needs --encrypt).
    #[arg(long, conflicts_with = "driveset")]
    format: bool,
    /// Do not ask before formatting.
    #[arg(long)]
    yes: bool,
    /// With --format: also erase a drive directory that holds files but no seedship drive
    /// marker (otherwise asked on a terminal after showing what it holds; --yes is not enough).
    #[arg(long)]
    erase_existing_files: bool,
    /// Create a fresh drive key (a new journal).
    #[arg(long, conflicts_with = "driveset")]
    encrypt: bool,
    /// Take the drive key from this earlier journal of the same drive (a new journal).
    #[arg(long, value_name = "JOURNAL", conflicts_with = "driveset")]
    existing_key: Option<PathBuf>,
    /// What the import does when a destination exists (with --srcdir).
    #[arg(long, value_enum, default_value = "rename")]
    disposition: DispositionArg,
    /// Destination blob type (with --srcdir); page is refused (the import writes block blobs only).
    #[arg(long, value_enum, default_value = "block")]
    blob_type: BlobTypeArg,
    /// The import service's public key file (seedship keygen); needed for a new drive key.
    #[arg(long, value_name = "FILE")]
    service_key: Option<PathBuf>,
    /// Also wrap the drive key to this recovery public key file.
    #[arg(long, value_name = "FILE")]
    recovery_key: Option<PathBuf>,
    /// Also put the drive key on each drive (seedship-drive.key), wrapped to --service-key:
    /// for drives that go to the holder of that key's private half, who then restores from
    /// them with `seedship restore --from-drive` (what an export to a vault's owner writes).
    #[arg(long, requires = "service_key")]
    key_on_drive: bool,
    /// Capacity of each drive, instead of its file system's free space: bytes, or with a
    /// suffix K, M, G, T (powers of 1024; 10G = 10GiB = 10GB).
    #[arg(long, value_name = "SIZE", value_parser = seedship_progress::parse_size)]
    capacity: Option<u64>,
    #[command(flatten)]
    mount: MountArgs,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Journal of each drive of the session.
    #[arg(long, value_name = "FILE", required = true)]
    journal: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The drive's journal.
    #[arg(long, value_name = "FILE")]
    journal: PathBuf,
    /// The drive's directory.
    #[arg(long, value_name = "DIR")]
    drive: PathBuf,
    /// Unwrap the drive key with this private key file (import service or recovery key)
    /// instead of the passphrase in SEEDSHIP_DRIVE_PASSPHRASE.
    #[arg(long, value_name = "FILE")]
    identity: Option<PathBuf>,
}

impl DriveCmd {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            DriveCmd::Prepare(args) => prepare(*args, ctx),
            DriveCmd::Repair(args) => repair(&args, ctx),
            DriveCmd::Resume(args) => {
                let passphrase = crate::shared::passphrase()?;
                let summary = seedship_drive::resume(&args.journal, &passphrase, ctx.progress.as_ref())
                    .context("resuming the session")?;
                drives::emit_copy(ctx, &summary)
            }
            DriveCmd::Abort(args) => {
                let summary = seedship_drive::abort(&args.journal).context("aborting the session")?;
                let doc = serde_json::json!({ "message_type": "summary", "aborted": summary });
                output::emit(ctx.json, &doc, || {
                    format!(
                        "session {} rolled back on {} drive(s)",
                        summary.session_id,
                        summary.drives.len()
                    )
                })
            }
            DriveCmd::Verify(args) => verify(args, ctx),
        }
    }
}

fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {what} {}", path.display()))
}

fn datasets(args: &PrepareArgs) -> anyhow::Result<Vec<Dataset>> {
    if let (Some(src), Some(dst)) = (&args.srcdir, &args.dstdir) {
        return Ok(vec![Dataset {
            base: src.clone(),
            dst: dst.clone(),
            blob_type: match args.blob_type {
                BlobTypeArg::Block => BlobType::Block,
                BlobTypeArg::Page => BlobType::Page,
            },
            disposition: match args.disposition {
                DispositionArg::Rename => Disposition::Rename,
                DispositionArg::NoOverwrite => Disposition::NoOverwrite,
                DispositionArg::Overwrite => Disposition::Overwrite,
            },
            metadata: None,
            properties: None,
        }]);
    }
    let Some(csv) = &args.dataset else {
        bail!("give --srcdir and --dstdir, or --dataset");
    };
    let rows = format::parse_dataset(&read_text(csv, "dataset CSV")?)
        .with_context(|| format!("dataset CSV {}", csv.display()))?;
    Ok(rows
        .into_iter()
        .map(|row| Dataset {
            base: PathBuf::from(row.base_path.trim_end_matches(['/', '\\'])),
            dst: row.dst,
            blob_type: row.blob_type,
            disposition: row.disposition,
            metadata: row.metadata_file.map(PathBuf::from),
            properties: row.properties_file.map(PathBuf::from),
        })
        .collect())
}

/// Drive targets and whether each formatted drive asks for confirmation.
fn targets(args: &PrepareArgs) -> anyhow::Result<Vec<(DriveTarget, bool)>> {
    let rows: Vec<(PathBuf, bool, bool, bool, Option<PathBuf>)> = match &args.driveset {
        Some(csv) => format::parse_driveset(&read_text(csv, "driveset CSV")?)
            .with_context(|| format!("driveset CSV {}", csv.display()))?
            .into_iter()
            .map(|r| {
                (
                    PathBuf::from(r.drive),
                    r.format,
                    !r.silent,
                    r.encrypt,
                    r.existing_key.map(PathBuf::from),
                )
            })
            .collect(),
        None => args
            .drive
            .iter()
            .map(|d| {
                (
                    d.clone(),
                    args.format,
                    true,
                    args.encrypt,
                    args.existing_key.clone(),
                )
            })
            .collect(),
    };
    if rows.len() != args.journal.len() {
        bail!(
            "{} drive(s) but {} --journal: give one journal per drive, in drive order",
            rows.len(),
            args.journal.len()
        );
    }
    Ok(rows
        .into_iter()
        .zip(&args.journal)
        .map(|((dir, format, prompt, encrypt, existing_key), journal)| {
            (
                DriveTarget {
                    dir,
                    journal: journal.clone(),
                    format,
                    encrypt,
                    existing_key,
                    drive_id: None,
                },
                format && prompt,
            )
        })
        .collect())
}

fn confirm_format(drives: &[PathBuf], ctx: &Context) -> anyhow::Result<()> {
    let list = drives
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    prompt::confirm(ctx.json, false, &format!("Format (erase everything in) {list}"))
}

fn prepare(args: PrepareArgs, ctx: &Context) -> anyhow::Result<()> {
    let passphrase = crate::shared::passphrase()?;
    let datasets = datasets(&args)?;
    let targets = targets(&args)?;
    let prompt_for: Vec<PathBuf> = targets
        .iter()
        .filter(|(_, prompt)| *prompt && !args.yes)
        .map(|(t, _)| t.dir.clone())
        .collect();
    let read_key = |path: &Option<PathBuf>, what: &str| {
        path.as_ref()
            .map(|p| {
                seedship_drive::read_recipient(p).with_context(|| format!("reading {what} {}", p.display()))
            })
            .transpose()
    };
    let formatted: Vec<PathBuf> = targets
        .iter()
        .filter(|(t, _)| t.format)
        .map(|(t, _)| t.dir.clone())
        .collect();
    seedship_agent::check_overlaps(&formatted, &[])?;
    let opts = PrepareOptions {
        session_id: args.session.clone(),
        datasets,
        listed: None,
        drives: targets.into_iter().map(|(t, _)| t).collect(),
        capacity: args.capacity,
        service_key: read_key(&args.service_key, "service key")?,
        recovery_key: read_key(&args.recovery_key, "recovery key")?,
        passphrase,
        not_a_mount_point: args.mount.not_a_mount_point,
        key_on_drive: args.key_on_drive,
    };
    let session = seedship_drive::plan(opts).context("checking the prepare request; nothing written")?;
    let plan = session.summary();
    if ctx.json {
        println!("{}", serde_json::json!({ "message_type": "plan", "plan": plan }));
    } else {
        println!(
            "session {}: {} files, {} bytes; {} bytes on drives; needs {} of {} drive(s)",
            plan.session_id, plan.files, plan.bytes, plan.stored_bytes, plan.drives_needed, plan.drives_given
        );
    }
    if !prompt_for.is_empty() && !plan.formats.is_empty() {
        confirm_format(&prompt_for, ctx)?;
    }
    drives::confirm_erase(ctx, &plan.formats, args.erase_existing_files)?;
    let summary = session
        .run(ctx.progress.as_ref())
        .context("copying; resume with `seedship drive resume`")?;
    drives::emit_copy(ctx, &summary)
}

fn verify(args: VerifyArgs, ctx: &Context) -> anyhow::Result<()> {
    let passphrase;
    let identity;
    let unlock = match &args.identity {
        Some(path) => {
            identity = seedship_drive::read_identity(path)
                .with_context(|| format!("reading private key {}", path.display()))?;
            seedship_drive::Unlock::Identity(&identity)
        }
        None => {
            passphrase = crate::shared::passphrase()?;
            seedship_drive::Unlock::Passphrase(&passphrase)
        }
    };
    let report = seedship_drive::verify(&args.journal, &args.drive, &unlock)
        .with_context(|| format!("verifying drive {}", args.drive.display()))?;
    let doc = serde_json::json!({ "message_type": "verify", "ok": report.is_ok(), "report": report });
    output::emit(ctx.json, &doc, || {
        let mut lines = Vec::new();
        for s in &report.sessions {
            lines.push(format!(
                "session {}: manifest {:?}, {} segments, {} ranges checked, {} problem(s)",
                s.session_id,
                s.manifest,
                s.segments,
                s.ranges,
                s.problems.len()
            ));
            for p in &s.problems {
                let ranges: Vec<String> = p
                    .bad_ranges
                    .iter()
                    .map(|r| format!("{} ({:?} at {})", r.index, r.status, r.file_offset))
                    .collect();
                lines.push(format!(
                    "  {:?}: {} -> {} [{}] ranges: {}",
                    p.status,
                    p.path,
                    p.dst,
                    p.drive_file.display(),
                    ranges.join(", ")
                ));
            }
        }
        lines.join("\n")
    })?;
    if report.is_ok() {
        Ok(())
    } else {
        Err(exit::Coded {
            code: exit::VERIFY_FAILED,
            message: format!("drive {} does not match its journal", args.drive.display()),
        }
        .into())
    }
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(flatten)]
    job: crate::args::JobTarget,
    /// The drive's journal (names the drive).
    #[arg(long, value_name = "FILE")]
    journal: PathBuf,
    /// The source directory the drive was prepared from.
    #[arg(long, value_name = "DIR")]
    srcdir: PathBuf,
}

#[derive(serde::Serialize)]
struct RepairedReport<'a> {
    message_type: &'static str,
    #[serde(flatten)]
    repaired: &'a seedship_ingest::Repaired,
}

/// `seedship drive repair`: re-sends the ranges the drive's error log names.
fn repair(args: &RepairArgs, ctx: &Context) -> anyhow::Result<()> {
    let (client, account) = args.job.open()?;
    let job = args.job.at(&client, &account);
    let repaired = seedship_ingest::repair(&job, &args.journal, &args.srcdir, ctx.progress.as_ref())?;
    let report = RepairedReport {
        message_type: "drive_repaired",
        repaired: &repaired,
    };
    output::emit(ctx.json, &report, || {
        format!(
            "repaired {} blob(s) of drive {}: {} range(s), {} bytes sent; drive {:?}, job {:?}",
            repaired.blobs,
            repaired.drive_id,
            repaired.ranges,
            repaired.bytes_sent,
            repaired.drive_state,
            repaired.job_state
        )
    })
}
