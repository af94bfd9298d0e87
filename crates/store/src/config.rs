use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which object store to use and how to reach it (the `[storage]` table of the server's config
/// file; `backend` selects the variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
pub enum StoreConfig {
    /// A directory on a local (or shared network) file system.
    Local {
        /// The directory; created if missing.
        path: PathBuf,
    },
    /// Azure Blob Storage, or Azurite.
    Azure {
        /// Storage account name (`devstoreaccount1` for Azurite).
        account: String,
        /// Base64 account key, used to sign requests (SharedKey).
        access_key: String,
        /// Blob container holding every object.
        container: String,
        /// Service endpoint, e.g. `http://127.0.0.1:10000` for Azurite; default
        /// `https://<account>.blob.core.windows.net`.
        #[serde(default)]
        endpoint: Option<String>,
        /// Path-style emulator addressing (`<endpoint>/<account>/<container>/...`) over HTTP.
        #[serde(default)]
        emulator: bool,
        /// Create the container at startup if it does not exist.
        #[serde(default)]
        create_container: bool,
    },
    /// Amazon S3 or an S3-compatible service.
    S3 {
        /// Bucket holding every object.
        bucket: String,
        /// Region (any value for emulators).
        #[serde(default = "default_region")]
        region: String,
        /// Service endpoint, e.g. `http://127.0.0.1:5000` for moto; default AWS.
        #[serde(default)]
        endpoint: Option<String>,
        /// Access key id; empty for anonymous access.
        #[serde(default)]
        access_key_id: String,
        /// Secret access key.
        #[serde(default)]
        secret_access_key: String,
        /// Allow plain `http://` endpoints.
        #[serde(default)]
        allow_http: bool,
        /// Create the bucket at startup with an unsigned `PUT` (emulators only).
        #[serde(default)]
        create_bucket: bool,
    },
}

fn default_region() -> String {
    "us-east-1".to_owned()
}
