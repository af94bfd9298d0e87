//! Job-name validation: each bad name from a list with its precise error.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use seedship_jobs::*;

#[test]
fn each_bad_name_is_refused_with_the_rule_it_breaks() {
    use JobNameError::*;
    let long = format!("a{}", "b".repeat(64));
    let cases: Vec<(&str, JobNameError)> = vec![
        ("", Empty),
        ("ab", TooShort { len: 2, min: 3 }),
        (&long, TooLong { len: 65, max: 64 }),
        ("1job", FirstNotLetter { found: '1' }),
        ("-job", FirstNotLetter { found: '-' }),
        ("_job", FirstNotLetter { found: '_' }),
        (
            "my job",
            Whitespace {
                found: ' ',
                position: 3,
            },
        ),
        (
            " job",
            Whitespace {
                found: ' ',
                position: 1,
            },
        ),
        (
            "job\t1",
            Whitespace {
                found: '\t',
                position: 4,
            },
        ),
        (
            "Job",
            Uppercase {
                found: 'J',
                position: 1,
            },
        ),
        (
            "myJob",
            Uppercase {
                found: 'J',
                position: 3,
            },
        ),
        (
            "job.1",
            InvalidCharacter {
                found: '.',
                position: 4,
            },
        ),
        (
            "job/1",
            InvalidCharacter {
                found: '/',
                position: 4,
            },
        ),
        (
            "jöb",
            InvalidCharacter {
                found: 'ö',
                position: 2,
            },
        ),
        (
            "job#1",
            InvalidCharacter {
                found: '#',
                position: 4,
            },
        ),
        // character rules come before length rules
        (
            "A",
            Uppercase {
                found: 'A',
                position: 1,
            },
        ),
        ("9", FirstNotLetter { found: '9' }),
    ];
    for (name, expected) in cases {
        assert_eq!(JobName::parse(name), Err(expected.clone()), "name {name:?}");
        let err = Job::create(spec_with(name, 1), &centres(), |_| false, &owner(), t0()).unwrap_err();
        assert_eq!(
            err,
            Error::JobNameInvalid {
                name: name.to_owned(),
                reason: expected
            },
            "create {name:?}"
        );
        assert_eq!(err.code(), "JobNameInvalid");
    }
}

#[test]
fn error_messages_name_the_character_and_position() {
    let err = JobName::parse("my job").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the job name contains whitespace ' ' at position 3; spaces are not allowed"
    );
    let err = JobName::parse("job.1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the job name contains '.' at position 4; only lowercase letters, digits, '-' and '_' are allowed"
    );
    let err = Job::create(spec_with("1job", 1), &centres(), |_| false, &owner(), t0()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid job name \"1job\": the job name must start with a lowercase letter, not '1'"
    );
}

#[test]
fn good_names_are_accepted_including_the_length_bounds() {
    let max = format!("a{}", "9".repeat(63));
    for name in ["abc", "job-1", "my_job", "a-_", "seed2026-11-01", max.as_str()] {
        assert_eq!(JobName::parse(name).unwrap().as_str(), name);
    }
}

#[test]
fn a_name_taken_in_the_account_is_refused() {
    let err = Job::create(
        spec_with(JOB, 1),
        &centres(),
        |n| n.as_str() == JOB,
        &owner(),
        t0(),
    )
    .unwrap_err();
    assert_eq!(err, Error::JobNameTaken { name: JOB.into() });
}

#[test]
fn deserialising_an_invalid_name_fails() {
    assert!(serde_json::from_str::<JobName>("\"Bad Name\"").is_err());
    assert_eq!(
        serde_json::from_str::<JobName>("\"good-name\"").unwrap().as_str(),
        "good-name"
    );
}

proptest! {
    #[test]
    fn names_matching_the_rules_are_accepted(name in "[a-z][a-z0-9_-]{2,63}") {
        let parsed = JobName::parse(&name).unwrap();
        prop_assert_eq!(parsed.as_str(), name.as_str());
    }

    #[test]
    fn any_character_outside_the_set_is_refused_at_its_position(
        prefix in "[a-z][a-z0-9_-]{2,10}",
        bad in any::<char>().prop_filter("outside the set", |c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
        }),
        suffix in "[a-z0-9_-]{0,10}",
    ) {
        let name = format!("{prefix}{bad}{suffix}");
        let position = prefix.chars().count() + 1;
        let expected = if bad.is_whitespace() {
            JobNameError::Whitespace { found: bad, position }
        } else if bad.is_uppercase() {
            JobNameError::Uppercase { found: bad, position }
        } else {
            JobNameError::InvalidCharacter { found: bad, position }
        };
        prop_assert_eq!(JobName::parse(&name), Err(expected));
    }
}
