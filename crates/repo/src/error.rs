//! The error type of this crate: semantic variants the binary maps to exit codes.

use std::path::PathBuf;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No repository exists at the location.
    #[error("repository {location} not found")]
    RepoNotFound { location: String },
    /// The password opens none of the repository's keys.
    #[error("wrong password for repository {location}")]
    WrongPassword { location: String },
    /// A `rest:` server refused the credentials in the URL (HTTP 401 or 403).
    #[error(
        "the server refused the credentials for repository {location} (HTTP {status}): check the \
         user and secret in the rest: URL"
    )]
    AccessDenied { location: String, status: u16 },
    /// A `rest:` server refused an upload as too large (HTTP 413): for a seedship vault, the
    /// account's storage quota is used up.
    #[error(
        "the server of repository {location} refused an upload (HTTP 413): the account's storage \
         quota is used up (or the object is larger than the server takes); what was stored \
         before stays consistent, and no snapshot was saved"
    )]
    QuotaExceeded { location: String },
    /// A `rest:` server could not be reached, after retries.
    #[error("server of repository {location} unreachable: {message}")]
    Unreachable { location: String, message: String },
    /// The location cannot be a repository (for example a URL without the `rest:` prefix).
    #[error("repository location {location}: {reason}")]
    BadLocation { location: String, reason: &'static str },
    /// A path given to back up does not exist.
    #[error("source path {path} does not exist")]
    SourceNotFound { path: PathBuf },
    /// A path given to back up exists but cannot be inspected.
    #[error("source path {path} is unreadable: {source}")]
    SourceUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No snapshot matches the given id (or the repository has no snapshot for `latest`).
    #[error("snapshot {id} not found in repository {location}")]
    SnapshotNotFound { id: String, location: String },
    /// An exclude pattern that cannot be used.
    #[error("{kind} pattern {pattern:?} {reason}")]
    BadExclude {
        /// `exclude` or `include`.
        kind: &'static str,
        pattern: String,
        reason: String,
    },
    /// An exclude file that cannot be read.
    #[error("exclude file {path}: {source}")]
    ExcludeFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A restore target cannot be used.
    #[error("restore target {path}: {reason}")]
    BadTarget { path: PathBuf, reason: String },
    /// `check` found damage; `errors` is how many findings are errors (not just warnings).
    #[error("repository {location} check found {errors} error(s)")]
    CheckFailed { location: String, errors: usize },
    /// A data blob read from a pack is not what the index and its id say.
    #[error("repository {location}: data blob {blob} in pack {pack} is damaged: {fault}")]
    DamagedBlob {
        location: String,
        blob: String,
        pack: String,
        /// Boxed: keeps every `Result` of this crate small.
        fault: Box<crate::BlobFault>,
    },
    /// A file or directory of a local repository could not be read or changed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A snapshot holds nothing at the path asked for.
    #[error("snapshot {snapshot} has no {path}")]
    PathNotFound { path: String, snapshot: String },
    /// The path asked for is a directory, a link or a special file, not a file.
    #[error("{path} is a {kind}, not a file: only files can be dumped")]
    NotAFile { path: String, kind: String },
    /// A `--keep-within` duration that is not restic's `1y6m2d12h` form.
    #[error("duration {text:?} is not numbers with y, m (months), d or h, such as 1y6m or 30d")]
    BadDuration { text: String },
    /// Another process (seedship or restic) holds a lock this operation cannot share.
    #[error("repository {location} is already locked {holder}; try again once it is done")]
    Locked { location: String, holder: String },
    /// The server refused to delete from the repository (an append-only vault).
    #[error(
        "repository {location} refused to delete {what} (HTTP 403): an append-only vault keeps everything; forget and prune need a vault that is not append-only"
    )]
    DeleteRefused { location: String, what: &'static str },
    /// Two locations that should hold the same repository hold different ones.
    #[error("repositories {from} and {to} differ (not the same config): nothing copied")]
    DifferentRepositories { from: String, to: String },
    /// The drives given do not open as one drive set (or not with the key given).
    #[error(transparent)]
    Drive(#[from] seedship_drive::Error),
    /// A drive set holds no restic repository, or files outside it.
    #[error("{location} holds no restic repository: {reason}")]
    NotARepositoryOnDrives { location: String, reason: String },
    /// A file of a repository read from drives (its config, keys, index, snapshots or trees)
    /// is damaged on the drives: the operation cannot go on without it.
    #[error("repository {location}: {operation} failed: {damage}")]
    DamagedOnDrives {
        location: String,
        operation: &'static str,
        damage: String,
    },
    /// Any other failure of the repository engine, with its own message.
    #[error("repository {location}: {operation} failed: {message}")]
    Engine {
        location: String,
        operation: &'static str,
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Flattens a rustic error and its causes into one line ("what: cause: cause"), so that no
/// rustic type leaks out of this crate. rustic's own `Display` spans many lines, with
/// backtraces.
pub(crate) fn one_line(err: &rustic_core::RusticError) -> String {
    let mut parts = vec![guidance(err)];
    let mut cause = std::error::Error::source(err);
    while let Some(current) = cause {
        let inner = current.downcast_ref::<rustic_core::RusticError>().or_else(|| {
            current
                .downcast_ref::<Box<rustic_core::RusticError>>()
                .map(AsRef::as_ref)
        });
        let text = inner.map_or_else(|| current.to_string(), guidance);
        parts.push(text.lines().next().unwrap_or_default().trim().to_owned());
        cause = current.source();
    }
    parts.retain(|part| !part.is_empty());
    parts.dedup();
    parts.join(": ")
}

/// The message of one rustic error, without its kind, causes or backtrace.
fn guidance(err: &rustic_core::RusticError) -> String {
    let log = err.display_log();
    let log = log.strip_prefix("Error: ").unwrap_or(&log);
    let message = log.split(" (kind: ").next().unwrap_or(log);
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Wraps a rustic error from `operation` on `location`, recognising the cases with their own
/// variant.
pub(crate) fn engine<'a>(
    location: &'a str,
    operation: &'static str,
) -> impl FnOnce(Box<rustic_core::RusticError>) -> Error + 'a {
    move |err| {
        if err.is_incorrect_password() {
            return Error::WrongPassword {
                location: location.to_owned(),
            };
        }
        let http = http_cause(&err);
        match (http.and_then(reqwest::Error::status).map(|s| s.as_u16()), http) {
            (Some(status @ (401 | 403)), _) => Error::AccessDenied {
                location: location.to_owned(),
                status,
            },
            (Some(413), _) => Error::QuotaExceeded {
                location: location.to_owned(),
            },
            (_, Some(cause)) if cause.is_connect() || cause.is_timeout() => Error::Unreachable {
                location: location.to_owned(),
                // The HTTP client's own chain ("error sending request for url (...): ...:
                // Connection refused"), without rustic's "Backoff failed" wrapper.
                message: crate::redact_passwords(&causes(cause)),
            },
            _ => Error::Engine {
                location: location.to_owned(),
                operation,
                message: crate::redact_passwords(&one_line(&err)),
            },
        }
    }
}

/// `err` and its causes on one line, separated by ": ".
fn causes(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(current) = cause {
        parts.push(current.to_string());
        cause = current.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// The HTTP error behind a failure of a `rest:` repository, if that is what it was.
fn http_cause(err: &rustic_core::RusticError) -> Option<&reqwest::Error> {
    let mut cause = std::error::Error::source(err);
    while let Some(current) = cause {
        if let Some(http) = current.downcast_ref::<reqwest::Error>() {
            return Some(http);
        }
        cause = current.source();
    }
    None
}
