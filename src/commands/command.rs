//! COMMAND: introspection of the command table (INFO, DOCS, COUNT, LIST, GETKEYS), plus the
//! subcommand metadata and helpers (arity check, unknown-subcommand error, HELP reply) that the
//! container commands (CLIENT, CONFIG, SLOWLOG, LATENCY, ...) share.
//!
//! Reads only the static table; never touches the keyspace.

use super::{
    eq_ic, printable, spec, table, Ctx, Spec, ADMIN, BLOCKING, FAST, FLAG_NAMES, LOADING,
    MAY_REPLICATE, NOSCRIPT, NO_KEYS, PUBSUB, READONLY, SKIP_MONITOR, SKIP_SLOWLOG, STALE, SYNTAX,
    WRITE,
};
use crate::config::glob_match;
use crate::resp::Args;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[Spec {
    subcommands: &["count", "docs", "getkeys", "help", "info", "list"],
    ..spec("command", -1, LOADING | STALE, NO_KEYS, command, "server", "Returns detailed information about all commands.", "2.8.13")
}];

/// A subcommand's description: full name ("client|list"), arity counted from the container
/// name (like Redis), flags, COMMAND DOCS summary and version.
pub struct SubSpec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub summary: &'static str,
    pub since: &'static str,
}

const fn sub(
    name: &'static str,
    arity: i32,
    flags: u32,
    summary: &'static str,
    since: &'static str,
) -> SubSpec {
    SubSpec {
        name,
        arity,
        flags,
        summary,
        since,
    }
}

const LS: u32 = LOADING | STALE;
const NLS: u32 = NOSCRIPT | LOADING | STALE;
const ANLS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

/// Metadata of the subcommands ringkv implements.
#[rustfmt::skip]
pub const SUBCOMMANDS: &[SubSpec] = &[
    sub("client|getname", 2, NLS, "Returns the name of the connection.", "2.6.9"),
    sub("client|help", 2, LS, "Returns helpful text about the different subcommands.", "5.0.0"),
    sub("client|id", 2, NLS, "Returns the unique client ID of the connection.", "5.0.0"),
    sub("client|info", 2, NLS, "Returns information about the connection.", "6.2.0"),
    sub("client|kill", -3, ANLS, "Terminates open connections.", "2.4.0"),
    sub("client|list", -2, ANLS, "Lists open connections.", "2.4.0"),
    sub("client|no-evict", 3, ANLS, "Sets the client eviction mode of the connection.", "7.0.0"),
    sub("client|no-touch", 3, NLS, "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "7.2.0"),
    sub("client|reply", 3, NLS, "Instructs the server whether to reply to commands.", "3.2.0"),
    sub("client|setinfo", 4, NLS, "Sets information specific to the client or connection.", "7.2.0"),
    sub("client|setname", 3, NLS, "Sets the connection name.", "2.6.9"),
    sub("command|count", 2, LS, "Returns a count of commands.", "2.8.13"),
    sub("command|docs", -2, LS, "Returns documentary information about one, multiple or all commands.", "7.0.0"),
    sub("command|getkeys", -4, LS, "Extracts the key names from an arbitrary command.", "2.8.13"),
    sub("command|help", 2, LS, "Returns helpful text about the different subcommands.", "5.0.0"),
    sub("command|info", -2, LS, "Returns information about one, multiple or all commands.", "2.8.13"),
    sub("command|list", -2, LS, "Returns a list of command names.", "7.0.0"),
    sub("config|get", -3, ANLS, "Returns the effective values of configuration parameters.", "2.0.0"),
    sub("config|help", 2, LS, "Returns helpful text about the different subcommands.", "5.0.0"),
    sub("config|resetstat", 2, ANLS, "Resets the server's statistics.", "2.0.0"),
    sub("config|rewrite", 2, ANLS, "Persists the effective configuration to file.", "2.8.0"),
    sub("config|set", -4, ANLS, "Sets configuration parameters in-flight.", "2.0.0"),
    sub("latency|help", 2, LS, "Returns helpful text about the different subcommands.", "2.8.13"),
    sub("latency|histogram", -2, ANLS, "Returns the cumulative distribution of latencies of a subset or all commands.", "7.0.0"),
    sub("latency|history", 3, ANLS, "Returns timestamp-latency samples for an event.", "2.8.13"),
    sub("latency|latest", 2, ANLS, "Returns the latest latency samples for all events.", "2.8.13"),
    sub("latency|reset", -2, ANLS, "Resets the latency data for one or more events.", "2.8.13"),
    sub("slowlog|get", -2, ANLS, "Returns the slow log's entries.", "2.2.12"),
    sub("slowlog|help", 2, LS, "Show helpful text about the different subcommands", "6.2.0"),
    sub("slowlog|len", 2, ANLS, "Returns the number of entries in the slow log.", "2.2.12"),
    sub("slowlog|reset", 2, ANLS, "Clears all entries from the slow log.", "2.2.12"),
];

/// The metadata of a subcommand by full name ("client|list").
pub fn sub_spec(full: &str) -> Option<&'static SubSpec> {
    SUBCOMMANDS.iter().find(|s| s.name == full)
}

