//! Client-side reply parser: what a server sent back, as a tree of values.
//!
//! The data server never needs this (it parses requests, see `parse.rs`); the sentinel does, for
//! the replies of the instances it monitors. Every length is checked against [`REPLY_BYTES_MAX`]
//! and nesting against [`DEPTH_MAX`] before anything is allocated, so a hostile peer can make
//! the parser fail but not allocate what it asks for.

/// Largest reply accepted from a peer (an INFO reply is a few KiB).
pub const REPLY_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Deepest nesting of aggregates accepted.
pub const DEPTH_MAX: usize = 8;
/// Most elements in one aggregate.
pub const ELEMENTS_MAX: i64 = 1024 * 1024;

/// One reply. RESP3 maps, sets and pushes are read as arrays (the sentinel speaks RESP2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Value>),
}

impl Value {
    /// The text of a simple string, bulk string or error.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(b) | Value::Error(b) | Value::Bulk(b) => Some(b),
            _ => None,
        }
    }

    /// An integer reply, or a string holding an integer.
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            other => std::str::from_utf8(other.bytes()?).ok()?.parse().ok(),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_))
    }
}

/// Parses one reply from the start of `buf`: `Ok(Some((value, consumed)))`, `Ok(None)` when
/// more bytes are needed, `Err` (a short reason) on a protocol violation.
pub fn parse_value(buf: &[u8]) -> Result<Option<(Value, usize)>, &'static str> {
    let mut pos = 0;
    match parse_at(buf, &mut pos, 0)? {
        Some(v) => Ok(Some((v, pos))),
        None => Ok(None),
    }
}

fn line(buf: &[u8], pos: usize) -> Result<Option<(&[u8], usize)>, &'static str> {
    match memchr::memchr(b'\n', &buf[pos..]) {
        Some(i) if i >= 1 && buf[pos + i - 1] == b'\r' => {
            Ok(Some((&buf[pos..pos + i - 1], pos + i + 1)))
        }
        Some(_) => Err("line without CR"),
        None if buf.len() - pos > 64 * 1024 => Err("line too long"),
        None => Ok(None),
    }
}

fn number(text: &[u8]) -> Result<i64, &'static str> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("bad number")
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Value>, &'static str> {
    if depth > DEPTH_MAX {
        return Err("nested too deep");
    }
    if *pos >= buf.len() {
        return Ok(None);
    }
    let kind = buf[*pos];
    let Some((text, after)) = line(buf, *pos + 1)? else {
        return Ok(None);
    };
    match kind {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => {
            *pos = after;
            Ok(Some(match kind {
                b'+' => Value::Simple(text.to_vec()),
                b'-' => Value::Error(text.to_vec()),
                b':' => Value::Int(number(text)?),
                b'_' => Value::Nil,
                _ => Value::Simple(text.to_vec()),
            }))
        }
        b'$' | b'=' | b'!' => {
            let len = number(text)?;
            if len < 0 {
                *pos = after;
                return Ok(Some(Value::Nil));
            }
            if len as u64 > REPLY_BYTES_MAX as u64 {
                return Err("bulk too long");
            }
            let len = len as usize;
            if buf.len() < after + len + 2 {
                return Ok(None);
            }
            if &buf[after + len..after + len + 2] != b"\r\n" {
                return Err("bulk without CRLF");
            }
            *pos = after + len + 2;
            let data = buf[after..after + len].to_vec();
            Ok(Some(if kind == b'!' {
                Value::Error(data)
            } else {
                Value::Bulk(data)
            }))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let mut n = number(text)?;
            if n < 0 {
                *pos = after;
                return Ok(Some(Value::Nil));
            }
            if kind == b'%' || kind == b'|' {
                n = n.saturating_mul(2);
            }
            if n > ELEMENTS_MAX {
                return Err("aggregate too long");
            }
            let mut p = after;
            // Elements are at least 3 bytes each: never reserve more than the input can hold.
            let mut items = Vec::with_capacity((n as usize).min((buf.len() - p) / 3 + 1));
            for _ in 0..n {
                match parse_at(buf, &mut p, depth + 1)? {
                    Some(v) => items.push(v),
                    None => return Ok(None),
                }
            }
            if kind == b'|' {
                // An attribute precedes the real reply: skip it.
                *pos = p;
                return parse_at(buf, pos, depth + 1);
            }
            *pos = p;
            Ok(Some(Value::Array(items)))
        }
        _ => Err("unknown reply type"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_waits_for_more() {
        let all = b"+OK\r\n-ERR x\r\n:12\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$1\r\na\r\n";
        let mut pos = 0;
        let mut got = Vec::new();
        while let Some((v, n)) = parse_value(&all[pos..]).unwrap() {
            got.push(v);
            pos += n;
            if pos == all.len() {
                break;
            }
        }
        assert_eq!(
            got,
            vec![
                Value::Simple(b"OK".to_vec()),
                Value::Error(b"ERR x".to_vec()),
                Value::Int(12),
                Value::Bulk(b"abc".to_vec()),
                Value::Nil,
                Value::Array(vec![Value::Int(1), Value::Bulk(b"a".to_vec())]),
            ]
        );
        for cut in 0..all.len() - 1 {
            // Every prefix is either a complete first reply or "need more", never an error.
            assert!(parse_value(&all[..cut]).is_ok());
        }
        assert_eq!(parse_value(b"*2\r\n:1\r\n").unwrap(), None);
    }

    #[test]
    fn rejects_hostile_input_without_allocating_it() {
        assert!(parse_value(b"$99999999999\r\n").is_err());
        assert!(parse_value(b"*99999999999\r\n").is_err());
        assert!(parse_value(b"?\r\n").is_err());
        assert!(parse_value(b":abc\r\n").is_err());
        let deep = "*1\r\n".repeat(20);
        assert!(parse_value(deep.as_bytes()).is_err());
    }
}
