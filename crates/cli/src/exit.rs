//! The one place where errors become exit codes. The table is documented in `docs/cli.md`;
//! codes are stable once released.

use std::process::ExitCode;

/// Success.
pub const OK: u8 = 0;
/// Any failure not listed below.
pub const FAILURE: u8 = 1;
/// Command-line usage error (clap exits with this code itself).
pub const USAGE: u8 = 2;
/// The command finished, but some source files could not be read.
pub const PARTIAL: u8 = 3;
/// The repository (or staging location) does not exist.
pub const REPO_NOT_FOUND: u8 = 10;
/// The repository is locked by another process.
pub const LOCKED: u8 = 11;
/// Wrong password or key.
pub const WRONG_KEY: u8 = 12;
/// The server refused the credentials (HTTP 401 or 403).
pub const ACCESS_DENIED: u8 = 13;
/// The name is already taken on the server.
pub const ALREADY_EXISTS: u8 = 14;
/// The server could not be reached.
pub const SERVER_UNREACHABLE: u8 = 15;
/// A drive failed verification (changed, truncated or missing data).
pub const VERIFY_FAILED: u8 = 20;
/// An import finished, but some drives ended CompletedMoreInfo (see the job's error logs).
pub const IMPORT_INCOMPLETE: u8 = 21;
/// An offline backup is waiting for its import job to complete; nothing was changed.
pub const WAITING_FOR_IMPORT: u8 = 22;
/// An offline backup's import job was cancelled: its drives will never seed the vault.
pub const IMPORT_CANCELLED: u8 = 23;
/// `staging clean` refused: the vault is not seeded from the staging location yet.
pub const STAGING_NEEDED: u8 = 24;
/// A delete was refused: the vault, container or storage account is not empty, or something
/// still uses it (a job that has not ended, a running seed).
pub const NOT_EMPTY: u8 = 25;
/// A write was refused: it would take the account over its storage quota.
pub const QUOTA_EXCEEDED: u8 = 26;
/// An export names an owner key file that is not a `seedship keygen` public key.
pub const OWNER_KEY_INVALID: u8 = 27;
/// An export's selection was refused: a snapshot filter that is not a snapshot id (8 to 64
/// lowercase hex digits) or `latest`, or matches no snapshot, or an object the vault lacks.
pub const EXPORT_SELECTION_INVALID: u8 = 28;
/// A restore from drives met damaged ranges on the drives: it names them and the files they
/// left incomplete, and restored everything else (or, for damaged repository metadata,
/// nothing).
pub const DRIVES_DAMAGED: u8 = 29;
/// The drives given to a restore are not one whole drive set carrying a repository (another
/// set mixed in, a drive missing or given twice, no marker or no drive key on a drive).
pub const NOT_ONE_SET: u8 = 30;
/// `export write` refused a drive: not a drive of the job (an id it lacks, or another
/// drive's marker on it: a drive of another export), given twice, or past writing; or an
/// interrupted write whose drives are not all given with their journals.
pub const EXPORT_DRIVE_REFUSED: u8 = 31;
/// Interrupted by Ctrl-C / SIGINT.
pub const INTERRUPTED: u8 = 130;

