//! A blocking client of the management API, for the `seedship` command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::credentials::Credentials;
use crate::probe;
use crate::upload::{self, BodyWriter, ChunkPool, UploadBody};
use crate::wire::{
    AccountCreated, AccountUsage, AgentInfo, BLAKE3_HEADER, BatchPlaced, BlobBatchQuery, BlobHeadQuery,
    BlobList, BlobListQuery, BlobPlaced, BlobPutQuery, ClockRequest, ClockState, CustodyReport, DamagedQuery,
    DriveLogs, ErrorBody, ErrorCode, ExportPreview, ExportPreviewQuery, ImportedDeleted, IssuedSecret,
    JobAction, JobCreateQuery, JobDetail, MetricsSnapshot, NameList, NameRequest, QuotaRequest, RepairQuery,
    SeedProgress, SeedReport, SeedRequest, ServiceKey, Spans, UPLINK_PROBE_MAX_BYTES, UplinkProbe, VaultInfo,
    VaultRequest, WebhookDelivery, WebhookInfo, WebhookRequest,
};
use seedship_jobs::{ExportObject, JobSpec, JobSummary};

/// A failed API call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server could not be reached or the response not read.
    #[error("contacting {url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The client's upload runtime could not start.
    #[error("starting the upload runtime: {message}")]
    Runtime { message: String },
    /// The certificate named by `SEEDSHIP_CA_CERT` could not be used.
    #[error("CA certificate {path}: {message}")]
    CaCertificate { path: String, message: String },
    /// A name would not stay one segment of the request path: empty, `.` or `..` (URL
    /// parsers resolve dot segments, percent-encoded or not, before the request is sent).
    #[error("refusing to build a request path from segment {segment:?} of {name:?}")]
    BadPathSegment { name: String, segment: String },
    /// The server refused the request.
    #[error("{message} (HTTP {status}{})", code_and_rule(code.as_ref(), rule.as_deref()))]
    Api {
        url: String,
        status: u16,
        code: Option<ErrorCode>,
        message: String,
        /// For [`ErrorCode::JobRule`]: the job rule that refused, e.g. `TooManyDrives`.
        rule: Option<String>,
    },
}

/// ` <code>` and ` <rule>` for a refusal's message, e.g. ` JobRule DuplicateTrackingNumber`:
/// the names the documentation uses, not the types' debug forms.
fn code_and_rule(code: Option<&ErrorCode>, rule: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(code) = code {
        text.push_str(&format!(" {code:?}"));
    }
    if let Some(rule) = rule {
        text.push_str(&format!(" {rule}"));
    }
    text
}

/// The error of a refused request, from its status and body (an [`ErrorBody`] when the API
/// answered, else the text as it came).
fn api_error(url: &str, status: u16, text: String) -> ClientError {
    let (code, message, rule) = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => (Some(body.error.code), body.error.message, body.error.rule),
        Err(_) => (None, text, None),
    };
    ClientError::Api {
        url: url.to_owned(),
        status,
        code,
        message,
        rule,
    }
}

/// A successful answer whose body is not the JSON the API documents.
fn unexpected_answer(url: &str, status: u16, err: &serde_json::Error) -> ClientError {
    ClientError::Api {
        url: url.to_owned(),
        status,
        code: None,
        message: format!("unexpected response: {err}"),
        rule: None,
    }
}

/// `/api/v1/<part>/...`: each part split at `/` into segments, every segment percent-encoded.
/// A segment that is empty, `.` or `..` is refused rather than sent: an HTTP client would
/// resolve it and the request would reach another resource (another account's job, say).
fn api_path(parts: &[&str]) -> Result<String, ClientError> {
    let mut path = String::from("/api/v1");
    for part in parts {
        for segment in part.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(ClientError::BadPathSegment {
                    name: (*part).to_owned(),
                    segment: segment.to_owned(),
                });
            }
            path.push('/');
            path.push_str(&percent_encode(segment));
        }
    }
    Ok(path)
}

/// Copies `data` to its end into `writer`; a read error fails the body with that error.
fn copy_into(mut data: impl std::io::Read, mut writer: BodyWriter) {
    match std::io::copy(&mut data, &mut writer) {
        Ok(_) => {
            // an error here means the request is gone and reports its own failure
            let _ = writer.finish();
        }
        Err(err) => writer.fail(err),
    }
}

/// How long a connection to the server may take to open.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a management request (not an upload) may take, answer included.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// What a vault seed did (see `POST /api/v1/vaults/<vault>/seed`).
pub type Seeded = SeedReport;

/// Server counters (see `GET /api/v1/metrics`).
pub type Metrics = MetricsSnapshot;

