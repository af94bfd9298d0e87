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
//! Every other credential (`seedship_api::Credentials`) is issued through the API: accounts by
//! the admin, vault registration credentials by account owners, agent credentials by
//! registration.
//!
//! The protocol itself (wire types, error codes, the blocking client, credentials files) is the
//! `seedship-api` crate; this crate only answers it. Its modules form no cycle: `state` (what
//! every handler shares) is at the bottom, `routes` merges the handler modules' routers, and
//! `server` starts it all (checked by the `module_graph` test).

mod api;
mod auth;
mod config;
mod db;
mod error;
mod export;
mod extract;
mod import;
mod jobs;
mod lifecycle;
mod listen;
#[cfg(test)]
mod module_graph;
mod names;
mod prometheus;
mod quota;
mod routes;
mod secret;
mod seed;
mod seeds;
mod server;
mod staging;
mod state;
mod throttle;
mod tls;
mod uplink;
mod vault;
mod web;
mod webhooks;

pub use config::{
    ConfigError, ConnectionLimits, MetadataConfig, ServerConfig, ServerOptions, TlsMode, default_data_centre,
};
pub use error::ApiError;
pub use server::{Ready, ServeError, serve};
pub use tls::TlsError;
