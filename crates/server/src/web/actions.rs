//! What the pages change. Every form post calls the job service function the JSON API calls
//! ([`jobs::create`], [`jobs::apply`]) with the session's principal, so the rules, the custody
//! entries and the webhooks are the API's. A post must come from the server's own origin and
//! carry the session's form token; its outcome is shown once on the page it redirects to
//! (a short-lived cookie), so reloading that page posts nothing again.

use std::fmt::Write as _;
use std::path::PathBuf;

use axum::extract::{Form, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use seedship_api::JobAction;
use seedship_jobs::{DriveState, DriveSummary, Job, JobSpec, JobState, JobSummary, JobUpdate, ShipRequest};
use serde::Deserialize;
use time::Date;
use time::format_description::well_known::Iso8601;
use tokio::io::AsyncWriteExt as _;

use super::{Esc, JOBS, NEW_JOB, Session, WebError, cookie, cookie_value, job_link, page, same_origin};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::jobs::{self, internal};
use crate::state::AppState;

/// The largest job creation form (the journals and the spec together): a journal holds a row
/// per stored file range, a few MiB for a drive of ordinary files. Larger journals go through
/// `seedship job create --journal`.
pub(super) const MAX_UPLOAD: usize = 64 << 20;

/// The cookie carrying a post's outcome to the next page.
const FLASH: &str = "seedship_flash";
/// Outcomes are cut to this many characters, so the cookie stays far below browsers' limits.
const FLASH_MAX_CHARS: usize = 1000;

/// The outcome of a form post, shown once on the next page.
pub(crate) struct Flash {
    ok: bool,
    message: String,
}

impl Flash {
    fn ok(message: String) -> Self {
        Self { ok: true, message }
    }

    fn error(message: String) -> Self {
        Self { ok: false, message }
    }

    /// 303 to `to`, carrying this outcome.
    fn redirect(&self, state: &AppState, to: &str) -> Response {
        let kind = if self.ok { "ok" } else { "error" };
        let message: String = self.message.chars().take(FLASH_MAX_CHARS).collect();
        let value = URL_SAFE_NO_PAD.encode(format!("{kind}:{message}"));
        let set = cookie(state, FLASH, &value, 60);
        ([(header::SET_COOKIE, set)], Redirect::to(to)).into_response()
    }

    /// The outcome the request's cookie carries.
    pub(super) fn take(headers: &HeaderMap) -> Option<Flash> {
        let bytes = URL_SAFE_NO_PAD.decode(cookie_value(headers, FLASH)?).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (kind, message) = text.split_once(':')?;
        Some(Flash {
            ok: kind == "ok",
            message: message.to_owned(),
        })
    }

    pub(super) fn html(&self) -> String {
        let (class, role) = if self.ok {
            ("ok", "status")
        } else {
            ("error", "alert")
        };
        format!(
            "<p id=\"flash\" class=\"{class}\" role=\"{role}\">{}</p>",
            Esc(&self.message)
        )
    }

    /// `page`, clearing the outcome's cookie once it was shown.
    pub(super) fn shown(state: &AppState, flash: Option<&Flash>, page: Html<String>) -> Response {
        match flash {
            Some(_) => ([(header::SET_COOKIE, cookie(state, FLASH, "", 0))], page).into_response(),
            None => page.into_response(),
        }
    }
}

/// A hidden field carrying the session's form token.
fn token_field(form_token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"form_token\" value=\"{}\">",
        Esc(form_token)
    )
}