/// How long an uplink probe may wait for the server's answer after its body ended (bytes
/// still in the socket buffers, a slow link): beyond it the probe fails rather than hangs.
const PROBE_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// What an uplink probe measured ([`Client::probe_uplink`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UplinkMeasurement {
    /// Bytes the server read (all that were sent).
    pub bytes: u64,
    /// Seconds from the first byte handed to the connection to the server's answer, which
    /// comes once the server read the last byte.
    pub seconds: f64,
    /// Seconds the server spent reading the body.
    pub server_seconds: f64,
    /// `bytes / seconds`.
    pub bytes_per_second: f64,
}

/// A damaged file to hold back until its repair; the server chooses the name it is held back
/// under (by `disposition`, as for a blob) and answers it: the repair names it so.
#[derive(Debug, Clone, Copy)]
pub struct HeldBack<'a> {
    /// The name the drive's manifest asked for.
    pub requested: &'a str,
    /// What to do if that name is taken (by a blob or another held-back file).
    pub disposition: seedship_jobs::Disposition,
    /// The drive whose logs list the file (its repair fixes that drive's problems only).
    pub drive_id: &'a str,
    /// The BLAKE3 (hex) the whole file must have once repaired.
    pub blake3: &'a str,
    /// `(offset, length)` spans, in order, that are not sent (on drives not given): a repair
    /// must fill them.
    pub holes: &'a [(u64, u64)],
}

/// Calls the management API as the principal of a credentials file.
#[derive(Debug)]
pub struct Client {
    http: reqwest::blocking::Client,
    /// Uploads go through the async client: the blocking one reads a streamed body 8 KiB at a
    /// time, one thread hand-off each, which cost more CPU than the copy itself.
    uploads: Uploads,
    server: String,
    token: String,
}

/// The async client, the runtime its connections run on, and the buffers of their bodies.
#[derive(Debug)]
struct Uploads {
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    chunks: Arc<ChunkPool>,
}

