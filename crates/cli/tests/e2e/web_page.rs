//! The jobs web page against the real server on loopback, with real drives from `seedship drive
//! prepare`: headless Chromium (Debian's `chromium` and `chromium-driver`, driven over the W3C
//! WebDriver protocol) signs in with the account's credentials and sees the job's drives, their
//! states, sizes, progress and time left, fitting a laptop's and a phone's width; the test
//! takes a screenshot. Over plain HTTP: pages need a session, wrong secrets and foreign form
//! posts are refused, another account sees nothing of the job, free-text fields are escaped,
//! and the page refreshes while a drive is at the data centre. What the pages change is tested
//! in `web_page_actions`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server_support::import::{MIB, Site, make_source};
use crate::server_support::{admin_create, find_program, path, seedship, skips_disallowed};
use base64::Engine;
use reqwest::Method;
use reqwest::blocking::{Client as Http, Response};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use seedship_api::{Client, Credentials, JobAction};
use seedship_jobs::DriveState;
use seedship_store::testing::free_port;
use serde_json::{Value, json};

const JOB: &str = "web-one";
/// A contact with every character HTML treats specially.
const CONTACT: &str = "<b>Ann</b> & 'Bo' \"Cy\" <script>alert(1)</script>";
/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver with one headless Chromium session; both end on drop.
pub(crate) struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: Http,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or `None` (skip) if either program
    /// is missing, unless skips are disallowed.
    pub(crate) fn start(dir: &Path) -> Option<Browser> {
        let (Some(chromium), Some(chromedriver)) = (find_program("chromium"), find_program("chromedriver"))
        else {
            assert!(
                !skips_disallowed(),
                "chromium or chromedriver not found and SEEDSHIP_TEST_DISALLOW_SKIP=1"
            );
            eprintln!("SKIPPED: chromium or chromedriver (Debian chromium, chromium-driver) not on PATH");
            return None;
        };
        let port = free_port();
        let log = |name: &str| std::fs::File::create(dir.join(name)).expect("chromedriver log");
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log("chromedriver.stdout.log"))
            .stderr(log("chromedriver.stderr.log"))
            .spawn()
            .expect("start chromedriver");
        let http = Http::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("HTTP client");
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = browser
                .http
                .get(format!("{}/status", browser.base))
                .send()
                .and_then(Response::json::<Value>);
            if status.is_ok_and(|doc| doc["value"]["ready"] == true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver not ready after 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = dir.join("chromium-profile");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", format!("--user-data-dir={}", path(&profile))],
            },
        }}});
        let created = browser.command(Method::POST, "/session", Some(capabilities));
        browser.session = created["sessionId"].as_str().expect("session id").to_owned();
        Some(browser)
    }

    /// Sends a WebDriver command and returns its `value`; panics on a WebDriver error.
    fn command(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status();
        let doc: Value = response.json().expect("WebDriver answers JSON");
        assert!(status.is_success(), "WebDriver {method} {path}: {status} {doc}");
        doc["value"].clone()
    }

    /// A command of this session.
    fn call(&self, method: Method, rest: &str, body: Option<Value>) -> Value {
        self.command(method, &format!("/session/{}{rest}", self.session), body)
    }

    pub(crate) fn go(&self, url: &str) {
        self.call(Method::POST, "/url", Some(json!({"url": url})));
    }

    pub(crate) fn url(&self) -> String {
        self.call(Method::GET, "/url", None)
            .as_str()
            .expect("URL")
            .to_owned()
    }

    /// The element `css` selects; panics if there is none.
    pub(crate) fn find(&self, css: &str) -> String {
        let found = self.call(
            Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        let Some(element) = found[ELEMENT].as_str() else {
            panic!("no element reference for {css}: {found}");
        };
        element.to_owned()
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(
            Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        );
        self.send_keys(css, text);
    }

    /// Types `text` into `css` as it is; for a file input, the files' paths, one a line.
    pub(crate) fn send_keys(&self, css: &str, text: &str) {
        let element = self.find(css);
        let keys = json!({"text": text});
        self.call(Method::POST, &format!("/element/{element}/value"), Some(keys));
    }

    /// Clicks `css`, which does not navigate (a checkbox).
    pub(crate) fn press(&self, css: &str) {
        let element = self.find(css);
        self.call(
            Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    /// Clicks `css`, which navigates (every click of these tests does), and waits until the
    /// next page has loaded: a form post may still be on its way when the click returns.
    pub(crate) fn click(&self, css: &str) {
        self.script("window.seedshipOldPage = true; return null");
        self.press(css);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let loaded = "return window.seedshipOldPage === undefined && document.readyState === 'complete'";
        while self.script(loaded) != json!(true) {
            assert!(
                std::time::Instant::now() < deadline,
                "no new page 20 s after clicking {css}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub(crate) fn script(&self, script: &str) -> Value {
        self.script_with(script, &[])
    }

    /// Runs `script` with `arguments`.
    pub(crate) fn script_with(&self, script: &str, args: &[Value]) -> Value {
        let body = json!({"script": script, "args": args});
        self.call(Method::POST, "/execute/sync", Some(body))
    }

    /// The text of the page as rendered.
    pub(crate) fn text(&self) -> String {
        let text = self.script("return document.body.innerText");
        text.as_str().expect("page text").to_owned()
    }

    /// Signs in on the server at `url` through the form.
    pub(crate) fn sign_in(&self, url: &str, id: &str, secret: &str) {
        self.go(&format!("{url}/web/login"));
        self.type_into("#id", id);
        self.type_into("#secret", secret);
        self.click("#sign-in");
    }

    /// The `Cookie` header value of the browser's session (WebDriver sees `HttpOnly` cookies).
    pub(crate) fn session_cookie(&self) -> String {
        let cookie = self.call(Method::GET, "/cookie/seedship_session", None);
        format!(
            "seedship_session={}",
            cookie["value"].as_str().expect("session cookie")
        )
    }

    /// Makes the window `width` CSS pixels wide (a phone's 390 or a laptop's 1280) and checks
    /// the page fits it: no horizontal scrolling, and every element `visible` selects lies
    /// inside the window's width.
    pub(crate) fn assert_fits(&self, width: u32, visible: &str) {
        self.call(
            Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": 900})),
        );
        let inner = self.script("return window.innerWidth");
        let inner = inner.as_u64().expect("innerWidth");
        // The window's frame, if any, takes a few pixels.
        assert!(
            inner <= u64::from(width) && inner + 40 >= u64::from(width),
            "a window {width} px wide shows {inner} px"
        );
        let fit = self.script_with(
            "const d = document.documentElement; \
             return [d.scrollWidth, d.clientWidth, [...document.querySelectorAll(arguments[0])] \
               .map(e => { const r = e.getBoundingClientRect(); \
                 return r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= d.clientWidth; })]",
            &[json!(visible)],
        );
        assert!(
            fit[0].as_u64() <= fit[1].as_u64(),
            "at {width} px the page scrolls sideways (scrollWidth, clientWidth): {fit}"
        );
        let shown = fit[2].as_array().expect("elements");
        assert!(
            !shown.is_empty() && shown.iter().all(|v| v == true),
            "at {width} px some of {visible} is outside the window: {fit}"
        );
    }

    /// A screenshot of the window, as PNG bytes.
    fn screenshot(&self) -> Vec<u8> {
        let encoded = self.call(Method::GET, "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 screenshot"))
            .expect("screenshot decodes")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .http
                .delete(format!("{}/session/{}", self.base, self.session))
                .send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The id and secret of a credentials file.
pub(crate) fn id_and_secret(file: &Path) -> (String, String) {
    let credentials = Credentials::load(file).expect("credentials");
    let (_, id, secret) = credentials.principal();
    (id.to_owned(), secret.to_owned())
}

/// An `application/x-www-form-urlencoded` body.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let pairs: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect();
    pairs.join("&")
}

/// Posts the sign-in form as a browser on the server's page would.
fn post_login(http: &Http, url: &str, id: &str, secret: &str) -> Response {
    post_login_via(http, url, id, secret, None)
}

/// [`post_login`] through a proxy that forwards the client's address `forwarded_for`.
fn post_login_via(http: &Http, url: &str, id: &str, secret: &str, forwarded_for: Option<&str>) -> Response {
    let mut request = http
        .post(format!("{url}/web/login"))
        .header(ORIGIN, url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(address) = forwarded_for {
        request = request.header("X-Forwarded-For", address);
    }
    request
        .body(form(&[("id", id), ("secret", secret)]))
        .send()
        .expect("POST /web/login")
}

/// Signs in over HTTP; returns the `Cookie` header value of the session.
pub(crate) fn session_cookie(http: &Http, url: &str, file: &Path) -> String {
    let (id, secret) = id_and_secret(file);
    let response = post_login(http, url, &id, &secret);
    assert_eq!(response.status(), 303, "sign-in redirects to the jobs");
    assert_eq!(response.headers()[LOCATION], "/web/jobs");
    let set_cookie = response.headers()[SET_COOKIE].to_str().expect("cookie text");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/web", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{attribute} in {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "no Secure over plain HTTP");
    set_cookie.split(';').next().expect("name=value").to_owned()
}

pub(crate) fn get(http: &Http, url: &str, cookie: Option<&str>) -> Response {
    let mut request = http.get(url);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().expect("GET")
}

/// `bytes` as the pages show sizes: binary units, one decimal.
pub(crate) fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB"];
    let exponent = (0..units.len())
        .rev()
        .find(|e| bytes >= 1 << (10 * e))
        .unwrap_or(0);
    if exponent == 0 {
        return format!("{bytes} B");
    }
    format!(
        "{:.1} {}",
        bytes as f64 / (1u64 << (10 * exponent)) as f64,
        units[exponent]
    )
}

/// Checks `png` is a PNG image of at least 800x600 pixels and some content.
fn assert_png(png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
    assert!(
        png.len() > 10_000,
        "a screenshot of a page is more than {} bytes",
        png.len()
    );
    assert_eq!(&png[12..16], b"IHDR");
    let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    assert!(
        dimension(16) >= 800 && dimension(20) >= 600,
        "{}x{}",
        dimension(16),
        dimension(20)
    );
}

#[test]
fn the_jobs_page_shows_drives_states_and_progress_in_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(browser) = Browser::start(dir.path()) else {
        return;
    };
    let site = Site::start(dir.path(), None);
    let url = site.server.url.clone();

    // Two real drives; big.img starts on the first and ends on the second. The first is
    // received and copied alone, so big.img's tail is missing: that drive ends CompletedMoreInfo
    // (exit code 21) while the second is still on its way.
    let src = dir.path().join("src");
    make_source(&src, 20, 6 * MIB);
    let set = site.prepare(JOB, &src, 2, 6 * MIB);
    site.create_job(JOB, &set, CONTACT);
    site.ship(JOB, set.len());
    let received = site.receive(JOB, &site.operator_file, &[set[0].0.as_path()]);
    assert_eq!(
        received.status.code(),
        Some(21),
        "receive: {}",
        String::from_utf8_lossy(&received.stderr)
    );
    let detail = site.owner().job("acme", JOB).expect("job");
    let summary = &detail.summary;
    let states: Vec<DriveState> = summary.drives.iter().map(|d| d.state).collect();
    assert_eq!(states, [DriveState::CompletedMoreInfo, DriveState::Specified]);
    assert!(summary.drives[0].problems > 0 && summary.drives[1].bytes_total > 0);

    // Pages need a session: the browser lands on the sign-in form, and a wrong secret is refused.
    let (id, secret) = id_and_secret(&site.owner_file);
    browser.go(&format!("{url}/web/jobs/acme/{JOB}"));
    assert_eq!(browser.url(), format!("{url}/web/login"));
    browser.sign_in(&url, &id, &"0".repeat(64));
    assert!(
        browser.text().contains("Unknown id or wrong secret."),
        "{}",
        browser.text()
    );
    assert!(browser.url().ends_with("/web/login"));

    // Signed in: the list names the job, its state, drive count and progress.
    browser.sign_in(&url, &id, &secret);
    assert_eq!(browser.url(), format!("{url}/web/jobs"));
    let list = browser.text();
    let row = format!("{JOB}\t{}\t2\t{}%", summary.state.as_str(), summary.percent);
    assert!(list.contains(&row), "{row:?} in the jobs list:\n{list}");
    assert!(list.contains("Signed in as account acme"), "{list}");

    // The job page: every drive with its state, bytes and percentage; the contact as text.
    browser.click(&format!("a[href='/web/jobs/acme/{JOB}']"));
    assert_eq!(browser.url(), format!("{url}/web/jobs/acme/{JOB}"));
    let text = browser.text();
    assert!(text.contains(&format!("Job {JOB}")), "{text}");
    assert!(
        text.contains(&format!("{}%", summary.percent)),
        "job progress {}% in:\n{text}",
        summary.percent
    );
    let rows = browser.script(
        "return [...document.querySelectorAll('#drives tbody tr')].map(r => [...r.cells].map(c => c.innerText.trim()))",
    );
    let rows: Vec<Vec<String>> = serde_json::from_value(rows).expect("table rows");
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, drive) in rows.iter().zip(&summary.drives) {
        assert_eq!(row[0], drive.drive_id);
        assert_eq!(row[1], drive.state.as_str());
        assert_eq!(
            row[2],
            format!("{} of {}", human(drive.bytes_done), human(drive.bytes_total))
        );
        assert_eq!(row[3], format!("{}%", drive.percent));
        assert_eq!(row[4], "", "no time left outside a transfer");
    }
    // Sizes in units, with the exact bytes on hover.
    assert!(rows[1][2].ends_with(" MiB"), "{rows:?}");
    let exact = browser.script(
        "return [...document.querySelectorAll('#drives tbody tr:nth-child(2) td:nth-child(3) span')].map(s => s.title)",
    );
    let total = summary.drives[1].bytes_total;
    assert_eq!(exact, json!(["0 bytes", format!("{total} bytes")]));
    assert_eq!(rows[0][3], "100%");
    assert_eq!(rows[0][5], "CompletedWithErrors");
    assert_eq!(rows[0][6], summary.drives[0].problems.to_string());
    assert_eq!(rows[1][3], "0%");
    assert_eq!(rows[0][7], "copy log error log", "logs of the copied drive");
    assert_eq!(rows[1][7], "", "no logs before the copy");
    // Times readable, in UTC to the minute.
    let since = browser.script("return document.getElementById('job-state').innerText");
    let since = since.as_str().expect("state text");
    let at = since.rsplit_once(" since ").expect("since").1;
    assert!(
        at.len() == "2026-12-07 11:26 UTC".len() && at.ends_with(" UTC") && at.as_bytes()[10] == b' ',
        "{since}"
    );
    assert!(text.contains(CONTACT), "contact shown as typed:\n{text}");
    let markup = browser.script(
        "return [document.scripts.length, document.querySelectorAll('#contact *').length, \
         document.getElementById('custody').innerText, \
         document.querySelector('meta[http-equiv=refresh]') === null]",
    );
    assert_eq!(markup[0], 0, "no script came from the contact");
    assert_eq!(markup[1], 0, "no element came from the contact");
    assert!(
        markup[2].as_str().is_some_and(|t| t.starts_with("verified")),
        "{markup}"
    );
    assert_eq!(markup[3], true, "no refresh while no drive is at the data centre");

    // The copy log link downloads the drive's copy log.
    let href = browser.script("return document.querySelector('#drives tbody tr:first-child a').href");
    let http = Http::new();
    let download = get(
        &http,
        href.as_str().expect("link"),
        Some(&browser.session_cookie()),
    );
    assert_eq!(download.status(), 200);
    let first = &summary.drives[0].drive_id;
    assert_eq!(
        download.headers()["content-disposition"],
        format!("attachment; filename=\"{JOB}_{first}_copy.json\"").as_str()
    );
    let log: Value = download.json().expect("copy log JSON");
    assert_eq!(log["drive_id"], first.as_str());

    // The second drive arrives and its copy is half done: the page follows it, refreshing itself.
    let operator = Client::new(&Credentials::load(&site.operator_file).expect("operator")).expect("client");
    let second = &summary.drives[1];
    for action in [
        json!({"action": "receive", "drive_id": second.drive_id}),
        json!({"action": "start-transfer", "drive_id": second.drive_id}),
        json!({"action": "progress", "drive_id": second.drive_id, "bytes_done": second.bytes_total / 2}),
    ] {
        let action: JobAction = serde_json::from_value(action).expect("job action");
        operator
            .job_action("acme", JOB, &action)
            .expect("operator action");
    }
    let half = operator.job("acme", JOB).expect("job").summary.drives[1].clone();
    assert_eq!(half.state, DriveState::Transferring);
    // Half copied in ten minutes: ten more to go.
    let clock =
        Client::new(&Credentials::load(&site.server.admin_credentials()).expect("admin")).expect("client");
    clock.advance_clock(600).expect("move the clock");
    browser.go(&format!("{url}/web/jobs/acme/{JOB}"));
    let refresh = browser.script("return document.querySelector('meta[http-equiv=refresh]').content");
    assert_eq!(refresh, "5");
    let cells = browser.script(
        "return [...document.querySelectorAll('#drives tbody tr:nth-child(2) td')].map(c => c.innerText.trim())",
    );
    assert_eq!(cells[1], "Transferring", "{cells}");
    assert_eq!(
        cells[2],
        format!("{} of {}", human(half.bytes_done), human(half.bytes_total)).as_str()
    );
    assert_eq!(cells[3], format!("{}%", half.percent).as_str());
    assert!((49..=50).contains(&half.percent), "{half:?}");
    let left = cells[4].as_str().expect("time left");
    assert!(
        ["9 min (ends about ", "10 min (ends about "]
            .iter()
            .any(|start| left.starts_with(start))
            && left.ends_with(" UTC)"),
        "{cells}"
    );

    // It fits a laptop and a phone: no sideways scrolling, the log links inside the window.
    for width in [1280, 390] {
        browser.assert_fits(width, "#drives a.log");
    }
    browser.assert_fits(1280, "#drives a.log");

    let png = browser.screenshot();
    std::fs::write(dir.path().join("job-page.png"), &png).expect("write screenshot");
    assert_png(&png);

    // Sign out ends the session.
    browser.click("header button");
    assert!(browser.url().ends_with("/web/login"));
    browser.go(&format!("{url}/web/jobs"));
    assert!(browser.url().ends_with("/web/login"), "signed out");
}

#[test]
fn sessions_origins_tenants_and_escaping_over_http() {
    let (dir, site) = Site::in_tempdir();
    let url = site.server.url.clone();
    let src = dir.path().join("src");
    make_source(&src, 4, MIB);
    let set = site.prepare(JOB, &src, 1, 64 * MIB);
    site.create_job(JOB, &set, CONTACT);
    let http = Http::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let job_page = format!("{url}/web/jobs/acme/{JOB}");

    // No session (or a made-up one): redirected to the sign-in form.
    for (page, cookie) in [
        (format!("{url}/web/jobs"), None),
        (job_page.clone(), None),
        (job_page.clone(), Some("seedship_session=0123abcd")),
    ] {
        let response = get(&http, &page, cookie);
        assert_eq!(response.status(), 303, "{page}");
        assert_eq!(response.headers()[LOCATION], "/web/login");
    }

    // Wrong secret, a foreign origin, no origin: refused, and no session cookie.
    let (id, secret) = id_and_secret(&site.owner_file);
    let wrong = post_login(&http, &url, &id, &"0".repeat(64));
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(wrong.headers().get("www-authenticate").is_none());
    for origin in [Some("http://evil.example"), None] {
        let mut request = http.post(format!("{url}/web/login"));
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        let response = request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&[("id", &id), ("secret", &secret)]))
            .send()
            .expect("POST");
        assert_eq!(response.status(), 403, "origin {origin:?}");
        assert!(response.headers().get(SET_COOKIE).is_none());
    }

    // The owner's session: free-text fields are escaped in the HTML.
    let owner = session_cookie(&http, &url, &site.owner_file);
    let page = get(&http, &job_page, Some(&owner));
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("CSP")
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().expect("HTML");
    assert!(
        html.contains("&lt;b&gt;Ann&lt;/b&gt; &amp; &#39;Bo&#39; &quot;Cy&quot; &lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>Ann") && !html.contains("<script"), "{html}");
    assert!(html.contains("Creating"), "{html}");

    // The owner's webhooks are listed (escaped), never their secrets; the API adds them.
    let hook_url = "http://127.0.0.1:9/<b>hook</b>?a=1&b='x'";
    let hook = site.owner().add_webhook(hook_url).expect("add webhook");
    let list = get(&http, &format!("{url}/web/jobs"), Some(&owner))
        .text()
        .expect("list");
    assert!(list.contains("id=\"webhooks\""), "{list}");
    assert!(
        list.contains("http://127.0.0.1:9/&lt;b&gt;hook&lt;/b&gt;?a=1&amp;b=&#39;x&#39;"),
        "{list}"
    );
    assert!(list.contains(&hook.id), "{list}");
    assert!(!list.contains(hook.secret.as_deref().expect("secret")), "{list}");

    // Another account sees neither the job nor its logs; an operator sees it.
    let other_file = dir.path().join("other.credentials");
    seedship(&admin_create(
        "account",
        "other",
        &site.server.admin_credentials(),
        Some(&other_file),
    ));
    let other = session_cookie(&http, &url, &other_file);
    assert_eq!(get(&http, &job_page, Some(&other)).status(), 404);
    let logs = format!("{job_page}/logs/WD-1/copy");
    assert_eq!(get(&http, &logs, Some(&other)).status(), 404);
    let list = get(&http, &format!("{url}/web/jobs"), Some(&other))
        .text()
        .expect("list");
    assert!(!list.contains(JOB), "{list}");
    let operator = session_cookie(&http, &url, &site.operator_file);
    let list = get(&http, &format!("{url}/web/jobs"), Some(&operator))
        .text()
        .expect("list");
    assert!(
        list.contains(JOB) && list.contains("Signed in as operator"),
        "{list}"
    );
    assert!(
        !list.contains(&hook.id),
        "an operator sees no account's webhooks: {list}"
    );

    // The admin cannot sign in to the jobs page.
    let (admin_id, admin_secret) = id_and_secret(&site.server.admin_credentials());
    let admin = post_login(&http, &url, &admin_id, &admin_secret);
    assert_eq!(admin.status(), 403);
    assert!(admin.headers().get(SET_COOKIE).is_none());

    // Signing out ends the session on the server, not just in the browser.
    let out = http
        .post(format!("{url}/web/logout"))
        .header(ORIGIN, &url)
        .header(COOKIE, &owner)
        .send()
        .expect("POST /web/logout");
    assert_eq!(out.status(), 303);
    assert_eq!(get(&http, &job_page, Some(&owner)).status(), 303);

    // Sessions last eight hours.
    let clock =
        Client::new(&Credentials::load(&site.server.admin_credentials()).expect("admin")).expect("client");
    assert_eq!(get(&http, &job_page, Some(&operator)).status(), 200);
    clock.advance_clock(8 * 3600 + 1).expect("move the clock");
    assert_eq!(get(&http, &job_page, Some(&operator)).status(), 303, "expired");
}

