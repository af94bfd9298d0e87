//! The HTTP API's wire types: every request and response body the server and its clients
//! exchange, the error body and its stable codes, and the API's own headers. Format only: no
//! logic beyond naming (`docs/http-api.md` is the reference).

use seedship_jobs::{
    CustodyEntry, DataCentre, DeadlineKind, DriveLog, DriveState, ErasureRecord, ExportObject, Job, JobState,
    JobSummary, JobUpdate, Problem, ShipRequest, ShippingInfo,
};
use serde::{Deserialize, Serialize};

// Errors

/// Stable error codes of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No credentials, unknown principal or wrong secret (401).
    Unauthenticated,
    /// Authenticated, but not allowed to touch this resource (403).
    Forbidden,
    /// A name breaks the naming rules (400).
    InvalidName,
    /// Malformed request: bad JSON, bad object type or name, bad Range (400).
    InvalidRequest,
    /// The account, storage account, container or vault does not exist (404).
    NotFound,
    /// An object of a vault does not exist (404).
    ObjectNotFound,
    /// The name is already taken in its scope (409).
    AlreadyExists,
    /// The vault object exists; restic objects are never overwritten (403, as rest-server).
    ObjectExists,
    /// The vault is append-only: deleting anything but locks is refused (403).
    AppendOnly,
    /// The uploaded bytes do not hash to the object's name (400).
    DigestMismatch,
    /// Seeding refused: the vault already holds a different repository (409).
    SeedConflict,
    /// Seeding refused: the container prefix holds no complete restic repository (422).
    NotARepository,
    /// The requested range lies outside the object (416).
    RangeNotSatisfiable,
    /// The request body is larger than the server takes for it (413).
    TooLarge,
    /// The object store failed (502).
    StorageFailed,
    /// An import/export job rule refused the request; `rule` names it (400, 403, 404, 409).
    JobRule,
    /// A delete refused: the vault, container or storage account still holds something (409).
    NotEmpty,
    /// A delete refused: something still uses it (a job that has not ended names the container,
    /// a seed runs from the folder) (409).
    InUse,
    /// A write refused: it would take the account over its storage quota; nothing written (413).
    QuotaExceeded,
    /// The metadata database failed, or another server-side fault (500).
    Internal,
}

/// The JSON body of an error response.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// `error` member of [`ErrorBody`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

// Accounts, storage, vaults, agents

/// Response of `GET /api/v1/import/service-key`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceKey {
    /// The public key file text (`seedship-x25519-public-1:<hex>`).
    pub public_key: String,
}

/// Body of every create request.
#[derive(Debug, Serialize, Deserialize)]
pub struct NameRequest {
    pub name: String,
}

/// Body of `POST /api/v1/vaults`.
#[derive(Debug, Serialize, Deserialize)]
pub struct VaultRequest {
    pub name: String,
    #[serde(default)]
    pub append_only: bool,
}

/// A newly issued principal: shown once, never again.
#[derive(Debug, Serialize, Deserialize)]
pub struct IssuedSecret {
    pub id: String,
    pub secret: String,
}

/// Response of `POST /api/v1/accounts` and `/operators`, and of rotating their secrets.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccountCreated {
    pub name: String,
    pub id: String,
    pub secret: String,
}

/// Response of `POST /api/v1/vaults` and an item of `GET /api/v1/vaults`.
#[derive(Debug, Serialize, Deserialize)]
pub struct VaultInfo {
    pub name: String,
    pub account: String,
    pub url: String,
    pub append_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<IssuedSecret>,
    /// How the vault's repository was seeded from an import; absent for a vault that was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeded: Option<VaultSeed>,
}

/// A vault's seeding as the server recorded it when the vault's first seed completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultSeed {
    /// The Completed import job whose folder the vault adopted.
    pub job: String,
    pub storage_account: String,
    pub container: String,
    /// The folder in the container.
    pub prefix: String,
    /// The repository id as the seeding client stated it (the server cannot read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_id: Option<String>,
    /// When the seed completed (RFC 3339, UTC).
    pub seeded_at: String,
}

/// Response of `POST /api/v1/agents` and of rotating an agent's secret.
#[derive(Debug, Serialize, Deserialize)]
pub struct AgentInfo {
    pub account: String,
    pub vault: String,
    pub url: String,
    pub id: String,
    pub secret: String,
}

