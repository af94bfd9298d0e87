//! Fuzzes the decoders of the records the journal stores as blobs: the session plan, the
//! wrapped drive keys and sealed values. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedship_drive::format::{Plan, Sealed, WrappedKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(plan) = Plan::decode(data) {
        assert_eq!(plan.encode(), data);
    }
    if let Ok(key) = WrappedKey::decode(data) {
        assert_eq!(key.encode(), data);
    }
    if let Ok(sealed) = Sealed::decode(data) {
        assert_eq!(sealed.encode(), data);
    }
});
