//! restic's sealing of repository files and blobs under the master key: a random 16-byte
//! nonce, the AES-256-CTR ciphertext, a Poly1305-AES MAC of 16 bytes (restic's design
//! document, "Keys, Encryption and MAC"). rustic_core keeps its own sealing private; restore
//! and locks need it too.

use aes256ctr_poly1305aes::{
    Aes256CtrPoly1305Aes, Key, Nonce,
    aead::{Aead, AeadInPlace},
};
use rand::RngCore;
use rustic_core::repofile::MasterKey;

/// The cipher of `key`: 32 bytes of AES key, then the MAC's `k` and `r`.
pub(crate) fn cipher(key: &MasterKey) -> Aes256CtrPoly1305Aes {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&key.encrypt);
    bytes[32..48].copy_from_slice(&key.mac.k);
    bytes[48..].copy_from_slice(&key.mac.r);
    Aes256CtrPoly1305Aes::new(Key::from_slice(&bytes))
}

/// `plain` sealed with a fresh random nonce.
pub(crate) fn seal(cipher: &Aes256CtrPoly1305Aes, plain: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(plain.len() + 32);
    sealed.extend_from_slice(plain);
    seal_in_place(cipher, &mut sealed);
    sealed
}

/// The plaintext in `buffer` sealed in place with a fresh random nonce (a buffer kept for
/// many blobs, so that sealing allocates nothing).
pub(crate) fn seal_in_place(cipher: &Aes256CtrPoly1305Aes, buffer: &mut Vec<u8>) {
    let mut nonce = Nonce::default();
    rand::rng().fill_bytes(&mut nonce);
    buffer.splice(0..0, nonce);
    let tag = cipher
        .encrypt_in_place_detached(&nonce, &[], &mut buffer[16..])
        .expect("AES-CTR encrypts any length below 2^32 blocks");
    buffer.extend_from_slice(&tag);
}

/// The plaintext of `sealed`, `None` if it is too short or its MAC does not match.
pub(crate) fn open(cipher: &Aes256CtrPoly1305Aes, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < 32 {
        return None;
    }
    let (nonce, rest) = sealed.split_at(16);
    cipher.decrypt(Nonce::from_slice(nonce), rest).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_with_their_key_only() {
        let key = MasterKey::new();
        let cipher = cipher(&key);
        let sealed = seal(&cipher, b"{\"x\":1}");
        assert_eq!(open(&cipher, &sealed).as_deref(), Some(&b"{\"x\":1}"[..]));
        assert_eq!(open(&super::cipher(&MasterKey::new()), &sealed), None);
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert_eq!(open(&cipher, &flipped), None);
        assert_eq!(open(&cipher, &sealed[..31]), None);
    }
}