/// Response of the list endpoints.
#[derive(Debug, Serialize, Deserialize)]
pub struct NameList {
    pub names: Vec<String>,
}

/// Response of `GET /api/v1/whoami`.
#[derive(Debug, Serialize, Deserialize)]
pub struct WhoAmI {
    pub kind: String,
    #[serde(default)]
    pub account: Option<String>,
}

/// Body of `PUT /api/v1/accounts/<account>/quota`: the account's storage quota in bytes
/// (`null`: none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuotaRequest {
    pub bytes: Option<u64>,
}

/// Response of `GET` and `PUT /api/v1/accounts/<account>/quota`: the quota and the bytes the
/// account's vaults, containers and held-back files use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountUsage {
    pub account: String,
    pub quota_bytes: Option<u64>,
    pub used_bytes: u64,
}

// Import/export jobs

/// Response of `DELETE /api/v1/jobs/{account}/{name}/blobs`: what was deleted from the job's
/// destination folder (as the custody entry `imported_deleted` records it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportedDeleted {
    pub prefix: String,
    pub blobs: u64,
    pub bytes: u64,
}

/// An action on an existing job, `POST /api/v1/jobs/{account}/{name}/actions`.
///
/// Exhaustive on purpose: the server matches every action, so a new one does not compile
/// until the server handles it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum JobAction {
    /// Owner: record shipping information (with `dry_run`, only review it).
    Ship {
        /// The shipping information.
        #[serde(flatten)]
        request: ShipRequest,
        /// Review only: check every rule and answer what would be recorded.
        #[serde(default)]
        dry_run: bool,
    },
    /// Owner: correct the shipping details (while Shipping) or the contact and return
    /// address (until the job ended).
    Update {
        /// What changes.
        #[serde(flatten)]
        update: JobUpdate,
    },
    /// Owner: cancel before any drive is received.
    Cancel,
    /// Operator: a drive arrived at the data centre.
    Receive { drive_id: String },
    /// Operator: a drive is not in the package (Specified -> NeverReceived), as the arrival
    /// deadline would mark it.
    NeverReceived { drive_id: String },
    /// Operator: the copy of a drive starts.
    StartTransfer { drive_id: String },
    /// Operator: bytes copied so far.
    Progress { drive_id: String, bytes_done: u64 },
    /// Operator: the copy ended with this copy log.
    FinishTransfer { drive_id: String, log: Box<DriveLog> },
    /// Owner or operator: these problems were repaired over the network.
    Repair { drive_id: String, fixed: Vec<Problem> },
    /// Operator: the drive was erased.
    Erase { drive_id: String, record: ErasureRecord },
    /// Operator: the drives went back to the customer.
    ShipBack { tracking_number: String },
}

impl JobAction {
    /// The action's name as the API spells it (`ship`, `start-transfer`, ...), for logs.
    pub fn name(&self) -> &'static str {
        match self {
            JobAction::Ship { .. } => "ship",
            JobAction::Update { .. } => "update",
            JobAction::Cancel => "cancel",
            JobAction::Receive { .. } => "receive",
            JobAction::NeverReceived { .. } => "never-received",
            JobAction::StartTransfer { .. } => "start-transfer",
            JobAction::Progress { .. } => "progress",
            JobAction::FinishTransfer { .. } => "finish-transfer",
            JobAction::Repair { .. } => "repair",
            JobAction::Erase { .. } => "erase",
            JobAction::ShipBack { .. } => "ship-back",
        }
    }
}

/// A job as the API returns it: the view model and the full document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobDetail {
    /// States, progress, deadline.
    pub summary: JobSummary,
    /// Where the drives go (the data centre's shipping address).
    pub data_centre: DataCentre,
    /// The whole job (drives, history, custody log).
    pub job: Job,
    /// For a dry-run ship: what would be recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ShippingInfo>,
}

/// One drive's logs, `GET /api/v1/jobs/{account}/{name}/logs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveLogs {
    /// The drive.
    pub drive_id: String,
    /// Every blob and range.
    pub copy_log: DriveLog,
    /// Only what went wrong.
    pub error_log: DriveLog,
}

