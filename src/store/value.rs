//! Values stored under keys.
//!
//! Strings that look like integers are kept as integers (Redis's `int` encoding): smaller, and
//! INCR needs no parse. Collections keep their own compact and large encodings (`hash.rs`).
//! A `Value` is 24 bytes, so it sits inline in the keyspace entry.

use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::zset::ZSet;
use super::SmallStr;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string whose bytes are the canonical decimal form of this integer.
    Int(i64),
    /// Any other string (short ones inline, see `SmallStr`).
    Str(SmallStr),
    Hash(Hash),
    List(Box<List>),
    Set(Set),
    ZSet(ZSet),
}

impl Value {
    /// Builds a string value, choosing the integer encoding when the bytes round-trip.
    pub fn from_bytes(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(i) = crate::resp::parse::parse_i64(b) {
                return Value::Int(i);
            }
        }
        Value::Str(SmallStr::new(b))
    }

    /// Redis's type name (TYPE).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.len() <= 44 && !s.is_growable() => "embstr",
            Value::Str(_) => "raw",
            Value::Hash(h) => h.encoding(),
            Value::List(_) => "quicklist",
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Str(_))
    }

    /// The bytes of a string value; integers are formatted into `tmp`.
    pub fn string_bytes<'a>(&'a self, tmp: &'a mut [u8; 24]) -> Option<&'a [u8]> {
        match self {
            Value::Int(i) => Some(crate::resp::reply::fmt_i64(tmp, *i)),
            Value::Str(s) => Some(s),
            Value::Hash(_) | Value::List(_) | Value::Set(_) | Value::ZSet(_) => None,
        }
    }

    /// An owned copy of a string value's bytes.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let mut tmp = [0u8; 24];
        self.string_bytes(&mut tmp).map(|b| b.to_vec())
    }

    /// Approximate heap bytes held (for INFO memory and eviction accounting).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_bytes(),
            Value::Hash(h) => h.heap_bytes(),
            Value::List(l) => l.heap_bytes(),
            Value::Set(s) => s.heap_bytes(),
            Value::ZSet(z) => z.heap_bytes(),
        }
    }
}