/// Every code with its meaning, for `seedship exit-codes` and the docs.
pub const TABLE: &[(u8, &str)] = &[
    (OK, "success"),
    (FAILURE, "failure"),
    (USAGE, "command-line usage error"),
    (PARTIAL, "finished, but some source files could not be read"),
    (REPO_NOT_FOUND, "repository or staging location not found"),
    (LOCKED, "repository locked by another process"),
    (WRONG_KEY, "wrong password or key"),
    (ACCESS_DENIED, "server refused the credentials"),
    (ALREADY_EXISTS, "name already taken on the server"),
    (SERVER_UNREACHABLE, "server unreachable"),
    (VERIFY_FAILED, "drive verification failed"),
    (IMPORT_INCOMPLETE, "import finished with errors in some drives"),
    (
        WAITING_FOR_IMPORT,
        "offline backup waiting for its import job; nothing changed",
    ),
    (
        IMPORT_CANCELLED,
        "offline backup's import job was cancelled; nothing changed",
    ),
    (
        STAGING_NEEDED,
        "staging location still needed (vault not seeded from it yet); nothing removed",
    ),
    (
        NOT_EMPTY,
        "delete refused: not empty, or still in use (a job that has not ended, a running seed)",
    ),
    (
        QUOTA_EXCEEDED,
        "the account's storage quota is used up; nothing written",
    ),
    (
        OWNER_KEY_INVALID,
        "the owner key file is not a seedship keygen public key (.pub)",
    ),
    (
        EXPORT_SELECTION_INVALID,
        "export selection refused: not a snapshot id, no such snapshot, or an object the vault lacks",
    ),
    (
        DRIVES_DAMAGED,
        "restore from drives: damaged ranges on the drives (named); everything else restored",
    ),
    (
        NOT_ONE_SET,
        "restore from drives: the drives are not one whole drive set carrying a repository",
    ),
    (
        EXPORT_DRIVE_REFUSED,
        "export write: a drive that is not a blank drive of the job (another export's, given twice, past writing), or an interrupted write without all its drives and journals",
    ),
    (INTERRUPTED, "interrupted"),
];

/// An error that carries its own exit code, for failures the binary itself detects.
#[derive(Debug)]
pub struct Coded {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// An outcome the command already reported on stdout that still ends with a non-zero code
/// (e.g. `waiting for import job NAME (Shipping)`); nothing more is printed.
#[derive(Debug)]
pub struct Reported {
    pub code: u8,
    pub what: String,
}

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Reported {}

/// A usage error found after parsing: a value the command needs is missing and there is no
/// terminal to ask for it (`message` names the flag).
pub fn usage(message: String) -> anyhow::Error {
    Coded { code: USAGE, message }.into()
}

/// Something the command needs on this machine (a staging location, a staged backup) is not
/// there; `message` names it.
pub fn not_found(message: String) -> anyhow::Error {
    Coded {
        code: REPO_NOT_FOUND,
        message,
    }
    .into()
}

/// Classifies an error by the first cause in its chain that has a known code.
pub fn code_of(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(coded) = cause.downcast_ref::<Coded>() {
            return coded.code;
        }
        if let Some(err) = cause.downcast_ref::<seedship_agent::Error>() {
            // The agent passes some causes on as they are (its message is theirs).
            match err {
                seedship_agent::Error::WouldAbandon { .. } => return USAGE,
                seedship_agent::Error::StagingMissing { .. } => return REPO_NOT_FOUND,
                seedship_agent::Error::StagingNeeded { .. } => return STAGING_NEEDED,
                seedship_agent::Error::Repo(err) => return repo_code(err),
                seedship_agent::Error::Client(err) => return client_code(err),
                _ => {}
            }
        }
        if let Some(err) = cause.downcast_ref::<seedship_repo::Error>() {
            return repo_code(err);
        }
        if let Some(err) = cause.downcast_ref::<seedship_export::Error>() {
            use seedship_export::Error as E;
            match err {
                E::Write(err) | E::Drive { source: err, .. } => return drive_code(err),
                E::Server { source, .. } => return client_code(source),
                E::UnknownDrive { .. }
                | E::DriveTwice { .. }
                | E::ForeignDrive { .. }
                | E::NotWritable { .. }
                | E::NotAnExport { .. }
                | E::JournalsMissing { .. } => return EXPORT_DRIVE_REFUSED,
                _ => {}
            }
        }
        if let Some(err) = cause.downcast_ref::<seedship_drive::Error>() {
            return drive_code(err);
        }
        if let Some(client) = cause.downcast_ref::<seedship_api::ClientError>() {
            return client_code(client);
        }
    }
    FAILURE
}

