//! Parsing and formatting of directive values, with Redis's exact rules:
//! strict integers (`string2ll`), memory sizes with units (`memtoull`),
//! `strtoll`-style numbers where Redis uses those, yes/no, keyspace event
//! flags, process title templates, and the formatting CONFIG GET and CONFIG
//! REWRITE use.

/// Parses a strict decimal integer like Redis's `string2ll`: optional `-`, no
/// `+`, no spaces, no leading zeros, no `-0`, no overflow.
pub fn parse_ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses a memory size like Redis's `memtoull`: decimal digits followed by
/// an optional unit `b`, `k` (1000), `kb` (1024), `m`, `mb`, `g`, `gb`, any
/// case. Quirks kept: an empty number is 0, an overlong number saturates and
/// the unit multiplication wraps, as in the C code.
pub fn parse_memory(s: &[u8]) -> Option<u64> {
    if s.first() == Some(&b'-') {
        return None;
    }
    let ndigits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let unit = s[ndigits..].to_ascii_lowercase();
    let mul: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if ndigits >= 128 {
        return None;
    }
    let mut v: u64 = 0;
    for &d in &s[..ndigits] {
        v = v.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    Some(v.wrapping_mul(mul))
}

/// Parses like C `strtoll(s, &end, base)` and requires `*end == '\0'`:
/// leading whitespace and a sign are allowed, overflow saturates, and a
/// string with no digits at all is accepted as 0 only when it is empty.
pub fn parse_strtoll(s: &[u8], base: u32) -> Option<i64> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while i < s.len() {
        match (s[i] as char).to_digit(base) {
            Some(d) => v = (v * i128::from(base) + i128::from(d)).min(i128::from(i64::MAX) + 1),
            None => break,
        }
        i += 1;
    }
    if i == start {
        // No digits: end points at the very start of the string.
        return if s.is_empty() { Some(0) } else { None };
    }
    if i != s.len() {
        return None;
    }
    let v = if neg { -v } else { v };
    Some(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// `yes` / `no`, any case.
pub fn parse_yes_no(s: &[u8]) -> Option<bool> {
    if s.eq_ignore_ascii_case(b"yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case(b"no") {
        Some(false)
    } else {
        None
    }
}

/// Parses a double like Redis's `string2d`: the whole string, no spaces, not NaN.
pub fn parse_double(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// `%f` with trailing zeros (and a trailing dot) removed, as Redis prints
/// latency percentiles.
pub fn format_double_trimmed(v: f64) -> String {
    let s = format!("{:.6}", v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A byte count as CONFIG REWRITE writes it: `gb`, `mb` or `kb` when exact.
pub fn format_memory_rewrite(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * 1024 * 1024;
    if bytes != 0 && bytes.is_multiple_of(GB) {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes.is_multiple_of(MB) {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes.is_multiple_of(KB) {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

/// Keyspace notification classes (Redis's `NOTIFY_*` bits).
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m (not part of A)
    pub const LOADED: u32 = 1 << 12; // module only, no letter
    pub const MODULE: u32 = 1 << 13; // d
    pub const NEW: u32 = 1 << 14; // n (not part of A)
    /// What `A` stands for: g$lshzxetd.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses a `notify-keyspace-events` class string; `None` on a bad letter.
pub fn parse_notify(s: &[u8]) -> Option<u32> {
    use notify::*;
    let mut flags = 0;
    for &c in s {
        flags |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Formats keyspace event flags the way Redis prints them (`A` hides `n`).
pub fn format_notify(flags: u32) -> String {
    use notify::*;
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// Variables a `proc-title-template` may use.
const TITLE_VARS: &[&str] = &[
    "title",
    "listen-addr",
    "server-mode",
    "port",
    "tls-port",
    "unixsocket",
    "config-file",
];

/// Checks a `proc-title-template`: `{{`/`}}` escape braces, `{name}` must be a
/// known variable, and the title must not come out empty when `{title}` is
/// empty (so a template of only `{title}` and spaces is refused, as in Redis).
pub fn valid_proc_title(t: &[u8]) -> bool {
    let mut out_nonblank = false;
    let mut i = 0;
    while i < t.len() {
        match t[i] {
            b'{' if t.get(i + 1) == Some(&b'{') => {
                out_nonblank = true;
                i += 2;
            }
            b'}' if t.get(i + 1) == Some(&b'}') => {
                out_nonblank = true;
                i += 2;
            }
            b'}' => return false,
            b'{' => {
                let Some(len) = t[i + 1..].iter().position(|&b| b == b'}') else {
                    return false;
                };
                let name = &t[i + 1..i + 1 + len];
                if !TITLE_VARS.iter().any(|v| v.as_bytes() == name) {
                    return false;
                }
                if name != b"title" {
                    out_nonblank = true;
                }
                i += len + 2;
            }
            b' ' => i += 1,
            _ => {
                out_nonblank = true;
                i += 1;
            }
        }
    }
    out_nonblank
}

/// The C library's text for an errno value (what Redis prints).
pub fn strerror(errno: i32) -> String {
    // SAFETY: strerror returns a pointer to a NUL-terminated static or
    // thread-local string, valid until the next strerror call on this thread;
    // we copy it out at once.
    unsafe {
        let p = libc::strerror(errno);
        if p.is_null() {
            return format!("Unknown error {errno}");
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// `strerror` text for an I/O error.
pub fn io_error_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => strerror(n),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_ll(b"0"), Some(0));
        assert_eq!(parse_ll(b"-1"), Some(-1));
        assert_eq!(parse_ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"0x10",
        ] {
            assert_eq!(parse_ll(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"1K"), Some(1000));
        assert_eq!(parse_memory(b"1kb"), Some(1024));
        assert_eq!(parse_memory(b"1KB"), Some(1024));
        assert_eq!(parse_memory(b"2mb"), Some(2 << 20));
        assert_eq!(parse_memory(b"1m"), Some(1_000_000));
        assert_eq!(parse_memory(b"1gB"), Some(1 << 30));
        assert_eq!(parse_memory(b"1g"), Some(1_000_000_000));
        assert_eq!(parse_memory(b"7b"), Some(7));
        assert_eq!(parse_memory(b"01"), Some(1));
        assert_eq!(parse_memory(b""), Some(0));
        assert_eq!(parse_memory(b"k"), Some(0));
        assert_eq!(parse_memory(b"18446744073709551616"), Some(u64::MAX));
        assert_eq!(parse_memory(b"17179869184gb"), Some(0));
        for bad in [
            &b"-1"[..],
            b"1.5gb",
            b" 1",
            b"+1",
            b"1 k",
            b"1t",
            b"0x10",
            b"1e3",
            b"1mb ",
        ] {
            assert_eq!(
                parse_memory(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn strtoll_like() {
        assert_eq!(parse_strtoll(b" +5", 10), Some(5));
        assert_eq!(parse_strtoll(b"-5", 10), Some(-5));
        assert_eq!(parse_strtoll(b"", 10), Some(0));
        assert_eq!(parse_strtoll(b" ", 10), None);
        assert_eq!(parse_strtoll(b"5x", 10), None);
        assert_eq!(parse_strtoll(b"777", 8), Some(0o777));
        assert_eq!(parse_strtoll(b"8", 8), None);
        assert_eq!(parse_strtoll(b"99999999999999999999", 10), Some(i64::MAX));
    }

    #[test]
    fn notify_flags() {
        assert_eq!(format_notify(parse_notify(b"KEA").unwrap()), "AKE");
        assert_eq!(format_notify(parse_notify(b"Kgx").unwrap()), "gxK");
        assert_eq!(format_notify(parse_notify(b"nd").unwrap()), "dn");
        assert_eq!(format_notify(parse_notify(b"mKE").unwrap()), "KEm");
        assert_eq!(format_notify(parse_notify(b"An").unwrap()), "A");
        assert_eq!(format_notify(parse_notify(b"g$lshzxetd").unwrap()), "A");
        assert_eq!(format_notify(0), "");
        assert_eq!(parse_notify(b"a"), None);
    }

    #[test]
    fn proc_title() {
        assert!(valid_proc_title(b"{title} {listen-addr} {server-mode}"));
        assert!(valid_proc_title(b"x{{"));
        assert!(valid_proc_title(b"{port}}}"));
        assert!(!valid_proc_title(b""));
        assert!(!valid_proc_title(b"{title}"));
        assert!(!valid_proc_title(b"  {title} "));
        assert!(!valid_proc_title(b"{foo}"));
        assert!(!valid_proc_title(b"{port"));
        assert!(!valid_proc_title(b"a}b"));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_memory_rewrite(0), "0");
        assert_eq!(format_memory_rewrite(4096), "4kb");
        assert_eq!(format_memory_rewrite(3000), "3000");
        assert_eq!(format_memory_rewrite(64 << 20), "64mb");
        assert_eq!(format_memory_rewrite(1 << 30), "1gb");
        assert_eq!(format_double_trimmed(50.0), "50");
        assert_eq!(format_double_trimmed(99.9), "99.9");
        assert_eq!(format_double_trimmed(99.99), "99.99");
        assert_eq!(strerror(2), "No such file or directory");
    }
}
