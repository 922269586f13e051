//! Fuzz the AOF readers: arbitrary bytes as a command file and as a manifest. Nothing may
//! panic or allocate a size read from the input before the bytes exist; errors are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringkv::persist::aof::manifest::Manifest;
use ringkv::persist::aof::read::Commands;

fuzz_target!(|data: &[u8]| {
    let mut c = Commands::new(data);
    let mut last = 0;
    while let Some(r) = c.next_command() {
        if r.is_err() {
            break;
        }
        // Progress is guaranteed: every command consumes bytes.
        assert!(c.offset() > last);
        last = c.offset();
    }
    if let Ok(m) = Manifest::parse(data) {
        // What parses formats back to something that parses to the same manifest.
        assert_eq!(Manifest::parse(m.format().as_bytes()).ok(), Some(m));
    }
});
