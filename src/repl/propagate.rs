//! What a command propagates: the commands that repeat its effect on a replica or on AOF load.
//!
//! By default a write command that changed data propagates as received. A command whose effect
//! depends on the clock, on randomness or on floating point formatting propagates a form that
//! does not (Redis's rules): relative expiries become PEXPIREAT / SET ... PXAT, SPOP becomes
//! SREM, INCRBYFLOAT becomes SET ... KEEPTTL, a blocking pop becomes the plain pop. Keys deleted
//! because they expired propagate as DEL before the command that noticed them.

use crate::resp::reply::push_i64;

/// The commands one client command (or a whole EXEC) propagates, RESP-encoded, each with the
/// database it runs in.
#[derive(Default)]
pub struct Pending {
    /// Set by the server while a command runs and the feed has a consumer; handlers only add
    /// commands while it is set.
    pub on: bool,
    /// The running command chose its own propagation (possibly none).
    pub rewritten: bool,
    /// The running command propagates as received, in this database: kept as a flag until
    /// its propagation is assembled, so that when it is the only command to propagate its
    /// request goes to the stream straight from the receive buffer (no copy of its own).
    pub as_received: Option<usize>,
    pub cmds: Vec<(usize, Vec<u8>)>,
}

impl Pending {
    /// Adds `args` as a command in database `db`.
    pub fn push(&mut self, db: usize, args: &[&[u8]]) {
        self.cmds.push((db, encode(args)));
    }
}

/// `args` as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    encode_into(&mut out, args.len(), args.iter().copied());
    out
}

/// A command as received (`args`), as a RESP array of bulk strings, allocated once at its
/// final size (a SET of 100 bytes grew through six reallocations otherwise).
pub fn encode_args(args: &crate::resp::parse::Args) -> Vec<u8> {
    // Most requests are already that encoding: copied as they came (formatting the lengths
    // cost more than the rest of propagation).
    if let Some(frame) = args.frame() {
        return frame.to_vec();
    }
    let mut out = Vec::with_capacity(16 + args.bytes_len() + 16 * args.len());
    encode_into(&mut out, args.len(), args.iter());
    out
}

/// Appends a RESP array of the `n` bulk strings of `args` to `out`.
pub fn encode_into<'a>(out: &mut Vec<u8>, n: usize, args: impl Iterator<Item = &'a [u8]>) {
    out.push(b'*');
    push_i64(out, n as i64);
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        push_i64(out, a.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// `SELECT <db>` as the stream carries it.
pub fn select(db: usize) -> Vec<u8> {
    encode(&[b"SELECT", db.to_string().as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_as_received_encodes_within_its_reserved_size() {
        let base = b"SETkey"
            .iter()
            .chain([b'v'; 1000].iter())
            .copied()
            .collect::<Vec<u8>>();
        let ranges = [(0u32, 3u32), (3, 3), (6, 1000)];
        let args = crate::resp::parse::Args::new(&base, &ranges);
        let out = encode_args(&args);
        assert_eq!(out, encode(&[b"SET", b"key", &[b'v'; 1000]]));
        // Reserved up front, so it never grew: what it holds fits what was reserved.
        assert!(out.len() <= 16 + args.bytes_len() + 16 * args.len());
        assert_eq!(args.bytes_len(), 1006);
    }

    #[test]
    fn a_parsed_request_is_propagated_as_its_own_bytes() {
        use crate::resp::parse::{parse_command, Args, Limits, ParseOutcome};
        let long = vec![b'v'; 1234];
        let cases: [&[&[u8]]; 4] = [
            &[b"SET", b"k", b"v"],
            &[b"SET", b"k", &long],
            &[b"DEL", b"a", b"", b"0123456789"],
            &[b"PING"],
        ];
        for want in cases {
            let mut wire = encode(want);
            wire.extend_from_slice(b"*1\r\n$4\r\nPING\r\n"); // the next request follows
            let (mut ranges, mut scratch) = (Vec::new(), Vec::new());
            let limits = Limits {
                bulk_bytes_max: 1 << 20,
                authenticated: true,
            };
            let outcome = parse_command(&wire, &mut ranges, &mut scratch, &limits);
            assert!(matches!(
                outcome,
                ParseOutcome::Complete { inline: false, .. }
            ));
            let args = Args::framed(&wire, &ranges);
            assert_eq!(args.frame(), Some(&encode(want)[..]));
            assert_eq!(encode_args(&args), encode(want));
            // Not framed (inline, queued elsewhere): encoded from the arguments.
            assert_eq!(Args::new(&wire, &ranges).frame(), None);
            assert_eq!(encode_args(&Args::new(&wire, &ranges)), encode(want));
        }
        // The parser skips the two bytes after a CR and after an argument, as Redis does:
        // anything but CRLF there is never copied into the stream.
        for bad in [
            &b"*3\r\n$3\r\nSET\r\n$1\r\nkXY$1\r\nv\r\n"[..],
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\rXv\r\n",
            b"*3\rX$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nvXY",
        ] {
            let (mut ranges, mut scratch) = (Vec::new(), Vec::new());
            let limits = Limits {
                bulk_bytes_max: 1 << 20,
                authenticated: true,
            };
            let outcome = parse_command(bad, &mut ranges, &mut scratch, &limits);
            assert!(matches!(
                outcome,
                ParseOutcome::Complete { inline: false, .. }
            ));
            let args = Args::framed(bad, &ranges);
            assert_eq!(args.frame(), None, "{:?}", String::from_utf8_lossy(bad));
            assert_eq!(encode_args(&args), encode(&[b"SET", b"k", b"v"]));
        }
        // Bytes that are not the canonical encoding of the ranges are never reused.
        let base = b"SETkeyv".to_vec();
        let ranges = [(0u32, 3u32), (3, 3), (6, 1)];
        assert_eq!(Args::framed(&base, &ranges).frame(), None);
        assert_eq!(
            encode_args(&Args::framed(&base, &ranges)),
            encode(&[b"SET", b"key", b"v"])
        );
    }

    #[test]
    fn encodes_resp_arrays() {
        assert_eq!(
            encode(&[b"SET", b"k", b""]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
        );
        assert_eq!(select(12), b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n");
        let long = vec![b'x'; 1234];
        let e = encode(&[&long]);
        assert!(e.starts_with(b"*1\r\n$1234\r\nxxx"));
        assert_eq!(e.len(), 4 + 7 + 1234 + 2);
    }
}
