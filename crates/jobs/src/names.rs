//! Names a customer chooses that end up in object keys and request paths: drive ids and the
//! blob names a drive's manifest asks for. Each has one rule, checked where the name enters
//! (job creation, a drive's marker, a manifest entry, a blob write on the server), so that
//! nothing a customer writes can name a place outside the job's own destination.

use crate::job::Destination;

/// Length of a drive id: 16 random bytes as lowercase hex, as `drive prepare` writes it.
pub const DRIVE_ID_LEN: usize = 32;

/// Longest blob name accepted (bytes), Azure Blob's limit.
pub const MAX_BLOB_NAME: usize = 1024;

/// Folder of a container that holds the jobs' copy and error logs, as the Import/Export
/// service's `waimportexport`.
pub const LOG_FOLDER: &str = "waimportexport";

/// Whether `text` is a drive id: exactly [`DRIVE_ID_LEN`] lowercase hex digits.
pub fn is_drive_id(text: &str) -> bool {
    text.len() == DRIVE_ID_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Why a blob name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobNameError {
    /// The manifest's destination does not start with `<container>/`.
    #[error("destination {dst:?} is not in container {container:?}")]
    OtherContainer {
        /// The destination as the manifest gave it.
        dst: String,
        /// The job's container.
        container: String,
    },
    /// A segment is empty, `.` or `..`, or holds a control character, `\` or `#`.
    #[error(
        "blob name {name:?} has a bad segment {segment:?} (empty, '.', '..', a control character, '\\' or '#')"
    )]
    BadSegment {
        /// The blob name.
        name: String,
        /// The segment.
        segment: String,
    },
    /// Longer than [`MAX_BLOB_NAME`] bytes.
    #[error("blob name of {len} bytes is longer than {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// [`MAX_BLOB_NAME`].
        max: usize,
    },
    /// Neither under the job's prefix nor one of the job's log names.
    #[error("blob {name:?} is outside job {job}'s destination prefix {prefix:?}")]
    OutsideDestination {
        /// The blob name.
        name: String,
        /// The job.
        job: String,
        /// The job's prefix.
        prefix: String,
    },
}

/// Checks the rule every blob name follows: at most [`MAX_BLOB_NAME`] bytes of `/`-separated
/// segments, none empty, `.` or `..`, none with a control character, `\` or `#` (a URL or a
/// file system would read those as something else).
///
/// # Errors
/// [`BlobNameError::BadSegment`] or [`BlobNameError::TooLong`].
pub fn check_blob_name(name: &str) -> Result<(), BlobNameError> {
    if name.len() > MAX_BLOB_NAME {
        return Err(BlobNameError::TooLong {
            len: name.len(),
            max: MAX_BLOB_NAME,
        });
    }
    for segment in name.split('/') {
        let bad = segment.is_empty()
            || segment == "."
            || segment == ".."
            || segment.chars().any(|c| c.is_control() || c == '\\' || c == '#');
        if bad {
            return Err(BlobNameError::BadSegment {
                name: name.to_owned(),
                segment: segment.to_owned(),
            });
        }
    }
    Ok(())
}

impl Destination {
    /// The prefix without leading or trailing `/`, `""` for a whole container.
    pub fn folder(&self) -> &str {
        self.prefix.trim_matches('/')
    }

    /// The blob name a manifest destination `<container>/<path>` asks for: `path` under the
    /// job's prefix (unless it already starts with it), checked by [`check_blob_name`].
    ///
    /// # Errors
    /// [`BlobNameError::OtherContainer`] for another container, else as [`check_blob_name`].
    pub fn blob_for(&self, dst: &str) -> Result<String, BlobNameError> {
        let other = || BlobNameError::OtherContainer {
            dst: dst.to_owned(),
            container: self.container.clone(),
        };
        let (container, path) = dst.split_once('/').ok_or_else(other)?;
        if container != self.container {
            return Err(other());
        }
        let folder = self.folder();
        let blob = if folder.is_empty() || path.starts_with(&format!("{folder}/")) {
            path.to_owned()
        } else {
            format!("{folder}/{path}")
        };
        check_blob_name(&blob)?;
        Ok(blob)
    }

