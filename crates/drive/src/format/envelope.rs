//! Sealed values (`nonce || ciphertext || tag`), wrapped drive keys and key files.

use super::FormatError;
use super::codec::{Dec, Enc};

/// XChaCha20-Poly1305 nonce length.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;

/// An authenticated ciphertext: `nonce[24] || ciphertext || tag[16]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Random nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the tag.
    pub body: Vec<u8>,
}

impl Sealed {
    /// `nonce || body`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NONCE_LEN + self.body.len());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.body);
        out
    }

    /// Splits `nonce || body`; the body must at least hold a tag.
    ///
    /// # Errors
    /// [`FormatError::Truncated`] when shorter than a nonce and a tag.
    pub fn decode(buf: &[u8]) -> Result<Self, FormatError> {
        let mut d = Dec::new(buf);
        let nonce = d.array("nonce")?;
        if d.rest().len() < TAG_LEN {
            return Err(FormatError::Truncated { what: "sealed value" });
        }
        Ok(Sealed {
            nonce,
            body: d.rest().to_vec(),
        })
    }
}

/// Argon2id cost parameters of a passphrase wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

/// A drive key wrapped for one holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrappedKey {
    /// Wrapped to an X25519 public key: `1 || ephemeral_public[32] || recipient_public[32] || sealed`.
    X25519 {
        /// The wrapper's one-time public key.
        ephemeral: [u8; 32],
        /// The recipient's public key (lets a holder find its wrapping).
        recipient: [u8; 32],
        /// The drive key sealed under the derived wrapping key.
        sealed: Sealed,
    },
    /// Wrapped under a passphrase:
    /// `2 || salt[16] || m_cost u32 || t_cost u32 || p_cost u32 || sealed`.
    Passphrase {
        /// Random Argon2id salt.
        salt: [u8; 16],
        /// Argon2id costs.
        params: KdfParams,
        /// The drive key sealed under the derived key.
        sealed: Sealed,
    },
}

impl WrappedKey {
    /// Encodes the wrapping (see the variants for the layout).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        match self {
            WrappedKey::X25519 {
                ephemeral,
                recipient,
                sealed,
            } => {
                e.u8(1);
                e.raw(ephemeral);
                e.raw(recipient);
                e.raw(&sealed.encode());
            }
            WrappedKey::Passphrase { salt, params, sealed } => {
                e.u8(2);
                e.raw(salt);
                e.u32(params.m_cost);
                e.u32(params.t_cost);
                e.u32(params.p_cost);
                e.raw(&sealed.encode());
            }
        }
        e.0
    }

    /// Decodes [`WrappedKey::encode`]'s output.
    ///
    /// # Errors
    /// [`FormatError`] for an unknown kind or truncated bytes.
    pub fn decode(buf: &[u8]) -> Result<Self, FormatError> {
        let mut d = Dec::new(buf);
        match d.u8("wrapped key kind")? {
            1 => Ok(WrappedKey::X25519 {
                ephemeral: d.array("ephemeral key")?,
                recipient: d.array("recipient key")?,
                sealed: Sealed::decode(d.rest())?,
            }),
            2 => Ok(WrappedKey::Passphrase {
                salt: d.array("salt")?,
                params: KdfParams {
                    m_cost: d.u32("m_cost")?,
                    t_cost: d.u32("t_cost")?,
                    p_cost: d.u32("p_cost")?,
                },
                sealed: Sealed::decode(d.rest())?,
            }),
            _ => Err(FormatError::Invalid {
                what: "wrapped key kind",
            }),
        }
    }
}

/// First word of a private key file.
pub const SECRET_KEY_LABEL: &str = "seedship-x25519-secret-1";
/// First word of a public key file.
pub const PUBLIC_KEY_LABEL: &str = "seedship-x25519-public-1";

/// Key file text: `LABEL:` followed by 64 lowercase hex digits and a newline.
pub fn encode_key_file(label: &str, key: &[u8; 32]) -> String {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    format!("{label}:{hex}\n")
}

/// Parses [`encode_key_file`]'s text, insisting on `label`.
///
/// # Errors
/// [`FormatError::BadMagic`] for another label, [`FormatError::Invalid`] for bad hex.
pub fn decode_key_file(label: &'static str, text: &str) -> Result<[u8; 32], FormatError> {
    let rest = text
        .trim()
        .strip_prefix(label)
        .and_then(|r| r.strip_prefix(':'))
        .ok_or(FormatError::BadMagic { what: label })?;
    let bytes = rest.as_bytes();
    if bytes.len() != 64 {
        return Err(FormatError::Invalid { what: "key length" });
    }
    let mut key = [0u8; 32];
    for (out, pair) in key.iter_mut().zip(bytes.chunks(2)) {
        let digit = |b: u8| {
            char::from(b)
                .to_digit(16)
                .ok_or(FormatError::Invalid { what: "key hex" })
        };
        // Both digits are below 16, so the sum fits a byte.
        *out = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).unwrap_or(0);
    }
    Ok(key)
}
