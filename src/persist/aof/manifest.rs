//! Redis 7's multi-part AOF layout: in `appenddirname`, one base file (an RDB or an AOF of
//! commands), incremental files of commands written since, and a manifest naming them:
//!
//! ```text
//! file appendonly.aof.1.base.rdb seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! Type `b` is the base, `i` an incremental file (loaded in manifest order), `h` a history file
//! left from a rewrite, to be deleted. Lines starting with `#` are comments; a name with spaces
//! or unprintable bytes is quoted, as Redis writes it.

/// A manifest line longer than this is refused (Redis's limit is the same order).
const LINE_BYTES_MAX: usize = 1024 + 64;
/// Files one manifest may name.
const FILES_MAX: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Base,
    Incr,
    History,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub seq: u64,
    pub kind: Kind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileEntry>,
    pub incrs: Vec<FileEntry>,
    pub history: Vec<FileEntry>,
}

impl Manifest {
    /// The highest sequence numbers in use: (base, incr).
    pub fn seqs(&self) -> (u64, u64) {
        let b = self.base.as_ref().map_or(0, |b| b.seq);
        let i = self.incrs.iter().map(|f| f.seq).max().unwrap_or(0);
        (b, i)
    }

    /// The manifest as Redis writes it: base, history, then the incremental files in order.
    pub fn format(&self) -> String {
        let mut out = String::new();
        let all = self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter());
        for f in all {
            let t = match f.kind {
                Kind::Base => 'b',
                Kind::Incr => 'i',
                Kind::History => 'h',
            };
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                quote(&f.name),
                f.seq,
                t
            ));
        }
        out
    }

    /// Parses a manifest; the error says what is wrong, as Redis's log line does.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        if text.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        let mut rest = text;
        while !rest.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                return Err("The AOF manifest file is invalid format".into());
            };
            let line = &rest[..nl];
            rest = &rest[nl + 1..];
            if line.len() > LINE_BYTES_MAX {
                return Err("The AOF manifest file contains too long line".into());
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.first() == Some(&b'#') || line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let words = split_args(line).ok_or("Invalid AOF manifest file format")?;
            if words.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                let v = &pair[1];
                match pair[0].as_slice() {
                    b"file" => name = String::from_utf8(v.clone()).ok(),
                    b"seq" => seq = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()),
                    b"type" => {
                        kind = match v.as_slice() {
                            b"b" => Some(Kind::Base),
                            b"i" => Some(Kind::Incr),
                            b"h" => Some(Kind::History),
                            _ => None,
                        }
                    }
                    _ => {} // unknown keys are ignored, as Redis does
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if !is_plain_name(&name) {
                return Err(format!("Invalid AOF file name in the manifest: {name}"));
            }
            let entry = FileEntry { name, seq, kind };
            match kind {
                Kind::Base if m.base.is_some() => {
                    return Err("Found duplicate base file information".into())
                }
                Kind::Base => m.base = Some(entry),
                Kind::Incr => {
                    if m.incrs.last().is_some_and(|l| l.seq >= seq) {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incrs.push(entry);
                }
                Kind::History => m.history.push(entry),
            }
            if m.incrs.len() + m.history.len() > FILES_MAX {
                return Err("The AOF manifest names too many files".into());
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }
}

/// A file name the manifest may use: no directory parts, nothing that escapes `appenddirname`.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

/// `name` as a manifest word: bare when it needs no quoting, else a quoted string with escapes.
fn quote(name: &str) -> String {
    let plain = name
        .bytes()
        .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
    if plain {
        return name.to_string();
    }
    let mut s = String::from("\"");
    for c in name.bytes() {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            32..=126 => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// Splits a line into words the way Redis's sdssplitargs does (bare words, "double quoted"
/// with escapes, 'single quoted'); None on an unbalanced quote.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        let mut w = Vec::new();
        match line[i] {
            b'"' => {
                i += 1;
                loop {
                    let c = *line.get(i)?;
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            let e = *line.get(i)?;
                            i += 1;
                            match e {
                                b'n' => w.push(b'\n'),
                                b'r' => w.push(b'\r'),
                                b't' => w.push(b'\t'),
                                b'x' => {
                                    let hex = std::str::from_utf8(line.get(i..i + 2)?).ok()?;
                                    w.push(u8::from_str_radix(hex, 16).ok()?);
                                    i += 2;
                                }
                                other => w.push(other),
                            }
                        }
                        other => w.push(other),
                    }
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    let c = *line.get(i)?;
                    i += 1;
                    if c == b'\'' {
                        break;
                    }
                    w.push(c);
                }
            }
            _ => {
                while i < line.len() && !line[i].is_ascii_whitespace() {
                    w.push(line[i]);
                    i += 1;
                }
            }
        }
        words.push(w);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_redis_format() {
        let text = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.seqs(), (1, 2));
        assert_eq!(m.format().as_bytes(), text);
    }

    #[test]
    fn quotes_odd_names_and_reads_them_back() {
        let m = Manifest {
            base: Some(FileEntry {
                name: "my file\t.aof.1.base.rdb".into(),
                seq: 1,
                kind: Kind::Base,
            }),
            incrs: vec![],
            history: vec![FileEntry {
                name: "old.aof".into(),
                seq: 3,
                kind: Kind::History,
            }],
        };
        let text = m.format();
        assert!(text.starts_with("file \"my file\\t.aof.1.base.rdb\""));
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
    }

    #[test]
    fn refuses_bad_manifests() {
        for bad in [
            &b""[..],
            b"file a seq 1 type b",      // no newline
            b"file a seq 1\n",           // odd word count
            b"file a seq x type i\n",    // bad seq
            b"file a seq 1 type z\n",    // bad type
            b"file ../x seq 1 type i\n", // escapes the directory
            b"file \"a seq 1 type i\n",  // unbalanced quote
            b"file a seq 2 type i\nfile b seq 1 type i\n",
            b"file a seq 1 type b\nfile b seq 2 type b\n",
            b"# only a comment\n",
        ] {
            assert!(
                Manifest::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let ok = Manifest::parse(b"# comment\nfile a seq 1 type i\n").unwrap();
        assert_eq!(ok.incrs[0].name, "a");
    }
}
