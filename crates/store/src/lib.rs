//! Object storage for the seedship server.
//!
//! Everything the server keeps outside its metadata database (vault repositories, the containers
//! that drives are imported into) lives in one object store, reached through the small [`Store`]
//! trait defined here. The trait is written against the semantics object storage actually offers
//! (see its `# Contract`), and it has one implementation, [`ObjectStoreBackend`], over the
//! [`object_store`] crate, configured by [`StoreConfig`] for three backends:
//!
//! - a local directory (the embedded default: `<data-dir>/objects`),
//! - Azure Blob Storage (block blobs; Azurite in tests),
//! - S3 (moto's server in tests).
//!
//! Neither object_store nor the services create containers or buckets on first write, so
//! [`open`] provisions them with one request of our own when the configuration asks for it
//! (SharedKey-signed `Create Container` for Azure, a plain `PUT` bucket for S3 emulators).
//!
//! With the `testing` feature, the `conformance` functions check any [`Store`] against the
//! contract, and [`testing`] starts Azurite and moto's server for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), seedship_store::Error> {
//! use seedship_store::{open, PutMode, StoreConfig};
//! let store = open(&StoreConfig::Local { path: "/srv/seedship/objects".into() }).await?;
//! store.put("vaults/v1/config", bytes::Bytes::from_static(b"..."), PutMode::Create).await?;
//! let info = store.head("vaults/v1/config").await?;
//! assert_eq!(info.size, 3);
//! # Ok(()) }
//! ```

mod backend;
mod config;
mod error;
mod provision;
mod store;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod testing;

pub use backend::{ObjectStoreBackend, open, private_dir};
pub use config::StoreConfig;
pub use error::{Error, Result};
pub use store::{ByteRange, ObjectInfo, ObjectRead, ObjectWriter, PutMode, Store, validate_key};
