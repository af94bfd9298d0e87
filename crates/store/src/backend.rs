use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::buffered::BufWriter;
use object_store::chunked::ChunkedStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use tokio::io::AsyncWriteExt;

use crate::provision::{azure_create_container, s3_create_bucket};
use crate::store::{ByteRange, ObjectInfo, ObjectRead, ObjectWriter, PutMode, Store, validate_key};
use crate::{Error, Result, StoreConfig};

/// Bytes buffered by a streaming upload before a part is sent (above S3's 5 MiB minimum).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload in flight at once.
const PART_CONCURRENCY: usize = 4;

/// Bytes per chunk of a local object read (one allocation and one blocking-pool task each).
const LOCAL_READ_CHUNK: usize = 1 << 20;

/// Opens the store `config` describes, creating the local directory, Azure container or S3
/// bucket first where the configuration asks for it.
///
/// # Errors
///
/// [`Error::Config`] for an unusable configuration, [`Error::LocalDir`] or
/// [`Error::Provision`] if the storage location cannot be created.
pub async fn open(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    let config_error = |e: object_store::Error| Error::Config(e.to_string());
    let suffix_ranges = !matches!(config, StoreConfig::Azure { .. });
    let inner: Arc<dyn ObjectStore> = match config {
        StoreConfig::Local { path } => {
            private_dir(path).map_err(|source| Error::LocalDir {
                path: path.clone(),
                source,
            })?;
            // fsync files and directories before a write returns, as restic's local backend does.
            let local = LocalFileSystem::new_with_prefix(path)
                .map_err(config_error)?
                .with_fsync(true);
            // object_store reads a local file in 8 KiB chunks, each on the blocking pool and
            // each its own frame of the HTTP answer: most of a 2 GB export's CPU went there.
            Arc::new(ChunkedStore::new(Arc::new(local), LOCAL_READ_CHUNK))
        }
        StoreConfig::Azure {
            account,
            access_key,
            container,
            endpoint,
            emulator,
            create_container,
        } => {
            let mut builder = MicrosoftAzureBuilder::new()
                .with_account(account)
                .with_access_key(access_key)
                .with_container_name(container);
            let account_url = match (endpoint, emulator) {
                // Emulator at an explicit address: path-style URLs under `<endpoint>/<account>`.
                // (`with_use_emulator(true)` alone reads the address from AZURITE_BLOB_STORAGE_URL.)
                (Some(endpoint), true) => {
                    let url = format!("{}/{account}", endpoint.trim_end_matches('/'));
                    builder = builder.with_endpoint(url.clone()).with_allow_http(true);
                    url
                }
                (None, true) => {
                    builder = builder.with_use_emulator(true);
                    format!("http://127.0.0.1:10000/{account}")
                }
                (Some(endpoint), false) => {
                    builder = builder.with_endpoint(endpoint.clone());
                    endpoint.clone()
                }
                (None, false) => format!("https://{account}.blob.core.windows.net"),
            };
            if *create_container {
                azure_create_container(&account_url, account, access_key, container).await?;
            }
            Arc::new(builder.build().map_err(config_error)?)
        }
        StoreConfig::S3 {
            bucket,
            region,
            endpoint,
            access_key_id,
            secret_access_key,
            allow_http,
            create_bucket,
        } => {
            // A create-if-absent move is a copy completed only if the destination is absent.
            let mut builder = AmazonS3Builder::new()
                .with_copy_if_not_exists(object_store::aws::S3CopyIfNotExists::Multipart)
                .with_bucket_name(bucket)
                .with_region(region)
                .with_allow_http(*allow_http);
            if access_key_id.is_empty() {
                builder = builder.with_skip_signature(true);
            } else {
                builder = builder
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key);
            }
            if let Some(endpoint) = endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false);
            }
            if *create_bucket {
                let endpoint = endpoint
                    .as_deref()
                    .ok_or_else(|| Error::Config("create_bucket needs an explicit endpoint".to_owned()))?;
                s3_create_bucket(endpoint, bucket).await?;
            }
            Arc::new(builder.build().map_err(config_error)?)
        }
    };
    Ok(Arc::new(ObjectStoreBackend { inner, suffix_ranges }))
}

/// Creates `dir` (and missing parents) with mode 0700, or sets an existing one to 0700: what is
/// below is reachable by the owner alone, whatever modes its files get. A local store's root is
/// made so; the server's data directory too.
///
/// # Errors
///
/// The I/O error of creating or changing the directory.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// [`Store`] over any [`object_store::ObjectStore`].
#[derive(Debug, Clone)]
pub struct ObjectStoreBackend {
    inner: Arc<dyn ObjectStore>,
    /// Whether the service answers suffix ranges (`bytes=-n`) itself; Azure Blob does not.
    suffix_ranges: bool,
}

impl ObjectStoreBackend {
    /// Wraps an object_store store, e.g. one built by hand.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            suffix_ranges: true,
        }
    }
}

fn path(key: &str) -> Result<Path> {
    validate_key(key)?;
    Path::parse(key).map_err(|_| Error::InvalidKey {
        key: key.to_owned(),
        reason: "not an object_store path",
    })
}

