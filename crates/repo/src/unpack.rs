//! Opening the data blobs of a pack: decrypt, decompress, verify the id.
//!
//! A blob is stored as `nonce (16) || AES-256-CTR ciphertext || Poly1305-AES MAC (16)` under
//! the repository's master key (restic's design document, "Keys, Encryption and MAC"); in a
//! version 2 repository the plaintext is a zstd frame when the index gives an uncompressed
//! length. Its id is the SHA-256 of the final plaintext.

use aes256ctr_poly1305aes::{Aes256CtrPoly1305Aes, Nonce, Tag, aead::AeadInPlace};
use rustic_core::{Id, repofile::MasterKey};
use sha2::{Digest, Sha256};
use std::num::NonZeroU32;

/// Why a stored blob cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobFault {
    /// Shorter than a nonce and a MAC.
    #[error("it is only {length} bytes long")]
    TooShort { length: usize },
    /// The MAC does not match: the stored bytes were changed.
    #[error("its MAC does not match (the stored bytes were changed)")]
    Mac,
    /// The decrypted bytes are not a valid zstd frame of the indexed length.
    #[error("it does not decompress: {reason}")]
    Decompress { reason: String },
    /// The content hashes to another id than the blob's.
    #[error("its content hashes to {actual}, not to its id")]
    WrongId { actual: String },
}

/// Opens blobs with one master key; holds the decompression buffer, reused from blob to
/// blob, so one `Unpacker` per thread keeps at most one decompressed blob.
pub(crate) struct Unpacker {
    cipher: Aes256CtrPoly1305Aes,
    decompressor: zstd::bulk::Decompressor<'static>,
    plain: Vec<u8>,
}

impl Unpacker {
    /// An unpacker for blobs encrypted with `key`.
    pub(crate) fn new(key: &MasterKey) -> std::io::Result<Self> {
        Ok(Self {
            cipher: crate::crypto::cipher(key),
            decompressor: zstd::bulk::Decompressor::new()?,
            plain: Vec::new(),
        })
    }

    /// The content of the blob `id` stored as `sealed` (decrypted in place), checked against
    /// its MAC, its indexed `uncompressed` length and its id.
    pub(crate) fn open<'a>(
        &'a mut self,
        sealed: &'a mut [u8],
        uncompressed: Option<NonZeroU32>,
        id: &Id,
    ) -> Result<&'a [u8], BlobFault> {
        let length = sealed.len();
        if length < 32 {
            return Err(BlobFault::TooShort { length });
        }
        let (nonce, rest) = sealed.split_at_mut(16);
        let (body, tag) = rest.split_at_mut(length - 32);
        self.cipher
            .decrypt_in_place_detached(Nonce::from_slice(nonce), &[], body, Tag::from_slice(tag))
            .map_err(|_| BlobFault::Mac)?;
        let plain: &[u8] = match uncompressed {
            None => body,
            Some(expected) => {
                let expected = expected.get() as usize;
                self.plain.clear();
                self.plain.reserve(expected);
                let actual = self
                    .decompressor
                    .decompress_to_buffer(body, &mut self.plain)
                    .map_err(|err| BlobFault::Decompress {
                        reason: err.to_string(),
                    })?;
                if actual != expected {
                    return Err(BlobFault::Decompress {
                        reason: format!("{actual} bytes instead of the indexed {expected}"),
                    });
                }
                &self.plain
            }
        };
        let actual = Id::new(Sha256::digest(plain).into());
        if actual != *id {
            return Err(BlobFault::WrongId {
                actual: actual.to_hex().to_string(),
            });
        }
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::{BlobFault, Unpacker};
    use rustic_core::{Id, repofile::MasterKey};
    use sha2::{Digest, Sha256};
    use std::num::NonZeroU32;

    /// `plain` sealed as restic stores a blob: nonce, ciphertext, MAC.
    fn seal(key: &MasterKey, plain: &[u8]) -> Vec<u8> {
        crate::crypto::seal(&crate::crypto::cipher(key), plain)
    }

    fn id_of(content: &[u8]) -> Id {
        Id::new(Sha256::digest(content).into())
    }

    #[test]
    fn each_fault_is_told_apart() {
        let key = MasterKey::new();
        let mut unpacker = Unpacker::new(&key).expect("unpacker");
        let content = b"some file content, some file content, some file content".repeat(100);
        let compressed = zstd::bulk::compress(&content, 3).expect("compress");
        let length = NonZeroU32::new(u32::try_from(content.len()).expect("small")).expect("not empty");
        let id = id_of(&content);

        let mut sealed = seal(&key, &compressed);
        assert_eq!(
            unpacker.open(&mut sealed, Some(length), &id).expect("sound blob"),
            &content[..]
        );
        let mut sealed = seal(&key, &content);
        assert_eq!(
            unpacker.open(&mut sealed, None, &id).expect("uncompressed blob"),
            &content[..]
        );

        let mut sealed = seal(&key, &content);
        let other = id_of(b"other");
        assert_eq!(
            unpacker.open(&mut sealed, None, &other),
            Err(BlobFault::WrongId {
                actual: id.to_hex().to_string()
            })
        );
        let mut sealed = seal(&key, &compressed);
        sealed[20] ^= 1;
        assert_eq!(unpacker.open(&mut sealed, Some(length), &id), Err(BlobFault::Mac));
        let mut sealed = seal(&key, &compressed);
        let longer = NonZeroU32::new(length.get() + 1).expect("not zero");
        assert!(matches!(
            unpacker.open(&mut sealed, Some(longer), &id),
            Err(BlobFault::Decompress { reason }) if reason.contains("instead of the indexed")
        ));
        let mut sealed = seal(&key, &content);
        assert!(matches!(
            unpacker.open(&mut sealed, Some(length), &id),
            Err(BlobFault::Decompress { .. })
        ));
        assert_eq!(
            unpacker.open(&mut [0u8; 31], None, &id),
            Err(BlobFault::TooShort { length: 31 })
        );
    }
}
