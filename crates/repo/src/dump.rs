//! `dump`: one file of a snapshot, written out as it was backed up.

use crate::{
    error::{Error, Result},
    lock::LockKind,
    repository::Repo,
};
use rustic_core::{Repository, repofile::SnapshotFile};
use std::io::Write;

impl Repo {
    /// Writes file `path` of `snapshot` (an id, a unique id prefix, or `latest`) to `out` and
    /// answers how many bytes it wrote. Every blob is verified (its id is the hash of its
    /// plaintext) as it is read.
    ///
    /// # Errors
    ///
    /// [`Error::SnapshotNotFound`], [`Error::PathNotFound`] when the snapshot has no such
    /// path, [`Error::NotAFile`] for a directory or a link, [`Error::Engine`] when reading
    /// fails or `out` refuses the bytes.
    pub fn dump(&self, snapshot: &str, path: &str, out: &mut impl Write) -> Result<u64> {
        let _lock = self.lock(LockKind::Shared)?;
        let indexed = self
            .reopen()?
            .to_indexed()
            .map_err(self.fail("reading the index"))?;
        let snap = self.find_snapshot(&indexed, snapshot)?;
        let node = indexed
            .node_from_snapshot_and_path(&snap, path)
            .map_err(|_| Error::PathNotFound {
                path: path.to_owned(),
                snapshot: snapshot.to_owned(),
            })?;
        if !node.is_file() {
            return Err(Error::NotAFile {
                path: path.to_owned(),
                kind: node.node_type.to_string(),
            });
        }
        let mut counted = Counted { inner: out, bytes: 0 };
        indexed.dump(&node, &mut counted).map_err(self.fail("dumping"))?;
        Ok(counted.bytes)
    }

    /// The snapshot `snapshot` names (an id, a unique id prefix, or `latest`).
    pub(crate) fn find_snapshot<S: rustic_core::Open>(
        &self,
        repo: &Repository<S>,
        snapshot: &str,
    ) -> Result<SnapshotFile> {
        repo.get_snapshot_from_str(snapshot, |_| true).map_err(|_| {
            // Not found, unless the snapshots cannot even be read.
            match repo.get_all_snapshots() {
                Ok(_) => Error::SnapshotNotFound {
                    id: snapshot.to_owned(),
                    location: self.location.clone(),
                },
                Err(err) => self.fail("reading the snapshots")(err),
            }
        })
    }
}

/// A writer that counts what passes through it.
struct Counted<'a, W> {
    inner: &'a mut W,
    bytes: u64,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
