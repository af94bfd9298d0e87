//! The seedship server: accounts (tenants), their storage accounts and containers, and vaults
//! that speak restic's REST backend protocol (version 2).
//!
//! [`serve`] runs the HTTP server described in `docs/http-api.md`. With nothing but a data
//! directory it keeps metadata in SQLite (`<data-dir>/metadata.db`) and objects in a local
//! directory (`<data-dir>/objects`); a [`ServerConfig`] file selects PostgreSQL and Azure Blob or
//! S3 instead, and several processes sharing one database and one store serve the same vaults.
//!
//! On first start the server creates the admin credential and writes it to
//! `<data-dir>/admin-credentials` (mode 0600); only its SHA-256 digest is kept in the database.
//! Every other credential ([`Credentials`]) is issued through the API: accounts by the admin,
//! vault registration credentials by account owners, agent credentials by registration.
//!
//! [`Client`] is the blocking client the `seedship` command uses for the management API.

mod api;
mod auth;
mod client;
mod config;
mod credentials;
mod db;
mod error;
mod extract;
mod import;
mod jobs;
mod listen;
mod names;
mod secret;
mod seed;
mod server;
mod throttle;
mod tls;
mod upload;
mod vault;
mod web;

pub use client::{
    AgentRegistered, Client, ClientError, CreatedAccount, HeldBack, Listed, Metrics, SeedProgress, Seeded,
    VaultCreated,
};
pub use config::{
    ConfigError, ConnectionLimits, MetadataConfig, ServerConfig, ServerOptions, TlsMode, default_data_centre,
};
pub use credentials::{Credentials, CredentialsError, PendingCredentials};
pub use error::{ApiError, ErrorCode};
pub use jobs::{CustodyReport, DriveLogs, JobAction, JobDetail};
pub use server::{Ready, ServeError, serve};
pub use tls::TlsError;
pub use upload::{BodyWriter, UploadBody};
