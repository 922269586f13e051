//! Tests of the configuration layer as a whole: loading, CONFIG GET/SET,
//! CONFIG REWRITE. Expected texts were checked against redis-server 7.0.15.

mod files;
mod load;
mod values;

use super::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

// No test here changes the working directory: tests of other modules run in
// parallel threads of the same process.

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "ringkv-config-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn load(a: &[&str]) -> Result<Config, ConfigError> {
    Config::load_with_program("ringkv", &args(a), &mut std::io::empty())
}

fn load_text(text: &str, extra: &[&str]) -> Result<Config, ConfigError> {
    let mut a = vec!["-"];
    a.extend_from_slice(extra);
    Config::load_with_program("ringkv", &args(&a), &mut text.as_bytes())
}

fn frame(line: usize, text: &str, msg: &str) -> String {
    format!("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{msg}\n")
}

fn get1(c: &Config, name: &str) -> String {
    let v = c.get_matching(name.as_bytes());
    assert_eq!(v.len(), 1, "{name}: {v:?}");
    v[0].1.clone()
}
