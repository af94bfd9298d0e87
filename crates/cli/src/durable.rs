//! Files that are either fully written or not there: temporary file, fsync, rename, fsync of
//! the directory.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

/// Writes `contents` to `path` atomically and durably.
pub fn write(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let temp = parent.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let attempt = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(parent)?.sync_all()
    };
    attempt()
        .inspect_err(|_| {
            // Give a full disk its space back; the removal's own failure would hide the cause.
            let _ = std::fs::remove_file(&temp);
        })
        .with_context(|| format!("writing {}", path.display()))
}
