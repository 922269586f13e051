//! Reading RDB: a whole file, or one DUMP payload. Input is untrusted: every length is checked
//! against the bytes that remain before anything is allocated for it, nothing recurses, and
//! every failure is an `RdbError` naming the byte offset.

use super::*;
use crate::persist::{crc64::crc64, lzf};
use crate::store::hash::Hash;
use crate::store::list::{End, List};
use crate::store::set::Set;
use crate::store::zset::ZSet;
use crate::store::Value;
use std::borrow::Cow;

/// One key read from a file.
pub struct Loaded<'a> {
    pub db: usize,
    /// Borrowed from the file's bytes unless it was compressed.
    pub key: Cow<'a, [u8]>,
    pub value: Value,
    pub expire_at_ms: u64,
}

impl Loaded<'_> {
    /// The keyspace entry for this key, last accessed at `access_s`.
    pub fn into_entry(self, access_s: u32) -> crate::store::Entry {
        crate::store::Entry {
            key: (&*self.key).into(),
            value: self.value,
            expire_at_ms: self.expire_at_ms,
            access_s,
        }
    }
}

/// Where a file's keys go. Any `FnMut(Loaded)` is one (ignoring sizes).
pub trait LoadSink<'a> {
    fn key(&mut self, l: Loaded<'a>);
    /// RESIZEDB: database `db` is about to receive about `keys` keys.
    fn resize(&mut self, _db: usize, _keys: u64) {}
    /// Called after each key record with the reader's offset in the file. False stops the
    /// load with an error (a shutdown asked for while it runs).
    fn progress(&mut self, _offset: usize) -> bool {
        true
    }
}

impl<'a, F: FnMut(Loaded<'a>)> LoadSink<'a> for F {
    fn key(&mut self, l: Loaded<'a>) {
        self(l)
    }
}

/// What the loader did besides keys, for the log.
#[derive(Default, Debug)]
pub struct Summary {
    pub version: u16,
    pub keys: usize,
    pub expired_skipped: usize,
    pub aux: Vec<(String, String)>,
    pub skipped: Vec<String>,
    /// Where the file's RDB part ends (an AOF with an RDB preamble continues with commands).
    pub end: usize,
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    enc: Encodings,
}

