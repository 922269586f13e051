//! One client connection's buffers and bookkeeping, owned by the worker that accepted it.

use std::os::fd::RawFd;

use super::client::ClientState;

/// Spare room a receive asks the kernel to fill.
pub const RECV_BYTES_MIN: usize = 16 * 1024;

pub struct Conn {
    pub fd: RawFd,
    pub gen: u32,
    /// Received bytes; `rbuf[rpos..]` is not yet parsed.
    pub rbuf: Vec<u8>,
    pub rpos: usize,
    /// Argument ranges of the command being parsed, and the scratch for inline arguments.
    pub ranges: Vec<(u32, u32)>,
    pub scratch: Vec<u8>,
    /// Where the parse of an incomplete request at `rpos` stopped (its arguments so far are in
    /// `ranges`).
    pub resume: Option<crate::resp::Resume>,
    /// Replies not yet handed to the kernel, and the buffer a send is in flight from.
    pub out: Vec<u8>,
    pub sending: Vec<u8>,
    pub sent: usize,
    pub send_inflight: bool,
    pub recv_inflight: bool,
    pub client: ClientState,
    /// Shards the parked command needs (0 when none is parked) and the ones already held.
    pub need: u64,
    pub held: u64,
    /// Remote lock requests already sent for the parked command.
    pub requested: u64,
    /// Blocked on keys (BLPOP ...): parked until served, timed out, unblocked or closed.
    pub blocked: Option<Box<super::blocked::BlockedConn>>,
    /// A hang-up poll is armed (while blocked no receive is, so this is how a close is seen).
    pub hup_armed: bool,
    /// The pipeline batch whose commands run on other threads, while their replies are awaited.
    pub shipped: Option<Box<super::ship::Shipped>>,
    pub closing: bool,
    pub close_after_flush: bool,
    pub monitor: bool,
    pub last_interaction_ms: u64,
    /// A replica of ours (after PSYNC / SYNC): fed by `replicas.rs`, not by replies.
    pub replica: Option<Box<super::replicas::ReplicaConn>>,
    /// In WAIT: (stream offset, replicas wanted, deadline in Unix ms or 0).
    pub repl_wait: Option<(u64, u64, u64)>,
    /// REPLICAOF NO ONE (or an EXEC holding one) parked until the link drained, with its
    /// deadline (Unix ms); the command is still at `rpos` and runs once settled.
    pub promote_wait: Option<u64>,
}

impl Conn {
    pub fn new(fd: RawFd, gen: u32, client: ClientState, now_ms: u64) -> Conn {
        Conn {
            fd,
            gen,
            rbuf: Vec::with_capacity(RECV_BYTES_MIN),
            rpos: 0,
            ranges: Vec::with_capacity(8),
            scratch: Vec::new(),
            resume: None,
            out: Vec::with_capacity(RECV_BYTES_MIN),
            sending: Vec::with_capacity(RECV_BYTES_MIN),
            sent: 0,
            send_inflight: false,
            recv_inflight: false,
            client,
            need: 0,
            held: 0,
            requested: 0,
            shipped: None,
            blocked: None,
            hup_armed: false,
            closing: false,
            close_after_flush: false,
            monitor: false,
            last_interaction_ms: now_ms,
            replica: None,
            repl_wait: None,
            promote_wait: None,
        }
    }

    /// Makes room for a receive: drops parsed bytes, then grows (doubling, never to a size the
    /// client declared) when less than `RECV_BYTES_MIN` is free. Returns the free room.
    pub fn prepare_recv(&mut self) -> usize {
        if self.rpos > 0 {
            let live = self.rbuf.len() - self.rpos;
            self.rbuf.copy_within(self.rpos.., 0);
            self.rbuf.truncate(live);
            self.rpos = 0;
        }
        if self.rbuf.capacity() - self.rbuf.len() < RECV_BYTES_MIN {
            let grow = self.rbuf.capacity().max(RECV_BYTES_MIN);
            self.rbuf.reserve(grow);
        } else if self.rbuf.is_empty() && self.rbuf.capacity() > 4 * 1024 * 1024 {
            // A big request came and went: give the memory back.
            self.rbuf = Vec::with_capacity(RECV_BYTES_MIN);
        }
        self.rbuf.capacity() - self.rbuf.len()
    }

    /// Bytes received but not yet executed.
    pub fn pending_input(&self) -> usize {
        self.rbuf.len() - self.rpos
    }

    /// Waiting for locks or for the replies of shipped commands: no command may run meanwhile.
    pub fn parked(&self) -> bool {
        self.need != 0
            || self.shipped.is_some()
            || self.blocked.is_some()
            || self.repl_wait.is_some()
            || self.promote_wait.is_some()
    }

    pub fn token(slot: usize, gen: u32) -> u64 {
        ((gen as u64) << 32) | slot as u64
    }
}
