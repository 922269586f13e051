//! What a sentinel knows about one monitored master, its replicas and the other sentinels.
//!
//! One struct for all three kinds, as in Redis's `sentinelRedisInstance`, because most of the
//! state (address, links, ping times, down flags) is shared; the master-only and replica-only
//! fields are simply unused on the other kinds. Times are Unix milliseconds (`*_ms`), 0 = never.

use std::sync::atomic::{AtomicBool, Ordering};

use super::link::Link;

pub const F_MASTER: u32 = 1 << 0;
pub const F_SLAVE: u32 = 1 << 1;
pub const F_SENTINEL: u32 = 1 << 2;
/// Subjectively down: no valid reply for down-after-milliseconds.
pub const F_S_DOWN: u32 = 1 << 3;
/// Objectively down: a quorum of sentinels agrees (masters only).
pub const F_O_DOWN: u32 = 1 << 4;
/// On a sentinel: it told us that it sees the master down.
pub const F_MASTER_DOWN: u32 = 1 << 5;
pub const F_FAILOVER_IN_PROGRESS: u32 = 1 << 6;
/// The replica chosen for promotion.
pub const F_PROMOTED: u32 = 1 << 7;
pub const F_RECONF_SENT: u32 = 1 << 8;
pub const F_RECONF_INPROG: u32 = 1 << 9;
pub const F_RECONF_DONE: u32 = 1 << 10;
/// A failover asked for with SENTINEL FAILOVER (no election needed).
pub const F_FORCE_FAILOVER: u32 = 1 << 11;
/// SCRIPT KILL was sent to this busy, subjectively down instance.
pub const F_SCRIPT_KILL_SENT: u32 = 1 << 12;

/// The failover state machine's states, in order (a later state compares greater).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailoverState {
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoone,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// `resolve-hostnames` and `announce-hostnames`, process-wide like the log level: addresses
/// are made and shown far from the sentinel's state (events, replies, config lines).
pub static RESOLVE_HOSTNAMES: AtomicBool = AtomicBool::new(false);
pub static ANNOUNCE_HOSTNAMES: AtomicBool = AtomicBool::new(false);

/// An instance's address as configured (`host`, maybe a name) and as resolved (`ip`), like
/// Redis's sentinelAddr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    pub host: String,
    pub port: u16,
    /// The resolved address; `host` itself when it is an IP or could not be resolved.
    pub ip: String,
}

impl Addr {
    pub fn new(host: &str, port: u16) -> Addr {
        Addr {
            host: host.to_string(),
            port,
            ip: resolve_ip(host).unwrap_or_else(|| host.to_string()),
        }
    }

    /// Whether `host:port` names this address: same name, or the same address once resolved
    /// (Redis's sentinelAddrEqualsHostname).
    pub fn same(&self, host: &str, port: u16) -> bool {
        self.port == port
            && (self.host.eq_ignore_ascii_case(host)
                || self.ip == host
                || resolve_ip(host).is_some_and(|ip| ip == self.ip))
    }

    /// What others are told: the name with `announce-hostnames yes`, else the IP.
    pub fn shown(&self) -> &str {
        if ANNOUNCE_HOSTNAMES.load(Ordering::Relaxed) {
            &self.host
        } else {
            &self.ip
        }
    }
}