/// Where a command's statistics are kept (INFO commandstats, latencystats): its table index,
/// or for a container command with a known subcommand (`CONFIG GET`) that subcommand's slot
/// after the table's commands, so it is reported as `config|get`, as Redis 7 does. None for a
/// container command without a known subcommand (Redis never runs those, so counts nothing).
pub fn stat_index(index: u32, args: &crate::resp::Args) -> Option<usize> {
    let spec = &table().specs[index as usize];
    if spec.subcommands.is_empty() {
        return Some(index as usize);
    }
    if args.len() < 2 {
        return None;
    }
    let wanted = args.get(1);
    SUBCOMMANDS
        .iter()
        .position(|s| {
            s.name.split_once('|').is_some_and(|(parent, name)| {
                parent == spec.name && name.as_bytes().eq_ignore_ascii_case(wanted)
            })
        })
        .map(|j| table().specs.len() + j)
}

/// Statistics slots: every command, then every subcommand.
pub fn stat_slots() -> usize {
    table().specs.len() + SUBCOMMANDS.len()
}

/// The name a statistics slot is reported under.
pub fn stat_name(slot: usize) -> &'static str {
    let specs = &table().specs;
    match specs.get(slot) {
        Some(s) => s.name,
        None => SUBCOMMANDS[slot - specs.len()].name,
    }
}

/// The slots a name given to LATENCY HISTOGRAM stands for: a command, a `parent|sub`, or for a
/// container command all of its subcommands.
pub fn stat_slots_named(name: &[u8]) -> Vec<usize> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    let specs = &table().specs;
    if let Some(j) = SUBCOMMANDS.iter().position(|s| s.name == lower) {
        return vec![specs.len() + j];
    }
    let Some((index, spec)) = table().lookup(name) else {
        return Vec::new();
    };
    if spec.subcommands.is_empty() {
        return vec![index as usize];
    }
    let prefix = format!("{}|", spec.name);
    SUBCOMMANDS
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name.starts_with(&prefix))
        .map(|(j, _)| specs.len() + j)
        .collect()
}

/// Checks the arity of subcommand `full`; on mismatch queues Redis's wrong-arguments error and
/// returns false.
pub fn sub_arity_ok(ctx: &mut Ctx, full: &str, argc: usize) -> bool {
    let Some(s) = sub_spec(full) else { return true };
    let a = s.arity;
    if (a >= 0 && argc == a as usize) || (a < 0 && argc >= a.unsigned_abs() as usize) {
        return true;
    }
    ctx.out
        .err(&format!("wrong number of arguments for '{full}' command"));
    false
}

