//! Pub/sub commands (Redis's pubsub.c, command side): SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE
//! PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH SPUBLISH PUBSUB.
//!
//! Subscriptions live in the shared registry (`server/pubsub.rs`) and on the client. PUBLISH
//! only computes its deliveries and the receiver count; the server hands the deliveries to the
//! subscribers' threads after the command (`ClientState::outbox`). The shard-channel commands
//! take channels, not keys, here: with no cluster there is one shard of channels.

use std::sync::Arc;

use super::{spec, Ctx, Spec, CLIENT_STATE, FAST, LOADING, MAY_REPLICATE, NOSCRIPT, PUBSUB, STALE};
use crate::resp::Args;
use crate::server::pubsub::{Delivery, Kind, Message, Subscriber, Subscriptions};

const SUB: u32 = PUBSUB | NOSCRIPT | LOADING | STALE | CLIENT_STATE;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("subscribe", -2, SUB, (0, 0, 0), subscribe, "pubsub", "Listen for messages published to the given channels", "2.0.0"),
    spec("unsubscribe", -1, SUB, (0, 0, 0), unsubscribe, "pubsub", "Stop listening for messages posted to the given channels", "2.0.0"),
    spec("psubscribe", -2, SUB, (0, 0, 0), psubscribe, "pubsub", "Listen for messages published to channels matching the given patterns", "2.0.0"),
    spec("punsubscribe", -1, SUB, (0, 0, 0), punsubscribe, "pubsub", "Stop listening for messages posted to channels matching the given patterns", "2.0.0"),
    spec("ssubscribe", -2, SUB, (0, 0, 0), ssubscribe, "pubsub", "Listen for messages published to the given shard channels", "7.0.0"),
    spec("sunsubscribe", -1, SUB, (0, 0, 0), sunsubscribe, "pubsub", "Stop listening for messages posted to the given shard channels", "7.0.0"),
    spec("publish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, (0, 0, 0), publish, "pubsub", "Post a message to a channel", "2.0.0"),
    spec("spublish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, (0, 0, 0), spublish, "pubsub", "Post a message to a shard channel", "7.0.0"),
    spec("pubsub", -2, PUBSUB | LOADING | STALE, (0, 0, 0), pubsub, "pubsub", "A container for Pub/Sub commands", "2.8.0"),
];

fn me(ctx: &Ctx) -> Subscriber {
    Subscriber {
        worker: ctx.worker,
        token: ctx.client.token,
    }
}

/// One confirmation frame: `[word, name, count]` (a push in RESP3).
fn confirm(ctx: &mut Ctx, word: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.out.push(3);
    ctx.out.bulk(word);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn sub(ctx: &mut Ctx, args: Args, kind: Kind) {
    let me = me(ctx);
    for name in args.iter().skip(1) {
        let subs = ctx
            .client
            .subs
            .get_or_insert_with(|| Box::new(Subscriptions::default()));
        if subs.set(kind).insert(name.to_vec()) {
            ctx.srv
                .pubsub
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .add(kind, name, me);
        }
        let count = subs.count(kind);
        confirm(ctx, kind.subscribe_word(), Some(name), count);
    }
    show_counts(ctx.client);
}

/// Publishes the client's subscription counts for CLIENT LIST and CLIENT KILL TYPE pubsub.
pub fn show_counts(client: &crate::server::client::ClientState) {
    let sizes = client.subs.as_ref().map_or([0; 3], |s| s.sizes());
    for (n, size) in client.shared.subs.iter().zip(sizes) {
        n.store(size as u32, std::sync::atomic::Ordering::Relaxed);
    }
}

fn unsub(ctx: &mut Ctx, args: Args, kind: Kind) {
    let me = me(ctx);
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        args.iter().skip(1).map(<[u8]>::to_vec).collect()
    } else {
        let mut all: Vec<Vec<u8>> = ctx
            .client
            .subs
            .as_mut()
            .map(|s| s.set(kind).iter().cloned().collect())
            .unwrap_or_default();
        all.sort();
        all
    };
    if names.is_empty() {
        let count = ctx.client.subs.as_ref().map_or(0, |s| s.count(kind));
        return confirm(ctx, kind.unsubscribe_word(), None, count);
    }
    for name in names {
        let subs = ctx
            .client
            .subs
            .get_or_insert_with(|| Box::new(Subscriptions::default()));
        if subs.set(kind).remove(&name) {
            ctx.srv
                .pubsub
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(kind, &name, me);
        }
        let count = subs.count(kind);
        confirm(ctx, kind.unsubscribe_word(), Some(&name), count);
    }
    if ctx.client.subs.as_ref().is_some_and(|s| s.total() == 0) {
        ctx.client.subs = None;
    }
    show_counts(ctx.client);
}

/// SUBSCRIBE channel [channel ...]: a `subscribe` confirmation per channel.
fn subscribe(ctx: &mut Ctx, args: Args) {
    sub(ctx, args, Kind::Channel);
}

/// UNSUBSCRIBE [channel ...]: an `unsubscribe` confirmation per channel (all when none given).
fn unsubscribe(ctx: &mut Ctx, args: Args) {
    unsub(ctx, args, Kind::Channel);
}

/// PSUBSCRIBE pattern [pattern ...]: a `psubscribe` confirmation per pattern.
fn psubscribe(ctx: &mut Ctx, args: Args) {
    sub(ctx, args, Kind::Pattern);
}

/// PUNSUBSCRIBE [pattern ...]: a `punsubscribe` confirmation per pattern.
fn punsubscribe(ctx: &mut Ctx, args: Args) {
    unsub(ctx, args, Kind::Pattern);
}

/// SSUBSCRIBE shardchannel [shardchannel ...]: an `ssubscribe` confirmation per channel.
fn ssubscribe(ctx: &mut Ctx, args: Args) {
    sub(ctx, args, Kind::Shard);
}

/// SUNSUBSCRIBE [shardchannel ...]: an `sunsubscribe` confirmation per channel.
fn sunsubscribe(ctx: &mut Ctx, args: Args) {
    unsub(ctx, args, Kind::Shard);
}

fn publish_to(ctx: &mut Ctx, args: Args, kind: Kind) {
    if !ctx.client.events.is_empty() {
        // Keyspace events of the commands before this one in the same EXEC go out first, in
        // the order the commands ran (as in Redis).
        let events = std::mem::take(&mut ctx.client.events);
        crate::server::pubsub::key_event_deliveries(
            ctx.srv,
            ctx.limits.notify,
            &events,
            &mut ctx.client.outbox,
        );
    }
    let message = Arc::new(Message {
        kind,
        channel: args.get(1).to_vec(),
        payload: args.get(2).to_vec(),
    });
    let reg = ctx.srv.pubsub.read().unwrap_or_else(|e| e.into_inner());
    let targets = reg.targets(kind, args.get(1));
    let n = targets.len();
    ctx.client
        .outbox
        .extend(targets.into_iter().map(|(to, pattern)| Delivery {
            to,
            pattern: pattern.map(<[u8]>::to_vec),
            message: message.clone(),
        }));
    drop(reg);
    ctx.out.int(n as i64);
}

/// PUBLISH channel message: the number of clients that receive it.
fn publish(ctx: &mut Ctx, args: Args) {
    publish_to(ctx, args, Kind::Channel);
}

/// SPUBLISH shardchannel message: the number of clients that receive it.
fn spublish(ctx: &mut Ctx, args: Args) {
    publish_to(ctx, args, Kind::Shard);
}

/// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | SHARDCHANNELS [pattern] |
/// SHARDNUMSUB [channel ...].
fn pubsub(ctx: &mut Ctx, args: Args) {
    let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
    let reg = ctx.srv.pubsub.read().unwrap_or_else(|e| e.into_inner());
    match (sub.as_str(), args.len()) {
        ("channels" | "shardchannels", 2 | 3) => {
            let kind = if sub == "channels" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            let pattern = (args.len() == 3).then(|| args.get(2));
            let names = reg.names(kind, pattern);
            drop(reg);
            ctx.out.array(names.len());
            for n in &names {
                ctx.out.bulk(n);
            }
        }
        ("numsub" | "shardnumsub", _) => {
            let kind = if sub == "numsub" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            let counts: Vec<(Vec<u8>, usize)> = args
                .iter()
                .skip(2)
                .map(|c| (c.to_vec(), reg.count(kind, c)))
                .collect();
            drop(reg);
            ctx.out.map(counts.len());
            for (c, n) in &counts {
                ctx.out.bulk(c);
                ctx.out.int(*n as i64);
            }
        }
        ("numpat", 2) => {
            let n = reg.len(Kind::Pattern);
            drop(reg);
            ctx.out.int(n as i64);
        }
        ("help", 2) => {
            drop(reg);
            let lines = [
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Prints this help.",
            ];
            ctx.out.array(lines.len());
            for l in lines {
                ctx.out.simple(l.as_bytes());
            }
        }
        _ => {
            drop(reg);
            ctx.out.err(&format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(args.get(1))
            ));
        }
    }
}
