//! Sentinel mode: `ringkv --sentinel`, a drop-in for `redis-sentinel`.
//!
//! One thread, one io_uring, no keyspace. It owns: the monitored masters with their replicas and
//! the other sentinels ([`instance`]), the links to them ([`link`]), the periodic work and the
//! reading of their replies ([`monitor`]), what INFO and hellos teach it ([`discovery`]),
//! agreement with the other sentinels ([`election`]), the failover state machine
//! ([`failover`]), the state kept in sentinel.conf ([`conf`]), the events it logs and publishes
//! ([`events`]), and the clients that talk to it ([`clients`], [`commands`], and
//! [`subcommands`] for SENTINEL ...). It never touches the data server's store, commands or
//! workers.
//!
//! The algorithm and every name on the wire follow Redis's sentinel.c so that ringkv sentinels
//! and redis-sentinel processes share one quorum: hello messages, IS-MASTER-DOWN-BY-ADDR votes,
//! epochs, event names, the SLAVEOF transaction sent to instances, and the config lines.
//!
//! The loop: wait for socket readiness or the next timer tick (every 50–100 ms, randomised as
//! Redis does so that sentinels do not act in lockstep), read and handle what arrived, run the
//! timer (reconnect, periodic commands, down checks, failover steps), publish the events, write
//! the config file if the state changed, re-arm the polls.

pub mod clients;
pub mod commands;
pub mod conf;
pub mod discovery;
pub mod election;
pub mod events;
pub mod failover;
pub mod instance;
pub mod link;
pub mod monitor;
pub mod scripts;
pub mod subcommands;
#[cfg(test)]
mod tests;

use std::os::fd::{FromRawFd, RawFd};
use std::time::Duration;

use crate::config::Config;
use crate::runtime::clock::unix_ms;
use crate::runtime::{Completion, Ring};
use crate::server::log;
use instance::Instance;

pub const DEFAULT_DOWN_AFTER_MS: u64 = 30_000;
pub const DEFAULT_FAILOVER_TIMEOUT_MS: u64 = 180_000;
/// Largest random delay added to a failover start, so sentinels do not all try at once.
pub const MAX_DESYNC_MS: u64 = 1000;
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";
/// Masters one sentinel monitors at most.
pub const MASTERS_MAX: usize = 4096;
/// Replicas or sentinels one master has at most (more are ignored with a log line).
pub const PEERS_MAX: usize = 1024;
/// Clients connected to the sentinel at most (beyond `maxclients`).
const RING_ENTRIES: u32 = 1024;

/// The timing constants of the algorithm; SENTINEL DEBUG shows and changes them.
#[derive(Clone, Debug)]
pub struct Timing {
    pub info_period_ms: u64,
    pub ping_period_ms: u64,
    pub ask_period_ms: u64,
    pub publish_period_ms: u64,
    pub default_down_after_ms: u64,
    pub default_failover_timeout_ms: u64,
    pub tilt_trigger_ms: u64,
    pub tilt_period_ms: u64,
    pub slave_reconf_timeout_ms: u64,
    pub min_link_reconnect_period_ms: u64,
    pub election_timeout_ms: u64,
    /// Shown for compatibility; ringkv runs no scripts.
    pub script_max_runtime_ms: u64,
    pub script_retry_delay_ms: u64,
}

impl Timing {
    /// Every constant under its SENTINEL DEBUG name.
    pub fn fields(&self) -> [(&'static str, u64); 13] {
        [
            ("INFO-PERIOD", self.info_period_ms),
            ("PING-PERIOD", self.ping_period_ms),
            ("ASK-PERIOD", self.ask_period_ms),
            ("PUBLISH-PERIOD", self.publish_period_ms),
            ("DEFAULT-DOWN-AFTER", self.default_down_after_ms),
            ("DEFAULT-FAILOVER-TIMEOUT", self.default_failover_timeout_ms),
            ("TILT-TRIGGER", self.tilt_trigger_ms),
            ("TILT-PERIOD", self.tilt_period_ms),
            ("SLAVE-RECONF-TIMEOUT", self.slave_reconf_timeout_ms),
            (
                "MIN-LINK-RECONNECT-PERIOD",
                self.min_link_reconnect_period_ms,
            ),
            ("ELECTION-TIMEOUT", self.election_timeout_ms),
            ("SCRIPT-MAX-RUNTIME", self.script_max_runtime_ms),
            ("SCRIPT-RETRY-DELAY", self.script_retry_delay_ms),
        ]
    }

    /// Sets the constant named `name` (upper case); false for an unknown name.
    pub fn set(&mut self, name: &str, v: u64) -> bool {
        let slot = match name {
            "INFO-PERIOD" => &mut self.info_period_ms,
            "PING-PERIOD" => &mut self.ping_period_ms,
            "ASK-PERIOD" => &mut self.ask_period_ms,
            "PUBLISH-PERIOD" => &mut self.publish_period_ms,
            "DEFAULT-DOWN-AFTER" => &mut self.default_down_after_ms,
            "DEFAULT-FAILOVER-TIMEOUT" => &mut self.default_failover_timeout_ms,
            "TILT-TRIGGER" => &mut self.tilt_trigger_ms,
            "TILT-PERIOD" => &mut self.tilt_period_ms,
            "SLAVE-RECONF-TIMEOUT" => &mut self.slave_reconf_timeout_ms,
            "MIN-LINK-RECONNECT-PERIOD" => &mut self.min_link_reconnect_period_ms,
            "ELECTION-TIMEOUT" => &mut self.election_timeout_ms,
            "SCRIPT-MAX-RUNTIME" => &mut self.script_max_runtime_ms,
            "SCRIPT-RETRY-DELAY" => &mut self.script_retry_delay_ms,
            _ => return false,
        };
        *slot = v;
        true
    }
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            info_period_ms: 10_000,
            ping_period_ms: 1000,
            ask_period_ms: 1000,
            publish_period_ms: 2000,
            default_down_after_ms: DEFAULT_DOWN_AFTER_MS,
            default_failover_timeout_ms: DEFAULT_FAILOVER_TIMEOUT_MS,
            tilt_trigger_ms: 2000,
            tilt_period_ms: 30_000,
            slave_reconf_timeout_ms: 10_000,
            min_link_reconnect_period_ms: 15_000,
            election_timeout_ms: 10_000,
            script_max_runtime_ms: 60_000,
            script_retry_delay_ms: 30_000,
        }
    }
}

