//! What can go wrong in the agent's workflow.

use std::path::PathBuf;

/// An error of the agent's workflow. The messages are the ones `seedship` prints; the causes
/// (I/O, parse, client and repository errors) stay reachable as sources, so a caller can tell
/// an unreachable server or a wrong password from the rest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration directory holds no registered agent.
    #[error("no agent configuration at {}: run `seedship agent register` first", .path.display())]
    NotRegistered { path: PathBuf },
    /// No policy was set.
    #[error("no policy at {}: set one with `seedship policy set`", .path.display())]
    NoPolicy { path: PathBuf },
    /// A file could not be read.
    #[error("reading {what}{}", .path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file could not be parsed.
    #[error("parsing {what}{}", .path.display())]
    Parse {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A file could not be encoded.
    #[error("encoding {what}")]
    Encode {
        what: &'static str,
        #[source]
        source: toml::ser::Error,
    },
    /// A JSON file could not be encoded.
    #[error("encoding shipping.json")]
    Json {
        #[source]
        source: serde_json::Error,
    },
    /// A file could not be written (atomically, durably).
    #[error("writing {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory could not be created or listed, a path not resolved.
    #[error("{what} {}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An import job name the import service would refuse.
    #[error("import job name {name:?}")]
    JobName {
        name: String,
        #[source]
        source: seedship_jobs::JobNameError,
    },
    /// A schedule that is no cron expression.
    #[error("--schedule {schedule:?} is not a cron expression")]
    Schedule {
        schedule: String,
        #[source]
        source: croner::errors::CronError,
    },
    /// A policy change would abandon a staged or shipped initial backup, and that was not
    /// allowed.
    #[error(
        "this change of the offline settings abandons {abandoned}: it would never seed the \
         vault; nothing changed. To go on regardless, pass --abandon-offline-backup"
    )]
    WouldAbandon { abandoned: String },
    /// The import container does not exist.
    #[error(
        "import container {storage_account}/{container} does not exist: create it \
         (`seedship container create {container} --storage-account {storage_account}`) first"
    )]
    NoContainer {
        storage_account: String,
        container: String,
    },
    /// The staging location of an offline policy does not exist (a disk or share not
    /// mounted?) and the vault was not seeded from its import: it is never created again by a
    /// backup, which would silently start a new initial backup on the local disk.
    #[error(
        "staging location {} does not exist (a disk or share not mounted?): mount it and run \
         again; nothing was backed up",
        .path.display()
    )]
    StagingMissing { path: PathBuf },
    /// `staging clean` before the staging location may go: the vault is not seeded from it
    /// (and verified) yet.
    #[error("{} is still needed: {reason}; nothing removed", .dir.display())]
    StagingNeeded { dir: PathBuf, reason: String },
    /// The policy has no offline settings, so no staging location.
    #[error("the policy in {} has no offline settings: there is no staging location", .path.display())]
    NotOffline { path: PathBuf },
    /// The staging directory has too little room for the initial backup.
    #[error(
        "staging directory {} has {free} bytes free; the initial backup needs up to {needed}",
        .staging.display()
    )]
    StagingFull {
        staging: PathBuf,
        free: u64,
        needed: u64,
    },
    /// `agent.toml` holds credentials of another kind.
    #[error("{} holds {kind} credentials, not an agent's", .path.display())]
    NotAnAgent { path: PathBuf, kind: &'static str },
    /// `agent.toml` holds a vault URL without a scheme.
    #[error("vault URL {url} in {}", .path.display())]
    VaultUrl { url: String, path: PathBuf },
    /// The policy's stored exclude patterns are refused.
    #[error("the policy in {}", .dir.display())]
    PolicyExcludes {
        dir: PathBuf,
        #[source]
        source: seedship_repo::Error,
    },
    /// The server could not be asked about the import job.
    #[error("{doing} import job {job}")]
    Job {
        doing: &'static str,
        job: String,
        #[source]
        source: seedship_api::ClientError,
    },
    /// The server could not be asked how the agent's vault was seeded.
    #[error("asking the server how vault {vault} was seeded")]
    Vault {
        vault: String,
        #[source]
        source: seedship_api::ClientError,
    },
    /// The import destination could not be checked.
    #[error("checking the import destination: storage account {storage_account}")]
    Destination {
        storage_account: String,
        #[source]
        source: seedship_api::ClientError,
    },
    /// The vault could not be seeded from the import.
    #[error("seeding vault {what}")]
    Seed {
        /// The vault, and the container and folder it was seeded from.
        what: String,
        #[source]
        source: seedship_api::ClientError,
    },
    /// The seeded vault could not catch up with the staged repository.
    #[error("uploading to vault {vault} what the staged repository gained after the drives were prepared")]
    CatchUp {
        vault: String,
        #[source]
        source: seedship_repo::Error,
    },
    /// The seeded vault is not the staged repository.
    #[error("vault {vault} holds repository {found}, not the staged repository {staged} of import job {job}")]
    WrongVault {
        vault: String,
        found: String,
        staged: String,
        job: String,
    },
    /// A drive overlaps a protected path.
    #[error(
        "drive {} overlaps {what} {}: formatting it would erase it; choose another directory",
        .drive.display(), .path.display()
    )]
    Overlap {
        drive: PathBuf,
        what: &'static str,
        path: PathBuf,
    },
    /// A drive lies in a seedship server's data directory.
    #[error(
        "drive {} lies in a seedship server's data directory {}: it is never used as a drive",
        .drive.display(), .data.display()
    )]
    InServerDataDir { drive: PathBuf, data: PathBuf },
    /// A seedship server's data directory is inside a drive.
    #[error(
        "{} is a seedship server's data directory (it holds {file}): it is never erased with a drive",
        .dir.display()
    )]
    ServerDataDir { dir: PathBuf, file: &'static str },
    /// A drive's marker could not be read.
    #[error("drive {}", .drive.display())]
    Drive {
        drive: PathBuf,
        #[source]
        source: seedship_drive::Error,
    },
    /// A drive's journal could not be read.
    #[error("journal {}", .journal.display())]
    Journal {
        journal: PathBuf,
        #[source]
        source: seedship_drive::Error,
    },
    /// The staged repository could not be cleaned of interrupted backups' files.
    #[error("cleaning the staged repository {}", .repository.display())]
    Sweep {
        repository: PathBuf,
        #[source]
        source: seedship_repo::Error,
    },
    /// A backup is still writing the staged repository.
    #[error("process {pid} is still writing the staged repository ({}): let it finish first", .file.display())]
    StagedInUse { pid: u32, file: PathBuf },
    /// A policy backup holds the staged repository's lock (it is writing into it).
    #[error("a backup is writing the staged repository {}: let it finish first; nothing written", .repository.display())]
    StagedLocked { repository: PathBuf },
    /// The copy onto the drives could not be planned.
    #[error("checking the drives; nothing written")]
    Plan {
        #[source]
        source: seedship_drive::Error,
    },
    /// The copy onto the drives stopped.
    #[error("copying; resume with `seedship drive resume`")]
    Copy {
        #[source]
        source: seedship_drive::Error,
    },
    /// The uplink to the agent's vault server could not be measured.
    #[error("measuring the uplink to {server}")]
    Uplink {
        server: String,
        #[source]
        source: seedship_api::ClientError,
    },
    /// The uplink probe ended without a rate (the server read nothing, or answered at once).
    #[error(
        "measuring the uplink to {server}: the server read {bytes} bytes in {seconds} s, no rate to go by"
    )]
    UplinkUnmeasured {
        server: String,
        bytes: u64,
        seconds: f64,
    },
    /// Credentials files (`agent.toml`).
    #[error(transparent)]
    Credentials(#[from] seedship_api::CredentialsError),
    /// The API client, where no more context is known.
    #[error(transparent)]
    Client(#[from] seedship_api::ClientError),
    /// The repository library, where no more context is known.
    #[error(transparent)]
    Repo(#[from] seedship_repo::Error),
}

/// A result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
