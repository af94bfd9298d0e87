//! Corrections of a job's details: the shipping details while Shipping, the contact and return
//! address until the job ended; each in the custody log; every refusal changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use seedship_jobs::*;

fn tracking(number: &str) -> JobUpdate {
    JobUpdate {
        tracking_number: Some(number.into()),
        ..JobUpdate::default()
    }
}

fn new_contact() -> JobUpdate {
    JobUpdate {
        contact: Some(Contact {
            name: "Bob".into(),
            email: "bob@example.com".into(),
            phone: "+31 6 0000 0000".into(),
        }),
        return_address: Some(address("Acme Warehouse")),
        ..JobUpdate::default()
    }
}

/// The refusal of `update` on `job`, after checking that it left the job exactly as it was.
fn refused(job: &Job, update: &JobUpdate, taken: bool, actor: &Actor) -> Error {
    let mut copy = job.clone();
    let err = copy.update(update, |_| taken, actor, at_day(2)).unwrap_err();
    assert_eq!(&copy, job, "a refused update changed the job");
    err
}

fn last_event(job: &Job) -> &CustodyEvent {
    &job.custody().entries().last().unwrap().event
}

#[test]
fn shipping_details_are_corrected_while_shipping_and_recorded() {
    let mut job = shipped(1);
    let recorded_at = job.shipping().unwrap().recorded_at;
    let update = JobUpdate {
        carrier: Some(" UPS ".into()),
        tracking_number: Some("1z 222 bb2".into()),
        ship_date: Some(at_day(1).date()),
        ..JobUpdate::default()
    };
    let mut asked = Vec::new();
    job.update(
        &update,
        |t| {
            asked.push(t.to_owned());
            false
        },
        &owner(),
        at_day(2),
    )
    .unwrap();
    assert_eq!(asked, ["1Z222BB2"], "the normalised new number is checked");
    let shipping = job.shipping().unwrap();
    assert_eq!(
        (
            shipping.carrier.as_str(),
            shipping.tracking_number.as_str(),
            shipping.ship_date
        ),
        ("UPS", "1Z222BB2", at_day(1).date())
    );
    assert_eq!(
        shipping.recorded_at, recorded_at,
        "the arrival deadline does not move"
    );
    assert_eq!(
        last_event(&job),
        &CustodyEvent::ShippingCorrected {
            carrier: "UPS".into(),
            tracking_number: "1Z222BB2".into(),
            ship_date: at_day(1).date(),
        }
    );
    assert_eq!(job.state(), JobState::Shipping);
    verify(&job).unwrap();
}

#[test]
fn the_same_values_again_record_nothing_and_the_own_number_is_not_taken() {
    let mut job = shipped(1);
    let before = job.clone();
    // the job's own number (spelled differently) is not "another job's"
    job.update(
        &tracking("1Z999AA1"),
        |_| panic!("not asked"),
        &owner(),
        at_day(2),
    )
    .unwrap();
    assert_eq!(job, before);
}

#[test]
fn a_tracking_number_of_another_job_is_refused() {
    let job = shipped(1);
    assert!(matches!(
        refused(&job, &tracking("OTHER 1"), true, &owner()),
        Error::DuplicateTrackingNumber { tracking_number } if tracking_number == "OTHER1"
    ));
}

#[test]
fn bad_corrections_are_refused_naming_the_rule() {
    let job = shipped(1);
    assert_eq!(
        refused(&job, &JobUpdate::default(), false, &owner()),
        Error::NothingToUpdate
    );
    assert!(matches!(
        refused(&job, &tracking("  "), false, &owner()),
        Error::MissingField { field } if field == "tracking_number"
    ));
    let carrier = JobUpdate {
        carrier: Some(String::new()),
        ..JobUpdate::default()
    };
    assert!(
        matches!(refused(&job, &carrier, false, &owner()), Error::MissingField { field } if field == "carrier")
    );
    let future = JobUpdate {
        ship_date: Some(at_day(3).date()),
        ..JobUpdate::default()
    };
    assert!(matches!(
        refused(&job, &future, false, &owner()),
        Error::ShipDateInFuture { .. }
    ));
    let mut no_street = new_contact();
    no_street.return_address.as_mut().unwrap().street = vec![" ".into()];
    assert!(matches!(
        refused(&job, &no_street, false, &owner()),
        Error::MissingField { field } if field == "return_address.street"
    ));
    let mut no_email = new_contact();
    no_email.contact.as_mut().unwrap().email.clear();
    assert!(matches!(
        refused(&job, &no_email, false, &owner()),
        Error::MissingField { field } if field == "contact.email"
    ));
    // only the owner; not an operator, not another account
    for actor in [operator(), Actor::owner("mallory"), Actor::system()] {
        assert!(matches!(
            refused(&job, &tracking("NEW"), false, &actor),
            Error::NotPermitted { .. }
        ));
    }
}

#[test]
fn shipping_details_only_while_shipping() {
    for state in JobState::ALL.into_iter().filter(|s| *s != JobState::Shipping) {
        let job = job_in(state);
        assert!(
            matches!(
                refused(&job, &tracking("NEW 1"), false, &owner()),
                Error::NotInThisState { state: found, .. } if found == state
            ),
            "{state}"
        );
        // a correction that mixes both is refused whole
        let mut both = new_contact();
        both.carrier = Some("UPS".into());
        assert!(
            matches!(
                refused(&job, &both, false, &owner()),
                Error::NotInThisState { .. }
            ),
            "{state}"
        );
    }
}

#[test]
fn contact_and_return_address_until_the_job_ended() {
    for state in JobState::ALL {
        let job = job_in(state);
        if state.is_ended() {
            assert!(
                matches!(
                    refused(&job, &new_contact(), false, &owner()),
                    Error::NotInThisState { .. }
                ),
                "{state}"
            );
            continue;
        }
        let mut changed = job.clone();
        changed
            .update(&new_contact(), |_| false, &owner(), at_day(6))
            .unwrap();
        assert_eq!(changed.contact().name, "Bob", "{state}");
        assert_eq!(
            changed.return_shipping().address.recipient,
            "Acme Warehouse",
            "{state}"
        );
        assert_eq!(
            changed.return_shipping().carrier,
            "DHL",
            "the carrier stays: {state}"
        );
        assert_eq!(changed.state(), state);
        assert!(
            matches!(last_event(&changed), CustodyEvent::ContactChanged { contact, .. } if contact.name == "Bob"),
            "{state}"
        );
        verify(&changed).unwrap();
    }
}
