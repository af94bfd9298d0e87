//! restic's pack files and unpacked repository files, as the first-backup writer makes them
//! (restic's design document, "Pack Format" and "Repository Format"; rustic_core keeps its
//! writers private).
//!
//! A pack is its sealed blobs one after the other, then its sealed header, then the header's
//! sealed length as 4 bytes little-endian. Each header entry is a type byte (0 data, 1 tree; 2
//! and 3 the same compressed), the sealed blob's length (u32 LE), for a compressed blob its
//! plaintext length (u32 LE), and the plaintext's SHA-256. A pack is named by the SHA-256 of
//! its bytes. An unpacked file (index, snapshot) of a version 2 repository is the sealed
//! bytes of `0x02` followed by its zstd-compressed JSON, named by the SHA-256 of what is stored.

use rustic_core::{
    Id,
    jiff::Timestamp,
    repofile::{BlobType, PackId},
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::num::NonZeroU32;

/// A blob's or file's SHA-256.
pub(crate) type Hash = [u8; 32];

/// One pack being filled.
pub(crate) struct PackBuilder {
    bytes: Vec<u8>,
    blobs: Vec<PackedBlob>,
}

/// Where a blob is in its pack, for the header and the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedBlob {
    pub(crate) kind: BlobType,
    pub(crate) id: Hash,
    pub(crate) offset: u32,
    pub(crate) length: u32,
    pub(crate) uncompressed: Option<NonZeroU32>,
}

impl PackBuilder {
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::with_capacity(0)
    }

    /// A pack whose bytes are reserved at once: a pack grown by doubling leaves its smaller
    /// buffers to the allocator.
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self::in_buffer(Vec::with_capacity(bytes))
    }

    /// A pack built in `buffer`, a finished pack's bytes given back: a pack writer that
    /// reuses its buffers keeps a fixed set of them instead of the allocator's leftovers.
    pub(crate) fn in_buffer(mut buffer: Vec<u8>) -> Self {
        buffer.clear();
        Self {
            bytes: buffer,
            blobs: Vec::new(),
        }
    }

    /// Adds a sealed blob: its plaintext's `id`, and the plaintext's length when it was
    /// compressed before sealing.
    ///
    /// # Panics
    ///
    /// When the pack would pass 4 GiB (packs are cut at a few tens of MiB).
    pub(crate) fn add(&mut self, kind: BlobType, id: Hash, sealed: &[u8], uncompressed: Option<NonZeroU32>) {
        let offset = u32::try_from(self.bytes.len()).expect("packs stay below 4 GiB");
        let length = u32::try_from(sealed.len()).expect("blobs stay below 4 GiB");
        self.bytes.extend_from_slice(sealed);
        self.blobs.push(PackedBlob {
            kind,
            id,
            offset,
            length,
            uncompressed,
        });
    }

    /// Bytes of sealed blobs so far.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Blobs so far.
    pub(crate) fn count(&self) -> usize {
        self.blobs.len()
    }

    /// The finished pack: its id, its bytes and its index entry. `seal` seals the header.
    pub(crate) fn finish(mut self, seal: impl FnOnce(&[u8]) -> Vec<u8>) -> (PackId, Vec<u8>, IndexedPack) {
        let header = seal(&header(&self.blobs));
        let header_len = u32::try_from(header.len()).expect("a header of at most 10,000 entries");
        self.bytes.extend_from_slice(&header);
        self.bytes.extend_from_slice(&header_len.to_le_bytes());
        let id = sha256(&self.bytes);
        let pack = IndexedPack {
            id: hex(&id),
            time: Timestamp::now().to_string(),
            size: self.bytes.len() as u64,
            blobs: self.blobs.iter().map(IndexedBlob::from).collect(),
        };
        (PackId::from(Id::new(id)), self.bytes, pack)
    }
}

/// The plaintext header of a pack holding `blobs`.
fn header(blobs: &[PackedBlob]) -> Vec<u8> {
    let mut header = Vec::with_capacity(blobs.len() * 41);
    for blob in blobs {
        let kind = match (blob.kind, blob.uncompressed.is_some()) {
            (BlobType::Data, false) => 0u8,
            (BlobType::Tree, false) => 1,
            (BlobType::Data, true) => 2,
            (BlobType::Tree, true) => 3,
        };
        header.push(kind);
        header.extend_from_slice(&blob.length.to_le_bytes());
        if let Some(length) = blob.uncompressed {
            header.extend_from_slice(&length.get().to_le_bytes());
        }
        header.extend_from_slice(&blob.id);
    }
    header
}

