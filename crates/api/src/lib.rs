//! The seedship HTTP protocol: the wire types of the server's API (requests, responses, the
//! error body and its [`ErrorCode`]s, headers), the blocking [`Client`] the `seedship` command
//! uses, the [`Credentials`] files that name a server and a principal, the streamed
//! [`UploadBody`] of drive uploads, and the uplink probe's body ([`Client::probe_uplink`]).
//!
//! The server (`seedship-server`) answers with these types; nothing here depends on it, so an
//! agent or an operator's tool talks to a server without linking one.

mod client;
mod credentials;
mod download;
mod message;
mod probe;
mod signature;
mod upload;
mod wire;

pub use client::{Client, ClientError, HeldBack, Metrics, Seeded, UplinkMeasurement};
pub use credentials::{Credentials, CredentialsError, PendingCredentials, write_private};
pub use download::Download;
pub use message::error_chain;
pub use signature::webhook_signature;
pub use upload::{BodyWriter, UploadBody};
pub use wire::{
    AccountCreated, AccountUsage, AgentInfo, BLAKE3_HEADER, BatchPlaced, BlobBatchQuery, BlobHeadQuery,
    BlobList, BlobListEntry, BlobListQuery, BlobPlaced, BlobPutQuery, ClockRequest, ClockState,
    CustodyReport, DELIVERY_HEADER, DamagedQuery, DeliveryState, DriveLogs, DriveTooSmall, EVENT_HEADER,
    ErrorBody, ErrorCode, ErrorDetail, ErrorLogLocation, ExportPreview, ExportPreviewQuery, ImportedDeleted,
    IssuedSecret, JobAction, JobCreateQuery, JobDetail, MetricsSnapshot, NameList, NameRequest,
    PreviewSource, QuotaRequest, RepairQuery, SIGNATURE_HEADER, SeedProgress, SeedQuery, SeedReport,
    SeedRequest, ServiceKey, Spans, SpansError, UPLINK_PROBE_MAX_BYTES, UplinkProbe, VaultInfo, VaultRequest,
    VaultSeed, WebhookDelivery, WebhookEvent, WebhookEventKind, WebhookInfo, WebhookRequest, WhoAmI,
};
