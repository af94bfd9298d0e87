//! Fuzzes the `dataset.csv` parser (WAImportExport's dataset file, read by `drive prepare`).
//! Must never panic; a parsed file has rows, each with its required columns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedship_drive::format::parse_dataset;

fuzz_target!(|data: &[u8]| {
    // the command reads the file as UTF-8 text; other bytes are refused before parsing
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rows) = parse_dataset(text) {
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| !r.base_path.is_empty() && !r.dst.is_empty()));
    }
});
