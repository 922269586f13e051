//! Sentinel events: one log line and one pub/sub message each, as Redis's sentinelEvent.
//!
//! An event about an instance reads `<type> <kind> <name> <ip> <port>` and, for a replica or a
//! sentinel, ` @ <master> <ip> <port>`: `+sdown master mymaster 127.0.0.1 6379`. It is logged
//! (warning or notice) and published on the channel named by the event type, so a client
//! subscribed to `+switch-master` learns of a failover.

use super::instance::Instance;
use super::{Sentinel, State};
use crate::server::log;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// Events kept for publishing between two loop turns at most (the oldest are dropped).
const QUEUED_EVENTS_MAX: usize = 10_000;

/// `<kind> <name> <ip> <port>[ @ <master> <ip> <port>]`.
pub fn describe(i: &Instance, master: Option<&Instance>) -> String {
    let mut s = format!(
        "{} {} {} {}",
        i.kind_name(),
        i.name,
        i.addr.shown(),
        i.addr.port
    );
    if let Some(m) = master {
        s.push_str(&format!(" @ {} {} {}", m.name, m.addr.shown(), m.addr.port));
    }
    s
}

impl Sentinel {
    /// Logs `kind text` and queues it for the subscribers of channel `kind`.
    pub fn event(&mut self, level: Level, kind: &str, text: &str) {
        let line = format!("{kind} {text}");
        match level {
            Level::Debug => log::debug(&line),
            Level::Verbose => log::verbose(&line),
            Level::Notice => log::notice(&line),
            Level::Warning => log::warning(&line),
        }
        if level != Level::Debug {
            if self.events.len() >= QUEUED_EVENTS_MAX {
                self.events.remove(0);
            }
            self.events.push((kind.to_string(), text.to_string()));
        }
    }
}

impl Sentinel {
    /// A warning-level event about `master` or one of its instances: `event`, and the
    /// master's `notification-script` (if any) queued with the type and the description.
    pub fn warn(&mut self, master: &Instance, kind: &str, text: &str) {
        let script = master.notification_script.clone();
        self.warn_with(script.as_deref(), kind, text);
    }

    /// `warn` with the script path already taken from the master.
    pub fn warn_with(&mut self, script: Option<&str>, kind: &str, text: &str) {
        self.event(Level::Warning, kind, text);
        if let Some(path) = script {
            let argv = vec![path.to_string(), kind.to_string(), text.to_string()];
            if !self
                .scripts
                .schedule(argv, crate::runtime::clock::unix_ms())
            {
                log::warning("Sentinel script queue full: the oldest waiting script was dropped");
            }
        }
    }

    /// A master moved from `from` to `to` (ip, port): its `client-reconfig-script` (if any)
    /// is queued with `<master> <role> start <from-ip> <from-port> <to-ip> <to-port>`, role
    /// `leader` when this sentinel did the failover, else `observer`.
    pub fn client_reconfig(
        &mut self,
        master: &Instance,
        leader: bool,
        from: (&str, u16),
        to: (&str, u16),
    ) {
        let Some(path) = master.client_reconfig_script.clone() else {
            return;
        };
        let role = if leader { "leader" } else { "observer" };
        let argv = vec![
            path,
            master.name.clone(),
            role.to_string(),
            "start".to_string(),
            from.0.to_string(),
            from.1.to_string(),
            to.0.to_string(),
            to.1.to_string(),
        ];
        if !self
            .scripts
            .schedule(argv, crate::runtime::clock::unix_ms())
        {
            log::warning("Sentinel script queue full: the oldest waiting script was dropped");
        }
    }
}

/// Hands queued events to the clients subscribed to their channels.
pub fn publish(st: &mut State) {
    if st.s.events.is_empty() {
        return;
    }
    let events = std::mem::take(&mut st.s.events);
    for (channel, message) in &events {
        st.clients.publish(channel.as_bytes(), message.as_bytes());
    }
}
