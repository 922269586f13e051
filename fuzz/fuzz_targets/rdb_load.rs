//! Fuzz the RDB loader: arbitrary bytes as a whole file (behind a valid signature, so the fuzzer
//! spends its time past the header) and as a RESTORE payload. Nothing may panic or allocate
//! a size read from the input before the bytes exist; errors are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringkv::persist::rdb::read::{restore_payload, Loaded, Reader};
use ringkv::persist::rdb::Encodings;

fuzz_target!(|data: &[u8]| {
    let mut file = b"REDIS0011".to_vec();
    file.extend_from_slice(data);
    let _ = Reader::new(&file, Encodings::default()).file(0, 16, false, |_: Loaded| {});
    let _ = restore_payload(data, Encodings::default());
});
