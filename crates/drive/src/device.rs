//! The device behind a drive directory: whether the directory is a mount point, and what the
//! system knows of the file system and the disk under it, from the mount table
//! (`/proc/self/mountinfo`), `/sys/dev/block/<major>:<minor>` and `statvfs`.
//!
//! Everything read here is bounded: the mount table by [`MAX_MOUNTINFO`] bytes and
//! [`MAX_MOUNTS`] entries, each sysfs attribute by [`MAX_ATTRIBUTE`] bytes. A line of the mount
//! table that does not parse is passed by; it then cannot make a directory count as a mount
//! point, so a damaged table errs on the side of refusing a drive.

use crate::error::{Error, Result};
use seedship_jobs::DeviceInfo;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The mount table of this process.
const MOUNTINFO: &str = "/proc/self/mountinfo";
/// Where the kernel lists block devices by number.
const SYS_DEV_BLOCK: &str = "/sys/dev/block";
/// The most bytes of the mount table read.
pub const MAX_MOUNTINFO: u64 = 16 << 20;
/// The most mount table entries kept.
pub const MAX_MOUNTS: usize = 100_000;
/// The most bytes read of one sysfs attribute (a model, a serial, a size).
pub const MAX_ATTRIBUTE: u64 = 4096;

/// One line of `/proc/self/mountinfo` (proc(5)): the fields this module uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    /// The device number, `(major, minor)`.
    pub(crate) dev: (u32, u32),
    /// Where it is mounted (unescaped).
    pub(crate) mount_point: PathBuf,
    /// The file system type.
    pub(crate) fs_type: String,
    /// The mount source, e.g. `/dev/sdb1` (unescaped).
    pub(crate) source: String,
}

/// Undoes the mount table's octal escapes (`\040` for a space, `\011`, `\012`, `\134`); `None`
/// for a backslash not followed by three octal digits of a byte.
fn unescape(field: &str) -> Option<Vec<u8>> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let digits = bytes.get(i + 1..i + 4)?;
            let mut value = 0u32;
            for &d in digits {
                if !(b'0'..=b'7').contains(&d) {
                    return None;
                }
                value = value * 8 + u32::from(d - b'0');
            }
            out.push(u8::try_from(value).ok()?);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// One line of the mount table, `None` when it is not one:
/// `id parent major:minor root mount-point options [optional...] - type source super-options`.
pub(crate) fn parse_line(line: &str) -> Option<Mount> {
    let fields: Vec<&str> = line.split(' ').collect();
    if fields.len() < 10 {
        return None;
    }
    // the optional fields end at the first lone "-" after the sixth field
    let dash = 6 + fields[6..].iter().position(|f| *f == "-")?;
    let (fs_type, source) = (fields.get(dash + 1)?, fields.get(dash + 2)?);
    let (major, minor) = fields[2].split_once(':')?;
    let dev = (major.parse().ok()?, minor.parse().ok()?);
    let mount_point = unescape(fields[4])?;
    if mount_point.first() != Some(&b'/') {
        return None;
    }
    Some(Mount {
        dev,
        mount_point: PathBuf::from(OsStr::from_bytes(&mount_point)),
        fs_type: String::from_utf8_lossy(&unescape(fs_type)?).into_owned(),
        source: String::from_utf8_lossy(&unescape(source)?).into_owned(),
    })
}

/// The entries of a mount table read from `table`: at most [`MAX_MOUNTINFO`] bytes and
/// [`MAX_MOUNTS`] entries; lines that do not parse are passed by.
pub(crate) fn parse_table(table: impl Read) -> std::io::Result<Vec<Mount>> {
    let mut text = Vec::new();
    table.take(MAX_MOUNTINFO).read_to_end(&mut text)?;
    Ok(text
        .split(|&b| b == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok())
        .filter_map(parse_line)
        .take(MAX_MOUNTS)
        .collect())
}

