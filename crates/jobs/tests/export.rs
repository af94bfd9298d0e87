//! Export jobs: creation rules, blank drives that join as they arrive, the states they go
//! through, cancel, deadlines, and random sequences that keep the invariants.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use seedship_jobs::*;

fn create(spec: JobSpec) -> Result<Job, Error> {
    Job::create(spec, &centres(), |_| false, &owner(), t0())
}

fn with_export(change: impl FnOnce(&mut ExportSpec)) -> JobSpec {
    let mut spec = export_spec(JOB);
    change(spec.export.as_mut().unwrap());
    spec
}

#[test]
fn an_export_job_records_its_vault_key_and_totals_and_has_no_drives_yet() {
    let job = create_export();
    assert_eq!(job.job_type(), JobType::Export);
    assert_eq!(job.state(), JobState::Creating);
    assert!(job.drives().is_empty());
    let export = job.export().unwrap();
    assert_eq!(export.vault, "laptop");
    assert_eq!(export.owner_key, "seedship-x25519-public-1:00");
    assert_eq!(export.objects, 7);
    assert_eq!(export.bytes, 155 + 400 + 300 + 2000 + 3 * (1 << 20));
    let summary = JobSummary::of(&job, &DeadlinePolicy::default());
    assert_eq!(summary.bytes_total, export.bytes);
    assert_eq!(summary.vault.as_deref(), Some("laptop"));
    assert_eq!(summary.job_type, JobType::Export);
    assert!(verify(&job).is_ok());
    // the object list itself is not part of the job document (the server keeps it apart)
    assert!(!serde_json::to_string(&job).unwrap().contains("keys/"));
    let back: Job = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
    assert_eq!(back, job);
}

#[test]
fn export_creation_rules_name_the_bad_input() {
    let wrong = |what| Error::WrongJobType {
        what,
        job_type: JobType::Export,
    };
    let mut spec = export_spec(JOB);
    spec.drives = vec![drive_spec("D0")];
    assert_eq!(create(spec).unwrap_err(), wrong("a drive list"));

    let mut spec = export_spec(JOB);
    spec.export = None;
    assert_eq!(
        create(spec).unwrap_err(),
        Error::MissingField {
            field: "export".into()
        }
    );

    let mut spec = spec_with(JOB, 1);
    spec.export = export_spec(JOB).export;
    assert_eq!(
        create(spec).unwrap_err(),
        Error::WrongJobType {
            what: "an export section",
            job_type: JobType::Import
        }
    );

    let missing = |field: &str| Error::MissingField { field: field.into() };
    assert_eq!(
        create(with_export(|e| e.vault = " ".into())).unwrap_err(),
        missing("export.vault")
    );
    assert_eq!(
        create(with_export(|e| e.owner_key.clear())).unwrap_err(),
        missing("export.owner_key")
    );
    assert_eq!(
        create(with_export(|e| e.objects.clear())).unwrap_err(),
        missing("export.objects")
    );
    assert_eq!(
        create(with_export(|e| e.hosts = vec!["".into()])).unwrap_err(),
        missing("export.hosts[0]")
    );

    for bad in ["LATEST", "abc", "0123456z", "ABCDEF01", &"a".repeat(65)] {
        assert_eq!(
            create(with_export(|e| e.snapshots = vec!["latest".into(), bad.into()])).unwrap_err(),
            Error::SnapshotRefInvalid {
                field: "export.snapshots[1]".into(),
                snapshot: bad.into()
            }
        );
    }
    for good in ["latest", "0123abcd", &"f".repeat(64)] {
        create(with_export(|e| e.snapshots = vec![good.into()])).unwrap();
    }

    let id = object_id(0xabcdef);
    for bad in [
        "locks/".to_owned() + &id,
        "data/".to_owned() + &id,
        format!("data/ff/{id}"),
        format!("data/00/{id}/x"),
        format!("keys/{}", &id[1..]),
        format!("../keys/{id}"),
        "config/".into(),
        format!("index/{}", id.to_uppercase()),
    ] {
        assert_eq!(
            create(with_export(|e| e.objects.push(ExportObject {
                name: bad.clone(),
                size: 1
            })))
            .unwrap_err(),
            Error::ObjectNameInvalid {
                field: "export.objects[7].name".into(),
                name: bad
            }
        );
    }
    assert_eq!(
        create(with_export(|e| e.objects.push(e.objects[1].clone()))).unwrap_err(),
        Error::DuplicateObject {
            name: format!("keys/{}", object_id(1))
        }
    );
    assert_eq!(
        create(with_export(|e| e.objects[4].size = MAX_DRIVE_BYTES + 1)).unwrap_err(),
        Error::ValueTooLarge {
            field: "export.objects[4].size".into(),
            value: MAX_DRIVE_BYTES + 1,
            max: MAX_DRIVE_BYTES
        }
    );
    for (index, missing) in [(0, "config"), (1, "keys/<id>"), (2, "snapshots/<id>")] {
        assert_eq!(
            create(with_export(|e| {
                e.objects.remove(index);
            }))
            .unwrap_err(),
            Error::IncompleteRepository { missing }
        );
    }
    let mut spec = export_spec("x");
    assert!(matches!(
        create(spec.clone()).unwrap_err(),
        Error::JobNameInvalid { .. }
    ));
    spec.name = JOB.into();
    assert_eq!(
        Job::create(spec, &centres(), |_| true, &owner(), t0()).unwrap_err(),
        Error::JobNameTaken { name: JOB.into() }
    );
}

