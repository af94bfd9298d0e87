//! Credentials files: TOML documents holding a server URL, a principal id and its secret.
//! They are written with mode 0600 through a temporary file, fsync and rename.
//!
//! ```toml
//! kind = "account"
//! server = "http://127.0.0.1:8420"
//! account = "acme"
//! id = "acc-1f2e3d4c5b6a7988"
//! secret = "..."
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One credentials file. `kind` tells which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Credentials {
    /// The server's administrator: creates accounts and operators.
    Admin {
        server: String,
        id: String,
        secret: String,
    },
    /// Data-centre staff (import/export work).
    Operator {
        server: String,
        id: String,
        secret: String,
    },
    /// An account owner: manages the account's storage accounts, containers and vaults.
    Account {
        server: String,
        account: String,
        id: String,
        secret: String,
    },
    /// Lets agents register with one vault (`seedship agent register`).
    VaultRegistration {
        server: String,
        account: String,
        vault: String,
        url: String,
        id: String,
        secret: String,
    },
    /// An agent's own identity, opening only its vault at `url` (restic REST).
    Agent {
        server: String,
        account: String,
        vault: String,
        url: String,
        id: String,
        secret: String,
    },
}

/// Reading or writing a credentials file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The file could not be read or written.
    #[error("credentials file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a credentials document.
    #[error("credentials file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Credentials {
    /// Server URL, principal id and secret.
    pub fn principal(&self) -> (&str, &str, &str) {
        match self {
            Credentials::Admin { server, id, secret }
            | Credentials::Operator { server, id, secret }
            | Credentials::Account {
                server, id, secret, ..
            }
            | Credentials::VaultRegistration {
                server, id, secret, ..
            }
            | Credentials::Agent {
                server, id, secret, ..
            } => (server, id, secret),
        }
    }

    /// The kind, as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::Admin { .. } => "admin",
            Credentials::Operator { .. } => "operator",
            Credentials::Account { .. } => "account",
            Credentials::VaultRegistration { .. } => "vault-registration",
            Credentials::Agent { .. } => "agent",
        }
    }

    /// The TOML text of the file.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# seedship {} credentials: keep this file secret\n{body}",
            self.kind()
        )
    }

    /// Reads a credentials file.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::Io`] if unreadable, [`CredentialsError::Invalid`] if not a credentials
    /// document.
    pub fn load(path: &Path) -> Result<Self, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Io {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| CredentialsError::Invalid {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })
    }

    /// Writes the file atomically with mode 0600 (temporary file, fsync, rename, fsync of the
    /// directory), creating the parent directory (0700) if needed.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::Io`] naming `path`.
    pub fn save(&self, path: &Path) -> Result<(), CredentialsError> {
        write_private(path, self.to_toml().as_bytes()).map_err(|source| CredentialsError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

/// Writes `contents` to `path` with mode 0600: temporary file, fsync, rename, fsync of the
/// directory (created 0700 if missing).
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)?;
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("credentials");
    let temp = parent.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(parent)?.sync_all()
    })();
    if result.is_err() {
        // Leave no half-written temporary file behind; the original (if any) is untouched.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::Credentials;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_with_private_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/creds");
        let creds = Credentials::Account {
            server: "http://127.0.0.1:1".into(),
            account: "acme".into(),
            id: "acc-1".into(),
            secret: "s".into(),
        };
        creds.save(&path).expect("save");
        assert_eq!(Credentials::load(&path).expect("load"), creds);
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::write(&path, "kind = \"nope\"").expect("write");
        assert!(Credentials::load(&path).is_err());
    }
}
