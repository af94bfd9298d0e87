//! Secrets: generated here, shown once, stored only as digests.
//!
//! Every secret is 32 random bytes from the OS generator (256 bits), so a plain SHA-256 digest
//! is safe at rest: guessing is hopeless without a slow hash, and a fast hash keeps per-request
//! authentication of restic's many small requests cheap (the same reasoning as API tokens
//! stored as SHA-256 digests). Digests are compared in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random secret, 64 lowercase hex characters.
pub(crate) fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new random identifier with a kind prefix, e.g. `agt-3f9a...` (16 hex characters).
pub(crate) fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}-{}", hex::encode(bytes))
}

/// The digest stored for `secret`.
pub(crate) fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` matches the stored `digest`, in time independent of where they differ.
pub(crate) fn verify(secret: &str, stored_digest: &str) -> bool {
    let computed = digest(secret);
    computed.len() == stored_digest.len()
        && computed
            .bytes()
            .zip(stored_digest.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_verify_only_against_their_digest() {
        let secret = super::generate();
        assert_eq!(secret.len(), 64);
        let digest = super::digest(&secret);
        assert!(super::verify(&secret, &digest));
        assert!(!super::verify(&super::generate(), &digest));
        assert!(!super::verify(&secret, "00"));
    }
}