/// `-ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
pub fn unknown_sub(ctx: &mut Ctx, args: &Args, cmd: &str) {
    let sub = if args.len() > 1 {
        printable(args.get(1), 128)
    } else {
        String::new()
    };
    ctx.out
        .err(&format!("unknown subcommand '{sub}'. Try {cmd} HELP."));
}

/// The HELP reply of a container command: a title line, `lines`, then HELP itself.
pub fn help(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    let title = format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    ctx.out.simple(title.as_bytes());
    for l in lines {
        ctx.out.simple(l.as_bytes());
    }
    ctx.out.simple(b"HELP");
    ctx.out.simple(b"    Prints this help.");
}

/// Looks up "name" or "container|sub" (case-insensitively). The second value is the
/// subcommand's metadata when `name` names a subcommand.
fn find(name: &[u8]) -> Option<(&'static Spec, Option<SubView>)> {
    let t = table();
    match name.iter().position(|&b| b == b'|') {
        None => t.lookup(name).map(|(_, s)| (s, None)),
        Some(p) => {
            let (_, parent) = t.lookup(&name[..p])?;
            let subname = &name[p + 1..];
            let sub = parent.subcommands.iter().find(|s| eq_ic(subname, s))?;
            Some((parent, Some(SubView::new(parent, sub))))
        }
    }
}

/// A subcommand as COMMAND INFO/DOCS show it.
struct SubView {
    full: String,
    arity: i32,
    flags: u32,
    summary: &'static str,
    since: &'static str,
}

impl SubView {
    fn new(parent: &Spec, sub: &str) -> SubView {
        let full = format!("{}|{}", parent.name, sub);
        match sub_spec(&full) {
            Some(m) => SubView {
                arity: m.arity,
                flags: m.flags,
                summary: m.summary,
                since: m.since,
                full,
            },
            None => SubView {
                full,
                arity: -2,
                flags: parent.flags,
                summary: "",
                since: parent.since,
            },
        }
    }
}

fn subs_of(parent: &Spec) -> Vec<SubView> {
    parent
        .subcommands
        .iter()
        .map(|s| SubView::new(parent, s))
        .collect()
}

/// ACL categories derived from the flags and the DOCS group, in Redis's category order.
fn categories(flags: u32, group: &str) -> Vec<&'static str> {
    let groupcat = match group {
        "generic" => "@keyspace",
        "string" => "@string",
        "bitmap" => "@bitmap",
        "list" => "@list",
        "hash" => "@hash",
        "set" => "@set",
        "sorted-set" => "@sortedset",
        "stream" => "@stream",
        "hyperloglog" => "@hyperloglog",
        "geo" => "@geo",
        "pubsub" => "@pubsub",
        "connection" => "@connection",
        "transactions" => "@transaction",
        "scripting" => "@scripting",
        _ => "",
    };
    let has = |f: u32| flags & f != 0;
    let mut v = Vec::new();
    let order: [(&str, bool); 21] = [
        ("@keyspace", false),
        ("@read", has(READONLY)),
        ("@write", has(WRITE)),
        ("@set", false),
        ("@sortedset", false),
        ("@list", false),
        ("@hash", false),
        ("@string", false),
        ("@bitmap", false),
        ("@hyperloglog", false),
        ("@geo", false),
        ("@stream", false),
        ("@pubsub", has(PUBSUB)),
        ("@admin", has(ADMIN)),
        ("@fast", has(FAST)),
        ("@slow", !has(FAST)),
        ("@blocking", has(BLOCKING)),
        ("@dangerous", has(ADMIN)),
        ("@connection", false),
        ("@transaction", false),
        ("@scripting", false),
    ];
    for (name, on) in order {
        if on || name == groupcat {
            v.push(name);
        }
    }
    v
}