/// An index file (restic's design document, "Indexing"): the packs it names.
#[derive(Debug, Serialize)]
pub(crate) struct IndexFile {
    pub(crate) packs: Vec<IndexedPack>,
}

/// A pack as an index file names it.
#[derive(Debug, Serialize)]
pub(crate) struct IndexedPack {
    id: String,
    /// When the pack was written (rustic_core's addition, which restic ignores).
    time: String,
    /// The pack's size in bytes (rustic_core's addition).
    size: u64,
    pub(crate) blobs: Vec<IndexedBlob>,
}

/// A blob as an index file names it.
#[derive(Debug, Serialize)]
pub(crate) struct IndexedBlob {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    offset: u32,
    length: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    uncompressed_length: Option<NonZeroU32>,
}

impl From<&PackedBlob> for IndexedBlob {
    fn from(blob: &PackedBlob) -> Self {
        Self {
            id: hex(&blob.id),
            kind: match blob.kind {
                BlobType::Data => "data",
                BlobType::Tree => "tree",
            },
            offset: blob.offset,
            length: blob.length,
            uncompressed_length: blob.uncompressed,
        }
    }
}

fn hex(id: &Hash) -> String {
    Id::new(*id).to_hex().to_string()
}

/// The SHA-256 of `bytes`: a blob's or a repository file's id.
pub(crate) fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// What a version 2 repository stores for an unpacked file whose JSON is `json`, before
/// sealing: `0x02` and the JSON compressed at `level`.
pub(crate) fn compressed_file(json: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    let mut plain = vec![2u8];
    plain.extend_from_slice(&zstd::bulk::compress(json, level)?);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_is_its_blobs_its_sealed_header_and_the_header_length() {
        let mut pack = PackBuilder::new();
        pack.add(BlobType::Data, [1; 32], b"first sealed", NonZeroU32::new(100));
        pack.add(BlobType::Tree, [2; 32], b"second", None);
        assert_eq!((pack.len(), pack.count()), (18, 2));
        // A "seal" that only marks its input, so the header can be read back.
        let (pack_id, bytes, index) = pack.finish(|plain| [b"<".as_slice(), plain, b">"].concat());
        let header_len = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4 bytes")) as usize;
        let header = &bytes[bytes.len() - 4 - header_len..bytes.len() - 4];
        assert_eq!(&bytes[..18], b"first sealedsecond");
        let mut expected = b"<".to_vec();
        expected.push(2);
        expected.extend_from_slice(&12u32.to_le_bytes());
        expected.extend_from_slice(&100u32.to_le_bytes());
        expected.extend_from_slice(&[1; 32]);
        expected.push(1);
        expected.extend_from_slice(&6u32.to_le_bytes());
        expected.extend_from_slice(&[2; 32]);
        expected.push(b'>');
        assert_eq!(header, expected.as_slice());
        assert_eq!(*pack_id, Id::new(sha256(&bytes)));
        assert_eq!(index.size, bytes.len() as u64);
        // The index entry as restic reads it.
        let json = serde_json::to_value(&IndexFile { packs: vec![index] }).expect("json");
        let pack = &json["packs"][0];
        assert_eq!(pack["id"], hex(&sha256(&bytes)));
        assert_eq!(pack["blobs"][0]["type"], "data");
        assert_eq!(pack["blobs"][0]["uncompressed_length"], 100);
        assert_eq!(pack["blobs"][1]["type"], "tree");
        assert_eq!(pack["blobs"][1]["offset"], 12);
        assert_eq!(pack["blobs"][1]["length"], 6);
        assert!(pack["blobs"][1].get("uncompressed_length").is_none());
        // rustic_core reads it as its own index file.
        let parsed: rustic_core::repofile::IndexFile =
            serde_json::from_value(json).expect("rustic_core's index file");
        assert_eq!(parsed.packs[0].blobs.len(), 2);
        assert_eq!(parsed.packs[0].pack_size(), bytes.len() as u32);
    }

    #[test]
    fn an_unpacked_file_is_marked_compressed_and_decompresses_to_its_json() {
        let json = br#"{"packs":[]}"#;
        let stored = compressed_file(json, 3).expect("compressed");
        assert_eq!(stored[0], 2);
        assert_eq!(zstd::decode_all(&stored[1..]).expect("zstd"), json);
    }
}
