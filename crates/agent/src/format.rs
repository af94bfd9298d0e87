//! The agent's files, as stored: `policy.toml` (beside `agent.toml`), and in a staging
//! location's job directory `job.toml`, `seeded.toml` and `shipping.json`. Plain serde types;
//! what they mean and when they are written is in the other modules.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The stored policy (`policy.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub paths: Vec<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// restic exclude patterns every backup of the policy applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline: Option<Offline>,
    /// Under an offline policy, back up nothing while the import job is not Completed (exit
    /// 22, Azure's behaviour); by default each run backs up into the staged repository and
    /// the vault catches up after seeding.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait_for_import: bool,
}

/// The offline part of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offline {
    pub staging: PathBuf,
    pub job: String,
    pub storage_account: String,
    pub container: String,
}

/// `job.toml`: what the initial backup staged for which import job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StagedJob {
    /// Import job name.
    pub job: String,
    /// The account owning the job and the vault.
    pub account: String,
    /// Storage account of the import container.
    pub storage_account: String,
    /// The import container.
    pub container: String,
    /// Folder of the repository in the container (the drives' destination prefix).
    pub prefix: String,
    /// The staged repository's id (the vault keeps it).
    pub repository_id: String,
    /// The initial snapshot.
    pub snapshot_id: String,
    /// The policy's backup paths (no drive may overlap them); empty in a `job.toml` written
    /// before they were recorded.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
}

/// `seeded.toml`: the vault seeding that ended the offline phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeededRecord {
    pub vault: String,
    pub repository_id: String,
    #[serde(flatten)]
    pub report: seedship_api::Seeded,
    /// What the staged repository gained after the drives were prepared, uploaded to the
    /// vault after seeding (the catch-up); empty in a `seeded.toml` written before catch-ups.
    #[serde(default)]
    pub caught_up: seedship_repo::CopiedFiles,
}

/// `shipping.json`: the shipment of the staged job's drives, as the server recorded it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShippingRecord {
    pub account: String,
    pub job: String,
    pub shipping: seedship_jobs::ShippingInfo,
}