/// The owner's forms on a job page: record the shipping while Creating, correct it while
/// Shipping, cancel in either. Other states offer none (the service would refuse them).
pub(super) fn owner_forms(body: &mut String, job: &Job, form_token: &str, today: Date) {
    let state = job.state();
    if !matches!(state, JobState::Creating | JobState::Shipping) {
        return;
    }
    let action = Esc(&job_link(job.account(), job.name().as_str(), &["actions"])).to_string();
    let (verb, legend, carrier, tracking, ship_date, button) = match job.shipping() {
        Some(shipping) => (
            "update",
            "Correct the shipping",
            shipping.carrier.as_str(),
            shipping.tracking_number.as_str(),
            shipping.ship_date,
            "<button type=\"submit\" id=\"correct-shipping\">Correct the shipping</button>",
        ),
        None => (
            "ship",
            "Record the shipping",
            "",
            "",
            today,
            "<button type=\"submit\" id=\"ship\">Record the shipping</button>",
        ),
    };
    let drive_count = match job.shipping() {
        // The drive count is declared once, when shipping; a correction keeps it.
        Some(_) => String::new(),
        None => format!(
            "<label>Drives in the package <input type=\"number\" name=\"drive_count\" id=\"drive-count\" \
             min=\"1\" value=\"{}\" required></label>",
            job.drives().len()
        ),
    };
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{action}\" class=\"job\" id=\"shipping-form\"><fieldset>\
         <legend>{legend}</legend>{}<input type=\"hidden\" name=\"action\" value=\"{verb}\">\
         <label>Carrier <input name=\"carrier\" id=\"carrier\" value=\"{}\" required></label>\
         <label>Tracking number <input name=\"tracking_number\" id=\"tracking-number\" value=\"{}\" \
         required></label>\
         <label>Ship date <input type=\"date\" name=\"ship_date\" id=\"ship-date\" value=\"{ship_date}\" \
         max=\"{today}\" required></label>{drive_count}{button}</fieldset></form>\
         <form method=\"post\" action=\"{action}\" class=\"job\" id=\"cancel-form\"><fieldset>\
         <legend>Cancel the job</legend>{}<input type=\"hidden\" name=\"action\" value=\"cancel\">\
         <label><input type=\"checkbox\" name=\"confirm\" id=\"confirm-cancel\" required> \
         No drive of this job will be sent</label>\
         <button type=\"submit\" id=\"cancel\">Cancel the job</button></fieldset></form>",
        token_field(form_token),
        Esc(carrier),
        Esc(tracking),
        token_field(form_token),
    );
}

/// An operator's buttons for one drive: received (a drive not yet or never received) and
/// never received (a drive not yet received), in the job states that allow them.
pub(super) fn drive_buttons(summary: &JobSummary, drive: &DriveSummary, form_token: &str) -> String {
    use JobState::{Packaging, Received, Shipping, Transferring};
    let receivable = matches!(drive.state, DriveState::Specified | DriveState::NeverReceived)
        && matches!(summary.state, Shipping | Received | Transferring | Packaging);
    let missing =
        drive.state == DriveState::Specified && matches!(summary.state, Shipping | Received | Transferring);
    let action = Esc(&job_link(&summary.account, &summary.name, &["actions"])).to_string();
    let mut buttons = String::new();
    for (shown, verb, label) in [
        (receivable, "receive", "Received"),
        (missing, "never-received", "Never received"),
    ] {
        if shown {
            let _ = write!(
                buttons,
                "<form method=\"post\" action=\"{action}\" class=\"inline\">{}\
                 <input type=\"hidden\" name=\"action\" value=\"{verb}\">\
                 <input type=\"hidden\" name=\"drive_id\" value=\"{}\">\
                 <button type=\"submit\" class=\"{verb}\">{label}</button></form>",
                token_field(form_token),
                Esc(&drive.drive_id),
            );
        }
    }
    buttons
}

/// The fields of the job page's forms (each form sends some).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ActionForm {
    form_token: String,
    action: String,
    carrier: String,
    tracking_number: String,
    ship_date: String,
    drive_count: String,
    drive_id: String,
}

impl ActionForm {
    /// The API action the form asks for, or what is wrong with its values.
    fn job_action(&self) -> Result<JobAction, String> {
        let ship_date = || {
            Date::parse(self.ship_date.trim(), &Iso8601::DATE)
                .map_err(|_| format!("ship date {:?} is not a date (YYYY-MM-DD)", self.ship_date))
        };
        let drive_id = self.drive_id.clone();
        Ok(match self.action.as_str() {
            "ship" => JobAction::Ship {
                request: ShipRequest {
                    carrier: self.carrier.clone(),
                    tracking_number: self.tracking_number.clone(),
                    ship_date: ship_date()?,
                    drive_count: self.drive_count.trim().parse().map_err(|_| {
                        format!("drive count {:?} is not a number of drives", self.drive_count)
                    })?,
                },
                dry_run: false,
            },
            "update" => JobAction::Update {
                update: JobUpdate {
                    carrier: Some(self.carrier.clone()),
                    tracking_number: Some(self.tracking_number.clone()),
                    ship_date: Some(ship_date()?),
                    ..JobUpdate::default()
                },
            },
            "cancel" => JobAction::Cancel,
            "receive" => JobAction::Receive { drive_id },
            "never-received" => JobAction::NeverReceived { drive_id },
            other => return Err(format!("unknown action {other:?}")),
        })
    }
}

