use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::{Error, Result};

/// What a [`Store::put`] does when the key already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Replace the existing object atomically.
    Overwrite,
    /// Fail with [`Error::AlreadyExists`] if the object exists; atomic against concurrent writers.
    Create,
}

/// A byte range of a read, as HTTP `Range: bytes=...` expresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRange {
    /// Bytes `start..end` (end exclusive).
    Bounded(Range<u64>),
    /// Every byte from this offset to the end.
    From(u64),
    /// The last `n` bytes.
    Suffix(u64),
}

/// Name, size and time of last change of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// When the object was last written, as the backend reports it (a local file's mtime, a
    /// blob's `Last-Modified`).
    pub modified: std::time::SystemTime,
}

/// A read in progress: the object's total size, the byte range being returned and its bytes.
pub struct ObjectRead {
    /// Size of the whole object.
    pub size: u64,
    /// The range of the object `stream` yields.
    pub range: Range<u64>,
    /// The bytes, in order, in chunks of the backend's choosing.
    pub stream: BoxStream<'static, Result<Bytes>>,
}

impl std::fmt::Debug for ObjectRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectRead")
            .field("size", &self.size)
            .field("range", &self.range)
            .finish()
    }
}

/// A streaming upload started by [`Store::writer`].
///
/// Nothing is visible under the key until [`ObjectWriter::finish`] returns `Ok`; dropping the
/// writer or calling [`ObjectWriter::abort`] leaves the key as it was.
#[async_trait]
pub trait ObjectWriter: Send {
    /// Appends `data`; may upload a part in the background once enough is buffered.
    async fn write(&mut self, data: Bytes) -> Result<()>;
    /// Completes the upload and makes the object visible at once; returns its size.
    async fn finish(self: Box<Self>) -> Result<u64>;
    /// Discards everything written so far.
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// The object storage the server writes to.
///
/// # Contract
///
/// Every implementation, whatever service is behind it, must behave as follows; the
/// `conformance` functions (feature `testing`) check each point.
///
/// - **Keys** are `/`-separated strings accepted by [`validate_key`]: no empty segment, no
///   leading or trailing `/`, no `.` or `..` segment. A key names one object; there are no
///   directories, only shared key prefixes.
/// - **Atomic visibility.** A [`put`](Store::put) or a finished [`writer`](Store::writer)
///   replaces or creates the object in one step: a reader sees the old object, or no object,
///   or the complete new one, never a part. An upload that fails or is aborted leaves nothing
///   visible.
/// - **Create if absent.** `put(.., PutMode::Create)` fails with [`Error::AlreadyExists`] if the
///   key exists, and of two concurrent creates exactly one succeeds.
/// - **Read your writes.** After a write returns `Ok`, `get`, `head` and `list` (on every
///   process using the same store) see it.
/// - **Reads** return [`Error::NotFound`] for a missing key. A range read returns exactly the
///   requested bytes; a bounded range running past the end is cut at the end; a range
///   starting at or beyond the end is [`Error::InvalidRange`]. Reads stream: no implementation
///   holds a whole object in memory.
/// - **List** yields every object whose key starts with `prefix` followed by `/` (the prefix is
///   matched on whole segments, so `a/b` lists `a/b/c` but not `a/bc`), recursively, each
///   exactly once, in no particular order, with its size. An empty prefix lists everything.
/// - **Times.** `head` and `list` report each object's time of last write (`modified`).
/// - **Delete** removes the object; deleting a missing key is not an error (S3 semantics), so
///   callers that must report "not found" check with `head` first.
/// - **Rename if absent.** [`rename_if_absent`](Store::rename_if_absent) moves an object to a
///   key only if no object is there (else [`Error::AlreadyExists`], both objects untouched);
///   of two concurrent moves to one key exactly one succeeds. Services do it server-side:
///   a hard link on a local directory, a conditional copy on Azure Blob and S3.
/// - **Copy and rename** overwrite the destination and are server-side (no bytes through this
///   process). Rename is copy-then-delete on services without a native move: the source may
///   survive a crash in between, the destination is always complete.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Writes `data` under `key` in one request.
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()>;
    /// Starts a streaming (multipart) upload to `key`, overwriting on finish.
    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>>;
    /// Reads the whole object, or `range` of it.
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<ObjectRead>;
    /// The object's size, without its bytes.
    async fn head(&self, key: &str) -> Result<ObjectInfo>;
    /// Every object under `prefix` (whole segments), recursively.
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectInfo>>;
    /// Removes the object if it exists.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Copies `from` to `to` inside the store, overwriting `to`.
    async fn copy(&self, from: &str, to: &str) -> Result<()>;
    /// Moves `from` to `to` inside the store, overwriting `to`.
    async fn rename(&self, from: &str, to: &str) -> Result<()>;
    /// Moves `from` to `to` inside the store unless `to` exists ([`Error::AlreadyExists`]):
    /// the create-if-absent of an object written first under another key (a streamed upload).
    async fn rename_if_absent(&self, from: &str, to: &str) -> Result<()>;
}

/// Checks that `key` is a valid object key (see the contract of [`Store`]).
///
/// # Errors
///
/// [`Error::InvalidKey`] naming the rule the key breaks.
pub fn validate_key(key: &str) -> Result<()> {
    let invalid = |reason| {
        Err(Error::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("empty");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return invalid("empty segment (leading, trailing or double '/')");
        }
        if segment == "." || segment == ".." {
            return invalid("'.' or '..' segment");
        }
        if segment.chars().any(|c| c.is_control() || c == '\\' || c == '#') {
            return invalid("control character, '\\' or '#'");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_key;

    #[test]
    fn keys_are_validated() {
        assert!(validate_key("vaults/v1/data/ab/abcdef").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a/../b", "a/./b", "a\\b", "a#b", "a\nb"] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
    }
}
