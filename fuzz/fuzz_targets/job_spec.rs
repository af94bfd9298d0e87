//! Fuzzes what the server does with the body of `POST /api/v1/jobs/{account}` (bytes from
//! the network): serde_json into a `JobSpec`, then `Job::create`, the validation the server
//! runs before storing the job. Must never panic; a created job must survive the JSON round
//! trip the server's database makes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedship_jobs::{Actor, Address, DataCentre, DataCentres, Job, JobSpec};
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<JobSpec>(data) else {
        return;
    };
    let centres = DataCentres::new(vec![DataCentre {
        region: "eu-west".into(),
        name: "Amsterdam".into(),
        shipping_address: Address {
            recipient: "Import service".into(),
            street: vec!["1 Road".into()],
            city: "Amsterdam".into(),
            postal_code: "1000".into(),
            country: "NL".into(),
            phone: String::new(),
        },
    }]);
    let now = OffsetDateTime::from_unix_timestamp(1_796_601_600).expect("a valid time");
    if let Ok(job) = Job::create(spec, &centres, |_| false, &Actor::owner("acme"), now) {
        let json = serde_json::to_string(&job).expect("a job serialises");
        let back: Job = serde_json::from_str(&json).expect("a stored job reads back");
        assert_eq!(back, job);
    }
});
