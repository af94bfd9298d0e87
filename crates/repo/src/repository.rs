//! Opening and creating repositories.

use crate::{
    atomic::AtomicLocal,
    drives::{DriveBackend, DriveCopy, Drives},
    error::{Error, Result, engine},
    lock::{LockGuard, LockKind, LockStore, Locks},
    progress::Bridge,
};
use rustic_backend::{BackendOptions, local::LocalBackend};
use rustic_core::{
    ConfigOptions, Credentials, FileType, KeyOptions, OpenStatus, Repository, RepositoryBackends,
    RepositoryOptions, WriteBackend, repofile::Chunker,
};
use seedship_progress::Progress;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

/// Names a PEM file of certificates that `rest:` repositories are trusted to present, besides
/// the system's roots (the same variable the server's management client reads).
const CA_CERT_ENV: &str = "SEEDSHIP_CA_CERT";

/// The zstd level new repositories use (restic's "auto" is comparable).
const COMPRESSION_LEVEL: i32 = 3;

/// Where a repository is and how to open it.
#[derive(Clone)]
pub struct RepoConfig {
    /// A local directory (optionally written `local:DIR`), or `rest:http(s)://host[:port]/path`
    /// for restic's REST protocol (trusting the certificate in `$SEEDSHIP_CA_CERT` too). Local
    /// writes are atomic (temporary file, fsync, rename).
    pub location: String,
    password: String,
    /// Directory for the local cache of index and tree packs; `None` uses no cache
    /// (the right choice for local repositories, whose files are as fast to read as a cache).
    pub cache_dir: Option<PathBuf>,
}

impl std::fmt::Debug for RepoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoConfig")
            .field("location", &self.display_location())
            .field("password", &"<redacted>")
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

impl RepoConfig {
    /// A repository at `location` opened with `password`, without a cache.
    pub fn new(location: impl Into<String>, password: String) -> Self {
        Self {
            location: location.into(),
            password,
            cache_dir: None,
        }
    }

    /// Uses `dir` as the cache directory.
    #[must_use]
    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// The location as it may be shown and logged: a password in a `rest:` URL
    /// (`rest:https://agent:SECRET@host/...`) is replaced by `***`.
    pub fn display_location(&self) -> String {
        redact_passwords(&self.location)
    }

    /// The directory of a local repository; `None` for a `rest:` one.
    fn local_path(&self) -> Option<&str> {
        if self.location.starts_with("rest:") {
            return None;
        }
        Some(self.location.strip_prefix("local:").unwrap_or(&self.location))
    }

    /// Where the repository keeps its lock files.
    fn lock_store(&self) -> Result<LockStore> {
        match self.local_path() {
            Some(root) => Ok(LockStore::local(root)),
            None => {
                let ca = std::env::var(CA_CERT_ENV).ok().filter(|path| !path.is_empty());
                LockStore::rest(&self.location, ca.as_deref())
            }
        }
    }

    /// A rustic repository handle, not yet opened, and the backend it reads.
    pub(crate) fn unopened(&self, bridge: Bridge) -> Result<(Repository<()>, Arc<dyn WriteBackend>)> {
        let shown = self.display_location();
        if ["http://", "https://"]
            .iter()
            .any(|scheme| self.location.starts_with(scheme))
        {
            return Err(Error::BadLocation {
                location: shown,
                reason: "a URL is not a local directory; a REST server is written rest:http(s)://...",
            });
        }
        let on_error = |operation| engine(&shown, operation);
        let backends = if let Some(path) = self.local_path() {
            let local = LocalBackend::new(path, Vec::new()).map_err(on_error("opening"))?;
            let atomic = AtomicLocal::new(Arc::new(local), PathBuf::from(path));
            RepositoryBackends::new(Arc::new(atomic), None)
        } else {
            let mut options = BackendOptions::default().repository(self.location.clone());
            // The CA the `seedship` commands trust for the server (a `--tls` server's
            // certificate, or a private CA), trusted besides the system's.
            if let Some(ca) = std::env::var_os(CA_CERT_ENV).filter(|path| !path.is_empty()) {
                options
                    .options
                    .insert("cacert".to_owned(), ca.to_string_lossy().into_owned());
            }
            options.to_backends().map_err(on_error("choosing the backend"))?
        };
        let options = match &self.cache_dir {
            Some(dir) => RepositoryOptions::default().cache_dir(dir.clone()),
            None => RepositoryOptions::default().no_cache(true),
        };
        let repo = Repository::new_with_progress(&options, &backends, bridge).map_err(on_error("opening"))?;
        Ok((repo, backends.repository()))
    }
}

