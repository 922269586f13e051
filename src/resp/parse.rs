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

use memchr::memchr2;

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
    /// `base` starts with the multibulk these arguments were parsed from (see `framed`).
    framed: bool,
}

impl<'a> Args<'a> {
    pub fn new(base: &'a [u8], ranges: &'a [(u32, u32)]) -> Args<'a> {
        Args {
            base,
            ranges,
            framed: false,
        }
    }

    /// Arguments parsed from the multibulk at the start of `base` (not an inline command), so
    /// the request's own bytes can be reused as its encoding (`frame`).
    pub fn framed(base: &'a [u8], ranges: &'a [(u32, u32)]) -> Args<'a> {
        Args {
            base,
            ranges,
            framed: true,
        }
    }

    /// The request as received, when it is exactly the canonical RESP encoding of the
    /// arguments (what propagation would write). The parser accepts only canonical lengths (no
    /// sign, no leading zero), so a multibulk of the canonical size has canonical numbers; but
    /// like Redis it skips the two bytes after each CR and after each argument unread, so those
    /// are checked to be CRLF here (a client could otherwise put bytes in the stream that a
    /// replica or the AOF loader rejects).
    pub fn frame(&self) -> Option<&'a [u8]> {
        if !self.framed || self.ranges.is_empty() {
            return None;
        }
        let digits = |mut v: usize| {
            let mut d = 1;
            while v >= 10 {
                v /= 10;
                d += 1;
            }
            d
        };
        let size = 3
            + digits(self.ranges.len())
            + self
                .ranges
                .iter()
                .map(|&(_, len)| 5 + digits(len as usize) + len as usize)
                .sum::<usize>();
        let (off, len) = *self.ranges.last()?;
        let end = off as usize + len as usize + 2;
        let frame = self.base.get(..end)?;
        if end != size || frame[0] != b'*' {
            return None;
        }
        let crlf = |at: usize| frame.get(at..at + 2) == Some(&b"\r\n"[..]);
        let separated = crlf(1 + digits(self.ranges.len()))
            && self.ranges.iter().all(|&(off, len)| {
                let (off, len) = (off as usize, len as usize);
                off >= 2 && crlf(off - 2) && crlf(off + len)
            });
        separated.then_some(frame)
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

    /// The arguments' bytes together (without any framing).
    pub fn bytes_len(&self) -> usize {
        self.ranges.iter().map(|&(_, len)| len as usize).sum()
    }
}

/// Longest length line `peek_second_arg` reads (`*` or `$`, up to 10 digits, CRLF).
const PEEK_LEN_LINE_BYTES_MAX: usize = 13;

/// A quick look at the multibulk request at the start of `buf`, for cache warm-up only: its
/// size in bytes and where its second argument (the first key of most commands) lies, as
/// `(consumed, key_start, key_len)`. None for anything but a complete, plainly formed multibulk
/// of at least two arguments (inline, partial, oversized or malformed): the real parse decides
/// what those are. Never panics and never allocates, whatever the input.
pub fn peek_second_arg(buf: &[u8]) -> Option<(usize, usize, usize)> {
    let (count, mut pos) = peek_len(buf, 0, b'*')?;
    if !(2..=ARGS_MAX).contains(&count) {
        return None;
    }
    let mut key = (0, 0);
    for i in 0..count {
        let (len, at) = peek_len(buf, pos, b'$')?;
        let end = at.checked_add(len)?;
        if buf.get(end..end + 2)? != b"\r\n" {
            return None;
        }
        if i == 1 {
            key = (at, len);
        }
        pos = end + 2;
    }
    Some((pos, key.0, key.1))
}

/// Reads `<kind><digits>\r\n` at `pos`: the number and where the bytes after it start.
#[inline]
fn peek_len(buf: &[u8], pos: usize, kind: u8) -> Option<(usize, usize)> {
    if *buf.get(pos)? != kind {
        return None;
    }
    let mut n = 0usize;
    let mut i = pos + 1;
    loop {
        let b = *buf.get(i)?;
        match b {
            b'0'..=b'9' if i - pos < PEEK_LEN_LINE_BYTES_MAX - 2 => {
                n = n * 10 + (b - b'0') as usize;
                i += 1;
            }
            b'\r' if i > pos + 1 && *buf.get(i + 1)? == b'\n' => return Some((n, i + 2)),
            _ => return None,
        }
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
    parse_command_resume(buf, ranges, scratch, limits, &mut None)
}

/// Where an incomplete multibulk request stopped: `count` arguments in all, the next one's
/// header at `pos`; the ones before it are already in `ranges`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume {
    count: usize,
    pos: usize,
}

