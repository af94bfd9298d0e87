//! Listing snapshots.

use crate::{error::Result, report::SnapshotInfo, repository::Repo};

impl Repo {
    /// All snapshots, oldest first.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Engine`] when the snapshots cannot be read.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let mut all = self
            .inner
            .get_all_snapshots()
            .map_err(self.fail("listing snapshots"))?;
        all.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(all
            .into_iter()
            .map(|snap| SnapshotInfo {
                id: crate::report::hex(&snap.id),
                time: snap.time.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                hostname: snap.hostname,
                paths: snap.paths.iter().cloned().collect(),
                parent_id: snap.parent.map(|id| crate::report::hex(&id)),
                bytes: snap.summary.as_ref().map(|s| s.total_bytes_processed),
                files: snap.summary.as_ref().map(|s| s.total_files_processed),
            })
            .collect())
    }
}
