//! Agreement with the other sentinels: asking whether they see a master down, voting for a
//! failover leader, and counting the votes.
//!
//! The wire form is Redis's: `SENTINEL IS-MASTER-DOWN-BY-ADDR <ip> <port> <epoch> <runid|*>`
//! answered by `[down 0/1, leader runid or "*", leader epoch]`. A sentinel votes at most once
//! per epoch (the first candidate to ask wins its vote), so at most one leader is elected per
//! epoch; a candidate that is not elected in time retries later in a higher epoch.

use std::collections::HashMap;

use super::events::describe;
use super::instance::*;
use super::link::Expect;
use super::monitor::send;
use super::{Sentinel, MAX_DESYNC_MS};
use crate::resp::value::Value;
use crate::server::log;

/// Asks every other sentinel whether it sees `master` down (and, once we are failing over,
/// for its vote) at most once per ask period, or now when `forced`.
pub fn ask_master_state(s: &mut Sentinel, master: &mut Instance, now: u64, forced: bool) {
    let ask_ms = s.timing.ask_period_ms;
    let candidate = if master.failover_state > FailoverState::None {
        s.myid.clone()
    } else {
        "*".to_string()
    };
    let sdown = master.flags & F_S_DOWN != 0;
    let (host, port) = (
        master.addr.shown().to_string(),
        master.addr.port.to_string(),
    );
    let epoch = s.current_epoch.to_string();
    for k in master.sentinels.iter_mut() {
        // Answers go stale: forget what an unresponsive sentinel said.
        if now.saturating_sub(k.last_master_down_reply_ms) > ask_ms.saturating_mul(5) {
            k.flags &= !F_MASTER_DOWN;
            k.leader = None;
        }
        if !sdown || k.disconnected() {
            continue;
        }
        if !forced && now.saturating_sub(k.last_master_down_reply_ms) < ask_ms {
            continue;
        }
        // A forced ask (we just became a candidate) goes out even while a "*" ask is pending.
        let asking = k
            .cmd
            .as_ref()
            .is_some_and(|l| l.pending.contains(&Expect::MasterDown));
        if asking && !forced {
            continue;
        }
        send(
            k,
            &[
                b"SENTINEL",
                b"is-master-down-by-addr",
                host.as_bytes(),
                port.as_bytes(),
                epoch.as_bytes(),
                candidate.as_bytes(),
            ],
            Expect::MasterDown,
        );
    }
}

/// A peer's answer to IS-MASTER-DOWN-BY-ADDR. Anything but `[int, string, int]` is ignored.
pub fn on_master_down_reply(k: &mut Instance, v: &Value, now: u64) {
    let Value::Array(items) = v else {
        return;
    };
    let [Value::Int(down), leader, Value::Int(leader_epoch)] = items.as_slice() else {
        return;
    };
    let Some(leader) = leader.bytes() else {
        return;
    };
    // A run ID is 40 characters: anything much longer is a lying peer, not a vote to keep.
    if *leader_epoch < 0 || leader.len() > 64 {
        return;
    }
    k.last_master_down_reply_ms = now;
    if *down == 1 {
        k.flags |= F_MASTER_DOWN;
    } else {
        k.flags &= !F_MASTER_DOWN;
    }
    if leader != b"*" {
        let leader = String::from_utf8_lossy(leader).into_owned();
        if k.leader_epoch != *leader_epoch as u64 {
            log::notice(&format!("{} voted for {} {}", k.name, leader, leader_epoch));
        }
        k.leader = Some(leader);
        k.leader_epoch = *leader_epoch as u64;
    }
}

/// Our vote for `candidate` in `req_epoch`: granted when we have not voted in that epoch yet.
/// Returns the leader we voted for in the master's leader epoch (maybe an earlier choice).
pub fn vote(
    s: &mut Sentinel,
    master: &mut Instance,
    req_epoch: u64,
    candidate: &str,
    now: u64,
) -> (Option<String>, u64) {
    if req_epoch > s.current_epoch {
        s.current_epoch = req_epoch;
        s.dirty = true;
        s.warn(master, "+new-epoch", &req_epoch.to_string());
    }
    if master.leader_epoch < req_epoch && s.current_epoch <= req_epoch {
        master.leader = Some(candidate.to_string());
        master.leader_epoch = s.current_epoch;
        s.dirty = true;
        let text = format!("{candidate} {}", master.leader_epoch);
        s.warn(master, "+vote-for-leader", &text);
        // Voted for someone else: do not start our own failover for a while.
        if candidate != s.myid {
            master.failover_start_ms = now + s.rand() % MAX_DESYNC_MS;
        }
    }
    (master.leader.clone(), master.leader_epoch)
}

/// The leader of `epoch` if one has a majority of all known sentinels and at least the quorum,
/// counting our own vote (given to the most voted candidate, or to ourselves).
pub fn leader(s: &mut Sentinel, master: &mut Instance, epoch: u64, now: u64) -> Option<String> {
    let mut votes: HashMap<String, u32> = HashMap::new();
    let voters = master.sentinels.len() as u32 + 1;
    for k in &master.sentinels {
        if let Some(l) = &k.leader {
            if k.leader_epoch == s.current_epoch {
                *votes.entry(l.clone()).or_default() += 1;
            }
        }
    }
    let best = |votes: &HashMap<String, u32>| {
        let mut best: Option<(String, u32)> = None;
        for (who, n) in votes {
            if best.as_ref().is_none_or(|(_, b)| *n > *b) {
                best = Some((who.clone(), *n));
            }
        }
        best
    };
    let candidate = best(&votes)
        .map(|(w, _)| w)
        .unwrap_or_else(|| s.myid.clone());
    let (my_vote, my_epoch) = vote(s, master, epoch, &candidate, now);
    if let Some(v) = my_vote {
        if my_epoch == epoch {
            *votes.entry(v).or_default() += 1;
        }
    }
    let (winner, n) = best(&votes)?;
    if n < voters / 2 + 1 || n < master.quorum {
        return None;
    }
    Some(winner)
}

/// IS-MASTER-DOWN-BY-ADDR on our side: whether we see that master down, and our vote when
/// the asker is a candidate (`runid` not "*").
pub fn answer_master_down(
    s: &mut Sentinel,
    masters: &mut [Instance],
    host: &str,
    port: u16,
    req_epoch: u64,
    runid: &str,
    now: u64,
) -> (bool, Option<String>, u64) {
    let Some(m) = masters.iter_mut().find(|m| m.addr.same(host, port)) else {
        return (false, None, 0);
    };
    let down = !s.tilt && m.flags & F_S_DOWN != 0;
    if runid == "*" {
        return (down, None, 0);
    }
    let (leader, epoch) = vote(s, m, req_epoch, runid, now);
    log::debug(&format!(
        "vote asked by {runid} for {} in epoch {req_epoch}",
        describe(m, None)
    ));
    (down, leader, epoch)
}
