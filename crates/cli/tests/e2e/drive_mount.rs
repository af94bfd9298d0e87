//! Drives that are disks: a drive directory that is not a mount point is refused (it would
//! fill the file system under it), and a drive that is a mounted file system is prepared,
//! with what the system knows of its device (mount, file system, block device, loop file,
//! sizes) in the journal, the job's drive record, the custody log and the copy log; the
//! import of it lands bit-exact.
//!
//! The mounted drive is, in this order of preference, a loop-mounted ext4 file system (a
//! file, `mkfs.ext4`, `mount -o loop`: needs root and a working `mount`) or a tmpfs; the test
//! says on stderr which one it used, and skips (unless skips are disallowed) where neither
//! can be mounted.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server_support::import::{MIB, Site, make_source, stdout_json};
use crate::server_support::{assert_exit, find_program, path, skips_disallowed};

/// A file system mounted for the test, unmounted (and its loop device freed) on drop.
struct Mounted {
    point: PathBuf,
    /// `"loop"` or `"tmpfs"`.
    kind: &'static str,
    /// The file behind a loop mount.
    image: Option<PathBuf>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // -d frees the loop device of a loop mount
        let _ = Command::new("umount").arg("-d").arg(&self.point).status();
    }
}

fn succeeds(command: &mut Command) -> bool {
    command.output().is_ok_and(|out| out.status.success())
}

/// Mounts a file system at `dir/mnt`: loop-mounted ext4 if possible, else tmpfs, else `None`.
fn mount_a_drive(dir: &Path) -> Option<Mounted> {
    let point = dir.join("mnt");
    std::fs::create_dir(&point).expect("mkdir mount point");
    if find_program("mkfs.ext4").is_some() {
        let image = dir.join("disk.img");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(64 * MIB as u64))
            .expect("disk image");
        let made = succeeds(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image));
        if made && succeeds(Command::new("mount").args(["-o", "loop"]).arg(&image).arg(&point)) {
            return Some(Mounted {
                point,
                kind: "loop",
                image: Some(image),
            });
        }
    }
    let tmpfs = ["-t", "tmpfs", "-o", "size=64m", "seedship-test"];
    if succeeds(Command::new("mount").args(tmpfs).arg(&point)) {
        return Some(Mounted {
            point,
            kind: "tmpfs",
            image: None,
        });
    }
    None
}

/// The summary line of `drive prepare --json` (one JSON document per line: plan, summary).
fn summary(output: &std::process::Output) -> serde_json::Value {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|doc| doc["message_type"] == "summary")
        .expect("a summary line")
}

#[test]
fn a_drive_must_be_a_mount_point_and_its_device_is_recorded() {
    let (dir, site) = Site::in_tempdir();
    let src = dir.path().join("src");
    let tree = make_source(&src, 20, 3 * MIB);

    // A plain directory: refused, naming it and the mount it lies on; nothing written.
    let plain = dir.path().join("plain-drive");
    std::fs::create_dir(&plain).expect("mkdir");
    let plain_set = [(plain.clone(), dir.path().join("plain.jrn"))];
    let refused = site.prepare_onto("sess1", &src, &plain_set, &["--encrypt"]);
    assert_exit(&refused, 1);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "drive {} is not a mount point (it lies on",
            plain.display()
        )) && stderr.contains("--not-a-mount-point"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(&plain).expect("drive").count(),
        0,
        "nothing written"
    );
    assert!(!plain_set[0].1.exists(), "no journal");

    let Some(mounted) = mount_a_drive(dir.path()) else {
        assert!(
            !skips_disallowed(),
            "no file system could be mounted for the test"
        );
        eprintln!("SKIPPED: neither a loop mount nor a tmpfs could be mounted here");
        return;
    };
    eprintln!("mounted drive: {} at {}", mounted.kind, mounted.point.display());
    let point = std::fs::canonicalize(&mounted.point).expect("canonical");

    // A directory inside the mounted drive is no mount point either.
    let inner = point.join("inner");
    std::fs::create_dir(&inner).expect("mkdir");
    let inner_set = [(inner.clone(), dir.path().join("inner.jrn"))];
    let refused = site.prepare_onto("sess1", &src, &inner_set, &["--encrypt"]);
    assert_exit(&refused, 1);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("mounted at {}", point.display())),
        "{stderr}"
    );
    std::fs::remove_dir(&inner).expect("rmdir");
    if mounted.kind == "loop" {
        // ext4 makes lost+found: the drive holds files but no drive marker
        std::fs::remove_dir(point.join("lost+found")).expect("rmdir lost+found");
    }

    // The mount point itself: prepared; the device is in the summary, from the journal.
    let set = vec![(point.clone(), dir.path().join("mounted.jrn"))];
    let prepared = site.prepare_onto("sess1", &src, &set, &["--encrypt"]);
    assert_exit(&prepared, 0);
    let device = summary(&prepared)["summary"]["drives"][0]["device"].clone();
    assert_eq!(device["is_mount_point"], true, "{device}");
    assert_eq!(device["mount_point"], path(&point), "{device}");
    assert!(device["fs_bytes"].as_u64().is_some_and(|b| b > 0), "{device}");
    match mounted.kind {
        "loop" => {
            assert_eq!(device["fs_type"], "ext4", "{device}");
            assert!(
                device["block_device"]
                    .as_str()
                    .is_some_and(|b| b.starts_with("loop")),
                "{device}"
            );
            let image = mounted.image.as_deref().expect("image");
            assert_eq!(device["backing_file"], path(image), "{device}");
            assert_eq!(device["device_bytes"], 64 * MIB as u64, "{device}");
        }
        _ => {
            assert_eq!(device["fs_type"], "tmpfs", "{device}");
            assert!(device["block_device"].is_null(), "{device}");
        }
    }

    // The job's drive record, the custody log and (after the import) the copy log name it.
    site.create_job("mounted", &set, "Ann");
    let owner = site.owner();
    let job = owner.job("acme", "mounted").expect("job").job;
    let recorded =
        serde_json::to_value(job.drives()[0].device.as_ref().expect("device recorded")).expect("json");
    assert_eq!(recorded, device);
    let custody = site.verified_custody("mounted");
    let entry = custody["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["event"]["kind"] == "drive_device")
        .unwrap_or_else(|| panic!("a drive_device entry: {custody}"))
        .clone();
    assert_eq!(entry["event"]["device"], device);
    site.ship("mounted", 1);
    let received = site.receive("mounted", &site.operator_file, &[point.as_path()]);
    assert_exit(&received, 0);
    assert_eq!(stdout_json(&received)["drives"][0]["state"], "Completed");
    site.assert_container_holds("mounted", &tree);
    let logs = owner.job_logs("acme", "mounted").expect("logs");
    let copy_log = serde_json::to_value(&logs[0].copy_log).expect("json");
    assert_eq!(copy_log["device"], device, "the prepared device");
    assert_eq!(
        copy_log["received_from"]["dev"], device["dev"],
        "read from the same device"
    );
    assert_eq!(copy_log["received_from"]["is_mount_point"], true);
}
