//! Key files: `seedship keygen` output and reading it back.

use crate::crypto::{Identity, Recipient};
use crate::error::{Error, Result};
use crate::format::{self, PUBLIC_KEY_LABEL, SECRET_KEY_LABEL};
use crate::fsutil;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(ext);
    PathBuf::from(name)
}

/// Writes a new X25519 key pair: `PREFIX.key` (private, mode 0600) and `PREFIX.pub`.
/// Refuses to overwrite either file. Returns both paths.
///
/// # Errors
/// Either file exists, or an I/O error.
pub fn write_keypair(prefix: &Path) -> Result<(PathBuf, PathBuf)> {
    let secret_path = with_ext(prefix, ".key");
    let public_path = with_ext(prefix, ".pub");
    for p in [&secret_path, &public_path] {
        if p.exists() {
            return Err(Error::io(p)(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists; refusing to overwrite a key",
            )));
        }
    }
    let identity = Identity::generate()?;
    let secret = zeroize::Zeroizing::new(format::encode_key_file(SECRET_KEY_LABEL, &identity.to_bytes()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&secret_path)
        .map_err(Error::io(&secret_path))?;
    file.write_all(secret.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(Error::io(&secret_path))?;
    fsutil::write_atomic(
        &public_path,
        format::encode_key_file(PUBLIC_KEY_LABEL, &identity.recipient().to_bytes()).as_bytes(),
    )?;
    Ok((secret_path, public_path))
}

/// Reads a private key file written by [`write_keypair`].
///
/// # Errors
/// I/O errors or a file that is not a seedship private key.
pub fn read_identity(path: &Path) -> Result<Identity> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(Error::io(path))?);
    let bytes = format::decode_key_file(SECRET_KEY_LABEL, &text).map_err(Error::format(path))?;
    Ok(Identity::from_bytes(bytes))
}

/// Reads a public key file written by [`write_keypair`].
///
/// # Errors
/// I/O errors or a file that is not a seedship public key.
pub fn read_recipient(path: &Path) -> Result<Recipient> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    parse_recipient(&text).map_err(Error::format(path))
}

/// Parses the text of a public key file (as the import service publishes it).
///
/// # Errors
/// [`FormatError`](format::FormatError) if the text is not a seedship public key.
pub fn parse_recipient(text: &str) -> std::result::Result<Recipient, format::FormatError> {
    Ok(Recipient(format::decode_key_file(PUBLIC_KEY_LABEL, text)?))
}
