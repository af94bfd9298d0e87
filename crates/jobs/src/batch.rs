//! The body of a batch upload: many small blobs of a job's container in one request, so that
//! a drive of small files does not cost one round trip, one job lookup and one fsync wait
//! per file (see `docs/http-api.md`, "Batch of blobs").
//!
//! The body is a sequence of entries, nothing before or after:
//!
//! ```text
//! u16 LE   name length n (1..=MAX_BATCH_NAME)
//! n bytes  blob name, UTF-8, relative to the container
//! u64 LE   data length d
//! 32 bytes BLAKE3 of the data
//! d bytes  data
//! ```
//!
//! At most [`MAX_BATCH_ENTRIES`] entries and [`MAX_BATCH_BODY`] bytes in all.

/// Entries of one batch, at most.
pub const MAX_BATCH_ENTRIES: usize = 1024;
/// Bytes of one batch body (headers and data), at most.
pub const MAX_BATCH_BODY: usize = 16 << 20;
/// Bytes of one blob name, at most.
pub const MAX_BATCH_NAME: usize = 1024;

/// One blob of a batch, borrowing its data from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry<'a> {
    /// Blob name relative to the container.
    pub name: &'a str,
    /// BLAKE3 the data must hash to.
    pub blake3: [u8; 32],
    /// The blob's bytes.
    pub data: &'a [u8],
}

/// Why a batch body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The body ends inside an entry.
    #[error("batch entry {index} is cut short at byte {offset}")]
    Truncated { index: usize, offset: usize },
    /// A name is empty, too long or not UTF-8.
    #[error("batch entry {index} has an invalid name: {reason}")]
    BadName { index: usize, reason: &'static str },
    /// More entries or bytes than a batch may carry.
    #[error("batch too large: {what}")]
    TooLarge { what: &'static str },
    /// No entry at all.
    #[error("batch is empty")]
    Empty,
}

impl BatchEntry<'_> {
    /// Appends the entry's encoding to `out`.
    ///
    /// # Panics
    /// If the name is longer than `u16::MAX` bytes (callers keep to [`MAX_BATCH_NAME`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let name_len = u16::try_from(self.name.len()).expect("batch name fits u16");
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&(self.data.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.blake3);
        out.extend_from_slice(self.data);
    }

    /// Bytes the entry takes in a body.
    #[must_use]
    pub fn encoded_len(name: &str, data_len: usize) -> usize {
        2 + name.len() + 8 + 32 + data_len
    }
}

/// Splits a whole batch body into its entries (hashes are not checked here).
///
/// # Errors
/// [`BatchError`] naming the first entry that breaks the format or a limit.
pub fn decode_batch(body: &[u8]) -> Result<Vec<BatchEntry<'_>>, BatchError> {
    if body.len() > MAX_BATCH_BODY {
        return Err(BatchError::TooLarge {
            what: "body over 16 MiB",
        });
    }
    let mut entries = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let index = entries.len();
        if index == MAX_BATCH_ENTRIES {
            return Err(BatchError::TooLarge {
                what: "more than 1024 entries",
            });
        }
        let mut take = |n: usize| -> Result<&[u8], BatchError> {
            let end = at
                .checked_add(n)
                .filter(|&end| end <= body.len())
                .ok_or(BatchError::Truncated { index, offset: at })?;
            let bytes = &body[at..end];
            at = end;
            Ok(bytes)
        };
        let name_len = usize::from(u16::from_le_bytes(take(2)?.try_into().expect("2 bytes")));
        if name_len == 0 || name_len > MAX_BATCH_NAME {
            return Err(BatchError::BadName {
                index,
                reason: "length must be 1 to 1024 bytes",
            });
        }
        let name = std::str::from_utf8(take(name_len)?).map_err(|_| BatchError::BadName {
            index,
            reason: "not UTF-8",
        })?;
        let data_len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let blake3: [u8; 32] = take(32)?.try_into().expect("32 bytes");
        let data = take(usize::try_from(data_len).unwrap_or(usize::MAX))?;
        entries.push(BatchEntry { name, blake3, data });
    }
    if entries.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode_all(entries: &[BatchEntry<'_>]) -> Vec<u8> {
        let mut body = Vec::new();
        for entry in entries {
            entry.encode(&mut body);
        }
        body
    }

    proptest! {
        #[test]
        fn entries_round_trip(items in prop::collection::vec(("[a-z0-9/ é]{1,40}", prop::collection::vec(any::<u8>(), 0..300), any::<[u8; 32]>()), 1..20)) {
            let entries: Vec<BatchEntry<'_>> = items
                .iter()
                .map(|(name, data, blake3)| BatchEntry { name, blake3: *blake3, data })
                .collect();
            let body = encode_all(&entries);
            let expected: usize = entries.iter().map(|e| BatchEntry::encoded_len(e.name, e.data.len())).sum();
            prop_assert_eq!(body.len(), expected);
            prop_assert_eq!(decode_batch(&body).expect("decodes"), entries);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_what_decodes_re_encodes(body in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(entries) = decode_batch(&body) {
                prop_assert_eq!(encode_all(&entries), body);
            }
        }

        #[test]
        fn every_cut_is_refused(cut in 1usize..100) {
            let entry = BatchEntry { name: "index/00001", blake3: [7; 32], data: &[1; 40] };
            let body = encode_all(&[entry]);
            let cut = cut.min(body.len() - 1);
            let refused = matches!(decode_batch(&body[..cut]), Err(BatchError::Truncated { index: 0, .. }));
            prop_assert!(refused);
        }
    }

    #[test]
    fn limits_and_bad_names_are_refused() {
        assert_eq!(decode_batch(&[]), Err(BatchError::Empty));
        let mut body = Vec::new();
        body.extend_from_slice(&0u16.to_le_bytes());
        assert!(matches!(
            decode_batch(&body),
            Err(BatchError::BadName { index: 0, .. })
        ));
        let mut body = Vec::new();
        body.extend_from_slice(&2u16.to_le_bytes());
        body.extend_from_slice(&[0xff, 0xfe]);
        body.extend_from_slice(&[0; 40]);
        assert_eq!(
            decode_batch(&body),
            Err(BatchError::BadName {
                index: 0,
                reason: "not UTF-8"
            })
        );
        let many = vec![
            BatchEntry {
                name: "a",
                blake3: [0; 32],
                data: &[],
            };
            MAX_BATCH_ENTRIES + 1
        ];
        assert!(matches!(
            decode_batch(&encode_all(&many)),
            Err(BatchError::TooLarge { .. })
        ));
        let huge_len = {
            let mut body = Vec::new();
            BatchEntry {
                name: "a",
                blake3: [0; 32],
                data: &[],
            }
            .encode(&mut body);
            body[3..11].copy_from_slice(&u64::MAX.to_le_bytes());
            body
        };
        assert!(matches!(
            decode_batch(&huge_len),
            Err(BatchError::Truncated { index: 0, .. })
        ));
    }
}
