//! `Record`: how the table stores one key: header, key and (small) value in one allocation.
//!
//! Per-key overhead is what decides memory at millions of keys, so a record is a single
//! variable-size allocation, sized to its contents, reached by an 8-byte pointer from the
//! table's bucket:
//!
//! ```text
//! kind u8 | flags u8 | access_s u32 | [expire_at_ms u64 if HAS_EXPIRE] | key_len LEB128 | key | payload
//! ```
//!
//! The payload of a short string, an integer, or a small packed collection (hash or sorted-set
//! pack, intset up to `INLINE_PACK_BYTES_MAX`) is stored inline; a longer string's bytes are
//! owned through a pointer and length; anything else is a pointer to a boxed `Value` (lists,
//! large collections). Out-of-line parts move in and out without a copy. Commands never see records: `keyspace::Table` unpacks the one a command works on into
//! an `Entry` and packs it back (see there).
//!
//! This module owns the only raw allocation handling of the keyspace. Invariants every unsafe
//! block relies on: `ptr` points at an allocation of exactly `self.size()` bytes made with
//! `layout(size)`; its header is always fully written; a `K_BOXED` payload holds a pointer
//! made by `Box::into_raw` and owned by this record alone (a `K_HEAP_STR` payload likewise the
//! pointer and length of a `Box<[u8]>`); a `K_MOVED` payload holds the
//! allocation of such a box whose `Value` has been moved out (`take_value`).

use super::hash::Hash;
use super::pack::Pack;
use super::set::{IntSet, Set};
use super::smallstr::{SmallStr, INLINE_BYTES_MAX};
use super::value::Value;
use super::zset::ZSet;
use std::alloc::{alloc, dealloc, realloc, Layout};
use std::ptr::NonNull;

/// Packs (hash, sorted-set) and intsets up to this many bytes are stored inside the record;
/// larger ones are boxed, so unpacking a record never copies more than this.
pub const INLINE_PACK_BYTES_MAX: usize = 256;

const K_INT: u8 = 0;
const K_STR: u8 = 1;
const K_HASH_PACK: u8 = 2;
const K_ZSET_PACK: u8 = 3;
const K_INTSET: u8 = 4;
const K_BOXED: u8 = 5;
const K_MOVED: u8 = 6;
/// A long string's bytes on the heap, owned by the record: pointer and length.
const K_HEAP_STR: u8 = 7;
/// ... whose bytes were moved out (`take_value`): nothing to free.
const K_HEAP_MOVED: u8 = 8;
const HEAP_STR_BYTES: usize = 2 * PTR_BYTES;

const HAS_EXPIRE: u8 = 1;
/// A running snapshot must not copy this record from the table: its state at the cut was
/// copied aside before its first change, or it was created after the cut (see
/// `keyspace::Table::preserve`). Every header rewrite keeps this bit.
const SNAP_SKIP: u8 = 2;
/// kind, flags, access_s.
const HEADER_BYTES: usize = 6;
const PTR_BYTES: usize = std::mem::size_of::<usize>();

fn layout(size: usize) -> Layout {
    // Sizes come from lengths of buffers that already exist in memory, so they cannot overflow
    // isize; align 8 keeps the pointer payload cheap to read on every target.
    Layout::from_size_align(size, 8).expect("record size fits isize")
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Writes `n` as LEB128 at `out`; returns the bytes written.
fn write_varint(out: &mut [u8], mut n: usize) -> usize {
    let mut i = 0;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out[i] = byte;
            return i + 1;
        }
        out[i] = byte | 0x80;
        i += 1;
    }
}

/// The inline form of a value about to be written into a record: its kind and bytes.
enum Payload<'a> {
    Int(i64),
    Bytes(u8, &'a [u8]),
}

impl Payload<'_> {
    fn bytes(&self) -> usize {
        match self {
            Payload::Int(_) => 8,
            Payload::Bytes(K_STR, b) => 1 + b.len(),
            Payload::Bytes(_, b) => varint_len(b.len()) + b.len(),
        }
    }
}

