//! Random sequences of operations by random actors: whatever happens, a refused call changes
//! nothing, the custody log verifies and records only legal transitions, and the job state
//! agrees with the drive states.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use seedship_jobs::*;

#[derive(Debug, Clone)]
enum Op {
    AddDrive(u8),
    Ship(i8),
    Cancel,
    Receive(u8),
    NeverReceived(u8),
    Start(u8),
    Finish(u8, u8),
    Repair(u8),
    ShipBack,
    Erase(u8),
    /// 0: a new tracking number, 1: a new contact, 2: nothing, 3: a tracking number another job has
    Update(u8),
}

fn arb_op() -> impl Strategy<Value = Op> {
    let d = 0u8..4;
    // weighted so that random runs get past Shipping: cancel is rare, ship mostly declares the
    // right count, the data centre's steps are frequent
    prop_oneof![
        2 => d.clone().prop_map(Op::AddDrive),
        3 => prop_oneof![4 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)].prop_map(Op::Ship),
        1 => Just(Op::Cancel),
        8 => d.clone().prop_map(Op::Receive),
        2 => d.clone().prop_map(Op::NeverReceived),
        8 => d.clone().prop_map(Op::Start),
        8 => (d.clone(), 0u8..3).prop_map(|(d, k)| Op::Finish(d, k)),
        3 => d.clone().prop_map(Op::Repair),
        4 => Just(Op::ShipBack),
        2 => d.prop_map(Op::Erase),
        3 => (0u8..4).prop_map(Op::Update),
    ]
}

/// Mostly the actor the operation is meant for, sometimes anyone else.
fn actor(op: &Op, role: u8) -> Actor {
    match role {
        0 => owner(),
        1 => operator(),
        2 => Actor::system(),
        3 => Actor::owner("mallory"),
        _ => match op {
            Op::AddDrive(_) | Op::Ship(_) | Op::Cancel | Op::Repair(_) | Op::Update(_) => owner(),
            Op::NeverReceived(_) => Actor::system(),
            _ => operator(),
        },
    }
}

fn apply(job: &mut Job, op: &Op, who: &Actor, day: i64) -> Result<(), Error> {
    let now = at_day(day);
    let id = |d: &u8| format!("D{d}");
    match op {
        Op::AddDrive(d) => job.add_drive(drive_spec(&format!("N{d}")), who, now),
        Op::Ship(delta) => {
            let count = (job.drives().len() as i64 + i64::from(*delta)).max(0) as u32;
            job.ship(&ship_request(count), |_| false, who, now)
        }
        Op::Cancel => job.cancel(who, now),
        Op::Receive(d) => job.receive_drive(&id(d), who, now),
        Op::NeverReceived(d) => job.mark_never_received(&id(d), who, now),
        Op::Start(d) => job.start_transfer(&id(d), who, now),
        Op::Finish(d, kind) => {
            let mut log = if *kind == 1 {
                corrupt_log(&id(d))
            } else {
                clean_log(&id(d))
            };
            if *kind == 2 {
                log.blobs[1].disposition = DispositionOutcome::Renamed;
                log.status = DriveStatus::from_blobs(&log.blobs);
            }
            job.finish_transfer(&id(d), &log, who, now)
        }
        Op::Repair(d) => job.record_repair(&id(d), &[corrupt_problem()], who, now),
        Op::ShipBack => job.ship_back("RET", who, now),
        Op::Erase(d) => {
            let record = ErasureRecord {
                method: "overwrite".into(),
                bytes_overwritten: 1,
                key_material_destroyed: true,
                verification: "read back".into(),
            };
            job.record_erasure(&id(d), record, who, now)
        }
        Op::Update(kind) => {
            let update = match kind {
                0 => JobUpdate {
                    tracking_number: Some(format!("TN-{day}")),
                    ..JobUpdate::default()
                },
                1 => JobUpdate {
                    contact: Some(Contact {
                        name: format!("Contact {day}"),
                        email: "c@example.com".into(),
                        phone: String::new(),
                    }),
                    ..JobUpdate::default()
                },
                2 => JobUpdate::default(),
                _ => JobUpdate {
                    tracking_number: Some("TAKEN".into()),
                    ..JobUpdate::default()
                },
            };
            job.update(&update, |t| t == "TAKEN", who, now)
        }
    }
}

fn check_invariants(job: &Job) -> Result<(), TestCaseError> {
    use DriveState as D;
    prop_assert!(verify(job).is_ok());
    prop_assert!(job.drives().len() <= MAX_DRIVES);
    prop_assert_eq!(job.history().last().map(|h| h.state), Some(job.state()));
    for drive in job.drives() {
        prop_assert_eq!(drive.history.last().map(|h| h.state), Some(drive.state));
    }
    for entry in job.custody().entries() {
        match &entry.event {
            CustodyEvent::JobStateChanged { from, to } => prop_assert!(from.can_move_to(*to)),
            CustodyEvent::DriveStateChanged { from, to, .. } => prop_assert!(from.can_move_to(*to)),
            _ => {}
        }
    }
    // shipping details exist from Shipping on, and no job ever holds a number another job has
    prop_assert_eq!(
        job.shipping().is_some(),
        !matches!(job.state(), JobState::Creating)
            && job.history().iter().any(|h| h.state == JobState::Shipping)
    );
    prop_assert!(job.shipping().is_none_or(|s| s.tracking_number != "TAKEN"));
    let states: Vec<DriveState> = job.drives().iter().map(|d| d.state).collect();
    let any = |s: &[DriveState]| states.iter().any(|x| s.contains(x));
    let all = |s: &[DriveState]| states.iter().all(|x| s.contains(x));
    match job.state() {
        JobState::Creating => prop_assert!(all(&[D::Specified])),
        JobState::Shipping | JobState::Cancelled => prop_assert!(all(&[D::Specified, D::NeverReceived])),
        JobState::Received => {
            prop_assert!(any(&[D::Received]));
            prop_assert!(all(&[D::Specified, D::NeverReceived, D::Received]));
        }
        JobState::Transferring => prop_assert!(!states.iter().all(|s| s.is_done())),
        JobState::Packaging => {
            prop_assert!(all(&[D::Completed, D::CompletedMoreInfo, D::NeverReceived]));
        }
        JobState::Completed => {
            prop_assert!(all(&[D::ShippedBack, D::Completed]));
            prop_assert!(!job.drives().iter().any(Drive::has_open_issues));
        }
        JobState::Closed => prop_assert!(all(&[D::ShippedBack, D::NeverReceived])),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn any_sequence_keeps_the_invariants(
        start in 0usize..6,
        drives in 1usize..4,
        ops in proptest::collection::vec((arb_op(), 0u8..12), 1..80),
    ) {
        // start from a fresh job of 1-3 drives, or from a 2-drive fixture further along
        let starts = [JobState::Received, JobState::Transferring, JobState::Packaging, JobState::Closed];
        let mut job = match start {
            0 | 1 => create(drives),
            n => job_in(starts[n - 2]),
        };
        for (day, (op, role)) in ops.iter().enumerate() {
            let before = job.clone();
            let who = actor(op, *role);
            match apply(&mut job, op, &who, 10 + day as i64) {
                Ok(()) => prop_assert_ne!(&job, &before, "{:?} by {} succeeded without effect", op, who),
                Err(e) => prop_assert_eq!(&job, &before, "{:?} by {} refused ({}) but changed the job", op, who, e),
            }
            check_invariants(&job)?;
        }
    }
}
