//! Reply encoding into a connection's output buffer, in RESP2 or RESP3.
//!
//! Commands call these methods; the protocol version picks the wire form for maps, sets, nulls,
//! doubles and booleans, so a command is written once for both protocols.

/// Appends replies to `buf`.
pub struct Reply<'a> {
    pub buf: &'a mut Vec<u8>,
    pub resp3: bool,
}

impl<'a> Reply<'a> {
    pub fn new(buf: &'a mut Vec<u8>, resp3: bool) -> Reply<'a> {
        Reply { buf, resp3 }
    }

    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `+<s>` (s must not contain CR or LF).
    #[inline]
    pub fn simple(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error: `msg` is the whole text after `-`, e.g. "ERR syntax error" or "WRONGTYPE ...".
    /// Newlines are replaced with spaces, as Redis does, so the frame stays well formed.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        for &c in msg.as_bytes() {
            self.buf
                .push(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `-ERR <msg>`.
    pub fn err(&mut self, msg: &str) {
        self.buf.extend_from_slice(b"-ERR ");
        self.buf.extend_from_slice(msg.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, v: i64) {
        self.buf.push(b':');
        push_i64(self.buf, v);
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        self.buf.push(b'$');
        push_i64(self.buf, data.len() as i64);
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding a decimal integer.
    pub fn bulk_i64(&mut self, v: i64) {
        let mut tmp = [0u8; 24];
        let s = fmt_i64(&mut tmp, v);
        self.bulk(s);
    }

    /// The null bulk (`$-1` in RESP2, `_` in RESP3).
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    #[inline]
    pub fn array(&mut self, len: usize) {
        self.header(b'*', len);
    }

    /// A map of `pairs` entries (`%` in RESP3, a flat array of 2×pairs in RESP2).
    pub fn map(&mut self, pairs: usize) {
        if self.resp3 {
            self.header(b'%', pairs);
        } else {
            self.header(b'*', pairs * 2);
        }
    }

    /// A set (`~` in RESP3, an array in RESP2).
    pub fn set(&mut self, len: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, len);
    }

    /// A push frame (`>` in RESP3, an array in RESP2).
    pub fn push(&mut self, len: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, len);
    }

    /// A double (`,` in RESP3, a bulk string in RESP2), formatted the way Redis prints it.
    pub fn double(&mut self, v: f64) {
        self.double_text(&fmt_double(v));
    }

    /// A sorted-set score: a double printed like C's `%.17g`, as Redis 7.0's addReplyDouble.
    pub fn score(&mut self, v: f64) {
        self.double_text(&fmt_g17(v));
    }

    /// A double already formatted: `,text` in RESP3, a bulk string in RESP2.
    fn double_text(&mut self, s: &str) {
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean (`#t`/`#f` in RESP3, `:1`/`:0` in RESP2).
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A verbatim string (`=` with a `txt:` prefix in RESP3, a bulk string in RESP2).
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.buf.push(b'=');
            push_i64(self.buf, text.len() as i64 + 4);
            self.buf.extend_from_slice(b"\r\ntxt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    fn header(&mut self, kind: u8, len: usize) {
        self.buf.push(kind);
        push_i64(self.buf, len as i64);
        self.buf.extend_from_slice(b"\r\n");
    }
}

/// Formats `v` into `tmp` and returns the digits.
pub fn fmt_i64(tmp: &mut [u8; 24], v: i64) -> &[u8] {
    let mut i = tmp.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        tmp[i] = b'-';
    }
    &tmp[i..]
}

#[inline]
pub fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if (0..10).contains(&v) {
        buf.push(b'0' + v as u8);
        return;
    }
    let mut tmp = [0u8; 24];
    buf.extend_from_slice(fmt_i64(&mut tmp, v));
}

/// Redis prints doubles in the shortest form that reads back to the same value, with `inf`,
/// `-inf` and `nan` spelled like that. Integral values print without a fraction ("3", not "3.0").
pub fn fmt_double(v: f64) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        }
    } else if v == v.trunc() && v.abs() < 1e17 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v}");
        if s.contains('e') || s.len() < 24 {
            s
        } else {
            format!("{v:e}")
        }
    }
}

/// C's `printf("%.17g", v)`: how Redis 7.0 prints sorted-set scores (17 significant digits, so
/// `1.1` prints as `1.1000000000000001`), with `inf`/`-inf`/`nan` as Redis spells them.
pub fn fmt_g17(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // The exponent after rounding to 17 significant digits decides the style, as in C.
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let m = strip_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let fixed = format!("{:.*}", (16 - exp) as usize, v);
    strip_fraction_zeros(&fixed).to_string()
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_c() {
        for (v, want) in [
            (1.1, "1.1000000000000001"),
            (0.0, "0"),
            (-0.0, "-0"),
            (3.0, "3"),
            (-2.5, "-2.5"),
            (1e17, "1e+17"),
            (12345678901234567.0, "12345678901234568"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (1.5e300, "1.5000000000000001e+300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(fmt_g17(v), want, "{v:e}");
        }
    }

    #[test]
    fn resp2_and_resp3_forms() {
        let mut b = Vec::new();
        let mut r = Reply::new(&mut b, false);
        r.null();
        r.map(1);
        r.double(1.5);
        r.boolean(true);
        r.int(-42);
        assert_eq!(b, b"$-1\r\n*2\r\n$3\r\n1.5\r\n:1\r\n:-42\r\n");
        let mut b = Vec::new();
        let mut r = Reply::new(&mut b, true);
        r.null();
        r.map(1);
        r.double(1.5);
        r.boolean(true);
        assert_eq!(b, b"_\r\n%1\r\n,1.5\r\n#t\r\n");
    }

    #[test]
    fn integers_and_doubles() {
        let mut t = [0u8; 24];
        assert_eq!(fmt_i64(&mut t, i64::MIN), b"-9223372036854775808");
        assert_eq!(fmt_i64(&mut t, 0), b"0");
        assert_eq!(fmt_double(10.6), "10.6");
        assert_eq!(fmt_double(3.0), "3");
        assert_eq!(fmt_double(f64::INFINITY), "inf");
    }
}
