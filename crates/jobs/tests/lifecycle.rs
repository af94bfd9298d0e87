//! Deleting a job's imported blobs: only the owner, only once the job has ended, only for a job
//! with a prefix; the deletion is in the custody log and every refusal changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use seedship_jobs::*;

#[test]
fn imported_blobs_are_deleted_only_after_the_job_ended() {
    for state in [
        JobState::Creating,
        JobState::Shipping,
        JobState::Received,
        JobState::Transferring,
        JobState::Packaging,
    ] {
        let job = job_in(state);
        let mut copy = job.clone();
        let err = copy
            .record_imported_deleted(1, 2, &owner(), at_day(9))
            .unwrap_err();
        assert!(
            matches!(err, Error::NotInThisState { state: s, .. } if s == state),
            "{state}: {err}"
        );
        assert_eq!(err.code(), "NotInThisState");
        assert_eq!(copy, job, "a refusal in {state} changed the job");
    }
    for state in [JobState::Completed, JobState::Closed, JobState::Cancelled] {
        let mut job = job_in(state);
        assert_eq!(job.check_delete_imported(&owner()).unwrap(), "host1");
        job.record_imported_deleted(3, 4096, &owner(), at_day(9)).unwrap();
        let entry = job.custody().entries().last().unwrap();
        assert_eq!(
            entry.event,
            CustodyEvent::ImportedDeleted {
                prefix: "host1".into(),
                blobs: 3,
                bytes: 4096
            }
        );
        assert_eq!(entry.actor, owner());
        assert_eq!(
            job.state(),
            state,
            "deleting the blobs does not change the job's state"
        );
        verify(&job).unwrap();
    }
}

#[test]
fn only_the_owner_deletes_imported_blobs() {
    let job = job_in(JobState::Completed);
    let mut copy = job.clone();
    let err = copy
        .record_imported_deleted(1, 1, &operator(), at_day(9))
        .unwrap_err();
    assert_eq!(err.code(), "NotPermitted");
    let stranger = Actor::owner("someone-else");
    assert_eq!(
        copy.check_delete_imported(&stranger).unwrap_err().code(),
        "NotPermitted"
    );
    assert_eq!(copy, job);
}

#[test]
fn a_job_without_prefix_has_no_blobs_of_its_own() {
    let mut spec = spec_with(JOB, 1);
    spec.destination.prefix = String::new();
    let mut job = Job::create(spec, &centres(), |_| false, &owner(), t0()).unwrap();
    job.cancel(&owner(), at_day(1)).unwrap();
    let err = job.check_delete_imported(&owner()).unwrap_err();
    assert!(matches!(err, Error::NoImportPrefix { .. }), "{err}");
    assert!(err.to_string().contains("root of its container"), "{err}");
}
