//! Copy and error logs, their codes and round trips; the disposition naming.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use proptest::prelude::*;
use seedship_jobs::*;

#[test]
fn a_clean_log_ends_completed_and_has_an_empty_error_log() {
    let log = clean_log(&id("D0"));
    assert_eq!(log.status, DriveStatus::Completed);
    assert_eq!(log.end_state(), DriveState::Completed);
    assert_eq!(log.problems(), []);
    assert!(log.error_log().blobs.is_empty());
    assert_eq!(log.bytes_completed(), 300);
}

#[test]
fn a_corrupt_range_names_the_blob_and_range_in_the_error_log() {
    let log = corrupt_log(&id("D1"));
    assert_eq!(log.status, DriveStatus::CompletedWithErrors);
    assert_eq!(log.end_state(), DriveState::CompletedMoreInfo);
    let errors = log.error_log();
    assert_eq!(errors.blobs.len(), 1);
    assert_eq!(errors.blobs[0].requested_blob, "host1/data/a");
    assert_eq!(errors.blobs[0].status, BlobStatus::CompletedWithErrors);
    assert_eq!(errors.blobs[0].ranges, [range(100, RangeStatus::Corrupted)]);
    assert_eq!(log.problems(), [corrupt_problem()]);
    assert_eq!(
        log.bytes_completed(),
        100,
        "the corrupt blob's bytes do not count"
    );
}

#[test]
fn a_log_claiming_completed_over_a_failed_range_is_not_trusted() {
    let mut log = corrupt_log(&id("D0"));
    log.status = DriveStatus::Completed;
    log.blobs[0].status = BlobStatus::Completed;
    assert_eq!(log.end_state(), DriveState::CompletedMoreInfo);
    assert_eq!(log.problems(), [corrupt_problem()]);
}

#[test]
fn a_log_is_clean_only_if_its_status_and_every_blob_say_so() {
    // status not Completed over clean blobs
    let log = DriveLog {
        status: DriveStatus::CompletedWithWarnings,
        ..clean_log(&id("D0"))
    };
    assert_eq!(log.end_state(), DriveState::CompletedMoreInfo);
    // status Completed over a renamed blob
    let mut log = clean_log(&id("D0"));
    log.blobs[0].disposition = DispositionOutcome::Renamed;
    assert_eq!(log.end_state(), DriveState::CompletedMoreInfo);
    assert_eq!(log.problems(), [], "a warning is not a problem");
    assert_eq!(log.error_log().blobs.len(), 1, "but it is in the error log");
}

#[test]
fn drive_level_failures_end_more_info_with_one_drive_problem() {
    for status in [
        DriveStatus::KeyInvalid,
        DriveStatus::ManifestCorrupted,
        DriveStatus::DiskNotFound,
    ] {
        let log = DriveLog {
            status,
            blobs: Vec::new(),
            ..clean_log(&id("D0"))
        };
        assert_eq!(log.end_state(), DriveState::CompletedMoreInfo, "{status:?}");
        assert_eq!(log.problems(), [Problem::Drive { status }]);
    }
}

#[test]
fn blob_failures_without_ranges_are_problems_and_warnings_are_not() {
    let mut log = clean_log(&id("D0"));
    log.blobs
        .push(blob("bad\u{0}name", BlobStatus::FileNameInvalid, Vec::new()));
    log.blobs[1].disposition = DispositionOutcome::Overwritten;
    log.status = DriveStatus::from_blobs(&log.blobs);
    assert_eq!(log.status, DriveStatus::CompletedWithErrors);
    assert_eq!(
        log.problems(),
        [Problem::Blob {
            blob: "host1/bad\u{0}name".into(),
            status: BlobStatus::FileNameInvalid
        }]
    );
    let names: BTreeSet<_> = log.error_log().blobs.iter().map(|b| b.file.clone()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["config".to_owned(), "bad\u{0}name".to_owned()])
    );
}

#[test]
fn logs_round_trip_through_json_with_azure_style_codes() {
    let mut log = corrupt_log(&id("D1"));
    log.blobs[1].disposition = DispositionOutcome::Renamed;
    let text = log.to_json().unwrap();
    assert_eq!(DriveLog::from_json(&text).unwrap(), log);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["status"], "CompletedWithErrors");
    assert_eq!(value["started_at"], "2026-11-04T09:30:00.123Z");
    assert_eq!(value["blobs"][0]["ranges"][1]["status"], "Corrupted");
    assert_eq!(value["blobs"][0]["status"], "CompletedWithErrors");
    assert_eq!(value["blobs"][1]["disposition"], "Renamed");
    let errors = log.error_log();
    assert_eq!(DriveLog::from_json(&errors.to_json().unwrap()).unwrap(), errors);
}

