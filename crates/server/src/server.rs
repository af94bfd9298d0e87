//! Startup: metadata, object store, admin bootstrap, and the HTTP server.

use std::path::PathBuf;
use std::sync::Arc;

use seedship_api::{Credentials, CredentialsError};
use seedship_jobs::DeadlinePolicy;

use crate::config::{ConfigError, ServerOptions, ServiceKeySource, TlsMode};
use crate::db::Db;
use crate::secret;
use crate::state::{AppState, Clock};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration contradicts itself.
    #[error("configuration")]
    Config(#[source] ConfigError),
    /// The data directory could not be created.
    #[error("creating data directory {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The metadata database could not be opened or migrated.
    #[error("opening metadata database {url}")]
    Metadata {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The object store could not be opened.
    #[error("opening object storage")]
    Storage(#[source] seedship_store::Error),
    /// The admin credentials file could not be written.
    #[error("writing admin credentials")]
    AdminCredentials(#[source] CredentialsError),
    /// The import service's key pair could not be made or read.
    #[error("import service key {path}")]
    ServiceKey {
        path: PathBuf,
        #[source]
        source: seedship_drive::Error,
    },
    /// The certificate could not be made or read.
    #[error("preparing TLS")]
    Tls(#[source] crate::tls::TlsError),
    /// The listen address could not be bound.
    #[error("listening on {address}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// The database URL with any password removed, for messages.
fn redacted(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***{}", &url[at..]),
        _ => url.to_owned(),
    }
}

/// What [`serve`] reports once it accepts connections.
#[derive(Debug, Clone)]
pub struct Ready {
    /// The bound address (useful with port 0).
    pub address: std::net::SocketAddr,
    /// The URL written into credentials.
    pub url: String,
    /// The admin credentials file, if this start created it.
    pub admin_credentials: Option<PathBuf>,
    /// The certificate the server presents, with `--tls` (self-signed: clients must trust it)
    /// or `--tls-cert`.
    pub certificate: Option<PathBuf>,
}

/// Runs the server until SIGINT or SIGTERM; calls `ready` once it accepts connections.
///
/// The process's umask becomes 077 and the data directory is made (or corrected to) mode 0700:
/// the database, keys, credentials and objects the server writes are its own user's alone,
/// whatever umask it was started with.
///
/// # Errors
///
/// [`ServeError`] naming the resource that failed.
pub async fn serve(options: ServerOptions, ready: impl FnOnce(Ready)) -> Result<(), ServeError> {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let data_dir = &options.data_dir;
    seedship_store::private_dir(data_dir).map_err(|source| ServeError::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    let service_key_source = options
        .config
        .service_key_source(data_dir)
        .map_err(ServeError::Config)?;
    let url = options.config.metadata_url(data_dir);
    let db = Db::connect(&url).await.map_err(|source| ServeError::Metadata {
        url: redacted(&url),
        source,
    })?;
    let store = seedship_store::open(&options.config.store_config(data_dir))
        .await
        .map_err(ServeError::Storage)?;
    let address = options.listen.to_string();
    let listener = crate::listen::bind(options.listen).map_err(|source| ServeError::Listen {
        address: address.clone(),
        source,
    })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Listen {
        address: address.clone(),
        source,
    })?;
    let tls = match &options.tls {
        TlsMode::Off => None,
        TlsMode::SelfSigned => {
            Some(crate::tls::ensure_self_signed(data_dir, bound.ip()).map_err(ServeError::Tls)?)
        }
        TlsMode::Files { cert, key } => Some(crate::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
    };
    let acceptor = tls
        .as_ref()
        .map(crate::tls::acceptor)
        .transpose()
        .map_err(ServeError::Tls)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = options
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{bound}"));

    let admin_secret = secret::generate();
    let created_admin = db
        .bootstrap_admin(&admin_secret)
        .await
        .map_err(|source| ServeError::Metadata {
            url: redacted(&url),
            source,
        })?;
    let admin_file = if created_admin {
        let path = data_dir.join("admin-credentials");
        let credentials = Credentials::Admin {
            server: public_url.clone(),
            id: "admin".to_owned(),
            secret: admin_secret,
        };
        credentials.save(&path).map_err(ServeError::AdminCredentials)?;
        Some(path)
    } else {
        None
    };

    let service_key = load_service_key(&service_key_source)?;
    let state = AppState {
        db,
        store,
        public_url: public_url.clone(),
        metrics: Arc::default(),
        clock: Clock::new(options.test_clock),
        deadlines: DeadlinePolicy::default(),
        data_centres: options.config.data_centres(),
        service_key,
        seeds: Arc::default(),
        sign_in_throttle: Arc::default(),
        trusted_proxies: options.config.trusted_proxies.clone().into(),
        webhook_deny_networks: options.config.webhook_deny_networks.clone().into(),
        job_writes: Arc::default(),
    };
    let deadlines = state.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            interval.tick().await;
            if let Err(err) = crate::jobs::run_deadlines(&deadlines).await {
                tracing::error!("deadline pass failed: {err}");
            }
        }
    });
    tokio::spawn(crate::webhooks::deliver_forever(state.clone()));
    tokio::spawn(crate::staging::sweep_forever(
        state.store.clone(),
        options.config.staging_max_age(),
    ));
    let app = crate::routes::app(state);
    ready(Ready {
        address: bound,
        url: public_url,
        admin_credentials: admin_file,
        certificate: tls.map(|files| files.cert),
    });
    crate::listen::serve(
        listener,
        app,
        acceptor,
        options.config.connections,
        shutdown_signal(),
    )
    .await;
    Ok(())
}

/// Reads the import service's public key: from a key pair at a path prefix, making the pair
/// first if neither file exists (the private key is written with mode 0600 and never served),
/// or from a lone public key file, the private key being kept elsewhere.
fn load_service_key(source: &ServiceKeySource) -> Result<Arc<str>, ServeError> {
    let public = match source {
        ServiceKeySource::Pair(prefix) => {
            let mut public = prefix.as_os_str().to_owned();
            public.push(".pub");
            let public = PathBuf::from(public);
            if !public.exists() {
                seedship_drive::write_keypair(prefix).map_err(|source| ServeError::ServiceKey {
                    path: prefix.clone(),
                    source,
                })?;
            }
            public
        }
        ServiceKeySource::PublicOnly(public) => public.clone(),
    };
    let recipient = seedship_drive::read_recipient(&public).map_err(|source| ServeError::ServiceKey {
        path: public.clone(),
        source,
    })?;
    Ok(seedship_drive::format::encode_key_file(
        seedship_drive::format::PUBLIC_KEY_LABEL,
        &recipient.to_bytes(),
    )
    .trim_end()
    .into())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(super::redacted("postgres://u:pw@h:5/db"), "postgres://***@h:5/db");
        assert_eq!(
            super::redacted("sqlite:///x/metadata.db"),
            "sqlite:///x/metadata.db"
        );
    }
}
