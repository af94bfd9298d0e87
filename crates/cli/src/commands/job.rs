//! `seedship job ...`: the import/export jobs of an account on the server.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{ArgGroup, Args, Subcommand};
use seedship_api::{Client, JobAction};
use seedship_jobs::{Address, JobSpec, JobType, JobUpdate};
use time::format_description::well_known::Rfc3339;

use super::job_export::{self, ExportArgs, PreviewArgs};
use crate::jobs::{self, emit_detail, parse_ship_date, read_spec, ship_action};
use crate::shared::connect;
use crate::{Context, exit, output};

#[derive(Debug, Subcommand)]
pub enum JobCmd {
    /// Create an import or export job from a JSON job specification (the answer names the
    /// shipping address).
    Create {
        #[command(flatten)]
        target: CredentialsArg,
        /// JSON file of the job (name, destination, region, contact, return shipping, drives;
        /// an export's has no destination or drives).
        #[arg(long)]
        spec: PathBuf,
        /// Import: drives carry data in. Export: blank drives carry a vault (or snapshots of
        /// it) back; give --vault and --owner-key.
        #[arg(long = "type", value_enum, default_value_t = JobKind::Import)]
        job_type: JobKind,
        /// Take the drives from these journals (drive id, key wrapped to the import service,
        /// manifest hash, bytes) instead of the spec's `drives`; once per drive.
        #[arg(long, value_name = "FILE")]
        journal: Vec<PathBuf>,
        #[command(flatten)]
        export: ExportArgs,
    },
    /// How many bytes and blank drives an export needs (Import/Export's PreviewExport): the
    /// whole vault computed by the server, a snapshot selection on this machine (it needs the
    /// repository password, which the server does not hold).
    PreviewExport {
        #[command(flatten)]
        target: CredentialsArg,
        #[command(flatten)]
        preview: PreviewArgs,
    },
    /// Show a job: states, drives, progress, deadline.
    Show(JobArg),
    /// List the account's jobs (an operator sees every job).
    List {
        #[command(flatten)]
        target: CredentialsArg,
    },
    /// Record the shipping information (Creating -> Shipping); `--dry-run` only reviews it.
    Ship {
        #[command(flatten)]
        job: JobArg,
        /// The carrier that takes the package.
        #[arg(long)]
        carrier: String,
        /// The package's tracking number with that carrier.
        #[arg(long)]
        tracking_number: String,
        /// The day the package left, `YYYY-MM-DD`.
        #[arg(long, value_parser = parse_ship_date)]
        ship_date: String,
        /// Drives in the package; must match the job.
        #[arg(long)]
        drive_count: u32,
        /// Check every rule and print what would be recorded, changing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Correct the shipping details (while Shipping) or the contact and return address
    /// (until the job ended); each correction is an entry in the custody log.
    #[command(group(
        ArgGroup::new("change")
            .required(true)
            .multiple(true)
            .args(["carrier", "tracking_number", "ship_date", "contact_name", "contact_email", "contact_phone", "return_address"])
    ))]
    Update {
        #[command(flatten)]
        job: JobArg,
        /// The carrier that took the package.
        #[arg(long)]
        carrier: Option<String>,
        /// The package's tracking number (no other job may have it).
        #[arg(long)]
        tracking_number: Option<String>,
        /// The day the package left, `YYYY-MM-DD`.
        #[arg(long, value_parser = parse_ship_date)]
        ship_date: Option<String>,
        /// The contact's name (the rest of the contact stays).
        #[arg(long)]
        contact_name: Option<String>,
        /// The contact's e-mail address.
        #[arg(long)]
        contact_email: Option<String>,
        /// The contact's phone number.
        #[arg(long)]
        contact_phone: Option<String>,
        /// JSON file of the whole return address (recipient, street, city, postal_code,
        /// country, phone), as in the job spec's `return_shipping.address`.
        #[arg(long, value_name = "FILE")]
        return_address: Option<PathBuf>,
    },
    /// Cancel a job whose drives were not received yet.
    Cancel(JobArg),
    /// Print the copy and error logs of the transferred drives.
    Logs(JobArg),
    /// Print and verify the job's hash-chained custody log.
    Custody(JobArg),
    /// Delete every blob the job imported (its destination prefix in the container), once the
    /// job has ended and the vault no longer needs them (no seed reads them); recorded in the
    /// custody log. The job's copy and error logs stay.
    DeleteImported {
        #[command(flatten)]
        job: JobArg,
        /// Delete without asking (needed without a terminal).
        #[arg(long)]
        yes: bool,
    },
}

/// `--type` of `job create`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JobKind {
    Import,
    Export,
}

#[derive(Debug, Args)]
pub struct CredentialsArg {
    /// Account owner or operator credentials file.
    #[arg(long, env = "SEEDSHIP_CREDENTIALS", value_name = "FILE")]
    credentials: PathBuf,
}

#[derive(Debug, Args)]
pub struct JobArg {
    /// The job's name.
    #[arg(long = "job", value_name = "NAME", required_unless_present = "name")]
    job: Option<String>,
    /// The job's name without --job (the earlier spelling, still accepted).
    #[arg(value_name = "NAME", hide = true, conflicts_with = "job")]
    name: Option<String>,
    #[command(flatten)]
    target: CredentialsArg,
    /// The job's account (default: the account of the credentials).
    #[arg(long)]
    account: Option<String>,
}

impl JobArg {
    /// The job's name, from `--job` or the earlier positional spelling.
    fn name(&self) -> &str {
        self.job.as_deref().or(self.name.as_deref()).unwrap_or_default()
    }

