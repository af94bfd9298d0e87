//! Files that are either fully written or not there: temporary file, fsync, rename, fsync of
//! the directory. (Moved from the CLI unchanged; one of the workspace's atomic-write helpers,
//! see issue 16.)

use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` atomically and durably.
pub(crate) fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let temp = parent.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let attempt = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(parent)?.sync_all()
    };
    attempt().inspect_err(|_| {
        // Give a full disk its space back; the removal's own failure would hide the cause.
        let _ = std::fs::remove_file(&temp);
    })
}
