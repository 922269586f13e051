//! Reading the commands of an AOF file: `*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per
//! argument, with `#...` annotation lines (timestamps) skipped. Arguments are slices of the
//! file's bytes; nothing is allocated from a length read in the file before it is checked
//! against the bytes that are really there.

/// Why reading stopped before the end of the file.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The file ends inside the command that starts at `offset` (a torn last write).
    Truncated { offset: usize },
    /// Bytes at `offset` are not a command.
    Bad { offset: usize, reason: &'static str },
}

/// The commands of one file, in order.
pub struct Commands<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Commands<'a> {
    pub fn new(buf: &'a [u8]) -> Commands<'a> {
        Commands { buf, pos: 0 }
    }

    /// Where the next command starts (after the last one returned).
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// The next command's arguments, None at the end of the file.
    pub fn next_command(&mut self) -> Option<Result<Vec<&'a [u8]>, ReadError>> {
        loop {
            if self.pos >= self.buf.len() {
                return None;
            }
            if self.buf[self.pos] != b'#' {
                break;
            }
            // An annotation: skip its line (a torn one is a truncation).
            match memchr::memchr(b'\n', &self.buf[self.pos..]) {
                Some(n) => self.pos += n + 1,
                None => return Some(Err(ReadError::Truncated { offset: self.pos })),
            }
        }
        let start = self.pos;
        let r = self.command(start);
        if r.is_err() {
            // Stay at the failing command: callers report and truncate at `offset()`.
            self.pos = start;
        }
        Some(r)
    }

    fn command(&mut self, start: usize) -> Result<Vec<&'a [u8]>, ReadError> {
        let bad = |reason| ReadError::Bad {
            offset: start,
            reason,
        };
        let torn = ReadError::Truncated { offset: start };
        if self.buf[self.pos] != b'*' {
            return Err(bad("expected '*' starting a command"));
        }
        self.pos += 1;
        let argc = self.number().map_err(|e| e.unwrap_or(torn_at(start)))?;
        if argc < 1 {
            return Err(bad("a command with no arguments"));
        }
        let remaining = self.buf.len() - self.pos;
        if argc as usize > remaining / 4 + 1 {
            // Each argument needs at least "$0\r\n\r\n": more arguments than bytes left.
            return Err(torn);
        }
        let mut args = Vec::with_capacity(argc as usize);
        for _ in 0..argc {
            match self.buf.get(self.pos) {
                None => return Err(torn_at(start)),
                Some(b'$') => self.pos += 1,
                Some(_) => return Err(bad("expected '$' starting an argument")),
            }
            let len = self.number().map_err(|e| e.unwrap_or(torn_at(start)))?;
            if len < 0 {
                return Err(bad("a negative argument length"));
            }
            let len = len as usize;
            let end = self.pos.checked_add(len).ok_or(torn_at(start))?;
            if end + 2 > self.buf.len() {
                return Err(torn_at(start));
            }
            if &self.buf[end..end + 2] != b"\r\n" {
                return Err(bad("an argument not followed by CRLF"));
            }
            args.push(&self.buf[self.pos..end]);
            self.pos = end + 2;
        }
        Ok(args)
    }

    /// A decimal number ended by CRLF. Err(None) when the file ends first.
    fn number(&mut self) -> Result<i64, Option<ReadError>> {
        let start = self.pos;
        let Some(nl) = memchr::memchr(b'\n', &self.buf[start..]) else {
            return Err(None);
        };
        let line = &self.buf[start..start + nl];
        let Some(digits) = line.strip_suffix(b"\r") else {
            return Err(Some(ReadError::Bad {
                offset: start,
                reason: "a length line not ended by CRLF",
            }));
        };
        let n = crate::resp::parse::parse_i64(digits).filter(|_| digits.len() <= 19);
        match n {
            Some(n) => {
                self.pos = start + nl + 1;
                Ok(n)
            }
            None => Err(Some(ReadError::Bad {
                offset: start,
                reason: "a length that is not a number",
            })),
        }
    }
}

fn torn_at(offset: usize) -> ReadError {
    ReadError::Truncated { offset }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(buf: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<ReadError>) {
        let mut c = Commands::new(buf);
        let mut got = Vec::new();
        while let Some(r) = c.next_command() {
            match r {
                Ok(a) => got.push(a.iter().map(|x| x.to_vec()).collect()),
                Err(e) => return (got, Some(e)),
            }
        }
        (got, None)
    }

    #[test]
    fn reads_commands_and_skips_annotations() {
        let buf = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n#TS:1700000000\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
        let (cmds, err) = all(buf);
        assert!(err.is_none());
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[1], vec![b"SET".to_vec(), b"k".to_vec(), b"".to_vec()]);
    }

    #[test]
    fn a_torn_tail_is_a_truncation_at_its_start() {
        let good = b"*1\r\n$4\r\nPING\r\n";
        for cut in 1..good.len() {
            let mut buf = good.to_vec();
            buf.extend_from_slice(&good[..cut]);
            let (cmds, err) = all(&buf);
            assert_eq!(cmds.len(), 1, "cut {cut}");
            assert_eq!(
                err,
                Some(ReadError::Truncated { offset: good.len() }),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn garbage_is_bad_format_with_its_offset() {
        let mut buf = b"*1\r\n$4\r\nPING\r\n".to_vec();
        buf.extend_from_slice(b"SET x y\r\n");
        let (_, err) = all(&buf);
        assert!(matches!(err, Some(ReadError::Bad { offset: 14, .. })));
        let (_, err) = all(b"*1\r\n$4\r\nPINGxx");
        assert!(matches!(err, Some(ReadError::Bad { offset: 0, .. })));
        let (_, err) = all(b"*1\r\n$-3\r\n");
        assert!(matches!(err, Some(ReadError::Bad { .. })));
        let (_, err) = all(b"*0\r\n");
        assert!(matches!(err, Some(ReadError::Bad { .. })));
        // An absurd count or length is not allocated: it is a torn command.
        let (_, err) = all(b"*999999999999\r\n$1\r\n");
        assert!(matches!(err, Some(ReadError::Truncated { offset: 0 })));
        let (_, err) = all(b"*1\r\n$999999999999999\r\nab\r\n");
        assert!(matches!(err, Some(ReadError::Truncated { offset: 0 })));
    }
}
