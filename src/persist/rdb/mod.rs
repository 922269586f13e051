//! The RDB format of Redis 7 (version 10 written; 1..=11 read).
//!
//! A file is `REDIS` + 4-digit version, then records: AUX fields, SELECTDB, RESIZEDB, and per
//! key an optional expiry opcode, a value-type byte, the key and the value; then EOF (255) and
//! a CRC-64 of everything before it. Lengths use Redis's variable encoding (6, 14, 32 or 64
//! bits); strings may be integers or LZF-compressed. `write.rs` produces the plain encodings
//! of each type (Redis loads them and re-packs small ones itself); `read.rs` reads every
//! encoding Redis 7.0–7.2 writes and the older ones still found in files (`packed.rs`).

pub mod packed;
pub mod read;
pub mod write;

/// The version ringkv writes (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;
/// The newest version it reads (Redis 7.2's: adds listpack-encoded sets).
pub const RDB_VERSION_READ_MAX: u16 = 11;

// Value types.
pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;

// Opcodes.
pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION_PRE_GA: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

// Length encoding: the top two bits of the first byte.
pub const LEN_6BIT: u8 = 0;
pub const LEN_14BIT: u8 = 1;
pub const LEN_32BIT: u8 = 0x80;
pub const LEN_64BIT: u8 = 0x81;
pub const LEN_ENCVAL: u8 = 3;
pub const ENC_INT8: u8 = 0;
pub const ENC_INT16: u8 = 1;
pub const ENC_INT32: u8 = 2;
pub const ENC_LZF: u8 = 3;

// Quicklist 2 node containers.
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

/// Why a file or payload could not be read: what was wrong and at which byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    pub offset: usize,
    pub reason: String,
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset {})", self.reason, self.offset)
    }
}

/// Compact-encoding thresholds to rebuild loaded values with.
#[derive(Clone, Copy, Default)]
pub struct Encodings {
    pub hash: crate::store::hash::HashLimits,
    pub list: crate::store::list::ListLimits,
    pub set: crate::store::set::SetLimits,
    pub zset: crate::store::zset::ZSetLimits,
}