/// An open repository.
pub struct Repo {
    pub(crate) inner: Repository<OpenStatus>,
    /// The same repository before opening, and its master key: indexing consumes an open
    /// repository, so operations that index reopen it from these (no key derivation again).
    unopened: Repository<()>,
    key: Credentials,
    pub(crate) location: String,
    /// Where restic's locks are; `None` for a repository on drives, which is read-only.
    locks: Option<LockStore>,
    /// The backend the repository's files are read from (restore reads data packs directly).
    pub(crate) backend: Arc<dyn WriteBackend>,
    /// The directory of a local repository.
    pub(crate) local_root: Option<PathBuf>,
    /// The drive set of a repository read from drives (restore reads its packs directly).
    pub(crate) drives: Option<Arc<Drives>>,
    pub(crate) bridge: Bridge,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("location", &self.location)
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl Repo {
    /// Opens an existing repository.
    ///
    /// # Errors
    ///
    /// [`Error::RepoNotFound`] when there is no repository at the location,
    /// [`Error::WrongPassword`] when the password opens no key, [`Error::Engine`] otherwise.
    pub fn open(config: &RepoConfig, progress: Arc<dyn Progress>) -> Result<Self> {
        let bridge = Bridge::new(progress);
        let (unopened, backend) = config.unopened(bridge.clone())?;
        if !exists(config, &unopened, backend.as_ref())? {
            return Err(Error::RepoNotFound {
                location: config.display_location(),
            });
        }
        let inner = unopened
            .clone()
            .open(&Credentials::password(&config.password))
            .map_err(engine(&config.display_location(), "opening"))?;
        Self::wrap(config, (unopened, backend), inner, bridge)
    }

    /// Opens the repository, creating it first when the location holds none. Returns whether
    /// it was created.
    ///
    /// New repositories are restic format version 2 with zstd compression and restic's
    /// rabin chunker, so restic reads them.
    ///
    /// # Errors
    ///
    /// As [`Repo::open`], plus [`Error::Engine`] when the repository cannot be created.
    pub fn open_or_init(config: &RepoConfig, progress: Arc<dyn Progress>) -> Result<(Self, bool)> {
        if let Some(root) = config.local_path() {
            // A backup killed part-way left its half-written pack behind; this run writes
            // that data again, so the stale copy would only take space (and drive space).
            crate::atomic::sweep_temporaries(Path::new(root))?;
        }
        let bridge = Bridge::new(progress);
        let (unopened, backend) = config.unopened(bridge.clone())?;
        let credentials = Credentials::password(&config.password);
        if exists(config, &unopened, backend.as_ref())? {
            let inner = unopened
                .clone()
                .open(&credentials)
                .map_err(engine(&config.display_location(), "opening"))?;
            return Ok((Self::wrap(config, (unopened, backend), inner, bridge)?, false));
        }
        let repo_config = ConfigOptions::default()
            .set_version(2u32)
            .set_compression(COMPRESSION_LEVEL)
            .set_chunker(Chunker::Rabin);
        let inner = unopened
            .clone()
            .init(&credentials, &KeyOptions::default(), &repo_config)
            .map_err(engine(&config.display_location(), "creating"))?;
        Ok((Self::wrap(config, (unopened, backend), inner, bridge)?, true))
    }

    fn wrap(
        config: &RepoConfig,
        (unopened, backend): (Repository<()>, Arc<dyn WriteBackend>),
        inner: Repository<OpenStatus>,
        bridge: Bridge,
    ) -> Result<Self> {
        Ok(Self {
            backend,
            key: Credentials::Masterkey(inner.key()),
            inner,
            unopened,
            location: config.display_location(),
            locks: Some(config.lock_store()?),
            local_root: config.local_path().map(PathBuf::from),
            drives: None,
            bridge,
        })
    }

    /// Opens the repository a drive set carries (see [`Drives`]), read-only, with the
    /// password of `config` (its location is not used).
    ///
    /// # Errors
    ///
    /// [`Error::WrongPassword`] when the password opens no key, [`Error::DamagedOnDrives`]
    /// when the config or keys are damaged on the drives, [`Error::Engine`] otherwise.
    pub fn open_drives(config: &RepoConfig, drives: Drives, progress: Arc<dyn Progress>) -> Result<Self> {
        let drives = Arc::new(drives);
        let location = drives.location().to_owned();
        let bridge = Bridge::new(progress);
        let backend: Arc<dyn WriteBackend> = Arc::new(DriveBackend(drives.clone()));
        let backends = RepositoryBackends::new(backend.clone(), None);
        let failed = |operation| {
            let drives = drives.clone();
            let location = location.clone();
            move |err| damaged_or(&drives, &location, operation, err)
        };
        let unopened = Repository::new_with_progress(
            &RepositoryOptions::default().no_cache(true),
            &backends,
            bridge.clone(),
        )
        .map_err(failed("opening"))?;
        let inner = unopened
            .clone()
            .open(&Credentials::password(&config.password))
            .map_err(failed("opening"))?;
        Ok(Self {
            backend,
            key: Credentials::Masterkey(inner.key()),
            inner,
            unopened,
            location,
            locks: None,
            local_root: None,
            drives: Some(drives),
            bridge,
        })
    }

    /// Copies the repository on `drives` into the local directory of `config` (see
    /// [`Drives::copy_to`]) and opens the copy; when files were damaged on the drives (left
    /// out of the copy), opens the drives instead, so that a restore names the damage and
    /// restores everything else.
    ///
    /// # Errors
    ///
    /// [`Error::BadLocation`] for a `rest:` location, and as [`Drives::copy_to`],
    /// [`Repo::open`] and [`Repo::open_drives`].
    pub fn open_drives_via_copy(
        config: &RepoConfig,
        drives: Drives,
        progress: Arc<dyn Progress>,
    ) -> Result<(Self, DriveCopy)> {
        let Some(target) = config.local_path() else {
            return Err(Error::BadLocation {
                location: config.display_location(),
                reason: "a copy from drives goes into a local directory",
            });
        };
        let copy = drives.copy_to(Path::new(target), progress.as_ref())?;
        let repo = if copy.damaged.is_empty() {
            Self::open(config, progress)?
        } else {
            Self::open_drives(config, drives, progress)?
        };
        Ok((repo, copy))
    }

    /// Takes a restic lock of `kind` on the repository, held until the guard is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] naming the holder of a conflicting lock (seedship's or restic's).
    /// A repository on drives takes none: nothing can write to it.
    pub(crate) fn lock(&self, kind: LockKind) -> Result<Option<LockGuard>> {
        self.locks().map(|locks| locks.take(kind)).transpose()
    }

    fn locks(&self) -> Option<Locks> {
        let store = self.locks.clone()?;
        Some(Locks::new(store, &self.inner.key(), &self.location))
    }

    /// Removes the repository's stale locks (restic's `unlock`): those older than 30 minutes
    /// and those of this host whose process is gone; with `all`, every lock (only when no
    /// other process uses the repository). Answers how many were removed.
    ///
    /// # Errors
    ///
    /// [`Error::Engine`] when the locks cannot be listed, read or removed.
    pub fn unlock(&self, all: bool) -> Result<usize> {
        self.locks().map_or(Ok(0), |locks| locks.remove(all))
    }

    /// A fresh open handle on the same repository, for operations that consume one.
    pub(crate) fn reopen(&self) -> Result<Repository<OpenStatus>> {
        self.unopened
            .clone()
            .open(&self.key)
            .map_err(self.fail("reopening"))
    }

    /// The repository id (64 hex digits); it stays the same wherever the repository moves.
    pub fn id(&self) -> String {
        crate::report::hex(&self.inner.config().id)
    }

    /// The location this repository was opened at.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Maps a rustic error from `operation` to ours.
    pub(crate) fn fail<'a>(
        &'a self,
        operation: &'static str,
    ) -> impl FnOnce(Box<rustic_core::RusticError>) -> Error + 'a {
        move |err| match &self.drives {
            Some(drives) => damaged_or(drives, &self.location, operation, err),
            None => engine(&self.location, operation)(err),
        }
    }
}

