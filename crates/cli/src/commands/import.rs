//! `seedship import` (the data centre's side of an import job: `receive`, `erase`,
//! `ship-back`): clap definitions, rendering and exit codes; the work is `seedship-ingest`'s.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use seedship_ingest::{Erased, LOG_DIR, Received};
use serde::Serialize;

use crate::args::JobTarget;
use crate::exit::{Coded, IMPORT_INCOMPLETE};
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Receive drives at the data centre: verify each and copy it into the job's container.
    Receive(ReceiveArgs),
    /// Destroy a transferred drive's contents and record the erasure in the custody log.
    Erase(EraseArgs),
    /// Record that a drive of the job is not in the package (Specified -> NeverReceived).
    NeverReceived {
        #[command(flatten)]
        job: JobTarget,
        /// The drive's id, as the job lists it.
        #[arg(long, value_name = "ID")]
        drive_id: String,
    },
    /// Record that the job's drives went back to the customer (Packaging -> Completed or Closed).
    ShipBack {
        #[command(flatten)]
        job: JobTarget,
        /// Tracking number of the return package.
        #[arg(long)]
        tracking_number: String,
    },
}

#[derive(Debug, Args)]
pub struct ReceiveArgs {
    #[command(flatten)]
    job: JobTarget,
    /// A mounted drive of the job; repeat for every drive in the package.
    #[arg(long = "drive", required = true, value_name = "DIR")]
    drives: Vec<PathBuf>,
    /// The import service's private key (the server's `<data-dir>/import-service.key`).
    #[arg(long, value_name = "FILE")]
    identity: PathBuf,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    #[command(flatten)]
    job: JobTarget,
    /// The mounted drive to erase.
    #[arg(long, value_name = "DIR")]
    drive: PathBuf,
}

impl ImportCmd {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            ImportCmd::Receive(args) => receive(&args, ctx),
            ImportCmd::Erase(args) => erase(&args, ctx),
            ImportCmd::NeverReceived { job, drive_id } => {
                let (client, account) = job.open()?;
                let detail = seedship_ingest::never_received(&job.at(&client, &account), drive_id.clone())?;
                output::emit(ctx.json, &detail.summary, || {
                    format!(
                        "drive {drive_id} of job {} is NeverReceived; the job is {:?}",
                        job.job, detail.summary.state
                    )
                })
            }
            ImportCmd::ShipBack { job, tracking_number } => {
                let (client, account) = job.open()?;
                let detail = seedship_ingest::ship_back(&job.at(&client, &account), tracking_number)?;
                output::emit(ctx.json, &detail.summary, || {
                    format!("job {} is {:?}", job.job, detail.summary.state)
                })
            }
        }
    }
}

/// Prints a warning that does not stop the command.
fn warn(message: &str) {
    eprintln!("seedship: warning: {message}");
}

#[derive(Serialize)]
struct ReceiveReport<'a> {
    message_type: &'static str,
    #[serde(flatten)]
    received: &'a Received,
}

fn receive(args: &ReceiveArgs, ctx: &Context) -> anyhow::Result<()> {
    let (client, account) = args.job.open()?;
    let name = args.job.job.as_str();
    let received = seedship_ingest::receive(
        &args.job.at(&client, &account),
        &args.drives,
        &args.identity,
        ctx.progress.as_ref(),
        &warn,
    )?;
    let report = ReceiveReport {
        message_type: "import_received",
        received: &received,
    };
    output::emit(ctx.json, &report, || {
        let mut lines: Vec<String> = received
            .drives
            .iter()
            .map(|o| {
                let mut line = format!(
                    "drive {} ({}): {:?}, {:?}, {} blobs ({} failed), {} bytes; logs {LOG_DIR}/{} and {LOG_DIR}/{}",
                    o.drive_id,
                    o.dir.display(),
                    o.state,
                    o.status,
                    o.blobs,
                    o.blobs_failed,
                    o.bytes,
                    o.copy_log,
                    o.error_log
                );
                if let Some(error) = &o.error {
                    line.push_str(&format!("\n  {error}"));
                }
                line
            })
            .collect();
        lines.push(format!("job {name} is {:?}", received.job_state));
        lines.join("\n")
    })?;
    let incomplete = received.incomplete();
    if incomplete > 0 {
        return Err(Coded {
            code: IMPORT_INCOMPLETE,
            message: format!(
                "{incomplete} drive(s) of job {name} finished with errors; see `seedship job logs {name}`"
            ),
        }
        .into());
    }
    Ok(())
}

#[derive(Serialize)]
struct ErasedReport<'a> {
    message_type: &'static str,
    #[serde(flatten)]
    erased: &'a Erased,
}

/// Overwrites every file of the drive with zeros, removes it, and records the erasure.
fn erase(args: &EraseArgs, ctx: &Context) -> anyhow::Result<()> {
    let (client, account) = args.job.open()?;
    let erased = seedship_ingest::erase(&args.job.at(&client, &account), &args.drive)?;
    let report = ErasedReport {
        message_type: "drive_erased",
        erased: &erased,
    };
    output::emit(ctx.json, &report, || {
        format!(
            "erased drive {} ({}): {} files, {} bytes overwritten; recorded in the custody log",
            erased.drive_id,
            erased.dir.display(),
            erased.files,
            erased.record.bytes_overwritten
        )
    })
}
