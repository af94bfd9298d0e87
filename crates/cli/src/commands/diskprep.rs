//! `seedship diskprep`: the AzureOfflineBackupDiskPrep equivalent for a staging location.
//! Prepares drives from `<staging>/<job>/repository` (journals in `<staging>/<job>/journals/`),
//! creates the import job, records the shipping details (`--ship`) and shows the job
//! (`--status`). Every question has a flag; see [`crate::prompt`].

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use seedship_agent::{CopyOptions, JobDetails, JobDir, Operator, ShippingRecord, StagedJob};
use seedship_api::{Client, ClientError, JobDetail};
use seedship_drive::PlanSummary;

use crate::drives::{MountArgs, confirm_erase, emit_copy};
use crate::jobs::{emit_detail, parse_ship_date, read_spec, ship_action};
use crate::shared::{connect, passphrase};
use crate::{Context, exit, output, prompt};

#[derive(Debug, Args)]
pub struct DiskprepArgs {
    /// Staging location of the offline policy (`seedship policy set --staging`).
    #[arg(long, value_name = "DIR", required_unless_present = "details_template")]
    staging: Option<PathBuf>,
    /// Print a complete example of the job details file (`--details`) and exit.
    #[arg(long, exclusive = true)]
    details_template: bool,
    /// Import job of the staging location (asked for when there are several).
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Account owner credentials file (asked for when missing).
    #[arg(long, env = "SEEDSHIP_CREDENTIALS", value_name = "FILE")]
    credentials: Option<PathBuf>,
    /// Drive directory to erase and fill, in order; repeat (asked for when missing, and when
    /// the given drives are full).
    #[arg(long, value_name = "DIR")]
    drive: Vec<PathBuf>,
    /// Capacity of each drive, instead of its file system's free space: bytes, or with a
    /// suffix K, M, G, T (powers of 1024; 10G = 10GiB = 10GB).
    #[arg(long, value_name = "SIZE", value_parser = seedship_progress::parse_size)]
    capacity: Option<u64>,
    #[command(flatten)]
    mount: MountArgs,
    /// JSON job details as for `seedship job create --spec`: region, contact,
    /// return_shipping (name, destination and drives come from the staging; asked for when missing).
    #[arg(long, value_name = "FILE")]
    details: Option<PathBuf>,
    /// Do not ask before erasing the drives or recording the shipment.
    #[arg(long)]
    yes: bool,
    /// Also erase a drive directory that holds files but no seedship drive marker (otherwise
    /// asked on a terminal after showing what it holds; --yes is not enough).
    #[arg(long)]
    erase_existing_files: bool,
    /// Record the shipping details of the prepared job (Creating -> Shipping).
    #[arg(long, conflicts_with_all = ["drive", "capacity", "details", "erase_existing_files", "status"])]
    ship: bool,
    /// With --ship: the carrier (asked for when missing).
    #[arg(long, requires = "ship")]
    carrier: Option<String>,
    /// With --ship: the tracking number (asked for when missing).
    #[arg(long, requires = "ship")]
    tracking_number: Option<String>,
    /// With --ship: the ship date, YYYY-MM-DD (asked for when missing).
    #[arg(long, requires = "ship", value_parser = parse_ship_date)]
    ship_date: Option<String>,
    /// With --ship: drives in the package (default: the prepared drives).
    #[arg(long, requires = "ship")]
    drive_count: Option<u32>,
    /// Show the job's and its drives' states.
    #[arg(long, conflicts_with_all = ["drive", "capacity", "details", "erase_existing_files", "yes"])]
    status: bool,
}

/// A complete job details file (`--details-template`); docs/cli.md shows the same.
const DETAILS_TEMPLATE: &str = r#"{
  "region": "local",
  "contact": {"name": "Ann Operator", "email": "ann@example.com", "phone": "+31 20 000 0000"},
  "return_shipping": {
    "carrier": "DHL",
    "account_number": "123456",
    "address": {
      "recipient": "Ann Operator",
      "street": ["1 Backup Lane"],
      "city": "Amsterdam",
      "postal_code": "1000 AA",
      "country": "NL",
      "phone": "+31 20 000 0000"
    }
  }
}"#;