fn flag_names(flags: u32) -> Vec<&'static str> {
    FLAG_NAMES
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// How COMMAND shows a command where the table's values serve ringkv's own routing or checks
/// rather than Redis's metadata: flags to hide, flag names to add, and the (first, last, step)
/// key positions Redis 7.0 reports. Commands whose keys move (`movablekeys`) report positions
/// clients may not take literally; routing uses `Spec::route` for them.
struct ShownAs {
    name: &'static str,
    hide: u32,
    add: &'static [&'static str],
    keys: Option<(i32, i32, i32)>,
}

const fn shown(
    name: &'static str,
    hide: u32,
    add: &'static [&'static str],
    keys: Option<(i32, i32, i32)>,
) -> ShownAs {
    ShownAs {
        name,
        hide,
        add,
        keys,
    }
}

const MOVABLE: &[&str] = &["movablekeys"];
const NO_ASYNC_LOADING: &[&str] = &["no_async_loading"];
const NONE: (i32, i32, i32) = (0, 0, 0);

#[rustfmt::skip]
const SHOWN_AS: &[ShownAs] = &[
    // Internal: AUTH and HELLO skip MONITOR and the slowlog by flag here, by code in Redis.
    shown("auth", SKIP_MONITOR | SKIP_SLOWLOG, &[], None),
    shown("hello", SKIP_MONITOR | SKIP_SLOWLOG, &[], None),
    shown("publish", MAY_REPLICATE, &[], None),
    shown("spublish", MAY_REPLICATE, &[], Some((1, 1, 1))),
    shown("ssubscribe", 0, &[], Some((1, -1, 1))),
    shown("sunsubscribe", 0, &[], Some((1, -1, 1))),
    shown("bgrewriteaof", 0, NO_ASYNC_LOADING, None),
    shown("bgsave", 0, NO_ASYNC_LOADING, None),
    shown("save", 0, NO_ASYNC_LOADING, None),
    shown("psync", 0, NO_ASYNC_LOADING, None),
    shown("sync", 0, NO_ASYNC_LOADING, None),
    shown("replicaof", 0, NO_ASYNC_LOADING, None),
    shown("slaveof", 0, NO_ASYNC_LOADING, None),
    shown("blmpop", 0, MOVABLE, Some(NONE)),
    shown("bzmpop", 0, MOVABLE, Some(NONE)),
    shown("lmpop", 0, MOVABLE, Some(NONE)),
    shown("zmpop", 0, MOVABLE, Some(NONE)),
    shown("sintercard", 0, MOVABLE, Some(NONE)),
    shown("zdiff", 0, MOVABLE, Some(NONE)),
    shown("zinter", 0, MOVABLE, Some(NONE)),
    shown("zunion", 0, MOVABLE, Some(NONE)),
    shown("zdiffstore", 0, MOVABLE, Some((1, 1, 1))),
    shown("zinterstore", 0, MOVABLE, Some((1, 1, 1))),
    shown("zunionstore", 0, MOVABLE, Some((1, 1, 1))),
    shown("sort", 0, MOVABLE, None),
    shown("sort_ro", 0, MOVABLE, None),
    shown("object", 0, &[], Some(NONE)),
    // A container in Redis (its subcommands carry the flags); one command here.
    shown("pubsub", LOADING | PUBSUB | STALE, &[], None),
];

/// The container commands whose own flags Redis 7.0 shows (the others show none).
const CONTAINERS_WITH_FLAGS: &[&str] = &["command"];

