//! `remove_own_temporaries` (its own test binary: it removes every temporary file of the
//! process, which would pull files from under other tests running beside it).

use seedship_durable::{FileOptions, PendingFile, remove_own_temporaries};

#[test]
fn a_process_ending_early_removes_the_files_it_is_still_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("pack");
    let pending = PendingFile::open(&target, &FileOptions::default()).expect("open");
    let temporaries = || {
        std::fs::read_dir(dir.path())
            .expect("list")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        temporaries().len(),
        1,
        "the temporary file is there while writing"
    );

    assert_eq!(remove_own_temporaries(), 1);
    assert!(temporaries().is_empty(), "nothing left: {:?}", temporaries());
    // The writer, still running, finds its file gone: nothing appears under the target.
    assert!(pending.commit(b"contents").is_err());
    assert!(!target.exists());

    // A file written to the end is not a temporary any more.
    seedship_durable::write(&target, b"whole").expect("write");
    assert_eq!(remove_own_temporaries(), 0);
    assert_eq!(std::fs::read(&target).expect("read"), b"whole");
}
