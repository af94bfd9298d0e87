//! Retention: `forget` removes snapshots by restic's keep rules, `prune` deletes the data no
//! snapshot uses. Both hold an exclusive restic lock, so neither runs while a restic or
//! seedship backup, restore or check works, nor while a restic prune does.

use crate::{
    error::{Error, Result},
    lock::LockKind,
    report::{ForgetDecision, ForgetGroup, ForgetReport, PruneReport},
    repository::Repo,
};
use rustic_core::{
    ForgetGroups, Grouped, KeepOptions, LimitOption, PruneOptions, SnapshotGroupCriterion, jiff,
};

/// restic's keep rules (`restic forget --keep-*`): a snapshot is kept if any rule keeps it.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// The last N snapshots.
    pub last: Option<u32>,
    /// The last snapshot of each of the last N hours with a snapshot.
    pub hourly: Option<u32>,
    /// ... days.
    pub daily: Option<u32>,
    /// ... weeks.
    pub weekly: Option<u32>,
    /// ... months.
    pub monthly: Option<u32>,
    /// ... years.
    pub yearly: Option<u32>,
    /// Every snapshot taken within this duration of the newest one, written as restic writes
    /// it: numbers with `y`, `m` (months), `d` and `h`, e.g. `1y6m`, `30d`, `2d12h`.
    pub within: Option<String>,
}

impl Retention {
    /// Whether no rule is given (restic then refuses to forget anything).
    pub fn is_empty(&self) -> bool {
        [
            self.last,
            self.hourly,
            self.daily,
            self.weekly,
            self.monthly,
            self.yearly,
        ]
        .iter()
        .all(Option::is_none)
            && self.within.is_none()
    }

    fn keep_options(&self) -> Result<KeepOptions> {
        let count = |n: Option<u32>| n.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        let mut keep = KeepOptions::default()
            .keep_last(count(self.last))
            .keep_hourly(count(self.hourly))
            .keep_daily(count(self.daily))
            .keep_weekly(count(self.weekly))
            .keep_monthly(count(self.monthly))
            .keep_yearly(count(self.yearly));
        if let Some(within) = &self.within {
            keep = keep.keep_within(parse_duration(within)?);
        }
        Ok(keep)
    }
}

/// Parses restic's duration (`1y6m2d12h`: years, months, days, hours) into a span.
///
/// # Errors
///
/// [`Error::BadDuration`] naming the text.
pub fn parse_duration(text: &str) -> Result<jiff::Span> {
    let bad = || Error::BadDuration {
        text: text.to_owned(),
    };
    let mut span = jiff::Span::new();
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        span = match c {
            'y' => span.try_years(n),
            'm' => span.try_months(n),
            'd' => span.try_days(n),
            'h' => span.try_hours(n),
            _ => return Err(bad()),
        }
        .map_err(|_| bad())?;
    }
    if !number.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok(span)
}

impl Repo {
    /// Removes the snapshots `retention` does not keep, group by group (host and paths, as
    /// restic groups); with `dry_run` only says what it would remove.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] while another process holds a lock, [`Error::DeleteRefused`] by an
    /// append-only vault, [`Error::Engine`] otherwise.
    pub fn forget(&self, retention: &Retention, dry_run: bool) -> Result<ForgetReport> {
        let keep = retention.keep_options()?;
        let _lock = self.lock(LockKind::Exclusive)?;
        let snapshots = self
            .inner
            .get_all_snapshots()
            .map_err(self.fail("listing snapshots"))?;
        let grouped = Grouped::from_items(
            snapshots,
            SnapshotGroupCriterion::new().hostname(true).paths(true),
        );
        let decided =
            ForgetGroups::from_grouped_snapshots_with_retention(grouped, &keep, &jiff::Zoned::now())
                .map_err(self.fail("applying the keep rules"))?;
        let mut groups = Vec::new();
        let mut doomed = Vec::new();
        for group in decided.0 {
            let mut report = ForgetGroup {
                hostname: group.group_key.hostname.clone().unwrap_or_default(),
                paths: group
                    .group_key
                    .paths
                    .as_ref()
                    .map(|paths| paths.iter().cloned().collect())
                    .unwrap_or_default(),
                keep: Vec::new(),
                remove: Vec::new(),
            };
            for decision in group.items {
                let entry = ForgetDecision {
                    id: crate::report::hex(&decision.snapshot.id),
                    time: decision
                        .snapshot
                        .time
                        .strftime("%Y-%m-%dT%H:%M:%S%:z")
                        .to_string(),
                    reasons: if decision.keep {
                        decision.reasons
                    } else {
                        Vec::new()
                    },
                };
                if decision.keep {
                    report.keep.push(entry);
                } else {
                    doomed.push(decision.snapshot.id);
                    report.remove.push(entry);
                }
            }
            groups.push(report);
        }
        if !dry_run && !doomed.is_empty() {
            self.inner
                .delete_snapshots(&doomed)
                .map_err(|err| self.refused_delete("snapshots", err))?;
        }
        Ok(ForgetReport {
            groups,
            removed: if dry_run { 0 } else { doomed.len() },
            dry_run,
        })
    }

    /// Deletes the data no snapshot uses: packs with nothing used are deleted, packs mostly
    /// unused are repacked, until at most 5% of the repository is unused (restic's default),
    /// with no limit on how much is repacked (restic's default too).
    /// Deletes at once, as restic does, under an exclusive lock.
    ///
    /// # Errors
    ///
    /// As [`Repo::forget`].
    pub fn prune(&self, dry_run: bool) -> Result<PruneReport> {
        let _lock = self.lock(LockKind::Exclusive)?;
        let options = PruneOptions::default()
            .max_unused(LimitOption::Percentage(5))
            // As restic: repack as much as reaching `max_unused` takes (rustic stops at 10% of
            // the repository, which left a quarter of it unused after forgetting half the
            // snapshots in bench/forget-prune.sh).
            .max_repack(LimitOption::Unlimited)
            // Delete at once, as restic does: rustic's deferred deletion keeps packs in an
            // index field restic does not know.
            .instant_delete(true);
        let plan = self
            .inner
            .prune_plan(&options)
            .map_err(self.fail("planning the prune"))?;
        let stats = &plan.stats;
        let size = stats.size_sum();
        let report = PruneReport {
            packs_removed: stats.packs.unused,
            packs_repacked: stats.packs.repack,
            packs_kept: stats.packs.keep,
            unused_bytes: size.unused,
            freed_bytes: size.remove + size.repackrm,
            repacked_bytes: size.repack - size.repackrm,
            dry_run,
        };
        if !dry_run {
            self.inner
                .prune(&options, plan)
                .map_err(|err| self.refused_delete("packs", err))?;
        }
        Ok(report)
    }

    /// A failed delete: an append-only vault answers 403, which is not a credentials problem.
    fn refused_delete(&self, what: &'static str, err: Box<rustic_core::RusticError>) -> Error {
        match self.fail("deleting")(err) {
            Error::AccessDenied { location, .. } => Error::DeleteRefused { location, what },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_durations_parse_and_anything_else_is_refused() {
        let span = parse_duration("1y6m2d12h").expect("valid");
        assert_eq!(
            (
                span.get_years(),
                span.get_months(),
                span.get_days(),
                span.get_hours()
            ),
            (1, 6, 2, 12)
        );
        assert_eq!(parse_duration("30d").expect("valid").get_days(), 30);
        for bad in ["", "30", "d", "3w", "1.5d", "-1d", "5 d"] {
            assert!(
                matches!(parse_duration(bad), Err(Error::BadDuration { .. })),
                "{bad:?}"
            );
        }
    }
}
