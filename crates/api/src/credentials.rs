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

use seedship_durable::{FileOptions, PendingFile};
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
    /// The file exists and may not be replaced.
    #[error("credentials file {path} already exists")]
    Exists { path: PathBuf },
    /// The file is not a credentials document.
    #[error("credentials file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl CredentialsError {
    /// The error of an I/O failure on `path` ([`CredentialsError::Exists`] for an existing file).
    fn io(path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            CredentialsError::Exists {
                path: path.to_owned(),
            }
        } else {
            CredentialsError::Io {
                path: path.to_owned(),
                source,
            }
        }
    }
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
        write_private(path, self.to_toml().as_bytes()).map_err(|source| CredentialsError::io(path, source))
    }

    /// Prepares a credentials file at `path` for a secret not issued yet: refuses an existing
    /// file unless `replace`, creates the directory and the temporary file (mode 0600), so that
    /// the secret is asked for only once it has a place to go. Then
    /// [`PendingCredentials::commit`].
    ///
    /// # Errors
    ///
    /// [`CredentialsError::Exists`] if `path` exists and not `replace`; [`CredentialsError::Io`]
    /// if the place cannot be written.
    pub fn create_file(path: &Path, replace: bool) -> Result<PendingCredentials, CredentialsError> {
        PendingFile::open(path, &FileOptions::private(replace))
            .map(|file| PendingCredentials { file })
            .map_err(|source| CredentialsError::io(path, source))
    }
}

/// Writes `contents` to `path` with mode 0600: temporary file, fsync, rename, fsync of the
/// directory (created 0700 if missing).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    PendingFile::open(path, &FileOptions::private(true))?.commit(contents)
}

/// A new credentials file whose place is checked before the secret exists (see
/// [`Credentials::create_file`]).
#[derive(Debug)]
pub struct PendingCredentials {
    file: PendingFile,
}

impl PendingCredentials {
    /// Writes `credentials` into the file and puts it in place.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::Io`] naming the file, or [`CredentialsError::Exists`] if a file
    /// appeared there meanwhile and it may not be replaced.
    pub fn commit(self, credentials: &Credentials) -> Result<(), CredentialsError> {
        let path = self.file.path().to_owned();
        self.file
            .commit(credentials.to_toml().as_bytes())
            .map_err(|source| CredentialsError::io(&path, source))
    }

    /// Where the file goes.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

#[cfg(test)]
mod tests {
    use super::{Credentials, CredentialsError};
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

    /// A new credentials file never replaces one that exists, not even one that appeared
    /// between the check and the rename, unless asked; nothing is left behind either way.
    #[test]
    fn a_new_file_never_clobbers_an_existing_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("acme.toml");
        let creds = Credentials::Operator {
            server: "http://127.0.0.1:1".into(),
            id: "op-1".into(),
            secret: "s".into(),
        };
        std::fs::write(&path, "theirs").expect("write");
        assert!(matches!(
            Credentials::create_file(&path, false),
            Err(CredentialsError::Exists { .. })
        ));
        std::fs::remove_file(&path).expect("rm");
        let pending = Credentials::create_file(&path, false).expect("prepare");
        std::fs::write(&path, "theirs").expect("a file appears meanwhile");
        assert!(matches!(
            pending.commit(&creds),
            Err(CredentialsError::Exists { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "theirs");
        Credentials::create_file(&path, true)
            .expect("prepare")
            .commit(&creds)
            .expect("replace");
        assert_eq!(Credentials::load(&path).expect("load"), creds);
        drop(Credentials::create_file(&dir.path().join("unused.toml"), false).expect("prepare"));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            ["acme.toml"],
            "no temporary file left, nothing unused written"
        );
    }
}