#[test]
fn blank_drives_join_in_received_up_to_the_announced_count_and_at_most_ten() {
    let mut job = create_export();
    assert_eq!(
        job.add_drive(drive_spec("D0"), &owner(), at_day(1)).unwrap_err(),
        Error::WrongJobType {
            what: "adding a drive",
            job_type: JobType::Export
        }
    );
    for (count, err) in [
        (0, Error::NoDrives),
        (
            11,
            Error::TooManyDrives {
                count: 11,
                max: MAX_DRIVES,
            },
        ),
    ] {
        assert_eq!(
            job.ship(&ship_request(count), |_| false, &owner(), at_day(1))
                .unwrap_err(),
            err
        );
    }
    let before = job.clone();
    assert_eq!(
        job.receive_drive(&id("B0"), &operator(), at_day(1)).unwrap_err(),
        Error::NotInThisState {
            action: "receive a drive",
            state: JobState::Creating
        }
    );
    assert_eq!(job, before);

    let mut job = shipped_export(2);
    assert_eq!(job.state(), JobState::Shipping);
    assert_eq!(job.awaited_drives(), 2);
    assert_eq!(
        job.receive_drive("not-hex", &operator(), at_day(2)).unwrap_err(),
        Error::DriveIdInvalid {
            field: "drive_id".into(),
            drive_id: "not-hex".into()
        }
    );
    assert!(matches!(
        job.receive_drive(&id("B0"), &owner(), at_day(2)).unwrap_err(),
        Error::NotPermitted { .. }
    ));
    job.receive_drive(&id("B0"), &operator(), at_day(2)).unwrap();
    assert_eq!(job.state(), JobState::Received);
    let drive = job.drive(&id("B0")).unwrap();
    assert_eq!(drive.state, DriveState::Received);
    assert_eq!(drive.history.len(), 1, "an export drive starts in Received");
    assert_eq!(
        job.receive_drive(&id("B0"), &operator(), at_day(2)).unwrap_err(),
        Error::IllegalDriveTransition {
            drive_id: id("B0"),
            from: DriveState::Received,
            to: DriveState::Received
        }
    );
    job.receive_drive(&id("B1"), &operator(), at_day(2)).unwrap();
    assert_eq!(
        job.receive_drive(&id("B2"), &operator(), at_day(2)).unwrap_err(),
        Error::DriveCountMismatch {
            declared: 2,
            actual: 3
        }
    );
    assert_eq!(job.awaited_drives(), 0);

    let mut job = shipped_export(MAX_DRIVES as u32);
    for n in 0..MAX_DRIVES {
        job.receive_drive(&id(&format!("B{n}")), &operator(), at_day(2))
            .unwrap();
    }
    assert_eq!(job.drives().len(), MAX_DRIVES);
    assert!(job.receive_drive(&id("B10"), &operator(), at_day(2)).is_err());
}

#[test]
fn an_export_goes_through_transferring_completed_and_shipped_back() {
    let mut job = shipped_export(2);
    let op = operator();
    job.receive_drive(&id("B0"), &op, at_day(2)).unwrap();
    job.start_transfer(&id("B0"), &op, at_day(2)).unwrap();
    assert_eq!(job.state(), JobState::Transferring);
    assert_eq!(job.drive(&id("B0")).unwrap().state, DriveState::Transferring);
    job.record_progress(&id("B0"), 4096, &op).unwrap();
    job.finish_transfer(&id("B0"), &clean_log(&id("B0")), &op, at_day(3))
        .unwrap();
    assert_eq!(job.drive(&id("B0")).unwrap().state, DriveState::Completed);
    // the second announced drive has not come: not Packaging yet
    assert_eq!(job.state(), JobState::Transferring);
    job.receive_drive(&id("B1"), &op, at_day(3)).unwrap();
    job.start_transfer(&id("B1"), &op, at_day(3)).unwrap();
    job.finish_transfer(&id("B1"), &corrupt_log(&id("B1")), &op, at_day(4))
        .unwrap();
    assert_eq!(job.drive(&id("B1")).unwrap().state, DriveState::CompletedMoreInfo);
    assert_eq!(job.state(), JobState::Packaging);
    assert_eq!(
        job.cancel(&owner(), at_day(4)).unwrap_err(),
        Error::CancelNotAllowed {
            state: JobState::Packaging
        }
    );
    job.ship_back("RET 1", &op, at_day(5)).unwrap();
    assert_eq!(job.state(), JobState::Closed);
    assert!(job.drives().iter().all(|d| d.state == DriveState::ShippedBack));
    assert_eq!(job.return_shipment().unwrap().tracking_number, "RET1");
    assert!(verify(&job).is_ok());
    assert!(matches!(
        job.check_delete_imported(&owner()).unwrap_err(),
        Error::WrongJobType {
            what: "deleting imported blobs",
            ..
        }
    ));
}