pub fn run(args: DiskprepArgs, ctx: &Context) -> anyhow::Result<()> {
    let Some(staging) = &args.staging else {
        println!("{DETAILS_TEMPLATE}");
        return Ok(());
    };
    let dir = pick_job(&args, staging, ctx)?;
    let staged = dir
        .staged()?
        .with_context(|| format!("{} holds no completed initial backup", dir.path().display()))?;
    let credentials = prompt::path_or_ask(
        ctx.json,
        args.credentials.as_deref(),
        "--credentials",
        "Account owner credentials file:",
    )?;
    let (client, _) = connect(&credentials)?;
    if args.status {
        return status(ctx, &client, &staged, &dir);
    }
    if args.ship {
        return ship(ctx, &args, &client, &staged, &dir);
    }
    prepare(ctx, &args, &client, &staged, &dir)
}

/// The job directory: `--job`, the only staged job, or the one the user picks.
fn pick_job(args: &DiskprepArgs, staging: &Path, ctx: &Context) -> anyhow::Result<JobDir> {
    let Some(jobs) = seedship_agent::staged_jobs(staging)? else {
        return Err(exit::not_found(format!(
            "staging location {} does not exist (a disk or share not mounted?)",
            staging.display()
        )));
    };
    let name = match (&args.job, jobs.as_slice()) {
        (Some(job), _) if jobs.contains(job) => job.clone(),
        (Some(job), _) => {
            return Err(exit::not_found(format!(
                "--job {job}: no initial backup staged for it in {} (staged: {})",
                staging.display(),
                if jobs.is_empty() {
                    "none".to_owned()
                } else {
                    jobs.join(", ")
                }
            )));
        }
        (None, []) => {
            return Err(exit::not_found(format!(
                "no initial backup staged in {}: run `seedship backup` with the offline policy first",
                staging.display()
            )));
        }
        (None, [only]) => only.clone(),
        (None, several) => {
            let answer = prompt::ask(
                ctx.json,
                "--job",
                &format!("Import jobs staged here: {}. Which one?", several.join(", ")),
            )?;
            anyhow::ensure!(
                several.contains(&answer),
                "{answer:?} is none of the staged jobs ({})",
                several.join(", ")
            );
            answer
        }
    };
    Ok(JobDir::new(staging, &name))
}

/// The job on the server, `None` if it was not created yet.
fn server_job(client: &Client, staged: &StagedJob) -> anyhow::Result<Option<JobDetail>> {
    match client.job(&staged.account, &staged.job) {
        Ok(detail) => Ok(Some(detail)),
        Err(ClientError::Api { status: 404, .. }) => Ok(None),
        Err(err) => Err(err).with_context(|| format!("looking up import job {}", staged.job)),
    }
}

fn prepare(
    ctx: &Context,
    args: &DiskprepArgs,
    client: &Client,
    staged: &StagedJob,
    dir: &JobDir,
) -> anyhow::Result<()> {
    if let Some(detail) = server_job(client, staged)? {
        if !ctx.json {
            println!("import job {} already exists; nothing prepared", staged.job);
        }
        return emit_detail(ctx, &detail);
    }
    // Everything the job needs is checked before the first byte on a drive is erased: the
    // details file, the credentials, the server, the destination container (a dry run of
    // the job's creation, every rule but the drives, which are not prepared yet).
    let details_file = prompt::path_or_ask(
        ctx.json,
        args.details.as_deref(),
        "--details",
        "Job details file (JSON: region, contact, return_shipping; `seedship diskprep --details-template` prints one):",
    )?;
    let details: JobDetails = serde_json::from_value(read_spec(&details_file)?).with_context(|| {
        format!(
            "job details {} (`seedship diskprep --details-template` prints a complete example)",
            details_file.display()
        )
    })?;
    client
        .check_job(&details.job_spec(staged, Vec::new()))
        .with_context(|| {
            format!(
                "checking import job {} with details {}",
                staged.job,
                details_file.display()
            )
        })?;
    let mut journals = dir.journals();
    if journals.is_empty() {
        journals = copy_to_drives(ctx, args, client, staged, dir)?;
    } else {
        finish_copy(ctx, dir, &journals)?;
    }
    let spec = details.job_spec(staged, seedship_agent::drive_specs(&journals)?);
    let detail = client
        .create_job(&spec)
        .with_context(|| format!("creating import job {}", staged.job))?;
    emit_detail(ctx, &detail)?;
    if !ctx.json {
        println!(
            "next: check each drive with `seedship drive verify --journal <JOURNAL> --drive <DIR>` \
             (journals in {}), ship them, then record the shipment with `seedship diskprep \
             --staging {} --ship`",
            dir.journals_dir().display(),
            dir.path().parent().unwrap_or(dir.path()).display()
        );
    }
    Ok(())
}

