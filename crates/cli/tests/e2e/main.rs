//! The end-to-end tests of the `seedship` binary, in one test binary (linking the whole
//! program once, not once per file): each module starts the real binary, and where it needs
//! one, a real server on loopback, real restic, PostgreSQL, Azurite and moto. The shared
//! set-up lives in the `*_support` modules.

mod agent_support;
mod offline_support;
mod pty_support;
mod server_support;

mod agent;
mod backup_gap;
mod completions;
mod diskprep_pty;
mod drive;
mod drive_mount;
mod export_jobs;
mod export_write;
mod from_drive;
mod import_jobs;
mod import_receive;
mod lifecycle;
mod offline_flow;
mod plan;
mod policy;
mod prometheus;
mod restore;
mod retention;
mod seed_vault;
mod server_access;
mod server_agent;
mod server_concurrency;
mod server_postgres;
mod server_restic;
mod server_tls;
mod staging;
mod web_page;
mod web_page_actions;
mod webhooks;
