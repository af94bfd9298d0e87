//! The seeding advisor (`seedship plan`): before anything is written, how much the paths hold,
//! what a backup of them would store, how long seeding takes over the network and with drives,
//! how many drives and how much staging space that needs, and which way to go.
//!
//! The model is in docs/design.md ("Seeding advisor"): a metadata scan, a bounded sample
//! chunked, deduplicated and compressed as the backup does it (`seedship_repo::sample`),
//! extrapolated to the total; the backup's speed is the sample's, measured on this machine;
//! drive preparation runs at [`DRIVE_WRITE_RATE`]. The uplink is given, or measured against
//! the registered agent's vault server for a bounded time ([`measure_uplink`]).

use crate::error::{Error, Result};
use crate::policy::AgentDir;
use seedship_api::{Client, Credentials};
use seedship_progress::{Progress, Unit};
use seedship_repo::{Excludes, Sample, Scan, Sources, Stored};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Drive preparation's write rate, bytes per second: a USB 3 hard disk's sustained write
/// (docs/BENCHMARKS.md measured `drive prepare` at 176.6 MB/s on this machine's disk).
pub const DRIVE_WRITE_RATE: f64 = 150e6;
/// The sample is at least this large (or the whole tree), so small trees are measured well.
pub const MIN_SAMPLE: u64 = 64 << 20;
/// Offline is recommended only when it seeds at least this many days sooner.
pub const MARGIN_DAYS: f64 = 1.0;
/// Default days the drives travel to the data centre.
pub const SHIPPING_DAYS: f64 = 3.0;
/// Default days from the drives' arrival to the vault seeded.
pub const IMPORT_DAYS: f64 = 2.0;
/// Default seconds of an uplink measurement (`--measure`).
pub const MEASURE_SECONDS: u64 = 10;
/// The longest uplink measurement (`--measure`), seconds.
pub const MAX_MEASURE_SECONDS: u64 = 60;
/// Data pack and tree pack sizes a first backup writes (rustic_core's defaults), for the
/// number of files on the drives.
const DATA_PACK: u64 = 32 << 20;
const TREE_PACK: u64 = 4 << 20;
const DAY: f64 = 86_400.0;

/// What to plan for.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The paths to back up.
    pub paths: Vec<PathBuf>,
    /// What the backup leaves out.
    pub excludes: Excludes,
    /// The uplink to the vault: given, or measured.
    pub uplink: Uplink,
    /// The capacity of one drive, bytes.
    pub drive_size: u64,
    /// Days the drives travel to the data centre.
    pub shipping_days: f64,
    /// Days from arrival to the vault seeded.
    pub import_days: f64,
    /// The sample's upper bound, bytes.
    pub sample_size: u64,
}

/// The advisor's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// What the scan found.
    pub scan: Scan,
    /// What the sample measured.
    pub sample: Sample,
    /// What the backup would store (also the staging space the first backup needs).
    pub stored: Stored,
    /// Seeding over the network.
    pub online: Online,
    /// Seeding with drives.
    pub offline: Offline,
    /// Which way, and why.
    pub recommendation: Recommendation,
}

/// The uplink the plan goes by.
#[derive(Debug, Clone, PartialEq)]
pub enum Uplink {
    /// Given (`--uplink`, or its default), bytes per second.
    Given(f64),
    /// Measured against the vault server ([`measure_uplink`]).
    Measured(UplinkMeasured),
}

impl Uplink {
    /// Bytes per second.
    pub fn bytes_per_second(&self) -> f64 {
        match self {
            Uplink::Given(rate) => *rate,
            Uplink::Measured(measured) => measured.bytes_per_second,
        }
    }
}

/// Where the uplink's rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UplinkSource {
    /// `--uplink` (or its default).
    Given,
    /// `--measure`.
    Measured,
}

/// An uplink measured against the agent's vault server: what one TCP connection carried over
/// the path to that server, for a bounded time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UplinkMeasured {
    /// The server measured against (its URL, without credentials).
    pub server: String,
    /// Bytes sent, and read by the server.
    pub bytes: u64,
    /// Seconds from the first byte sent to the server's answer after the last.
    pub seconds: f64,
    /// Seconds the server spent reading them.
    pub server_seconds: f64,
    /// `bytes / seconds`.
    pub bytes_per_second: f64,
}

/// Seeding over the network.
#[derive(Debug, Clone, Serialize)]
pub struct Online {
    /// The uplink, bytes per second.
    pub uplink_bytes_per_second: f64,
    /// Whether it was given or measured.
    pub uplink_source: UplinkSource,
    /// The measurement (`None` for a given uplink).
    pub measurement: Option<UplinkMeasured>,
    /// Days to upload what the backup stores.
    pub days: f64,
}

