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
    /// A restore target cannot be used.
    #[error("restore target {path}: {reason}")]
    BadTarget { path: PathBuf, reason: String },
    /// `check` found damage; `errors` is how many findings are errors (not just warnings).
    #[error("repository {location} check found {errors} error(s)")]
    CheckFailed { location: String, errors: usize },
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

/// Flattens a rustic error into one line, so that no rustic type leaks out of this crate.
pub(crate) fn one_line(err: &rustic_core::RusticError) -> String {
    let text = err.to_string();
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("Message:"));
    let mut out = lines.next().unwrap_or("unknown error").to_owned();
    for line in lines.take(3) {
        out.push_str("; ");
        out.push_str(line);
    }
    out
}

/// Wraps a rustic error from `operation` on `location`, recognising the cases with their own
/// variant.
pub(crate) fn engine<'a>(
    location: &'a str,
    operation: &'static str,
) -> impl FnOnce(Box<rustic_core::RusticError>) -> Error + 'a {
    move |err| {
        if err.is_incorrect_password() {
            Error::WrongPassword {
                location: location.to_owned(),
            }
        } else {
            Error::Engine {
                location: location.to_owned(),
                operation,
                message: one_line(&err),
            }
        }
    }
}
