//! Zero-copy request parser.
//!
//! A request is either a RESP multibulk (`*N\r\n$L\r\n<bytes>\r\n...`) or an inline command (a line
//! of space-separated words, with redis.conf-style quoting). The parser records each argument as an
//! `(offset, len)` range into the receive buffer, so no argument is copied or allocated. Inline
//! arguments that contain quotes or escapes are unescaped into a scratch buffer instead.
//!
//! The parser is restartable: given a buffer that holds only part of a request it returns
//! `Incomplete` and the caller calls again once more bytes arrived, from the same start. It never
//! reserves memory for a declared length; it only validates the length against the limits.

use memchr::memchr;

/// Longest inline request or length line without a newline (Redis's PROTO_INLINE_MAX_SIZE).
pub const INLINE_BYTES_MAX: usize = 64 * 1024;
/// Most arguments in one multibulk request.
pub const ARGS_MAX: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`
    pub bulk_bytes_max: u64,
    /// Before AUTH, Redis accepts at most 10 arguments of at most 16 KiB each.
    pub authenticated: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseOutcome {
    /// A whole request was parsed; it used this many bytes of the buffer. `inline` tells whether
    /// the argument ranges point into the scratch buffer rather than the input.
    Complete { consumed: usize, inline: bool },
    /// The buffer ends inside a request.
    Incomplete,
    /// The buffer holds an empty request (blank line, `*0`, `*-1`) of this many bytes: skip it.
    Empty { consumed: usize },
    /// Protocol error: the text after `-ERR `; the caller replies and closes the connection.
    Error(&'static str),
}

/// Argument view handed to commands: slices of the receive (or scratch) buffer.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    base: &'a [u8],
    ranges: &'a [(u32, u32)],
}

impl<'a> Args<'a> {
    pub fn new(base: &'a [u8], ranges: &'a [(u32, u32)]) -> Args<'a> {
        Args { base, ranges }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    /// Argument `i` (0 is the command name). Panics when out of range: commands check arity first.
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (off, len) = self.ranges[i];
        &self.base[off as usize..off as usize + len as usize]
    }
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// Parse one request from the start of `buf`. Argument ranges are written to `ranges`; inline
/// arguments that needed unescaping go to `scratch` (and the outcome says `inline: true`).
pub fn parse_command(
    buf: &[u8],
    ranges: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u8>,
    limits: &Limits,
) -> ParseOutcome {
    ranges.clear();
    match buf.first() {
        None => ParseOutcome::Incomplete,
        Some(b'*') => parse_multibulk(buf, ranges, limits),
        Some(_) => parse_inline(buf, ranges, scratch),
    }
}

/// Reads a `<prefix><integer>\r\n` line starting at `pos`. Returns (value, position after CRLF).
#[inline]
fn read_len_line(buf: &[u8], pos: usize) -> Result<Option<(i64, usize)>, ()> {
    // Fast path: a short run of digits then CRLF ("$3\r\n", "*2\r\n"), parsed while scanning.
    let mut i = pos + 1;
    let mut v: i64 = 0;
    while i < buf.len() && i < pos + 19 && buf[i].is_ascii_digit() {
        v = v * 10 + (buf[i] - b'0') as i64;
        i += 1;
    }
    if i > pos + 1
        && i + 1 < buf.len()
        && buf[i] == b'\r'
        && buf[i + 1] == b'\n'
        && !(buf[pos + 1] == b'0' && i > pos + 2)
    {
        return Ok(Some((v, i + 2)));
    }
    read_len_line_slow(buf, pos)
}

/// The general case: negative numbers, malformed lines, lines split across reads.
fn read_len_line_slow(buf: &[u8], pos: usize) -> Result<Option<(i64, usize)>, ()> {
    let rest = &buf[pos..];
    let Some(cr) = memchr(b'\r', rest) else {
        return if rest.len() > INLINE_BYTES_MAX {
            Err(())
        } else {
            Ok(None)
        };
    };
    if cr > INLINE_BYTES_MAX {
        return Err(());
    }
    if rest.len() < cr + 2 {
        return Ok(None);
    }
    // The value between the type byte and CR; a missing or malformed number is reported by the
    // caller as an invalid length, which is what Redis does.
    let value = parse_i64(&rest[1..cr]).unwrap_or(i64::MIN);
    Ok(Some((value, pos + cr + 2)))
}

fn parse_multibulk(buf: &[u8], ranges: &mut Vec<(u32, u32)>, limits: &Limits) -> ParseOutcome {
    let (count, mut pos) = match read_len_line(buf, 0) {
        Err(()) => return ParseOutcome::Error("Protocol error: too big mbulk count string"),
        Ok(None) => return ParseOutcome::Incomplete,
        Ok(Some(v)) => v,
    };
    if count == i64::MIN || count > ARGS_MAX as i64 {
        return ParseOutcome::Error("Protocol error: invalid multibulk length");
    }
    if !limits.authenticated && count > 10 {
        return ParseOutcome::Error("Protocol error: unauthenticated multibulk length");
    }
    if count <= 0 {
        return ParseOutcome::Empty { consumed: pos };
    }
    // The receive buffer is bounded by client-query-buffer-limit (at most 4 GiB), so offsets fit u32.
    for _ in 0..count {
        if pos >= buf.len() {
            return ParseOutcome::Incomplete;
        }
        if buf[pos] != b'$' {
            return ParseOutcome::Error(expected_dollar(buf[pos]));
        }
        let (len, data) = match read_len_line(buf, pos) {
            Err(()) => return ParseOutcome::Error("Protocol error: too big bulk count string"),
            Ok(None) => return ParseOutcome::Incomplete,
            Ok(Some(v)) => v,
        };
        if len < 0 || len as u64 > limits.bulk_bytes_max {
            return ParseOutcome::Error("Protocol error: invalid bulk length");
        }
        if !limits.authenticated && len > 16384 {
            return ParseOutcome::Error("Protocol error: unauthenticated bulk length");
        }
        let len = len as usize;
        let end = match data.checked_add(len).and_then(|e| e.checked_add(2)) {
            Some(e) => e,
            None => return ParseOutcome::Error("Protocol error: invalid bulk length"),
        };
        if buf.len() < end {
            return ParseOutcome::Incomplete;
        }
        if data > u32::MAX as usize || len > u32::MAX as usize {
            return ParseOutcome::Error("Protocol error: invalid bulk length");
        }
        ranges.push((data as u32, len as u32));
        pos = end;
    }
    ParseOutcome::Complete {
        consumed: pos,
        inline: false,
    }
}

/// Redis names the unexpected byte; the texts are static so the error path never allocates.
fn expected_dollar(got: u8) -> &'static str {
    const TEXTS: [&str; 128] = {
        // Filled lazily below would need allocation; instead cover printable ASCII by table.
        let mut t = ["Protocol error: expected '$', got '?'"; 128];
        macro_rules! set {
            ($($c:literal)*) => { $( t[$c as usize] = concat!("Protocol error: expected '$', got '", $c, "'"); )* };
        }
        set!('a' 'b' 'c' 'd' 'e' 'f' 'g' 'h' 'i' 'j' 'k' 'l' 'm' 'n' 'o' 'p' 'q' 'r' 's' 't' 'u' 'v' 'w' 'x' 'y' 'z'
             'A' 'B' 'C' 'D' 'E' 'F' 'G' 'H' 'I' 'J' 'K' 'L' 'M' 'N' 'O' 'P' 'Q' 'R' 'S' 'T' 'U' 'V' 'W' 'X' 'Y' 'Z'
             '0' '1' '2' '3' '4' '5' '6' '7' '8' '9' '*' ':' '+' '-' ' ' '#' '!' '%' '&' '(' ')' ',' '.' '/'
             ';' '<' '=' '>' '@' '[' ']' '^' '_' '`' '{' '|' '}' '~');
        t
    };
    TEXTS
        .get(got as usize)
        .copied()
        .unwrap_or(TEXTS[b'?' as usize])
}