#[test]
fn cancel_only_before_a_blank_drive_is_received() {
    let mut job = create_export();
    job.cancel(&owner(), at_day(1)).unwrap();
    assert_eq!(job.state(), JobState::Cancelled);

    let mut job = shipped_export(1);
    job.clone().cancel(&owner(), at_day(2)).unwrap();
    job.receive_drive(&id("B0"), &operator(), at_day(2)).unwrap();
    let before = job.clone();
    assert_eq!(
        job.cancel(&owner(), at_day(2)).unwrap_err(),
        Error::CancelNotAllowed {
            state: JobState::Received
        }
    );
    assert_eq!(job, before);
}

#[test]
fn deadlines_of_an_export_job() {
    let policy = DeadlinePolicy::default();
    let job = create_export();
    assert_eq!(
        tick(&job, at_day(14), &policy),
        vec![Effect::DeleteJob {
            account: ACCOUNT.into(),
            job: JOB.into()
        }]
    );

    // shipped on day 1: blank drives not all there 14 days later are given up on
    let mut job = shipped_export(2);
    job.receive_drive(&id("B0"), &operator(), at_day(2)).unwrap();
    let deadline = next_deadline(&job, &policy).unwrap();
    assert_eq!(deadline.kind, DeadlineKind::DrivesNeverReceived);
    assert!(tick(&job, at_day(14), &policy).is_empty());
    let effects = tick(&job, at_day(16), &policy);
    assert_eq!(
        effects,
        vec![Effect::BlankDrivesNeverReceived {
            account: ACCOUNT.into(),
            job: JOB.into()
        }]
    );
    job.mark_blank_drives_never_received(&Actor::system(), at_day(16))
        .unwrap();
    assert_eq!(job.awaited_drives(), 0);
    assert_eq!(job.export().unwrap().drives_never_received, 1);
    assert!(
        tick(&job, at_day(16), &policy).is_empty(),
        "applied effects are not due again"
    );
    assert_eq!(
        job.mark_blank_drives_never_received(&Actor::system(), at_day(16))
            .unwrap_err(),
        Error::NotInThisState {
            action: "mark blank drives never received",
            state: JobState::Received
        }
    );
    assert!(
        job.custody()
            .entries()
            .iter()
            .any(|e| e.event == CustodyEvent::BlankDrivesNeverReceived { count: 1 })
    );
    // the drive that came is written; the job packages without the missing one
    job.start_transfer(&id("B0"), &operator(), at_day(17)).unwrap();
    job.finish_transfer(&id("B0"), &clean_log(&id("B0")), &operator(), at_day(17))
        .unwrap();
    assert_eq!(job.state(), JobState::Packaging);
    // ... unless it turns up after all
    job.receive_drive(&id("B1"), &operator(), at_day(18)).unwrap();
    assert_eq!(job.state(), JobState::Transferring);
    assert_eq!(job.export().unwrap().drives_never_received, 0);

    let mut import = shipped(1);
    assert!(matches!(
        import
            .mark_blank_drives_never_received(&Actor::system(), at_day(16))
            .unwrap_err(),
        Error::WrongJobType { .. }
    ));
    // purge 90 days after the end, as for import
    let mut job = create_export();
    job.cancel(&owner(), at_day(1)).unwrap();
    assert_eq!(
        tick(&job, at_day(91), &policy),
        vec![Effect::PurgeJob {
            account: ACCOUNT.into(),
            job: JOB.into()
        }]
    );
}

