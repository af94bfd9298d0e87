//! Fuzzes the drive manifest reader: the manifest file framing and the manifest plaintext
//! decoder (what the import service parses after decryption). Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedship_drive::format::{Manifest, decode_manifest_file};

fuzz_target!(|data: &[u8]| {
    let _ = decode_manifest_file(data);
    if let Ok(manifest) = Manifest::decode(data) {
        // What decodes must encode back to the same bytes.
        assert_eq!(manifest.encode(), data);
    }
});
