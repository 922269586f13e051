//! Persistence: the RDB format (files, DUMP/RESTORE payloads) and its building blocks.
//!
//! This layer turns `store` values into bytes and back. It never touches sockets or the event
//! loop; the commands that save and load (`commands/persistence.rs`) and start-up decide when.

pub mod aof;
pub mod crc64;
pub mod lzf;
pub mod rdb;
pub mod snapshot;

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `name` in the working directory (the `dir` directive chdirs there) the
/// crash-safe way: a `temp-<pid>.rdb` file, fsync, rename over `name`, fsync the directory. A
/// crash at any point leaves either the old file or the new one, never a torn one.
pub fn write_atomic(name: &str, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_via(&format!("temp-{}.rdb", std::process::id()), name, bytes)
}

/// `write_atomic` through the temporary file `temp` (a replica's full sync uses its own, as
/// Redis does, so that it never collides with a background save's).
pub fn write_atomic_via(temp: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let result = (|| {
        let mut f = std::fs::File::create(temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(temp, name)?;
        sync_parent_dir(name)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}

/// Fsyncs the directory holding `path` (so a rename into it survives a crash).
pub fn sync_parent_dir(path: &str) -> std::io::Result<()> {
    std::fs::File::open(
        Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )?
    .sync_all()
}

/// `key-load-delay`: waits this many µs (a test knob that holds a load open; 0 or less: none).
pub fn key_load_delay(us: i64) {
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us as u64));
    }
}