/// The exit code of a drive error.
fn drive_code(err: &seedship_drive::Error) -> u8 {
    use seedship_drive::Error;
    match err {
        Error::WrongKey | Error::KeyNotForIdentity { .. } => WRONG_KEY,
        Error::SourceMissing { .. } => REPO_NOT_FOUND,
        Error::DriveMismatch { .. } => VERIFY_FAILED,
        Error::Damaged { .. } => DRIVES_DAMAGED,
        Error::NotOneSet { .. } | Error::NoMarker { .. } | Error::NoDriveKey { .. } => NOT_ONE_SET,
        _ => FAILURE,
    }
}

/// The exit code of a repository error.
fn repo_code(err: &seedship_repo::Error) -> u8 {
    match err {
        seedship_repo::Error::RepoNotFound { .. } => REPO_NOT_FOUND,
        seedship_repo::Error::WrongPassword { .. } => WRONG_KEY,
        seedship_repo::Error::AccessDenied { .. } => ACCESS_DENIED,
        seedship_repo::Error::QuotaExceeded { .. } => QUOTA_EXCEEDED,
        seedship_repo::Error::Unreachable { .. } => SERVER_UNREACHABLE,
        seedship_repo::Error::BadLocation { .. } => USAGE,
        seedship_repo::Error::BadExclude { .. } => USAGE,
        seedship_repo::Error::BadDuration { .. } => USAGE,
        seedship_repo::Error::Locked { .. } => LOCKED,
        seedship_repo::Error::DeleteRefused { .. } => ACCESS_DENIED,
        seedship_repo::Error::Drive(err) => drive_code(err),
        seedship_repo::Error::DamagedOnDrives { .. } => DRIVES_DAMAGED,
        seedship_repo::Error::NotARepositoryOnDrives { .. } => NOT_ONE_SET,
        _ => FAILURE,
    }
}

/// The exit code of an API client error.
fn client_code(client: &seedship_api::ClientError) -> u8 {
    use seedship_api::{ClientError, ErrorCode};
    match client {
        // By the server's code, not the HTTP status alone: a job rule may answer 403
        // or 409 too (shipping a job twice is not a name already taken).
        ClientError::Api {
            code: Some(ErrorCode::Unauthenticated | ErrorCode::Forbidden),
            ..
        }
        | ClientError::Api {
            code: None,
            status: 401 | 403,
            ..
        } => ACCESS_DENIED,
        // A job rule that refuses these credentials this action (an owner receiving
        // a drive) is a refusal of the credentials too.
        ClientError::Api { rule: Some(rule), .. } if rule == "NotPermitted" => ACCESS_DENIED,
        ClientError::Api { rule: Some(rule), .. } if rule == "OwnerKeyInvalid" => OWNER_KEY_INVALID,
        ClientError::Api { rule: Some(rule), .. }
            if ["SnapshotRefInvalid", "ExportObjectMissing", "ExportObjectSize"].contains(&rule.as_str()) =>
        {
            EXPORT_SELECTION_INVALID
        }
        ClientError::Api {
            code: Some(ErrorCode::AlreadyExists),
            ..
        } => ALREADY_EXISTS,
        ClientError::Api {
            code: Some(ErrorCode::NotEmpty | ErrorCode::InUse),
            ..
        } => NOT_EMPTY,
        ClientError::Api {
            code: Some(ErrorCode::QuotaExceeded),
            ..
        } => QUOTA_EXCEEDED,
        ClientError::Transport { .. } => SERVER_UNREACHABLE,
        _ => FAILURE,
    }
}

/// Prints `err` on stderr (one line, or a JSON `exit_error` object) and returns its exit code.
pub fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    if let Some(reported) = err.downcast_ref::<Reported>() {
        return ExitCode::from(reported.code);
    }
    let code = code_of(err);
    let message = format!("{err:#}");
    if json {
        let doc = serde_json::json!({
            "message_type": "exit_error",
            "code": code,
            "message": message,
        });
        eprintln!("{doc}");
    } else {
        eprintln!("seedship: error: {message}");
    }
    ExitCode::from(code)
}
