//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP.
//!
//! Bit 0 is the most significant bit of the first byte. Offsets are limited like Redis's:
//! a bitmap never grows past 512MB (2^32 bits).

use super::strings::{normalize, string_len, string_mut, STRING_MAX};
use super::{
    arg_i64, eq_ic, spec, Ctx, Spec, DENYOOM, FAST, NOT_INTEGER, READONLY, SYNTAX, WRITE, WRONGTYPE,
};
use crate::resp::Args;
use crate::store::Value;

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("setbit", 4, WRITE | DENYOOM, (1, 1, 1), setbit, "bitmap", "Sets or clears the bit at offset in the string value stored at key", "2.2.0"),
    spec("getbit", 3, READONLY | FAST, (1, 1, 1), getbit, "bitmap", "Returns the bit value at offset in the string value stored at key", "2.2.0"),
    spec("bitcount", -2, READONLY, (1, 1, 1), bitcount, "bitmap", "Count set bits in a string", "2.6.0"),
    spec("bitpos", -3, READONLY, (1, 1, 1), bitpos, "bitmap", "Find first bit set or clear in a string", "2.8.7"),
    spec("bitop", -4, WRITE | DENYOOM, (2, -1, 1), bitop, "bitmap", "Perform bitwise operations between strings", "2.6.0"),
];

/// A bit offset argument: a non-negative integer below 2^32 (512MB of bits).
fn bit_offset(arg: &[u8]) -> Option<usize> {
    let n = arg_i64(arg)?;
    (n >= 0 && ((n >> 3) as u64) < STRING_MAX as u64).then_some(n as usize)
}

/// SETBIT key offset 0|1: sets or clears one bit (growing the string with zeros) and replies
/// the bit's previous value.
fn setbit(ctx: &mut Ctx, args: Args) {
    let Some(offset) = bit_offset(args.get(2)) else {
        return ctx.out.error(BAD_OFFSET);
    };
    let on = match arg_i64(args.get(3)) {
        Some(v @ (0 | 1)) => v == 1,
        _ => return ctx.out.error(BAD_BIT),
    };
    let (byte, mask) = (offset >> 3, 0x80u8 >> (offset & 7));
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let old = match db.lookup_write(key) {
        None => None,
        Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
        Some(e) => {
            let s = string_mut(&mut e.value);
            if s.len() <= byte {
                s.resize(byte + 1, 0);
            }
            let old = s[byte] & mask != 0;
            if on {
                s[byte] |= mask;
            } else {
                s[byte] &= !mask;
            }
            normalize(&mut e.value);
            Some(old)
        }
    };
    let old = match old {
        Some(old) => {
            db.touched(key);
            old
        }
        None => {
            let mut s = vec![0u8; byte + 1];
            if on {
                s[byte] = mask;
            }
            let mut v = Value::Str(s.into());
            normalize(&mut v);
            db.set(key, v, 0);
            false
        }
    };
    ctx.notify(crate::config::notify::STRING, "setbit", key);
    ctx.out.int(old as i64);
}

/// GETBIT key offset: the bit's value, 0 past the end or for an absent key.
fn getbit(ctx: &mut Ctx, args: Args) {
    let Some(offset) = bit_offset(args.get(2)) else {
        return ctx.out.error(BAD_OFFSET);
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Some(e) = db.lookup_read(key) else {
        return ctx.out.int(0);
    };
    let mut tmp = [0u8; 24];
    let Some(s) = e.value.string_bytes(&mut tmp) else {
        return ctx.out.error(WRONGTYPE);
    };
    let bit = s
        .get(offset >> 3)
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0);
    ctx.out.int(bit as i64);
}

/// Parses an optional BYTE|BIT unit; true for BIT.
fn unit_is_bit(arg: &[u8]) -> Option<bool> {
    if eq_ic(arg, "bit") {
        Some(true)
    } else if eq_ic(arg, "byte") {
        Some(false)
    } else {
        None
    }
}

/// Resolves a [start, end] range (bytes or bits, negative counting from the end) over `len`
/// bytes into inclusive absolute bit indexes; None when it is empty.
fn bit_range(len: usize, start: i64, end: i64, bits: bool) -> Option<(usize, usize)> {
    let total = len as i64 * if bits { 8 } else { 1 };
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }
        .max(0)
        .min(total - 1);
    if start > end {
        return None;
    }
    let (s, e) = (start as usize, end as usize);
    Some(if bits { (s, e) } else { (s * 8, e * 8 + 7) })
}

/// The bits [from, to] of `s` that are set, as a mask of the byte holding bit `i`.
fn byte_mask(i: usize, to: usize) -> u8 {
    let last = (i | 7).min(to) & 7;
    (0xFFu8 >> (i & 7)) & (0xFFu8 << (7 - last))
}

/// BITCOUNT key [start end [BYTE|BIT]]: the number of set bits in the range.
fn bitcount(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Some(e) = db.lookup_read(key) else {
        return ctx.out.int(0);
    };
    let mut tmp = [0u8; 24];
    let Some(s) = e.value.string_bytes(&mut tmp) else {
        return ctx.out.error(WRONGTYPE);
    };
    let range = match args.len() {
        2 => bit_range(s.len(), 0, -1, false),
        4 | 5 => {
            let (Some(start), Some(end)) = (arg_i64(args.get(2)), arg_i64(args.get(3))) else {
                return ctx.out.error(NOT_INTEGER);
            };
            let bits = if args.len() == 5 {
                match unit_is_bit(args.get(4)) {
                    Some(b) => b,
                    None => return ctx.out.error(SYNTAX),
                }
            } else {
                false
            };
            if start < 0 && end < 0 && start > end {
                None
            } else {
                bit_range(s.len(), start, end, bits)
            }
        }
        _ => return ctx.out.error(SYNTAX),
    };
    let Some((from, to)) = range else {
        return ctx.out.int(0);
    };
    let (first, last) = (from >> 3, to >> 3);
    let mut n = 0u64;
    if first == last {
        n += (s[first] & byte_mask(from, to)).count_ones() as u64;
    } else {
        n += (s[first] & byte_mask(from, to)).count_ones() as u64;
        n += (s[last] & byte_mask(last * 8, to)).count_ones() as u64;
        n += popcount(&s[first + 1..last]);
    }
    ctx.out.int(n as i64);
}

fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = chunks
        .by_ref()
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])).count_ones() as u64)
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    n
}

/// BITPOS key 0|1 [start [end [BYTE|BIT]]]: the position of the first bit with that value in
/// the range, or -1. Looking for 0 without an explicit end, the string counts as followed by
/// zeros (so all-ones gives the first bit after it).
fn bitpos(ctx: &mut Ctx, args: Args) {
    let want = match arg_i64(args.get(2)) {
        Some(b @ (0 | 1)) => b == 1,
        Some(_) => return ctx.out.err("The bit argument must be 1 or 0."),
        None => return ctx.out.error(NOT_INTEGER),
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Some(e) = db.lookup_read(key) else {
        return ctx.out.int(if want { -1 } else { 0 });
    };
    let mut tmp = [0u8; 24];
    let Some(s) = e.value.string_bytes(&mut tmp) else {
        return ctx.out.error(WRONGTYPE);
    };
    let argc = args.len();
    if argc > 6 {
        return ctx.out.error(SYNTAX);
    }
    let mut start = 0;
    let mut end = -1;
    let mut bits = false;
    if argc >= 4 {
        let Some(v) = arg_i64(args.get(3)) else {
            return ctx.out.error(NOT_INTEGER);
        };
        start = v;
    }
    if argc == 6 {
        match unit_is_bit(args.get(5)) {
            Some(b) => bits = b,
            None => return ctx.out.error(SYNTAX),
        }
    }
    if argc >= 5 {
        let Some(v) = arg_i64(args.get(4)) else {
            return ctx.out.error(NOT_INTEGER);
        };
        end = v;
    }
    let end_given = argc >= 5;
    let Some((from, to)) = bit_range(s.len(), start, end, bits) else {
        return ctx.out.int(-1);
    };
    let pos = match find_bit(s, from, to, want) {
        Some(p) => p as i64,
        None if want || end_given => -1,
        None => (((to >> 3) + 1) * 8) as i64,
    };
    ctx.out.int(pos);
}

/// The first bit in [from, to] of `s` equal to `want`.
fn find_bit(s: &[u8], from: usize, to: usize, want: bool) -> Option<usize> {
    let skip = if want { 0x00 } else { 0xFF };
    let mut i = from;
    while i <= to {
        if i & 7 == 0 {
            // Skip whole bytes (before the range's last one) that cannot hold a match.
            let (a, b) = (i >> 3, to >> 3);
            if a < b {
                i += 8 * s[a..b].iter().position(|&c| c != skip).unwrap_or(b - a);
            }
        }
        let byte = s[i >> 3];
        let bits = if want { byte } else { !byte } & byte_mask(i, to);
        if bits != 0 {
            return Some((i & !7) + bits.leading_zeros() as usize);
        }
        i = (i | 7) + 1;
    }
    None
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: stores the bitwise result (as long as the
/// longest source, missing bytes read as zero) in destkey, or deletes it when empty; replies the
/// result's length.
fn bitop(ctx: &mut Ctx, args: Args) {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let name = args.get(1);
    let op = if eq_ic(name, "and") {
        Op::And
    } else if eq_ic(name, "or") {
        Op::Or
    } else if eq_ic(name, "xor") {
        Op::Xor
    } else if eq_ic(name, "not") {
        Op::Not
    } else {
        return ctx.out.error(SYNTAX);
    };
    if op == Op::Not && args.len() != 4 {
        return ctx
            .out
            .err("BITOP NOT must be called with a single source key.");
    }
    // First pass: types and the result length.
    let mut max_len = 0;
    for key in args.iter().skip(3) {
        match ctx.shards.db(key).lookup_read(key) {
            Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
            Some(e) => max_len = max_len.max(string_len(&e.value)),
            None => {}
        }
    }
    let mut res = vec![0u8; max_len];
    for (n, key) in args.iter().skip(3).enumerate() {
        let mut tmp = [0u8; 24];
        let mut db = ctx.shards.db(key);
        let src: &[u8] = match db.lookup_write(key) {
            Some(e) => e.value.string_bytes(&mut tmp).unwrap_or(b""),
            None => b"",
        };
        match op {
            Op::Not => {
                for (r, s) in res.iter_mut().zip(src) {
                    *r = !s;
                }
            }
            Op::And if n == 0 => res[..src.len()].copy_from_slice(src),
            Op::And => {
                for (i, r) in res.iter_mut().enumerate() {
                    *r &= src.get(i).copied().unwrap_or(0);
                }
            }
            Op::Or => res.iter_mut().zip(src).for_each(|(r, s)| *r |= s),
            Op::Xor => res.iter_mut().zip(src).for_each(|(r, s)| *r ^= s),
        }
    }
    let dest = args.get(2);
    let mut db = ctx.shards.db(dest);
    if max_len == 0 {
        if db.remove(dest).is_some() {
            ctx.notify(crate::config::notify::GENERIC, "del", dest);
        }
    } else {
        let mut v = Value::Str(res.into());
        normalize(&mut v);
        db.set(dest, v, 0);
        ctx.notify(crate::config::notify::STRING, "set", dest);
    }
    ctx.out.int(max_len as i64);
}
