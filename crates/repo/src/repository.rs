//! Opening and creating repositories.

use crate::{
    atomic::AtomicLocal,
    error::{Error, Result, engine},
    progress::Bridge,
};
use rustic_backend::{BackendOptions, local::LocalBackend};
use rustic_core::{
    ConfigOptions, Credentials, KeyOptions, OpenStatus, Repository, RepositoryBackends, RepositoryOptions,
    repofile::Chunker,
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
        redact_url_password(&self.location)
    }

    /// The directory of a local repository; `None` for a `rest:` one.
    fn local_path(&self) -> Option<&str> {
        if self.location.starts_with("rest:") {
            return None;
        }
        Some(self.location.strip_prefix("local:").unwrap_or(&self.location))
    }

    /// A rustic repository handle, not yet opened.
    fn unopened(&self, bridge: Bridge) -> Result<Repository<()>> {
        let shown = self.display_location();
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
        Repository::new_with_progress(&options, &backends, bridge).map_err(on_error("opening"))
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
    /// The directory of a local repository.
    pub(crate) local_root: Option<PathBuf>,
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
        let unopened = config.unopened(bridge.clone())?;
        if !exists(config, &unopened)? {
            return Err(Error::RepoNotFound {
                location: config.display_location(),
            });
        }
        let inner = unopened
            .clone()
            .open(&Credentials::password(&config.password))
            .map_err(engine(&config.display_location(), "opening"))?;
        Ok(Self::wrap(config, unopened, inner, bridge))
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
        let unopened = config.unopened(bridge.clone())?;
        let credentials = Credentials::password(&config.password);
        if exists(config, &unopened)? {
            let inner = unopened
                .clone()
                .open(&credentials)
                .map_err(engine(&config.display_location(), "opening"))?;
            return Ok((Self::wrap(config, unopened, inner, bridge), false));
        }
        let repo_config = ConfigOptions::default()
            .set_version(2u32)
            .set_compression(COMPRESSION_LEVEL)
            .set_chunker(Chunker::Rabin);
        let inner = unopened
            .clone()
            .init(&credentials, &KeyOptions::default(), &repo_config)
            .map_err(engine(&config.display_location(), "creating"))?;
        Ok((Self::wrap(config, unopened, inner, bridge), true))
    }

    fn wrap(
        config: &RepoConfig,
        unopened: Repository<()>,
        inner: Repository<OpenStatus>,
        bridge: Bridge,
    ) -> Self {
        Self {
            key: Credentials::Masterkey(inner.key()),
            inner,
            unopened,
            location: config.display_location(),
            local_root: config.local_path().map(PathBuf::from),
            bridge,
        }
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
        engine(&self.location, operation)
    }
}

/// Whether the location holds a repository (a `config` file).
fn exists(config: &RepoConfig, unopened: &Repository<()>) -> Result<bool> {
    let found = unopened
        .config_id()
        .map_err(engine(&config.display_location(), "looking for the repository"))?;
    Ok(found.is_some())
}

/// `location` with the password of a URL's user information replaced by `***`.
fn redact_url_password(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => location.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url_password;

    #[test]
    fn url_passwords_are_redacted_and_other_locations_kept() {
        assert_eq!(
            redact_url_password("rest:http://agent:s3cr3t@127.0.0.1:8420/vaults/a/v/"),
            "rest:http://agent:***@127.0.0.1:8420/vaults/a/v/"
        );
        assert_eq!(
            redact_url_password("rest:https://127.0.0.1/vaults/a/v/"),
            "rest:https://127.0.0.1/vaults/a/v/"
        );
        assert_eq!(redact_url_password("/srv/repo@2"), "/srv/repo@2");
    }
}