#[async_trait]
impl Store for ObjectStoreBackend {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        let options = PutOptions {
            mode: match mode {
                PutMode::Overwrite => object_store::PutMode::Overwrite,
                PutMode::Create => object_store::PutMode::Create,
            },
            ..PutOptions::default()
        };
        self.inner
            .put_opts(&path(key)?, PutPayload::from_bytes(data), options)
            .await
            .map_err(|e| Error::from_backend(key, e))?;
        Ok(())
    }

    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        let writer = BufWriter::with_capacity(Arc::clone(&self.inner), path(key)?, PART_SIZE)
            .with_max_concurrency(PART_CONCURRENCY);
        Ok(Box::new(Writer {
            key: key.to_owned(),
            writer,
            written: 0,
        }))
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<ObjectRead> {
        let range = match range {
            // Azure Blob has no suffix ranges: resolve against the size first.
            Some(ByteRange::Suffix(n)) if !self.suffix_ranges && n > 0 => {
                let size = self.head(key).await?.size;
                Some(ByteRange::Bounded(size.saturating_sub(n)..size))
            }
            range => range,
        };
        let requested = range.clone();
        let options = GetOptions {
            range: range.map(|range| match range {
                ByteRange::Bounded(r) => GetRange::Bounded(r),
                ByteRange::From(start) => GetRange::Offset(start),
                ByteRange::Suffix(n) => GetRange::Suffix(n),
            }),
            ..GetOptions::default()
        };
        let location = path(key)?;
        let result = match self.inner.get_opts(&location, options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Err(Error::NotFound { key: key.to_owned() }),
            Err(e) => {
                // Backends word range errors differently; classify with the object's size.
                if let Some(range) = requested {
                    let size = self.head(key).await?.size;
                    if range_is_unsatisfiable(&range, size) {
                        return Err(Error::InvalidRange {
                            key: key.to_owned(),
                            range: format!("{range:?}"),
                        });
                    }
                }
                return Err(Error::from_backend(key, e));
            }
        };
        let owned_key = key.to_owned();
        Ok(ObjectRead {
            size: result.meta.size,
            range: result.range.clone(),
            stream: result
                .into_stream()
                .map_err(move |e| Error::from_backend(&owned_key, e))
                .boxed(),
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectInfo> {
        let meta = self
            .inner
            .head(&path(key)?)
            .await
            .map_err(|e| Error::from_backend(key, e))?;
        Ok(ObjectInfo {
            key: meta.location.to_string(),
            size: meta.size,
            modified: meta.last_modified.into(),
        })
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectInfo>> {
        let location = if prefix.is_empty() {
            None
        } else {
            match path(prefix) {
                Ok(location) => Some(location),
                Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
            }
        };
        let owned_prefix = prefix.to_owned();
        self.inner
            .list(location.as_ref())
            .map(move |item| match item {
                Ok(meta) => Ok(ObjectInfo {
                    key: meta.location.to_string(),
                    size: meta.size,
                    modified: meta.last_modified.into(),
                }),
                // A prefix that was never written is an empty listing, not an error.
                Err(e) => Err(Error::from_backend(&owned_prefix, e)),
            })
            .filter(|item| futures::future::ready(!matches!(item, Err(Error::NotFound { .. }))))
            .boxed()
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match self.inner.delete(&path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::from_backend(key, e)),
        }
    }

    async fn copy(&self, from: &str, to: &str) -> Result<()> {
        self.inner
            .copy(&path(from)?, &path(to)?)
            .await
            .map_err(|e| Error::from_backend(from, e))
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.inner
            .rename(&path(from)?, &path(to)?)
            .await
            .map_err(|e| Error::from_backend(from, e))
    }

    async fn rename_if_absent(&self, from: &str, to: &str) -> Result<()> {
        match self.inner.rename_if_not_exists(&path(from)?, &path(to)?).await {
            Err(
                e @ (object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }),
            ) => Err(Error::from_backend(to, e)),
            result => result.map_err(|e| Error::from_backend(from, e)),
        }
    }
}

fn range_is_unsatisfiable(range: &ByteRange, size: u64) -> bool {
    match range {
        ByteRange::Bounded(r) => r.start >= size || r.start >= r.end,
        ByteRange::From(start) => *start >= size,
        ByteRange::Suffix(n) => *n == 0,
    }
}

struct Writer {
    key: String,
    writer: BufWriter,
    written: u64,
}

#[async_trait]
impl ObjectWriter for Writer {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.written += data.len() as u64;
        self.writer
            .put(data)
            .await
            .map_err(|e| Error::from_backend(&self.key, e))
    }

    async fn finish(mut self: Box<Self>) -> Result<u64> {
        self.writer.shutdown().await.map_err(|e| Error::Backend {
            key: self.key.clone(),
            source: object_store::Error::Generic {
                store: "upload",
                source: Box::new(e),
            },
        })?;
        Ok(self.written)
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.writer
            .abort()
            .await
            .map_err(|e| Error::from_backend(&self.key, e))
    }
}
