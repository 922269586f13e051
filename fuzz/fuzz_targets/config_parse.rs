//! Fuzz the config loader: arbitrary text read as a config file from stdin (`-`), in server or
//! sentinel mode. It must never panic; errors are fine.
//!
//! Inputs that use a directive with a file-system side effect (`include` reads any path, `logfile`
//! creates a file, `dir` changes the working directory) are skipped: the fuzzer runs as whatever
//! user started it and must not create files or read devices such as /dev/zero. Lines are
//! tokenized with the loader's own splitter, so a skipped input is exactly one the loader would
//! act on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringkv::config::{split_args, Config};

/// Directives the fuzzer must not execute (see the module doc).
const SIDE_EFFECTS: &[&[u8]] = &[b"include", b"logfile", b"dir"];

fn has_side_effect(text: &[u8]) -> bool {
    text.split(|&b| b == b'\n').any(|line| {
        let Ok(argv) = split_args(line) else {
            return false;
        };
        argv.first().is_some_and(|name| {
            SIDE_EFFECTS
                .iter()
                .any(|d| d.eq_ignore_ascii_case(name))
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else {
        return;
    };
    if has_side_effect(text) {
        return;
    }
    let args: Vec<String> = if mode & 1 == 1 {
        vec!["--sentinel".into(), "-".into()]
    } else {
        vec!["-".into()]
    };
    let mut input = text;
    if let Ok(cfg) = Config::load_with_program("ringkv", &args, &mut input) {
        // A loaded config must answer CONFIG GET * without panicking either.
        let _ = cfg.get_matching(b"*");
    }
});
