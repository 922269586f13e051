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
