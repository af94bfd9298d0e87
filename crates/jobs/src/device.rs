//! What a preparing machine knows about the device behind a drive directory: recorded in the
//! journal, the job's drive record, the custody log and the copy log, so that the data centre
//! can match the physical drive it holds (docs/design.md, "Drives that are disks").

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The longest text a [`DeviceInfo`] field may hold, in bytes (a model, a serial and a path
/// are far shorter; a job spec is the owner's input).
pub const MAX_DEVICE_TEXT: usize = 4096;

/// The device behind a drive directory, as the system reports it (Linux: the mount table
/// `/proc/self/mountinfo`, `/sys/dev/block/<major>:<minor>`, `statvfs`). Every member is
/// always present (`null` when unknown), so the custody log hashes one form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The mount point of the file system holding the drive directory.
    pub mount_point: String,
    /// Whether the drive directory is that mount point (else it was prepared with
    /// `--not-a-mount-point`, e.g. a test directory or a loop file).
    pub is_mount_point: bool,
    /// The mount's source, e.g. `/dev/sdb1` or `tmpfs`.
    pub source: String,
    /// The file system type, e.g. `ext4`.
    pub fs_type: String,
    /// The file system's device number, `major:minor`.
    pub dev: String,
    /// The block device's name, e.g. `sdb1` (`null` for a file system without one, e.g. tmpfs).
    pub block_device: Option<String>,
    /// The whole disk: the parent of a partition, else the block device itself.
    pub disk: Option<String>,
    /// The disk's model.
    pub model: Option<String>,
    /// The disk's serial number.
    pub serial: Option<String>,
    /// The block device's size in bytes.
    pub device_bytes: Option<u64>,
    /// The file a loop device reads.
    pub backing_file: Option<String>,
    /// The file system's size in bytes (`statvfs`).
    pub fs_bytes: u64,
}

impl DeviceInfo {
    /// Checks the lengths of the texts, naming the field under `field` (e.g. `drives[0].device`).
    ///
    /// # Errors
    /// [`Error::ValueTooLarge`] for a text longer than [`MAX_DEVICE_TEXT`].
    pub fn check(&self, field: &str) -> Result<(), Error> {
        let texts = [
            ("mount_point", Some(&self.mount_point)),
            ("source", Some(&self.source)),
            ("fs_type", Some(&self.fs_type)),
            ("dev", Some(&self.dev)),
            ("block_device", self.block_device.as_ref()),
            ("disk", self.disk.as_ref()),
            ("model", self.model.as_ref()),
            ("serial", self.serial.as_ref()),
            ("backing_file", self.backing_file.as_ref()),
        ];
        for (name, text) in texts {
            let len = text.map_or(0, String::len);
            if len > MAX_DEVICE_TEXT {
                return Err(Error::ValueTooLarge {
                    field: format!("{field}.{name}"),
                    value: len as u64,
                    max: MAX_DEVICE_TEXT as u64,
                });
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for DeviceInfo {
    /// One line a person matches a drive by: `disk sdb (model M, serial S, 500107862016 bytes),
    /// /dev/sdb1 ext4 mounted at /mnt/d1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unknown = "unknown";
        match &self.disk {
            Some(disk) => write!(
                f,
                "disk {disk} (model {}, serial {}, {} bytes), ",
                self.model.as_deref().unwrap_or(unknown),
                self.serial.as_deref().unwrap_or(unknown),
                self.device_bytes
                    .map_or_else(|| unknown.to_owned(), |b| b.to_string()),
            )?,
            None => f.write_str("no block device, ")?,
        }
        write!(f, "{} {} ", self.source, self.fs_type)?;
        if self.is_mount_point {
            write!(f, "mounted at {}", self.mount_point)
        } else {
            write!(f, "inside the mount at {} (not a mount point)", self.mount_point)
        }
    }
}
