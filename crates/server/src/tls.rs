//! `--tls`: a self-signed certificate generated on first use and kept in `<data-dir>/tls/`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::credentials::write_private;

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
