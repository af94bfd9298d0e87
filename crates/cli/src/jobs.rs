//! Import jobs as the command line reads and shows them: job spec files, ship dates and the
//! ship action, a job's detail.

use std::path::Path;

use anyhow::Context as _;
use seedship_api::{JobAction, JobDetail};
use seedship_jobs::{JobState, JobSummary, ShipRequest};

use crate::{Context, output};

/// A JSON job specification file (`job create --spec`, `diskprep --details`).
pub fn read_spec(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading job spec {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("job spec {}", path.display()))?;
    anyhow::ensure!(
        value.is_object(),
        "job spec {} is not a JSON object",
        path.display()
    );
    Ok(value)
}

/// A ship date as the server takes it (`YYYY-MM-DD`), checked before anything is sent so
/// that a typo is a usage error naming the value.
pub fn parse_ship_date(text: &str) -> Result<String, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), &format)
        .map(|date| date.to_string())
        .map_err(|_| format!("ship date {text:?} is not a date written YYYY-MM-DD"))
}

/// The date of a ship date as [`parse_ship_date`] gives it.
pub fn date(ship_date: &str) -> anyhow::Result<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(ship_date, &format)
        .with_context(|| format!("ship date {ship_date} (expected YYYY-MM-DD)"))
}

/// The ship action (`dry_run`: only review it); `ship_date` as [`parse_ship_date`] gives it.
pub fn ship_action(
    carrier: &str,
    tracking_number: &str,
    ship_date: &str,
    drive_count: u32,
    dry_run: bool,
) -> anyhow::Result<JobAction> {
    let ship_date = date(ship_date)?;
    Ok(JobAction::Ship {
        request: ShipRequest {
            carrier: carrier.to_owned(),
            tracking_number: tracking_number.to_owned(),
            ship_date,
            drive_count,
        },
        dry_run,
    })
}

pub fn summary_line(job: &JobSummary) -> String {
    let drives: Vec<String> = job
        .drives
        .iter()
        .map(|d| format!("{} {:?} {}%", d.drive_id, d.state, d.percent))
        .collect();
    format!(
        "{}/{}: {:?} {}% [{}]",
        job.account,
        job.name,
        job.state,
        job.percent,
        drives.join(", ")
    )
}

pub fn emit_detail(ctx: &Context, detail: &JobDetail) -> anyhow::Result<()> {
    output::emit(ctx.json, detail, || {
        let address = &detail.data_centre.shipping_address;
        let mut text = summary_line(&detail.summary);
        // Where to send the drives matters only until they are sent.
        if matches!(detail.summary.state, JobState::Creating | JobState::Shipping) {
            text.push_str(&format!(
                "\nship to: {}, {}, {} {}, {}",
                address.recipient,
                address.street.join(", "),
                address.postal_code,
                address.city,
                address.country
            ));
        }
        if let Some(review) = &detail.review {
            text.push_str(&format!(
                "\nreview (nothing recorded): {} {} shipped {}",
                review.carrier, review.tracking_number, review.ship_date
            ));
        }
        text
    })
}
