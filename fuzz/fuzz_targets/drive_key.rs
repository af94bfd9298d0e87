//! Fuzzes the drive key file parser a restore from drives runs on every drive it is given
//! (bytes from a drive that may be hostile). Must never panic; the format is strict, so
//! whatever parses must be exactly what the encoder writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedship_drive::format::{encode_drive_key, parse_drive_key};

fuzz_target!(|data: &[u8]| {
    if let Ok(wrapped) = parse_drive_key(data) {
        let text = encode_drive_key(&wrapped).expect("a parsed drive key encodes");
        assert_eq!(text.as_bytes(), data);
    }
});