/// `host` as an IP: itself when it is one, else looked up with `resolve-hostnames yes`.
fn resolve_ip(host: &str) -> Option<String> {
    let resolve = RESOLVE_HOSTNAMES.load(Ordering::Relaxed);
    super::link::resolve(host, 1, resolve).map(|a| a.ip().to_string())
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

pub struct Instance {
    /// Unique for the life of the process (links' completions are routed by it).
    pub id: u64,
    pub flags: u32,
    /// The master's name; "ip:port" for a replica; the run ID for a sentinel.
    pub name: String,
    pub runid: Option<String>,
    pub addr: Addr,
    pub config_epoch: u64,

    /// The command link (every kind) and the pub/sub link (masters and replicas).
    pub cmd: Option<Link>,
    pub pubsub: Option<Link>,
    /// Link timing, as in Redis's instanceLink.
    pub cc_conn_ms: u64,
    pub pc_conn_ms: u64,
    pub pc_last_activity_ms: u64,
    /// Last time a PING got an acceptable reply.
    pub last_avail_ms: u64,
    /// When the oldest unanswered PING was sent (0 = none outstanding).
    pub act_ping_ms: u64,
    pub last_ping_ms: u64,
    /// Last time any reply to a PING arrived.
    pub last_pong_ms: u64,
    pub last_reconn_ms: u64,
    /// Generation of the newest link socket.
    pub link_generation: u16,

    pub last_pub_ms: u64,
    pub last_hello_ms: u64,
    pub last_master_down_reply_ms: u64,
    pub s_down_since_ms: u64,
    pub o_down_since_ms: u64,
    pub down_after_ms: u64,
    pub info_refresh_ms: u64,
    /// The last INFO text, for SENTINEL INFO-CACHE.
    pub info: String,
    /// Role from INFO: true = master.
    pub role_reported_master: bool,
    pub role_reported_ms: u64,
    pub slave_conf_change_ms: u64,

    // Masters.
    pub quorum: u32,
    pub parallel_syncs: u32,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub failover_timeout_ms: u64,
    /// `notification-script` and `client-reconfig-script` paths (`scripts.rs`).
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    /// `sentinel rename-command`: commands sent to this master and its replicas under another
    /// name, as (command, new name).
    pub renames: Vec<(String, String)>,
    /// `master-reboot-down-after-period` (0 = off).
    pub reboot_down_after_ms: u64,
    /// When the master was seen rebooting (new run ID) while the period is set; 0 = not.
    pub reboot_since_ms: u64,
    pub replicas: Vec<Instance>,
    pub sentinels: Vec<Instance>,
    /// On a master: whom this sentinel voted for, in `leader_epoch`. On a sentinel: whom that
    /// sentinel told us it voted for.
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub failover_epoch: u64,
    pub failover_state: FailoverState,
    pub failover_state_change_ms: u64,
    pub failover_start_ms: u64,
    pub failover_delay_logged: u64,
    /// Id of the replica being promoted.
    pub promoted: Option<u64>,

    // Replicas.
    pub master_link_down_ms: u64,
    pub slave_priority: i64,
    pub replica_announced: bool,
    pub slave_master_host: Option<String>,
    pub slave_master_port: u16,
    pub slave_master_link_up: bool,
    pub slave_repl_offset: u64,
    pub slave_reconf_sent_ms: u64,
}

impl Instance {
    pub fn new(id: u64, flags: u32, name: String, addr: Addr, now_ms: u64) -> Instance {
        Instance {
            id,
            flags,
            name,
            runid: None,
            addr,
            config_epoch: 0,
            cmd: None,
            pubsub: None,
            cc_conn_ms: 0,
            pc_conn_ms: 0,
            pc_last_activity_ms: 0,
            last_avail_ms: now_ms,
            act_ping_ms: now_ms,
            last_ping_ms: 0,
            last_pong_ms: now_ms,
            last_reconn_ms: 0,
            link_generation: 0,
            last_pub_ms: 0,
            last_hello_ms: 0,
            last_master_down_reply_ms: 0,
            s_down_since_ms: 0,
            o_down_since_ms: 0,
            down_after_ms: super::DEFAULT_DOWN_AFTER_MS,
            info_refresh_ms: 0,
            info: String::new(),
            role_reported_master: flags & F_SLAVE == 0,
            role_reported_ms: now_ms,
            slave_conf_change_ms: now_ms,
            quorum: 1,
            parallel_syncs: 1,
            auth_pass: None,
            auth_user: None,
            failover_timeout_ms: super::DEFAULT_FAILOVER_TIMEOUT_MS,
            notification_script: None,
            client_reconfig_script: None,
            renames: Vec::new(),
            reboot_down_after_ms: 0,
            reboot_since_ms: 0,
            replicas: Vec::new(),
            sentinels: Vec::new(),
            leader: None,
            leader_epoch: 0,
            failover_epoch: 0,
            failover_state: FailoverState::None,
            failover_state_change_ms: 0,
            failover_start_ms: 0,
            failover_delay_logged: 0,
            promoted: None,
            master_link_down_ms: 0,
            slave_priority: 100,
            replica_announced: true,
            slave_master_host: None,
            slave_master_port: 0,
            slave_master_link_up: false,
            slave_repl_offset: 0,
            slave_reconf_sent_ms: 0,
        }
    }

    pub fn is_master(&self) -> bool {
        self.flags & F_MASTER != 0
    }
    pub fn is_sentinel(&self) -> bool {
        self.flags & F_SENTINEL != 0
    }

    /// Redis's "link->disconnected": a sentinel needs its command link, the others both links.
    pub fn disconnected(&self) -> bool {
        self.cmd.is_none() || (!self.is_sentinel() && self.pubsub.is_none())
    }

    /// "master", "slave" or "sentinel", as events and replies name the kind.
    pub fn kind_name(&self) -> &'static str {
        if self.is_master() {
            "master"
        } else if self.flags & F_SLAVE != 0 {
            "slave"
        } else {
            "sentinel"
        }
    }

    /// The flags as SENTINEL MASTERS shows them ("master,s_down,...").
    /// In Redis's order: down states, kind, link, then the failover marks.
    pub fn flags_text(&self) -> String {
        let mut out = Vec::new();
        for (bit, name) in [(F_S_DOWN, "s_down"), (F_O_DOWN, "o_down")] {
            if self.flags & bit != 0 {
                out.push(name);
            }
        }
        out.push(self.kind_name());
        if self.disconnected() {
            out.push("disconnected");
        }
        let marks = [
            (F_MASTER_DOWN, "master_down"),
            (F_FAILOVER_IN_PROGRESS, "failover_in_progress"),
            (F_PROMOTED, "promoted"),
            (F_RECONF_SENT, "reconf_sent"),
            (F_RECONF_INPROG, "reconf_inprog"),
            (F_RECONF_DONE, "reconf_done"),
            (F_FORCE_FAILOVER, "force_failover"),
            (F_SCRIPT_KILL_SENT, "script_kill_sent"),
        ];
        for (bit, name) in marks {
            if self.flags & bit != 0 {
                out.push(name);
            }
        }
        out.join(",")
    }

    /// The replica with id `id`.
    pub fn replica(&self, id: u64) -> Option<&Instance> {
        self.replicas.iter().find(|r| r.id == id)
    }

    /// The promoted replica's address while a failover is past the promotion, else our own:
    /// what GET-MASTER-ADDR-BY-NAME and hello messages report (Redis's
    /// sentinelGetCurrentMasterAddress).
    pub fn current_addr(&self) -> &Addr {
        if self.flags & F_FAILOVER_IN_PROGRESS != 0
            && self.failover_state >= FailoverState::ReconfSlaves
        {
            if let Some(p) = self.promoted.and_then(|id| self.replica(id)) {
                return &p.addr;
            }
        }
        &self.addr
    }

    /// Drops both links (their sockets are shut down so pending polls complete).
    pub fn close_links(&mut self) {
        self.cmd = None;
        self.pubsub = None;
    }
}
