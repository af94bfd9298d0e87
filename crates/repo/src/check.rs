//! Checking a repository's integrity.

use crate::{error::Result, report::CheckReport, repository::Repo};
use rustic_core::CheckOptions;

impl Repo {
    /// Checks the repository: index, packs, snapshots and trees; with `read_data`, also reads
    /// and verifies every pack. Findings are in the report; an empty `errors` list means the
    /// repository is sound.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Engine`] when the check itself cannot run.
    pub fn check(&self, read_data: bool) -> Result<CheckReport> {
        let _lock = self.lock(crate::lock::LockKind::Shared)?;
        let results = self
            .inner
            .check(CheckOptions::default().read_data(read_data))
            .map_err(self.fail("check"))?;
        let mut report = CheckReport {
            read_data,
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        for (level, finding) in results.0 {
            let text = finding.to_string();
            // rustic_core does not export its level type; its `Error` variant is the one
            // that makes `CheckResults::is_ok` fail.
            if format!("{level:?}") == "Error" {
                report.errors.push(text);
            } else {
                report.warnings.push(text);
            }
        }
        Ok(report)
    }
}
