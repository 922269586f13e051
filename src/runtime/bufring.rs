//! A provided-buffer ring: buffers the kernel picks from for multishot receives.
//!
//! A multishot receive stays armed on its socket; each time data arrives the kernel takes a free
//! buffer from this ring, fills it and posts a completion naming the buffer. The owner copies the
//! bytes out and hands the buffer straight back, so only a few are ever in use at once.

use io_uring::types::BufRingEntry;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use super::Ring;

pub struct BufRing {
    entries: *mut BufRingEntry,
    layout: Layout,
    buffers: Vec<u8>,
    buf_bytes: usize,
    count: u16,
    tail: u16,
    pub group: u16,
}

impl BufRing {
    /// Registers `count` (a power of two) buffers of `buf_bytes` each as buffer group `group`.
    pub fn new(ring: &Ring, group: u16, count: u16, buf_bytes: usize) -> io::Result<BufRing> {
        assert!(count.is_power_of_two() && count <= 32768);
        let layout =
            Layout::from_size_align(count as usize * std::mem::size_of::<BufRingEntry>(), 4096)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: the layout has a non-zero size; the memory is zeroed, which is a valid
        // (empty) ring for the kernel.
        let entries = unsafe { alloc_zeroed(layout) } as *mut BufRingEntry;
        if entries.is_null() {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "buffer ring"));
        }
        let mut br = BufRing {
            entries,
            layout,
            buffers: vec![0u8; count as usize * buf_bytes],
            buf_bytes,
            count,
            tail: 0,
            group,
        };
        // SAFETY: `entries` stays allocated (and `buffers` unmoved: the Vec is never resized)
        // until `BufRing` is dropped, which the owner does only after the ring is destroyed.
        if let Err(e) = unsafe { ring.register_buf_ring(entries as u64, count, group) } {
            // SAFETY: allocated above with this layout; never registered.
            unsafe { dealloc(entries as *mut u8, layout) };
            br.entries = std::ptr::null_mut();
            return Err(e);
        }
        for bid in 0..count {
            br.push(bid);
        }
        br.publish();
        Ok(br)
    }

    pub fn buf_bytes(&self) -> usize {
        self.buf_bytes
    }

    /// The first `len` bytes of buffer `bid`, as filled by the kernel.
    pub fn data(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * self.buf_bytes;
        &self.buffers[start..start + len.min(self.buf_bytes)]
    }

    /// Gives buffer `bid` back to the kernel.
    pub fn recycle(&mut self, bid: u16) {
        self.push(bid);
        self.publish();
    }

    fn push(&mut self, bid: u16) {
        assert!(bid < self.count);
        let slot = (self.tail & (self.count - 1)) as usize;
        // SAFETY: `slot` < count, inside the allocation; the kernel only reads entries below the
        // published tail, and this one is published after it is written.
        let entry = unsafe { &mut *self.entries.add(slot) };
        let addr = self.buffers.as_ptr() as u64 + bid as u64 * self.buf_bytes as u64;
        entry.set_addr(addr);
        entry.set_len(self.buf_bytes as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail lives in entry 0's reserved field (see BufRingEntry::tail); it is a
        // u16 the kernel reads, so we store it atomically with Release ordering after the entries.
        unsafe {
            let tail = BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if !self.entries.is_null() {
            // SAFETY: allocated in `new` with `layout`; the ring that used it is gone (the owner
            // drops its Ring first).
            unsafe { dealloc(self.entries as *mut u8, self.layout) };
        }
    }
}