/// The custody log and its verification, `GET /api/v1/jobs/{account}/{name}/custody`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustodyReport {
    /// The entries, oldest first.
    pub entries: Vec<CustodyEntry>,
    /// The chain head recorded beside the job.
    pub head: String,
    /// Whether the chain verifies against that head.
    pub verified: bool,
    /// The first broken entry, if it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Body of `POST /api/v1/admin/clock`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClockRequest {
    pub advance_seconds: i64,
}

/// Response of `POST /api/v1/admin/clock`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClockState {
    pub offset_seconds: i64,
    pub now: String,
}

// Blobs of a job's container

/// Header of a `HEAD ...?hash=blake3` answer: the blob's BLAKE3, hex.
pub const BLAKE3_HEADER: &str = "x-seedship-blake3";

/// Where the server placed a blob uploaded under a requested name with a disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobPlaced {
    /// The blob's name in the container: the requested one, or a numbered one (renamed).
    pub blob: String,
    /// What the disposition did: `Created`, `Renamed`, `Overwritten`, or `Skipped` (nothing
    /// written: no-overwrite and the name was taken).
    pub disposition: seedship_jobs::DispositionOutcome,
}

/// The answer to a batch upload: where each entry went, in the batch's order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchPlaced {
    pub blobs: Vec<BlobPlaced>,
}

/// The blobs of a job's container (names relative to it, sorted, with sizes).
#[derive(Debug, Serialize, Deserialize)]
pub struct BlobList {
    /// `{name, size}` of every blob.
    pub blobs: Vec<BlobListEntry>,
}

/// One blob of a [`BlobList`].
#[derive(Debug, Serialize, Deserialize)]
pub struct BlobListEntry {
    /// Name relative to the container.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// Query of a blob `PUT .../blobs/<path>`: the BLAKE3 the bytes must hash to (else nothing is
/// written), and the disposition when the name is taken (none: overwrite).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobPutQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<seedship_jobs::Disposition>,
}

/// Query of a batch `POST .../blobs`: the disposition of all its blobs (none: overwrite).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobBatchQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<seedship_jobs::Disposition>,
}

/// Query of a blob `HEAD`: `hash=blake3` asks for the blob's BLAKE3 in [`BLAKE3_HEADER`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobHeadQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// Query of a blob listing `GET .../blobs`: only the blobs under `prefix` (whole path
/// segments).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobListQuery {
    #[serde(default)]
    pub prefix: String,
}

/// Query of a damaged-file `PUT .../damaged/<path>`: the BLAKE3 the whole file must have once
/// repaired, the disposition when the requested name is taken (none: overwrite), the drive
/// whose logs list the file (only its problems are repaired), and the spans the body leaves
/// out (on drives not received), written as [`Spans`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DamagedQuery {
    pub blake3: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<seedship_jobs::Disposition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holes: Option<String>,
}

/// Query of a repair `POST .../repair/<blob>`: the ranges the body carries, written as
/// [`Spans`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairQuery {
    pub ranges: String,
}

/// Spans of a file, `offset:length` joined by commas: in increasing order, not overlapping, not
/// empty. The holes of a damaged file and the ranges of a repair are written so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans(pub Vec<(u64, u64)>);

/// Why a text is not [`Spans`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpansError {
    /// An item is not `offset:length` with two decimal numbers.
    #[error("each span is offset:length")]
    Malformed,
    /// A span is empty, out of order, overlaps the one before or ends past `u64::MAX`.
    #[error("spans must be non-empty, in order and not overlapping")]
    Disordered,
}

impl Spans {
    /// Where the last span ends (0 for none).
    #[must_use]
    pub fn end(&self) -> u64 {
        self.0.last().map_or(0, |&(offset, length)| offset + length)
    }
}

impl std::fmt::Display for Spans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (offset, length)) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { "," };
            write!(f, "{separator}{offset}:{length}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Spans {
    type Err = SpansError;

    fn from_str(text: &str) -> Result<Self, SpansError> {
        let mut spans = Vec::new();
        let mut end = 0;
        for item in text.split(',') {
            let (offset, length) = item
                .split_once(':')
                .and_then(|(o, l)| Some((o.parse::<u64>().ok()?, l.parse::<u64>().ok()?)))
                .ok_or(SpansError::Malformed)?;
            let span_end = offset.checked_add(length).ok_or(SpansError::Disordered)?;
            if length == 0 || offset < end {
                return Err(SpansError::Disordered);
            }
            end = span_end;
            spans.push((offset, length));
        }
        Ok(Self(spans))
    }
}

