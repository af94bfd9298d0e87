//! What the jobs web page changes, in headless Chromium against the real server with real
//! drives and journals: an owner creates a job from a pasted spec and uploaded journals,
//! records and corrects its shipping and cancels another job; an operator marks drives
//! received and never received. The job's custody log then holds the entries the JSON API
//! writes for the same steps on a twin job. Posts from another origin or without the
//! session's form token are refused; refused actions are told, escaped, on the job's page.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::server_support::import::{MIB, Site, make_source};
use crate::server_support::path;
use crate::web_page::{Browser, form, id_and_secret};
use reqwest::blocking::Client as Http;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN};
use seedship_api::{Client, Credentials, JobAction};
use seedship_jobs::{DriveState, JobState};
use serde_json::{Value, json};

/// A contact with every character HTML treats specially.
const CONTACT: &str = "<b>Ann</b> & 'Bo' \"Cy\" <script>alert(1)</script>";

/// The spec `Site::create_job` sends, for job `name`.
fn spec(name: &str) -> String {
    let address = json!({"recipient": "Ann", "street": ["2 Lane"], "city": "Utrecht",
                         "postal_code": "3511", "country": "NL", "phone": ""});
    json!({
        "name": name, "job_type": "Import",
        "destination": {"storage_account": "acme", "container": "seed", "prefix": "host1",
                        "disposition": "rename"},
        "region": "local",
        "contact": {"name": CONTACT, "email": "ann@example.com", "phone": ""},
        "return_shipping": {"carrier": "DHL", "account_number": "123", "address": address},
    })
    .to_string()
}

/// The text of the element `css` selects.
fn text_of(browser: &Browser, css: &str) -> String {
    let text = browser.script_with(
        "const e = document.querySelector(arguments[0]); return e === null ? null : e.innerText",
        &[json!(css)],
    );
    text.as_str()
        .unwrap_or_else(|| panic!("no {css} on the page:\n{}", browser.text()))
        .to_owned()
}

/// Sets the value of the input `css` (a date input types differently in every locale).
fn set_value(browser: &Browser, css: &str, value: &str) {
    browser.script_with(
        "document.querySelector(arguments[0]).value = arguments[1]; return null",
        &[json!(css), json!(value)],
    );
}

/// The drives' states in the page's table.
fn drive_states(browser: &Browser) -> Vec<String> {
    let states =
        browser.script("return [...document.querySelectorAll('#drives td.state')].map(c => c.innerText)");
    serde_json::from_value(states).expect("states")
}

/// The custody entries of a job as actor and event, the job's own values (drive ids,
/// tracking numbers) replaced by placeholders, so two jobs' logs compare.
fn custody_shape(client: &Client, job: &str, own: &[(&str, &str)]) -> Vec<String> {
    let report = client.job_custody("acme", job).expect("custody");
    assert!(report.verified, "{job}: {:?}", report.error);
    report
        .entries
        .iter()
        .map(|entry| {
            let mut text = json!({"actor": entry.actor, "event": entry.event}).to_string();
            for (value, placeholder) in own {
                text = text.replace(value, placeholder);
            }
            text
        })
        .collect()
}

