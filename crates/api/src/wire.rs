//! The HTTP API's wire types: every request and response body the server and its clients
//! exchange, the error body and its stable codes, and the API's own headers. Format only: no
//! logic beyond naming (`docs/http-api.md` is the reference).

use seedship_jobs::{
    CustodyEntry, DataCentre, DriveLog, ErasureRecord, Job, JobSummary, JobUpdate, Problem, ShipRequest,
    ShippingInfo,
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

// Vault seeding

/// Body of `POST /api/v1/vaults/<vault>/seed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRequest {
    pub storage_account: String,
    pub container: String,
    /// Folder of the repository inside the container (empty: the container's root).
    #[serde(default)]
    pub prefix: String,
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
    /// Request body bytes received by vault uploads (accepted or refused).
    pub vault_bytes_received: u64,
    /// Vault uploads stored.
    pub vault_objects_stored: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
