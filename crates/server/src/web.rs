//! The jobs web page: account owners and operators sign in with their credentials' id and secret
//! (checked exactly as the API checks them) and see their jobs, each job's drives, states,
//! progress, custody verification and the drives' copy and error logs. Owners create jobs,
//! record or correct shipping and cancel; operators mark drives received or never received
//! (`actions`, through the job service functions the JSON API calls).
//!
//! Pages are rendered on the server, with inline CSS and no scripts; every value is
//! HTML-escaped. A sign-in makes a session: a random 256-bit token in a cookie (`HttpOnly`,
//! `SameSite=Strict`, `Path=/web`, `Secure` when the public URL is HTTPS, eight hours), of which
//! only the SHA-256 digest is stored. Form posts must come from the server's own origin, and
//! those that change a job must carry the session's form token. A page refreshes itself every
//! few seconds while a drive it shows is Received or Transferring.

mod actions;
mod format;

use std::convert::Infallible;
use std::fmt::{self, Display, Write};
use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use seedship_api::WebhookInfo;
use seedship_jobs::{DriveState, DriveSummary};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use self::actions::Flash;
use self::format::{Size, TimeLeft, When};

use crate::auth::{Principal, authenticate};
use crate::error::ApiError;
use crate::jobs::{custody_report, drive_logs, internal, job_detail, summaries};
use crate::secret;
use crate::state::AppState;
use crate::webhooks::webhooks_of;

/// The client's address, when the server was started with connection info (it always is; a
/// router served without it is not throttled): the peer's, or the one a trusted proxy forwarded.
pub(crate) struct Peer(pub Option<IpAddr>);

impl FromRequestParts<AppState> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(
            |info| crate::throttle::client_address(info.0.ip(), &parts.headers, &state.trusted_proxies),
        )))
    }
}

/// The session cookie's name.
const COOKIE: &str = "seedship_session";
/// How long a session lasts.
const SESSION_SECONDS: i64 = 8 * 3600;
/// The refresh interval of a page showing a drive in transfer.
const REFRESH_SECONDS: u32 = 5;
const LOGIN: &str = "/web/login";
const JOBS: &str = "/web/jobs";
const NEW_JOB: &str = "/web/jobs/new";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/web", get(|| async { Redirect::to(JOBS) }))
        .route(LOGIN, get(login_form).post(login))
        .route("/web/logout", post(logout))
        .route(JOBS, get(jobs_page))
        .route(
            NEW_JOB,
            get(actions::new_job_form)
                .post(actions::create_job)
                .layer(DefaultBodyLimit::max(actions::MAX_UPLOAD)),
        )
        .route("/web/jobs/{account}/{name}", get(job_page))
        .route("/web/jobs/{account}/{name}/actions", post(actions::act))
        .route("/web/jobs/{account}/{name}/logs/{drive}/{kind}", get(log_file))
        .layer(axum::middleware::map_response(protect))
}

/// Headers of every web response: no caching, no framing, no scripts or outside resources.
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: that would make browsers send `Origin: null` with the form posts.
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// An error shown as a page with its status (never with `WWW-Authenticate`, which would make
/// the browser prompt for basic credentials).
struct WebError(ApiError);

impl From<ApiError> for WebError {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl From<sqlx::Error> for WebError {
    fn from(err: sqlx::Error) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let title = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<h1>{}</h1><p class=\"error\">{}</p><p><a href=\"{JOBS}\">Jobs</a></p>",
            Esc(title),
            Esc(&self.0.message)
        );
        (status, page(title, None, false, &body)).into_response()
    }
}

/// A signed-in browser: the principal of a valid session cookie. Without one, the request is
/// redirected to the sign-in form.
struct Session {
    principal: Principal,
    token: String,
}

impl Session {
    /// The form token of this session: what every form that changes a job carries, so that a
    /// post forged elsewhere fails even if a browser sent the cookie and a right `Origin`.
    /// Derived from the session token (which pages never show), distinct from the digest the
    /// database stores, so a copy of the database yields no form token.
    fn form_token(&self) -> String {
        secret::digest(&format!("web form:{}", self.token))
    }

