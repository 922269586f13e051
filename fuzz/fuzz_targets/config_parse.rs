//! Fuzz the config layer: arbitrary text read as a config file from stdin (`-`), in server or
//! sentinel mode; and, since clients reach it over the network, CONFIG SET (each line a
//! `name value` pair) and CONFIG GET (each line a glob pattern) on the loaded or default config.
//! Nothing may panic; errors are fine.
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
        argv.first()
            .is_some_and(|name| SIDE_EFFECTS.iter().any(|d| d.eq_ignore_ascii_case(name)))
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
    let mut cfg = match Config::load_with_program("ringkv", &args, &mut input) {
        Ok(cfg) => cfg,
        Err(_) => Config::new(),
    };
    let _ = cfg.get_matching(b"*");
    if mode & 2 == 0 {
        return;
    }
    // CONFIG SET / CONFIG GET as a remote client would send them (protected configs such as
    // `dir` are refused for non-local clients, so this has no side effects either).
    for line in text.split(|&b| b == b'\n') {
        let (name, value) = match line.iter().position(|&b| b == b' ') {
            Some(p) => (&line[..p], &line[p + 1..]),
            None => (line, &b""[..]),
        };
        let name_text = String::from_utf8_lossy(name);
        // The loaded text may have allowed protected configs: never let `dir` through.
        if SIDE_EFFECTS
            .iter()
            .any(|d| d.eq_ignore_ascii_case(name) || d.eq_ignore_ascii_case(value))
        {
            continue;
        }
        if mode & 4 == 0 {
            let _ = cfg.set_ext(&name_text, value, false);
        } else {
            let _ = cfg.set_many(&[(name, value), (value, name)], false);
        }
        let _ = cfg.get_matching(line);
        let _ = cfg.get(&name_text);
    }
});