/// Erases the drives and copies the staged repository onto them; returns their journals.
fn copy_to_drives(
    ctx: &Context,
    args: &DiskprepArgs,
    client: &Client,
    staged: &StagedJob,
    dir: &JobDir,
) -> anyhow::Result<Vec<PathBuf>> {
    let service_key = client
        .service_key()
        .context("fetching the import service's key")?;
    let service_key =
        seedship_drive::parse_recipient(&service_key).context("the import service's key from the server")?;
    let sweep = seedship_agent::sweep_staged(dir)?;
    if !sweep.removed.is_empty() {
        eprintln!(
            "removed {} temporary file(s), {} bytes, that interrupted backups left in {}",
            sweep.removed.len(),
            sweep.removed_bytes,
            dir.repository().display()
        );
    }
    let passphrase = passphrase()?;
    let mut drives = args.drive.clone();
    if drives.is_empty() {
        drives.push(ask_drive(ctx, "Drive directory to erase and use:")?);
    }
    let options = CopyOptions {
        drives,
        capacity: args.capacity,
        service_key,
        passphrase,
        not_a_mount_point: args.mount.not_a_mount_point,
    };
    let mut operator = Asking { ctx, args };
    let (summary, journals) =
        seedship_agent::copy_to_drives(staged, dir, options, ctx.progress.as_ref(), &mut operator)?;
    emit_copy(ctx, &summary)?;
    Ok(journals)
}

/// The questions of a copy onto drives, asked on the terminal (or answered by flags).
struct Asking<'a> {
    ctx: &'a Context,
    args: &'a DiskprepArgs,
}

impl Operator for Asking<'_> {
    type Error = anyhow::Error;

    fn another_drive(&mut self, needed: usize, given: usize) -> anyhow::Result<PathBuf> {
        if !self.ctx.json {
            eprintln!("the staged backup needs {needed} drive(s); {given} given");
        }
        ask_drive(self.ctx, "The drives are full. Another drive directory:")
    }

    fn confirm_copy(&mut self, plan: &PlanSummary, used: &[PathBuf]) -> anyhow::Result<()> {
        let ctx = self.ctx;
        let shown: Vec<String> = used.iter().map(|d| d.display().to_string()).collect();
        if ctx.json {
            println!("{}", serde_json::json!({ "message_type": "plan", "plan": plan }));
        } else {
            println!(
                "{} files, {} bytes of the staged backup; {} bytes on {} drive(s): {}",
                plan.files,
                plan.bytes,
                plan.stored_bytes,
                plan.drives_needed,
                shown.join(", ")
            );
        }
        confirm_erase(ctx, used, self.args.erase_existing_files)?;
        prompt::confirm(
            ctx.json,
            self.args.yes,
            &format!(
                "Erase everything in {} and copy the backup onto it",
                shown.join(", ")
            ),
        )
    }
}