/// Query of `GET /api/v1/vaults/{vault}/export-preview`: the capacity of each blank drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPreviewQuery {
    pub drive_size: u64,
}

/// Who computed an [`ExportPreview`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewSource {
    /// The server, from the sizes of the vault's objects (a whole-vault export).
    Server,
    /// The owner's client, from the vault's index and the chosen snapshots' trees (it holds
    /// the repository password; the server does not).
    Client,
}

/// How much an export needs (Import/Export's PreviewExport): answer of
/// `GET /api/v1/vaults/{vault}/export-preview` and of `seedship job preview-export --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPreview {
    /// The vault.
    pub vault: String,
    /// The full ids of the snapshots exported; empty for a whole-vault export.
    #[serde(default)]
    pub snapshots: Vec<String>,
    /// Repository objects to copy.
    pub objects: u64,
    /// Their total size.
    pub bytes: u64,
    /// The capacity of each blank drive.
    pub drive_size: u64,
    /// Blank drives of `drive_size` bytes the export needs (the drive format's overheads
    /// counted, as `seedship plan` counts them).
    pub drives: u64,
    /// Who computed it.
    pub computed_by: PreviewSource,
}

/// A drive size that cannot hold even the drive format's reserve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a drive of {drive_size} bytes cannot hold even the drive format's reserve")]
pub struct DriveTooSmall {
    pub drive_size: u64,
}

impl ExportPreview {
    /// The preview of exporting `objects` of `vault` onto drives of `drive_size` bytes.
    ///
    /// # Errors
    /// [`DriveTooSmall`] when a drive of that size holds nothing.
    pub fn of(
        vault: &str,
        snapshots: Vec<String>,
        objects: &[ExportObject],
        drive_size: u64,
        computed_by: PreviewSource,
    ) -> Result<Self, DriveTooSmall> {
        let bytes = objects.iter().map(|object| object.size).sum();
        let count = objects.len() as u64;
        let drives =
            seedship_drive::drives_needed(bytes, count, drive_size).ok_or(DriveTooSmall { drive_size })?;
        Ok(Self {
            vault: vault.to_owned(),
            snapshots,
            objects: count,
            bytes,
            drive_size,
            drives,
            computed_by,
        })
    }
}

/// Query of `POST /api/v1/jobs`: `dry_run=true` checks every rule and records nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCreateQuery {
    #[serde(default)]
    pub dry_run: bool,
}

/// Query of `POST /api/v1/vaults/<vault>/seed`: seconds to wait for the seed to finish before
/// answering `202` with its progress (at most, and by default, 20).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
}

// Vault seeding

/// Body of `POST /api/v1/vaults/<vault>/seed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRequest {
    pub storage_account: String,
    pub container: String,
    /// Folder of the repository inside the container (empty: the container's root).
    #[serde(default)]
    pub prefix: String,
    /// The repository's id, as the client knows it from the repository it shipped; the
    /// server records it with the seed (it holds no key to read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_id: Option<String>,
}

/// What a seed did (the response of `POST /api/v1/vaults/<vault>/seed`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SeedReport {
    /// Objects of the repository, `config` included.
    pub objects: u64,
    /// Their total size.
    pub bytes: u64,
    /// Objects copied by this request.
    pub copied: u64,
    /// Objects already in the vault (an earlier, interrupted or completed seed).
    pub skipped: u64,
    /// Snapshots in the seeded repository.
    pub snapshots: u64,
}

/// A running seed's progress: the body of a `202` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedProgress {
    /// Objects of the repository found so far (all of them once listing is done).
    pub objects: u64,
    /// Their total size.
    pub bytes: u64,
    /// Objects copied or found already in the vault.
    pub objects_done: u64,
    /// Their total size.
    pub bytes_done: u64,
}

// Server

/// The body of `GET /api/v1/metrics`.
#[derive(Debug, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Request body bytes received by vault uploads (accepted or refused), lock files left out.
    pub vault_bytes_received: u64,
    /// Vault uploads stored.
    pub vault_objects_stored: u64,
}

// Uplink probe

/// The most bytes `POST /api/v1/uplink-probe` reads: a body declared or found longer is
/// refused (413 [`ErrorCode::TooLarge`]). The client stops sending at it, so on a fast link
/// (beyond 1 Gbit/s for 8 seconds) a probe ends early instead.
pub const UPLINK_PROBE_MAX_BYTES: u64 = 1 << 30;