    /// Checks that job `job` may write blob `name` of its container: a valid blob name under
    /// the prefix, or one of the job's own log names ([`is_log_name`]).
    ///
    /// # Errors
    /// As [`check_blob_name`], or [`BlobNameError::OutsideDestination`].
    pub fn check_writable(&self, job: &str, name: &str) -> Result<(), BlobNameError> {
        check_blob_name(name)?;
        let folder = self.folder();
        let under_prefix = folder.is_empty() || name.starts_with(&format!("{folder}/"));
        if under_prefix || is_log_name(job, name) {
            Ok(())
        } else {
            Err(BlobNameError::OutsideDestination {
                name: name.to_owned(),
                job: job.to_owned(),
                prefix: self.prefix.clone(),
            })
        }
    }
}

/// Whether `name` is a log blob of job `job`:
/// `waimportexport/<job>_<drive id>_<YYYYMMDDTHHMMSSZ>_{copy,error}.json`.
pub fn is_log_name(job: &str, name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(LOG_FOLDER)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_prefix(job))
        .and_then(|r| r.strip_prefix('_'))
    else {
        return false;
    };
    let Some(stamp_and_kind) = rest
        .get(..DRIVE_ID_LEN)
        .filter(|id| is_drive_id(id))
        .and_then(|_| rest[DRIVE_ID_LEN..].strip_prefix('_'))
    else {
        return false;
    };
    let Some((stamp, kind)) = stamp_and_kind.split_once('_') else {
        return false;
    };
    let stamp_ok = stamp.len() == 16
        && stamp.bytes().enumerate().all(|(i, b)| match i {
            8 => b == b'T',
            15 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    stamp_ok && matches!(kind, "copy.json" | "error.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Disposition;

    fn destination(prefix: &str) -> Destination {
        Destination {
            storage_account: "acme".into(),
            container: "seed".into(),
            prefix: prefix.into(),
            disposition: Disposition::Rename,
        }
    }

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn drive_ids_are_32_lowercase_hex() {
        assert!(is_drive_id(ID));
        for bad in [
            "",
            "x/../../..",
            &ID.to_uppercase(),
            &ID[1..],
            &format!("{ID}0"),
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert!(!is_drive_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn manifest_destinations_stay_under_the_prefix() {
        let d = destination("host1/");
        assert_eq!(d.blob_for("seed/a/b").as_deref(), Ok("host1/a/b"));
        assert_eq!(d.blob_for("seed/host1/a").as_deref(), Ok("host1/a"));
        assert!(matches!(
            d.blob_for("other/a"),
            Err(BlobNameError::OtherContainer { .. })
        ));
        assert!(matches!(
            d.blob_for("seed"),
            Err(BlobNameError::OtherContainer { .. })
        ));
        for bad in [
            "seed/",
            "seed/../x",
            "seed/a/../../x",
            "seed/host1/../../other/x",
            "seed/a//b",
            "seed/a/./b",
            "seed/a\\b",
            "seed/a\nb",
        ] {
            assert!(
                matches!(d.blob_for(bad), Err(BlobNameError::BadSegment { .. })),
                "{bad:?}"
            );
        }
        let long = format!("seed/{}", "a".repeat(MAX_BLOB_NAME));
        assert!(matches!(d.blob_for(&long), Err(BlobNameError::TooLong { .. })));
        assert_eq!(destination("").blob_for("seed/a").as_deref(), Ok("a"));
    }

    #[test]
    fn a_job_writes_under_its_prefix_and_its_own_logs_only() {
        let d = destination("host1");
        let log = format!("{LOG_FOLDER}/seed-one_{ID}_20261206T235959Z_copy.json");
        assert!(d.check_writable("seed-one", "host1/a").is_ok());
        assert!(d.check_writable("seed-one", &log).is_ok());
        assert!(
            d.check_writable("seed-one", &log.replace("_copy", "_error"))
                .is_ok()
        );
        for bad in [
            "host2/a",
            "host1",
            &log.replace("seed-one", "seed-two"),
            &log.replace("_copy", "_other"),
            &log.replace(ID, "x"),
            &log.replace("T235959Z", "T23595xZ"),
            &format!("{LOG_FOLDER}/seed-one_{ID}_20261206T235959Z_copy.json/x"),
        ] {
            assert!(d.check_writable("seed-one", bad).is_err(), "{bad:?}");
        }
        assert!(destination("").check_writable("j", "anything/at/all").is_ok());
    }
}
