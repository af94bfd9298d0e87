//! The chain of custody: verification and tamper detection.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use seedship_jobs::*;

fn full_job() -> Job {
    let mut job = job_in(JobState::Closed);
    job.record_repair(&id("D1"), &[corrupt_problem()], &owner(), at_day(9))
        .unwrap();
    job
}

fn check(entries: &[CustodyEntry], head: Option<&ChainHash>) -> Result<(), CustodyError> {
    verify_chain(ACCOUNT, JOB, entries, head)
}

#[test]
fn the_log_records_every_event_with_actor_and_time() {
    let job = full_job();
    verify(&job).unwrap();
    let kinds: Vec<String> = job
        .custody()
        .entries()
        .iter()
        .map(|e| {
            serde_json::to_value(&e.event).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for kind in [
        "created",
        "shipped",
        "drive_received",
        "transfer_started",
        "transfer_finished",
        "shipped_back",
        "repaired",
        "job_state_changed",
        "drive_state_changed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    let first = &job.custody().entries()[0];
    assert_eq!(first.actor, owner());
    assert_eq!(first.prev, ChainHash::genesis(ACCOUNT, JOB));
    let received = job
        .custody()
        .entries()
        .iter()
        .find(|e| matches!(e.event, CustodyEvent::DriveReceived { .. }))
        .unwrap();
    assert_eq!(received.actor, operator());
    assert_eq!(received.at, time::macros::datetime!(2026-11-04 09:30:00.123 UTC));
}

#[test]
fn a_modified_entry_is_named() {
    let job = full_job();
    let mut entries = job.custody().entries().to_vec();
    // change the time of entry 5
    entries[5].at += time::Duration::seconds(1);
    assert_eq!(
        check(&entries, None),
        Err(CustodyError::HashMismatch { index: 5 })
    );

    let mut entries = job.custody().entries().to_vec();
    let CustodyEvent::Shipped { tracking_number, .. } = &mut entries[1].event else {
        panic!()
    };
    tracking_number.push('X');
    assert_eq!(
        check(&entries, None),
        Err(CustodyError::HashMismatch { index: 1 })
    );

    // re-hashing the modified entry breaks the link to the next one instead
    let mut entries = job.custody().entries().to_vec();
    entries[3].actor = Actor::operator("someone-else");
    entries[3].hash = entries[3].compute_hash().unwrap();
    assert_eq!(
        check(&entries, None),
        Err(CustodyError::PrevMismatch { index: 4 })
    );
}

#[test]
fn a_deleted_entry_is_named() {
    let job = full_job();
    let mut entries = job.custody().entries().to_vec();
    entries.remove(4);
    assert_eq!(
        check(&entries, None),
        Err(CustodyError::SequenceBroken { index: 4, found: 5 })
    );
    let err = check(&entries, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "custody entry 4 carries sequence number 5, expected 4: an entry was removed, inserted or reordered"
    );
}

#[test]
fn a_deleted_entry_with_renumbering_is_named() {
    let job = full_job();
    let mut entries = job.custody().entries().to_vec();
    entries.remove(4);
    for (i, e) in entries.iter_mut().enumerate().skip(4) {
        e.seq = i as u64;
    }
    assert_eq!(
        check(&entries, None),
        Err(CustodyError::PrevMismatch { index: 4 })
    );
}

#[test]
fn reordered_entries_are_named() {
    let job = full_job();
    let mut entries = job.custody().entries().to_vec();
    entries.swap(6, 7);
    assert_eq!(
        check(&entries, None),
        Err(CustodyError::SequenceBroken { index: 6, found: 7 })
    );
}

#[test]
fn a_truncated_log_is_caught_by_the_recorded_head() {
    let job = full_job();
    let head = job.custody_head();
    let mut entries = job.custody().entries().to_vec();
    entries.pop();
    assert_eq!(
        check(&entries, None),
        Ok(()),
        "a prefix is a valid chain on its own"
    );
    assert!(matches!(
        check(&entries, Some(&head)),
        Err(CustodyError::HeadMismatch { .. })
    ));
    assert_eq!(check(job.custody().entries(), Some(&head)), Ok(()));
}

#[test]
fn entries_cannot_move_to_another_job() {
    let job = full_job();
    let entries = job.custody().entries();
    assert_eq!(
        verify_chain(ACCOUNT, "other-job", entries, None),
        Err(CustodyError::PrevMismatch { index: 0 })
    );
    assert_eq!(
        verify_chain("other", JOB, entries, None),
        Err(CustodyError::PrevMismatch { index: 0 })
    );
}

#[test]
fn the_log_survives_a_json_round_trip_and_hashes_are_hex() {
    let job = full_job();
    let text = serde_json::to_string(job.custody()).unwrap();
    let back: CustodyLog = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, job.custody());
    check(back.entries(), Some(&job.custody_head())).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hash = value[0]["hash"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    assert_eq!(
        ChainHash::from_hex(hash).unwrap(),
        job.custody().entries()[0].hash
    );
}

/// The canonical form is fixed: this pins the exact bytes and hash of one entry, so any change
/// to the serialisation (field names, ordering, escaping, time format) fails here.
#[test]
fn the_canonical_form_is_stable() {
    let job = create(1);
    let entry = &job.custody().entries()[0];
    let genesis = ChainHash::genesis(ACCOUNT, JOB).to_hex();
    let expected = format!(
        concat!(
            r#"{{"actor":{{"id":"acme","role":"Owner"}},"at":"2026-11-01T09:30:00.123Z","#,
            r#""event":{{"drives":["44300000000000000000000000000000"],"kind":"created","region":"eu-west"}},"#,
            r#""prev":"{}","seq":0}}"#
        ),
        genesis
    );
    assert_eq!(entry.canonical_json().unwrap(), expected);
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"seedship-custody-v1\nacme\nfirst-seed");
    assert_eq!(genesis, hasher.finalize().to_hex().to_string());
    // hash = BLAKE3(prev as 32 raw bytes || canonical JSON)
    let mut hasher = blake3::Hasher::new();
    hasher
        .update(blake3::Hash::from_hex(&genesis).unwrap().as_bytes())
        .update(expected.as_bytes());
    assert_eq!(entry.hash.to_hex(), hasher.finalize().to_hex().to_string());
}

#[test]
fn strings_are_escaped_canonically() {
    let mut job = create(1);
    let request = ShipRequest {
        carrier: "q\"\\\n\u{1}é".into(),
        ..ship_request(1)
    };
    job.ship(&request, |_| false, &owner(), at_day(1)).unwrap();
    // the shipping entry, before the state change it causes
    let entries = job.custody().entries();
    let entry = &entries[entries.len() - 2];
    assert!(
        entry
            .canonical_json()
            .unwrap()
            .contains(r#""carrier":"q\"\\\n\u0001é""#),
        "{}",
        entry.canonical_json().unwrap()
    );
    verify(&job).unwrap();
}

proptest! {
    /// Flipping any one entry's field (time, actor or seq) is detected at that entry or the next.
    #[test]
    fn any_single_modification_is_detected(index in 0usize..20, which in 0u8..3) {
        let job = full_job();
        let mut entries = job.custody().entries().to_vec();
        let index = index % entries.len();
        match which {
            0 => entries[index].at += time::Duration::milliseconds(1),
            1 => entries[index].actor.id.push('x'),
            _ => entries[index].seq += 1,
        }
        let err = check(&entries, None).unwrap_err();
        let named = match err {
            CustodyError::HashMismatch { index } | CustodyError::PrevMismatch { index }
            | CustodyError::SequenceBroken { index, .. } => index,
            other => panic!("{other:?}"),
        };
        prop_assert_eq!(named, index);
    }
}
