//! Fuzz what a sentinel reads from peers: replies (any bytes, as a stream), INFO text and hello
//! messages. Nothing may panic; a parsed reply always consumes bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringkv::resp::value::parse_value;
use ringkv::sentinel::discovery::{parse_info, process_hello};

fuzz_target!(|data: &[u8]| {
    let mut pos = 0;
    while pos < data.len() {
        match parse_value(&data[pos..]) {
            Ok(Some((_, used))) => {
                assert!(used > 0 && pos + used <= data.len());
                pos += used;
            }
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = parse_info(&text);
    let mut st = ringkv::sentinel::State::new(ringkv::config::Config::new());
    st.s.myid = "a".repeat(40);
    let monitor: Vec<String> = "monitor m 127.0.0.1 6379 2".split(' ').map(String::from).collect();
    ringkv::sentinel::conf::apply(&mut st, &monitor).unwrap();
    for line in text.lines() {
        process_hello(&mut st, line);
    }
});
