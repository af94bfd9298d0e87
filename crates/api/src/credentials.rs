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
        PrivateFile::open(path, replace)
            .map(|file| PendingCredentials { file })
            .map_err(|source| CredentialsError::io(path, source))
    }
}

/// Writes `contents` to `path` with mode 0600: temporary file, fsync, rename, fsync of the
/// directory (created 0700 if missing).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    PrivateFile::open(path, true)?.commit(contents)
}

/// A private file (mode 0600) being written: the temporary file next to `path` is made first,
/// so that a place that cannot be written is found before anything else happens (before a
/// server issues a secret that would go there); [`PrivateFile::commit`] fills it and puts it
/// in place atomically. Dropped uncommitted, it leaves nothing behind.
#[derive(Debug)]
struct PrivateFile {
    path: PathBuf,
    parent: PathBuf,
    temp: PathBuf,
    file: Option<std::fs::File>,
    /// Replace an existing `path`; otherwise the file is only ever created.
    replace: bool,
}

impl PrivateFile {
    fn open(path: &Path, replace: bool) -> std::io::Result<Self> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if !replace && std::fs::symlink_metadata(path).is_ok() {
            return Err(std::io::ErrorKind::AlreadyExists.into());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("credentials");
        let temp = parent.join(format!(".{file_name}.tmp-{}", std::process::id()));
        // one left by a dead process that had this process id: no live process owns it
        let _ = std::fs::remove_file(&temp);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        Ok(Self {
            path: path.to_owned(),
            parent: parent.to_owned(),
            temp,
            file: Some(file),
            replace,
        })
    }

    /// Writes `contents`, fsyncs, renames into place (without `replace`: only if nothing is
    /// there by then) and fsyncs the directory.
    fn commit(mut self, contents: &[u8]) -> std::io::Result<()> {
        let mut file = self.file.take().ok_or(std::io::ErrorKind::NotFound)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        if self.replace {
            std::fs::rename(&self.temp, &self.path)?;
        } else {
            use rustix::fs::{CWD, RenameFlags, renameat_with};
            renameat_with(CWD, &self.temp, CWD, &self.path, RenameFlags::NOREPLACE)?;
        }
        // in place: nothing left for `drop` to remove
        self.temp = PathBuf::new();
        std::fs::File::open(&self.parent)?.sync_all()
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            // Leave no half-written temporary file behind; the original (if any) is untouched.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A new credentials file whose place is checked before the secret exists (see
/// [`Credentials::create_file`]).
#[derive(Debug)]
pub struct PendingCredentials {
    file: PrivateFile,
}

impl PendingCredentials {
    /// Writes `credentials` into the file and puts it in place.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::Io`] naming the file, or [`CredentialsError::Exists`] if a file
    /// appeared there meanwhile and it may not be replaced.
    pub fn commit(self, credentials: &Credentials) -> Result<(), CredentialsError> {
        let path = self.file.path.clone();
        self.file
            .commit(credentials.to_toml().as_bytes())
            .map_err(|source| CredentialsError::io(&path, source))
    }

    /// Where the file goes.
    pub fn path(&self) -> &Path {
        &self.file.path
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
