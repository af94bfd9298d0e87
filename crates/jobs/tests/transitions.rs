//! The job and drive state machines: the tables, every action in every job state, the rules,
//! and the job state derived from the drives.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use seedship_jobs::*;

const LEGAL_JOB: [(JobState, JobState); 10] = {
    use JobState::*;
    [
        (Creating, Shipping),
        (Creating, Cancelled),
        (Shipping, Cancelled),
        (Shipping, Received),
        (Received, Transferring),
        (Transferring, Packaging),
        (Packaging, Transferring),
        (Packaging, Completed),
        (Packaging, Closed),
        (Closed, Completed),
    ]
};

const LEGAL_DRIVE: [(DriveState, DriveState); 9] = {
    use DriveState::*;
    [
        (Specified, Received),
        (Specified, NeverReceived),
        (NeverReceived, Received),
        (Received, Transferring),
        (Transferring, Completed),
        (Transferring, CompletedMoreInfo),
        (CompletedMoreInfo, Completed),
        (Completed, ShippedBack),
        (CompletedMoreInfo, ShippedBack),
    ]
};

/// Every pair of states of `$ty` may follow each other exactly when `$legal` lists it.
macro_rules! assert_transition_table {
    ($ty:ty, $legal:expr) => {
        for from in <$ty>::ALL {
            for to in <$ty>::ALL {
                assert_eq!(
                    from.can_move_to(to),
                    $legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    };
}

/// Every state of `$ty` reads back from its name, which is also its JSON form.
macro_rules! assert_names_round_trip {
    ($ty:ty) => {
        for state in <$ty>::ALL {
            assert_eq!(state.to_string().parse::<$ty>().unwrap(), state);
            assert_eq!(serde_json::to_string(&state).unwrap(), format!("\"{state}\""));
        }
    };
}

#[test]
fn job_transition_table_allows_exactly_the_legal_pairs() {
    assert_transition_table!(JobState, LEGAL_JOB);
}

#[test]
fn drive_transition_table_allows_exactly_the_legal_pairs() {
    assert_transition_table!(DriveState, LEGAL_DRIVE);
}

#[test]
fn state_names_round_trip_through_text_and_json() {
    assert_names_round_trip!(JobState);
    assert_names_round_trip!(DriveState);
    assert_eq!(
        "Canceled".parse::<JobState>().unwrap_err(),
        UnknownState {
            kind: "job",
            name: "Canceled".into()
        }
    );
}

#[derive(Debug, Clone, Copy)]
enum Action {
    AddDrive,
    Ship,
    Cancel,
    ReceiveD1,
    NeverReceivedD1,
    StartD0,
    FinishD0,
    ShipBack,
}

fn run(job: &mut Job, action: Action) -> Result<(), Error> {
    let op = operator();
    match action {
        Action::AddDrive => job.add_drive(drive_spec("NEW"), &owner(), at_day(2)),
        Action::Ship => job.ship(&ship_request(2), |_| false, &owner(), at_day(2)),
        Action::Cancel => job.cancel(&owner(), at_day(2)),
        Action::ReceiveD1 => job.receive_drive(&id("D1"), &op, at_day(6)),
        Action::NeverReceivedD1 => job.mark_never_received(&id("D1"), &op, at_day(6)),
        Action::StartD0 => job.start_transfer(&id("D0"), &op, at_day(6)),
        Action::FinishD0 => job.finish_transfer(&id("D0"), &clean_log(&id("D0")), &op, at_day(6)),
        Action::ShipBack => job.ship_back("RET-2", &op, at_day(6)),
    }
}

/// Every action in every job state: `None` means allowed, else the error code.
/// Fixtures (two drives D0, D1): Received = D0 received; Transferring = D0 transferring;
/// Packaging = both Completed; Completed/Closed = both shipped back (Closed: D1 with errors).
#[test]
fn every_action_in_every_job_state() {
    use Action::*;
    use JobState as S;
    const NIS: Option<&str> = Some("NotInThisState");
    const IDT: Option<&str> = Some("IllegalDriveTransition");
    const CNA: Option<&str> = Some("CancelNotAllowed");
    const IT: Option<&str> = Some("IllegalTransition");
    let table: [(JobState, [Option<&str>; 8]); 8] = [
        //           AddDrive Ship  Cancel ReceiveD1 NeverRecD1 StartD0 FinishD0 ShipBack
        (S::Creating, [None, None, None, NIS, NIS, NIS, IDT, NIS]),
        (S::Shipping, [NIS, IT, None, None, None, NIS, IDT, NIS]),
        (S::Received, [NIS, IT, CNA, None, None, None, IDT, NIS]),
        (S::Transferring, [NIS, IT, CNA, None, None, IDT, None, NIS]),
        (S::Packaging, [NIS, IT, CNA, IDT, NIS, NIS, IDT, None]),
        (S::Completed, [NIS, IT, CNA, NIS, NIS, NIS, IDT, NIS]),
        (S::Closed, [NIS, IT, CNA, NIS, NIS, NIS, IDT, NIS]),
        (S::Cancelled, [NIS, IT, CNA, NIS, NIS, NIS, IDT, NIS]),
    ];
    let actions = [
        AddDrive,
        Ship,
        Cancel,
        ReceiveD1,
        NeverReceivedD1,
        StartD0,
        FinishD0,
        ShipBack,
    ];
    for (state, expected) in table {
        for (action, expected) in actions.into_iter().zip(expected) {
            let mut job = job_in(state);
            let before = job.clone();
            let result = run(&mut job, action);
            match expected {
                None => {
                    assert!(result.is_ok(), "{action:?} in {state}: {result:?}");
                    assert_ne!(job, before, "{action:?} in {state} changed nothing");
                    verify(&job).unwrap();
                }
                Some(code) => {
                    let err = result.unwrap_err();
                    assert_eq!(err.code(), code, "{action:?} in {state}: {err}");
                    assert_eq!(
                        job, before,
                        "{action:?} in {state} was refused but changed the job"
                    );
                }
            }
        }
    }
}

/// Every legal transition of both tables is reached through the public methods; the custody
/// log records exactly those.
#[test]
fn every_legal_transition_is_reachable_and_logged() {
    let op = operator();
    let mut jobs = Vec::new();
    // happy path with a late drive: Packaging -> Transferring, NeverReceived -> Received
    let mut job = shipped(2);
    job.mark_never_received(&id("D1"), &op, at_day(15)).unwrap();
    transfer(&mut job, &id("D0"), &clean_log(&id("D0")), 16);
    assert_eq!(job.state(), JobState::Packaging);
    job.receive_drive(&id("D1"), &op, at_day(17)).unwrap();
    assert_eq!(job.state(), JobState::Transferring);
    job.start_transfer(&id("D1"), &op, at_day(17)).unwrap();
    job.finish_transfer(&id("D1"), &clean_log(&id("D1")), &op, at_day(17))
        .unwrap();
    job.ship_back("RET-3", &op, at_day(18)).unwrap();
    assert_eq!(job.state(), JobState::Completed);
    jobs.push(job);
    // errors, Closed, repaired to Completed
    let mut job = job_in(JobState::Closed);
    job.record_repair(&id("D1"), &[corrupt_problem()], &owner(), at_day(20))
        .unwrap();
    assert_eq!(job.state(), JobState::Completed);
    jobs.push(job);
    // repaired before return shipping: CompletedMoreInfo -> Completed
    let mut job = shipped(1);
    transfer(&mut job, &id("D0"), &corrupt_log(&id("D0")), 3);
    assert_eq!(job.drive(&id("D0")).unwrap().state, DriveState::CompletedMoreInfo);
    job.record_repair(&id("D0"), &[corrupt_problem()], &owner(), at_day(4))
        .unwrap();
    assert_eq!(job.drive(&id("D0")).unwrap().state, DriveState::Completed);
    jobs.push(job);
    // cancels
    jobs.push(job_in(JobState::Cancelled));
    let mut job = shipped(1);
    job.cancel(&owner(), at_day(2)).unwrap();
    jobs.push(job);

    let mut job_moves = BTreeSet::new();
    let mut drive_moves = BTreeSet::new();
    for job in &jobs {
        verify(job).unwrap();
        for entry in job.custody().entries() {
            match &entry.event {
                CustodyEvent::JobStateChanged { from, to } => job_moves.insert((*from, *to)),
                CustodyEvent::DriveStateChanged { from, to, .. } => drive_moves.insert((*from, *to)),
                _ => false,
            };
        }
    }
    assert_eq!(job_moves, LEGAL_JOB.into_iter().collect());
    assert_eq!(drive_moves, LEGAL_DRIVE.into_iter().collect());
}

#[test]
fn an_11th_drive_is_refused_at_creation_and_when_added() {
    let err = Job::create(spec_with(JOB, 11), &centres(), |_| false, &owner(), t0()).unwrap_err();
    assert_eq!(err, Error::TooManyDrives { count: 11, max: 10 });

    let mut job = create(10);
    let before = job.clone();
    let err = job.add_drive(drive_spec("D10"), &owner(), at_day(1)).unwrap_err();
    assert_eq!(err, Error::TooManyDrives { count: 11, max: 10 });
    assert_eq!(
        err.to_string(),
        "a job holds at most 10 drives; this would make 11"
    );
    assert_eq!(job, before);

    let mut job = create(9);
    job.add_drive(drive_spec("D9"), &owner(), at_day(1)).unwrap();
    assert_eq!(job.drives().len(), 10);
}

#[test]
fn creation_rules() {
    let centres = centres();
    let create = |spec: JobSpec| Job::create(spec, &centres, |_| false, &owner(), t0());
    assert_eq!(create(spec_with(JOB, 0)).unwrap_err(), Error::NoDrives);

    let mut spec = spec_with(JOB, 2);
    spec.drives[1].drive_id = id("D0");
    assert_eq!(
        create(spec).unwrap_err(),
        Error::DuplicateDrive { drive_id: id("D0") }
    );

    let mut spec = spec_with(JOB, 1);
    spec.job_type = JobType::Export;
    assert_eq!(
        create(spec).unwrap_err(),
        Error::WrongJobType {
            what: "a destination container",
            job_type: JobType::Export
        }
    );

    let mut spec = spec_with(JOB, 1);
    spec.region = "mars".into();
    assert_eq!(
        create(spec).unwrap_err(),
        Error::UnknownRegion {
            region: "mars".into(),
            known: "eu-west, us-east".into()
        }
    );

    let missing = |edit: fn(&mut JobSpec), field: &str| {
        let mut spec = spec_with(JOB, 2);
        edit(&mut spec);
        assert_eq!(
            create(spec).unwrap_err(),
            Error::MissingField { field: field.into() },
            "{field}"
        );
    };
    missing(
        |s| s.return_shipping.account_number = " ".into(),
        "return_shipping.account_number",
    );
    missing(
        |s| s.return_shipping.carrier = String::new(),
        "return_shipping.carrier",
    );
    missing(
        |s| s.return_shipping.address.street = vec![String::new()],
        "return_shipping.address.street",
    );
    missing(
        |s| s.return_shipping.address.city = String::new(),
        "return_shipping.address.city",
    );
    missing(
        |s| s.destination.container = String::new(),
        "destination.container",
    );
    missing(|s| s.contact.email = String::new(), "contact.email");
    missing(
        |s| s.drives[1].wrapped_key = String::new(),
        "drives[1].wrapped_key",
    );
    missing(
        |s| s.drives[0].manifest_hash = String::new(),
        "drives[0].manifest_hash",
    );

    let job = create(spec_with(JOB, 3)).unwrap();
    assert_eq!(job.account(), ACCOUNT);
    assert_eq!(job.state(), JobState::Creating);
    assert_eq!(job.data_centre().shipping_address.recipient, "Seedship AMS");
    assert!(job.drives().iter().all(|d| d.state == DriveState::Specified));
    assert_eq!(
        job.created_at(),
        time::macros::datetime!(2026-11-01 09:30:00.123 UTC)
    );
}

#[test]
fn only_owners_create_and_operators_receive() {
    let err = Job::create(spec_with(JOB, 1), &centres(), |_| false, &operator(), t0()).unwrap_err();
    assert_eq!(err.code(), "NotPermitted");

    let mut job = shipped(2);
    let before = job.clone();
    let err = job.receive_drive(&id("D0"), &owner(), at_day(3)).unwrap_err();
    assert_eq!(
        err,
        Error::NotPermitted {
            action: "receive a drive",
            role: Role::Owner,
            actor: ACCOUNT.into()
        }
    );
    assert_eq!(
        err.to_string(),
        "owner \"acme\" may not receive a drive on this job"
    );
    assert_eq!(job, before);

    // another account's owner may not cancel; an operator may not either
    assert_eq!(
        job.cancel(&Actor::owner("mallory"), at_day(2))
            .unwrap_err()
            .code(),
        "NotPermitted"
    );
    assert_eq!(
        job.cancel(&operator(), at_day(2)).unwrap_err().code(),
        "NotPermitted"
    );
    // the system may only declare drives never received
    assert_eq!(
        job.receive_drive(&id("D0"), &Actor::system(), at_day(3))
            .unwrap_err()
            .code(),
        "NotPermitted"
    );
    job.mark_never_received(&id("D0"), &Actor::system(), at_day(15))
        .unwrap();
    assert_eq!(job.drive(&id("D0")).unwrap().state, DriveState::NeverReceived);
    assert_eq!(job.custody().entries().last().unwrap().actor, Actor::system());
}

#[test]
fn drive_count_must_match() {
    let mut job = create(3);
    let before = job.clone();
    let err = job
        .ship(&ship_request(2), |_| false, &owner(), at_day(1))
        .unwrap_err();
    assert_eq!(
        err,
        Error::DriveCountMismatch {
            declared: 2,
            actual: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "the shipment declares 2 drives but the job has 3"
    );
    assert_eq!(job, before);
}

#[test]
fn a_tracking_number_used_by_another_job_is_refused() {
    let first = shipped(1);
    let used: BTreeSet<String> = first
        .shipping()
        .map(|s| s.tracking_number.clone())
        .into_iter()
        .collect();
    assert_eq!(used, BTreeSet::from(["1Z999AA1".to_owned()]));

    let mut second = Job::create(spec_with("second-job", 1), &centres(), |_| false, &owner(), t0()).unwrap();
    let before = second.clone();
    // the same number written differently is the same number
    let mut request = ship_request(1);
    request.tracking_number = " 1Z999 aa1 ".into();
    let err = second
        .ship(&request, |t| used.contains(t), &owner(), at_day(1))
        .unwrap_err();
    assert_eq!(
        err,
        Error::DuplicateTrackingNumber {
            tracking_number: "1Z999AA1".into()
        }
    );
    assert_eq!(second, before);

    request.tracking_number = "1Z999AA2".into();
    second
        .ship(&request, |t| used.contains(t), &owner(), at_day(1))
        .unwrap();
    assert_eq!(second.state(), JobState::Shipping);
}

#[test]
fn shipping_information_rules() {
    let job = create(1);
    let mut request = ship_request(1);
    request.ship_date = at_day(3).date();
    assert_eq!(
        job.check_ship(&request, |_| false, &owner(), at_day(1))
            .unwrap_err(),
        Error::ShipDateInFuture {
            ship_date: at_day(3).date(),
            today: at_day(1).date()
        }
    );
    let mut request = ship_request(1);
    request.tracking_number = "  ".into();
    assert_eq!(
        job.check_ship(&request, |_| false, &owner(), at_day(1))
            .unwrap_err(),
        Error::MissingField {
            field: "tracking_number".into()
        }
    );
    // the review step records nothing
    let before = job.clone();
    let info = job
        .check_ship(&ship_request(1), |_| false, &owner(), at_day(1))
        .unwrap();
    assert_eq!(info.tracking_number, "1Z999AA1");
    assert_eq!(
        info.recorded_at,
        time::macros::datetime!(2026-11-02 09:30:00.123 UTC)
    );
    assert_eq!(job, before);
}

#[test]
fn cancel_after_receipt_is_refused() {
    let mut job = job_in(JobState::Received);
    let before = job.clone();
    let err = job.cancel(&owner(), at_day(4)).unwrap_err();
    assert_eq!(
        err,
        Error::CancelNotAllowed {
            state: JobState::Received
        }
    );
    assert_eq!(
        err.to_string(),
        "the job is Received: a job can only be cancelled before its drives are received (Creating or Shipping)"
    );
    assert_eq!(job, before);

    let mut job = shipped(2);
    job.cancel(&owner(), at_day(2)).unwrap();
    assert_eq!(job.state(), JobState::Cancelled);
    assert_eq!(
        job.entered_at(JobState::Cancelled),
        Some(time::macros::datetime!(2026-11-03 09:30:00.123 UTC))
    );
}

#[test]
fn job_state_follows_the_drives() {
    let op = operator();
    let mut job = shipped(3);
    job.receive_drive(&id("D0"), &op, at_day(3)).unwrap();
    assert_eq!(job.state(), JobState::Received, "first drive received");
    job.receive_drive(&id("D1"), &op, at_day(3)).unwrap();
    assert_eq!(job.state(), JobState::Received);
    job.start_transfer(&id("D0"), &op, at_day(3)).unwrap();
    assert_eq!(job.state(), JobState::Transferring, "first drive started");
    job.finish_transfer(&id("D0"), &clean_log(&id("D0")), &op, at_day(4))
        .unwrap();
    job.start_transfer(&id("D1"), &op, at_day(4)).unwrap();
    job.finish_transfer(&id("D1"), &corrupt_log(&id("D1")), &op, at_day(4))
        .unwrap();
    assert_eq!(job.state(), JobState::Transferring, "D2 still Specified");
    job.mark_never_received(&id("D2"), &op, at_day(15)).unwrap();
    assert_eq!(job.state(), JobState::Packaging, "every drive done");
    assert_eq!(job.drive(&id("D1")).unwrap().state, DriveState::CompletedMoreInfo);

    job.ship_back("ret 77", &op, at_day(16)).unwrap();
    assert_eq!(job.state(), JobState::Closed);
    assert_eq!(job.return_shipment().unwrap().tracking_number, "RET77");
    assert_eq!(job.return_shipment().unwrap().carrier, "DHL");
    let states: Vec<_> = job.drives().iter().map(|d| d.state).collect();
    assert_eq!(
        states,
        [
            DriveState::ShippedBack,
            DriveState::ShippedBack,
            DriveState::NeverReceived
        ]
    );
    let history: Vec<_> = job.history().iter().map(|h| h.state).collect();
    use JobState::*;
    assert_eq!(
        history,
        [Creating, Shipping, Received, Transferring, Packaging, Closed]
    );
}

#[test]
fn a_never_received_drive_makes_the_job_closed_even_if_the_rest_is_clean() {
    let mut job = shipped(2);
    transfer(&mut job, &id("D0"), &clean_log(&id("D0")), 3);
    job.mark_never_received(&id("D1"), &Actor::system(), at_day(15))
        .unwrap();
    job.ship_back("RET", &operator(), at_day(16)).unwrap();
    assert_eq!(job.state(), JobState::Closed);
}

#[test]
fn warnings_end_the_drive_in_completed_more_info() {
    let mut job = shipped(1);
    let mut log = clean_log(&id("D0"));
    log.blobs[1].disposition = DispositionOutcome::Renamed;
    log.blobs[1].blob = "host1/config (1)".into();
    log.status = DriveStatus::from_blobs(&log.blobs);
    assert_eq!(log.status, DriveStatus::CompletedWithWarnings);
    transfer(&mut job, &id("D0"), &log, 3);
    assert_eq!(job.drive(&id("D0")).unwrap().state, DriveState::CompletedMoreInfo);
    // nothing to repair: a warning is not a problem
    let err = job
        .record_repair(&id("D0"), &[corrupt_problem()], &owner(), at_day(4))
        .unwrap_err();
    assert_eq!(err, Error::NothingToRepair { drive_id: id("D0") });
    job.ship_back("RET", &operator(), at_day(5)).unwrap();
    assert_eq!(job.state(), JobState::Closed);
}

#[test]
fn a_log_for_another_drive_is_refused() {
    let mut job = job_in(JobState::Transferring);
    let before = job.clone();
    let err = job
        .finish_transfer(&id("D0"), &clean_log(&id("D1")), &operator(), at_day(4))
        .unwrap_err();
    assert_eq!(err.code(), "DriveLogMismatch");
    assert_eq!(job, before);
    assert_eq!(
        job.receive_drive(&id("D9"), &operator(), at_day(4)).unwrap_err(),
        Error::UnknownDrive { drive_id: id("D9") }
    );
}

#[test]
fn partial_repair_keeps_the_job_closed() {
    let mut job = shipped(1);
    let mut log = corrupt_log(&id("D0"));
    log.blobs[1].ranges[0].status = RangeStatus::Missing;
    log.blobs[1].status = BlobStatus::CompletedWithErrors;
    transfer(&mut job, &id("D0"), &log, 3);
    job.ship_back("RET", &operator(), at_day(5)).unwrap();
    assert_eq!(job.state(), JobState::Closed);
    assert_eq!(
        job.drive(&id("D0"))
            .unwrap()
            .transfer
            .as_ref()
            .unwrap()
            .problems
            .len(),
        2
    );

    job.record_repair(&id("D0"), &[corrupt_problem()], &owner(), at_day(6))
        .unwrap();
    assert_eq!(job.state(), JobState::Closed);
    let missing = Problem::Range {
        blob: "host1/config".into(),
        offset: 0,
        length: 100,
        status: RangeStatus::Missing,
    };
    // repairing the same problem twice finds nothing
    let err = job
        .record_repair(&id("D0"), &[corrupt_problem()], &owner(), at_day(6))
        .unwrap_err();
    assert_eq!(err.code(), "NothingToRepair");
    job.record_repair(&id("D0"), &[missing], &owner(), at_day(7))
        .unwrap();
    assert_eq!(job.state(), JobState::Completed);
    assert_eq!(job.drive(&id("D0")).unwrap().state, DriveState::ShippedBack);
    verify(&job).unwrap();
}

#[test]
fn erasure_is_recorded_once_after_the_transfer_and_destroys_the_key() {
    let record = ErasureRecord {
        method: "overwrite-random-1-pass".into(),
        bytes_overwritten: 1000,
        key_material_destroyed: true,
        verification: "read back 64 sampled blocks".into(),
    };
    let mut job = job_in(JobState::Transferring);
    let err = job
        .record_erasure(&id("D0"), record.clone(), &operator(), at_day(4))
        .unwrap_err();
    assert_eq!(
        err,
        Error::DriveNotInThisState {
            action: "erase",
            drive_id: id("D0"),
            state: DriveState::Transferring
        }
    );
    let mut job = job_in(JobState::Completed);
    job.record_erasure(&id("D0"), record.clone(), &operator(), at_day(6))
        .unwrap();
    let drive = job.drive(&id("D0")).unwrap();
    assert_eq!(drive.erasure.as_ref(), Some(&record));
    assert!(drive.wrapped_key.is_empty());
    assert_eq!(job.drive(&id("D1")).unwrap().wrapped_key, "wrapped-key-of-D1");
    assert_eq!(
        job.record_erasure(&id("D0"), record, &operator(), at_day(6))
            .unwrap_err()
            .code(),
        "DriveNotInThisState"
    );
    let last = job.custody().entries().last().unwrap();
    assert!(matches!(&last.event, CustodyEvent::Erased { drive, .. } if drive == &id("D0")));
    assert_eq!(last.actor, operator());
}

#[test]
fn progress_is_recorded_only_while_transferring_and_capped() {
    let mut job = job_in(JobState::Transferring);
    job.record_progress(&id("D0"), 400, &operator()).unwrap();
    assert_eq!(job.drive(&id("D0")).unwrap().bytes_done, 400);
    job.record_progress(&id("D0"), 5000, &operator()).unwrap();
    assert_eq!(job.drive(&id("D0")).unwrap().bytes_done, 1000);
    assert_eq!(
        job.record_progress(&id("D1"), 1, &operator()).unwrap_err().code(),
        "DriveNotInThisState"
    );
    assert_eq!(
        job.record_progress(&id("D0"), 1, &owner()).unwrap_err().code(),
        "NotPermitted"
    );
}

#[test]
fn a_job_survives_a_json_round_trip() {
    let job = job_in(JobState::Closed);
    let text = serde_json::to_string(&job).unwrap();
    let back: Job = serde_json::from_str(&text).unwrap();
    assert_eq!(back, job);
    verify(&back).unwrap();
}

/// Names and numbers a customer or an operator's request carries are refused where they enter
/// the job, naming the field, and leave the job unchanged: a drive id that is not 32 lowercase
/// hex digits (it ends up in object keys), a prefix with dot segments, a drive or a log whose
/// sizes would overflow the job's totals.
#[test]
fn hostile_names_and_numbers_are_refused_at_the_door() {
    let centres = centres();
    let create = |spec: JobSpec| Job::create(spec, &centres, |_| false, &owner(), t0());
    for bad in [
        "x/../../..",
        "",
        "D0",
        "ABCDEF0123456789ABCDEF0123456789",
        &format!("{}0", id("D0")),
    ] {
        let mut spec = spec_with(JOB, 2);
        spec.drives[1].drive_id = bad.to_owned();
        let err = create(spec).unwrap_err();
        assert!(
            matches!(&err, Error::DriveIdInvalid { field, .. } if field == "drives[1].drive_id")
                || (bad.is_empty() && matches!(&err, Error::MissingField { .. })),
            "{bad:?}: {err:?}"
        );
    }
    let mut job = create(spec_with(JOB, 1)).unwrap();
    let before = job.clone();
    let err = job
        .add_drive(drive_spec_with_id("a/../b"), &owner(), at_day(1))
        .unwrap_err();
    assert_eq!(err.code(), "DriveIdInvalid");
    assert_eq!(job, before);

    for bad in ["host1/../other", "a//b", "./a", "a\\b"] {
        let mut spec = spec_with(JOB, 1);
        spec.destination.prefix = bad.to_owned();
        assert_eq!(create(spec).unwrap_err().code(), "PrefixInvalid", "{bad:?}");
    }

    let mut spec = spec_with(JOB, 10);
    for drive in &mut spec.drives {
        drive.bytes = u64::MAX;
    }
    assert_eq!(
        create(spec).unwrap_err(),
        Error::ValueTooLarge {
            field: "drives[0].bytes".into(),
            value: u64::MAX,
            max: MAX_DRIVE_BYTES
        }
    );
    let mut spec = spec_with(JOB, 10);
    for drive in &mut spec.drives {
        drive.bytes = MAX_DRIVE_BYTES;
    }
    let largest = create(spec).unwrap();
    assert_eq!(
        JobSummary::of(&largest, &DeadlinePolicy::default()).bytes_total,
        10 * MAX_DRIVE_BYTES
    );

    // A copy log whose lengths overflow, or whose range lies outside its blob.
    let mut job = job_in(JobState::Transferring);
    let before = job.clone();
    let mut huge = clean_log(&id("D0"));
    huge.blobs[0].length = u64::MAX;
    huge.blobs[1].length = u64::MAX;
    let err = job
        .finish_transfer(&id("D0"), &huge, &operator(), at_day(4))
        .unwrap_err();
    assert!(
        matches!(&err, Error::ValueTooLarge { field, .. } if field == "blobs[0].length"),
        "{err:?}"
    );
    let mut outside = clean_log(&id("D0"));
    outside.blobs[0].ranges[1].offset = u64::MAX;
    let err = job
        .finish_transfer(&id("D0"), &outside, &operator(), at_day(4))
        .unwrap_err();
    assert!(
        matches!(&err, Error::ValueTooLarge { field, .. } if field == "blobs[0].ranges[1].length"),
        "{err:?}"
    );
    assert_eq!(job, before);
}

fn drive_spec_with_id(drive_id: &str) -> DriveSpec {
    DriveSpec {
        drive_id: drive_id.into(),
        ..drive_spec("X")
    }
}

/// A drive that several sessions wrote names every session's manifest, oldest first; at most
/// [`MAX_SESSIONS_PER_DRIVE`] of them, none empty.
#[test]
fn a_drive_names_the_manifests_of_all_its_sessions() {
    let mut spec = spec_with(JOB, 1);
    spec.drives[0].earlier_manifest_hashes = vec!["first".into(), "second".into()];
    let job = Job::create(spec.clone(), &centres(), |_| false, &owner(), t0()).unwrap();
    assert_eq!(
        job.drives()[0].manifest_hashes(),
        ["first", "second", "manifest-hash-of-D0"]
    );
    spec.drives[0].earlier_manifest_hashes = vec!["first".into(), " ".into()];
    let err = Job::create(spec.clone(), &centres(), |_| false, &owner(), t0()).unwrap_err();
    assert!(
        matches!(&err, Error::MissingField { field } if field == "drives[0].earlier_manifest_hashes[1]"),
        "{err:?}"
    );
    spec.drives[0].earlier_manifest_hashes = vec!["h".into(); MAX_SESSIONS_PER_DRIVE];
    let err = Job::create(spec, &centres(), |_| false, &owner(), t0()).unwrap_err();
    assert!(
        matches!(&err, Error::ValueTooLarge { field, value: 16, max: 15 } if field == "drives[0].earlier_manifest_hashes"),
        "{err:?}"
    );
}

/// The device a drive was prepared on is in the drive record and in the custody log (one
/// `drive_device` entry after `created`), survives the job's JSON, and is bounded.
#[test]
fn the_device_of_a_drive_is_recorded_and_in_the_custody_log() {
    let device = DeviceInfo {
        mount_point: "/mnt/d1".into(),
        is_mount_point: true,
        source: "/dev/sdb1".into(),
        fs_type: "ext4".into(),
        dev: "8:17".into(),
        block_device: Some("sdb1".into()),
        disk: Some("sdb".into()),
        model: Some("WDC WD5000".into()),
        serial: Some("WD-123".into()),
        device_bytes: Some(500_107_862_016),
        backing_file: None,
        fs_bytes: 491_000_000_000,
    };
    let mut spec = spec_with(JOB, 2);
    spec.drives[1].device = Some(device.clone());
    let job = Job::create(spec.clone(), &centres(), |_| false, &owner(), t0()).unwrap();
    assert_eq!(job.drives()[1].device.as_ref(), Some(&device));
    let events: Vec<&CustodyEvent> = job.custody().entries().iter().map(|e| &e.event).collect();
    assert!(matches!(events[0], CustodyEvent::Created { .. }));
    assert_eq!(
        events[1],
        &CustodyEvent::DriveDevice {
            drive: id("D1"),
            device: device.clone()
        }
    );
    assert_eq!(events.len(), 2, "no entry for a drive without a device");
    assert_eq!(
        events[1].to_string(),
        format!(
            "drive {} is disk sdb (model WDC WD5000, serial WD-123, 500107862016 bytes), /dev/sdb1 ext4 mounted at /mnt/d1",
            id("D1")
        )
    );
    verify(&job).unwrap();
    let json = serde_json::to_string(&job).unwrap();
    assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job);
    // a hostile spec cannot make the record huge
    spec.drives[1].device = Some(DeviceInfo {
        serial: Some("x".repeat(MAX_DEVICE_TEXT + 1)),
        ..device
    });
    let err = Job::create(spec, &centres(), |_| false, &owner(), t0()).unwrap_err();
    assert!(
        matches!(&err, Error::ValueTooLarge { field, .. } if field == "drives[1].device.serial"),
        "{err:?}"
    );
}
