//! Deadlines with the clock moved: 13 days change nothing, 15 days delete or mark.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use seedship_jobs::*;
use time::Duration;

fn policy() -> DeadlinePolicy {
    DeadlinePolicy::default()
}

#[test]
fn the_default_policy_is_14_14_90_days() {
    let p = policy();
    assert_eq!(p.shipping_info_within, Duration::days(14));
    assert_eq!(p.arrival_within, Duration::days(14));
    assert_eq!(p.keep_ended_for, Duration::days(90));
}

#[test]
fn an_unshipped_job_is_deleted_after_14_days_not_13() {
    let job = create(2);
    assert_eq!(tick(&job, at_day(13), &policy()), []);
    let edge = job.created_at() + Duration::days(14);
    assert_eq!(tick(&job, edge - Duration::milliseconds(1), &policy()), []);
    let delete = vec![Effect::DeleteJob {
        account: ACCOUNT.into(),
        job: JOB.into(),
    }];
    assert_eq!(tick(&job, edge, &policy()), delete);
    assert_eq!(tick(&job, at_day(15), &policy()), delete);
    assert_eq!(
        next_deadline(&job, &policy()),
        Some(Deadline {
            kind: DeadlineKind::DeleteUnshipped,
            at: edge
        })
    );
}

#[test]
fn an_unshipped_job_is_announced_from_day_12_until_its_deletion() {
    let job = create(1);
    let edge = job.created_at() + Duration::days(14);
    assert_eq!(approaching_deadline(&job, at_day(11), &policy()), None);
    assert_eq!(
        approaching_deadline(&job, edge - WARN_BEFORE - Duration::milliseconds(1), &policy()),
        None
    );
    let warning = Some(Deadline {
        kind: DeadlineKind::DeleteUnshipped,
        at: edge,
    });
    assert_eq!(approaching_deadline(&job, edge - WARN_BEFORE, &policy()), warning);
    assert_eq!(
        approaching_deadline(&job, edge - Duration::milliseconds(1), &policy()),
        warning
    );
    assert_eq!(
        approaching_deadline(&job, edge, &policy()),
        None,
        "passed, not approaching"
    );
    // Shipped on day 1: no deletion, but its drives' arrival deadline (day 15) from day 13.
    let kind = |day| approaching_deadline(&shipped(1), at_day(day), &policy()).map(|d| d.kind);
    assert_eq!(kind(12), None);
    assert_eq!(kind(13), Some(DeadlineKind::DrivesNeverReceived));
}

#[test]
fn a_shipped_job_is_not_deleted() {
    let job = shipped(1);
    assert!(
        !tick(&job, at_day(200), &policy())
            .iter()
            .any(|e| matches!(e, Effect::DeleteJob { .. }))
    );
}

#[test]
fn drives_not_received_14_days_after_shipping_become_never_received() {
    let mut job = shipped(3); // shipping recorded on day 1
    job.receive_drive(&id("D0"), &operator(), at_day(5)).unwrap();
    assert_eq!(
        tick(&job, at_day(14), &policy()),
        [],
        "13 days after the shipping information"
    );
    let effects = tick(&job, at_day(16), &policy());
    let expected: Vec<Effect> = [&id("D1"), &id("D2")]
        .iter()
        .map(|d| Effect::DriveNeverReceived {
            account: ACCOUNT.into(),
            job: JOB.into(),
            drive_id: (*d).into(),
        })
        .collect();
    assert_eq!(effects, expected);

    // the server applies the effects
    for effect in effects {
        let Effect::DriveNeverReceived { drive_id, .. } = effect else {
            panic!("{effect:?}")
        };
        job.mark_never_received(&drive_id, &Actor::system(), at_day(16))
            .unwrap();
    }
    assert_eq!(
        tick(&job, at_day(16), &policy()),
        [],
        "applied effects are not repeated"
    );
    assert_eq!(job.drive(&id("D1")).unwrap().state, DriveState::NeverReceived);

    // the drive comes later after all
    job.receive_drive(&id("D1"), &operator(), at_day(20)).unwrap();
    let d1 = job.drive(&id("D1")).unwrap();
    assert_eq!(d1.state, DriveState::Received);
    let states: Vec<_> = d1.history.iter().map(|h| h.state).collect();
    assert_eq!(
        states,
        [
            DriveState::Specified,
            DriveState::NeverReceived,
            DriveState::Received
        ]
    );
    verify(&job).unwrap();
}

#[test]
fn the_arrival_deadline_runs_from_when_the_shipping_information_was_recorded() {
    let job = shipped(1); // recorded at day 1, ship date day 0
    assert_eq!(tick(&job, at_day(14), &policy()), []);
    assert_eq!(tick(&job, at_day(15), &policy()).len(), 1);
}

#[test]
fn ended_jobs_are_purged_after_90_days() {
    for state in [JobState::Completed, JobState::Closed, JobState::Cancelled] {
        let job = job_in(state);
        let ended = job.entered_at(state).unwrap();
        assert_eq!(tick(&job, ended + Duration::days(89), &policy()), [], "{state}");
        assert_eq!(
            tick(&job, ended + Duration::days(90), &policy()),
            [Effect::PurgeJob {
                account: ACCOUNT.into(),
                job: JOB.into()
            }],
            "{state}"
        );
    }
}

#[test]
fn jobs_in_progress_have_no_due_effects() {
    for state in [JobState::Received, JobState::Transferring, JobState::Packaging] {
        let mut job = job_in(state);
        for drive in [&id("D0"), &id("D1")] {
            if job.drive(drive).unwrap().state == DriveState::Specified {
                job.receive_drive(drive, &operator(), at_day(4)).unwrap();
            }
        }
        assert_eq!(tick(&job, at_day(60), &policy()), [], "{state}");
        assert_eq!(next_deadline(&job, &policy()), None, "{state}");
    }
}

#[test]
fn a_custom_policy_is_honoured() {
    let job = create(1);
    let short = DeadlinePolicy {
        shipping_info_within: Duration::hours(1),
        ..policy()
    };
    assert_eq!(tick(&job, t0() + Duration::minutes(59), &short), []);
    assert_eq!(tick(&job, t0() + Duration::minutes(61), &short).len(), 1);
}

#[test]
fn effects_serialise_with_a_tag() {
    let e = Effect::DriveNeverReceived {
        account: "a".into(),
        job: "j".into(),
        drive_id: "d".into(),
    };
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"effect":"DriveNeverReceived","account":"a","job":"j","drive_id":"d"}"#
    );
}