type Res<T> = Result<T, RdbError>;
/// A `packed` blob reader: calls its callback per element, returns the count.
type PackedReader = fn(&[u8], &mut dyn FnMut(&[u8])) -> Result<usize, &'static str>;

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], enc: Encodings) -> Reader<'a> {
        Reader { buf, pos: 0, enc }
    }

    fn err<T>(&self, reason: impl Into<String>) -> Res<T> {
        Err(RdbError {
            offset: self.pos,
            reason: reason.into(),
        })
    }

    fn bytes(&mut self, n: usize) -> Res<&'a [u8]> {
        match self
            .pos
            .checked_add(n)
            .and_then(|e| self.buf.get(self.pos..e))
        {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => self.err(format!("unexpected end of data reading {n} bytes")),
        }
    }

    fn byte(&mut self) -> Res<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn u64_le(&mut self) -> Res<u64> {
        let b = self.bytes(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// A length, or the special encoding of a string that follows (`Err(enc)` inside `Ok`).
    fn len_or_enc(&mut self) -> Res<Result<u64, u8>> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok((first & 0x3f) as u64),
            1 => Ok(((first & 0x3f) as u64) << 8 | self.byte()? as u64),
            2 => match first {
                LEN_32BIT => {
                    let b = self.bytes(4)?;
                    Ok(u32::from_be_bytes(b.try_into().expect("4 bytes")) as u64)
                }
                LEN_64BIT => {
                    let b = self.bytes(8)?;
                    Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
                }
                _ => return self.err(format!("unknown length encoding {first:#x}")),
            },
            _ => Err(first & 0x3f),
        })
    }

    fn len(&mut self) -> Res<u64> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(_) => self.err("string encoding where a length was expected"),
        }
    }

    /// A count of items that each take at least one byte: bounded by what remains.
    fn count(&mut self) -> Res<usize> {
        let n = self.len()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return self.err(format!("length {n} is larger than the rest of the data"));
        }
        Ok(n as usize)
    }

    /// A string: borrowed from the input when stored plain, built when integer-encoded or
    /// compressed (so loading copies each string once, into the keyspace).
    pub fn string(&mut self) -> Res<Cow<'a, [u8]>> {
        Ok(match self.string_or_int()? {
            Ok(s) => s,
            Err(i) => Cow::Owned(i.to_string().into_bytes()),
        })
    }

    /// A string value: integer-encoded ones become integers without a round trip through text.
    fn string_value(&mut self) -> Res<Value> {
        Ok(match self.string_or_int()? {
            Ok(s) => Value::from_bytes(&s),
            Err(i) => Value::Int(i),
        })
    }

    /// A string, or `Err(i)` for the integer encodings.
    fn string_or_int(&mut self) -> Res<Result<Cow<'a, [u8]>, i64>> {
        let int = |i: i64| Ok(Err(i));
        match self.len_or_enc()? {
            Ok(n) => {
                let n = usize::try_from(n).or_else(|_| self.err("string too long"))?;
                Ok(Ok(Cow::Borrowed(self.bytes(n)?)))
            }
            Err(ENC_INT8) => int(self.byte()? as i8 as i64),
            Err(ENC_INT16) => {
                let b = self.bytes(2)?;
                int(i16::from_le_bytes([b[0], b[1]]) as i64)
            }
            Err(ENC_INT32) => {
                let b = self.bytes(4)?;
                int(i32::from_le_bytes(b.try_into().expect("4 bytes")) as i64)
            }
            Err(ENC_LZF) => {
                let clen = self.count()?;
                let len = self.len()?;
                let at = self.pos;
                let c = self.bytes(clen)?;
                match usize::try_from(len)
                    .ok()
                    .and_then(|l| lzf::decompress(c, l))
                {
                    Some(s) => Ok(Ok(Cow::Owned(s))),
                    None => Err(RdbError {
                        offset: at,
                        reason: "invalid LZF-compressed string".into(),
                    }),
                }
            }
            Err(e) => self.err(format!("unknown string encoding {e}")),
        }
    }

    fn double_text(&mut self) -> Res<f64> {
        let n = self.byte()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let b = self.bytes(n as usize)?;
                match std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                {
                    Some(d) => Ok(d),
                    None => self.err("invalid double"),
                }
            }
        }
    }

    fn score(&mut self, d: f64) -> Res<f64> {
        if d.is_nan() {
            return self.err("sorted set with a NaN score");
        }
        Ok(d)
    }

    /// A blob decoded by one of the `packed` readers; their errors get this blob's offset.
    fn packed<T>(&mut self, f: impl FnOnce(&[u8]) -> Result<T, &'static str>) -> Res<T> {
        let at = self.pos;
        let blob = self.string()?;
        f(&blob).map_err(|reason| RdbError {
            offset: at,
            reason: reason.into(),
        })
    }

    /// Pairs from a flat element list (hash fields and values, sorted-set members and scores).
    fn pairs(&mut self, elements: Vec<Vec<u8>>) -> Res<Vec<(Vec<u8>, Vec<u8>)>> {
        if !elements.len().is_multiple_of(2) {
            return self.err("odd number of elements in a packed hash or sorted set");
        }
        let mut out = Vec::with_capacity(elements.len() / 2);
        let mut it = elements.into_iter();
        while let (Some(a), Some(b)) = (it.next(), it.next()) {
            out.push((a, b));
        }
        Ok(out)
    }

    fn collect(&mut self, read: PackedReader) -> Res<Vec<Vec<u8>>> {
        self.packed(|b| {
            let mut out = Vec::new();
            read(b, &mut |e| out.push(e.to_vec()))?;
            Ok(out)
        })
    }

    fn hash_from<B: AsRef<[u8]>>(&mut self, pairs: Vec<(B, B)>) -> Res<Value> {
        let mut h = Hash::default();
        for (f, v) in pairs {
            if !h.set(f.as_ref(), v.as_ref(), &self.enc.hash) {
                return self.err("duplicate hash field");
            }
        }
        Ok(Value::Hash(h))
    }

    fn zset_from<B: AsRef<[u8]>>(&mut self, pairs: Vec<(B, f64)>) -> Res<Value> {
        let mut z = ZSet::default();
        for (m, s) in pairs {
            let s = self.score(s)?;
            if !z.insert(m.as_ref(), s, &self.enc.zset) {
                return self.err("duplicate sorted set member");
            }
        }
        Ok(Value::ZSet(z))
    }

    fn set_from<B: AsRef<[u8]>>(&mut self, members: Vec<B>) -> Res<Value> {
        let mut s = Set::default();
        for m in members {
            if !s.insert(m.as_ref(), &self.enc.set) {
                return self.err("duplicate set member");
            }
        }
        Ok(Value::Set(s))
    }

    fn list_from(&self, items: Vec<Vec<u8>>, l: &mut List) {
        for e in items {
            l.push(End::Right, &e, &self.enc.list);
        }
    }

    /// A value of type `t`.
    pub fn value(&mut self, t: u8) -> Res<Value> {
        let at = self.pos;
        match t {
            TYPE_STRING => self.string_value(),
            TYPE_LIST => {
                let mut l = List::default();
                for _ in 0..self.count()? {
                    let e = self.string()?;
                    l.push(End::Right, &e, &self.enc.list);
                }
                Ok(Value::List(Box::new(l)))
            }
            TYPE_SET => {
                let n = self.count()?;
                let mut members = Vec::new();
                for _ in 0..n {
                    members.push(self.string()?);
                }
                self.set_from(members)
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = self.count()?;
                let mut pairs = Vec::new();
                for _ in 0..n {
                    let m = self.string()?;
                    let s = if t == TYPE_ZSET_2 {
                        f64::from_bits(self.u64_le()?)
                    } else {
                        self.double_text()?
                    };
                    pairs.push((m, s));
                }
                self.zset_from(pairs)
            }
            TYPE_HASH => {
                let n = self.count()?;
                let mut pairs = Vec::new();
                for _ in 0..n {
                    pairs.push((self.string()?, self.string()?));
                }
                self.hash_from(pairs)
            }
            TYPE_HASH_ZIPMAP => {
                let pairs = self.packed(|b| {
                    let mut out = Vec::new();
                    packed::zipmap(b, |k, v| out.push((k.to_vec(), v.to_vec())))?;
                    Ok(out)
                })?;
                self.hash_from(pairs)
            }
            TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK | TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                let read = if matches!(t, TYPE_HASH_ZIPLIST | TYPE_ZSET_ZIPLIST) {
                    ziplist_dyn
                } else {
                    listpack_dyn
                };
                let elements = self.collect(read)?;
                let pairs = self.pairs(elements)?;
                if matches!(t, TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK) {
                    return self.hash_from(pairs);
                }
                let mut scored = Vec::with_capacity(pairs.len());
                for (m, s) in pairs {
                    match std::str::from_utf8(&s)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                    {
                        Some(d) => scored.push((m, d)),
                        None => {
                            return Err(RdbError {
                                offset: at,
                                reason: "invalid score in a packed sorted set".into(),
                            })
                        }
                    }
                }
                self.zset_from(scored)
            }
            TYPE_SET_INTSET => {
                let ints = self.packed(packed::intset)?;
                let members = ints.iter().map(|i| i.to_string().into_bytes()).collect();
                self.set_from(members)
            }
            TYPE_SET_LISTPACK => {
                let members = self.collect(listpack_dyn)?;
                self.set_from(members)
            }
            TYPE_LIST_ZIPLIST => {
                let items = self.collect(ziplist_dyn)?;
                let mut l = List::default();
                self.list_from(items, &mut l);
                Ok(Value::List(Box::new(l)))
            }
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let mut l = List::default();
                for _ in 0..self.count()? {
                    let container = if t == TYPE_LIST_QUICKLIST_2 {
                        self.len()?
                    } else {
                        QUICKLIST_NODE_PACKED
                    };
                    match container {
                        QUICKLIST_NODE_PLAIN => {
                            let e = self.string()?;
                            l.push(End::Right, &e, &self.enc.list);
                        }
                        QUICKLIST_NODE_PACKED => {
                            let read = if t == TYPE_LIST_QUICKLIST {
                                ziplist_dyn
                            } else {
                                listpack_dyn
                            };
                            let items = self.collect(read)?;
                            if items.is_empty() {
                                return self.err("empty quicklist node");
                            }
                            self.list_from(items, &mut l);
                        }
                        c => return self.err(format!("unknown quicklist node container {c}")),
                    }
                }
                Ok(Value::List(Box::new(l)))
            }
            TYPE_MODULE | TYPE_MODULE_2 => self.err("module values are not supported"),
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
                self.err("stream values are not supported yet")
            }
            _ => self.err(format!("unknown value type {t}")),
        }
    }

    /// Reads a whole file, handing each live key to `sink`. `now_ms` decides which keys are
    /// already expired (skipped, as a master does); `databases` bounds SELECTDB; `verify_crc`
    /// checks the trailer when the file carries one.
    pub fn file(
        &mut self,
        now_ms: u64,
        databases: usize,
        verify_crc: bool,
        mut sink: impl LoadSink<'a>,
    ) -> Res<Summary> {
        let mut summary = Summary::default();
        let magic = self.bytes(9)?;
        if &magic[..5] != b"REDIS" {
            self.pos = 0;
            return self.err("wrong signature trying to load DB from file");
        }
        let version = std::str::from_utf8(&magic[5..])
            .ok()
            .and_then(|v| v.parse::<u16>().ok())
            .filter(|v| (1..=RDB_VERSION_READ_MAX).contains(v));
        let Some(version) = version else {
            self.pos = 5;
            return self.err("can't handle RDB format version");
        };
        summary.version = version;
        let mut db = 0usize;
        let mut expire_at_ms = 0u64;
        loop {
            let op = self.byte()?;
            match op {
                OP_EOF => break,
                OP_AUX => {
                    let k = String::from_utf8_lossy(&self.string()?).into_owned();
                    let v = String::from_utf8_lossy(&self.string()?).into_owned();
                    summary.aux.push((k, v));
                }
                OP_SELECTDB => {
                    let n = self.len()?;
                    if n >= databases as u64 {
                        return self.err(format!(
                            "FATAL: Data file was created with a Redis server configured to handle more than {databases} databases"
                        ));
                    }
                    db = n as usize;
                }
                OP_RESIZEDB => {
                    let keys = self.len()?;
                    self.len()?;
                    // A hint from the file, so no larger than its remaining bytes could hold
                    // (a key takes at least 3: type, key length, value length).
                    let room = (self.buf.len() - self.pos) as u64 / 3;
                    sink.resize(db, keys.min(room));
                }
                OP_EXPIRETIME_MS => expire_at_ms = self.u64_le()?,
                OP_EXPIRETIME => {
                    let b = self.bytes(4)?;
                    expire_at_ms = u32::from_le_bytes(b.try_into().expect("4 bytes")) as u64 * 1000;
                }
                OP_IDLE => {
                    self.len()?;
                }
                OP_FREQ => {
                    self.byte()?;
                }
                OP_FUNCTION2 => {
                    self.string()?;
                    summary
                        .skipped
                        .push("a function library (functions are not supported)".into());
                }
                OP_FUNCTION_PRE_GA => return self.err("pre-GA function records are not supported"),
                OP_MODULE_AUX => return self.err("module auxiliary data is not supported"),
                t => {
                    let key = self.string()?;
                    let value = self.value(t)?;
                    if expire_at_ms != 0 && expire_at_ms <= now_ms {
                        summary.expired_skipped += 1;
                    } else {
                        summary.keys += 1;
                        sink.key(Loaded {
                            db,
                            key,
                            value,
                            expire_at_ms,
                        });
                    }
                    expire_at_ms = 0;
                    if !sink.progress(self.pos) {
                        return self.err("loading stopped by a shutdown");
                    }
                }
            }
        }
        if version >= 5 {
            let body_end = self.pos;
            let expected = self.u64_le()?;
            if verify_crc && expected != 0 && crc64(0, &self.buf[..body_end]) != expected {
                self.pos = body_end;
                return self.err("wrong RDB checksum");
            }
        }
        summary.end = self.pos;
        Ok(summary)
    }
}

