//! Redis-style glob matching (`stringmatchlen`), shared by CONFIG GET, KEYS,
//! SCAN MATCH, PSUBSCRIBE and friends.
//!
//! Syntax: `*` any run of bytes, `?` one byte, `[abc]` a set, `[^abc]` a
//! negated set, `[a-z]` a range (ends may be given in either order), `\x` the
//! byte `x` literally (also inside sets). An unterminated `[` set ends at the
//! end of the pattern. Matching is on bytes; `nocase` folds ASCII letters.
//! As in Redis, an empty subject matches only the empty pattern (not even
//! `*`): KEYS and SCAN special-case a lone `*` before matching.
//!
//! Never panics on any input. Work is bounded: runs of `*` collapse, a failed
//! tail match stops all longer attempts (so time stays polynomial), and
//! patterns nesting more than [`MAX_NESTING`] separate `*`s simply do not match
//! (the recursion depth is bounded by that number).

/// Deepest `*` nesting tried before giving up (as Redis does since 7.2.6).
pub const MAX_NESTING: usize = 1000;

fn fold(b: u8, nocase: bool) -> u8 {
    if nocase {
        b.to_ascii_lowercase()
    } else {
        b
    }
}

/// Whether `s` matches the glob `pattern` (see the module doc).
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, s, nocase, &mut skip_longer, 0)
}

fn match_impl(pat: &[u8], s: &[u8], nocase: bool, skip_longer: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    // A byte of the pattern, or 0 past its end (the C code reads the NUL).
    let at = |i: usize| -> u8 { pat.get(i).copied().unwrap_or(0) };
    let (mut p, mut i) = (0usize, 0usize);
    while p < pat.len() && i < s.len() {
        match pat[p] {
            b'*' => {
                while p + 1 < pat.len() && pat[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pat.len() {
                    return true;
                }
                while i < s.len() {
                    if match_impl(&pat[p + 1..], &s[i..], nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    i += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => i += 1,
            b'[' => {
                p += 1;
                let negate = at(p) == b'^';
                if negate {
                    p += 1;
                }
                let c = s[i];
                let mut matched = false;
                loop {
                    if p >= pat.len() {
                        // Unterminated set: stop at the end of the pattern.
                        p = pat.len() - 1;
                        break;
                    }
                    if pat[p] == b'\\' && pat.len() - p >= 2 {
                        p += 1;
                        if pat[p] == c {
                            matched = true;
                        }
                    } else if pat[p] == b']' {
                        break;
                    } else if pat.len() - p >= 3 && pat[p + 1] == b'-' {
                        let (mut lo, mut hi) = (pat[p], pat[p + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let (lo, hi, c2) = (fold(lo, nocase), fold(hi, nocase), fold(c, nocase));
                        if c2 >= lo && c2 <= hi {
                            matched = true;
                        }
                        p += 2;
                    } else if fold(pat[p], nocase) == fold(c, nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if negate {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                i += 1;
            }
            b => {
                let lit = if b == b'\\' && pat.len() - p >= 2 {
                    p += 1;
                    pat[p]
                } else {
                    b
                };
                if fold(lit, nocase) != fold(s[i], nocase) {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
        if i == s.len() {
            while p < pat.len() && pat[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= pat.len() && i == s.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;

    #[test]
    fn basics() {
        // Like Redis, an empty subject matches only the empty pattern: callers
        // special-case a lone "*" (KEYS, SCAN) the way Redis does.
        assert!(!m(b"*", b"", false));
        assert!(m(b"", b"", false));
        assert!(!m(b"", b"a", false));
        assert!(m(b"h?llo", b"hello", false));
        assert!(m(b"h*llo", b"heeeello", false));
        assert!(m(b"h*llo", b"hllo", false));
        assert!(m(b"h[ae]llo", b"hallo", false));
        assert!(!m(b"h[ae]llo", b"hillo", false));
        assert!(m(b"h[^e]llo", b"hallo", false));
        assert!(!m(b"h[^e]llo", b"hello", false));
        assert!(m(b"h[a-b]llo", b"hbllo", false));
        assert!(m(b"h[b-a]llo", b"hallo", false));
        assert!(m(b"a\\*b", b"a*b", false));
        assert!(!m(b"a\\*b", b"axb", false));
        assert!(m(b"[\\]]", b"]", false));
        assert!(m(b"*port*", b"tls-port", false));
        assert!(!m(b"?", b"", false));
        assert!(m(b"a*", b"a", false));
        assert!(m(b"a**", b"a", false));
        assert!(!m(b"a*b", b"a", false));
    }

    #[test]
    fn nocase() {
        assert!(m(b"PORT", b"port", true));
        assert!(!m(b"PORT", b"port", false));
        assert!(m(b"[A-Z]ort", b"port", true));
        assert!(m(b"[P]ort", b"port", true));
    }

    #[test]
    fn odd_patterns_never_panic() {
        for p in [
            &b"["[..],
            b"[^",
            b"[a-",
            b"[a-]",
            b"\\",
            b"a\\",
            b"[\\",
            b"[\\]",
            b"[]",
            b"[^]",
            b"*[",
            b"*\\",
            b"[a",
            b"]",
        ] {
            for s in [&b""[..], b"a", b"[", b"\\", b"]", b"-", b"ab"] {
                let _ = m(p, s, false);
                let _ = m(p, s, true);
            }
        }
        // An unterminated set behaves as if closed at the end of the pattern.
        assert!(m(b"[abc", b"b", false));
        assert!(!m(b"[abc", b"d", false));
        assert!(m(b"\\", b"\\", false));
    }

    #[test]
    fn long_star_patterns_are_bounded() {
        // Exponential in a naive matcher; fast here.
        let pat = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let s = vec![b'a'; 5000];
        assert!(!m(pat, &s, false));
        // Very deep nesting just fails instead of overflowing the stack.
        let mut deep = Vec::new();
        for _ in 0..5000 {
            deep.extend_from_slice(b"*a");
        }
        let s = vec![b'a'; 6000];
        assert!(!m(&deep, &s, false));
        assert!(m(&b"*".repeat(100_000), b"xyz", false));
    }
}
