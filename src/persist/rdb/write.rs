//! Writing RDB: values in the plain encodings (Redis loads these and re-packs small ones),
//! strings integer-encoded when they are integers and LZF-compressed when that saves space
//! (`rdbcompression`), a CRC-64 trailer when `rdbchecksum` is on.

use super::*;
use crate::persist::{crc64::crc64, lzf};
use crate::store::Value;

/// Strings up to this long are never compressed (Redis's threshold).
const COMPRESS_BYTES_MIN: usize = 21;

/// How many keys (and keys with an expiry) a database holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbSize {
    pub db: usize,
    pub keys: usize,
    pub volatile: usize,
}

/// An RDB byte stream being built in memory.
pub struct Writer {
    pub buf: Vec<u8>,
    compress: bool,
    /// LZF's output and hash table, reused from string to string.
    lzf_scratch: (Vec<u8>, Vec<u32>),
}

impl Writer {
    pub fn new(compress: bool) -> Writer {
        Writer {
            buf: Vec::new(),
            compress,
            lzf_scratch: Default::default(),
        }
    }

    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    pub fn len(&mut self, n: u64) {
        if n < 1 << 6 {
            self.buf.push(n as u8);
        } else if n < 1 << 14 {
            self.buf.push((LEN_14BIT << 6) | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else if n <= u32::MAX as u64 {
            self.buf.push(LEN_32BIT);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(LEN_64BIT);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// A string: integer-encoded if it is the canonical form of a small enough integer, else
    /// LZF-compressed when enabled and worth it, else raw.
    pub fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(i) = crate::resp::parse::parse_i64(s) {
                if self.int_string(i) {
                    return;
                }
            }
        }
        if self.compress && s.len() >= COMPRESS_BYTES_MIN {
            let (mut out, mut table) = std::mem::take(&mut self.lzf_scratch);
            let compressed = lzf::compress_with(s, s.len() - 4, &mut out, &mut table);
            if compressed {
                self.buf.push((LEN_ENCVAL << 6) | ENC_LZF);
                self.len(out.len() as u64);
                self.len(s.len() as u64);
                self.buf.extend_from_slice(&out);
            }
            self.lzf_scratch = (out, table);
            if compressed {
                return;
            }
        }
        self.len(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    /// An integer string in the 8/16/32-bit encodings; false when it does not fit them.
    fn int_string(&mut self, i: i64) -> bool {
        if let Ok(v) = i8::try_from(i) {
            self.buf.push((LEN_ENCVAL << 6) | ENC_INT8);
            self.buf.push(v as u8);
        } else if let Ok(v) = i16::try_from(i) {
            self.buf.push((LEN_ENCVAL << 6) | ENC_INT16);
            self.buf.extend_from_slice(&v.to_le_bytes());
        } else if let Ok(v) = i32::try_from(i) {
            self.buf.push((LEN_ENCVAL << 6) | ENC_INT32);
            self.buf.extend_from_slice(&v.to_le_bytes());
        } else {
            return false;
        }
        true
    }

    /// The type byte a value is written with.
    pub fn type_of(v: &Value) -> u8 {
        match v {
            Value::Int(_) | Value::Str(_) => TYPE_STRING,
            Value::List(_) => TYPE_LIST,
            Value::Set(_) => TYPE_SET,
            Value::ZSet(_) => TYPE_ZSET_2,
            Value::Hash(_) => TYPE_HASH,
        }
    }

    /// A value's body (after its type byte and key).
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Int(i) => {
                if !self.int_string(*i) {
                    let mut tmp = [0u8; 24];
                    let s = crate::resp::reply::fmt_i64(&mut tmp, *i);
                    self.len(s.len() as u64);
                    self.buf.extend_from_slice(s);
                }
            }
            Value::Str(s) => self.string(s),
            Value::List(l) => {
                self.len(l.len() as u64);
                for e in l.iter() {
                    self.string(e);
                }
            }
            Value::Set(s) => {
                self.len(s.len() as u64);
                s.for_each(|m| self.string(m));
            }
            Value::ZSet(z) => {
                self.len(z.len() as u64);
                for (score, m) in z.range(0, z.len()) {
                    self.string(m);
                    self.buf.extend_from_slice(&score.to_le_bytes());
                }
            }
            Value::Hash(h) => {
                self.len(h.len() as u64);
                for (f, v) in h.iter() {
                    self.string(f);
                    self.string(v);
                }
            }
        }
    }

    /// The file header and Redis 7's AUX fields.
    pub fn header(&mut self, aux: &[(&str, String)]) {
        self.buf
            .extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
        for (k, v) in aux {
            self.byte(OP_AUX);
            self.string(k.as_bytes());
            self.string(v.as_bytes());
        }
    }

    /// SELECTDB alone (a snapshot's chunks each say which database they belong to).
    pub fn select(&mut self, db: usize) {
        self.byte(OP_SELECTDB);
        self.len(db as u64);
    }

    /// SELECTDB and RESIZEDB for each database, before chunks that arrive in any order (each
    /// with its own SELECTDB): a loader sizes its tables once instead of growing them.
    pub fn size_hints(&mut self, sizes: &[DbSize]) {
        for s in sizes {
            self.select_db(s.db, s.keys, s.volatile);
        }
    }

    /// SELECTDB and RESIZEDB for a database about to be written.
    pub fn select_db(&mut self, db: usize, keys: usize, volatile: usize) {
        self.byte(OP_SELECTDB);
        self.len(db as u64);
        self.byte(OP_RESIZEDB);
        self.len(keys as u64);
        self.len(volatile as u64);
    }

    /// One key: expiry (if any), type, key, value.
    pub fn key_value(&mut self, key: &[u8], v: &Value, expire_at_ms: u64) {
        self.expiry(expire_at_ms);
        self.byte(Self::type_of(v));
        self.string(key);
        self.value(v);
    }

    /// One stored record: strings straight from its bytes, other values through `value`.
    pub fn record(&mut self, r: &crate::store::record::Record) {
        match r.str_bytes() {
            Some(s) => {
                self.expiry(r.expire_at_ms());
                self.byte(TYPE_STRING);
                self.string(r.key());
                self.string(s);
            }
            None => self.key_value(r.key(), &r.value(), r.expire_at_ms()),
        }
    }

    fn expiry(&mut self, expire_at_ms: u64) {
        if expire_at_ms != 0 {
            self.byte(OP_EXPIRETIME_MS);
            self.buf.extend_from_slice(&expire_at_ms.to_le_bytes());
        }
    }

    /// EOF and the checksum (0 when `checksum` is off, as Redis writes it).
    pub fn finish(mut self, checksum: bool) -> Vec<u8> {
        self.byte(OP_EOF);
        let crc = if checksum { crc64(0, &self.buf) } else { 0 };
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}

/// DUMP's payload: type, value, the RDB version (2 bytes, little-endian) and a CRC-64 of all
/// of that (8 bytes, little-endian).
pub fn dump_payload(v: &Value, compress: bool) -> Vec<u8> {
    let mut w = Writer::new(compress);
    w.byte(Writer::type_of(v));
    w.value(v);
    w.buf.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &w.buf);
    w.buf.extend_from_slice(&crc.to_le_bytes());
    w.buf
}
