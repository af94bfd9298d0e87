//! Server options (command line) and the optional TOML configuration file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use seedship_jobs::{Address, DataCentre, DataCentres};
use seedship_store::StoreConfig;
use serde::{Deserialize, Serialize};

/// What `seedship server` was started with.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Directory for the embedded defaults (SQLite database, object directory) and the admin
    /// credentials file.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Plain HTTP or HTTPS, and with which certificate.
    pub tls: TlsMode,
    /// Parsed configuration file, if one was given.
    pub config: ServerConfig,
    /// Let the admin move the server's clock (`POST /api/v1/admin/clock`), for deadline tests.
    pub test_clock: bool,
}

/// How the server speaks TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP.
    Off,
    /// HTTPS with a self-signed certificate made once and kept in `<data-dir>/tls/` (`--tls`).
    SelfSigned,
    /// HTTPS with this certificate chain and private key, PEM files (`--tls-cert`, `--tls-key`).
    Files { cert: PathBuf, key: PathBuf },
}

/// The configuration file (TOML). Every table is optional; missing ones mean embedded defaults.
///
/// ```toml
/// public_url = "https://vault.example.net"
///
/// [metadata]
/// url = "postgres://seedship@db.example.net/seedship"
///
/// [storage]
/// backend = "azure"            # or "s3" or "local"
/// account = "examplestore"
/// access_key = "..."
/// container = "seedship"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// URL clients reach this server at, written into credentials files; default
    /// `http://<listen address>` (`https://` with `--tls`).
    #[serde(default)]
    pub public_url: Option<String>,
    /// Metadata database; default SQLite in the data directory.
    #[serde(default)]
    pub metadata: Option<MetadataConfig>,
    /// Object storage; default a local directory `objects` in the data directory.
    #[serde(default)]
    pub storage: Option<StoreConfig>,
    /// Data centres import drives are shipped to (`[[data_centres]]`); default one,
    /// [`default_data_centre`].
    #[serde(default)]
    pub data_centres: Vec<DataCentre>,
    /// The import service's X25519 key pair, as a path prefix (`<prefix>.key`, `<prefix>.pub`,
    /// as `seedship keygen` writes them); default `<data-dir>/import-service`, made on first
    /// start. Servers sharing one database must name the same pair.
    #[serde(default)]
    pub import_service_key: Option<PathBuf>,
    /// Only the import service's public key file (`seedship keygen`'s `<prefix>.pub`): the
    /// server then never makes or holds the private key, which stays with `import receive` on
    /// the operator's machine. Excludes `import_service_key`.
    #[serde(default)]
    pub import_service_public_key: Option<PathBuf>,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` is believed: for a
    /// request from one of them, the web sign-in throttle counts the right-most forwarded
    /// address that is not itself a trusted proxy. Default none: the peer's address counts.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
    /// Networks (addresses or CIDR blocks) webhook deliveries never connect to, e.g. loopback,
    /// private and link-local ranges: a URL naming such an address is refused when registered,
    /// and a host name that resolves into one fails its delivery (the resolved addresses are
    /// the ones connected to). Default none.
    #[serde(default)]
    pub webhook_deny_networks: Vec<IpNet>,
    /// Limits on client connections (`[connections]`).
    #[serde(default)]
    pub connections: ConnectionLimits,
    /// Seconds after which an upload staged outside every container and never placed (the
    /// server that took it was killed mid-upload) is deleted; the sweep runs at start and every
    /// hour. Default 86400 (24 hours). Servers sharing one store sweep each other's staged
    /// uploads too, so this must exceed the longest upload any of them may run.
    #[serde(default)]
    pub staging_max_age: Option<u64>,
}

/// The `[connections]` table: how long a client may take and how many may be connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// Seconds a client has for the TLS handshake, and for a request's headers from the
    /// connection's start or the end of the previous response; default 10.
    pub header_read_timeout: u64,
    /// Seconds without a byte read or written, while no request is being handled, after which
    /// a connection is closed (a stalled body or a client not reading its response); default 60.
    pub idle_timeout: u64,
    /// Connections served at once; further ones wait in the listen queue; default 4096
    /// (lowered to what the process's open-file limit allows).
    pub max: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: 10,
            idle_timeout: 60,
            max: 4096,
        }
    }
}

impl ConnectionLimits {
    pub(crate) fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout)
    }

    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout)
    }
}

/// The data centre of the embedded defaults, region `local`.
#[must_use]
pub fn default_data_centre() -> DataCentre {
    DataCentre {
        region: "local".to_owned(),
        name: "seedship data centre".to_owned(),
        shipping_address: Address {
            recipient: "seedship import service".to_owned(),
            street: vec!["1 Data Centre Road".to_owned()],
            city: "Amsterdam".to_owned(),
            postal_code: "1000 AA".to_owned(),
            country: "NL".to_owned(),
            phone: String::new(),
        },
    }
}

/// Where the import service's public key is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServiceKeySource {
    /// A key pair at this path prefix, made on first start if neither file exists.
    Pair(PathBuf),
    /// This public key file alone; it must exist.
    PublicOnly(PathBuf),
}

/// A configuration the server cannot start with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Both a key pair and a lone public key were named for the import service.
    #[error("import_service_key and import_service_public_key (--service-public-key) exclude each other")]
    TwoServiceKeys,
}

/// The `[metadata]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    /// `postgres://user[:password]@host[:port]/database` or `sqlite://<path>`.
    pub url: String,
}

impl ServerConfig {
    /// Parses a configuration file's text.
    ///
    /// # Errors
    ///
    /// The TOML error, naming the line.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    pub(crate) fn metadata_url(&self, data_dir: &Path) -> String {
        match &self.metadata {
            Some(metadata) => metadata.url.clone(),
            None => format!("sqlite://{}?mode=rwc", data_dir.join("metadata.db").display()),
        }
    }

    pub(crate) fn data_centres(&self) -> DataCentres {
        match self.data_centres.is_empty() {
            true => DataCentres::new(vec![default_data_centre()]),
            false => DataCentres::new(self.data_centres.clone()),
        }
    }

    /// Where the import service's public key comes from.
    pub(crate) fn service_key_source(&self, data_dir: &Path) -> Result<ServiceKeySource, ConfigError> {
        match (&self.import_service_key, &self.import_service_public_key) {
            (Some(_), Some(_)) => Err(ConfigError::TwoServiceKeys),
            (None, Some(public)) => Ok(ServiceKeySource::PublicOnly(public.clone())),
            (prefix, None) => Ok(ServiceKeySource::Pair(
                prefix.clone().unwrap_or_else(|| data_dir.join("import-service")),
            )),
        }
    }

    /// [`ServerConfig::staging_max_age`], or its default.
    pub(crate) fn staging_max_age(&self) -> Duration {
        self.staging_max_age
            .map_or(crate::staging::DEFAULT_MAX_AGE, Duration::from_secs)
    }

    pub(crate) fn store_config(&self, data_dir: &Path) -> StoreConfig {
        self.storage.clone().unwrap_or_else(|| StoreConfig::Local {
            path: data_dir.join("objects"),
        })
    }
}