/// Seeding with drives.
#[derive(Debug, Clone, Serialize)]
pub struct Offline {
    /// The backup to staging, at the sample's measured throughput.
    pub backup_bytes_per_second: f64,
    /// Hours of the backup to staging.
    pub backup_hours: f64,
    /// Drive preparation's write rate ([`DRIVE_WRITE_RATE`]).
    pub diskprep_bytes_per_second: f64,
    /// Hours of drive preparation.
    pub diskprep_hours: f64,
    /// Days the drives travel.
    pub shipping_days: f64,
    /// Days of import.
    pub import_days: f64,
    /// All of it, days.
    pub days: f64,
    /// Capacity of one drive, bytes.
    pub drive_size: u64,
    /// Drives needed.
    pub drives: u64,
    /// Space the staging location needs for the first backup, bytes.
    pub staging_bytes: u64,
}

/// Which way to seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Way {
    Offline,
    Online,
}

/// The advice and its reason.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// The way.
    pub way: Way,
    /// Why, in a sentence.
    pub reason: String,
}

/// A network rate that does not parse; names the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "rate {given:?} {reason}: write a number and a unit per second, in bits (kbit/s, Mbit/s, \
     Gbit/s; powers of 1000) or bytes (K/s, MB/s, GiB/s; powers of 1024), e.g. 50Mbit/s or 10MB/s"
)]
pub struct RateError {
    /// The text that was given.
    pub given: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a network rate into bytes per second: `50Mbit/s`, `1Gbit/s`, `100 Mbps` (bits, as
/// networks are quoted: powers of 1000), or `10MB/s`, `1.5GiB/s` (bytes, powers of 1024 as
/// every size seedship reads). The `/s` may be left out.
///
/// # Errors
///
/// [`RateError`] when the number or unit is unknown, or the rate is zero.
pub fn parse_rate(text: &str) -> std::result::Result<f64, RateError> {
    let error = |reason| RateError {
        given: text.to_owned(),
        reason,
    };
    let lower = text.trim().to_ascii_lowercase();
    let bits = lower
        .strip_suffix("bps")
        .or_else(|| lower.strip_suffix("/s").unwrap_or(&lower).strip_suffix("bit"));
    let bytes_per_second = match bits {
        Some(rest) => {
            let rest = rest.trim_end();
            let scale = match rest.chars().last() {
                Some('k') => 1e3,
                Some('m') => 1e6,
                Some('g') => 1e9,
                _ => 1.0,
            };
            let number = if scale > 1.0 {
                &rest[..rest.len() - 1]
            } else {
                rest
            };
            let number: f64 = number.trim().parse().map_err(|_| error("is not a number"))?;
            number * scale / 8.0
        }
        None => {
            let unit = lower.strip_suffix("/s").unwrap_or(&lower);
            seedship_progress::parse_size(unit).map_err(|_| error("has an unknown number or unit"))? as f64
        }
    };
    if !bytes_per_second.is_finite() || bytes_per_second <= 0.0 {
        return Err(error("is not a positive rate"));
    }
    Ok(bytes_per_second)
}

/// Measures the uplink to the vault server of the agent registered in `dir`: uploads
/// incompressible bytes to its uplink probe for `duration` (or until the probe's cap of
/// [`seedship_api::UPLINK_PROBE_MAX_BYTES`]), with the agent's credentials, and answers what
/// the server read over the time it took. Progress is one task, `uplink`, in bytes.
///
/// # Errors
///
/// [`Error::NotAnAgent`] or [`Error::Credentials`] for an unusable `agent.toml`;
/// [`Error::Uplink`] when the server refused or could not be reached (its source says which);
/// [`Error::UplinkUnmeasured`] when the probe gave no rate.
pub fn measure_uplink(dir: &AgentDir, duration: Duration, progress: &dyn Progress) -> Result<UplinkMeasured> {
    let path = dir.credentials_file();
    let credentials = Credentials::load(&path)?;
    if !matches!(credentials, Credentials::Agent { .. }) {
        return Err(Error::NotAnAgent {
            path,
            kind: credentials.kind(),
        });
    }
    let server = credentials.principal().0.trim_end_matches('/').to_owned();
    let failed = |source| Error::Uplink {
        server: server.clone(),
        source,
    };
    let client = Client::new(&credentials).map_err(failed)?;
    let task: Arc<dyn seedship_progress::Task> = progress.task("uplink", Unit::Bytes, None).into();
    task.set_message(&format!(
        "measuring the uplink to {server} for {} s",
        duration.as_secs()
    ));
    let sent = task.clone();
    let probed = client.probe_uplink(duration, move |bytes| sent.advance(bytes));
    task.finish();
    let measured = probed.map_err(failed)?;
    if measured.bytes == 0 || !(measured.bytes_per_second.is_finite() && measured.bytes_per_second > 0.0) {
        return Err(Error::UplinkUnmeasured {
            server,
            bytes: measured.bytes,
            seconds: measured.seconds,
        });
    }
    Ok(UplinkMeasured {
        server,
        bytes: measured.bytes,
        seconds: measured.seconds,
        server_seconds: measured.server_seconds,
        bytes_per_second: measured.bytes_per_second,
    })
}

/// Scans and samples `options.paths` and works out the plan.
///
/// # Errors
///
/// [`crate::Error::Repo`] when a path does not exist or cannot be read, or an exclude pattern
/// cannot be used.
pub fn plan(options: &PlanOptions, progress: &dyn Progress) -> Result<Plan> {
    let sources = Sources::new(&options.paths)?;
    let scan = seedship_repo::scan(&sources, &options.excludes, progress)?;
    let budget = sample_budget(scan.bytes, options.sample_size);
    let sample = seedship_repo::sample(&sources, &options.excludes, &scan, budget, progress)?;
    let stored = seedship_repo::extrapolate(&scan, &sample);
    Ok(advise(scan, sample, stored, options))
}

/// The sample's size: 1% of the tree, at least [`MIN_SAMPLE`], at most `limit`.
pub fn sample_budget(total: u64, limit: u64) -> u64 {
    (total / 100).max(MIN_SAMPLE).min(limit)
}

/// The times, drives and advice for what the scan and sample found.
fn advise(scan: Scan, sample: Sample, stored: Stored, options: &PlanOptions) -> Plan {
    let uplink = options.uplink.bytes_per_second();
    let online_days = stored.total_bytes as f64 / uplink / DAY;
    // Nothing sampled (an empty tree) takes no time to back up.
    let backup_rate = sample.throughput().unwrap_or(f64::INFINITY);
    let backup_hours = scan.bytes as f64 / backup_rate / 3600.0;
    let diskprep_hours = stored.total_bytes as f64 / DRIVE_WRITE_RATE / 3600.0;
    let offline_days = (backup_hours + diskprep_hours) / 24.0 + options.shipping_days + options.import_days;
    let files = stored.data_bytes.div_ceil(DATA_PACK) + stored.metadata_bytes.div_ceil(TREE_PACK) + 4;
    let drives = seedship_drive::drives_needed(stored.total_bytes, files, options.drive_size).unwrap_or(0);
    let gain = online_days - offline_days;
    let recommendation = if gain > MARGIN_DAYS {
        Recommendation {
            way: Way::Offline,
            reason: format!("drives seed the vault {gain:.1} days sooner than the uplink"),
        }
    } else if gain > 0.0 {
        Recommendation {
            way: Way::Online,
            reason: format!(
                "drives would seed only {gain:.1} days sooner (less than {MARGIN_DAYS} day), not worth shipping"
            ),
        }
    } else {
        Recommendation {
            way: Way::Online,
            reason: format!("the uplink seeds the vault {:.1} days sooner than drives", -gain),
        }
    };
    Plan {
        online: Online {
            uplink_bytes_per_second: uplink,
            uplink_source: match options.uplink {
                Uplink::Given(_) => UplinkSource::Given,
                Uplink::Measured(_) => UplinkSource::Measured,
            },
            measurement: match &options.uplink {
                Uplink::Given(_) => None,
                Uplink::Measured(measured) => Some(measured.clone()),
            },
            days: online_days,
        },
        offline: Offline {
            backup_bytes_per_second: if backup_rate.is_finite() { backup_rate } else { 0.0 },
            backup_hours,
            diskprep_bytes_per_second: DRIVE_WRITE_RATE,
            diskprep_hours,
            shipping_days: options.shipping_days,
            import_days: options.import_days,
            days: offline_days,
            drive_size: options.drive_size,
            drives,
            staging_bytes: stored.total_bytes,
        },
        scan,
        sample,
        stored,
        recommendation,
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_rate, sample_budget};

    #[test]
    fn rates_in_bits_are_decimal_and_in_bytes_binary() {
        for (text, bytes) in [
            ("50Mbit/s", 6.25e6),
            ("1Gbit/s", 125e6),
            ("100 Mbps", 12.5e6),
            ("8kbit", 1e3),
            ("10MB/s", 10.0 * 1024.0 * 1024.0),
            ("1GiB/s", 1024.0 * 1024.0 * 1024.0),
            ("4096/s", 4096.0),
        ] {
            assert_eq!(parse_rate(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn bad_rates_are_named() {
        for text in ["", "fast", "50Mbit/h", "0Mbit/s", "-5MB/s", "Mbit/s"] {
            let err = parse_rate(text).expect_err(text);
            assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
        }
    }

    #[test]
    fn the_sample_is_one_percent_between_its_bounds() {
        assert_eq!(sample_budget(10 << 20, 1 << 30), 64 << 20);
        assert_eq!(sample_budget(20 << 30, 1 << 30), (20 << 30) / 100);
        assert_eq!(sample_budget(1 << 40, 1 << 30), 1 << 30);
        assert_eq!(sample_budget(1 << 40, 8 << 20), 8 << 20);
    }
}