/// The mount holding `dir` (a canonical path): the one mounted at the longest prefix of it,
/// the last of equals (a later mount hides an earlier one at the same place).
pub(crate) fn holding<'a>(mounts: &'a [Mount], dir: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|m| dir.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.components().count())
        .and_then(|longest| mounts.iter().rev().find(|m| m.mount_point == longest.mount_point))
}

/// A sysfs attribute: at most [`MAX_ATTRIBUTE`] bytes, trimmed, control characters replaced;
/// `None` when absent or empty.
fn attribute(path: &Path) -> Option<String> {
    let mut text = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_ATTRIBUTE)
        .read_to_end(&mut text)
        .ok()?;
    let text: String = String::from_utf8_lossy(&text)
        .trim()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    (!text.is_empty()).then_some(text)
}

/// What `sys_dev_block/<major>:<minor>` says of a block device: its name, its disk, model,
/// serial, size and a loop device's backing file.
fn block_device(info: &mut DeviceInfo, sys_dev_block: &Path, dev: (u32, u32)) {
    let Ok(path) = std::fs::canonicalize(sys_dev_block.join(format!("{}:{}", dev.0, dev.1))) else {
        return;
    };
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    // a partition's disk is the directory it sits in
    let disk = if path.join("partition").is_file() {
        path.parent().map_or_else(|| path.clone(), Path::to_path_buf)
    } else {
        path.clone()
    };
    info.block_device = name(&path);
    info.disk = name(&disk);
    info.model = attribute(&disk.join("device/model"));
    info.serial = attribute(&disk.join("device/serial")).or_else(|| attribute(&disk.join("serial")));
    info.device_bytes = attribute(&path.join("size"))
        .and_then(|sectors| sectors.parse::<u64>().ok())
        .map(|sectors| sectors.saturating_mul(512));
    info.backing_file = attribute(&path.join("loop/backing_file"));
}

/// The device behind `dir` from the mount table `mounts` and the sysfs directory
/// `sys_dev_block`; `fs_bytes` is the file system's size.
pub(crate) fn describe(
    dir: &Path,
    mounts: &[Mount],
    sys_dev_block: &Path,
    fs_bytes: u64,
) -> Result<DeviceInfo> {
    let canonical = std::fs::canonicalize(dir).map_err(|_| Error::DriveNotDirectory { path: dir.into() })?;
    let mount = holding(mounts, &canonical).ok_or_else(|| Error::NoMount { path: dir.into() })?;
    let mut info = DeviceInfo {
        mount_point: mount.mount_point.to_string_lossy().into_owned(),
        is_mount_point: mount.mount_point == canonical,
        source: mount.source.clone(),
        fs_type: mount.fs_type.clone(),
        dev: format!("{}:{}", mount.dev.0, mount.dev.1),
        block_device: None,
        disk: None,
        model: None,
        serial: None,
        device_bytes: None,
        backing_file: None,
        fs_bytes,
    };
    // major 0: no block device behind it (tmpfs, overlay, ...)
    if mount.dev.0 != 0 {
        block_device(&mut info, sys_dev_block, mount.dev);
    }
    Ok(info)
}

