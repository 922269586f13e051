//! A bounded, lock-free, multi-producer mailbox with an eventfd wake-up.
//!
//! Producers push and, only if the consumer has not yet been told, write the eventfd once. The
//! consumer keeps a read of the eventfd posted on its ring, so a message wakes its loop without any
//! busy polling. The `notified` flag keeps the wake-up syscall off the common path: many messages
//! in a burst cost one eventfd write.

use crossbeam_queue::ArrayQueue;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{fence, AtomicBool, Ordering};

pub struct Mailbox<T> {
    queue: ArrayQueue<T>,
    eventfd: RawFd,
    notified: AtomicBool,
    /// Set by the consumer just before it blocks; producers only write the eventfd when it is.
    sleeping: AtomicBool,
}

impl<T> Mailbox<T> {
    /// A mailbox holding at most `capacity_max` messages.
    pub fn new(capacity_max: usize) -> io::Result<Mailbox<T>> {
        assert!(capacity_max > 0);
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Mailbox {
            queue: ArrayQueue::new(capacity_max),
            eventfd: fd,
            notified: AtomicBool::new(false),
            sleeping: AtomicBool::new(true),
        })
    }

    /// The eventfd the consumer reads to be woken.
    pub fn eventfd(&self) -> RawFd {
        self.eventfd
    }

    /// Push a message; gives it back when the mailbox is full (the caller retries later).
    pub fn push(&self, msg: T) -> Result<(), T> {
        self.queue.push(msg)?;
        // SeqCst pairs with `about_to_sleep`: either we see the consumer asleep and wake it, or
        // it sees our message before blocking. A consumer that is awake drains every turn.
        fence(Ordering::SeqCst);
        if !self.sleeping.load(Ordering::SeqCst) {
            return Ok(());
        }
        // AcqRel pairs with the consumer's swap in `take_notification`: if we see `true`, the
        // consumer has not yet cleared the flag, so its drain after clearing sees our push.
        if !self.notified.swap(true, Ordering::AcqRel) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our own eventfd. A full counter (EAGAIN)
            // only means a wake-up is already pending, so the result can be ignored.
            unsafe { libc::write(self.eventfd, &one as *const u64 as *const libc::c_void, 8) };
        }
        Ok(())
    }

    /// Consumer side, before blocking: announces the sleep and returns false when a message
    /// arrived meanwhile (then it must not block, and is marked awake again).
    pub fn about_to_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        // The fences on both sides (here and in `push`) keep each side's store before its load
        // (store-load order is not otherwise guaranteed, even on x86).
        fence(Ordering::SeqCst);
        if self.queue.is_empty() {
            return true;
        }
        self.sleeping.store(false, Ordering::SeqCst);
        false
    }

    /// Consumer side, after waking.
    pub fn awake(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }

    /// Consumer side: clear the wake-up flag before draining.
    pub fn take_notification(&self) {
        self.notified.swap(false, Ordering::AcqRel);
    }

    pub fn pop(&self) -> Option<T> {
        self.queue.pop()
    }
}

impl<T> Drop for Mailbox<T> {
    fn drop(&mut self) {
        // SAFETY: we own the fd and close it once.
        unsafe { libc::close(self.eventfd) };
    }
}