/// `parse_command` for the request being received: when `resume` holds where the previous call
/// stopped (and `ranges` still holds what it parsed), parsing continues from there, so a request
/// that arrives in many small pieces costs linear work, not quadratic. On return `resume` holds
/// the new stopping point, or None once the request is complete or rejected.
pub fn parse_command_resume(
    buf: &[u8],
    ranges: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u8>,
    limits: &Limits,
    resume: &mut Option<Resume>,
) -> ParseOutcome {
    if let Some(r) = resume.take() {
        if buf.first() == Some(&b'*') && r.pos <= buf.len() && ranges.len() < r.count {
            return parse_bulks(buf, ranges, limits, r.count, r.pos, resume);
        }
    }
    ranges.clear();
    match buf.first() {
        None => ParseOutcome::Incomplete,
        Some(b'*') => parse_multibulk(buf, ranges, limits, resume),
        Some(_) => parse_inline(buf, ranges, scratch),
    }
}

/// Reads a `<prefix><integer>\r\n` line starting at `pos`. Returns (value, position after CRLF).
///
/// Like Redis, which finds the CR with `strchr`, a NUL byte before the CR hides it: the line is
/// then incomplete until more than `INLINE_BYTES_MAX` bytes are buffered, and then an error.
fn read_len_line(buf: &[u8], pos: usize) -> Result<Option<(i64, usize)>, ()> {
    let rest = &buf[pos..];
    // Length lines are short ("$3", "*2"): a plain scan of the first bytes beats a memchr call.
    let short = rest.iter().take(24).position(|&c| c == b'\r' || c == 0);
    let found = short.or_else(|| memchr2(b'\r', 0, rest));
    let Some(cr) = found.filter(|&i| rest[i] == b'\r') else {
        return if rest.len() > INLINE_BYTES_MAX {
            Err(())
        } else {
            Ok(None)
        };
    };
    if rest.len() < cr + 2 {
        return Ok(None);
    }
    // The value between the type byte and CR; a missing or malformed number (including one too
    // long for an i64) is reported by the caller as an invalid length, which is what Redis does.
    // The CR may be the type byte itself (`*1\r\n\r\n`): then there is no number at all.
    let value = rest.get(1..cr).and_then(parse_i64).unwrap_or(i64::MIN);
    Ok(Some((value, pos + cr + 2)))
}