/// The inline form of `v`, if it has one.
fn inline_bytes(v: &Value) -> Option<Payload<'_>> {
    match v {
        Value::Int(i) => Some(Payload::Int(*i)),
        Value::Str(s @ SmallStr::Inline { .. }) => Some(Payload::Bytes(K_STR, s.as_bytes())),
        Value::Hash(Hash::Pack(p)) if p.raw().len() <= INLINE_PACK_BYTES_MAX => {
            Some(Payload::Bytes(K_HASH_PACK, p.raw()))
        }
        Value::ZSet(ZSet::Pack(p)) if p.raw().len() <= INLINE_PACK_BYTES_MAX => {
            Some(Payload::Bytes(K_ZSET_PACK, p.raw()))
        }
        Value::Set(Set::Ints(s)) if s.raw().len() <= INLINE_PACK_BYTES_MAX => {
            Some(Payload::Bytes(K_INTSET, s.raw()))
        }
        _ => None,
    }
}

/// Bytes a record needs for `value`'s payload at offset `at`, plus `at`.
fn payload_bytes(at: usize, value: &Value) -> usize {
    at + match value {
        Value::Str(SmallStr::Boxed(_)) => HEAP_STR_BYTES,
        v => inline_bytes(v).map_or(PTR_BYTES, |p| p.bytes()),
    }
}

/// One key's stored form. Owns its allocation (and a boxed value, if any) like a `Box`.
pub struct Record {
    ptr: NonNull<u8>,
}

// SAFETY: a record exclusively owns its allocation and its boxed `Value` (which is Send and
// Sync), exactly like a `Box<(header, Value)>`; it has no interior mutability and no
// thread-bound state, so moving it or sharing `&Record` across threads is as sound as for Box.
unsafe impl Send for Record {}
// SAFETY: see `Send`: `&Record` only reads.
unsafe impl Sync for Record {}

