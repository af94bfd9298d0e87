//! What to do when a blob's destination name is taken: rename (default), no-overwrite,
//! overwrite; and the rename pattern.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::log::DispositionOutcome;

/// How many numbered names [`place_blob`] tries before giving up with `RenameFailed`.
pub const MAX_RENAME_ATTEMPTS: u32 = 1000;

/// The disposition of a job (or a data set) when a blob name already exists.
/// Written `rename`, `no-overwrite`, `overwrite` on the wire and on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// Keep the existing blob and give the new one a numbered name (the default).
    #[default]
    Rename,
    /// Keep the existing blob and skip the new one.
    NoOverwrite,
    /// Replace the existing blob.
    Overwrite,
}

/// Where a blob goes and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The final blob name (the requested one unless renamed).
    pub blob: String,
    /// What the disposition did; `Skipped` means nothing is to be written.
    pub outcome: DispositionOutcome,
}

impl Disposition {
    /// The disposition's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rename => "rename",
            Self::NoOverwrite => "no-overwrite",
            Self::Overwrite => "overwrite",
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Disposition {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Rename, Self::NoOverwrite, Self::Overwrite]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| Error::UnknownDisposition { value: s.to_owned() })
    }
}

/// Decides the final name of blob `requested` given which names exist.
///
/// With [`Disposition::Rename`] and a taken name, tries [`numbered_name`]`(requested, 1)`,
/// `(…, 2)` and so on, up to [`MAX_RENAME_ATTEMPTS`].
///
/// # Errors
/// [`Error::RenameFailed`] when every numbered name up to the limit is taken.
pub fn place_blob(
    requested: &str,
    disposition: Disposition,
    mut exists: impl FnMut(&str) -> bool,
) -> Result<Placement, Error> {
    if !exists(requested) {
        return Ok(Placement {
            blob: requested.to_owned(),
            outcome: DispositionOutcome::Created,
        });
    }
    match disposition {
        Disposition::NoOverwrite => Ok(Placement {
            blob: requested.to_owned(),
            outcome: DispositionOutcome::Skipped,
        }),
        Disposition::Overwrite => Ok(Placement {
            blob: requested.to_owned(),
            outcome: DispositionOutcome::Overwritten,
        }),
        Disposition::Rename => (1..=MAX_RENAME_ATTEMPTS)
            .map(|n| numbered_name(requested, n))
            .find(|candidate| !exists(candidate))
            .map(|blob| Placement {
                blob,
                outcome: DispositionOutcome::Renamed,
            })
            .ok_or_else(|| Error::RenameFailed {
                blob: requested.to_owned(),
                attempts: MAX_RENAME_ATTEMPTS,
            }),
    }
}

/// The `n`th rename of `name`: ` (n)` inserted before the extension of the last path
/// segment, as Windows Explorer and the Import/Export tool do.
///
/// The extension starts at the segment's last `.` unless that dot is the segment's first
/// character (`dir/.profile` becomes `dir/.profile (1)`); `a/b.tar.gz` becomes `a/b.tar (1).gz`;
/// `dir.d/file` becomes `dir.d/file (1)`.
pub fn numbered_name(name: &str, n: u32) -> String {
    let segment_start = name.rfind('/').map_or(0, |slash| slash + 1);
    match name[segment_start..].rfind('.') {
        Some(dot) if dot > 0 => {
            let dot = segment_start + dot;
            format!("{} ({n}){}", &name[..dot], &name[dot..])
        }
        _ => format!("{name} ({n})"),
    }
}
