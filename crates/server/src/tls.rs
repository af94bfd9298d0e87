//! HTTPS: a certificate and key given by the operator (`--tls-cert`, `--tls-key`), or for
//! `--tls` a self-signed certificate generated on first use and kept in `<data-dir>/tls/`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use seedship_api::write_private;

/// Certificate and private key files of a TLS server.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why no certificate could be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Generating the key pair or certificate failed.
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// Reading or writing the certificate files failed.
    #[error("TLS file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A PEM file holds no usable certificate chain or private key.
    #[error("TLS file {path}: {message}")]
    Pem { path: PathBuf, message: String },
    /// The certificate and key do not make a TLS configuration (e.g. they do not match).
    #[error("TLS certificate {cert} with key {key}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
}

/// The TLS side of accepting connections with `files`: HTTP/1.1 (ALPN), TLS 1.2 and 1.3.
pub(crate) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let pem = |path: &Path| {
        let path = path.to_owned();
        move |err: rustls::pki_types::pem::Error| TlsError::Pem {
            path,
            message: err.to_string(),
        }
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(pem(&files.cert))?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: files.cert.clone(),
            message: "no certificate in the file".to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(pem(&files.key))?;
    let config_error = |source| TlsError::Config {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    };
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(config_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Reuses `<data-dir>/tls/{cert,key}.pem`, or creates a self-signed certificate for
/// `localhost`, `127.0.0.1`, `::1` and `listen_ip` (key mode 0600, written atomically).
pub(crate) fn ensure_self_signed(data_dir: &Path, listen_ip: IpAddr) -> Result<TlsFiles, TlsError> {
    let dir = data_dir.join("tls");
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if files.cert.is_file() && files.key.is_file() {
        return Ok(files);
    }
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if !listen_ip.is_unspecified() && !names.contains(&listen_ip.to_string()) {
        names.push(listen_ip.to_string());
    }
    let certified = rcgen::generate_simple_self_signed(names)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Io { path, source }
    };
    // Key first: a certificate file never exists without its key.
    write_private(&files.key, certified.signing_key.serialize_pem().as_bytes()).map_err(io(&files.key))?;
    write_private(&files.cert, certified.cert.pem().as_bytes()).map_err(io(&files.cert))?;
    Ok(files)
}