/// A copy onto the drives that stopped part-way (crash, power loss, full disk) is finished
/// from its journals, where it stopped; nothing already on the drives is erased.
fn finish_copy(ctx: &Context, dir: &JobDir, journals: &[PathBuf]) -> anyhow::Result<()> {
    let unfinished = seedship_agent::unfinished(journals)?;
    if unfinished == 0 {
        if !ctx.json {
            println!(
                "drives already prepared ({} journal(s) in {}); creating the job",
                journals.len(),
                dir.journals_dir().display()
            );
        }
        return Ok(());
    }
    if !ctx.json {
        println!(
            "the copy onto {unfinished} of {} drive(s) stopped before it finished; resuming it \
             (journals in {})",
            journals.len(),
            dir.journals_dir().display()
        );
    }
    let summary =
        seedship_drive::resume(journals, &passphrase()?, ctx.progress.as_ref()).with_context(|| {
            format!(
                "resuming the copy onto the drives (to start over instead: `seedship drive abort` \
                 with --journal for each, remove {}, then diskprep again)",
                dir.journals_dir().display()
            )
        })?;
    emit_copy(ctx, &summary)
}

fn ask_drive(ctx: &Context, question: &str) -> anyhow::Result<PathBuf> {
    let answer = prompt::ask(ctx.json, "--drive", question)?;
    anyhow::ensure!(!answer.is_empty(), "no drive given");
    Ok(PathBuf::from(answer))
}

fn ship(
    ctx: &Context,
    args: &DiskprepArgs,
    client: &Client,
    staged: &StagedJob,
    dir: &JobDir,
) -> anyhow::Result<()> {
    let value = |given: &Option<String>, flag: &str, question: &str| match given {
        Some(value) => Ok(value.clone()),
        None => prompt::ask(ctx.json, flag, question),
    };
    let carrier = value(&args.carrier, "--carrier", "Carrier:")?;
    let tracking = value(&args.tracking_number, "--tracking-number", "Tracking number:")?;
    let date = value(&args.ship_date, "--ship-date", "Ship date (YYYY-MM-DD):")?;
    let date = parse_ship_date(&date).map_err(exit::usage)?;
    let prepared = u32::try_from(dir.journals().len()).context("too many journals")?;
    let count = args.drive_count.unwrap_or(prepared);
    // The same action twice: reviewed (dry run, nothing recorded), then recorded.
    let ship = |dry_run: bool| -> anyhow::Result<JobDetail> {
        let action = ship_action(&carrier, &tracking, &date, count, dry_run)?;
        Ok(client.job_action(&staged.account, &staged.job, &action)?)
    };
    if !args.yes {
        let review =
            ship(true).with_context(|| format!("checking the shipment of import job {}", staged.job))?;
        emit_detail(ctx, &review)?;
        eprintln!("{count} drive(s) in the package");
    }
    prompt::confirm(
        ctx.json,
        args.yes,
        &format!("Record this shipment of import job {}", staged.job),
    )?;
    let detail =
        ship(false).with_context(|| format!("recording the shipment of import job {}", staged.job))?;
    let shipping = detail
        .job
        .shipping()
        .context("the server recorded no shipping information")?;
    dir.record_shipping(&ShippingRecord {
        account: staged.account.clone(),
        job: staged.job.clone(),
        shipping: shipping.clone(),
    })?;
    emit_detail(ctx, &detail)
}

fn status(ctx: &Context, client: &Client, staged: &StagedJob, dir: &JobDir) -> anyhow::Result<()> {
    match server_job(client, staged)? {
        Some(detail) => emit_detail(ctx, &detail),
        None => {
            let journals = dir.journals().len();
            let doc = serde_json::json!({
                "message_type": "status", "job": staged.job, "created": false, "drives_prepared": journals,
            });
            output::emit(ctx.json, &doc, || {
                format!(
                    "import job {} not created yet; {journals} drive(s) prepared; run `seedship diskprep --staging {}`",
                    staged.job,
                    dir.path().parent().unwrap_or(dir.path()).display()
                )
            })
        }
    }
}
