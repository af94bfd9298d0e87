//! Fixtures shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use seedship_jobs::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

pub const ACCOUNT: &str = "acme";
pub const JOB: &str = "first-seed";

pub fn t0() -> OffsetDateTime {
    datetime!(2026-11-01 09:30:00.123456 UTC)
}

pub fn at_day(days: i64) -> OffsetDateTime {
    t0() + Duration::days(days)
}

pub fn owner() -> Actor {
    Actor::owner(ACCOUNT)
}

pub fn operator() -> Actor {
    Actor::operator("op-ams-1")
}

pub fn address(recipient: &str) -> Address {
    Address {
        recipient: recipient.into(),
        street: vec!["Datacenterweg 1".into()],
        city: "Amsterdam".into(),
        postal_code: "1000 AA".into(),
        country: "NL".into(),
        phone: "+31 20 000 0000".into(),
    }
}

pub fn centres() -> DataCentres {
    DataCentres::new(vec![
        DataCentre {
            region: "eu-west".into(),
            name: "Amsterdam".into(),
            shipping_address: address("Seedship AMS"),
        },
        DataCentre {
            region: "us-east".into(),
            name: "Ashburn".into(),
            shipping_address: address("Seedship IAD"),
        },
    ])
}

/// The drive id (32 lowercase hex digits, as `drive prepare` makes them) that stands for
/// `label` (at most 16 bytes) in these tests.
pub fn id(label: &str) -> String {
    let hex: String = label.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0<32}")
}

pub fn drive_spec(label: &str) -> DriveSpec {
    DriveSpec {
        drive_id: id(label),
        wrapped_key: format!("wrapped-key-of-{label}"),
        manifest_hash: format!("manifest-hash-of-{label}"),
        earlier_manifest_hashes: Vec::new(),
        bytes: 1000,
        device: None,
    }
}

pub fn spec_with(name: &str, drives: usize) -> JobSpec {
    JobSpec {
        name: name.into(),
        job_type: JobType::Import,
        destination: Destination {
            storage_account: "acmestore".into(),
            container: "seeds".into(),
            prefix: "host1/".into(),
            disposition: Disposition::Rename,
        },
        region: "eu-west".into(),
        contact: Contact {
            name: "Ann".into(),
            email: "ann@example.com".into(),
            phone: String::new(),
        },
        return_shipping: ReturnShipping {
            carrier: "DHL".into(),
            account_number: "DHL-778899".into(),
            address: address("Acme IT"),
        },
        drives: (0..drives).map(|i| drive_spec(&format!("D{i}"))).collect(),
        export: None,
    }
}

/// A repository object id (64 lowercase hex digits) standing for `n`.
pub fn object_id(n: u32) -> String {
    format!("{n:064x}")
}

/// The objects of a small repository: config, a key, a snapshot, an index and `packs` packs.
pub fn repository_objects(packs: u32) -> Vec<ExportObject> {
    let mut objects = vec![
        ExportObject {
            name: "config".into(),
            size: 155,
        },
        ExportObject {
            name: format!("keys/{}", object_id(1)),
            size: 400,
        },
        ExportObject {
            name: format!("snapshots/{}", object_id(2)),
            size: 300,
        },
        ExportObject {
            name: format!("index/{}", object_id(3)),
            size: 2000,
        },
    ];
    for n in 0..packs {
        let id = format!("{:064x}", 0xab00 + n);
        objects.push(ExportObject {
            name: format!("data/{}/{id}", &id[..2]),
            size: 1 << 20,
        });
    }
    objects
}

/// An export job's spec: the whole vault `vault`, 3 packs.
pub fn export_spec(name: &str) -> JobSpec {
    JobSpec {
        job_type: JobType::Export,
        destination: Destination::default(),
        drives: Vec::new(),
        export: Some(ExportSpec {
            vault: "laptop".into(),
            owner_key: "seedship-x25519-public-1:00".into(),
            objects: repository_objects(3),
            ..ExportSpec::default()
        }),
        ..spec_with(name, 0)
    }
}

pub fn create_export() -> Job {
    Job::create(export_spec(JOB), &centres(), |_| false, &owner(), t0()).unwrap()
}

/// An export job whose shipping information announces `count` blank drives.
pub fn shipped_export(count: u32) -> Job {
    let mut job = create_export();
    job.ship(&ship_request(count), |_| false, &owner(), at_day(1))
        .unwrap();
    job
}

pub fn create(drives: usize) -> Job {
    Job::create(spec_with(JOB, drives), &centres(), |_| false, &owner(), t0()).unwrap()
}