fn listpack_dyn(b: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<usize, &'static str> {
    packed::listpack(b, f)
}

fn ziplist_dyn(b: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<usize, &'static str> {
    packed::ziplist(b, f)
}

/// Checks a DUMP payload's footer (RDB version not newer than ours, CRC-64) and decodes its
/// value. The errors are RESTORE's.
pub fn restore_payload(payload: &[u8], enc: Encodings) -> Result<Value, &'static str> {
    const BAD: &str = "ERR DUMP payload version or checksum are wrong";
    if payload.len() < 11 {
        return Err(BAD);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    if version > RDB_VERSION_READ_MAX || crc64(0, &payload[..payload.len() - 8]) != crc {
        return Err(BAD);
    }
    let mut r = Reader::new(body, enc);
    let t = r.byte().map_err(|_| BAD)?;
    let v = r.value(t).map_err(|_| "ERR Bad data format")?;
    if r.pos != body.len() {
        return Err("ERR Bad data format");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::super::write::{dump_payload, Writer};
    use super::*;
    use crate::store::SmallStr;

    fn sample() -> Vec<(Vec<u8>, Value, u64)> {
        let enc = Encodings::default();
        let mut h = Hash::default();
        let mut z = ZSet::default();
        let mut s = Set::default();
        let mut big_s = Set::default();
        let mut l = List::default();
        for i in 0..300 {
            h.set(format!("f{i}").as_bytes(), &[b'v'; 30], &enc.hash);
            z.insert(format!("m{i}").as_bytes(), i as f64 / 3.0, &enc.zset);
            s.insert(i.to_string().as_bytes(), &enc.set);
            big_s.insert(format!("member:{i}").as_bytes(), &enc.set);
            l.push(
                End::Right,
                format!("item {i} {}", "x".repeat(i % 40)).as_bytes(),
                &enc.list,
            );
        }
        vec![
            (b"int".to_vec(), Value::Int(-123456789012), 0),
            (b"small".to_vec(), Value::Int(7), 0),
            (
                b"str".to_vec(),
                Value::Str(SmallStr::new(&b"abc".repeat(40))),
                4_000_000_000_000,
            ),
            (b"hash".to_vec(), Value::Hash(h), 0),
            (b"zset".to_vec(), Value::ZSet(z), 0),
            (b"ints".to_vec(), Value::Set(s), 0),
            (b"set".to_vec(), Value::Set(big_s), 0),
            (b"list".to_vec(), Value::List(Box::new(l)), 0),
        ]
    }

    fn file_of(items: &[(Vec<u8>, Value, u64)], compress: bool) -> Vec<u8> {
        let mut w = Writer::new(compress);
        w.header(&[("redis-ver", "7.0.15".into())]);
        w.select_db(3, items.len(), 1);
        for (k, v, e) in items {
            w.key_value(k, v, *e);
        }
        w.finish(true)
    }

    #[test]
    fn files_round_trip_with_and_without_compression() {
        let items = sample();
        for compress in [false, true] {
            let file = file_of(&items, compress);
            let mut got = Vec::new();
            let summary = Reader::new(&file, Encodings::default())
                .file(0, 16, true, |l: Loaded<'_>| {
                    got.push((l.key.to_vec(), l.db, l.expire_at_ms, l.value))
                })
                .unwrap();
            assert_eq!(summary.keys, items.len());
            for ((k, v, e), (key, db, expire, value)) in items.iter().zip(&got) {
                assert_eq!((key, *db, *expire), (k, 3, *e));
                assert_eq!(format!("{value:?}"), format!("{v:?}"));
            }
        }
    }

    #[test]
    fn corrupt_files_are_errors_with_offsets() {
        let file = file_of(&sample(), true);
        // Every truncation fails cleanly.
        for cut in (0..file.len()).step_by(37) {
            assert!(Reader::new(&file[..cut], Encodings::default())
                .file(0, 16, true, |_: Loaded| {})
                .is_err());
        }
        // A flipped byte in the body is caught by the checksum (or earlier, by the parser).
        let mut bad = file.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        assert!(Reader::new(&bad, Encodings::default())
            .file(0, 16, true, |_: Loaded| {})
            .is_err());
        // Too few databases configured.
        let e = Reader::new(&file, Encodings::default())
            .file(0, 2, true, |_: Loaded| {})
            .unwrap_err();
        assert!(e.reason.contains("more than 2 databases"), "{e}");
    }

    #[test]
    fn dump_payloads_round_trip_and_are_checked() {
        for (_, v, _) in sample() {
            let p = dump_payload(&v, true);
            let back = restore_payload(&p, Encodings::default()).unwrap();
            assert_eq!(format!("{back:?}"), format!("{v:?}"));
            let mut bad = p.clone();
            bad[0] ^= 1;
            assert!(restore_payload(&bad, Encodings::default()).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_garbage(b in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut file = b"REDIS0010".to_vec();
            file.extend_from_slice(&b);
            let _ = Reader::new(&file, Encodings::default()).file(0, 16, true, |_: Loaded| {});
            let _ = restore_payload(&b, Encodings::default());
        }
    }
}
