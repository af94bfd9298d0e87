//! `GET /metrics` in the Prometheus text format, parsed here line by line: bytes received per
//! vault after a real backup through it, jobs and drives by state, seeds running, and a
//! webhook delivery failing against a receiver that is down; authenticated as
//! `/api/v1/metrics` is.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::server_support::import::{MIB, Site, make_source, ok};
use crate::server_support::webhook_receiver::loopback;
use crate::server_support::{bearer, make_tree, metrics, path, provision, seedship_env};

/// Samples of a Prometheus text exposition: `name{labels}` to value; every metric has its
/// `# HELP` and `# TYPE` first.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut typed = Vec::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            typed.push(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample line {line:?}"));
        let name = series.split('{').next().expect("name");
        assert!(typed.iter().any(|t| t == name), "{name} has no # TYPE before it");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line:?}"));
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "{series} twice"
        );
    }
    samples
}

fn get(url: &str, token: Option<&str>) -> reqwest::blocking::Response {
    let mut request = reqwest::blocking::Client::new().get(format!("{url}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().expect("GET /metrics")
}

#[test]
fn prometheus_metrics_count_vault_bytes_jobs_drives_seeds_and_failing_deliveries() {
    let (dir, site) = Site::in_tempdir();
    let dir = dir.path();
    let url = site.server.url.clone();

    // A backup through vault acme/laptop.
    let agent = provision(&site.server, dir, "acme", "laptop", false);
    let source = dir.join("source");
    make_tree(&source, 3, 20);
    seedship_env(
        &["backup", path(&source), "--repo", &agent.repository()],
        &[
            ("SEEDSHIP_PASSWORD", "correct horse battery staple"),
            ("XDG_CACHE_HOME", path(&dir.join("cache"))),
        ],
    );
    // A webhook whose receiver is down: its delivery fails and is retried.
    let reserved = loopback();
    let hook = format!(
        "http://{}/hooks/seedship",
        reserved.local_addr().expect("address")
    );
    drop(reserved);
    ok(&["webhook", "add", &hook, "--credentials", path(&site.owner_file)]);

    // A job Creating with one drive Specified: its creation is an event to deliver.
    let src = dir.join("src");
    make_source(&src, 3, MIB);
    let set = site.prepare("counted", &src, 1, 64 * MIB);
    site.create_job("counted", &set, "Ann");
    // Only the admin and operators; the owner is refused, no credentials are not enough.
    assert_eq!(get(&url, None).status(), 401);
    let (_, owner) = bearer(&site.owner_file);
    assert_eq!(get(&url, Some(&owner)).status(), 403);
    let (_, operator) = bearer(&site.operator_file);

    let deadline = Instant::now() + Duration::from_secs(30);
    let samples = loop {
        let response = get(&url, Some(&operator));
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .expect("type")
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let samples = parse(&response.text().expect("text"));
        if samples.get("seedship_webhook_deliveries_failing") == Some(&1.0) {
            break samples;
        }
        assert!(
            Instant::now() < deadline,
            "no failing delivery in 30 s: {samples:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let received = samples[r#"seedship_vault_bytes_received_total{account="acme",vault="laptop"}"#];
    let total = metrics(&site.server.admin_credentials())["vault_bytes_received"]
        .as_u64()
        .expect("total");
    assert!(received > 0.0, "{samples:?}");
    assert_eq!(received, total as f64, "the only vault received every byte");
    assert!(
        samples["seedship_vault_objects_stored_total"] >= 4.0,
        "{samples:?}"
    );
    assert_eq!(samples[r#"seedship_jobs{state="Creating"}"#], 1.0);
    assert_eq!(samples[r#"seedship_jobs{state="Shipping"}"#], 0.0);
    assert_eq!(samples[r#"seedship_drives{state="Specified"}"#], 1.0);
    assert_eq!(samples[r#"seedship_drives{state="Completed"}"#], 0.0);
    assert_eq!(samples["seedship_seeds_running"], 0.0);
    assert_eq!(samples[r#"seedship_webhook_deliveries{state="pending"}"#], 1.0);
    assert_eq!(samples[r#"seedship_webhook_deliveries{state="delivered"}"#], 0.0);
}