#[test]
fn owners_and_operators_change_jobs_through_the_page_as_through_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(browser) = Browser::start(dir.path()) else {
        return;
    };
    let site = Site::start(dir.path(), None);
    let url = site.server.url.clone();
    let owner = site.owner();
    let operator = Client::new(&Credentials::load(&site.operator_file).expect("operator")).expect("client");

    // Two jobs of two drives each (big.img spans them): one made through the page, its twin
    // through the API; and one job of one drive to cancel.
    let src = dir.path().join("src");
    make_source(&src, 12, 6 * MIB);
    let web_set = site.prepare("web-job", &src, 2, 6 * MIB);
    let api_set = site.prepare("api-job", &src, 2, 6 * MIB);
    let cancel_set = site.prepare("cancel-me", &src, 1, 64 * MIB);
    site.create_job("api-job", &api_set, CONTACT);
    site.create_job("cancel-me", &cancel_set, CONTACT);

    let (id, secret) = id_and_secret(&site.owner_file);
    browser.sign_in(&url, &id, &secret);
    browser.click("#new-job");
    assert_eq!(browser.url(), format!("{url}/web/jobs/new"));

    // A file that is no journal is refused, named as sent, and the spec is kept.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not a journal").expect("write notes");
    browser.type_into("#spec", &spec("web-job"));
    let journals = |files: &[PathBuf]| files.iter().map(|f| path(f)).collect::<Vec<_>>().join("\n");
    browser.send_keys("#journals", &journals(&[notes]));
    browser.click("#create");
    let refused = text_of(&browser, "#flash");
    assert!(refused.contains("\"notes.txt\""), "{refused}");
    assert!(
        !refused.contains(path(dir.path())) && !refused.contains("/tmp"),
        "{refused}"
    );
    assert!(
        owner
            .jobs()
            .expect("jobs")
            .iter()
            .all(|job| job.name != "web-job")
    );

    // The spec and the journals of the two drives make the job.
    let kept = browser.script("return document.getElementById('spec').value");
    assert_eq!(kept.as_str(), Some(spec("web-job").as_str()), "the spec as sent");
    let web_journals: Vec<PathBuf> = web_set.iter().map(|(_, journal)| journal.clone()).collect();
    browser.send_keys("#journals", &journals(&web_journals));
    browser.click("#create");
    assert_eq!(browser.url(), format!("{url}/web/jobs/acme/web-job"));
    let created = text_of(&browser, "#flash");
    assert!(
        created.starts_with("Job web-job created with 2 drive(s)"),
        "{created}"
    );
    let web = owner
        .job("acme", "web-job")
        .expect("job made through the page")
        .job;
    let twin = owner.job("acme", "api-job").expect("twin").job;
    let drives = |job: &seedship_jobs::Job| -> Vec<String> {
        job.drives().iter().map(|d| d.drive_id.clone()).collect()
    };
    assert_eq!(web.drives().len(), 2);
    assert_eq!(
        web.drives()[0].bytes + web.drives()[1].bytes,
        twin.drives()[0].bytes + twin.drives()[1].bytes,
        "the journals' sizes, as `job create --journal` reads them"
    );
    // The contact is text, not markup.
    assert_eq!(
        text_of(&browser, "#contact"),
        format!("{CONTACT} <ann@example.com>")
    );
    let markup =
        browser.script("return [document.scripts.length, document.querySelectorAll('#contact *').length]");
    assert_eq!(markup, json!([0, 0]), "no element came from the contact");

    // Shipping recorded through the form, then the twin's through the API.
    browser.type_into("#carrier", "DHL");
    browser.type_into("#tracking-number", "WEB-1");
    set_value(&browser, "#ship-date", "2026-11-30");
    browser.click("#ship");
    assert_eq!(
        text_of(&browser, "#flash"),
        "Shipping recorded: DHL WEB-1, shipped 2026-11-30."
    );
    assert!(text_of(&browser, "#job-state").starts_with("Shipping since "));
    let ship = |tracking: &str| -> JobAction {
        serde_json::from_value(
            json!({"action": "ship", "carrier": "DHL", "tracking_number": tracking,
                                      "ship_date": "2026-11-30", "drive_count": 2}),
        )
        .expect("ship action")
    };
    owner
        .job_action("acme", "api-job", &ship("API-1"))
        .expect("ship the twin");

    // A correction to a number another job has is refused, precisely; a free one is recorded.
    browser.type_into("#tracking-number", "API-1");
    browser.click("#correct-shipping");
    let refused = text_of(&browser, "#flash");
    assert!(refused.contains("API-1"), "{refused}");
    assert_eq!(
        browser.script("return document.getElementById('flash').className"),
        "error"
    );
    assert_eq!(text_of(&browser, "#shipping"), "DHL WEB-1, shipped 2026-11-30");
    browser.type_into("#tracking-number", "WEB-2");
    browser.click("#correct-shipping");
    assert_eq!(text_of(&browser, "#flash"), "Shipping corrected.");
    assert_eq!(text_of(&browser, "#shipping"), "DHL WEB-2, shipped 2026-11-30");
    let correct: JobAction = serde_json::from_value(json!({"action": "update", "tracking_number": "API-2"}))
        .expect("update action");
    owner
        .job_action("acme", "api-job", &correct)
        .expect("correct the twin");

    // The flash is shown once: reloading the page posts nothing and says nothing.
    browser.go(&format!("{url}/web/jobs/acme/web-job"));
    assert_eq!(
        browser.script("return document.getElementById('flash')"),
        Value::Null
    );

    // A bad value is named, escaped.
    browser.go(&format!("{url}/web/jobs/acme/cancel-me"));
    browser.script(
        "const c = document.getElementById('drive-count'); c.type = 'text'; \
         c.value = '<b>one</b>'; return null",
    );
    browser.type_into("#carrier", "DHL");
    browser.type_into("#tracking-number", "CANCEL-1");
    browser.click("#ship");
    assert_eq!(
        text_of(&browser, "#flash"),
        "drive count \"<b>one</b>\" is not a number of drives"
    );
    assert_eq!(
        browser.script("return document.querySelectorAll('#flash *').length"),
        0
    );

    // The owner cancels the other job.
    browser.press("#confirm-cancel");
    browser.click("#cancel");
    assert_eq!(text_of(&browser, "#flash"), "Job cancelled.");
    assert!(text_of(&browser, "#job-state").starts_with("Cancelled since "));
    assert_eq!(
        owner.job("acme", "cancel-me").expect("job").summary.state,
        JobState::Cancelled
    );

    // The operator marks the first drive received, the second never received.
    browser.click("header button");
    let (operator_id, operator_secret) = id_and_secret(&site.operator_file);
    browser.sign_in(&url, &operator_id, &operator_secret);
    browser.go(&format!("{url}/web/jobs/acme/web-job"));
    for width in [1280, 390] {
        browser.assert_fits(width, "#drives button");
    }
    browser.assert_fits(1280, "#drives button");
    let web_drives = drives(&web);
    browser.click("#drives tbody tr:nth-child(1) button.receive");
    assert_eq!(
        text_of(&browser, "#flash"),
        format!("Drive {} marked received.", web_drives[0])
    );
    browser.click("#drives tbody tr:nth-child(2) button.never-received");
    assert_eq!(
        text_of(&browser, "#flash"),
        format!("Drive {} marked never received.", web_drives[1])
    );
    assert_eq!(drive_states(&browser), ["Received", "NeverReceived"]);
    let twin_drives = drives(&twin);
    for action in [
        json!({"action": "receive", "drive_id": twin_drives[0]}),
        json!({"action": "never-received", "drive_id": twin_drives[1]}),
    ] {
        let action: JobAction = serde_json::from_value(action).expect("action");
        operator
            .job_action("acme", "api-job", &action)
            .expect("operator action");
    }
    let states = |job: &str| -> Vec<DriveState> {
        let summary = owner.job("acme", job).expect("job").summary;
        summary.drives.iter().map(|d| d.state).collect()
    };
    assert_eq!(
        states("web-job"),
        [DriveState::Received, DriveState::NeverReceived]
    );
    assert_eq!(states("api-job"), states("web-job"));

    // The custody logs of the two jobs hold the same entries, by the same actors.
    let web_log = custody_shape(
        &owner,
        "web-job",
        &[
            (web_drives[0].as_str(), "DRIVE-1"),
            (web_drives[1].as_str(), "DRIVE-2"),
            ("WEB-", "TRACK-"),
        ],
    );
    let api_log = custody_shape(
        &owner,
        "api-job",
        &[
            (twin_drives[0].as_str(), "DRIVE-1"),
            (twin_drives[1].as_str(), "DRIVE-2"),
            ("API-", "TRACK-"),
        ],
    );
    assert_eq!(web_log, api_log);
    let kinds: BTreeMap<&str, usize> = web_log.iter().fold(BTreeMap::new(), |mut kinds, entry| {
        for kind in [
            "\"shipped\"",
            "\"shipping_corrected\"",
            "\"drive_received\"",
            "\"drive_never_received\"",
        ] {
            if entry.contains(kind) {
                *kinds.entry(kind).or_default() += 1;
            }
        }
        kinds
    });
    assert_eq!(kinds.len(), 4, "every action is in the log: {web_log:#?}");

    // Posts from elsewhere, or without the session's form token, change nothing.
    let http = Http::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let session = browser.session_cookie();
    let token = browser.script("return document.querySelector('input[name=form_token]').value");
    let token = token.as_str().expect("form token");
    let post = |origin: &str, token: &str| {
        let fields = [
            ("form_token", token),
            ("action", "receive"),
            ("drive_id", web_drives[1].as_str()),
        ];
        http.post(format!("{url}/web/jobs/acme/web-job/actions"))
            .header(ORIGIN, origin)
            .header(COOKIE, &session)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&fields))
            .send()
            .expect("POST")
    };
    assert_eq!(post("http://evil.example", token).status(), 403, "forged Origin");
    assert_eq!(post(&url, &"0".repeat(64)).status(), 403, "another form token");
    assert_eq!(
        states("web-job"),
        [DriveState::Received, DriveState::NeverReceived]
    );
    // The same post from the page itself goes through: the drive turned up after all.
    let done = post(&url, token);
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()[LOCATION], "/web/jobs/acme/web-job");
    assert_eq!(states("web-job"), [DriveState::Received, DriveState::Received]);
}
