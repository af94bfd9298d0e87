//! Pure on-drive and in-journal format types and their byte encodings. No I/O here.

mod codec;
mod csv;
mod drive_key;
mod envelope;
mod marker;
mod names;
mod records;

pub use csv::{DatasetRow, DrivesetRow, parse_dataset, parse_driveset};
pub use drive_key::{DRIVE_KEY_LABEL, DRIVE_KEY_LEN, encode_drive_key, parse_drive_key};
pub use envelope::{
    KdfParams, NONCE_LEN, PUBLIC_KEY_LABEL, SECRET_KEY_LABEL, Sealed, TAG_LEN, WrappedKey, decode_key_file,
    encode_key_file,
};
pub use marker::{MARKER_LABEL, MARKER_LEN, encode_marker, parse_drive_id, parse_marker};
pub use names::{check_destination, check_session_id};
pub use records::{
    BlobType, Disposition, MANIFEST_MAGIC, MAX_DRIVES, MAX_FILE_SIZE, MAX_MANIFEST_LEN, Manifest,
    ManifestEntry, Plan, RANGE_OVERHEAD, RANGE_SIZE, RangeCipher, SegmentSpec, SetPosition,
    decode_manifest_file, encode_manifest_file, range_aad, value_aad,
};

/// Lowercase hex of `bytes` (drive ids, checksums, wrapped keys in records meant for people
/// and for the import job).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses [`to_hex`]'s output (either case); `what` names the value in the error.
///
/// # Errors
/// [`FormatError::Invalid`] for an odd length or a character that is not a hex digit.
pub fn from_hex(text: &str, what: &'static str) -> Result<Vec<u8>, FormatError> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(FormatError::Invalid { what });
    }
    let nibble = |c: u8| char::from(c).to_digit(16).ok_or(FormatError::Invalid { what });
    digits
        .chunks(2)
        .map(|pair| Ok((nibble(pair[0])? * 16 + nibble(pair[1])?) as u8))
        .collect()
}

/// A malformed encoding or input text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The bytes end before `what`.
    #[error("truncated {what}")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// `what` has an invalid value.
    #[error("invalid {what}")]
    Invalid {
        /// The field being read.
        what: &'static str,
    },
    /// The bytes do not start with the expected magic.
    #[error("not a seedship {what}")]
    BadMagic {
        /// What was expected.
        what: &'static str,
    },
    /// A format version this build does not read.
    #[error("unsupported format version {version}")]
    UnsupportedVersion {
        /// The version found.
        version: u32,
    },
    /// A plan or manifest records a range size other than the format's.
    #[error("range size {found}, but the format's range size is {expected}")]
    RangeSize {
        /// The range size recorded.
        found: u32,
        /// [`RANGE_SIZE`].
        expected: u32,
    },
    /// Bytes after the end of `what`.
    #[error("trailing bytes after {what}")]
    TrailingBytes {
        /// What was decoded.
        what: &'static str,
    },
    /// A session id breaks the naming rule.
    #[error("bad session id {id:?}: {reason}")]
    BadSessionId {
        /// The id given.
        id: String,
        /// The rule broken.
        reason: &'static str,
    },
    /// A destination breaks the naming rule.
    #[error("bad destination {dst:?}: {reason}")]
    BadDestination {
        /// The destination given.
        dst: String,
        /// The rule broken.
        reason: &'static str,
    },
    /// A CSV line is malformed.
    #[error("line {line}: {message}")]
    Csv {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
}
