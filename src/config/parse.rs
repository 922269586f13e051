//! Tokenizing of `redis.conf` text: lines, arguments and quoting.
//!
//! A config line is split into arguments the way Redis's `sdssplitargs` does:
//! whitespace separates arguments; `"double quotes"` understand the escapes
//! `\n \r \t \b \a \\ \"` and `\xHH`; `'single quotes'` understand only `\'`;
//! a quote may start in the middle of an argument, but a closing quote must be
//! followed by whitespace or the end of the line. Anything else is the error
//! "unbalanced quotes". A NUL byte ends the line, as it does for the C code.
//!
//! The inverse, [`repr`], quotes a value so that [`split_args`] gives it back
//! (used for synthesized `--option` lines and by CONFIG REWRITE).

/// Why a line could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnbalancedQuotes;

fn is_space(b: u8) -> bool {
    // C isspace() in the "C" locale.
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits one line into arguments (see the module doc for the rules).
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, UnbalancedQuotes> {
    // Everything after a NUL is invisible, as in C.
    let line = match line.iter().position(|&b| b == 0) {
        Some(n) => &line[..n],
        None => line,
    };
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut out = Vec::new();
    let mut p = 0usize;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(out);
        }
        let mut cur = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        cur.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    cur.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(UnbalancedQuotes);
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(UnbalancedQuotes);
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    other => cur.push(other),
                }
            }
            p += 1;
        }
        out.push(cur);
    }
}

/// Quotes `s` in double quotes, escaping what [`split_args`] would not give
/// back verbatim (like Redis's `sdscatrepr`).
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{:02x}", b)),
        }
    }
    out.push('"');
    out
}

/// Trims the characters Redis trims from both ends of a config line.
pub fn trim_line(line: &[u8]) -> &[u8] {
    let is_trim = |b: &u8| matches!(*b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !is_trim(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_trim(b))
        .map_or(start, |e| e + 1);
    &line[start..end]
}

/// Whether a trimmed line carries no directive (blank or `#` comment).
pub fn is_comment_or_blank(trimmed: &[u8]) -> bool {
    trimmed.is_empty() || trimmed[0] == b'#'
}

/// Splits config text into lines on `\n`, like `sdssplitlen`: text ending in a
/// newline yields a final empty line.
pub fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    if text.is_empty() {
        return Vec::new();
    }
    text.split(|&b| b == b'\n').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<String>, UnbalancedQuotes> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn plain_words_and_whitespace() {
        assert_eq!(split("  port   6379 ").unwrap(), vec!["port", "6379"]);
        assert_eq!(split("a\tb").unwrap(), vec!["a", "b"]);
        assert!(split("").unwrap().is_empty());
        assert!(split("   ").unwrap().is_empty());
    }

    #[test]
    fn double_quote_escapes() {
        assert_eq!(split(r#"x "a b""#).unwrap(), vec!["x", "a b"]);
        assert_eq!(split(r#""\n\r\t\\\"""#).unwrap(), vec!["\n\r\t\\\""]);
        assert_eq!(
            split_args(br#""\b\a\x41\x7a\xzz""#).unwrap(),
            vec![b"\x08\x07Azxzz".to_vec()]
        );
        assert_eq!(split(r#""\q""#).unwrap(), vec!["q"]);
        assert_eq!(split(r#""""#).unwrap(), vec![""]);
        // A quote may open in the middle of a word.
        assert_eq!(split(r#"ab"c d""#).unwrap(), vec!["abc d"]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(
            split(r"'a b' 'it\'s' '\n'").unwrap(),
            vec!["a b", "it's", "\\n"]
        );
        assert_eq!(split("''").unwrap(), vec![""]);
    }

    #[test]
    fn unbalanced_quotes() {
        assert_eq!(split(r#"bind "a"#), Err(UnbalancedQuotes));
        assert_eq!(split(r#"bind "a"b"#), Err(UnbalancedQuotes));
        assert_eq!(split("x 'a"), Err(UnbalancedQuotes));
        assert_eq!(split("x 'a'b"), Err(UnbalancedQuotes));
        assert_eq!(split(r#"x "a\""#), Err(UnbalancedQuotes));
        // `\x` without two hex digits is a plain escape of `x`.
        assert_eq!(split(r#"x "\x4""#).unwrap(), vec!["x", "x4"]);
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(
            split_args(b"a b\0c").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
    }

    #[test]
    fn repr_round_trips() {
        for s in [
            &b""[..],
            b"a b",
            b"q\"x\\",
            b"\x00\x01\xff\n\t\x07\x08",
            b"it's",
        ] {
            let r = repr(s);
            assert_eq!(split_args(r.as_bytes()).unwrap(), vec![s.to_vec()], "{r}");
        }
        assert_eq!(repr(b"e\"f"), r#""e\"f""#);
    }

    #[test]
    fn lines() {
        assert_eq!(split_lines(b"a\nb\n"), vec![&b"a"[..], b"b", b""]);
        assert_eq!(trim_line(b" \t x y \r"), b"x y");
        assert!(is_comment_or_blank(b"# x"));
        assert!(is_comment_or_blank(b""));
        assert!(!is_comment_or_blank(b"x"));
    }
}