/// What the page says once `action` was done.
fn done_message(action: &JobAction) -> String {
    match action {
        JobAction::Ship { request, .. } => format!(
            "Shipping recorded: {} {}, shipped {}.",
            request.carrier, request.tracking_number, request.ship_date
        ),
        JobAction::Update { .. } => "Shipping corrected.".to_owned(),
        JobAction::Cancel => "Job cancelled.".to_owned(),
        JobAction::Receive { drive_id } => format!("Drive {drive_id} marked received."),
        JobAction::NeverReceived { drive_id } => format!("Drive {drive_id} marked never received."),
        other => format!("Done: {}.", other.name()),
    }
}

/// `POST /web/jobs/{account}/{name}/actions`: one of the job page's forms.
pub(super) async fn act(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    same_origin(&state, &headers)?;
    session.check_form_token(&form.form_token)?;
    let outcome = match form.job_action() {
        Err(message) => Flash::error(message),
        Ok(action) => match jobs::apply(&state, &session.principal, &account, &name, &action).await {
            Ok(_) => Flash::ok(done_message(&action)),
            // A fault of the server is its own page; a refused action is told on the job's.
            Err(err) if err.status.is_server_error() => return Err(err.into()),
            Err(err) => Flash::error(err.message),
        },
    };
    Ok(outcome.redirect(&state, &job_link(&account, &name, &[])))
}

/// An example job spec for the creation form: what `seedship job create --spec` reads.
const SPEC_EXAMPLE: &str = r#"{
  "name": "my-first-seed",
  "job_type": "Import",
  "region": "<region>",
  "destination": {"storage_account": "<storage account>", "container": "<container>",
                  "prefix": "host1", "disposition": "rename"},
  "contact": {"name": "Ann Owner", "email": "ann@example.com", "phone": ""},
  "return_shipping": {"carrier": "DHL", "account_number": "123456",
                      "address": {"recipient": "Ann Owner", "street": ["2 Lane"], "city": "Utrecht",
                                  "postal_code": "3511", "country": "NL", "phone": ""}}
}"#;

/// `GET /web/jobs/new`: the job creation form (account owners).
pub(super) async fn new_job_form(session: Session) -> Result<Response, WebError> {
    owner_only(&session)?;
    Ok(creation_page(&session, StatusCode::OK, None, ""))
}

fn owner_only(session: &Session) -> Result<(), WebError> {
    match session.principal {
        Principal::Account { .. } => Ok(()),
        _ => Err(ApiError::forbidden("only account owners create jobs").into()),
    }
}

