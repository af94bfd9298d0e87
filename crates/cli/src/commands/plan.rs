//! `seedship plan`: the seeding advisor. Whether offline seeding pays off for some paths, how
//! many drives and how much staging space it needs, before anything is written. The uplink is
//! given, or measured against the registered agent's vault server (`--measure`).

use crate::{Context, args::ExcludeArgs, backups::bytes, output, shared};
use anyhow::Context as _;
use clap::Args;
use seedship_agent::{
    IMPORT_DAYS, MAX_MEASURE_SECONDS, MEASURE_SECONDS, Plan, PlanOptions, SHIPPING_DAYS, Uplink,
    UplinkSource, Way,
};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Files and directories the backup would take.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The uplink to the vault: bits (50Mbit/s, 1Gbit/s, 100Mbps; powers of 1000) or bytes
    /// (10MB/s; powers of 1024) per second.
    #[arg(long, value_name = "RATE", default_value = "50Mbit/s", value_parser = seedship_agent::parse_rate)]
    uplink: f64,
    /// Measure the uplink instead of --uplink: upload incompressible bytes to the registered
    /// agent's vault server for SECONDS (1 to 60; 10 without a value) and go by the rate the
    /// connection carried. Put it after the PATHs (or write --measure=SECONDS).
    #[arg(
        long,
        value_name = "SECONDS",
        num_args = 0..=1,
        conflicts_with = "uplink",
        value_parser = clap::value_parser!(u64).range(1..=MAX_MEASURE_SECONDS)
    )]
    measure: Option<Option<u64>>,
    /// With --measure: the agent configuration directory whose vault server is measured
    /// (default as `seedship agent register`).
    #[arg(long, value_name = "DIR", requires = "measure")]
    config_dir: Option<PathBuf>,
    /// Capacity of one drive.
    #[arg(long, value_name = "SIZE", default_value = "8T", value_parser = seedship_progress::parse_size)]
    drive_size: u64,
    /// Days the drives travel to the data centre.
    #[arg(long, value_name = "DAYS", default_value_t = SHIPPING_DAYS)]
    shipping_days: f64,
    /// Days from the drives' arrival to the vault seeded.
    #[arg(long, value_name = "DAYS", default_value_t = IMPORT_DAYS)]
    import_days: f64,
    /// Upper bound of the compression and deduplication sample (1% of the data, at least
    /// 64 MiB, at most this).
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = seedship_progress::parse_size)]
    sample_size: u64,
    #[command(flatten)]
    excludes: ExcludeArgs,
}

pub fn run(args: PlanArgs, ctx: &Context) -> anyhow::Result<()> {
    for (flag, days) in [
        ("--shipping-days", args.shipping_days),
        ("--import-days", args.import_days),
    ] {
        if !(days.is_finite() && days >= 0.0) {
            return Err(crate::exit::usage(format!(
                "{flag} {days}: must be a number of days, 0 or more"
            )));
        }
    }
    if seedship_drive::drives_needed(1, 1, args.drive_size).is_none() {
        return Err(crate::exit::usage(format!(
            "--drive-size {}: too small to hold even a drive's marker and manifest (1 MiB)",
            args.drive_size
        )));
    }
    let excludes = args.excludes.given()?.unwrap_or_default();
    let uplink = match args.measure {
        None => Uplink::Given(args.uplink),
        Some(seconds) => {
            // A PATH that is not there is found before the measurement, not after it.
            seedship_repo::Sources::new(&args.paths)?;
            let dir = shared::agent_dir(args.config_dir).context(
                "--measure needs a registered agent: it measures the uplink to the agent's vault server",
            )?;
            let seconds = seconds.unwrap_or(MEASURE_SECONDS);
            Uplink::Measured(seedship_agent::measure_uplink(
                &dir,
                Duration::from_secs(seconds),
                &*ctx.progress,
            )?)
        }
    };
    let options = PlanOptions {
        paths: args.paths,
        excludes,
        uplink,
        drive_size: args.drive_size,
        shipping_days: args.shipping_days,
        import_days: args.import_days,
        sample_size: args.sample_size,
    };
    let plan = seedship_agent::plan(&options, &*ctx.progress)?;
    let mut doc = serde_json::to_value(&plan)?;
    if let Some(object) = doc.as_object_mut() {
        object.insert("message_type".to_owned(), "plan".into());
    }
    output::emit(ctx.json, &doc, || render(&plan))
}

fn render(plan: &Plan) -> String {
    let (scan, sample, stored, online, offline) = (
        &plan.scan,
        &plan.sample,
        &plan.stored,
        &plan.online,
        &plan.offline,
    );
    let ratio = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            100.0 * part as f64 / whole as f64
        }
    };
    let rate = |per_second: f64| format!("{}/s", bytes(per_second as u64));
    let mut lines = vec![
        format!(
            "data:     {} in {} files, {} directories",
            bytes(scan.bytes),
            scan.files,
            scan.dirs
        ),
        format!(
            "sample:   {} in {} pieces ({:.1}%): stores as {:.1}% ({:.1}% after deduplication, then compressed)",
            bytes(sample.bytes),
            sample.pieces,
            ratio(sample.bytes, scan.bytes),
            ratio(sample.stored_bytes, sample.bytes),
            ratio(sample.unique_bytes, sample.bytes),
        ),
        format!(
            "stored:   {} ({} data, {} metadata); staging needs {}",
            bytes(stored.total_bytes),
            bytes(stored.data_bytes),
            bytes(stored.metadata_bytes),
            bytes(offline.staging_bytes)
        ),
        format!(
            "online:   {} at {} ({})",
            span(online.days),
            rate(online.uplink_bytes_per_second),
            match (&online.uplink_source, &online.measurement) {
                (UplinkSource::Measured, Some(measured)) => format!(
                    "measured: {} to {} in {:.1} s",
                    bytes(measured.bytes),
                    measured.server,
                    measured.seconds
                ),
                _ => "given".to_owned(),
            }
        ),
        format!(
            "offline:  {}: backup to staging {} at {} (measured), drive preparation {} at {}, shipping {} days, import {} days",
            span(offline.days),
            span(offline.backup_hours / 24.0),
            rate(offline.backup_bytes_per_second),
            span(offline.diskprep_hours / 24.0),
            rate(offline.diskprep_bytes_per_second),
            offline.shipping_days,
            offline.import_days
        ),
        format!("drives:   {} of {}", offline.drives, bytes(offline.drive_size)),
    ];
    if scan.unreadable > 0 {
        lines.push(format!(
            "warning:  {} entries could not be read and are not counted",
            scan.unreadable
        ));
    }
    let way = match plan.recommendation.way {
        Way::Offline => "seed offline",
        Way::Online => "seed online",
    };
    lines.push(format!("advice:   {way}: {}", plan.recommendation.reason));
    lines.join("\n")
}

/// A duration given in days, in the unit that reads best: days, hours, minutes or seconds.
fn span(days: f64) -> String {
    let seconds = days * 86_400.0;
    if days >= 1.0 {
        format!("{days:.1} days")
    } else if seconds >= 3600.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else if seconds >= 60.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{seconds:.1} s")
    }
}
