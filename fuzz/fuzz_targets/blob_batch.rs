//! Fuzzes the batch upload body parser the server runs on every `POST .../blobs` (bytes from
//! the network). Must never panic; what decodes must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedship_jobs::decode_batch;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = decode_batch(data) {
        let mut body = Vec::new();
        for entry in &entries {
            entry.encode(&mut body);
        }
        assert_eq!(body, data);
    }
});
