//! Fuzzes the `driveset.csv` parser (WAImportExport's drive set file, read by `drive
//! prepare`). Must never panic; a parsed file has rows that keep the format's rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedship_drive::format::parse_driveset;

fuzz_target!(|data: &[u8]| {
    // the command reads the file as UTF-8 text; other bytes are refused before parsing
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rows) = parse_driveset(text) {
        assert!(!rows.is_empty());
        for row in rows {
            assert!(!row.drive.is_empty());
            assert!(row.encrypt || !row.format, "Format requires Encrypt");
            assert_eq!(
                row.encrypt,
                row.existing_key.is_none(),
                "a key exactly when AlreadyEncrypted"
            );
        }
    }
});
