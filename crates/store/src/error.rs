use std::path::PathBuf;

/// Errors of the object storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist.
    #[error("object {key} not found")]
    NotFound { key: String },
    /// A create-if-absent write found an existing object.
    #[error("object {key} already exists")]
    AlreadyExists { key: String },
    /// The key is not a valid object key (see [`crate::validate_key`]).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// The requested byte range lies outside the object.
    #[error("range {range} outside object {key}")]
    InvalidRange { key: String, range: String },
    /// The configuration cannot describe a working store.
    #[error("invalid storage configuration: {0}")]
    Config(String),
    /// The local storage directory could not be created.
    #[error("creating storage directory {path}")]
    LocalDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Creating the Azure container or S3 bucket failed.
    #[error("creating {what}: {message}")]
    Provision { what: String, message: String },
    /// Any other failure reported by the backend (network, permissions, service errors).
    #[error("storage backend failed on {key}")]
    Backend {
        key: String,
        #[source]
        source: object_store::Error,
    },
}

impl Error {
    /// Maps an object_store error on `key` to the semantic variants of this crate.
    pub(crate) fn from_backend(key: &str, source: object_store::Error) -> Self {
        let key = key.to_owned();
        match source {
            object_store::Error::NotFound { .. } => Error::NotFound { key },
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
                Error::AlreadyExists { key }
            }
            source => Error::Backend { key, source },
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