#[test]
fn the_sign_in_form_refuses_an_address_for_a_minute_after_twenty_failures() {
    let (_dir, site) = Site::in_tempdir();
    let url = site.server.url.clone();
    let http = Http::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let (id, secret) = id_and_secret(&site.owner_file);
    for attempt in 1..=20 {
        let wrong = post_login(&http, &url, &id, &"0".repeat(64));
        assert_eq!(wrong.status(), 401, "attempt {attempt}");
    }

    // The 21st sign-in is refused even with the right secret, with the time to wait.
    let refused = post_login(&http, &url, &id, &secret);
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get(SET_COOKIE).is_none());
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("Retry-After text")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let html = refused.text().expect("HTML");
    assert!(
        html.contains(&format!(
            "Too many failed sign-ins from your address: try again in {wait} s."
        )),
        "{html}"
    );

    // The API is not throttled: the same address's clients keep working.
    let owner = Client::new(&Credentials::load(&site.owner_file).expect("owner")).expect("client");
    assert!(owner.jobs().expect("jobs over the API").is_empty());

    // Once the window has passed, the right secret signs in again.
    let admin =
        Client::new(&Credentials::load(&site.server.admin_credentials()).expect("admin")).expect("client");
    admin.advance_clock(61).expect("move the clock");
    session_cookie(&http, &url, &site.owner_file);
}