/// The sentinel's own state (everything but the masters, which live beside it in [`State`] so
/// that a handler can hold a master and this at once).
pub struct Sentinel {
    pub myid: String,
    pub current_epoch: u64,
    pub port: u16,
    pub announce_ip: Option<String>,
    pub announce_port: u16,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    pub deny_scripts_reconfig: bool,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    pub tilt: bool,
    pub tilt_start_ms: u64,
    pub previous_tick_ms: u64,
    pub simfailure_flags: u32,
    pub timing: Timing,
    /// Events not yet published to subscribed clients: (channel, message).
    pub events: Vec<(String, String)>,
    /// Notification and client-reconfig scripts queued or running.
    pub scripts: scripts::Scripts,
    /// The state changed: sentinel.conf must be rewritten.
    pub dirty: bool,
    next_id: u64,
    rng: u64,
    pub config: Config,
    pub started_ms: u64,
    pub run_id: String,
}

impl Sentinel {
    pub fn new(config: Config) -> Sentinel {
        let seed = u64::from_str_radix(&crate::server::start::random_hex(16), 16).unwrap_or(1);
        Sentinel {
            myid: String::new(),
            current_epoch: 0,
            port: config.port,
            announce_ip: None,
            announce_port: 0,
            resolve_hostnames: false,
            announce_hostnames: false,
            deny_scripts_reconfig: true,
            sentinel_user: None,
            sentinel_pass: None,
            tilt: false,
            tilt_start_ms: 0,
            previous_tick_ms: unix_ms(),
            simfailure_flags: 0,
            timing: Timing::default(),
            events: Vec::new(),
            scripts: scripts::Scripts::default(),
            dirty: false,
            next_id: 1,
            rng: seed | 1,
            config,
            started_ms: unix_ms(),
            run_id: crate::server::start::random_hex(40),
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A pseudo-random number (xorshift64*): timer jitter and failover desync only.
    pub fn rand(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Everything the sentinel thread owns.
pub struct State {
    pub s: Sentinel,
    pub masters: Vec<Instance>,
    pub clients: clients::Clients,
    pub shutdown: bool,
}

impl State {
    pub fn new(config: Config) -> State {
        State {
            s: Sentinel::new(config),
            masters: Vec::new(),
            clients: clients::Clients::new(),
            shutdown: false,
        }
    }

    pub fn master_index(&self, name: &str) -> Option<usize> {
        self.masters.iter().position(|m| m.name == name)
    }
}

/// Token layout: bit 0 = write poll, bits 1..8 = what, bits 8..24 = generation, 24.. = id.
pub const T_LISTENER: u64 = 1 << 1;
pub const T_CLIENT: u64 = 2 << 1;
pub const T_CMD_LINK: u64 = 3 << 1;
pub const T_PUBSUB_LINK: u64 = 4 << 1;

pub fn token(what: u64, generation: u16, id: u64) -> u64 {
    what | ((generation as u64) << 8) | (id << 24)
}

/// Runs sentinel mode until SHUTDOWN or a signal; returns the process exit code.
pub fn run(config: Config) -> i32 {
    log::set_level(config.loglevel);
    if config.daemonize {
        crate::server::start::daemonize();
    }
    if let Err(e) = log::set_file(&config.logfile) {
        eprintln!("Can't open the log file: {e}");
        return 1;
    }
    log::set_role(b'X');
    let pid = std::process::id();
    log::warning("oO0OoO0OoO0Oo ringkv is starting oO0OoO0OoO0Oo");
    log::warning(&format!(
        "ringkv version={} (redis {} compatible), bits=64, pid={pid}, just started",
        crate::server::start::VERSION,
        crate::server::start::REDIS_VERSION
    ));
    let Some(path) = config.config_file.clone() else {
        log::warning("Sentinel needs config file on disk to save state. Exiting...");
        return 1;
    };
    if let Err(e) = std::fs::OpenOptions::new().append(true).open(&path) {
        log::warning(&format!(
            "Sentinel config file {} is not writable: {}. Exiting...",
            path.display(),
            e
        ));
        return 1;
    }
    log::warning("Configuration loaded");
    let mut st = State::new(config.clone());
    if let Err(e) = conf::load(&mut st, &config) {
        eprint!("{e}");
        return 1;
    }
    let pidfile = config.pidfile_path();
    if let Some(p) = &pidfile {
        if let Err(e) = std::fs::write(p, format!("{pid}\n")) {
            log::warning(&format!("Failed to write PID file: {e}"));
        }
    }
    let Ok(listeners) = crate::server::start::listen_all(&config) else {
        log::warning(&format!(
            "Failed listening on port {} (tcp), aborting.",
            config.port
        ));
        return 1;
    };
    crate::server::start::block_signals();
    let mut ring = match Ring::new(RING_ENTRIES) {
        Ok(r) => r,
        Err(e) => {
            log::warning(&e);
            return 1;
        }
    };
    log::notice(&format!("Running mode=sentinel, port={}.", config.port));
    log::warning("Sentinel started");
    if st.s.myid.is_empty() {
        st.s.myid = crate::server::start::random_hex(40);
        st.s.dirty = true;
    }
    log::warning(&format!("Sentinel ID is {}", st.s.myid));
    for m in &st.masters {
        let text = format!("{} quorum {}", events::describe(m, None), m.quorum);
        st.s.warn(m, "+monitor", &text);
    }
    conf::flush(&mut st);
    for (i, &fd) in listeners.iter().enumerate() {
        ring.accept_multi(fd, token(T_LISTENER, 0, i as u64));
    }
    event_loop(&mut st, &mut ring, &listeners);
    log::warning("ringkv sentinel is now ready to exit, bye bye...");
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    0
}

fn event_loop(st: &mut State, ring: &mut Ring, listeners: &[RawFd]) {
    let mut completions: Vec<Completion> = Vec::with_capacity(256);
    let mut next_tick_ms = unix_ms();
    loop {
        let now = unix_ms();
        let wait_ms = next_tick_ms.saturating_sub(now).clamp(1, 100);
        if let Err(e) = ring.submit_and_wait(1, Some(Duration::from_millis(wait_ms))) {
            log::warning(&format!("io_uring wait failed: {e}"));
            return;
        }
        completions.clear();
        ring.drain(&mut completions);
        for c in &completions {
            dispatch(st, ring, listeners, c);
        }
        let now = unix_ms();
        if now >= next_tick_ms {
            monitor::timer(st);
            // Redis runs the sentinel timer at a random hz between 10 and 20.
            next_tick_ms = now + 50 + st.s.rand() % 50;
        }
        events::publish(st);
        if st.s.dirty {
            conf::flush(st);
        }
        arm_all(st, ring);
        if st.shutdown || crate::server::start::take_shutdown_signal(0) {
            return;
        }
    }
}

fn dispatch(st: &mut State, ring: &mut Ring, listeners: &[RawFd], c: &Completion) {
    let what = c.token & 0xfe;
    let write = c.token & 1 != 0;
    let generation = ((c.token >> 8) & 0xffff) as u16;
    let id = c.token >> 24;
    match what {
        T_LISTENER => {
            if c.result >= 0 {
                // SAFETY: a successful accept completion carries a new descriptor we now own.
                let stream = unsafe { std::net::TcpStream::from_raw_fd(c.result) };
                clients::accepted(st, stream);
            }
            if !c.more {
                if let Some(&fd) = listeners.get(id as usize) {
                    ring.accept_multi(fd, c.token);
                }
            }
        }
        T_CLIENT => clients::ready(st, id, generation, write),
        T_CMD_LINK | T_PUBSUB_LINK => {
            monitor::link_ready(st, id, generation, what == T_PUBSUB_LINK, write)
        }
        _ => {}
    }
}

/// Re-arms the polls of every socket that needs one.
fn arm_all(st: &mut State, ring: &mut Ring) {
    for m in st.masters.iter_mut() {
        arm_instance(m, ring);
        for r in m.replicas.iter_mut().chain(m.sentinels.iter_mut()) {
            arm_instance(r, ring);
        }
    }
    st.clients.arm(ring);
}

fn arm_instance(i: &mut Instance, ring: &mut Ring) {
    if let Some(l) = i.cmd.as_mut() {
        let t = token(T_CMD_LINK, l.conn.generation, i.id);
        l.conn.arm(ring, t);
    }
    if let Some(l) = i.pubsub.as_mut() {
        let t = token(T_PUBSUB_LINK, l.conn.generation, i.id);
        l.conn.arm(ring, t);
    }
}
