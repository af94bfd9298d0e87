//! The signature of a webhook delivery (`X-Seedship-Signature`), as common webhook senders
//! make it: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`.
//! The timestamp inside the signed text lets a receiver refuse an old delivery replayed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `X-Seedship-Signature` value of `body` sent at unix time `t` under `secret`.
pub fn webhook_signature(secret: &str, t: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC accepts keys of every length")
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    /// Checked against Python's `hmac.new(b"Jefe", b"42.what do ya want for nothing?",
    /// hashlib.sha256).hexdigest()`.
    #[test]
    fn the_signature_is_the_hmac_of_the_timestamp_dot_body() {
        assert_eq!(
            super::webhook_signature("Jefe", 42, b"what do ya want for nothing?"),
            "t=42,v1=246ed6bd2fdb55df4737c62ddbd57a0a74d18becf897aa14e71f8be0b5203c3d"
        );
    }
}