/// The creation form, with `error` above it and the spec as sent.
fn creation_page(session: &Session, status: StatusCode, error: Option<&str>, spec: &str) -> Response {
    let error = error
        .map(|message| {
            format!(
                "<p id=\"flash\" class=\"error\" role=\"alert\">{}</p>",
                Esc(message)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<p><a href=\"{JOBS}\">Jobs</a></p><h1>Create an import job</h1>{error}\
         <form method=\"post\" action=\"{NEW_JOB}\" enctype=\"multipart/form-data\" class=\"job\" \
         id=\"create-form\">{}\
         <label>Job spec (JSON, as for <code>seedship job create --spec</code>) \
         <textarea name=\"spec\" id=\"spec\" required placeholder=\"{}\">{}</textarea></label>\
         <label>Journals of the drives, one per drive (the files <code>seedship drive prepare \
         --journal</code> or <code>seedship diskprep</code> wrote) \
         <input type=\"file\" name=\"journal\" id=\"journals\" multiple></label>\
         <button type=\"submit\" id=\"create\">Create the job</button></form>\
         <p class=\"hint\">The drives (id, key wrapped to the import service, manifest hashes, \
         bytes) are read from the journals, as <code>seedship job create --journal</code> reads \
         them; without journals the spec's <code>drives</code> are taken. At most {} MiB in all.</p>",
        token_field(&session.form_token()),
        Esc(SPEC_EXAMPLE),
        Esc(spec),
        MAX_UPLOAD >> 20,
    );
    (
        status,
        page("Create an import job", Some(&session.principal), false, &body),
    )
        .into_response()
}

/// The creation form as posted: the form token, the spec's text, the journals saved in a
/// temporary directory (deleted with it) under their names as sent.
struct Upload {
    form_token: String,
    spec: String,
    journals: Vec<(String, PathBuf)>,
    dir: tempfile::TempDir,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, ApiError> {
    let unreadable = |err: axum::extract::multipart::MultipartError| {
        ApiError::invalid_request(format!(
            "the form could not be read ({err}; at most {} MiB in all)",
            MAX_UPLOAD >> 20
        ))
    };
    let dir = tempfile::tempdir().map_err(internal)?;
    let mut upload = Upload {
        form_token: String::new(),
        spec: String::new(),
        journals: Vec::new(),
        dir,
    };
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "form_token" => upload.form_token = field.text().await.map_err(unreadable)?,
            "spec" => upload.spec = field.text().await.map_err(unreadable)?,
            "journal" => {
                // An empty file input still sends a part, without a file name.
                let sent_as = field.file_name().unwrap_or_default().to_owned();
                if sent_as.is_empty() {
                    continue;
                }
                let path = upload
                    .dir
                    .path()
                    .join(format!("{}.jrn", upload.journals.len() + 1));
                let mut file = tokio::fs::File::create(&path).await.map_err(internal)?;
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    file.write_all(&chunk).await.map_err(internal)?;
                }
                file.flush().await.map_err(internal)?;
                upload.journals.push((sent_as, path));
            }
            _ => {}
        }
    }
    Ok(upload)
}

/// The spec of `upload`: its JSON, with the drives of its journals when it has any (as
/// `seedship job create --journal` makes it).
async fn spec_of(upload: Upload) -> Result<JobSpec, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(&upload.spec).map_err(|err| format!("the job spec is not JSON: {err}"))?;
    if !value.is_object() {
        return Err("the job spec is not a JSON object".to_owned());
    }
    if !upload.journals.is_empty() {
        let journals = upload.journals;
        let (specs, journals) = tokio::task::spawn_blocking(move || {
            let paths: Vec<PathBuf> = journals.iter().map(|(_, path)| path.clone()).collect();
            let specs: Result<Vec<seedship_jobs::DriveSpec>, _> = paths
                .iter()
                .map(|path| seedship_drive::shipping_record(path).map(Into::into))
                .collect();
            // The journals' copies go with their directory, once read.
            drop(upload.dir);
            (specs, journals)
        })
        .await
        .map_err(|err| format!("reading the journals failed: {err}"))?;
        let specs = specs.map_err(|err| {
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                let _ = write!(message, ": {cause}");
                source = cause.source();
            }
            // Name the journal as the browser sent it, not its temporary copy.
            for (sent_as, path) in &journals {
                message = message.replace(&path.display().to_string(), &format!("{sent_as:?}"));
            }
            message
        })?;
        value["drives"] = serde_json::to_value(specs).map_err(|err| err.to_string())?;
    }
    serde_json::from_value(value).map_err(|err| format!("job spec: {err}"))
}

/// `POST /web/jobs/new`: creates the job of the uploaded spec and journals, then shows it.
pub(super) async fn create_job(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, WebError> {
    same_origin(&state, &headers)?;
    owner_only(&session)?;
    let upload = read_upload(multipart).await?;
    session.check_form_token(&upload.form_token)?;
    let text = upload.spec.clone();
    let spec = match spec_of(upload).await {
        Ok(spec) => spec,
        Err(message) => {
            return Ok(creation_page(
                &session,
                StatusCode::BAD_REQUEST,
                Some(&message),
                &text,
            ));
        }
    };
    match jobs::create(&state, &session.principal, spec, false).await {
        Ok(Some(job)) => {
            let link = job_link(job.account(), job.name().as_str(), &[]);
            let done = format!(
                "Job {} created with {} drive(s): ship them, then record the shipping below.",
                job.name().as_str(),
                job.drives().len()
            );
            Ok(Flash::ok(done).redirect(&state, &link))
        }
        Ok(None) => Err(internal("a job creation that is no dry run created nothing").into()),
        Err(err) if err.status.is_server_error() => Err(err.into()),
        Err(err) => Ok(creation_page(&session, err.status, Some(&err.message), &text)),
    }
}
