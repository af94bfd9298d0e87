//! The drive key file's text: the drive key wrapped to one X25519 public key, carried on the
//! drive itself (an export to the owner), so that the holder of the private key needs nothing
//! but the drives.

use super::{FormatError, WrappedKey};

/// What a drive key file starts with.
pub const DRIVE_KEY_LABEL: &str = "seedship-drive-key-1:";
/// Bytes of an X25519 wrapping: kind, ephemeral key, recipient key, nonce, the sealed key and
/// its tag.
const WRAPPED_LEN: usize = 1 + 32 + 32 + super::NONCE_LEN + 32 + super::TAG_LEN;
/// Length of a drive key file: the label, the wrapping in hex and a newline. Readers read no
/// more.
pub const DRIVE_KEY_LEN: usize = DRIVE_KEY_LABEL.len() + 2 * WRAPPED_LEN + 1;

/// The drive key file text of `wrapped`: `"seedship-drive-key-1:" || hex(wrapped) || "\n"`.
///
/// # Errors
/// [`FormatError::Invalid`] for a passphrase wrapping: on the drive, it would let whoever
/// holds the drive guess the passphrase offline.
pub fn encode_drive_key(wrapped: &WrappedKey) -> Result<String, FormatError> {
    if !matches!(wrapped, WrappedKey::X25519 { .. }) {
        return Err(FormatError::Invalid {
            what: "drive key file (only a wrapping to an X25519 public key goes on a drive)",
        });
    }
    Ok(format!("{DRIVE_KEY_LABEL}{}\n", super::to_hex(&wrapped.encode())))
}

/// Parses a drive key file, exactly as [`encode_drive_key`] writes it (the drive is hostile
/// input): the label, 274 lowercase hex digits of an X25519 wrapping, a newline.
///
/// # Errors
/// [`FormatError::BadMagic`] without the label; [`FormatError::Invalid`] for anything else
/// that is not exactly that.
pub fn parse_drive_key(bytes: &[u8]) -> Result<WrappedKey, FormatError> {
    let digits = bytes
        .strip_prefix(DRIVE_KEY_LABEL.as_bytes())
        .ok_or(FormatError::BadMagic {
            what: "drive key file",
        })?
        .strip_suffix(b"\n")
        .ok_or(FormatError::Invalid {
            what: "drive key file (no newline after the wrapped key)",
        })?;
    let invalid = FormatError::Invalid {
        what: "drive key file (274 lowercase hex digits of a wrapping to an X25519 key)",
    };
    if digits.len() != 2 * WRAPPED_LEN
        || !digits
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    {
        return Err(invalid);
    }
    // ASCII lowercase hex of the right length: `from_hex` cannot fail, nor can the
    // decoding of a kind-1 wrapping of this length be anything but X25519.
    let raw = super::from_hex(
        std::str::from_utf8(digits).map_err(|_| invalid.clone())?,
        "drive key",
    )?;
    match WrappedKey::decode(&raw)? {
        wrapped @ WrappedKey::X25519 { .. } => Ok(wrapped),
        WrappedKey::Passphrase { .. } => Err(invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Sealed;

    fn wrapped() -> WrappedKey {
        WrappedKey::X25519 {
            ephemeral: [0xab; 32],
            recipient: [0xcd; 32],
            sealed: Sealed {
                nonce: [0xef; 24],
                body: vec![4; 48],
            },
        }
    }

    #[test]
    fn a_drive_key_file_round_trips_with_its_fixed_length() {
        let text = encode_drive_key(&wrapped()).expect("encode");
        assert_eq!(text.len(), DRIVE_KEY_LEN);
        assert_eq!(DRIVE_KEY_LEN, 296);
        assert_eq!(parse_drive_key(text.as_bytes()), Ok(wrapped()));
    }

    #[test]
    fn a_passphrase_wrapping_never_goes_on_a_drive() {
        let passphrase = WrappedKey::Passphrase {
            salt: [0; 16],
            params: crate::format::KdfParams {
                m_cost: 1,
                t_cost: 1,
                p_cost: 1,
            },
            sealed: Sealed {
                nonce: [3; 24],
                body: vec![4; 48],
            },
        };
        assert!(encode_drive_key(&passphrase).is_err());
        // the same length as an X25519 wrapping in hex, but kind 2: refused
        let mut raw = passphrase.encode();
        raw.resize(WRAPPED_LEN, 0);
        let text = format!("{DRIVE_KEY_LABEL}{}\n", crate::format::to_hex(&raw));
        assert!(parse_drive_key(text.as_bytes()).is_err());
    }

    #[test]
    fn anything_but_the_exact_text_is_refused() {
        let good = encode_drive_key(&wrapped()).expect("encode");
        let body = good.strip_prefix(DRIVE_KEY_LABEL).expect("label");
        let bad_hex = FormatError::Invalid {
            what: "drive key file (274 lowercase hex digits of a wrapping to an X25519 key)",
        };
        let cases: Vec<(String, FormatError)> = vec![
            (
                String::new(),
                FormatError::BadMagic {
                    what: "drive key file",
                },
            ),
            (
                body.to_owned(),
                FormatError::BadMagic {
                    what: "drive key file",
                },
            ),
            (
                good.trim_end().to_owned(),
                FormatError::Invalid {
                    what: "drive key file (no newline after the wrapped key)",
                },
            ),
            (
                good.to_uppercase()
                    .replace("SEEDSHIP-DRIVE-KEY-1:", DRIVE_KEY_LABEL),
                bad_hex.clone(),
            ),
            (format!("{good}\n"), bad_hex.clone()),
            (format!("{DRIVE_KEY_LABEL} {}", &body[1..]), bad_hex.clone()),
            (
                format!("{DRIVE_KEY_LABEL}{}\n", &body[2..body.len() - 1]),
                bad_hex.clone(),
            ),
            (format!("{DRIVE_KEY_LABEL}00{body}"), bad_hex),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_drive_key(text.as_bytes()), Err(expected), "{text:?}");
        }
        // kind 1 with an unknown kind byte: refused by the wrapping's own decoder
        let other_kind = format!("{DRIVE_KEY_LABEL}07{}", &body[2..]);
        assert_eq!(
            parse_drive_key(other_kind.as_bytes()),
            Err(FormatError::Invalid {
                what: "wrapped key kind"
            })
        );
    }
}
