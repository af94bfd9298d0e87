//! What several commands need and no command owns: the default directories, credentials
//! files, the drive passphrase.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use seedship_api::{Client, Credentials};
use zeroize::Zeroizing;

/// Environment variable holding the drive passphrase (never an argument).
const PASSPHRASE_ENV: &str = "SEEDSHIP_DRIVE_PASSPHRASE";

/// `$SEEDSHIP_CONFIG_DIR`, else `$XDG_CONFIG_HOME/seedship`, else `~/.config/seedship`.
pub fn default_config_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = env_dir("SEEDSHIP_CONFIG_DIR") {
        return Ok(dir);
    }
    xdg_dir("XDG_CONFIG_HOME", ".config").context("cannot find the configuration directory: HOME is not set")
}

/// The repository cache's default, as restic's: `$XDG_CACHE_HOME/seedship`, else
/// `~/.cache/seedship`; `None` without HOME.
pub fn default_cache_dir() -> Option<PathBuf> {
    xdg_dir("XDG_CACHE_HOME", ".cache")
}

/// `$<variable>/seedship` (the XDG base directory), else `~/<fallback>/seedship`.
fn xdg_dir(variable: &str, fallback: &str) -> Option<PathBuf> {
    env_dir(variable)
        .or_else(|| env_dir("HOME").map(|home| home.join(fallback)))
        .map(|dir| dir.join("seedship"))
}

/// A directory named by an environment variable; unset and empty are the same.
fn env_dir(variable: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The configuration directory of the registered agent (default as `seedship agent
/// register`).
pub fn agent_dir(config_dir: Option<PathBuf>) -> anyhow::Result<seedship_agent::AgentDir> {
    let dir = match config_dir {
        Some(dir) => dir,
        None => default_config_dir()?,
    };
    Ok(seedship_agent::AgentDir::open(dir)?)
}

/// The credentials in `path`, which must be of `expected_kind`.
pub fn load_credentials(path: &Path, expected_kind: &str) -> anyhow::Result<Credentials> {
    let credentials = Credentials::load(path)?;
    anyhow::ensure!(
        credentials.kind() == expected_kind,
        "credentials file {} holds {} credentials, not {expected_kind} credentials",
        path.display(),
        credentials.kind()
    );
    Ok(credentials)
}

/// A client with the credentials in `path`, and their account (account owner credentials).
pub fn connect(path: &Path) -> anyhow::Result<(Client, Option<String>)> {
    let credentials = Credentials::load(path)?;
    let account = match &credentials {
        Credentials::Account { account, .. } => Some(account.clone()),
        _ => None,
    };
    let client = Client::new(&credentials).with_context(|| format!("credentials {}", path.display()))?;
    Ok((client, account))
}

/// The drive passphrase from `SEEDSHIP_DRIVE_PASSPHRASE`.
pub fn passphrase() -> anyhow::Result<Zeroizing<Vec<u8>>> {
    match std::env::var_os(PASSPHRASE_ENV) {
        Some(p) if !p.is_empty() => Ok(Zeroizing::new(
            std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec(),
        )),
        _ => anyhow::bail!(
            "set {PASSPHRASE_ENV}: the passphrase wraps the drive key so that resume and verify can unwrap it"
        ),
    }
}
