//! Sockets of the sentinel: non-blocking connections driven by one-shot io_uring polls.
//!
//! A sentinel moves a few hundred bytes a second per instance, so it does not need the data
//! server's zero-copy receive path: each socket is non-blocking, a readiness poll on the ring
//! says when to read (or, with output queued, when to write), and reads and writes are plain
//! system calls. [`Conn`] is one socket with its buffers; [`Link`] is an outgoing connection to
//! a monitored instance or another sentinel, with the replies it is still waiting for.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use crate::resp::value::{parse_value, Value};
use crate::runtime::Ring;

/// Bytes read per system call.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Queued output beyond this closes the connection (a peer that does not read).
pub const OUTPUT_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Replies a link may be waiting for before the sentinel stops sending periodic commands
/// (Redis's SENTINEL_MAX_PENDING_COMMANDS).
pub const PENDING_MAX: usize = 100;

pub struct Conn {
    stream: TcpStream,
    pub input: Vec<u8>,
    output: Vec<u8>,
    /// Bumped on every new socket, so a completion for a closed one is recognised.
    pub generation: u16,
    read_armed: bool,
    write_armed: bool,
}

impl Conn {
    pub fn from_stream(stream: TcpStream, generation: u16) -> io::Result<Conn> {
        stream.set_nonblocking(true)?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            generation,
            read_armed: false,
            write_armed: false,
        })
    }

    /// Starts a non-blocking connect; the first write readiness says it finished (its error, if
    /// any, surfaces on the first read or write).
    pub fn connect(addr: SocketAddr, generation: u16) -> io::Result<Conn> {
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // SAFETY: plain socket(2); the descriptor is owned by the TcpStream built right below.
        let fd = unsafe {
            libc::socket(
                family,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh socket that nothing else owns.
        let stream = unsafe { TcpStream::from_raw_fd(fd) };
        let (storage, len) = sockaddr(&addr);
        // SAFETY: `storage` is a valid sockaddr of `len` bytes living across the call.
        let rc = unsafe {
            libc::connect(
                fd,
                &storage as *const libc::sockaddr_storage as *const libc::sockaddr,
                len,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
        }
        Conn::from_stream(stream, generation)
    }

    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    pub fn local_ip(&self) -> Option<String> {
        self.stream.local_addr().ok().map(|a| a.ip().to_string())
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.stream.peer_addr().ok()
    }

    /// Queues `bytes` and writes what the socket takes now. Err: the connection is broken or
    /// its peer stopped reading.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.output.extend_from_slice(bytes);
        self.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        while !self.output.is_empty() {
            match self.stream.write(&self.output) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.output.len() > OUTPUT_BYTES_MAX {
            return Err(io::Error::other("output buffer limit reached"));
        }
        Ok(())
    }

    /// Everything queued was written.
    pub fn drained(&self) -> bool {
        self.output.is_empty()
    }

    /// Reads everything available into `input`, up to `input_bytes_max` buffered. Ok(false):
    /// the peer closed the connection.
    pub fn fill(&mut self, input_bytes_max: usize) -> io::Result<bool> {
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        loop {
            if self.input.len() > input_bytes_max {
                return Err(io::Error::other("input buffer limit reached"));
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// A poll with this token completed.
    pub fn polled(&mut self, write: bool) {
        if write {
            self.write_armed = false;
        } else {
            self.read_armed = false;
        }
    }

    /// Arms the read poll, and the write poll while output is queued. `token` has bit 0 clear;
    /// the write poll uses `token | 1`.
    pub fn arm(&mut self, ring: &mut Ring, token: u64) {
        if !self.read_armed {
            ring.poll_once(self.fd(), libc::POLLIN | libc::POLLRDHUP, token);
            self.read_armed = true;
        }
        if !self.write_armed && !self.output.is_empty() {
            ring.poll_once(self.fd(), libc::POLLOUT, token | 1);
            self.write_armed = true;
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // A pending io_uring poll holds the socket open after close(2); shutting it down
        // completes those polls and tells the peer at once.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid value; the fields are filled below.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            (storage, std::mem::size_of::<libc::sockaddr_in>() as _)
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_scope_id = a.scope_id();
            (storage, std::mem::size_of::<libc::sockaddr_in6>() as _)
        }
    }
}

/// Resolves `host:port`: an IP literal always; a name only with `resolve-hostnames yes`.
pub fn resolve(host: &str, port: u16, resolve_hostnames: bool) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    if !resolve_hostnames {
        return None;
    }
    (host, port).to_socket_addrs().ok()?.next()
}

/// What a reply on a command link answers, so it reaches the right handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// AUTH, CLIENT SETNAME, SUBSCRIBE, MULTI and its queued commands: nothing to do.
    Discard,
    Ping,
    Info,
    /// PUBLISH of our hello.
    Publish,
    /// SENTINEL IS-MASTER-DOWN-BY-ADDR.
    MasterDown,
}

/// An outgoing connection with the replies it still waits for, in order.
pub struct Link {
    pub conn: Conn,
    pub pending: VecDeque<Expect>,
    /// Whether the peer ever sent a byte (a link closed before that was refused or reset).
    pub heard: bool,
    /// `sentinel rename-command` of the master: (command, the name the instance knows it by).
    pub renames: Vec<(String, String)>,
}

impl Link {
    pub fn open(addr: SocketAddr, generation: u16) -> io::Result<Link> {
        Ok(Link {
            conn: Conn::connect(addr, generation)?,
            pending: VecDeque::new(),
            heard: false,
            renames: Vec::new(),
        })
    }

    /// Sends one command (arguments encoded as a RESP multibulk).
    pub fn command(&mut self, args: &[&[u8]], expect: Expect) -> io::Result<()> {
        let mut out = Vec::with_capacity(64);
        let renamed = self
            .renames
            .iter()
            .find(|(from, _)| from.as_bytes().eq_ignore_ascii_case(args[0]));
        match renamed {
            Some((_, to)) => {
                let mut mapped = args.to_vec();
                mapped[0] = to.as_bytes();
                encode_command(&mut out, &mapped);
            }
            None => encode_command(&mut out, args),
        }
        self.pending.push_back(expect);
        self.conn.send(&out)
    }

    /// The next complete reply, with what it answers (None for a pub/sub link's messages).
    pub fn next_reply(&mut self) -> Result<Option<(Option<Expect>, Value)>, &'static str> {
        match parse_value(&self.conn.input)? {
            None => Ok(None),
            Some((v, used)) => {
                self.conn.input.drain(..used);
                Ok(Some((self.pending.pop_front(), v)))
            }
        }
    }
}

pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    crate::resp::reply::push_i64(out, args.len() as i64);
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        crate::resp::reply::push_i64(out, a.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