/// What this system knows of the device behind the drive directory `dir`: whether `dir` is
/// a mount point, the file system, and the disk (block device, model, serial, size).
///
/// # Errors
/// [`Error::DriveNotDirectory`], [`Error::Io`] naming the mount table when it cannot be
/// read, [`Error::NoMount`] when no mount holds `dir`.
pub fn inspect_device(dir: &Path) -> Result<DeviceInfo> {
    let table = std::fs::File::open(MOUNTINFO).map_err(Error::io(MOUNTINFO))?;
    let mounts = parse_table(table).map_err(Error::io(MOUNTINFO))?;
    let st = rustix::fs::statvfs(dir).map_err(|e| Error::io(dir)(e.into()))?;
    describe(
        dir,
        &mounts,
        Path::new(SYS_DEV_BLOCK),
        st.f_blocks.saturating_mul(st.f_frsize),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard";
    const DATA: &str = "45 27 8:17 / /mnt/my\\040drive rw,relatime shared:5 master:2 - ext4 /dev/sdb1 rw";

    #[test]
    fn a_line_parses_with_its_optional_fields_and_escapes() {
        let mount = parse_line(DATA).expect("parses");
        assert_eq!(mount.dev, (8, 17));
        assert_eq!(mount.mount_point, Path::new("/mnt/my drive"));
        assert_eq!(
            (mount.fs_type.as_str(), mount.source.as_str()),
            ("ext4", "/dev/sdb1")
        );
        assert_eq!(parse_line(ROOT).expect("root").mount_point, Path::new("/"));
    }

    #[test]
    fn hostile_lines_are_passed_by() {
        for line in [
            "",
            "garbage",
            // no separator
            "45 27 8:17 / /mnt/d rw,relatime shared:5 ext4 /dev/sdb1 rw",
            // nothing after the separator
            "45 27 8:17 / /mnt/d rw,relatime -",
            "45 27 8:17 / /mnt/d rw - ext4",
            // bad device numbers
            "45 27 8 / /mnt/d rw - ext4 /dev/sdb1 rw",
            "45 27 x:1 / /mnt/d rw - ext4 /dev/sdb1 rw",
            "45 27 99999999999:1 / /mnt/d rw - ext4 /dev/sdb1 rw",
            // bad escapes: short, not octal, beyond a byte
            "45 27 8:17 / /mnt/d\\04 rw - ext4 /dev/sdb1 rw",
            "45 27 8:17 / /mnt/d\\09x rw - ext4 /dev/sdb1 rw",
            "45 27 8:17 / /mnt/d\\777 rw - ext4 /dev/sdb1 rw",
            "45 27 8:17 / /mnt/d rw - ext4 /dev/sdb1\\ rw",
            // a relative mount point
            "45 27 8:17 / mnt/d rw - ext4 /dev/sdb1 rw",
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn the_table_is_read_within_its_bounds() {
        // a huge line is read only up to the limit, and the lines before it still count
        let mut table = format!("{ROOT}\n{DATA}\n").into_bytes();
        table.extend(std::iter::repeat_n(b'x', (MAX_MOUNTINFO + 1000) as usize));
        let mounts = parse_table(table.as_slice()).expect("read");
        assert_eq!(mounts.len(), 2);
        // not UTF-8: passed by
        let mounts = parse_table(&b"45 27 8:17 / /mnt/\xff rw - ext4 /dev/sdb1 rw\n"[..]).expect("read");
        assert!(mounts.is_empty());
        // at most MAX_MOUNTS entries
        let many = format!("{ROOT}\n").repeat(MAX_MOUNTS + 5);
        assert_eq!(parse_table(many.as_bytes()).expect("read").len(), MAX_MOUNTS);
    }

    #[test]
    fn the_holding_mount_is_the_longest_prefix_and_the_last_of_equals() {
        let mounts = parse_table(
            format!(
                "{ROOT}\n{DATA}\n46 27 0:50 / /mnt/my\\040drive rw - tmpfs tmpfs rw\n\
                 47 27 0:51 / /mnt/my rw - tmpfs other rw\n"
            )
            .as_bytes(),
        )
        .expect("read");
        let found = holding(&mounts, Path::new("/mnt/my drive/sub")).expect("held");
        assert_eq!(found.source, "tmpfs", "the later mount hides the earlier one");
        // a prefix of bytes is not a prefix of components
        assert_eq!(
            holding(&mounts, Path::new("/mnt/myother"))
                .expect("held")
                .mount_point,
            Path::new("/")
        );
        assert_eq!(holding(&mounts[1..2], Path::new("/elsewhere")), None);
    }

    /// A fake `/sys`: `dev/block/8:17` -> a partition `sdb1` of disk `sdb` with a model, a
    /// serial and a size; `dev/block/7:0` -> a loop device.
    fn fake_sys(root: &Path) -> PathBuf {
        let sdb = root.join("devices/pci/block/sdb");
        std::fs::create_dir_all(sdb.join("sdb1")).expect("mkdir");
        std::fs::create_dir_all(sdb.join("device")).expect("mkdir");
        std::fs::write(sdb.join("sdb1/partition"), "1\n").expect("write");
        std::fs::write(sdb.join("sdb1/size"), "976771072\n").expect("write");
        std::fs::write(sdb.join("device/model"), "WDC WD5000\u{1b}[2J  \n").expect("write");
        std::fs::write(sdb.join("device/serial"), "WD-123456\n").expect("write");
        let loop0 = root.join("devices/virtual/block/loop0");
        std::fs::create_dir_all(loop0.join("loop")).expect("mkdir");
        std::fs::write(loop0.join("size"), "131072\n").expect("write");
        std::fs::write(loop0.join("loop/backing_file"), "/tmp/disk.img\n").expect("write");
        let by_number = root.join("dev/block");
        std::fs::create_dir_all(&by_number).expect("mkdir");
        std::os::unix::fs::symlink(sdb.join("sdb1"), by_number.join("8:17")).expect("symlink");
        std::os::unix::fs::symlink(&loop0, by_number.join("7:0")).expect("symlink");
        by_number
    }

    #[test]
    fn a_partition_is_described_by_its_disk() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sys = fake_sys(tmp.path());
        let drive = tmp.path().join("drive");
        std::fs::create_dir(&drive).expect("mkdir");
        let drive = std::fs::canonicalize(&drive).expect("canonical");
        let mounts = vec![
            parse_line(ROOT).expect("root"),
            Mount {
                dev: (8, 17),
                mount_point: drive.clone(),
                fs_type: "ext4".into(),
                source: "/dev/sdb1".into(),
            },
        ];
        let info = describe(&drive, &mounts, &sys, 1000).expect("describe");
        assert!(info.is_mount_point);
        assert_eq!(info.block_device.as_deref(), Some("sdb1"));
        assert_eq!(info.disk.as_deref(), Some("sdb"));
        assert_eq!(
            info.model.as_deref(),
            Some("WDC WD5000?[2J"),
            "control characters replaced"
        );
        assert_eq!(info.serial.as_deref(), Some("WD-123456"));
        assert_eq!(info.device_bytes, Some(976_771_072 * 512));
        assert_eq!((info.dev.as_str(), info.fs_bytes), ("8:17", 1000));
        // a directory inside it is not a mount point, but lies on the same device
        let inner = drive.join("inner");
        std::fs::create_dir(&inner).expect("mkdir");
        let info = describe(&inner, &mounts, &sys, 1000).expect("describe");
        assert!(!info.is_mount_point);
        assert_eq!(info.serial.as_deref(), Some("WD-123456"));
        // a loop device names its file; tmpfs (major 0) has no block device
        let mounts = vec![Mount {
            dev: (7, 0),
            ..mounts[1].clone()
        }];
        let info = describe(&drive, &mounts, &sys, 1000).expect("describe");
        assert_eq!(info.backing_file.as_deref(), Some("/tmp/disk.img"));
        assert_eq!(info.disk.as_deref(), Some("loop0"));
        let mounts = vec![Mount {
            dev: (0, 50),
            ..mounts[0].clone()
        }];
        let info = describe(&drive, &mounts, &sys, 1000).expect("describe");
        assert_eq!((info.block_device, info.disk), (None, None));
    }

    #[test]
    fn this_machines_root_is_a_mount_point() {
        let info = inspect_device(Path::new("/")).expect("inspect /");
        assert!(info.is_mount_point, "{info:?}");
        assert_eq!(info.mount_point, "/");
        let tmp = tempfile::tempdir().expect("tempdir");
        let info = inspect_device(tmp.path()).expect("inspect a temporary directory");
        assert!(
            !info.is_mount_point,
            "a directory just made is no mount point: {info:?}"
        );
    }
}