/// The body of `POST /api/v1/uplink-probe`: what the server read of the upload (and threw away).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct UplinkProbe {
    /// Request body bytes the server read.
    pub bytes: u64,
    /// Seconds the server spent reading them, from its first look at the body to its end.
    pub seconds: f64,
}

// Webhooks

/// The header that carries an event delivery's signature: `t=<unix seconds>,v1=<hex>`, the
/// HMAC-SHA256 with the webhook's secret of `<t>.<body>` (see [`crate::webhook_signature`]).
pub const SIGNATURE_HEADER: &str = "X-Seedship-Signature";
/// The header that names a delivery's event type, e.g. `job.state_changed`.
pub const EVENT_HEADER: &str = "X-Seedship-Event";
/// The header that carries a delivery's id (the same on every attempt).
pub const DELIVERY_HEADER: &str = "X-Seedship-Delivery";

/// The body of `POST /api/v1/webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookRequest {
    /// Where events are POSTed: an `http` or `https` URL.
    pub url: String,
}

/// A webhook as `POST /api/v1/webhooks` and `GET /api/v1/webhooks` answer it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub id: String,
    pub url: String,
    /// RFC 3339.
    pub created_at: String,
    /// The signing secret: in the creation's answer only, never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not yet answered with 2xx; attempted again at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; not attempted again.
    Failed,
}

/// One event's delivery to one webhook, as `GET /api/v1/webhooks/deliveries` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: String,
    pub webhook_id: String,
    /// The event's `type`.
    pub event_type: String,
    /// The event as sent.
    pub event: serde_json::Value,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// The HTTP status of the last attempt, if the receiver answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed (the status, or the connection error).
    pub last_error: Option<String>,
    /// RFC 3339; while pending.
    pub next_attempt_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; once delivered.
    pub delivered_at: Option<String>,
}

/// An event as POSTed to a webhook (docs/http-api.md, "Webhook events").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// Unique per event (the same in every delivery and attempt of it).
    pub id: String,
    /// When it happened, RFC 3339 by the server's clock.
    pub at: String,
    /// The account whose job or vault it concerns.
    pub account: String,
    #[serde(flatten)]
    pub kind: WebhookEventKind,
}

/// What happened, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum WebhookEventKind {
    /// A job entered a state (`from` is absent when the job was created).
    #[serde(rename = "job.state_changed")]
    JobStateChanged {
        job: String,
        from: Option<JobState>,
        to: JobState,
    },
    /// A drive entered a state.
    #[serde(rename = "drive.state_changed")]
    DriveStateChanged {
        job: String,
        drive_id: String,
        from: DriveState,
        to: DriveState,
    },
    /// A drive's copy ended CompletedMoreInfo: its error log says what to look at.
    #[serde(rename = "drive.completed_more_info")]
    DriveCompletedMoreInfo {
        job: String,
        drive_id: String,
        error_log: ErrorLogLocation,
    },
    /// A deadline of the job passes at `due_at` unless the owner acts (records shipping).
    #[serde(rename = "job.deadline_approaching")]
    JobDeadlineApproaching {
        job: String,
        deadline: DeadlineKind,
        /// RFC 3339.
        due_at: String,
    },
    /// A deadline passed and the job was deleted (unshipped) or purged (ended long ago).
    #[serde(rename = "job.deleted")]
    JobDeleted { job: String, deadline: DeadlineKind },
    /// A vault seed completed: the vault holds the imported repository.
    #[serde(rename = "vault.seeded")]
    VaultSeeded {
        vault: String,
        job: String,
        storage_account: String,
        container: String,
        prefix: String,
    },
}

impl WebhookEventKind {
    /// The event's `type`, as in its JSON and the `X-Seedship-Event` header.
    pub fn name(&self) -> &'static str {
        match self {
            WebhookEventKind::JobStateChanged { .. } => "job.state_changed",
            WebhookEventKind::DriveStateChanged { .. } => "drive.state_changed",
            WebhookEventKind::DriveCompletedMoreInfo { .. } => "drive.completed_more_info",
            WebhookEventKind::JobDeadlineApproaching { .. } => "job.deadline_approaching",
            WebhookEventKind::JobDeleted { .. } => "job.deleted",
            WebhookEventKind::VaultSeeded { .. } => "vault.seeded",
        }
    }
}

