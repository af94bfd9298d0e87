//! The drive marker's text and the one form of a drive id.

use super::FormatError;

/// What a drive marker starts with.
pub const MARKER_LABEL: &str = "seedship-drive-1:";
/// Length of a drive marker: the label, 32 hex digits and a newline. Readers read no more.
pub const MARKER_LEN: usize = MARKER_LABEL.len() + 32 + 1;

/// The marker text of drive `id`: `"seedship-drive-1:" || hex(id) || "\n"`.
pub fn encode_marker(id: &[u8; 16]) -> String {
    format!("{MARKER_LABEL}{}\n", super::to_hex(id))
}

/// Parses a drive marker, exactly as [`encode_marker`] writes it: a drive is hostile input
/// at the data centre, so nothing else (other case, spaces, a missing newline) is accepted.
///
/// # Errors
/// [`FormatError::BadMagic`] without the label; [`FormatError::Invalid`] for anything but
/// 32 lowercase hex digits and a newline after it.
pub fn parse_marker(bytes: &[u8]) -> Result<[u8; 16], FormatError> {
    let id = bytes
        .strip_prefix(MARKER_LABEL.as_bytes())
        .ok_or(FormatError::BadMagic { what: "drive marker" })?
        .strip_suffix(b"\n")
        .ok_or(FormatError::Invalid {
            what: "drive marker (no newline after the drive id)",
        })?;
    parse_drive_id_bytes(id)
}

/// Parses a drive id: exactly 32 lowercase hex digits, the form `drive prepare` writes in the
/// marker and the journal and an import job records.
///
/// # Errors
/// [`FormatError::Invalid`] for any other text.
pub fn parse_drive_id(text: &str) -> Result<[u8; 16], FormatError> {
    parse_drive_id_bytes(text.as_bytes())
}

fn parse_drive_id_bytes(digits: &[u8]) -> Result<[u8; 16], FormatError> {
    let invalid = FormatError::Invalid {
        what: "drive id (32 lowercase hex digits)",
    };
    if digits.len() != 32 {
        return Err(invalid);
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(invalid.clone()),
    };
    let mut id = [0u8; 16];
    for (out, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
        *out = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_round_trips_and_nothing_else_parses() {
        let id = [0xab; 16];
        let text = encode_marker(&id);
        assert_eq!(text.len(), MARKER_LEN);
        assert_eq!(parse_marker(text.as_bytes()), Ok(id));
        let bad_id = FormatError::Invalid {
            what: "drive id (32 lowercase hex digits)",
        };
        let no_label = FormatError::BadMagic { what: "drive marker" };
        let cases: [(&[u8], FormatError); 7] = [
            (b"", no_label.clone()),
            (b"abababababababababababababababab\n", no_label),
            (
                b"seedship-drive-1:abababababababababababababababab",
                FormatError::Invalid {
                    what: "drive marker (no newline after the drive id)",
                },
            ),
            (
                b"seedship-drive-1:ABABABABABABABABABABABABABABABAB\n",
                bad_id.clone(),
            ),
            (
                b"seedship-drive-1: abababababababababababababababab\n",
                bad_id.clone(),
            ),
            (
                b"seedship-drive-1:ababababababababababababababab\n",
                bad_id.clone(),
            ),
            (b"seedship-drive-1:abababababababababababababababab\n\n", bad_id),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                parse_marker(bytes),
                Err(expected),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn drive_ids_are_32_lowercase_hex_digits() {
        assert_eq!(
            parse_drive_id("000102030405060708090a0b0c0d0e0f").map(|id| id[15]),
            Ok(15)
        );
        for bad in [
            "",
            "0001",
            "000102030405060708090A0B0C0D0E0F",
            "000102030405060708090a0b0c0d0e0g",
            "+00102030405060708090a0b0c0d0e0f",
        ] {
            assert!(parse_drive_id(bad).is_err(), "{bad}");
        }
    }
}
