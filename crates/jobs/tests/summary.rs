//! The view model: progress per drive and job.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use seedship_jobs::*;

#[test]
fn progress_is_bytes_done_over_total_per_drive_and_job() {
    let mut job = shipped(3);
    let op = operator();
    transfer(&mut job, &id("D0"), &clean_log(&id("D0")), 3); // finished: every byte processed
    job.receive_drive(&id("D1"), &op, at_day(3)).unwrap();
    job.start_transfer(&id("D1"), &op, at_day(3)).unwrap();
    job.record_progress(&id("D1"), 255, &op).unwrap();

    let summary = JobSummary::of(&job, &DeadlinePolicy::default());
    assert_eq!(summary.state, JobState::Transferring);
    assert_eq!(summary.tracking_number.as_deref(), Some("1Z999AA1"));
    let d: Vec<(u64, u64, u8)> = summary
        .drives
        .iter()
        .map(|d| (d.bytes_done, d.bytes_total, d.percent))
        .collect();
    assert_eq!(d, [(1000, 1000, 100), (255, 1000, 25), (0, 1000, 0)]);
    assert_eq!(
        (summary.bytes_done, summary.bytes_total, summary.percent),
        (1255, 3000, 41)
    );
    assert_eq!(summary.drives[0].status, Some(DriveStatus::Completed));
    assert_eq!(summary.drives[1].status, None);
    assert_eq!(summary.deadline.unwrap().kind, DeadlineKind::DrivesNeverReceived);

    // a drive that never arrives leaves the totals
    job.mark_never_received(&id("D2"), &op, at_day(16)).unwrap();
    let summary = JobSummary::of(&job, &DeadlinePolicy::default());
    assert_eq!(
        (summary.bytes_done, summary.bytes_total, summary.percent),
        (1255, 2000, 62)
    );
    assert_eq!(summary.deadline, None);
}

#[test]
fn a_closed_job_shows_its_problems_and_purge_date() {
    let job = job_in(JobState::Closed);
    let summary = JobSummary::of(&job, &DeadlinePolicy::default());
    assert_eq!(summary.drives[1].problems, 1);
    assert_eq!(summary.drives[1].state, DriveState::ShippedBack);
    assert_eq!(summary.drives[1].status, Some(DriveStatus::CompletedWithErrors));
    let deadline = summary.deadline.unwrap();
    assert_eq!(deadline.kind, DeadlineKind::Purge);
    assert_eq!(
        deadline.at,
        job.entered_at(JobState::Closed).unwrap() + time::Duration::days(90)
    );
    let value = serde_json::to_value(&summary).unwrap();
    assert_eq!(value["state"], "Closed");
    assert_eq!(value["drives"][1]["state"], "ShippedBack");
    assert_eq!(serde_json::from_value::<JobSummary>(value).unwrap(), summary);
}

#[test]
fn an_unshipped_job_shows_zero_and_its_delete_date() {
    let summary = JobSummary::of(&create(2), &DeadlinePolicy::default());
    assert_eq!(summary.percent, 0);
    assert_eq!(summary.bytes_total, 2000);
    assert_eq!(summary.deadline.unwrap().kind, DeadlineKind::DeleteUnshipped);
    assert_eq!(summary.tracking_number, None);
}