/// Where a drive's error log is: the blob the import wrote into the job's destination
/// container, and the API and web addresses that serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorLogLocation {
    pub storage_account: String,
    pub container: String,
    /// `waimportexport/<job>_<drive>_<time>_error.json`.
    pub blob: String,
    /// `GET` with the owner's credentials: every drive's copy and error logs.
    pub api_url: String,
    /// The error log on the jobs web page.
    pub web_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_tagged_by_the_name_it_is_sent_under() {
        let kind = WebhookEventKind::JobDeleted {
            job: "seed-one".to_owned(),
            deadline: DeadlineKind::DeleteUnshipped,
        };
        let event = WebhookEvent {
            id: "evt-1".to_owned(),
            at: "2026-12-07T00:00:00Z".to_owned(),
            account: "acme".to_owned(),
            kind: kind.clone(),
        };
        let json = serde_json::to_value(&event).expect("serialize");
        assert_eq!(json["type"], kind.name(), "{json}");
        assert_eq!(json["deadline"], "DeleteUnshipped", "{json}");
        let back: WebhookEvent = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, event);
    }

    #[test]
    fn a_job_action_is_tagged_by_the_name_it_logs_under() {
        let drive_id = "WD-1".to_owned();
        for action in [
            JobAction::Cancel,
            JobAction::Receive {
                drive_id: drive_id.clone(),
            },
            JobAction::StartTransfer {
                drive_id: drive_id.clone(),
            },
            JobAction::Progress {
                drive_id,
                bytes_done: 7,
            },
            JobAction::ShipBack {
                tracking_number: "1Z999".to_owned(),
            },
        ] {
            let json = serde_json::to_value(&action).expect("serialize");
            assert_eq!(json["action"], action.name(), "{json}");
        }
    }

    #[test]
    fn an_error_body_without_a_rule_leaves_it_out() {
        let body = ErrorBody {
            error: ErrorDetail {
                code: ErrorCode::NotFound,
                message: "vault v not found".to_owned(),
                rule: None,
            },
        };
        assert_eq!(
            serde_json::to_string(&body).expect("serialize"),
            r#"{"error":{"code":"NotFound","message":"vault v not found"}}"#
        );
    }

    proptest::proptest! {
        /// Spans in order round-trip through their text; the text is what the server parses.
        #[test]
        fn spans_round_trip(gaps_and_lengths in proptest::collection::vec((0u64..1 << 40, 1u64..1 << 40), 1..20)) {
            let mut spans = Vec::new();
            let mut end = 0;
            for (gap, length) in gaps_and_lengths {
                spans.push((end + gap, length));
                end += gap + length;
            }
            let text = Spans(spans.clone()).to_string();
            proptest::prop_assert_eq!(text.parse::<Spans>(), Ok(Spans(spans)));
        }
    }

    #[test]
    fn spans_out_of_order_overlapping_empty_or_malformed_are_refused() {
        for (text, error) in [
            ("10:5,0:5", SpansError::Disordered),
            ("0:10,5:5", SpansError::Disordered),
            ("0:0", SpansError::Disordered),
            ("18446744073709551615:2", SpansError::Disordered),
            ("", SpansError::Malformed),
            ("5", SpansError::Malformed),
            ("1:2,", SpansError::Malformed),
            ("-1:2", SpansError::Malformed),
        ] {
            assert_eq!(text.parse::<Spans>(), Err(error), "{text:?}");
        }
        assert_eq!("0:5,5:5".parse::<Spans>().map(|s| s.end()), Ok(10));
    }

    #[test]
    fn query_strings_encode_names_that_need_escaping() {
        let query = DamagedQuery {
            blake3: "ab".to_owned(),
            disposition: Some(seedship_jobs::Disposition::NoOverwrite),
            drive: Some("d&x=1".to_owned()),
            holes: Some(Spans(vec![(0, 4), (8, 4)]).to_string()),
        };
        let text = serde_urlencoded::to_string(&query).expect("encode");
        assert_eq!(
            text,
            "blake3=ab&disposition=no-overwrite&drive=d%26x%3D1&holes=0%3A4%2C8%3A4"
        );
        assert_eq!(serde_urlencoded::from_str::<DamagedQuery>(&text), Ok(query));
    }
}