#[test]
fn tracking_numbers_are_unique_across_import_and_export_jobs() {
    // the server answers `tracking_taken` from every job, import or export, of every account
    let import = shipped(1);
    let taken = import.shipping().unwrap().tracking_number.clone();
    let mut export = create_export();
    let request = ShipRequest {
        tracking_number: "1Z 999 AA1".into(),
        ..ship_request(1)
    };
    assert_eq!(
        export
            .ship(&request, |t| t == taken, &owner(), at_day(1))
            .unwrap_err(),
        Error::DuplicateTrackingNumber {
            tracking_number: taken.clone()
        }
    );
    export
        .ship(&ship_request(1), |_| false, &owner(), at_day(1))
        .unwrap();
    let mut other = create(spec_with("other-job", 1)).unwrap();
    let number = export.shipping().unwrap().tracking_number.clone();
    assert!(matches!(
        other
            .ship(&ship_request(1), |t| t == number, &owner(), at_day(1))
            .unwrap_err(),
        Error::DuplicateTrackingNumber { .. }
    ));
}

#[derive(Debug, Clone)]
enum Op {
    Ship(u8),
    Cancel,
    Receive(u8),
    GiveUp,
    Start(u8),
    Finish(u8, bool),
    ShipBack,
}

fn arb_op() -> impl Strategy<Value = Op> {
    let d = 0u8..12;
    prop_oneof![
        2 => (0u8..12).prop_map(Op::Ship),
        1 => Just(Op::Cancel),
        8 => d.clone().prop_map(Op::Receive),
        1 => Just(Op::GiveUp),
        6 => d.clone().prop_map(Op::Start),
        6 => (d, any::<bool>()).prop_map(|(d, clean)| Op::Finish(d, clean)),
        3 => Just(Op::ShipBack),
    ]
}

fn apply(job: &mut Job, op: &Op, who: &Actor, day: i64) -> Result<(), Error> {
    let now = at_day(day);
    let drive = |d: &u8| id(&format!("B{d}"));
    match op {
        Op::Ship(count) => job.ship(&ship_request(u32::from(*count)), |_| false, who, now),
        Op::Cancel => job.cancel(who, now),
        Op::Receive(d) => job.receive_drive(&drive(d), who, now),
        Op::GiveUp => job.mark_blank_drives_never_received(who, now),
        Op::Start(d) => job.start_transfer(&drive(d), who, now),
        Op::Finish(d, clean) => {
            let log = if *clean {
                clean_log(&drive(d))
            } else {
                corrupt_log(&drive(d))
            };
            job.finish_transfer(&drive(d), &log, who, now)
        }
        Op::ShipBack => job.ship_back("RET", who, now),
    }
}

fn role(op: &Op, pick: u8) -> Actor {
    match pick {
        0 => owner(),
        1 => Actor::owner("mallory"),
        2 => Actor::system(),
        _ => match op {
            Op::Ship(_) | Op::Cancel => owner(),
            _ => operator(),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn any_export_sequence_keeps_the_invariants(ops in proptest::collection::vec((arb_op(), 0u8..8), 1..60)) {
        use DriveState as D;
        let mut job = create_export();
        for (day, (op, pick)) in ops.iter().enumerate() {
            let before = job.clone();
            let who = role(op, *pick);
            match apply(&mut job, op, &who, 2 + day as i64) {
                Ok(()) => prop_assert_ne!(&job, &before, "{:?} succeeded without effect", op),
                Err(e) => prop_assert_eq!(&job, &before, "{:?} refused ({}) but changed the job", op, e),
            }
            prop_assert!(verify(&job).is_ok());
            prop_assert!(job.drives().len() <= MAX_DRIVES);
            let declared = job.shipping().map_or(0, |s| s.drive_count as usize);
            prop_assert!(job.drives().len() <= declared);
            for drive in job.drives() {
                // an export drive is never Specified or NeverReceived: it starts Received
                prop_assert_eq!(drive.history[0].state, D::Received);
                prop_assert!(!matches!(drive.state, D::Specified | D::NeverReceived));
            }
            for entry in job.custody().entries() {
                match &entry.event {
                    CustodyEvent::JobStateChanged { from, to } => prop_assert!(from.can_move_to(*to)),
                    CustodyEvent::DriveStateChanged { from, to, .. } => prop_assert!(from.can_move_to(*to)),
                    _ => {}
                }
            }
            let all_done = job.drives().iter().all(|d| d.state.is_done()) && job.awaited_drives() == 0;
            match job.state() {
                JobState::Creating | JobState::Shipping | JobState::Cancelled => {
                    prop_assert!(job.drives().is_empty());
                }
                JobState::Received => prop_assert!(job.drives().iter().all(|d| d.state == D::Received)),
                JobState::Transferring => prop_assert!(!all_done),
                JobState::Packaging => prop_assert!(all_done),
                JobState::Completed | JobState::Closed => {
                    prop_assert!(job.drives().iter().all(|d| d.state == D::ShippedBack));
                }
            }
            if job.state() == JobState::Cancelled {
                // cancelled only ever from Creating or Shipping
                let previous = job.history()[job.history().len() - 2].state;
                prop_assert!(previous.can_cancel());
            }
        }
    }
}