impl Client {
    /// A client for the server and principal named in `credentials`. If `SEEDSHIP_CA_CERT`
    /// names a PEM file, that certificate is trusted too (for a `--tls` server's self-signed
    /// certificate).
    ///
    /// # Errors
    ///
    /// [`ClientError::CaCertificate`] if that file is unreadable or not a certificate.
    pub fn new(credentials: &Credentials) -> Result<Self, ClientError> {
        let (server, id, secret) = credentials.principal();
        // reqwest's blocking default gives a whole request 30 s: too short for listing the
        // blobs of a large import from S3 or Azure. Long work answers in parts instead (a vault
        // seed within 20 s); this bound is for a server that stopped answering.
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT);
        let mut upload_builder = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
        if let Some(path) = std::env::var_os("SEEDSHIP_CA_CERT").filter(|p| !p.is_empty()) {
            let path = path.to_string_lossy().into_owned();
            let fail = |message: String| ClientError::CaCertificate {
                path: path.clone(),
                message,
            };
            let pem = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
            let certificate = reqwest::Certificate::from_pem(&pem).map_err(|e| fail(e.to_string()))?;
            builder = builder.add_root_certificate(certificate.clone());
            upload_builder = upload_builder.add_root_certificate(certificate);
        }
        let transport = |source| ClientError::Transport {
            url: server.to_owned(),
            source,
        };
        let http = builder.build().map_err(transport)?;
        let upload_http = upload_builder.build().map_err(transport)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("seedship-upload")
            .enable_all()
            .build()
            .map_err(|e| ClientError::Runtime {
                message: e.to_string(),
            })?;
        Ok(Self {
            http,
            uploads: Uploads {
                http: upload_http,
                runtime,
                chunks: Arc::default(),
            },
            server: server.trim_end_matches('/').to_owned(),
            token: format!("{id}.{secret}"),
        })
    }

    /// `GET path`, or `POST path` with the JSON body `post`.
    fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        post: Option<&B>,
        path: &str,
    ) -> Result<R, ClientError> {
        match post {
            Some(body) => self.call_with(reqwest::Method::POST, Some(body), path),
            None => self.call_with::<(), _>(reqwest::Method::GET, None, path),
        }
    }

    /// `method path` with the JSON body `body`, answering the JSON response.
    fn call_with<B: Serialize, R: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        body: Option<&B>,
        path: &str,
    ) -> Result<R, ClientError> {
        let url = format!("{}{path}", self.server);
        let request = self.http.request(method, &url);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        self.answer(&url, request)
    }

    /// Sends `request` (to `url`) and decodes its JSON answer.
    fn answer<R: DeserializeOwned>(
        &self,
        url: &str,
        request: reqwest::blocking::RequestBuilder,
    ) -> Result<R, ClientError> {
        let transport = |source| ClientError::Transport {
            url: url.to_owned(),
            source,
        };
        let response = request.bearer_auth(&self.token).send().map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            let text = response.text().map_err(transport)?;
            // Creates without a body answer 201 with nothing: decode `null` then.
            let text = if text.is_empty() { "null".to_owned() } else { text };
            return serde_json::from_str(&text).map_err(|e| unexpected_answer(url, status.as_u16(), &e));
        }
        Err(api_error(
            url,
            status.as_u16(),
            response.text().unwrap_or_default(),
        ))
    }

    /// Creates an account (admin).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn create_account(&self, name: &str) -> Result<AccountCreated, ClientError> {
        self.call(
            Some(&NameRequest {
                name: name.to_owned(),
            }),
            "/api/v1/accounts",
        )
    }

    /// Gives account `name` a new secret (admin, or the account's owner): from the answer on,
    /// the old secret is refused.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn rotate_account_secret(&self, name: &str) -> Result<AccountCreated, ClientError> {
        self.rotate(&["accounts", name])
    }

    /// Gives operator `name` a new secret (admin, or the operator itself).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn rotate_operator_secret(&self, name: &str) -> Result<AccountCreated, ClientError> {
        self.rotate(&["operators", name])
    }

    /// Gives the agent with principal id `id` a new secret (the owner of its account, or the
    /// agent itself).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn rotate_agent_secret(&self, id: &str) -> Result<AgentInfo, ClientError> {
        self.rotate(&["agents", id])
    }

    /// `POST /api/v1/<principal>/secret`.
    fn rotate<R: DeserializeOwned>(&self, principal: &[&str]) -> Result<R, ClientError> {
        let mut parts = principal.to_vec();
        parts.push("secret");
        self.call(Some(&serde_json::json!({})), &api_path(&parts)?)
    }

    /// Creates an operator (admin).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn create_operator(&self, name: &str) -> Result<AccountCreated, ClientError> {
        self.call(
            Some(&NameRequest {
                name: name.to_owned(),
            }),
            "/api/v1/operators",
        )
    }

    /// Creates a storage account (account owner).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn create_storage_account(&self, name: &str) -> Result<(), ClientError> {
        self.call::<_, ()>(
            Some(&NameRequest {
                name: name.to_owned(),
            }),
            "/api/v1/storage-accounts",
        )
    }

    /// Lists the account's storage accounts.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn storage_accounts(&self) -> Result<NameList, ClientError> {
        self.call::<(), _>(None, "/api/v1/storage-accounts")
    }

    /// Creates a container in a storage account (account owner).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn create_container(&self, storage: &str, name: &str) -> Result<(), ClientError> {
        let path = api_path(&["storage-accounts", storage, "containers"])?;
        self.call::<_, ()>(
            Some(&NameRequest {
                name: name.to_owned(),
            }),
            &path,
        )
    }

    /// Lists the containers of a storage account.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn containers(&self, storage: &str) -> Result<NameList, ClientError> {
        self.call::<(), _>(None, &api_path(&["storage-accounts", storage, "containers"])?)
    }

    /// Deletes storage account `name` (account owner); refused unless it has no containers.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered ([`ErrorCode::NotEmpty`]).
    pub fn delete_storage_account(&self, name: &str) -> Result<(), ClientError> {
        self.call_with::<(), ()>(
            reqwest::Method::DELETE,
            None,
            &api_path(&["storage-accounts", name])?,
        )
    }

    /// Deletes container `name` of storage account `storage` (account owner); refused unless
    /// it holds no blob and no job that has not ended names it.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered ([`ErrorCode::NotEmpty`], [`ErrorCode::InUse`]).
    pub fn delete_container(&self, storage: &str, name: &str) -> Result<(), ClientError> {
        let path = api_path(&["storage-accounts", storage, "containers", name])?;
        self.call_with::<(), ()>(reqwest::Method::DELETE, None, &path)
    }

    /// Deletes vault `name` (account owner), its registration and its agents; refused unless
    /// its repository holds no object (locks aside) and no seed of it runs.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered ([`ErrorCode::NotEmpty`], [`ErrorCode::InUse`]).
    pub fn delete_vault(&self, name: &str) -> Result<(), ClientError> {
        self.call_with::<(), ()>(reqwest::Method::DELETE, None, &api_path(&["vaults", name])?)
    }

    /// The storage quota and usage of account `name` (admin, or the account's owner).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn account_quota(&self, name: &str) -> Result<AccountUsage, ClientError> {
        self.call::<(), _>(None, &api_path(&["accounts", name, "quota"])?)
    }

    /// Sets the storage quota of account `name` in bytes (`None`: no quota) (admin); the
    /// server recounts the account's usage from the store.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn set_account_quota(&self, name: &str, bytes: Option<u64>) -> Result<AccountUsage, ClientError> {
        self.call_with(
            reqwest::Method::PUT,
            Some(&QuotaRequest { bytes }),
            &api_path(&["accounts", name, "quota"])?,
        )
    }

    /// Creates a vault (account owner); answers it and its registration credential.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn create_vault(
        &self,
        name: &str,
        append_only: bool,
    ) -> Result<(VaultInfo, IssuedSecret), ClientError> {
        let request = VaultRequest {
            name: name.to_owned(),
            append_only,
        };
        let mut info: VaultInfo = self.call(Some(&request), "/api/v1/vaults")?;
        let registration = info.registration.take().ok_or_else(|| ClientError::Api {
            url: format!("{}/api/v1/vaults", self.server),
            status: 201,
            code: None,
            message: "response lacks the registration credential".to_owned(),
            rule: None,
        })?;
        Ok((info, registration))
    }

    /// Lists the account's vaults.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn vaults(&self) -> Result<Vec<VaultInfo>, ClientError> {
        self.call::<(), _>(None, "/api/v1/vaults")
    }

    /// Registers an agent (vault registration credentials).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn register_agent(&self, name: &str) -> Result<AgentInfo, ClientError> {
        self.call(
            Some(&NameRequest {
                name: name.to_owned(),
            }),
            "/api/v1/agents",
        )
    }

    /// How much a whole-vault export of vault `name` needs on drives of `drive_size` bytes,
    /// computed by the server from the vault's object sizes (account owner).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn export_preview(&self, name: &str, drive_size: u64) -> Result<ExportPreview, ClientError> {
        let url = format!(
            "{}{}",
            self.server,
            api_path(&["vaults", name, "export-preview"])?
        );
        let request = self.http.get(&url).query(&ExportPreviewQuery { drive_size });
        self.answer(&url, request)
    }

    /// The repository objects export job `name` copies (its owner, or an operator).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn export_objects(&self, account: &str, name: &str) -> Result<Vec<ExportObject>, ClientError> {
        self.call::<(), _>(None, &api_path(&["jobs", account, name, "export-objects"])?)
    }

    /// Reads object `object` (`data/ab/ab..`, `index/..`, `config`...) of export job `name`'s
    /// vault from byte `from` on, streamed (operator, while the job's drives are written).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered; [`ClientError::Api`] when a server ignored the
    /// range. The body streams on the client's runtime, read ahead in blocks of 1 MiB.
    pub fn read_export_object(
        &self,
        account: &str,
        name: &str,
        object: &str,
        from: u64,
    ) -> Result<crate::Download, ClientError> {
        let url = self.job_object_url(account, name, "export-objects", object)?;
        let mut request = self.uploads.http.get(&url).bearer_auth(&self.token);
        if from > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={from}-"));
        }
        let runtime = &self.uploads.runtime;
        let response = runtime
            .block_on(request.send())
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        let status = response.status();
        if !status.is_success() {
            let text = runtime.block_on(response.text()).unwrap_or_default();
            return Err(api_error(&url, status.as_u16(), text));
        }
        if from > 0 && status != reqwest::StatusCode::PARTIAL_CONTENT {
            return Err(api_error(
                &url,
                status.as_u16(),
                format!("asked for bytes {from}- and got the whole object"),
            ));
        }
        Ok(crate::Download::start(runtime.handle(), response))
    }

    /// Creates an import or export job (account owner); the answer carries the shipping address.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered; job rules as [`ErrorCode::JobRule`].
    pub fn create_job(&self, spec: &JobSpec) -> Result<JobDetail, ClientError> {
        self.call(Some(spec), "/api/v1/jobs")
    }

    /// Checks an import job against every rule (its destination container must exist)
    /// without creating it; a spec without drives (not prepared yet) checks all the rest.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered; job rules as [`ErrorCode::JobRule`].
    pub fn check_job(&self, spec: &JobSpec) -> Result<(), ClientError> {
        let url = format!("{}/api/v1/jobs", self.server);
        let request = self.http.post(&url).json(spec);
        self.answer(&url, request.query(&JobCreateQuery { dry_run: true }))
    }

    /// The account's jobs (owner), or every job (operator).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn jobs(&self) -> Result<Vec<JobSummary>, ClientError> {
        self.call::<(), _>(None, "/api/v1/jobs")
    }

    /// One job of `account`.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn job(&self, account: &str, name: &str) -> Result<JobDetail, ClientError> {
        self.call::<(), _>(None, &api_path(&["jobs", account, name])?)
    }

    /// Applies an action to a job (one database transaction on the server).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered; job rules as [`ErrorCode::JobRule`].
    pub fn job_action(
        &self,
        account: &str,
        name: &str,
        action: &JobAction,
    ) -> Result<JobDetail, ClientError> {
        self.call(Some(action), &api_path(&["jobs", account, name, "actions"])?)
    }

    /// Deletes every blob under the destination prefix of job `name` (its owner, once the job
    /// has ended and no seed reads the folder); the server records it in the custody log.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered; job rules as [`ErrorCode::JobRule`], a running
    /// seed as [`ErrorCode::InUse`].
    pub fn delete_imported(&self, account: &str, name: &str) -> Result<ImportedDeleted, ClientError> {
        self.call_with::<(), _>(
            reqwest::Method::DELETE,
            None,
            &api_path(&["jobs", account, name, "blobs"])?,
        )
    }

    /// The copy and error logs of a job's transferred drives.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn job_logs(&self, account: &str, name: &str) -> Result<Vec<DriveLogs>, ClientError> {
        self.call::<(), _>(None, &api_path(&["jobs", account, name, "logs"])?)
    }

    /// A job's custody log, verified by the server.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn job_custody(&self, account: &str, name: &str) -> Result<CustodyReport, ClientError> {
        self.call::<(), _>(None, &api_path(&["jobs", account, name, "custody"])?)
    }

    /// Moves the server's clock forward (admin; only with a test clock); returns the offset.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn advance_clock(&self, seconds: i64) -> Result<i64, ClientError> {
        let state: ClockState = self.call(
            Some(&ClockRequest {
                advance_seconds: seconds,
            }),
            "/api/v1/admin/clock",
        )?;
        Ok(state.offset_seconds)
    }

    /// Vault `name` and how it was seeded (account owner, or the vault's own agent).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn vault(&self, name: &str) -> Result<VaultInfo, ClientError> {
        self.call::<(), _>(None, &api_path(&["vaults", name])?)
    }

    /// Seeds vault `vault` with the restic repository `request` names (a folder of a
    /// container; account owner, or the vault's agent). The seed runs on the
    /// server; this asks again until it is done, passing each progress answer to `progress`.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered (`SeedConflict`, `NotARepository`, ...).
    pub fn seed_vault(
        &self,
        vault: &str,
        request: &SeedRequest,
        progress: &mut dyn FnMut(&SeedProgress),
    ) -> Result<Seeded, ClientError> {
        let url = format!("{}{}", self.server, api_path(&["vaults", vault, "seed"])?);
        loop {
            let response = self.send_raw(&url, self.http.post(&url).json(request))?;
            let status = response.status().as_u16();
            let text = response.text().map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
            if status != 202 {
                return serde_json::from_str(&text).map_err(|e| unexpected_answer(&url, status, &e));
            }
            let running: SeedProgress =
                serde_json::from_str(&text).map_err(|e| unexpected_answer(&url, status, &e))?;
            progress(&running);
        }
    }

    /// The import service's public key file text, to wrap drive keys to (any principal).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn service_key(&self) -> Result<String, ClientError> {
        self.call::<(), ServiceKey>(None, "/api/v1/import/service-key")
            .map(|key| key.public_key)
    }

    /// The server's counters (admin or operator).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn metrics(&self) -> Result<Metrics, ClientError> {
        self.call::<(), _>(None, "/api/v1/metrics")
    }

    /// Measures the uplink to the server: uploads pseudo-random bytes (nothing on the way
    /// compresses them, see `probe.rs`) to `POST /api/v1/uplink-probe` for `duration`, or
    /// until [`UPLINK_PROBE_MAX_BYTES`] are out, whichever comes first, and waits for the
    /// server to say how much it read. `sent` hears the bytes of each chunk handed to the
    /// connection (for a progress bar). For an agent or an account owner.
    ///
    /// The rate is the bytes the server read over the time from the first byte sent to the
    /// answer: what one TCP connection (TLS included, if the server speaks it) carries over the
    /// real path in that time, slow start included. An empty probe goes first, so credentials
    /// the server refuses are an answer (401, 403) and the connection is open before the clock
    /// starts.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered (401/403 for other credentials), or
    /// [`ClientError::Transport`] if the connection failed or the answer did not come within a
    /// minute of the body's end.
    pub fn probe_uplink(
        &self,
        duration: Duration,
        sent: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<UplinkMeasurement, ClientError> {
        let url = format!("{}/api/v1/uplink-probe", self.server);
        // An empty probe first: a refusal (401, 403) is answered before any body is sent,
        // where a refusal of the streaming one would only break its upload; and the timed
        // probe then goes over the connection this one opened (TLS handshake done).
        self.send_probe(&url, reqwest::Body::from(Vec::new()), PROBE_ANSWER_TIMEOUT)?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        let block = bytes::Bytes::from(probe::noise(probe::BLOCK, seed));
        let sending = Arc::new(probe::Sending::default());
        let body = probe::body(block, duration, UPLINK_PROBE_MAX_BYTES, sending.clone(), sent);
        let (probe, answered) = self.send_probe(
            &url,
            reqwest::Body::wrap_stream(body),
            duration + PROBE_ANSWER_TIMEOUT,
        )?;
        let seconds = sending
            .started()
            .map_or(0.0, |started| answered.duration_since(started).as_secs_f64());
        let bytes_per_second = if seconds > 0.0 {
            probe.bytes as f64 / seconds
        } else {
            0.0
        };
        Ok(UplinkMeasurement {
            bytes: probe.bytes,
            seconds,
            server_seconds: probe.seconds,
            bytes_per_second,
        })
    }

    /// `POST <url>` (the uplink probe) with `body`, within `timeout`: the server's answer and
    /// when its headers arrived.
    fn send_probe(
        &self,
        url: &str,
        body: reqwest::Body,
        timeout: Duration,
    ) -> Result<(UplinkProbe, Instant), ClientError> {
        let transport = |source| ClientError::Transport {
            url: url.to_owned(),
            source,
        };
        let request = self
            .uploads
            .http
            .post(url)
            .bearer_auth(&self.token)
            .timeout(timeout)
            .body(body);
        let (status, answer, answered) = self.uploads.runtime.block_on(async {
            let response = request.send().await.map_err(transport)?;
            let answered = Instant::now();
            let status = response.status();
            let answer = response.bytes().await.map_err(transport)?;
            Ok::<_, ClientError>((status, answer, answered))
        })?;
        if !status.is_success() {
            return Err(api_error(
                url,
                status.as_u16(),
                String::from_utf8_lossy(&answer).into_owned(),
            ));
        }
        let probe =
            serde_json::from_slice(&answer).map_err(|e| unexpected_answer(url, status.as_u16(), &e))?;
        Ok((probe, answered))
    }

    /// Registers a webhook of the account (account owner); the answer carries its signing
    /// secret, shown this once.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered (`InvalidRequest` for a URL that is not http(s)).
    pub fn add_webhook(&self, url: &str) -> Result<WebhookInfo, ClientError> {
        self.call(Some(&WebhookRequest { url: url.to_owned() }), "/api/v1/webhooks")
    }

    /// The account's webhooks, without their secrets (account owner).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn webhooks(&self) -> Result<Vec<WebhookInfo>, ClientError> {
        self.call::<(), _>(None, "/api/v1/webhooks")
    }

    /// Removes webhook `id` of the account and its deliveries (account owner).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered (`NotFound` for an unknown id).
    pub fn remove_webhook(&self, id: &str) -> Result<(), ClientError> {
        let url = format!("{}{}", self.server, api_path(&["webhooks", id])?);
        self.send_raw(&url, self.http.delete(&url)).map(drop)
    }

    /// The account's latest webhook deliveries, newest first, with their last status
    /// (account owner).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn webhook_deliveries(&self) -> Result<Vec<WebhookDelivery>, ClientError> {
        self.call::<(), _>(None, "/api/v1/webhooks/deliveries")
    }

    fn blob_url(&self, account: &str, name: &str, path: &str) -> Result<String, ClientError> {
        self.job_object_url(account, name, "blobs", path)
    }

    /// `<server>/api/v1/jobs/<account>/<name>/<kind>/<path>` (see [`api_path`]; blob names
    /// may hold spaces, `%`, `?` or newlines).
    fn job_object_url(
        &self,
        account: &str,
        name: &str,
        kind: &str,
        path: &str,
    ) -> Result<String, ClientError> {
        Ok(format!(
            "{}{}",
            self.server,
            api_path(&["jobs", account, name, kind, path])?
        ))
    }

    fn send_raw(
        &self,
        url: &str,
        request: reqwest::blocking::RequestBuilder,
    ) -> Result<reqwest::blocking::Response, ClientError> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .map_err(|source| ClientError::Transport {
                url: url.to_owned(),
                source,
            })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        Err(api_error(url, status, response.text().unwrap_or_default()))
    }

    /// A streamed request body and the writer that feeds it, for the upload methods. The
    /// writer belongs on a thread of its own: it blocks while the connection catches up.
    pub fn upload_body(&self) -> (BodyWriter, UploadBody) {
        upload::pipe(self.uploads.chunks.clone())
    }

    /// A streamed request body read from `data` on a thread of the client's.
    pub fn upload_reader(&self, data: impl std::io::Read + Send + 'static) -> UploadBody {
        let (writer, body) = self.upload_body();
        self.uploads
            .runtime
            .spawn_blocking(move || copy_into(data, writer));
        body
    }

    /// Sends `data` as the streamed body of a `method` request to `url` with `query` and
    /// returns the status and body of a successful answer.
    fn send_streamed(
        &self,
        method: reqwest::Method,
        url: &str,
        query: &impl Serialize,
        data: UploadBody,
    ) -> Result<(u16, bytes::Bytes), ClientError> {
        let transport = |source| ClientError::Transport {
            url: url.to_owned(),
            source,
        };
        let body = reqwest::Body::wrap_stream(data.into_stream());
        let request = self
            .uploads
            .http
            .request(method, url)
            .query(query)
            .bearer_auth(&self.token)
            .body(body);
        self.uploads.runtime.block_on(async {
            let response = request.send().await.map_err(transport)?;
            let status = response.status();
            let answer = response.bytes().await.map_err(transport)?;
            if status.is_success() {
                Ok((status.as_u16(), answer))
            } else {
                Err(api_error(
                    url,
                    status.as_u16(),
                    String::from_utf8_lossy(&answer).into_owned(),
                ))
            }
        })
    }

    /// Streams `data` into blob `path` of the job's container (operator).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn put_blob(
        &self,
        account: &str,
        name: &str,
        path: &str,
        data: impl std::io::Read + Send + 'static,
    ) -> Result<(), ClientError> {
        self.put_verified_blob(account, name, path, self.upload_reader(data), None)
    }

    /// Streams `data` into blob `path` of the job's container (operator); with `blake3`
    /// (hex), the server writes the blob only if the bytes hash to it (else
    /// [`ErrorCode::DigestMismatch`] and nothing is written).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn put_verified_blob(
        &self,
        account: &str,
        name: &str,
        path: &str,
        data: UploadBody,
        blake3: Option<&str>,
    ) -> Result<(), ClientError> {
        let url = self.blob_url(account, name, path)?;
        let query = BlobPutQuery {
            blake3: blake3.map(str::to_owned),
            disposition: None,
        };
        self.send_streamed(reqwest::Method::PUT, &url, &query, data)
            .map(drop)
    }

    /// Streams `data` into the job's container under the name `requested` (operator); the
    /// server places it by `disposition` (rename and no-overwrite never replace a blob, even
    /// against another receiver of the same job) and answers the name it used and what the
    /// disposition did. The server writes the blob only if the bytes hash to `blake3` (hex;
    /// else [`ErrorCode::DigestMismatch`] and nothing is written).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn put_placed_blob(
        &self,
        account: &str,
        name: &str,
        requested: &str,
        disposition: seedship_jobs::Disposition,
        data: UploadBody,
        blake3: &str,
    ) -> Result<BlobPlaced, ClientError> {
        let url = self.blob_url(account, name, requested)?;
        let query = BlobPutQuery {
            blake3: Some(blake3.to_owned()),
            disposition: Some(disposition),
        };
        let (status, answer) = self.send_streamed(reqwest::Method::PUT, &url, &query, data)?;
        serde_json::from_slice(&answer).map_err(|e| unexpected_answer(&url, status, &e))
    }

    /// The names of the blobs of the job's container under `prefix` (`""`: all), relative to
    /// the container, sorted.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn list_blobs(&self, account: &str, name: &str, prefix: &str) -> Result<Vec<String>, ClientError> {
        let url = format!("{}{}", self.server, Self::blobs_path(account, name)?);
        let query = BlobListQuery {
            prefix: prefix.to_owned(),
        };
        let list: BlobList = self.answer(&url, self.http.get(&url).query(&query))?;
        Ok(list.blobs.into_iter().map(|blob| blob.name).collect())
    }

    /// Writes a batch of small blobs in one request (operator); `body` is encoded as
    /// [`seedship_jobs::decode_batch`] reads it, each entry under its requested name; the server
    /// places them by `disposition` as [`Client::put_placed_blob`] does and answers where each
    /// went, in order. If one blob does not hash to its BLAKE3 the server writes none
    /// ([`ErrorCode::DigestMismatch`]).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn put_blob_batch(
        &self,
        account: &str,
        name: &str,
        disposition: seedship_jobs::Disposition,
        body: Vec<u8>,
    ) -> Result<Vec<BlobPlaced>, ClientError> {
        let url = format!("{}{}", self.server, Self::blobs_path(account, name)?);
        let query = BlobBatchQuery {
            disposition: Some(disposition),
        };
        let response = self.send_raw(&url, self.http.post(&url).query(&query).body(body))?;
        let status = response.status().as_u16();
        let answer = response.bytes().map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        let placed: BatchPlaced =
            serde_json::from_slice(&answer).map_err(|e| unexpected_answer(&url, status, &e))?;
        Ok(placed.blobs)
    }

    fn blobs_path(account: &str, name: &str) -> Result<String, ClientError> {
        api_path(&["jobs", account, name, "blobs"])
    }

    /// The BLAKE3 (hex) of blob `path` of the job's container, `None` if there is no such blob.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered (other than 404).
    pub fn blob_blake3(&self, account: &str, name: &str, path: &str) -> Result<Option<String>, ClientError> {
        let url = self.blob_url(account, name, path)?;
        let query = BlobHeadQuery {
            hash: Some("blake3".to_owned()),
        };
        match self.send_raw(&url, self.http.head(&url).query(&query)) {
            Ok(response) => Ok(response
                .headers()
                .get(BLAKE3_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Holds back a file that failed verification (operator): `data` is the file with bad
    /// ranges as zeros and without the file's holes (see [`HeldBack`]). Answers the name the
    /// server holds it back under (reserved until the repair writes it), or `Skipped`
    /// (no-overwrite and the name taken: nothing held back).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn put_damaged(
        &self,
        account: &str,
        name: &str,
        file: &HeldBack<'_>,
        data: UploadBody,
    ) -> Result<BlobPlaced, ClientError> {
        let url = self.job_object_url(account, name, "damaged", file.requested)?;
        let query = DamagedQuery {
            blake3: file.blake3.to_owned(),
            disposition: Some(file.disposition),
            drive: Some(file.drive_id.to_owned()),
            holes: (!file.holes.is_empty()).then(|| Spans(file.holes.to_vec()).to_string()),
        };
        let (status, answer) = self.send_streamed(reqwest::Method::PUT, &url, &query, data)?;
        serde_json::from_slice(&answer).map_err(|e| unexpected_answer(&url, status, &e))
    }

    /// Repairs the file held back as `blob` (the name [`Client::put_damaged`] answered, which
    /// the error log records; owner or operator): `data` carries the bytes of `ranges`
    /// (`(offset, length)`, in order).
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn repair_blob(
        &self,
        account: &str,
        name: &str,
        blob: &str,
        ranges: &[(u64, u64)],
        data: impl std::io::Read + Send + 'static,
    ) -> Result<JobDetail, ClientError> {
        let url = self.job_object_url(account, name, "repair", blob)?;
        let query = RepairQuery {
            ranges: Spans(ranges.to_vec()).to_string(),
        };
        let (status, answer) =
            self.send_streamed(reqwest::Method::POST, &url, &query, self.upload_reader(data))?;
        serde_json::from_slice(&answer).map_err(|e| unexpected_answer(&url, status, &e))
    }

    /// Reads blob `path` of the job's container.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered.
    pub fn get_blob(&self, account: &str, name: &str, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.blob_url(account, name, path)?;
        let response = self.send_raw(&url, self.http.get(&url))?;
        let bytes = response.bytes().map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        Ok(bytes.to_vec())
    }

    /// Whether blob `path` exists in the job's container.
    ///
    /// # Errors
    ///
    /// [`ClientError`] as the server answered (other than 404).
    pub fn blob_exists(&self, account: &str, name: &str, path: &str) -> Result<bool, ClientError> {
        let url = self.blob_url(account, name, path)?;
        match self.send_raw(&url, self.http.head(&url)) {
            Ok(_) => Ok(true),
            Err(ClientError::Api { status: 404, .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved characters (a path segment).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{ClientError, api_path};

    #[test]
    fn request_paths_never_hold_dot_or_empty_segments() {
        assert_eq!(
            api_path(&["jobs", "acme", "seed-one", "blobs", "host1/a b/100%.bin"]).ok(),
            Some("/api/v1/jobs/acme/seed-one/blobs/host1/a%20b/100%25.bin".to_owned())
        );
        // `%2e%2e` is sent encoded as `%252e%252e`: one segment, never resolved.
        assert_eq!(
            api_path(&["jobs", "%2e%2e"]).ok(),
            Some("/api/v1/jobs/%252e%252e".to_owned())
        );
        for bad in [
            "..",
            ".",
            "",
            "x/../../..",
            "a//b",
            "a/",
            "/a",
            "waimportexport/./x",
        ] {
            assert!(
                matches!(
                    api_path(&["jobs", "acme", bad]),
                    Err(ClientError::BadPathSegment { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