#[test]
fn sub_millisecond_times_are_truncated_and_the_content_hash_is_stable() {
    let mut log = clean_log(&id("D0"));
    log.started_at = at_day(3); // .123456
    let back = DriveLog::from_json(&log.to_json().unwrap()).unwrap();
    assert_eq!(back.started_at, at_day(3).replace_millisecond(123).unwrap());
    assert_eq!(back.content_hash().unwrap(), log.content_hash().unwrap());
    let mut changed = back.clone();
    changed.blobs[0].ranges[0].status = RangeStatus::Corrupted;
    assert_ne!(changed.content_hash().unwrap(), log.content_hash().unwrap());
}

#[test]
fn the_custody_log_binds_the_copy_log() {
    let job = job_in(JobState::Closed);
    let stored = DriveLog::from_json(&corrupt_log(&id("D1")).to_json().unwrap()).unwrap();
    let recorded = job
        .custody()
        .entries()
        .iter()
        .find_map(|e| match &e.event {
            CustodyEvent::TransferFinished {
                drive, copy_log_hash, ..
            } if drive == &id("D1") => Some(copy_log_hash.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(recorded, stored.content_hash().unwrap());
    assert_eq!(
        job.drive(&id("D1"))
            .unwrap()
            .transfer
            .as_ref()
            .unwrap()
            .copy_log_hash,
        recorded
    );
}

#[test]
fn log_object_names_follow_the_import_export_pattern() {
    let log = clean_log("WD-123");
    assert_eq!(
        log.copy_log_name(),
        "first-seed_WD-123_20261105T093000Z_copy.json"
    );
    assert_eq!(
        log.error_log_name(),
        "first-seed_WD-123_20261105T093000Z_error.json"
    );
}

fn arb_range() -> impl Strategy<Value = RangeLog> {
    let status = prop_oneof![
        Just(RangeStatus::Completed),
        Just(RangeStatus::Corrupted),
        Just(RangeStatus::Missing),
        Just(RangeStatus::IOFailed),
    ];
    (any::<u32>(), 1u32..1_000_000, "[0-9a-f]{8}", status).prop_map(|(offset, length, checksum, status)| {
        RangeLog {
            offset: offset.into(),
            length: length.into(),
            checksum,
            status,
        }
    })
}

fn arb_blob() -> impl Strategy<Value = BlobLog> {
    let status = prop_oneof![
        Just(BlobStatus::Completed),
        Just(BlobStatus::CompletedWithErrors),
        Just(BlobStatus::IOFailed)
    ];
    let disposition = prop_oneof![
        Just(DispositionOutcome::Created),
        Just(DispositionOutcome::Renamed),
        Just(DispositionOutcome::Skipped),
        Just(DispositionOutcome::Overwritten),
    ];
    (
        "\\PC{1,20}",
        status,
        disposition,
        proptest::collection::vec(arb_range(), 0..5),
    )
        .prop_map(|(file, status, disposition, ranges)| BlobLog {
            requested_blob: format!("p/{file}"),
            blob: format!("p/{file}"),
            length: ranges.iter().map(|r| r.length).sum(),
            file,
            status,
            disposition,
            ranges,
        })
}

proptest! {
    #[test]
    fn any_log_round_trips_and_its_end_state_matches_its_contents(
        blobs in proptest::collection::vec(arb_blob(), 0..8)
    ) {
        let log = DriveLog { status: DriveStatus::from_blobs(&blobs), blobs, ..clean_log(&id("D0")) };
        prop_assert_eq!(DriveLog::from_json(&log.to_json().unwrap()).unwrap(), log.clone());
        let failed_ranges = log.blobs.iter().flat_map(|b| &b.ranges).filter(|r| r.status != RangeStatus::Completed).count();
        let failed_blobs = log.blobs.iter().filter(|b| b.status != BlobStatus::Completed).count();
        let warned = log.blobs.iter().any(|b| b.disposition != DispositionOutcome::Created);
        let clean = failed_ranges == 0 && failed_blobs == 0 && !warned;
        prop_assert_eq!(log.end_state() == DriveState::Completed, clean);
        // every failed range is a problem; no problem without a failure
        let range_problems = log.problems().iter().filter(|p| matches!(p, Problem::Range { .. })).count();
        prop_assert_eq!(range_problems, failed_ranges);
        prop_assert_eq!(log.problems().is_empty(), failed_ranges == 0 && failed_blobs == 0);
        // the error log keeps exactly the non-completed ranges
        let kept = log.error_log().blobs.iter().flat_map(|b| &b.ranges).count();
        prop_assert_eq!(kept, failed_ranges);
    }
}

// ----- disposition -----

#[test]
fn numbered_names_insert_before_the_extension() {
    assert_eq!(numbered_name("dir/file.txt", 1), "dir/file (1).txt");
    assert_eq!(numbered_name("a/b.tar.gz", 2), "a/b.tar (2).gz");
    assert_eq!(numbered_name("dir.d/file", 1), "dir.d/file (1)");
    assert_eq!(numbered_name("dir/.profile", 3), "dir/.profile (3)");
    assert_eq!(numbered_name("plain", 10), "plain (10)");
    assert_eq!(numbered_name("dir/x.", 1), "dir/x (1).");
}

#[test]
fn rename_finds_the_first_free_number() {
    let taken: BTreeSet<&str> = ["d/f.txt", "d/f (1).txt", "d/f (2).txt"].into();
    let placed = place_blob("d/f.txt", Disposition::Rename, |n| taken.contains(n)).unwrap();
    assert_eq!(
        placed,
        Placement {
            blob: "d/f (3).txt".into(),
            outcome: DispositionOutcome::Renamed
        }
    );
    let placed = place_blob("d/new.txt", Disposition::Rename, |n| taken.contains(n)).unwrap();
    assert_eq!(
        placed,
        Placement {
            blob: "d/new.txt".into(),
            outcome: DispositionOutcome::Created
        }
    );
}

#[test]
fn no_overwrite_skips_and_overwrite_replaces() {
    let exists = |n: &str| n == "x";
    assert_eq!(
        place_blob("x", Disposition::NoOverwrite, exists).unwrap(),
        Placement {
            blob: "x".into(),
            outcome: DispositionOutcome::Skipped
        }
    );
    assert_eq!(
        place_blob("x", Disposition::Overwrite, exists).unwrap(),
        Placement {
            blob: "x".into(),
            outcome: DispositionOutcome::Overwritten
        }
    );
    assert_eq!(
        place_blob("y", Disposition::NoOverwrite, exists).unwrap(),
        Placement {
            blob: "y".into(),
            outcome: DispositionOutcome::Created
        }
    );
}

#[test]
fn rename_gives_up_after_the_limit() {
    let mut asked = 0;
    let err = place_blob("x", Disposition::Rename, |_| {
        asked += 1;
        true
    })
    .unwrap_err();
    assert_eq!(
        err,
        Error::RenameFailed {
            blob: "x".into(),
            attempts: MAX_RENAME_ATTEMPTS
        }
    );
    assert_eq!(asked, MAX_RENAME_ATTEMPTS + 1);
}

#[test]
fn dispositions_parse_from_their_wire_names() {
    for d in [
        Disposition::Rename,
        Disposition::NoOverwrite,
        Disposition::Overwrite,
    ] {
        assert_eq!(d.as_str().parse::<Disposition>().unwrap(), d);
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{d}\""));
    }
    assert_eq!(Disposition::default(), Disposition::Rename);
    assert_eq!(
        "replace".parse::<Disposition>().unwrap_err(),
        Error::UnknownDisposition {
            value: "replace".into()
        }
    );
}

proptest! {
    #[test]
    fn renamed_names_are_free_and_keep_directory_and_extension(
        dir in "[a-z]{1,5}(/[a-z.]{1,5}){0,2}",
        stem in "[a-z]{1,8}",
        ext in proptest::option::of("[a-z]{1,4}"),
        taken_count in 0u32..20,
    ) {
        let name = match &ext { Some(e) => format!("{dir}/{stem}.{e}"), None => format!("{dir}/{stem}") };
        let mut taken: BTreeSet<String> = (1..=taken_count).map(|n| numbered_name(&name, n)).collect();
        taken.insert(name.clone());
        let placed = place_blob(&name, Disposition::Rename, |n| taken.contains(n)).unwrap();
        prop_assert!(!taken.contains(&placed.blob));
        prop_assert_eq!(&placed.blob, &numbered_name(&name, taken_count + 1));
        let dir_prefix = format!("{dir}/{stem} (");
        prop_assert!(placed.blob.starts_with(&dir_prefix));
        if let Some(e) = ext {
            let suffix = format!(").{e}");
            prop_assert!(placed.blob.ends_with(&suffix));
        }
    }
}