/// One COMMAND INFO entry (Redis 7 shape: ten fields).
#[allow(clippy::too_many_arguments)]
fn info_entry(
    ctx: &mut Ctx,
    name: &str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    group: &str,
    subs: &[SubView],
    parent: Option<&Spec>,
) {
    let container = !subs.is_empty();
    let shown = parent
        .and_then(|_| SHOWN_AS.iter().find(|s| s.name == name))
        .unwrap_or(&ShownAs {
            name: "",
            hide: 0,
            add: &[],
            keys: None,
        });
    let keys = shown.keys.unwrap_or(keys);
    ctx.out.array(10);
    ctx.out.bulk(name.as_bytes());
    ctx.out.int(arity as i64);
    let shown_flags = if container && !CONTAINERS_WITH_FLAGS.contains(&name) {
        Vec::new()
    } else {
        let mut v = flag_names(flags & !(super::ALL_SHARDS | shown.hide));
        v.extend_from_slice(shown.add);
        v
    };
    ctx.out.set(shown_flags.len());
    for f in shown_flags {
        ctx.out.simple(f.as_bytes());
    }
    ctx.out.int(keys.0 as i64);
    ctx.out.int(keys.1 as i64);
    ctx.out.int(keys.2 as i64);
    let cats = if container {
        vec!["@slow"]
    } else {
        categories(flags, group)
    };
    ctx.out.set(cats.len());
    for c in cats {
        ctx.out.simple(c.as_bytes());
    }
    ctx.out.set(0); // tips
    ctx.out.set(0); // key specs
    if container {
        ctx.out.array(subs.len());
        for s in subs {
            let p = parent.map(|p| p.group).unwrap_or(group);
            info_entry(ctx, &s.full, s.arity, s.flags, (0, 0, 0), p, &[], None);
        }
    } else {
        ctx.out.set(0);
    }
}

fn info_of(ctx: &mut Ctx, s: &Spec) {
    let subs = subs_of(s);
    info_entry(
        ctx,
        s.name,
        s.arity,
        s.flags,
        (s.first_key, s.last_key, s.key_step),
        s.group,
        &subs,
        Some(s),
    );
}

