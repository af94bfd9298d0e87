//! The staging location of an offline policy around the shipment (issue 18): a missing one is
//! an error before seeding, never silently created again on the local disk.

use crate::offline_support::*;
use crate::server_support::*;

/// Exit code of a staging location that does not exist.
const NOT_FOUND: i32 = 10;

#[test]
fn a_missing_staging_location_before_seeding_is_an_error_and_nothing_is_created() {
    let (_tempdir, flow) = Flow::in_tempdir(MIB);
    // `policy set` made the staging location; the share is "unmounted" before the first run.
    std::fs::remove_dir(&flow.staging).expect("rmdir staging");
    for args in [
        &["--json", "backup", "--config-dir", path(&flow.config_dir)][..],
        &["agent", "run", "--once", "--config-dir", path(&flow.config_dir)],
    ] {
        let output = run(args);
        assert_exit(&output, NOT_FOUND);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "staging location {} does not exist",
                flow.staging.display()
            )),
            "{stderr}"
        );
        assert!(output.stdout.is_empty(), "{output:?}");
        assert!(!flow.staging.exists(), "the staging location was created again");
    }

    // Staged, then unmounted while the drives travel: the same error, nothing written.
    std::fs::create_dir(&flow.staging).expect("mount staging");
    flow.backup_ok();
    let mounted = flow.staging.with_extension("unmounted");
    std::fs::rename(&flow.staging, &mounted).expect("unmount staging");
    let output = flow.backup();
    assert_exit(&output, NOT_FOUND);
    assert!(!flow.staging.exists(), "the staging location was created again");
    assert_eq!(
        store_listing(&flow.data_vault()).len(),
        0,
        "nothing went to the vault"
    );
}