fn parse_multibulk(
    buf: &[u8],
    ranges: &mut Vec<(u32, u32)>,
    limits: &Limits,
    resume: &mut Option<Resume>,
) -> ParseOutcome {
    let (count, pos) = match read_len_line(buf, 0) {
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
    parse_bulks(buf, ranges, limits, count as usize, pos, resume)
}

/// The `$<len>\r\n<bytes>\r\n` arguments of a multibulk request, from the one at `pos` until
/// `ranges` holds `count` of them.
fn parse_bulks(
    buf: &[u8],
    ranges: &mut Vec<(u32, u32)>,
    limits: &Limits,
    count: usize,
    mut pos: usize,
    resume: &mut Option<Resume>,
) -> ParseOutcome {
    // The receive buffer is bounded by client-query-buffer-limit (at most 4 GiB), so offsets fit u32.
    while ranges.len() < count {
        let incomplete = |resume: &mut Option<Resume>| {
            *resume = Some(Resume { count, pos });
            ParseOutcome::Incomplete
        };
        if pos >= buf.len() {
            return incomplete(resume);
        }
        // Redis waits for the whole length line before it looks at the type byte.
        let (len, data) = match read_len_line(buf, pos) {
            Err(()) => return ParseOutcome::Error("Protocol error: too big bulk count string"),
            Ok(None) => return incomplete(resume),
            Ok(Some(v)) => v,
        };
        if buf[pos] != b'$' {
            return ParseOutcome::Error(expected_dollar(buf[pos]));
        }
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
            return incomplete(resume);
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

const DOLLAR_PREFIX: &[u8] = b"Protocol error: expected '$', got '";
const DOLLAR_TEXT_LEN: usize = DOLLAR_PREFIX.len() + 2;

/// "Protocol error: expected '$', got 'X'" for every ASCII byte X, built at compile time so the
/// error path never allocates. Redis prints the byte as is, except CR and LF, which it turns into
/// spaces so the reply stays one line.
static DOLLAR_TEXTS: [[u8; DOLLAR_TEXT_LEN]; 128] = {
    let mut t = [[0u8; DOLLAR_TEXT_LEN]; 128];
    let mut c = 0;
    while c < 128 {
        let mut i = 0;
        while i < DOLLAR_PREFIX.len() {
            t[c][i] = DOLLAR_PREFIX[i];
            i += 1;
        }
        t[c][i] = if c == b'\r' as usize || c == b'\n' as usize {
            b' '
        } else {
            c as u8
        };
        t[c][i + 1] = b'\'';
        c += 1;
    }
    t
};

/// Redis names the unexpected byte. A byte above 0x7f cannot be part of a `&str` and is shown as
/// '?' (Redis sends the raw byte).
fn expected_dollar(got: u8) -> &'static str {
    let i = if got.is_ascii() { got } else { b'?' };
    std::str::from_utf8(&DOLLAR_TEXTS[i as usize])
        .unwrap_or("Protocol error: expected '$', got '?'")
}

fn parse_inline(buf: &[u8], ranges: &mut Vec<(u32, u32)>, scratch: &mut Vec<u8>) -> ParseOutcome {
    // Redis finds the newline with `strchr`, so a NUL byte before it hides it: the request stays
    // incomplete until the line limit is passed. (This also means split_args never sees a NUL.)
    let found = memchr2(b'\n', 0, buf).filter(|&i| buf[i] == b'\n');
    let Some(nl) = found else {
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

/// C `isspace` in the "C" locale (Rust's `is_ascii_whitespace` lacks vertical tab).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits a line into words like Redis's `sdssplitargs`: whitespace separates, "double quotes"
/// take escapes (\n \r \t \b \a \\ \" \xHH), 'single quotes' take \'. A closing quote must
/// end the word. A NUL byte ends the line (callers never pass one; this keeps every loop moving).
fn split_args(line: &[u8], ranges: &mut Vec<(u32, u32)>, out: &mut Vec<u8>) -> Result<(), ()> {
    let line = match line.iter().position(|&c| c == 0) {
        Some(end) => &line[..end],
        None => line,
    };
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
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
                    if i + 1 < n && !is_space(line[i + 1]) {
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
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(());
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else {
                match c {
                    // Only these end an unquoted word (vertical tab and form feed do not).
                    b' ' | b'\n' | b'\r' | b'\t' => break,
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
    fn peek_second_arg_agrees_with_the_parser() {
        let two = b"*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
        let (consumed, at, len) = peek_second_arg(two).expect("a plain multibulk");
        assert_eq!(&two[at..at + len], b"key:1");
        let (out, args) = parse(two);
        assert_eq!(
            out,
            ParseOutcome::Complete {
                consumed,
                inline: false
            }
        );
        assert_eq!(args[1], b"key:1");
        let (consumed2, at2, len2) = peek_second_arg(&two[consumed..]).expect("the second");
        assert_eq!(&two[consumed + at2..consumed + at2 + len2], b"k");
        assert_eq!(consumed + consumed2, two.len());
        // Every prefix is incomplete; nothing that is not a plain multibulk of two or more
        // arguments is peeked at.
        for cut in 0..consumed {
            assert_eq!(peek_second_arg(&two[..cut]), None, "prefix of {cut} bytes");
        }
        for bad in [
            &b"*1\r\n$4\r\nPING\r\n"[..],
            b"GET key\r\n",
            b"*2\r\n$3\r\nGET\r\n$-1\r\n",
            b"*2\r\n$3\r\nGET\r\n$2\r\nkey\r\n",
            b"*2\r\n$3\r\nGET\r\n$99999999999\r\nk\r\n",
            b"*99999999999\r\n",
            b"*\r\n",
            b"*2\n$3\r\nGET\r\n$1\r\nk\r\n",
        ] {
            assert_eq!(
                peek_second_arg(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
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
    fn nul_hides_the_line_end_like_redis() {
        // A NUL before the newline: incomplete (Redis's strchr stops there), not an argument flood.
        assert_eq!(parse(b"\0\n").0, ParseOutcome::Incomplete);
        assert_eq!(parse(b"PING\0xyz\r\n").0, ParseOutcome::Incomplete);
        let mut long = b"PING\0".to_vec();
        long.resize(INLINE_BYTES_MAX + 10, b'a');
        long.extend_from_slice(b"\r\n");
        assert_eq!(
            parse(&long).0,
            ParseOutcome::Error("Protocol error: too big inline request")
        );
        // A NUL after the newline belongs to the next request.
        assert_eq!(parse(b"PING\r\n\0").1, vec![b"PING".to_vec()]);
        assert_eq!(parse(b"*1\0\r\n$4\r\nPING\r\n").0, ParseOutcome::Incomplete);
        assert_eq!(parse(b"*1\r\n$4\0\r\nPING\r\n").0, ParseOutcome::Incomplete);
        assert_eq!(parse(b"*1\r\n\0xx\r\n").0, ParseOutcome::Incomplete);
        let mut long = b"*1\r\n$4\0".to_vec();
        long.resize(INLINE_BYTES_MAX + 10, b'a');
        assert_eq!(
            parse(&long).0,
            ParseOutcome::Error("Protocol error: too big bulk count string")
        );
        let mut long = b"*1\0".to_vec();
        long.resize(INLINE_BYTES_MAX + 10, b'a');
        assert_eq!(
            parse(&long).0,
            ParseOutcome::Error("Protocol error: too big mbulk count string")
        );
    }

    #[test]
    fn inline_whitespace_is_c_isspace() {
        assert_eq!(parse(b"\x0bPING\r\n").1, vec![b"PING".to_vec()]);
        assert_eq!(
            parse(b"ECHO a\x0bb\r\n").1,
            vec![b"ECHO".to_vec(), b"a\x0bb".to_vec()]
        );
        assert_eq!(
            parse(b"ECHO \"a\"\x0b\r\n").1,
            vec![b"ECHO".to_vec(), b"a".to_vec()]
        );
        assert_eq!(
            parse(b"ECHO \x0c a\r\n").1,
            vec![b"ECHO".to_vec(), b"a".to_vec()]
        );
    }

    #[test]
    fn expected_dollar_names_the_byte() {
        let e = |b: &[u8]| parse(b).0;
        assert_eq!(
            e(b"*1\r\n\"xx\r\n"),
            ParseOutcome::Error("Protocol error: expected '$', got '\"'")
        );
        assert_eq!(
            e(b"*1\r\n\\xx\r\n"),
            ParseOutcome::Error("Protocol error: expected '$', got '\\'")
        );
        assert_eq!(
            e(b"*1\r\n\x01xx\r\n"),
            ParseOutcome::Error("Protocol error: expected '$', got '\x01'")
        );
        assert_eq!(
            e(b"*1\r\n\nxx\r\n"),
            ParseOutcome::Error("Protocol error: expected '$', got ' '")
        );
        assert_eq!(
            e(b"*1\r\n\rxx\r\n"),
            ParseOutcome::Error("Protocol error: expected '$', got ' '")
        );
        // The whole length line must be there before the type byte is judged.
        assert_eq!(e(b"*1\r\n:1"), ParseOutcome::Incomplete);
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
    fn resumed_parse_matches_whole_parse() {
        let mut frame = b"*300\r\n".to_vec();
        for i in 0..300 {
            let a = format!("arg{i}");
            frame.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        let (whole, want) = parse(&frame);
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        let mut resume = None;
        let mut out = ParseOutcome::Incomplete;
        // Feed the frame 7 bytes at a time, as a slow sender would.
        for end in (7..frame.len()).step_by(7).chain([frame.len()]) {
            out = parse_command_resume(&frame[..end], &mut ranges, &mut scratch, &LIM, &mut resume);
            if end < frame.len() {
                assert_eq!(out, ParseOutcome::Incomplete);
            }
        }
        assert_eq!(out, whole);
        assert!(resume.is_none());
        let got: Vec<Vec<u8>> = Args::new(&frame, &ranges)
            .iter()
            .map(|a| a.to_vec())
            .collect();
        assert_eq!(got, want);
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
