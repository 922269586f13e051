//! SLOWLOG and LATENCY records. Written only when a command is slow (the rare path), so a mutex
//! is fine here.

use std::collections::{HashMap, VecDeque};

pub struct SlowEntry {
    pub id: u64,
    pub time_s: u64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: Vec<u8>,
}

/// Most arguments kept per entry, and most bytes per argument, like Redis.
pub const SLOWLOG_ARGS_MAX: usize = 32;
pub const SLOWLOG_ARG_BYTES_MAX: usize = 128;

#[derive(Default)]
pub struct SlowLog {
    pub next_id: u64,
    pub entries: VecDeque<SlowEntry>,
}

impl SlowLog {
    pub fn push(&mut self, mut e: SlowEntry, len_max: usize) {
        e.id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(e);
        while self.entries.len() > len_max {
            self.entries.pop_back();
        }
    }
}

/// One latency event series: the latest sample and the worst.
#[derive(Clone, Copy, Default)]
pub struct LatencyEvent {
    pub latest_time_s: u64,
    pub latest_ms: u64,
    pub max_ms: u64,
}

#[derive(Default)]
pub struct Latency {
    pub events: HashMap<String, LatencyEvent>,
}

impl Latency {
    pub fn record(&mut self, event: &str, time_s: u64, ms: u64) {
        let e = self.events.entry(event.to_string()).or_default();
        e.latest_time_s = time_s;
        e.latest_ms = ms;
        e.max_ms = e.max_ms.max(ms);
    }
}
