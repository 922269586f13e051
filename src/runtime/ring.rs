//! One io_uring per thread: submit accept/recv/send/read operations and collect completions.
//!
//! Every operation carries a caller-chosen 64-bit token; completions come back as
//! `(token, result, flags)`. The ring is only ever touched by the thread that created it.

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// A finished operation: the token it was submitted with, the kernel's result (bytes or -errno)
/// and whether a multishot operation stays armed.
#[derive(Clone, Copy, Debug)]
pub struct Completion {
    pub token: u64,
    pub result: i32,
    pub more: bool,
}

/// IORING_RECVSEND_POLL_FIRST (Linux 5.19): arm the poll before trying the receive.
const RECVSEND_POLL_FIRST: u16 = 1;

pub struct Ring {
    ring: IoUring,
}

impl Ring {
    /// Creates a ring with `entries` submission slots. Fails with a message that says why when
    /// the kernel refuses io_uring (too old, disabled by sysctl, or filtered by seccomp).
    pub fn new(entries: u32) -> Result<Ring, String> {
        // DEFER_TASKRUN (Linux 6.1+): completions are posted only when this thread waits, so the
        // kernel never interrupts the loop to run task work. Fall back to COOP_TASKRUN, then to
        // a plain ring, on older kernels.
        let deferred = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(entries);
        let coop = || {
            IoUring::builder()
                .setup_single_issuer()
                .setup_coop_taskrun()
                .build(entries)
        };
        match deferred
            .or_else(|_| coop())
            .or_else(|_| IoUring::new(entries))
        {
            Ok(ring) => Ok(Ring { ring }),
            Err(e) => Err(io_uring_unavailable(&e)),
        }
    }

    fn push(&mut self, entry: squeue::Entry) {
        loop {
            // SAFETY: the callers below uphold the buffer-lifetime contract of each operation.
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return;
            }
            // Submission queue full: hand what we have to the kernel and retry.
            if let Err(e) = self.ring.submit() {
                if e.raw_os_error() != Some(libc::EBUSY) {
                    crate::server::log::warning(&format!("io_uring submit failed: {e}"));
                }
            }
        }
    }

    /// One accept on a listening socket, re-armed by the caller after each connection. (A
    /// multishot accept on a listener shared by several rings lets the kernel give every
    /// connection to the same ring; one outstanding accept per ring keeps a busy ring from
    /// taking more than one.)
    pub fn accept(&mut self, fd: RawFd, token: u64) {
        let e = opcode::Accept::new(types::Fd(fd), std::ptr::null_mut(), std::ptr::null_mut())
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(token);
        self.push(e);
    }

    /// Multishot accept on a listening socket (one thread listening alone).
    pub fn accept_multi(&mut self, fd: RawFd, token: u64) {
        let e = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(token);
        self.push(e);
    }

    /// Receive into `buf[..len]`.
    ///
    /// # Safety
    /// `buf` must stay valid, unmoved and untouched until the completion with `token` is reaped.
    pub unsafe fn recv(&mut self, fd: RawFd, buf: *mut u8, len: u32, token: u64) {
        // Poll first: a receive is posted right after the previous input was consumed, so data is
        // rarely waiting; skipping the inline attempt saves a failed recvmsg per request.
        let e = opcode::Recv::new(types::Fd(fd), buf, len)
            .ioprio(RECVSEND_POLL_FIRST)
            .build()
            .user_data(token);
        self.push(e);
    }

    /// Send `buf[..len]`.
    ///
    /// # Safety
    /// `buf` must stay valid and unmodified until the completion with `token` is reaped.
    pub unsafe fn send(&mut self, fd: RawFd, buf: *const u8, len: u32, token: u64) {
        let e = opcode::Send::new(types::Fd(fd), buf, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(token);
        self.push(e);
    }

    /// One-shot readiness poll for `events` (POLLIN, POLLOUT...): for sockets driven with
    /// non-blocking reads and writes (the sentinel's few, small connections). The completion's
    /// result holds the ready events.
    pub fn poll_once(&mut self, fd: RawFd, events: i16, token: u64) {
        let e = opcode::PollAdd::new(types::Fd(fd), events as u16 as u32)
            .build()
            .user_data(token);
        self.push(e);
    }

    /// One-shot poll that completes when the peer hangs up (POLLRDHUP; POLLHUP and POLLERR are
    /// always reported), not when data arrives.
    pub fn poll_hangup(&mut self, fd: RawFd, token: u64) {
        let e = opcode::PollAdd::new(types::Fd(fd), libc::POLLRDHUP as u32)
            .build()
            .user_data(token);
        self.push(e);
    }

    /// Removes the poll submitted with `token` (it completes with -ECANCELED).
    pub fn poll_remove(&mut self, token: u64) {
        let e = opcode::PollRemove::new(token).build().user_data(token);
        self.push(e);
    }

    /// Read 8 bytes (an eventfd counter).
    ///
    /// # Safety
    /// `buf` must stay valid until the completion with `token` is reaped.
    pub unsafe fn read8(&mut self, fd: RawFd, buf: *mut u64, token: u64) {
        let e = opcode::Read::new(types::Fd(fd), buf as *mut u8, 8)
            .build()
            .user_data(token);
        self.push(e);
    }

    /// Submit everything queued and wait for at least `want` completions or `timeout`.
    pub fn submit_and_wait(&mut self, want: usize, timeout: Option<Duration>) -> io::Result<()> {
        let res = match timeout {
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want.max(1), &args)
            }
            None => self.ring.submit_and_wait(want.max(1)),
        };
        match res {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Submit queued operations without waiting.
    pub fn submit(&mut self) -> io::Result<()> {
        self.ring.submit().map(|_| ())
    }

    /// Move all available completions into `out`.
    pub fn drain(&mut self, out: &mut Vec<Completion>) {
        for cqe in self.ring.completion() {
            out.push(Completion {
                token: cqe.user_data(),
                result: cqe.result(),
                more: cqueue::more(cqe.flags()),
            });
        }
    }
}

fn io_uring_unavailable(e: &io::Error) -> String {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let why = match e.raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no io_uring (Linux 5.19 or newer is needed)".to_string(),
        Some(libc::EPERM) if disabled != "0" && !disabled.is_empty() => format!(
            "io_uring is disabled by the sysctl kernel.io_uring_disabled={disabled}"
        ),
        Some(libc::EPERM) => {
            "io_uring is not permitted here (a seccomp profile, such as Docker's default, or a sysctl blocks it)".to_string()
        }
        _ => format!("io_uring_setup failed: {e}"),
    };
    format!(
        "Can't start: {why}. ringkv needs io_uring; run it on Linux 5.19+ with io_uring allowed."
    )
}