    /// Refuses a form post whose token is not this session's.
    fn check_form_token(&self, given: &str) -> Result<(), WebError> {
        let expected = self.form_token();
        // Compared in constant time: the token is a secret.
        let same = given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "the form's token is not this session's (reload the page and send the form again)",
            )
            .into())
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let sign_in = || Redirect::to(LOGIN).into_response();
        let token = session_token(&parts.headers).ok_or_else(sign_in)?;
        let now = state.clock.now().unix_timestamp();
        let row = state
            .db
            .session_principal(&token, now)
            .await
            .map_err(|err| WebError::from(err).into_response())?
            .ok_or_else(sign_in)?;
        let principal = Principal::from_row(row).map_err(|err| WebError(err).into_response())?;
        Ok(Session { principal, token })
    }
}

/// The session token of the request's cookie.
fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE)
}

/// The value of the request's cookie `name`, unless empty.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let value = pair.trim().strip_prefix(name)?.strip_prefix('=')?;
            (!value.is_empty()).then(|| value.to_owned())
        })
}

/// `scheme://authority` of `url`.
fn origin_of(url: &str) -> &str {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    match url[authority_start..].find('/') {
        Some(slash) => &url[..authority_start + slash],
        None => url,
    }
}

/// Refuses a form post unless its `Origin` is this server: the public URL's origin, or the
/// public URL's scheme with the request's `Host`.
fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), WebError> {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    let public = origin_of(&state.public_url);
    let scheme = public.split_once("://").map_or("http", |(scheme, _)| scheme);
    match (text(header::ORIGIN), text(header::HOST)) {
        (Some(origin), _) if origin == public => Ok(()),
        (Some(origin), Some(host)) if origin == format!("{scheme}://{host}") => Ok(()),
        _ => Err(ApiError::forbidden(
            "form posts must come from this server's own pages (Origin header missing or foreign)",
        )
        .into()),
    }
}

/// Cookie `name` with its attributes: `Secure` whenever browsers reach the server over HTTPS.
fn cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/web; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

async fn login_form() -> Response {
    login_page(StatusCode::OK, None)
}