/// A failure of a repository on drives: [`Error::DamagedOnDrives`] when a read met damage,
/// else as for any repository.
fn damaged_or(
    drives: &Drives,
    location: &str,
    operation: &'static str,
    err: Box<rustic_core::RusticError>,
) -> Error {
    match drives.first_damage() {
        Some(damage) => Error::DamagedOnDrives {
            location: location.to_owned(),
            operation,
            damage,
        },
        None => engine(location, operation)(err),
    }
}

/// Whether the location holds a repository (a `config` file).
///
/// # Errors
///
/// [`Error::AccessDenied`] when a `rest:` server refuses the credentials, which restic's
/// REST client would otherwise read as "no repository" (it only asks whether `HEAD /config`
/// succeeded); [`Error::Unreachable`] when the server cannot be reached.
fn exists(config: &RepoConfig, unopened: &Repository<()>, backend: &dyn WriteBackend) -> Result<bool> {
    let shown = config.display_location();
    let found = unopened
        .config_id()
        .map_err(engine(&shown, "looking for the repository"))?;
    if found.is_none() && config.local_path().is_none() {
        // Listing the keys answers 401/403 for refused credentials; any other failure (a
        // vault that does not exist yet answers 404) still means "no repository here".
        if let Err(err) = backend.list(FileType::Key) {
            let err = engine(&shown, "looking for the repository")(err);
            if matches!(err, Error::AccessDenied { .. } | Error::Unreachable { .. }) {
                return Err(err);
            }
        }
    }
    Ok(found.is_some())
}

/// `text` with the password of every URL's user information replaced by `***`
/// (`rest:https://agent:SECRET@host/...` becomes `rest:https://agent:***@host/...`), for
/// locations and error messages that may be shown or logged.
pub fn redact_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == ')' || c.is_whitespace())
            .unwrap_or(tail.len());
        let (authority, after) = tail.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                out.push_str(&format!("{user}:***@{host}"));
            }
            None => out.push_str(authority),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_passwords;

    #[test]
    fn url_passwords_are_redacted_and_other_text_kept() {
        assert_eq!(
            redact_passwords("rest:http://agent:s3cr3t@127.0.0.1:8420/vaults/a/v/"),
            "rest:http://agent:***@127.0.0.1:8420/vaults/a/v/"
        );
        assert_eq!(
            redact_passwords("rest:https://127.0.0.1/vaults/a/v/"),
            "rest:https://127.0.0.1/vaults/a/v/"
        );
        assert_eq!(redact_passwords("/srv/repo@2"), "/srv/repo@2");
        assert_eq!(
            redact_passwords("error sending request for url (http://a:b@h:1/config) and http://c:d@e"),
            "error sending request for url (http://a:***@h:1/config) and http://c:***@e"
        );
    }
}
