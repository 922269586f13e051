//! Connections of clients to the sentinel: other sentinels, redis-cli, client libraries asking
//! where the master is, and subscribers waiting for events.

use std::net::TcpStream;

use slab::Slab;

use super::link::Conn;
use super::{commands, token, State, T_CLIENT};
use crate::resp::{parse_command, Args, Limits, ParseOutcome, Reply};
use crate::runtime::clock::unix_ms;
use crate::runtime::Ring;
use crate::server::log;

/// Unparsed input a client may buffer (a sentinel's commands are short).
const INPUT_BYTES_MAX: usize = 1024 * 1024;
/// Channels plus patterns one client may subscribe to.
pub const SUBSCRIPTIONS_MAX: usize = 10_000;

pub struct Client {
    pub conn: Conn,
    pub id: u64,
    pub addr: String,
    pub name: Option<String>,
    pub resp3: bool,
    pub authed: bool,
    pub channels: Vec<Vec<u8>>,
    pub patterns: Vec<Vec<u8>>,
    pub created_ms: u64,
    pub last_cmd: String,
    /// Close once the queued reply is written (QUIT, protocol errors, CLIENT KILL).
    pub closing: bool,
}

impl Client {
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

pub struct Clients {
    pub slab: Slab<Client>,
    next_id: u64,
    generation: u16,
    pub total_connections: u64,
    pub total_commands: u64,
}

impl Clients {
    pub fn new() -> Clients {
        Clients {
            slab: Slab::new(),
            next_id: 0,
            generation: 0,
            total_connections: 0,
            total_commands: 0,
        }
    }

    pub fn arm(&mut self, ring: &mut Ring) {
        for (key, c) in self.slab.iter_mut() {
            let t = token(T_CLIENT, c.conn.generation, key as u64);
            c.conn.arm(ring, t);
        }
    }

    /// Sends a pub/sub message to every client subscribed to `channel` (or a matching pattern).
    pub fn publish(&mut self, channel: &[u8], message: &[u8]) -> usize {
        let mut receivers = 0;
        let mut broken = Vec::new();
        for (key, c) in self.slab.iter_mut() {
            let mut out = Vec::new();
            if c.channels.iter().any(|ch| ch == channel) {
                let mut r = Reply::new(&mut out, c.resp3);
                push_header(&mut r, c.resp3, 3);
                r.bulk(b"message");
                r.bulk(channel);
                r.bulk(message);
                receivers += 1;
            }
            for p in &c.patterns {
                if crate::config::glob_match(p, channel, false) {
                    let mut r = Reply::new(&mut out, c.resp3);
                    push_header(&mut r, c.resp3, 4);
                    r.bulk(b"pmessage");
                    r.bulk(p);
                    r.bulk(channel);
                    r.bulk(message);
                    receivers += 1;
                }
            }
            if !out.is_empty() && c.conn.send(&out).is_err() {
                broken.push(key);
            }
        }
        for key in broken {
            self.slab.remove(key);
        }
        receivers
    }
}

impl Default for Clients {
    fn default() -> Self {
        Self::new()
    }
}

pub fn push_header(r: &mut Reply, resp3: bool, len: usize) {
    if resp3 {
        r.push(len);
    } else {
        r.array(len);
    }
}

pub fn accepted(st: &mut State, stream: TcpStream) {
    let maxclients = st.s.config.maxclients as usize;
    let cs = &mut st.clients;
    cs.generation = cs.generation.wrapping_add(1);
    let addr = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let Ok(mut conn) = Conn::from_stream(stream, cs.generation) else {
        return;
    };
    if cs.slab.len() >= maxclients {
        let _ = conn.send(b"-ERR max number of clients reached\r\n");
        return;
    }
    cs.next_id += 1;
    cs.total_connections += 1;
    let authed = st.s.config.requirepass.is_none();
    cs.slab.insert(Client {
        conn,
        id: cs.next_id,
        addr,
        name: None,
        resp3: false,
        authed,
        channels: Vec::new(),
        patterns: Vec::new(),
        created_ms: unix_ms(),
        last_cmd: "NULL".into(),
        closing: false,
    });
}

/// A client's socket is ready: run the commands it sent, or write what is queued.
pub fn ready(st: &mut State, key: u64, generation: u16, write: bool) {
    let key = key as usize;
    let Some(c) = st.clients.slab.get_mut(key) else {
        return;
    };
    if c.conn.generation != generation {
        return;
    }
    c.conn.polled(write);
    if write {
        // Broken, or a client to close once its last reply is out.
        if c.conn.flush().is_err() || (c.closing && c.conn.drained()) {
            st.clients.slab.remove(key);
        }
        return;
    }
    let open = c.conn.fill(INPUT_BYTES_MAX).unwrap_or(false);
    let limits = Limits {
        bulk_bytes_max: INPUT_BYTES_MAX as u64,
        authenticated: true,
    };
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    loop {
        let Some(c) = st.clients.slab.get_mut(key) else {
            return;
        };
        if c.closing {
            break;
        }
        let input = std::mem::take(&mut c.conn.input);
        let outcome = parse_command(&input, &mut ranges, &mut scratch, &limits);
        let (consumed, argv) = match outcome {
            ParseOutcome::Complete { consumed, inline } => {
                let base: &[u8] = if inline { &scratch } else { &input };
                let args = Args::new(base, &ranges);
                (
                    consumed,
                    args.iter().map(|a| a.to_vec()).collect::<Vec<_>>(),
                )
            }
            ParseOutcome::Empty { consumed } => (consumed, Vec::new()),
            ParseOutcome::Incomplete => {
                c.conn.input = input;
                break;
            }
            ParseOutcome::Error(e) => {
                log::verbose(&format!("Protocol error from client {}: {e}", c.addr));
                let _ = c.conn.send(format!("-ERR {e}\r\n").as_bytes());
                c.closing = true;
                break;
            }
        };
        c.conn.input = input[consumed..].to_vec();
        if argv.is_empty() {
            continue;
        }
        st.clients.total_commands += 1;
        let reply = commands::execute(st, key, &argv);
        let Some(c) = st.clients.slab.get_mut(key) else {
            return;
        };
        if c.conn.send(&reply).is_err() {
            st.clients.slab.remove(key);
            return;
        }
    }
    let Some(c) = st.clients.slab.get_mut(key) else {
        return;
    };
    if !open || (c.closing && c.conn.drained()) {
        st.clients.slab.remove(key);
    }
}