fn login_page(status: StatusCode, error: Option<&str>) -> Response {
    let error = error
        .map(|message| format!("<p class=\"error\" role=\"alert\">{}</p>", Esc(message)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1>{error}\
         <form method=\"post\" action=\"{LOGIN}\" class=\"login\">\
         <label>Id <input name=\"id\" id=\"id\" autocomplete=\"username\" required></label>\
         <label>Secret <input name=\"secret\" id=\"secret\" type=\"password\" \
         autocomplete=\"current-password\" required></label>\
         <button type=\"submit\" id=\"sign-in\">Sign in</button></form>\
         <p class=\"hint\">The <code>id</code> and <code>secret</code> of your account or \
         operator credentials file.</p>"
    );
    (status, page("Sign in", None, false, &body)).into_response()
}

/// The sign-in form's fields.
#[derive(Deserialize)]
struct LoginForm {
    id: String,
    secret: String,
}

async fn login(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    same_origin(&state, &headers)?;
    let now = state.clock.now().unix_timestamp();
    if let Err(wait) = state.sign_in_throttle.check(peer, now) {
        let message = format!("Too many failed sign-ins from your address: try again in {wait} s.");
        let mut page = login_page(StatusCode::TOO_MANY_REQUESTS, Some(&message));
        page.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Ok(page);
    }
    let id = form.id.trim();
    let principal = match authenticate(&state, id, form.secret.trim()).await {
        Ok(principal) => principal,
        Err(err) if err.status == StatusCode::UNAUTHORIZED => {
            state.sign_in_throttle.failed(peer, now);
            return Ok(login_page(
                StatusCode::UNAUTHORIZED,
                Some("Unknown id or wrong secret."),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    if !matches!(principal, Principal::Account { .. } | Principal::Operator) {
        return Ok(login_page(
            StatusCode::FORBIDDEN,
            Some("The jobs page is for account owners and operators."),
        ));
    }
    let token = secret::generate();
    state
        .db
        .create_session(&token, id, now, now + SESSION_SECONDS)
        .await?;
    tracing::info!(principal = %id, "web session started");
    let set_cookie = cookie(&state, COOKIE, &token, SESSION_SECONDS);
    Ok(([(header::SET_COOKIE, set_cookie)], Redirect::to(JOBS)).into_response())
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    same_origin(&state, &headers)?;
    if let Some(token) = session_token(&headers) {
        state.db.delete_session(&token).await?;
    }
    let clear = cookie(&state, COOKIE, "", 0);
    Ok(([(header::SET_COOKIE, clear)], Redirect::to(LOGIN)).into_response())
}

/// Whether a drive is being worked on, so the page showing it refreshes.
fn in_transfer(drives: &[DriveSummary]) -> bool {
    drives
        .iter()
        .any(|drive| matches!(drive.state, DriveState::Received | DriveState::Transferring))
}

/// The link to job `account`/`name`'s page, or to a part of it.
fn job_link(account: &str, name: &str, rest: &[&str]) -> String {
    let mut link = format!("{JOBS}/{}/{}", segment(account), segment(name));
    for part in rest {
        link.push('/');
        link.push_str(&segment(part));
    }
    link
}

async fn jobs_page(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let jobs = summaries(&state, &session.principal).await?;
    let mut body = String::from("<h1>Jobs</h1>");
    let flash = Flash::take(&headers);
    if let Some(flash) = &flash {
        body.push_str(&flash.html());
    }
    let owner = matches!(session.principal, Principal::Account { .. });
    if owner {
        let _ = write!(
            body,
            "<p><a id=\"new-job\" href=\"{NEW_JOB}\">Create an import job</a></p>"
        );
    }
    if jobs.is_empty() {
        body.push_str("<p>No jobs.</p>");
    } else {
        body.push_str(
            "<table id=\"jobs\" class=\"stack\"><thead><tr><th>Account</th><th>Job</th><th>State</th>\
             <th>Drives</th><th>Progress</th><th>Tracking number</th></tr></thead><tbody>",
        );
        for job in &jobs {
            let _ = write!(
                body,
                "<tr><td data-label=\"Account\">{}</td><td data-label=\"Job\"><a href=\"{}\">{}</a></td>\
                 <td data-label=\"State\" class=\"state\">{}</td><td data-label=\"Drives\">{}</td>\
                 <td data-label=\"Progress\">{}</td><td data-label=\"Tracking number\">{}</td></tr>",
                Esc(&job.account),
                Esc(&job_link(&job.account, &job.name, &[])),
                Esc(&job.name),
                job.state,
                job.drives.len(),
                Progress(job.percent),
                Esc(job.tracking_number.as_deref().unwrap_or("")),
            );
        }
        body.push_str("</tbody></table>");
    }
    if let Principal::Account { account_id, .. } = &session.principal {
        webhooks_section(&mut body, &webhooks_of(&state, account_id).await?);
    }
    let refresh = jobs.iter().any(|job| in_transfer(&job.drives));
    let page = page("Jobs", Some(&session.principal), refresh, &body);
    Ok(Flash::shown(&state, flash.as_ref(), page))
}

/// The account's webhooks, read-only (`seedship webhook add|remove` changes them).
fn webhooks_section(body: &mut String, webhooks: &[WebhookInfo]) {
    body.push_str("<h2>Webhooks</h2>");
    if webhooks.is_empty() {
        body.push_str("<p id=\"webhooks\">No webhooks (<code>seedship webhook add URL</code>).</p>");
        return;
    }
    body.push_str(
        "<table id=\"webhooks\" class=\"stack\"><thead><tr><th>Id</th><th>URL</th><th>Added</th></tr>\
         </thead><tbody>",
    );
    for webhook in webhooks {
        let added = time::OffsetDateTime::parse(&webhook.created_at, &Rfc3339)
            .map(|at| When(at).to_string())
            .unwrap_or_else(|_| Esc(&webhook.created_at).to_string());
        let _ = write!(
            body,
            "<tr><td data-label=\"Id\">{}</td><td data-label=\"URL\">{}</td>\
             <td data-label=\"Added\">{added}</td></tr>",
            Esc(&webhook.id),
            Esc(&webhook.url),
        );
    }
    body.push_str("</tbody></table>");
}

async fn job_page(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path((account, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let principal = &session.principal;
    let detail = job_detail(&state, principal, &account, &name).await?;
    let custody = custody_report(&state, principal, &account, &name).await?;
    let now = state.clock.now();
    let summary = &detail.summary;
    let job = &detail.job;
    let since = summary
        .state_since
        .map(|at| format!(" since {}", When(at)))
        .unwrap_or_default();
    let contact = job.contact();
    let custody_text = match &custody.error {
        None => format!("verified ({} entries)", custody.entries.len()),
        Some(error) => format!("NOT VERIFIED: {error}"),
    };
    let flash = Flash::take(&headers);
    let mut body = format!(
        "<p><a href=\"{JOBS}\">Jobs</a></p><h1>Job {}</h1>{}<dl>\
         <dt>Account</dt><dd>{}</dd>\
         <dt>State</dt><dd id=\"job-state\">{}{since}</dd>\
         <dt>Progress</dt><dd id=\"job-progress\">{} ({} of {})</dd>\
         <dt>Region</dt><dd>{} ({})</dd>\
         <dt>Shipping</dt><dd id=\"shipping\">{}</dd>\
         {}\
         <dt>Contact</dt><dd id=\"contact\">{} &lt;{}&gt; {}</dd>\
         <dt>Custody log</dt><dd id=\"custody\" class=\"{}\">{}</dd></dl>",
        Esc(&summary.name),
        flash.as_ref().map(Flash::html).unwrap_or_default(),
        Esc(&summary.account),
        summary.state,
        Progress(summary.percent),
        Size(summary.bytes_done),
        Size(summary.bytes_total),
        Esc(&summary.region),
        Esc(&detail.data_centre.name),
        match job.shipping() {
            Some(shipping) => format!(
                "{} {}, shipped {}",
                Esc(&shipping.carrier),
                Esc(&shipping.tracking_number),
                shipping.ship_date
            ),
            None => "not shipped".to_owned(),
        },
        what_moves(job),
        Esc(&contact.name),
        Esc(&contact.email),
        Esc(&contact.phone),
        if custody.verified { "ok" } else { "error" },
        Esc(&custody_text),
    );
    let operator = matches!(principal, Principal::Operator);
    let form_token = session.form_token();
    if matches!(principal, Principal::Account { .. }) {
        actions::owner_forms(&mut body, job, &form_token, now.date());
    }
    body.push_str(
        "<h2>Drives</h2><table id=\"drives\" class=\"stack\"><thead><tr><th>Drive</th><th>State</th>\
         <th>Copied</th><th>Progress</th><th>Time left</th><th>Status</th><th>Problems</th><th>Logs</th>",
    );
    if operator {
        body.push_str("<th>Actions</th>");
    }
    body.push_str("</tr></thead><tbody>");
    for (drive, record) in summary.drives.iter().zip(job.drives()) {
        let logs = match drive.status {
            Some(_) => format!(
                "<a class=\"log\" href=\"{}\" download>copy log</a> \
                 <a class=\"log\" href=\"{}\" download>error log</a>",
                Esc(&job_link(&account, &name, &["logs", &drive.drive_id, "copy"])),
                Esc(&job_link(&account, &name, &["logs", &drive.drive_id, "error"])),
            ),
            None => String::new(),
        };
        let left = match drive.state {
            DriveState::Transferring => TimeLeft::of(record, now).to_string(),
            _ => String::new(),
        };
        let status = drive.status.map(|s| format!("{s:?}")).unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td data-label=\"Drive\" class=\"drive\">{}</td><td data-label=\"State\" class=\"state\">{}</td>\
             <td data-label=\"Copied\">{} of {}</td><td data-label=\"Progress\">{}</td>\
             <td data-label=\"Time left\" class=\"left\">{left}</td><td data-label=\"Status\">{}</td>\
             <td data-label=\"Problems\">{}</td><td data-label=\"Logs\">{logs}</td>",
            Esc(&drive.drive_id),
            drive.state,
            Size(drive.bytes_done),
            Size(drive.bytes_total),
            Progress(drive.percent),
            Esc(&status),
            drive.problems,
        );
        if operator {
            let _ = write!(
                body,
                "<td data-label=\"Actions\">{}</td>",
                actions::drive_buttons(summary, drive, &form_token)
            );
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table>");
    let title = format!("Job {}", summary.name);
    let refresh = in_transfer(&summary.drives);
    let page = page(&title, Some(principal), refresh, &body);
    Ok(Flash::shown(&state, flash.as_ref(), page))
}

/// The `<dt>`/`<dd>` rows of what a job moves: an import's destination container, or an
/// export's vault, selection, size and the owner key its drives are wrapped to.
fn what_moves(job: &seedship_jobs::Job) -> String {
    let Some(export) = job.export() else {
        let destination = job.destination();
        return format!(
            "<dt>Destination</dt><dd id=\"destination\">{} / {} / {}</dd>",
            Esc(&destination.storage_account),
            Esc(&destination.container),
            Esc(&destination.prefix)
        );
    };
    let list = |items: &[String], none: &str| {
        if items.is_empty() {
            none.to_owned()
        } else {
            items
                .iter()
                .map(|i| Esc(i).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    // the key's text is long; its last 16 hex digits name it
    let key = export.owner_key.trim();
    let key_tail = key.char_indices().rev().nth(15).map_or(key, |(at, _)| &key[at..]);
    let mut rows = format!(
        "<dt>Export of vault</dt><dd id=\"export-vault\">{}</dd>\
         <dt>Snapshots</dt><dd id=\"export-snapshots\">{}; hosts: {}; paths: {}</dd>\
         <dt>Objects</dt><dd id=\"export-objects\">{} ({})</dd>\
         <dt>Owner key</dt><dd id=\"export-key\" title=\"{}\">\u{2026}{}</dd>",
        Esc(&export.vault),
        list(&export.snapshots, "all"),
        list(&export.hosts, "any"),
        list(&export.paths, "any"),
        export.objects,
        Size(export.bytes),
        Esc(key),
        Esc(key_tail),
    );
    if export.drives_never_received > 0 {
        let _ = write!(
            rows,
            "<dt>Blank drives never received</dt><dd>{}</dd>",
            export.drives_never_received
        );
    }
    rows
}

/// A drive's copy or error log as a download (`<job>_<drive>_<kind>.json`).
async fn log_file(
    State(state): State<AppState>,
    session: Session,
    Path((account, name, drive, kind)): Path<(String, String, String, String)>,
) -> Result<Response, WebError> {
    let logs = drive_logs(&state, &session.principal, &account, &name).await?;
    let logs = logs
        .into_iter()
        .find(|logs| logs.drive_id == drive)
        .ok_or_else(|| ApiError::not_found(format!("drive {drive} of job {name} has no logs yet")))?;
    let log = match kind.as_str() {
        "copy" => logs.copy_log,
        "error" => logs.error_log,
        _ => return Err(ApiError::not_found(format!("no {kind} log (copy or error)")).into()),
    };
    let text = serde_json::to_string_pretty(&log).map_err(internal)?;
    // Job names are `[a-z0-9_-]`; a drive id from a hand-written spec may hold anything, so
    // the file name keeps only characters that need no quoting.
    let file: String = format!("{name}_{}_{kind}.json", logs.drive_id)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        text,
    )
        .into_response())
}

/// A whole page: the title, the signed-in principal with a sign-out button, and `body` (HTML
/// whose values the caller escaped). `refresh` adds a meta refresh.
fn page(title: &str, principal: Option<&Principal>, refresh: bool, body: &str) -> Html<String> {
    let refresh = if refresh {
        format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">")
    } else {
        String::new()
    };
    let who = match principal {
        Some(Principal::Account { account_name, .. }) => Some(format!("account {account_name}")),
        Some(Principal::Operator) => Some("operator".to_owned()),
        _ => None,
    };
    let header = who
        .map(|who| {
            format!(
                "<header><span>seedship jobs</span><span>Signed in as {} \
                 <form method=\"post\" action=\"/web/logout\"><button type=\"submit\">Sign out</button>\
                 </form></span></header>",
                Esc(&who)
            )
        })
        .unwrap_or_else(|| "<header><span>seedship jobs</span></header>".to_owned());
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} - seedship</title><style>{STYLE}</style></head><body>{header}<main>{body}</main>\
         </body></html>",
        Esc(title)
    ))
}

/// The pages' CSS. Nothing may widen the page past the window (a phone's 390 px included):
/// cells wrap (drive ids and URLs anywhere), and below 48em tables stack, one block per row,
/// each cell labelled by its `data-label`.
const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}\
header{display:flex;flex-wrap:wrap;gap:.4em 1em;justify-content:space-between;align-items:center;\
padding:.6em 1.2em;background:#24292f;color:#fff}header form{display:inline;margin-left:1em}\
main{padding:1em 1.5em;max-width:75em}table{border-collapse:collapse;background:#fff;width:100%}\
th,td{border:1px solid #d0d7de;padding:.35em .6em;text-align:left;vertical-align:top;\
overflow-wrap:anywhere}th{background:#eaeef2}td.drive{font-family:monospace;word-break:break-all}\
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.3em 1em}dt{font-weight:600}\
dd{margin:0;overflow-wrap:anywhere}\
.bar{display:inline-block;width:5em;height:.8em;margin-right:.4em}.error{color:#cf222e}.ok{color:#1a7f37}\
p.error,p.ok{border:1px solid;padding:.5em .8em;background:#fff}\
form.login,form.job{display:grid;gap:.8em;max-width:40em}form.job{margin:.5em 0 1.2em}\
form.login input,form.job input,form.job textarea{width:100%;padding:.3em;font:inherit}\
form.job textarea{font-family:monospace;min-height:16em}form.inline{display:inline-block;margin:.1em}\
fieldset{border:1px solid #d0d7de;background:#fff;max-width:40em}.hint{color:#57606a}\
pre{white-space:pre-wrap;overflow-wrap:anywhere}\
@media (max-width:48em){main{padding:.8em}table.stack thead{display:none}\
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}\
table.stack tr{margin-bottom:.8em;border:1px solid #d0d7de}table.stack td{border:0;\
border-bottom:1px solid #eaeef2}table.stack td::before{content:attr(data-label);display:block;\
font-weight:600;font-size:.85em;color:#57606a}dl{grid-template-columns:minmax(0,1fr)}}";

/// A percentage as a bar and its number.
struct Progress(u8);

impl Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<span class=\"bar\" style=\"background:linear-gradient(to right,#2da44e {0}%,#d0d7de {0}%)\">\
             </span>{0}%",
            self.0.min(100)
        )
    }
}

/// Text written HTML-escaped (for element content and quoted attribute values).
struct Esc<'a>(&'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// `text` percent-encoded as one URL path segment (all but unreserved characters).
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn values_are_escaped_and_encoded() {
        assert_eq!(
            super::Esc("<b a='1'>\"x\" & y</b>").to_string(),
            "&lt;b a=&#39;1&#39;&gt;&quot;x&quot; &amp; y&lt;/b&gt;"
        );
        assert_eq!(super::segment("a b/é%~"), "a%20b%2F%C3%A9%25~");
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; seedship_session=abc; seedship_session_x=2"),
        );
        assert_eq!(super::session_token(&headers).as_deref(), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("seedship_session="));
        assert_eq!(super::session_token(&headers), None);
    }

    #[test]
    fn origins() {
        assert_eq!(super::origin_of("https://h:1/x/y"), "https://h:1");
        assert_eq!(super::origin_of("http://h:1"), "http://h:1");
    }
}
