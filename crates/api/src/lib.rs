//! The seedship HTTP protocol: the wire types of the server's API (requests, responses, the
//! error body and its [`ErrorCode`]s, headers), the blocking [`Client`] the `seedship` command
//! uses, the [`Credentials`] files that name a server and a principal, and the streamed
//! [`UploadBody`] of drive uploads.
//!
//! The server (`seedship-server`) answers with these types; nothing here depends on it, so an
//! agent or an operator's tool talks to a server without linking one.

mod client;
mod credentials;
mod message;
mod upload;
mod wire;

pub use client::{
    AgentRegistered, Client, ClientError, CreatedAccount, HeldBack, Listed, Metrics, Seeded, VaultCreated,
};
pub use credentials::{Credentials, CredentialsError, PendingCredentials, write_private};
pub use message::error_chain;
pub use upload::{BodyWriter, UploadBody};
pub use wire::{
    AccountCreated, AccountUsage, AgentInfo, BLAKE3_HEADER, BatchPlaced, BlobList, BlobListEntry, BlobPlaced,
    ClockRequest, ClockState, CustodyReport, DriveLogs, ErrorBody, ErrorCode, ErrorDetail, ImportedDeleted,
    IssuedSecret, JobAction, JobDetail, MetricsSnapshot, NameList, NameRequest, QuotaRequest, SeedProgress,
    SeedReport, SeedRequest, ServiceKey, VaultInfo, VaultRequest, WhoAmI,
};
