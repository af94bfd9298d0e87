//! Server options (command line) and the optional TOML configuration file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// Serve HTTPS with a self-signed certificate kept in `<data-dir>/tls/`.
    pub tls: bool,
    /// Parsed configuration file, if one was given.
    pub config: ServerConfig,
    /// Let the admin move the server's clock (`POST /api/v1/admin/clock`), for deadline tests.
    pub test_clock: bool,
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

    /// The path prefix of the import service's key pair.
    pub(crate) fn import_service_key(&self, data_dir: &Path) -> PathBuf {
        self.import_service_key
            .clone()
            .unwrap_or_else(|| data_dir.join("import-service"))
    }

    pub(crate) fn store_config(&self, data_dir: &Path) -> StoreConfig {
        self.storage.clone().unwrap_or_else(|| StoreConfig::Local {
            path: data_dir.join("objects"),
        })
    }
}
