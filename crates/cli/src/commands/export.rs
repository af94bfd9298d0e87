//! `seedship export` (the data centre's side of an export job: `write`): clap definitions,
//! rendering and exit codes; the work is `seedship-export`'s.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use seedship_export::{WriteOptions, Written};
use seedship_jobs::DriveState;
use serde::Serialize;

use crate::args::JobTarget;
use crate::backups::bytes;
use crate::exit::{Coded, VERIFY_FAILED};
use crate::{Context, output, shared};

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Record the arrival of the owner's blank drives (each joins the job in Received).
    Receive {
        #[command(flatten)]
        job: JobTarget,
        /// The id the blank drive is labelled with (32 lowercase hex digits); repeat per drive.
        #[arg(long = "drive-id", required = true, value_name = "ID", value_parser = drive_id_arg)]
        drive_ids: Vec<String>,
    },
    /// Write an export job's vault onto the owner's blank drives (resumes an interrupted write).
    Write(WriteArgs),
    /// Roll an interrupted write back (the drives' session and key file, the journals) so that
    /// the next `export write` starts again.
    Abort(WriteTarget),
}

/// The job and the drives of a write, as `export write` and `export abort` take them.
#[derive(Debug, Args)]
pub struct WriteTarget {
    #[command(flatten)]
    job: JobTarget,
    /// A received blank drive: the drive id it was received under and its mounted directory
    /// (`ID=DIR`); repeat for every drive, in filling order.
    #[arg(long = "drive", required = true, value_name = "ID=DIR", value_parser = drive_arg)]
    drives: Vec<(String, PathBuf)>,
    /// Directory of the drives' journals (kept off the drives; `<job>.<drive id>.jrn`).
    #[arg(long, value_name = "DIR")]
    journal_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    #[command(flatten)]
    target: WriteTarget,
    /// Capacity per drive instead of the file system's free space.
    #[arg(long, value_name = "SIZE", value_parser = seedship_progress::parse_size)]
    capacity: Option<u64>,
    /// Accept drive directories that are not mount points (tests, loop files).
    #[arg(long)]
    not_a_mount_point: bool,
}

/// A drive id: 32 lowercase hex digits.
fn drive_id_arg(id: &str) -> Result<String, String> {
    if id.len() != 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!("{id:?}: a drive id is 32 lowercase hex digits"));
    }
    Ok(id.to_owned())
}

/// `ID=DIR`.
fn drive_arg(text: &str) -> Result<(String, PathBuf), String> {
    let (id, dir) = text.split_once('=').ok_or_else(|| {
        format!("{text:?}: expected ID=DIR (the drive id it was received under, then its directory)")
    })?;
    if dir.is_empty() {
        return Err(format!("{text:?}: the directory is missing"));
    }
    Ok((drive_id_arg(id)?, PathBuf::from(dir)))
}

impl ExportCmd {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            ExportCmd::Write(args) => write(&args, ctx),
            ExportCmd::Abort(target) => {
                let (client, account) = target.job.open()?;
                let aborted = seedship_export::abort(
                    &target.job.at(&client, &account),
                    &target.drives,
                    &target.journal_dir,
                )?;
                let report = AbortReport {
                    message_type: "export_aborted",
                    aborted: &aborted,
                };
                output::emit(ctx.json, &report, || {
                    format!(
                        "job {}: {} journal(s) removed, {} drive(s) rolled back; export write starts again",
                        aborted.job,
                        aborted.journals.len(),
                        aborted.drives.len()
                    )
                })
            }
            ExportCmd::Receive { job, drive_ids } => {
                let (client, account) = job.open()?;
                let detail = seedship_export::receive_blank(&job.at(&client, &account), &drive_ids)?;
                output::emit(ctx.json, &detail.summary, || {
                    format!(
                        "job {} is {:?}: {} blank drive(s) received",
                        job.job,
                        detail.summary.state,
                        drive_ids.len()
                    )
                })
            }
        }
    }
}

#[derive(Serialize)]
struct AbortReport<'a> {
    message_type: &'static str,
    #[serde(flatten)]
    aborted: &'a seedship_export::Aborted,
}

#[derive(Serialize)]
struct WriteReport<'a> {
    message_type: &'static str,
    #[serde(flatten)]
    written: &'a Written,
}

fn write(args: &WriteArgs, ctx: &Context) -> anyhow::Result<()> {
    let (client, account) = args.target.job.open()?;
    let options = WriteOptions {
        drives: args.target.drives.clone(),
        journal_dir: args.target.journal_dir.clone(),
        passphrase: shared::passphrase()?,
        capacity: args.capacity,
        not_a_mount_point: args.not_a_mount_point,
    };
    std::fs::create_dir_all(&options.journal_dir)
        .map_err(|e| anyhow::anyhow!("journal directory {}: {e}", options.journal_dir.display()))?;
    let warn = |message: &str| eprintln!("seedship: warning: {message}");
    let written = seedship_export::write(
        &args.target.job.at(&client, &account),
        &options,
        ctx.progress.as_ref(),
        &warn,
    )?;
    let report = WriteReport {
        message_type: "export_written",
        written: &written,
    };
    output::emit(ctx.json, &report, || {
        let mut lines = vec![format!(
            "job {}: {} objects, {}",
            written.job,
            written.objects,
            bytes(written.bytes)
        )];
        if let Some(copy) = &written.copy {
            lines.push(format!(
                "wrote {} in {:.1} s ({}/s), {} already on the drives",
                bytes(copy.counters.bytes_written),
                copy.seconds,
                bytes(copy.bytes_per_second as u64),
                bytes(copy.counters.bytes_skipped + copy.counters.bytes_adopted)
            ));
        }
        for d in &written.drives {
            lines.push(format!(
                "drive {} ({}): {:?}, {:?}, {} objects, {}{}",
                d.drive_id,
                d.dir.display(),
                d.state,
                d.status,
                d.objects,
                bytes(d.bytes),
                if d.written_now { "" } else { " (written earlier)" }
            ));
        }
        lines.push(format!("job {} is {:?}", written.job, written.job_state));
        lines.join("\n")
    })?;
    let bad: Vec<&str> = written
        .drives
        .iter()
        .filter(|d| d.state == DriveState::CompletedMoreInfo)
        .map(|d| d.drive_id.as_str())
        .collect();
    if !bad.is_empty() {
        return Err(Coded {
            code: VERIFY_FAILED,
            message: format!(
                "drive(s) {} failed verification after writing; see `seedship job logs {}`",
                bad.join(", "),
                written.job
            ),
        }
        .into());
    }
    Ok(())
}