impl Record {
    /// A record for `key` holding `value`.
    pub fn new(key: &[u8], value: Value, expire_at_ms: u64, access_s: u32) -> Record {
        let key_off = Self::key_offset_for(expire_at_ms != 0, key.len());
        let size = payload_bytes(key_off + key.len(), &value);
        let kind = K_INT; // set for real by `write_payload`
                          // SAFETY: `size` > 0 (the header alone is 6 bytes) and the layout is valid.
        let raw = unsafe { alloc(layout(size)) };
        let Some(ptr) = NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout(size));
        };
        // SAFETY: `ptr` points at `size` fresh bytes.
        let buf = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), size) };
        buf[0] = kind;
        let written = Self::write_header(buf, expire_at_ms, access_s, key);
        debug_assert_eq!(written, key_off + key.len());
        let mut rec = Record { ptr };
        rec.write_payload(written, value);
        rec
    }

    fn key_offset_for(has_expire: bool, key_len: usize) -> usize {
        HEADER_BYTES + if has_expire { 8 } else { 0 } + varint_len(key_len)
    }

    /// Writes flags, access time, expiry, key length and key (not the kind byte); returns the
    /// offset where the payload starts.
    fn write_header(buf: &mut [u8], expire_at_ms: u64, access_s: u32, key: &[u8]) -> usize {
        buf[1] = if expire_at_ms != 0 { HAS_EXPIRE } else { 0 };
        buf[2..6].copy_from_slice(&access_s.to_le_bytes());
        let mut at = HEADER_BYTES;
        if expire_at_ms != 0 {
            buf[at..at + 8].copy_from_slice(&expire_at_ms.to_le_bytes());
            at += 8;
        }
        at += write_varint(&mut buf[at..], key.len());
        buf[at..at + key.len()].copy_from_slice(key);
        at + key.len()
    }

    /// Writes `value` at `at` (the record is already sized for it) and sets the kind byte.
    fn write_payload(&mut self, at: usize, value: Value) {
        let value = match value {
            Value::Str(SmallStr::Boxed(b)) => {
                let len = b.len();
                let p = Box::into_raw(b) as *mut u8;
                // SAFETY: the caller sized the allocation for a heap-string payload at `at`.
                let buf = unsafe {
                    std::slice::from_raw_parts_mut(self.ptr.as_ptr(), at + HEAP_STR_BYTES)
                };
                buf[0] = K_HEAP_STR;
                buf[at..at + PTR_BYTES].copy_from_slice(&(p as usize).to_ne_bytes());
                buf[at + PTR_BYTES..].copy_from_slice(&len.to_ne_bytes());
                return;
            }
            v => v,
        };
        match inline_bytes(&value) {
            Some(p) => self.write_inline(at, &p),
            None => {
                // SAFETY: the caller sized the allocation for a pointer payload at `at`.
                let buf =
                    unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), at + PTR_BYTES) };
                buf[0] = K_BOXED;
                let p = Box::into_raw(Box::new(value));
                buf[at..].copy_from_slice(&(p as usize).to_ne_bytes());
                return;
            }
        }
        drop(value); // inline copy made; the value's own buffers go
    }

    /// Writes an inline payload at `at` (the record is already sized for it) and its kind.
    fn write_inline(&mut self, at: usize, p: &Payload) {
        // SAFETY: the caller sized the allocation for this payload.
        let buf = unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), at + p.bytes()) };
        match *p {
            Payload::Int(i) => {
                buf[0] = K_INT;
                buf[at..at + 8].copy_from_slice(&i.to_le_bytes());
            }
            Payload::Bytes(kind, b) => {
                buf[0] = kind;
                let n = if kind == K_STR {
                    buf[at] = b.len() as u8;
                    1
                } else {
                    write_varint(&mut buf[at..], b.len())
                };
                buf[at + n..].copy_from_slice(b);
            }
        }
    }

    /// The pointer and length of a heap string's bytes.
    fn heap_parts(&self) -> (*mut u8, usize) {
        let (b, _) = self.payload();
        let mut p = [0u8; PTR_BYTES];
        p.copy_from_slice(&b[..PTR_BYTES]);
        let mut n = [0u8; PTR_BYTES];
        n.copy_from_slice(&b[PTR_BYTES..]);
        (usize::from_ne_bytes(p) as *mut u8, usize::from_ne_bytes(n))
    }

    /// The bytes of a heap string, borrowed.
    fn heap_bytes(&self) -> &[u8] {
        let (p, n) = self.heap_parts();
        // SAFETY: a K_HEAP_STR payload points at `n` live bytes this record owns; `&self`
        // keeps them alive and unmodified for the returned lifetime.
        unsafe { std::slice::from_raw_parts(p, n) }
    }

    /// Starts loading the record's header and the start of its key: the first cache line, and
    /// the next one when the record starts in the second half of a line (short keys end there).
    #[inline]
    pub fn prefetch(&self) {
        let p = self.ptr.as_ptr();
        super::segtable::prefetch_line(p);
        super::segtable::prefetch_line(p.wrapping_add(32));
    }

    /// Starts loading the first lines of a heap string's bytes (reads the record, so call it
    /// once the record's own prefetch has had time to land). Other kinds: nothing.
    #[inline]
    pub fn prefetch_payload(&self) {
        if self.kind() == K_HEAP_STR {
            let (p, n) = self.heap_parts();
            super::segtable::prefetch_line(p);
            if n > 64 {
                super::segtable::prefetch_line(p.wrapping_add(64));
            }
        }
    }

    #[inline]
    fn byte(&self, i: usize) -> u8 {
        // SAFETY: callers read header bytes (< key offset), always inside the allocation.
        unsafe { *self.ptr.as_ptr().add(i) }
    }

    #[inline]
    fn kind(&self) -> u8 {
        self.byte(0)
    }

    #[inline]
    pub fn has_expiry(&self) -> bool {
        self.byte(1) & HAS_EXPIRE != 0
    }

    /// Whether the running snapshot skips this record (see `SNAP_SKIP`).
    #[inline]
    pub fn snap_skip(&self) -> bool {
        self.byte(1) & SNAP_SKIP != 0
    }

    /// Sets or clears `SNAP_SKIP`.
    #[inline]
    pub fn set_snap_skip(&mut self, skip: bool) {
        // SAFETY: byte 1 (flags) is inside the allocation; only the one bit changes.
        unsafe {
            let flags = self.ptr.as_ptr().add(1);
            *flags = (*flags & !SNAP_SKIP) | if skip { SNAP_SKIP } else { 0 };
        }
    }

    /// Whether the value lives in a box (a list or a large collection): copying it aside
    /// would copy the whole collection.
    #[inline]
    pub fn is_boxed(&self) -> bool {
        matches!(self.kind(), K_BOXED | K_MOVED)
    }

    /// Bytes this record holds: its allocation and a long string's bytes (a boxed value's
    /// contents are not counted).
    pub fn footprint_bytes(&self) -> usize {
        let heap = if self.kind() == K_HEAP_STR {
            self.heap_parts().1
        } else {
            0
        };
        self.size() + heap
    }

    /// A LEB128 number at `at`, read byte by byte so no read passes its last byte; returns it
    /// and the bytes it took.
    #[inline]
    fn varint_at(&self, at: usize) -> (usize, usize) {
        let (mut n, mut i) = (0usize, 0usize);
        loop {
            let byte = self.byte(at + i);
            n |= ((byte & 0x7f) as usize) << (7 * i);
            i += 1;
            if byte & 0x80 == 0 {
                return (n, i);
            }
        }
    }

    /// The header and key (a prefix of the allocation, always initialised), and the key's
    /// offset in it.
    #[inline]
    fn prefix(&self) -> (&[u8], usize) {
        let at = HEADER_BYTES + if self.has_expiry() { 8 } else { 0 };
        let (key_len, n) = self.varint_at(at);
        let key_off = at + n;
        // SAFETY: the key's `key_len` bytes follow its length inside the allocation.
        let all = unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), key_off + key_len) };
        (all, key_off)
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        let (all, key_off) = self.prefix();
        &all[key_off..]
    }

    /// Unix time in ms at which the key expires; 0 when persistent.
    pub fn expire_at_ms(&self) -> u64 {
        if !self.has_expiry() {
            return 0;
        }
        let mut b = [0u8; 8];
        for (i, x) in b.iter_mut().enumerate() {
            *x = self.byte(HEADER_BYTES + i);
        }
        u64::from_le_bytes(b)
    }

    pub fn access_s(&self) -> u32 {
        u32::from_le_bytes([self.byte(2), self.byte(3), self.byte(4), self.byte(5)])
    }

    /// Offset of the payload.
    fn payload_offset(&self) -> usize {
        self.prefix().0.len()
    }

    /// The payload's bytes (for inline kinds: without their length prefix) and the total size.
    fn payload(&self) -> (&[u8], usize) {
        let at = self.payload_offset();
        let len_at = |n: usize| -> (&[u8], usize) {
            // SAFETY: the allocation holds the payload's `n` bytes after `at`.
            let b = unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(at), n) };
            (b, at + n)
        };
        match self.kind() {
            K_INT => len_at(8),
            K_BOXED | K_MOVED => len_at(PTR_BYTES),
            K_HEAP_STR | K_HEAP_MOVED => len_at(HEAP_STR_BYTES),
            K_STR => {
                let n = self.byte(at) as usize;
                let (b, end) = len_at(1 + n);
                (&b[1..], end)
            }
            _ => {
                let (n, i) = self.varint_at(at);
                let (b, end) = len_at(i + n);
                (&b[i..], end)
            }
        }
    }

    /// Bytes of the allocation.
    fn size(&self) -> usize {
        self.payload().1
    }

    fn boxed_ptr(&self) -> *mut Value {
        let (b, _) = self.payload();
        let mut p = [0u8; PTR_BYTES];
        p.copy_from_slice(b);
        usize::from_ne_bytes(p) as *mut Value
    }

    /// Redis's type name (TYPE), without unpacking the value.
    pub fn type_name(&self) -> &'static str {
        match self.kind() {
            K_INT | K_STR | K_HEAP_STR => "string",
            K_HASH_PACK => "hash",
            K_ZSET_PACK => "zset",
            K_INTSET => "set",
            K_BOXED => self.value().type_name(),
            _ => unreachable!("a record is read only while its value is in place"),
        }
    }

    /// The bytes of a string value stored as bytes (not integers, not boxed), without a copy:
    /// what a snapshot writes for most keys.
    pub fn str_bytes(&self) -> Option<&[u8]> {
        match self.kind() {
            K_STR => Some(self.payload().0),
            K_HEAP_STR => Some(self.heap_bytes()),
            _ => None,
        }
    }

    /// The value, borrowed when boxed, decoded when inline.
    pub fn value(&self) -> ValueRef<'_> {
        match self.kind() {
            K_BOXED => {
                // SAFETY: a K_BOXED payload is a live box owned by this record; `&self`
                // keeps it alive and unmodified for the returned lifetime.
                ValueRef::Borrowed(unsafe { &*self.boxed_ptr() })
            }
            K_HEAP_STR => ValueRef::Owned(Value::Str(SmallStr::new(self.heap_bytes()))),
            K_MOVED | K_HEAP_MOVED => {
                unreachable!("a record is read only while its value is in place")
            }
            _ => ValueRef::Owned(self.decode_inline()),
        }
    }

    fn decode_inline(&self) -> Value {
        let (b, _) = self.payload();
        match self.kind() {
            K_INT => {
                let mut x = [0u8; 8];
                x.copy_from_slice(b);
                Value::Int(i64::from_le_bytes(x))
            }
            K_STR => Value::Str(SmallStr::new(b)),
            K_HASH_PACK => Value::Hash(Hash::Pack(Pack::from_raw(b.into()))),
            K_ZSET_PACK => Value::ZSet(ZSet::Pack(Pack::from_raw(b.into()))),
            K_INTSET => Value::Set(Set::Ints(IntSet::from_raw(b.into()))),
            k => unreachable!("record kind {k} is not inline"),
        }
    }

    /// Moves the value out (a boxed value without a copy). Until `put_value`, the record holds
    /// no value and must not be read or dropped with one (`K_MOVED` keeps only the box memory).
    pub fn take_value(&mut self) -> Value {
        match self.kind() {
            K_BOXED => {
                let p = self.boxed_ptr();
                // SAFETY: `p` is this record's live box; after the read its memory is treated
                // as uninitialised (kind K_MOVED) until `put_value` writes a value back.
                let v = unsafe { std::ptr::read(p) };
                // SAFETY: byte 0 is inside the allocation.
                unsafe { *self.ptr.as_ptr() = K_MOVED };
                v
            }
            K_HEAP_STR => {
                let (p, n) = self.heap_parts();
                // SAFETY: the parts came from `Box::<[u8]>::into_raw` and this record owned
                // them; ownership moves to the returned value (kind K_HEAP_MOVED from now).
                let b = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n)) };
                // SAFETY: byte 0 is inside the allocation.
                unsafe { *self.ptr.as_ptr() = K_HEAP_MOVED };
                Value::Str(SmallStr::Boxed(b))
            }
            K_MOVED | K_HEAP_MOVED => unreachable!("value already taken"),
            _ => self.decode_inline(),
        }
    }

    /// Stores `value`, expiry and access time (the key stays), resizing the allocation when the
    /// new form needs a different size. Reuses the box memory of a value taken out.
    pub fn put_value(&mut self, value: Value, expire_at_ms: u64, access_s: u32) {
        // The common case (a read, or a same-size overwrite of a small value): same inline
        // size, same header shape, so write in place.
        if let Some(p) = inline_bytes(&value) {
            let kind = self.kind();
            let out_of_line = matches!(kind, K_BOXED | K_MOVED | K_HEAP_STR | K_HEAP_MOVED);
            if !out_of_line && (expire_at_ms != 0) == self.has_expiry() {
                let (_, end) = self.payload();
                let at = self.payload_offset();
                if end - at == p.bytes() {
                    self.write_times(expire_at_ms, access_s);
                    self.write_inline(at, &p);
                    return;
                }
            }
        }
        let old_size = self.size();
        let (prefix, key_off) = self.prefix();
        let key_len = prefix.len() - key_off;
        // The old box (read before the header moves): reused for a boxed value, else freed.
        let old_box = match self.kind() {
            K_BOXED => Some((self.boxed_ptr(), false)),
            K_MOVED => Some((self.boxed_ptr(), true)),
            _ => None,
        };
        // An old heap string still owned (not moved out) is freed.
        let old_heap = (self.kind() == K_HEAP_STR).then(|| self.heap_parts());
        let new_key_off = Self::key_offset_for(expire_at_ms != 0, key_len);
        let payload_at = new_key_off + key_len;
        // Only a value that would be boxed can reuse the old box.
        let inline =
            inline_bytes(&value).is_some() || matches!(value, Value::Str(SmallStr::Boxed(_)));
        let new_size = payload_bytes(payload_at, &value);
        if let Some((p, n)) = old_heap {
            // SAFETY: this record owned these bytes (not moved out); freed exactly once, here.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n)) });
        }

        if new_size > old_size {
            self.resize(old_size, new_size);
        }
        if new_key_off != key_off {
            // SAFETY: both ranges lie inside the allocation (sized for the larger layout);
            // `copy` handles the overlap.
            unsafe {
                let base = self.ptr.as_ptr();
                std::ptr::copy(base.add(key_off), base.add(new_key_off), key_len);
            }
        }
        {
            // SAFETY: the allocation is at least `payload_at` bytes.
            let buf = unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), payload_at) };
            buf[1] = (buf[1] & SNAP_SKIP) | if expire_at_ms != 0 { HAS_EXPIRE } else { 0 };
            buf[2..6].copy_from_slice(&access_s.to_le_bytes());
            if expire_at_ms != 0 {
                buf[HEADER_BYTES..HEADER_BYTES + 8].copy_from_slice(&expire_at_ms.to_le_bytes());
            }
            write_varint(&mut buf[new_key_off - varint_len(key_len)..], key_len);
        }
        match (old_box, inline) {
            (Some((p, moved)), false) => {
                // SAFETY: `p` is this record's box: its value is dropped here unless it was
                // moved out, then the new value is written into the same memory.
                unsafe {
                    if !moved {
                        std::ptr::drop_in_place(p);
                    }
                    std::ptr::write(p, value);
                }
                // SAFETY: the allocation holds the pointer payload at `payload_at`.
                let buf = unsafe {
                    std::slice::from_raw_parts_mut(self.ptr.as_ptr(), payload_at + PTR_BYTES)
                };
                buf[0] = K_BOXED;
                buf[payload_at..].copy_from_slice(&(p as usize).to_ne_bytes());
            }
            (Some((p, moved)), true) => {
                // SAFETY: `p` came from `Box::<Value>::into_raw`; its value is dropped unless it
                // was moved out, and the memory is freed exactly once, here.
                unsafe {
                    if !moved {
                        std::ptr::drop_in_place(p);
                    }
                    dealloc(p as *mut u8, Layout::new::<Value>());
                }
                self.write_payload(payload_at, value);
            }
            (None, _) => self.write_payload(payload_at, value),
        }
        if new_size < old_size {
            self.resize(old_size, new_size);
        }
        debug_assert_eq!(self.size(), new_size);
    }

    /// Rewrites access time and expiry (whose presence must not change).
    fn write_times(&mut self, expire_at_ms: u64, access_s: u32) {
        debug_assert_eq!(expire_at_ms != 0, self.has_expiry());
        let n = HEADER_BYTES + if expire_at_ms != 0 { 8 } else { 0 };
        // SAFETY: the header (and the expiry, when present) is inside the allocation.
        let buf = unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), n) };
        buf[2..6].copy_from_slice(&access_s.to_le_bytes());
        if expire_at_ms != 0 {
            buf[HEADER_BYTES..].copy_from_slice(&expire_at_ms.to_le_bytes());
        }
    }

    fn resize(&mut self, old_size: usize, new_size: usize) {
        // SAFETY: `ptr` was allocated with `layout(old_size)`; `new_size` > 0.
        let raw = unsafe { realloc(self.ptr.as_ptr(), layout(old_size), new_size) };
        match NonNull::new(raw) {
            Some(p) => self.ptr = p,
            None => std::alloc::handle_alloc_error(layout(new_size)),
        }
    }

    /// Changes the expiry in place (the value stays where it is).
    pub fn set_expire(&mut self, expire_at_ms: u64) {
        let access_s = self.access_s();
        let v = self.take_value();
        self.put_value(v, expire_at_ms, access_s);
    }

    /// Replaces the value (and expiry, access time), returning the old value.
    pub fn replace(&mut self, value: Value, expire_at_ms: u64, access_s: u32) -> Value {
        let old = self.take_value();
        self.put_value(value, expire_at_ms, access_s);
        old
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let size = self.size();
        match self.kind() {
            // SAFETY: the record owns its box; freed exactly once, here.
            K_BOXED => drop(unsafe { Box::from_raw(self.boxed_ptr()) }),
            // SAFETY: the box's value was moved out; only its memory is left to free.
            K_MOVED => unsafe { dealloc(self.boxed_ptr() as *mut u8, Layout::new::<Value>()) },
            K_HEAP_STR => {
                let (p, n) = self.heap_parts();
                // SAFETY: the record owns these bytes; freed exactly once, here.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n)) });
            }
            _ => {}
        }
        // SAFETY: allocated with `layout(size)` (size kept in step by every resize).
        unsafe { dealloc(self.ptr.as_ptr(), layout(size)) };
    }
}