/// With `trusted_proxies` naming the peer, the throttle counts the forwarded client address:
/// one client's failures do not refuse another behind the same proxy. Without it the header is
/// ignored: every request from the peer counts for the peer.
#[test]
fn behind_a_trusted_proxy_the_forwarded_address_is_throttled() {
    let http = Http::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let fail_twenty_times_then_sign_in = |config: Option<&Path>| {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = Site::start(dir.path(), config);
        let url = site.server.url.clone();
        let (id, secret) = id_and_secret(&site.owner_file);
        for attempt in 1..=20 {
            let wrong = post_login_via(&http, &url, &id, &"0".repeat(64), Some("192.0.2.1"));
            assert_eq!(wrong.status(), 401, "attempt {attempt}");
        }
        [Some("192.0.2.1"), Some("198.51.100.7, 192.0.2.2"), None]
            .map(|forwarded| post_login_via(&http, &url, &id, &secret, forwarded).status())
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("server.toml");
    std::fs::write(&config, "trusted_proxies = [\"127.0.0.1/32\", \"::1/128\"]\n").expect("config");
    assert_eq!(
        fail_twenty_times_then_sign_in(Some(&config)),
        [429, 303, 303],
        "behind a trusted proxy: the failing client only"
    );
    assert_eq!(
        fail_twenty_times_then_sign_in(None),
        [429, 429, 429],
        "no trusted proxy: the peer, whatever the header says"
    );
}