fn parse_inline(buf: &[u8], ranges: &mut Vec<(u32, u32)>, scratch: &mut Vec<u8>) -> ParseOutcome {
    let Some(nl) = memchr(b'\n', buf) else {
        return if buf.len() > INLINE_BYTES_MAX {
            ParseOutcome::Error("Protocol error: too big inline request")
        } else {
            ParseOutcome::Incomplete
        };
    };
    if nl > INLINE_BYTES_MAX {
        return ParseOutcome::Error("Protocol error: too big inline request");
    }
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    scratch.clear();
    if split_args(line, ranges, scratch).is_err() {
        return ParseOutcome::Error("Protocol error: unbalanced quotes in request");
    }
    if ranges.is_empty() {
        return ParseOutcome::Empty { consumed: nl + 1 };
    }
    ParseOutcome::Complete {
        consumed: nl + 1,
        inline: true,
    }
}

/// Splits a line into words like redis.conf does: spaces separate, "double quotes" take escapes
/// (\n \r \t \b \a \\ \" \xHH), 'single quotes' take \'. A closing quote must end the word.
fn split_args(line: &[u8], ranges: &mut Vec<(u32, u32)>, out: &mut Vec<u8>) -> Result<(), ()> {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if i >= n {
                if in_dq || in_sq {
                    return Err(());
                }
                break;
            }
            let c = line[i];
            if in_dq {
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    out.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    out.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(());
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else if in_sq {
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    out.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(());
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => out.push(c),
                }
            }
            i += 1;
        }
        ranges.push((start as u32, (out.len() - start) as u32));
        if ranges.len() > ARGS_MAX {
            return Err(());
        }
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Strict decimal i64 parse as Redis's string2ll: optional '-', no '+', no spaces, no leading
/// zeros except "0" itself, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || (digits[0] == b'0' && digits.len() > 1) || (neg && digits == b"0") {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        bulk_bytes_max: 512 * 1024 * 1024,
        authenticated: true,
    };

    fn parse(buf: &[u8]) -> (ParseOutcome, Vec<Vec<u8>>) {
        let mut r = Vec::new();
        let mut s = Vec::new();
        let out = parse_command(buf, &mut r, &mut s, &LIM);
        let base: &[u8] = match out {
            ParseOutcome::Complete { inline: true, .. } => &s,
            _ => buf,
        };
        let args = Args::new(base, &r).iter().map(|a| a.to_vec()).collect();
        (out, args)
    }

    #[test]
    fn multibulk_whole_and_split() {
        let frame = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let (out, args) = parse(frame);
        assert_eq!(
            out,
            ParseOutcome::Complete {
                consumed: frame.len(),
                inline: false
            }
        );
        assert_eq!(
            args,
            vec![b"SET".to_vec(), b"key".to_vec(), b"value".to_vec()]
        );
        for cut in 0..frame.len() {
            assert_eq!(
                parse(&frame[..cut]).0,
                ParseOutcome::Incomplete,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn inline_with_quotes() {
        let (out, args) = parse(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n");
        assert!(matches!(out, ParseOutcome::Complete { inline: true, .. }));
        assert_eq!(
            args,
            vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert_eq!(parse(b"ping\n").1, vec![b"ping".to_vec()]);
        assert_eq!(parse(b"\r\n").0, ParseOutcome::Empty { consumed: 2 });
        assert_eq!(parse(b"ping").0, ParseOutcome::Incomplete);
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(
            parse(b"set \"abc\r\n").0,
            ParseOutcome::Error("Protocol error: unbalanced quotes in request")
        );
        assert_eq!(
            parse(b"*abc\r\n").0,
            ParseOutcome::Error("Protocol error: invalid multibulk length")
        );
        assert_eq!(
            parse(b"*2000000\r\n").0,
            ParseOutcome::Error("Protocol error: invalid multibulk length")
        );
        assert_eq!(
            parse(b"*1\r\n$-5\r\n").0,
            ParseOutcome::Error("Protocol error: invalid bulk length")
        );
        assert_eq!(
            parse(b"*1\r\n$x\r\n").0,
            ParseOutcome::Error("Protocol error: invalid bulk length")
        );
        assert_eq!(
            parse(b"*1\r\n$99999999999\r\n").0,
            ParseOutcome::Error("Protocol error: invalid bulk length")
        );
        assert_eq!(
            parse(b"*1\r\n:1\r\n").0,
            ParseOutcome::Error("Protocol error: expected '$', got ':'")
        );
        assert_eq!(parse(b"*0\r\n").0, ParseOutcome::Empty { consumed: 4 });
        assert_eq!(parse(b"*-1\r\n").0, ParseOutcome::Empty { consumed: 5 });
        let long = vec![b'a'; INLINE_BYTES_MAX + 10];
        assert_eq!(
            parse(&long).0,
            ParseOutcome::Error("Protocol error: too big inline request")
        );
    }

    #[test]
    fn unauthenticated_limits() {
        let lim = Limits {
            bulk_bytes_max: 1 << 29,
            authenticated: false,
        };
        let mut r = Vec::new();
        let mut s = Vec::new();
        assert_eq!(
            parse_command(b"*11\r\n", &mut r, &mut s, &lim),
            ParseOutcome::Error("Protocol error: unauthenticated multibulk length")
        );
    }

    #[test]
    fn i64_strictness() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"0"), Some(0));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let mut r = Vec::new();
            let mut s = Vec::new();
            let _ = parse_command(&data, &mut r, &mut s, &LIM);
        }

        #[test]
        fn roundtrip(args in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 1..8)) {
            let mut frame = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                frame.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                frame.extend_from_slice(a);
                frame.extend_from_slice(b"\r\n");
            }
            let (out, got) = parse(&frame);
            proptest::prop_assert_eq!(out, ParseOutcome::Complete { consumed: frame.len(), inline: false });
            proptest::prop_assert_eq!(got, args);
        }
    }
}