/// One COMMAND DOCS value: a map of summary, since, group and (for containers) subcommands.
fn docs_entry(ctx: &mut Ctx, summary: &str, since: &str, group: &str, subs: &[SubView]) {
    let fields = [("summary", summary), ("since", since), ("group", group)];
    let present: Vec<_> = fields.iter().filter(|(_, v)| !v.is_empty()).collect();
    ctx.out.map(present.len() + usize::from(!subs.is_empty()));
    for (k, v) in present {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    if !subs.is_empty() {
        ctx.out.bulk(b"subcommands");
        ctx.out.map(subs.len());
        for s in subs {
            ctx.out.bulk(s.full.as_bytes());
            docs_entry(ctx, s.summary, s.since, group, &[]);
        }
    }
}

/// COMMAND [COUNT|INFO|DOCS|LIST|GETKEYS|HELP]: without arguments, the INFO entry of every
/// command; otherwise the subcommand's reply.
fn command(ctx: &mut Ctx, args: Args) {
    let specs = &table().specs;
    if args.len() == 1 {
        ctx.out.array(specs.len());
        for s in specs {
            info_of(ctx, s);
        }
        return;
    }
    let sub = args.get(1);
    let full = if eq_ic(sub, "count") {
        "command|count"
    } else if eq_ic(sub, "info") {
        "command|info"
    } else if eq_ic(sub, "docs") {
        "command|docs"
    } else if eq_ic(sub, "list") {
        "command|list"
    } else if eq_ic(sub, "getkeys") {
        "command|getkeys"
    } else if eq_ic(sub, "help") {
        "command|help"
    } else {
        return unknown_sub(ctx, &args, "COMMAND");
    };
    if !sub_arity_ok(ctx, full, args.len()) {
        return;
    }
    match full {
        "command|count" => ctx.out.int(specs.len() as i64),
        "command|info" => command_info(ctx, &args),
        "command|docs" => command_docs(ctx, &args),
        "command|list" => command_list(ctx, &args),
        "command|getkeys" => command_getkeys(ctx, &args),
        _ => help(
            ctx,
            "COMMAND",
            &[
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
            ],
        ),
    }
}

/// COMMAND INFO [name ...]: an entry per name (nil for unknown names); all when none given.
fn command_info(ctx: &mut Ctx, args: &Args) {
    if args.len() == 2 {
        let specs = &table().specs;
        ctx.out.array(specs.len());
        for s in specs {
            info_of(ctx, s);
        }
        return;
    }
    ctx.out.array(args.len() - 2);
    for name in args.iter().skip(2) {
        match find(name) {
            None => ctx.out.null(),
            Some((s, None)) => info_of(ctx, s),
            Some((p, Some(v))) => info_entry(
                ctx,
                &v.full,
                v.arity,
                v.flags,
                (0, 0, 0),
                p.group,
                &[],
                None,
            ),
        }
    }
}

/// COMMAND DOCS [name ...]: a map from name to its docs; unknown names are left out.
fn command_docs(ctx: &mut Ctx, args: &Args) {
    let specs = &table().specs;
    let found: Vec<(&Spec, Option<SubView>)> = if args.len() == 2 {
        specs.iter().map(|s| (s, None)).collect()
    } else {
        args.iter().skip(2).filter_map(find).collect()
    };
    ctx.out.map(found.len());
    for (s, v) in found {
        match v {
            None => {
                ctx.out.bulk(s.name.as_bytes());
                let subs = subs_of(s);
                docs_entry(ctx, s.summary, s.since, s.group, &subs);
            }
            Some(v) => {
                ctx.out.bulk(v.full.as_bytes());
                docs_entry(ctx, v.summary, v.since, s.group, &[]);
            }
        }
    }
}

/// COMMAND LIST [FILTERBY MODULE m|ACLCAT c|PATTERN p]: command and subcommand names.
fn command_list(ctx: &mut Ctx, args: &Args) {
    enum Filter<'a> {
        All,
        None,
        Cat(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let filter = match args.len() {
        2 => Filter::All,
        5 if eq_ic(args.get(2), "filterby") => {
            let (kind, v) = (args.get(3), args.get(4));
            if eq_ic(kind, "module") {
                Filter::None
            } else if eq_ic(kind, "aclcat") {
                Filter::Cat(v)
            } else if eq_ic(kind, "pattern") {
                Filter::Pattern(v)
            } else {
                return ctx.out.error(SYNTAX);
            }
        }
        _ => return ctx.out.error(SYNTAX),
    };
    let mut names: Vec<(String, u32, &str)> = Vec::new();
    for s in &table().specs {
        names.push((s.name.to_string(), s.flags, s.group));
        for v in subs_of(s) {
            names.push((v.full, v.flags, s.group));
        }
    }
    let keep = |(n, flags, group): &(String, u32, &str)| match &filter {
        Filter::All => true,
        Filter::None => false,
        Filter::Pattern(p) => glob_match(p, n.as_bytes(), true),
        Filter::Cat(c) => categories(*flags, group).iter().any(|k| eq_ic(c, &k[1..])),
    };
    let names: Vec<_> = names.into_iter().filter(keep).collect();
    ctx.out.array(names.len());
    for (n, _, _) in names {
        ctx.out.bulk(n.as_bytes());
    }
}

/// COMMAND GETKEYS cmd arg...: the key arguments of the given command line.
fn command_getkeys(ctx: &mut Ctx, args: &Args) {
    let Some((_, s)) = table().lookup(args.get(2)) else {
        return ctx.out.err("Invalid command specified");
    };
    let argc = args.len() - 2;
    if !s.arity_ok(argc) {
        return ctx
            .out
            .err("Invalid number of arguments specified for command");
    }
    let mut keys = Vec::new();
    s.for_each_key_pos(argc, |i| keys.push(i + 2));
    keys.retain(|&i| i < args.len());
    if keys.is_empty() {
        return ctx.out.err("The command has no key arguments");
    }
    ctx.out.array(keys.len());
    for i in keys {
        ctx.out.bulk(args.get(i));
    }
}