pub fn ship_request(count: u32) -> ShipRequest {
    ShipRequest {
        carrier: "DHL".into(),
        tracking_number: "1z 999 aa1".into(),
        ship_date: t0().date(),
        drive_count: count,
    }
}

pub fn shipped(drives: usize) -> Job {
    let mut job = create(drives);
    job.ship(&ship_request(drives as u32), |_| false, &owner(), at_day(1))
        .unwrap();
    job
}

pub fn range(offset: u64, status: RangeStatus) -> RangeLog {
    RangeLog {
        offset,
        length: 100,
        checksum: format!("sum-{offset}"),
        status,
    }
}

pub fn blob(file: &str, status: BlobStatus, ranges: Vec<RangeLog>) -> BlobLog {
    BlobLog {
        file: file.into(),
        requested_blob: format!("host1/{file}"),
        blob: format!("host1/{file}"),
        length: ranges.iter().map(|r| r.length).sum(),
        status,
        disposition: DispositionOutcome::Created,
        ranges,
    }
}

/// A clean copy log for drive `drive` of the standard job.
pub fn clean_log(drive: &str) -> DriveLog {
    let blobs = vec![
        blob(
            "data/a",
            BlobStatus::Completed,
            vec![
                range(0, RangeStatus::Completed),
                range(100, RangeStatus::Completed),
            ],
        ),
        blob(
            "config",
            BlobStatus::Completed,
            vec![range(0, RangeStatus::Completed)],
        ),
    ];
    DriveLog {
        job: JOB.into(),
        drive_id: drive.into(),
        status: DriveStatus::from_blobs(&blobs),
        // logs keep milliseconds (see logs_round_trip_through_json...)
        started_at: at_day(3).replace_millisecond(123).unwrap(),
        finished_at: at_day(4).replace_millisecond(123).unwrap(),
        blobs,
        device: None,
        received_from: None,
    }
}

/// A copy log with one corrupted range in `data/a` at offset 100.
pub fn corrupt_log(drive: &str) -> DriveLog {
    let mut log = clean_log(drive);
    log.blobs[0].ranges[1].status = RangeStatus::Corrupted;
    log.blobs[0].status = BlobStatus::CompletedWithErrors;
    log.status = DriveStatus::from_blobs(&log.blobs);
    log
}

pub fn corrupt_problem() -> Problem {
    Problem::Range {
        blob: "host1/data/a".into(),
        offset: 100,
        length: 100,
        status: RangeStatus::Corrupted,
    }
}

/// Receives, transfers and finishes `drive` with `log`.
pub fn transfer(job: &mut Job, drive: &str, log: &DriveLog, day: i64) {
    job.receive_drive(drive, &operator(), at_day(day)).unwrap();
    job.start_transfer(drive, &operator(), at_day(day)).unwrap();
    job.finish_transfer(drive, log, &operator(), at_day(day)).unwrap();
}

/// A two-drive job in `state`; see the tests for which drive is where.
pub fn job_in(state: JobState) -> Job {
    let mut job = match state {
        JobState::Creating | JobState::Cancelled => create(2),
        _ => shipped(2),
    };
    let op = operator();
    match state {
        JobState::Creating | JobState::Shipping => {}
        JobState::Cancelled => job.cancel(&owner(), at_day(1)).unwrap(),
        JobState::Received => job.receive_drive(&id("D0"), &op, at_day(3)).unwrap(),
        JobState::Transferring => {
            job.receive_drive(&id("D0"), &op, at_day(3)).unwrap();
            job.start_transfer(&id("D0"), &op, at_day(3)).unwrap();
        }
        JobState::Packaging | JobState::Completed => {
            transfer(&mut job, &id("D0"), &clean_log(&id("D0")), 3);
            transfer(&mut job, &id("D1"), &clean_log(&id("D1")), 3);
        }
        JobState::Closed => {
            transfer(&mut job, &id("D0"), &clean_log(&id("D0")), 3);
            transfer(&mut job, &id("D1"), &corrupt_log(&id("D1")), 3);
        }
    }
    if matches!(state, JobState::Completed | JobState::Closed) {
        job.ship_back("RET-1", &op, at_day(5)).unwrap();
    }
    assert_eq!(job.state(), state, "fixture for {state}");
    job
}

pub fn verify(job: &Job) -> Result<(), CustodyError> {
    verify_chain(
        job.account(),
        job.name().as_str(),
        job.custody().entries(),
        Some(&job.custody_head()),
    )
}
