//! Drives on the command line: confirming what formatting a drive erases, and the summary of
//! a copy onto drives. The checks themselves are `seedship_agent`'s ([`check_overlaps`],
//! [`foreign_drives`]): a drive that holds files but no seedship drive marker is someone's
//! directory, erased only when the operator confirms on a terminal after seeing what it
//! holds, or passes [`ERASE_FLAG`]; `--yes` is not enough.
//!
//! [`check_overlaps`]: seedship_agent::check_overlaps
//! [`foreign_drives`]: seedship_agent::foreign_drives

use std::path::PathBuf;

use crate::{Context, output, prompt};

/// Whether a drive directory must be a mount point (`drive prepare`, `diskprep`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct MountArgs {
    /// Accept drive directories that are not mount points (tests, loop files): otherwise a
    /// drive that is not mounted there is refused, since the copy would fill the file system
    /// that holds the directory.
    #[arg(long)]
    pub not_a_mount_point: bool,
}

/// The flag that allows erasing a non-empty directory that is no seedship drive.
pub const ERASE_FLAG: &str = "--erase-existing-files";

/// Has the operator confirm, before anything is erased, formatting each of `drives` that
/// holds files but no seedship drive marker: `erase_given` ([`ERASE_FLAG`]), or a typed
/// `yes` on a terminal after being shown how many files and bytes it holds. A server's data
/// directory inside a drive is refused.
pub fn confirm_erase(ctx: &Context, drives: &[PathBuf], erase_given: bool) -> anyhow::Result<()> {
    for foreign in seedship_agent::foreign_drives(drives)? {
        let what = format!(
            "Erase {} file(s), {} bytes, in {}, which is no seedship drive (no {})",
            foreign.files,
            foreign.bytes,
            foreign.drive.display(),
            seedship_drive::MARKER_NAME
        );
        prompt::confirm_or_flag(ctx.json, erase_given, ERASE_FLAG, &what)?;
    }
    Ok(())
}

/// Shows the summary of a copy onto drives.
pub fn emit_copy(ctx: &Context, summary: &seedship_drive::CopySummary) -> anyhow::Result<()> {
    let doc = serde_json::json!({ "message_type": "summary", "summary": summary });
    output::emit(ctx.json, &doc, || {
        let mut lines = vec![format!(
            "session {}: wrote {} bytes, skipped {} already copied, in {:.1} s ({:.1} MB/s)",
            summary.session_id,
            summary.counters.bytes_written,
            summary.counters.bytes_skipped,
            summary.seconds,
            summary.bytes_per_second / 1e6
        )];
        for d in &summary.drives {
            lines.push(format!(
                "drive {} of {}: {} ({} segments, {} bytes), manifest {}",
                d.index,
                d.count,
                d.drive.display(),
                d.segments,
                d.stored_bytes,
                d.manifest_hash
            ));
            if let Some(device) = &d.device {
                lines.push(format!("  on {device}"));
            }
        }
        lines.join("\n")
    })
}
