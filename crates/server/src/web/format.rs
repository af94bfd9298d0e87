//! How the pages show sizes, times and the time a transfer has left: for a person reading
//! them, not for a program (the JSON API keeps exact bytes and RFC 3339 times).

use std::fmt::{self, Display};

use seedship_jobs::{Drive, DriveState};
use time::{Duration, OffsetDateTime, UtcOffset};

/// Bytes in binary units (`9.0 MiB`), the exact count in the `title` (shown on hover).
pub(super) struct Size(pub u64);

impl Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        write!(f, "<span class=\"size\" title=\"{} bytes\">", self.0)?;
        if self.0 < 1024 {
            write!(f, "{} B", self.0)?;
        } else {
            // f64 is exact enough for one decimal of any u64.
            let mut value = self.0 as f64 / 1024.0;
            let mut unit = 0;
            while value >= 1024.0 && unit + 1 < UNITS.len() {
                value /= 1024.0;
                unit += 1;
            }
            write!(f, "{value:.1} {}", UNITS[unit])?;
        }
        f.write_str("</span>")
    }
}

/// A time in UTC to the minute: `2026-12-07 11:26 UTC`.
pub(super) struct When(pub OffsetDateTime);

impl Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.0.to_offset(UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        )
    }
}

/// The time a transferring drive has left at the rate it has had since its copy started
/// (bytes done over time elapsed), and when it would end; unknown (`—`) before the first
/// progress or in the copy's first second.
pub(super) struct TimeLeft(Option<(Duration, OffsetDateTime)>);

impl TimeLeft {
    pub(super) fn of(drive: &Drive, now: OffsetDateTime) -> Self {
        let started = drive
            .history
            .iter()
            .rev()
            .find(|entered| entered.state == DriveState::Transferring)
            .map(|entered| entered.at);
        Self(started.and_then(|started| {
            let elapsed = u128::try_from((now - started).whole_seconds()).ok()?;
            if elapsed == 0 || drive.bytes_done == 0 {
                return None;
            }
            let remaining = u128::from(drive.bytes.saturating_sub(drive.bytes_done));
            let seconds = i64::try_from(remaining * elapsed / u128::from(drive.bytes_done)).ok()?;
            let left = Duration::seconds(seconds);
            Some((left, now.checked_add(left)?))
        }))
    }
}

impl Display for TimeLeft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((left, end)) = self.0 else {
            return f.write_str("—");
        };
        let minutes = left.whole_minutes();
        match (minutes / (24 * 60), minutes / 60 % 24, minutes % 60) {
            (0, 0, 0) => f.write_str("under a minute")?,
            (0, 0, m) => write!(f, "{m} min")?,
            (0, h, m) => write!(f, "{h} h {m} min")?,
            (d, h, _) => write!(f, "{d} d {h} h")?,
        }
        write!(f, " (ends about {})", When(end))
    }
}

#[cfg(test)]
mod tests {
    use seedship_jobs::{Drive, DriveState, StateTime};
    use time::macros::datetime;

    use super::{Size, TimeLeft, When};

    #[test]
    fn sizes_in_binary_units_with_exact_bytes() {
        assert_eq!(
            Size(9_483_127).to_string(),
            "<span class=\"size\" title=\"9483127 bytes\">9.0 MiB</span>"
        );
        assert!(Size(1023).to_string().contains(">1023 B<"));
        assert!(Size(1536).to_string().contains(">1.5 KiB<"));
        assert!(Size(5 << 40).to_string().contains(">5.0 TiB<"));
        assert!(Size(u64::MAX).to_string().contains(">16.0 EiB<"));
    }

    #[test]
    fn times_in_utc_to_the_minute() {
        assert_eq!(
            When(datetime!(2026-12-07 12:26:59.123 +01:00)).to_string(),
            "2026-12-07 11:26 UTC"
        );
    }

    #[test]
    fn time_left_from_the_rate_since_the_copy_started() {
        let started = datetime!(2026-12-07 10:00 UTC);
        let drive: Drive = serde_json::from_value(serde_json::json!({
            "drive_id": "d1", "wrapped_key": "k", "manifest_hash": "h", "bytes": 4000,
            "bytes_done": 1000, "state": "Transferring", "transfer": null, "erasure": null,
            "history": [{"state": "Received", "at": "2026-12-07T09:00:00.000Z"},
                        {"state": "Transferring", "at": "2026-12-07T10:00:00.000Z"}],
        }))
        .expect("drive");
        // A quarter in 10 minutes: 30 more.
        let left = TimeLeft::of(&drive, started + time::Duration::minutes(10));
        assert_eq!(left.to_string(), "30 min (ends about 2026-12-07 10:40 UTC)");
        assert_eq!(TimeLeft::of(&drive, started).to_string(), "—", "no time elapsed");
        let idle = Drive {
            bytes_done: 0,
            ..drive.clone()
        };
        assert_eq!(
            TimeLeft::of(&idle, started + time::Duration::hours(1)).to_string(),
            "—"
        );
        let slow = Drive {
            bytes_done: 1,
            ..drive.clone()
        };
        let left = TimeLeft::of(&slow, started + time::Duration::hours(1)).to_string();
        assert!(left.starts_with("166 d 15 h"), "{left}");
        assert_eq!(
            drive.history.last(),
            Some(&StateTime {
                state: DriveState::Transferring,
                at: started
            })
        );
    }
}
