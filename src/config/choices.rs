//! The values some directives may take: the name lists of enum directives
//! (with the numbers Redis gives them) and the validators of string
//! directives, with Redis's error texts. Used by the table in
//! `directives.rs`.

pub const LOGLEVELS: &[(&str, u32)] =
    &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
pub const PROTECTED_ACTION: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("local", 2)];
pub const SUPERVISED: &[(&str, u32)] = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
pub const FACILITY: &[(&str, u32)] = &[
    ("user", 8),
    ("local0", 128),
    ("local1", 136),
    ("local2", 144),
    ("local3", 152),
    ("local4", 160),
    ("local5", 168),
    ("local6", 176),
    ("local7", 184),
];
pub const DISKLESS_LOAD: &[(&str, u32)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
pub const MAXMEMORY_POLICY: &[(&str, u32)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
pub const APPENDFSYNC: &[(&str, u32)] = &[("everysec", 0), ("always", 1), ("no", 2)];
pub const OOM_SCORE_ADJ: &[(&str, u32)] =
    &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
pub const ACL_PUBSUB: &[(&str, u32)] = &[("allchannels", 1), ("resetchannels", 0)];
pub const SANITIZE: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
pub const ENDPOINT: &[(&str, u32)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
pub const PROPAGATION_ERR: &[(&str, u32)] =
    &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
pub const TLS_AUTH: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("optional", 2)];
/// Flags of shutdown-on-sigint/sigterm; SAVE and NOSAVE exclude each other.
pub const SHUTDOWN_FLAGS: &[(&str, u32)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];

pub fn is_basename(v: &[u8]) -> bool {
    !v.contains(&b'/') && !v.contains(&b'\\')
}
pub fn check_dbfilename(v: &[u8]) -> Result<(), &'static str> {
    if is_basename(v) {
        Ok(())
    } else {
        Err("dbfilename can't be a path, just a filename")
    }
}
pub fn check_appendfilename(v: &[u8]) -> Result<(), &'static str> {
    match () {
        _ if v.is_empty() => Err("appendfilename can't be empty"),
        _ if !is_basename(v) => Err("appendfilename can't be a path, just a filename"),
        _ => Ok(()),
    }
}
pub fn check_appenddirname(v: &[u8]) -> Result<(), &'static str> {
    match () {
        _ if v.is_empty() => Err("appenddirname can't be empty"),
        _ if !is_basename(v) => Err("appenddirname can't be a path, just a dirname"),
        _ => Ok(()),
    }
}
pub fn check_hostname(v: &[u8]) -> Result<(), &'static str> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    if v.iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        Ok(())
    } else {
        Err("Hostnames may only contain alphanumeric characters, hyphens or dots")
    }
}
pub fn check_proc_title(v: &[u8]) -> Result<(), &'static str> {
    if super::values::valid_proc_title(v) {
        Ok(())
    } else {
        Err("template format is invalid or contains unknown variables")
    }
}
