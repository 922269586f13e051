//! The keyspace a shard owns: values, databases, expiry.
//!
//! Owns the data and nothing else: it never sees sockets, replies or other shards. Commands read
//! and write it through `Db`; the server decides which shard a key lives on (`shard_of`).

pub mod blocking;
pub mod db;
pub mod hash;
pub mod keyspace;
pub mod list;
pub mod pack;
pub mod record;
pub mod segtable;
pub mod set;
pub mod smallstr;
pub mod value;
pub mod zset;
pub mod ztree;

pub use db::{Db, Shard};
pub use keyspace::{key_hash, Entry, SegmentSink, Table};
pub use smallstr::SmallStr;
pub use value::Value;

/// Upper bound on event-loop threads (and so shards): lock sets are 64-bit masks.
pub const SHARDS_MAX: usize = 64;

/// The part of a key that picks its shard: the `{hashtag}` if there is a non-empty one, as in
/// Redis Cluster, else the whole key.
pub fn routing_part(key: &[u8]) -> &[u8] {
    if let Some(open) = memchr::memchr(b'{', key) {
        if let Some(close) = memchr::memchr(b'}', &key[open + 1..]) {
            if close > 0 {
                return &key[open + 1..open + 1 + close];
            }
        }
    }
    key
}

/// The shard that owns `key` among `shards` shards. A fixed function of the key within a process.
#[inline]
pub fn shard_of(key: &[u8], shards: usize) -> usize {
    if shards == 1 {
        return 0;
    }
    let h = key_hash(routing_part(key));
    // Bits 8..24 are used neither by the segment directory (32..56) nor by hashbrown (low bits and
    // top 7), so keys of one shard still spread evenly over its table.
    (((h >> 8) & 0xffff) as usize) % shards
}