    fn open(&self) -> anyhow::Result<(Client, String)> {
        let (client, own) = connect(&self.target.credentials)?;
        let account = self
            .account
            .clone()
            .or(own)
            .context("operators name the job's account with --account")?;
        Ok((client, account))
    }
}

impl JobCmd {
    pub fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            JobCmd::Create {
                target,
                spec,
                job_type,
                journal,
                export,
            } => {
                let mut value = read_spec(&spec)?;
                if !journal.is_empty() {
                    if job_type == JobKind::Export {
                        return Err(exit::usage(
                            "--journal names an import's drives; an export's blank drives have none"
                                .to_owned(),
                        ));
                    }
                    value["drives"] = serde_json::to_value(seedship_agent::drive_specs(&journal)?)?;
                }
                let mut spec: JobSpec =
                    serde_json::from_value(value).with_context(|| format!("job spec {}", spec.display()))?;
                match job_type {
                    JobKind::Export => {
                        spec.job_type = JobType::Export;
                        spec.export = Some(export.spec(ctx)?);
                    }
                    JobKind::Import if export.owner_key.is_some() || export.selection.vault().is_ok() => {
                        return Err(exit::usage(
                            "--vault and --owner-key are for --type export".to_owned(),
                        ));
                    }
                    JobKind::Import => {}
                }
                let (client, _) = connect(&target.credentials)?;
                emit_detail(ctx, &client.create_job(&spec)?)
            }
            JobCmd::PreviewExport { target, preview } => {
                let (client, _) = connect(&target.credentials)?;
                job_export::preview(&preview, &client, ctx)
            }
            JobCmd::Show(job) => {
                let (client, account) = job.open()?;
                emit_detail(ctx, &client.job(&account, job.name())?)
            }
            JobCmd::List { target } => {
                let (client, _) = connect(&target.credentials)?;
                let jobs = client.jobs()?;
                output::emit(ctx.json, &jobs, || {
                    jobs.iter().map(jobs::summary_line).collect::<Vec<_>>().join("\n")
                })
            }
            JobCmd::Ship {
                job,
                carrier,
                tracking_number,
                ship_date,
                drive_count,
                dry_run,
            } => {
                let action = ship_action(&carrier, &tracking_number, &ship_date, drive_count, dry_run)?;
                let (client, account) = job.open()?;
                emit_detail(ctx, &client.job_action(&account, job.name(), &action)?)
            }
            JobCmd::Update {
                job,
                carrier,
                tracking_number,
                ship_date,
                contact_name,
                contact_email,
                contact_phone,
                return_address,
            } => {
                let (client, account) = job.open()?;
                let contact_given =
                    contact_name.is_some() || contact_email.is_some() || contact_phone.is_some();
                let contact = if contact_given {
                    let mut contact = client.job(&account, job.name())?.job.contact().clone();
                    contact.name = contact_name.unwrap_or(contact.name);
                    contact.email = contact_email.unwrap_or(contact.email);
                    contact.phone = contact_phone.unwrap_or(contact.phone);
                    Some(contact)
                } else {
                    None
                };
                let return_address = return_address
                    .map(|file| -> anyhow::Result<Address> {
                        let value = read_spec(&file)?;
                        serde_json::from_value(value)
                            .with_context(|| format!("return address {}", file.display()))
                    })
                    .transpose()?;
                let update = JobUpdate {
                    carrier,
                    tracking_number,
                    ship_date: ship_date.as_deref().map(jobs::date).transpose()?,
                    contact,
                    return_address,
                };
                emit_detail(
                    ctx,
                    &client.job_action(&account, job.name(), &JobAction::Update { update })?,
                )
            }
            JobCmd::Cancel(job) => {
                let (client, account) = job.open()?;
                let action: JobAction = serde_json::from_value(serde_json::json!({"action": "cancel"}))?;
                emit_detail(ctx, &client.job_action(&account, job.name(), &action)?)
            }
            JobCmd::Logs(job) => {
                let (client, account) = job.open()?;
                let logs = client.job_logs(&account, job.name())?;
                output::emit(ctx.json, &logs, || {
                    logs.iter()
                        .map(|l| {
                            format!(
                                "{}: {:?}, {} problem(s)",
                                l.drive_id,
                                l.copy_log.status,
                                l.error_log.blobs.len()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }
            JobCmd::DeleteImported { job, yes } => {
                let (client, account) = job.open()?;
                let name = job.name();
                crate::prompt::confirm(ctx.json, yes, &format!("Delete every blob job {name} imported"))?;
                let deleted = client
                    .delete_imported(&account, name)
                    .with_context(|| format!("deleting the blobs job {name} imported"))?;
                output::emit(ctx.json, &deleted, || {
                    format!(
                        "deleted {} blob(s), {} bytes, under {}/ (job {name}; recorded in its custody log)",
                        deleted.blobs, deleted.bytes, deleted.prefix
                    )
                })
            }
            JobCmd::Custody(job) => {
                let (client, account) = job.open()?;
                let report = client.job_custody(&account, job.name())?;
                output::emit(ctx.json, &report, || {
                    let mut lines: Vec<String> = report
                        .entries
                        .iter()
                        .map(|entry| {
                            let at = entry.at.format(&Rfc3339).unwrap_or_default();
                            format!("{:>4}  {at}  {}: {}", entry.seq, entry.actor, entry.event)
                        })
                        .collect();
                    lines.push(format!(
                        "{} entries, head {}: {}",
                        report.entries.len(),
                        report.head,
                        report.error.as_deref().unwrap_or("verified")
                    ));
                    lines.join("\n")
                })?;
                anyhow::ensure!(
                    report.verified,
                    "custody log of job {} does not verify",
                    job.name()
                );
                Ok(())
            }
        }
    }
}