impl Clone for Record {
    fn clone(&self) -> Record {
        Record::new(
            self.key(),
            self.value().into_owned(),
            self.expire_at_ms(),
            self.access_s(),
        )
    }
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("expire_at_ms", &self.expire_at_ms())
            .finish()
    }
}

/// A record's value for reading: borrowed from its box, or decoded from its inline bytes.
pub enum ValueRef<'a> {
    Borrowed(&'a Value),
    Owned(Value),
}

impl ValueRef<'_> {
    pub fn into_owned(self) -> Value {
        match self {
            ValueRef::Borrowed(v) => v.clone(),
            ValueRef::Owned(v) => v,
        }
    }
}

impl std::ops::Deref for ValueRef<'_> {
    type Target = Value;
    fn deref(&self) -> &Value {
        match self {
            ValueRef::Borrowed(v) => v,
            ValueRef::Owned(v) => v,
        }
    }
}

/// Inline strings are at most this long (checked at compile time against `SmallStr`).
const _: () = assert!(INLINE_BYTES_MAX < 0x80);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hash::HashLimits;
    use crate::store::list::List;

    fn values() -> Vec<Value> {
        let mut h = Hash::default();
        for i in 0..5 {
            h.set(format!("f{i}").as_bytes(), b"v", &HashLimits::default());
        }
        let mut big = Hash::default();
        for i in 0..600 {
            big.set(format!("f{i}").as_bytes(), b"v", &HashLimits::default());
        }
        vec![
            Value::Int(-7),
            Value::Str(SmallStr::new(b"short")),
            Value::Str(SmallStr::new(&[b'x'; 100])),
            Value::Hash(h),
            Value::Hash(big),
            Value::List(Box::<List>::default()),
            Value::Set(Set::default()),
        ]
    }

    fn same(a: &Value, b: &Value) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn round_trips_every_form_and_key_length() {
        for key_len in [0usize, 1, 16, 127, 128, 300] {
            let key = vec![b'k'; key_len];
            for v in values() {
                for expire in [0u64, 1_700_000_000_000] {
                    let r = Record::new(&key, v.clone(), expire, 42);
                    assert_eq!(r.key(), &key[..]);
                    assert_eq!(r.expire_at_ms(), expire);
                    assert_eq!(r.access_s(), 42);
                    assert!(same(&r.value(), &v));
                }
            }
        }
    }

    #[test]
    fn take_and_put_across_forms_and_expiry_changes() {
        let key = b"some:key:name";
        let vs = values();
        for a in &vs {
            for b in &vs {
                let mut r = Record::new(key, a.clone(), 0, 1);
                let taken = r.take_value();
                assert!(same(&taken, a));
                r.put_value(b.clone(), 99, 2);
                assert_eq!(r.key(), key);
                assert_eq!(r.expire_at_ms(), 99);
                assert!(same(&r.value(), b));
                r.set_expire(0);
                assert_eq!(r.expire_at_ms(), 0);
                assert_eq!(r.key(), key);
                assert!(same(&r.value(), b));
                let old = r.replace(a.clone(), 5, 3);
                assert!(same(&old, b));
                assert!(same(&r.value(), a));
                assert_eq!(r.access_s(), 3);
            }
        }
    }

    #[test]
    fn small_values_are_one_allocation() {
        let r = Record::new(b"key:000000000001", Value::from_bytes(&[b'v'; 16]), 0, 0);
        assert_eq!(r.kind(), K_STR);
        assert_eq!(r.size(), 6 + 1 + 16 + 1 + 16);
    }
}
