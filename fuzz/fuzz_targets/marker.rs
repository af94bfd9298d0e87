//! Fuzzes the drive marker parser the import service runs on every drive it receives (bytes
//! from a customer's drive) and the drive id parser. Must never panic; the format is strict,
//! so whatever parses must be exactly what the encoder writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedship_drive::format::{encode_marker, parse_drive_id, parse_marker, to_hex};

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = parse_marker(data) {
        assert_eq!(encode_marker(&id).as_bytes(), data);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(id) = parse_drive_id(text)
    {
        assert_eq!(to_hex(&id), text);
    }
});
