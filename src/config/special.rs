//! Parsing and formatting of the directives that are not a plain bool,
//! number, string or enum: `save`, `bind`, `client-output-buffer-limit`,
//! `oom-score-adj-values`, `notify-keyspace-events`, `replicaof`,
//! `latency-tracking-info-percentiles` and the shutdown flag enums. Error
//! texts are Redis 7.0's.

use super::values::{format_double_trimmed, parse_double, parse_memory, parse_strtoll};
use super::OutputLimit;

/// Most addresses one `bind` accepts.
pub const BIND_MAX: usize = 16;

/// Treats a single empty argument as no arguments (`save ""`, `bind ""`).
fn none_if_single_empty(args: &[Vec<u8>]) -> &[Vec<u8>] {
    if args.len() == 1 && args[0].is_empty() {
        &[]
    } else {
        args
    }
}

/// `save <seconds> <changes> [...]`, or `save ""` for none.
pub fn parse_save(args: &[Vec<u8>]) -> Result<Vec<(u64, u64)>, String> {
    const ERR: &str = "Invalid save parameters";
    let args = none_if_single_empty(args);
    if !args.len().is_multiple_of(2) {
        return Err(ERR.into());
    }
    let mut out = Vec::with_capacity(args.len() / 2);
    for pair in args.chunks(2) {
        let secs = parse_strtoll(&pair[0], 10).filter(|&v| v >= 1).ok_or(ERR)?;
        let changes = parse_strtoll(&pair[1], 10).filter(|&v| v >= 0).ok_or(ERR)?;
        out.push((secs as u64, changes as u64));
    }
    Ok(out)
}

pub fn format_save(points: &[(u64, u64)]) -> String {
    points
        .iter()
        .map(|(s, c)| format!("{s} {c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `bind addr...`; `bind ""` binds nothing.
pub fn parse_bind(args: &[Vec<u8>]) -> Result<Vec<String>, String> {
    if args.len() > BIND_MAX {
        return Err("Too many bind addresses specified.".into());
    }
    let args = none_if_single_empty(args);
    Ok(args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect())
}

/// Client classes of `client-output-buffer-limit`, in Redis's order.
pub const OBUF_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// `client-output-buffer-limit <class> <hard> <soft> <soft seconds> [...]`:
/// returns the new limits for the classes named, all-or-nothing.
pub fn parse_obuf(args: &[Vec<u8>], current: [OutputLimit; 3]) -> Result<[OutputLimit; 3], String> {
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = current;
    for group in args.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_slice() {
            b"normal" => 0,
            b"slave" | b"replica" => 1,
            b"pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(&group[1]);
        let soft = parse_memory(&group[2]);
        let secs = parse_strtoll(&group[3], 10).filter(|&v| v >= 0);
        match (hard, soft, secs) {
            (Some(hard_bytes), Some(soft_bytes), Some(secs)) => {
                out[class] = OutputLimit {
                    hard_bytes,
                    soft_bytes,
                    soft_seconds: secs as u64,
                };
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    Ok(out)
}

pub fn format_obuf(limits: &[OutputLimit; 3]) -> String {
    let parts: Vec<String> = OBUF_CLASSES
        .iter()
        .zip(limits)
        .map(|(name, l)| {
            format!(
                "{} {} {} {}",
                name, l.hard_bytes, l.soft_bytes, l.soft_seconds
            )
        })
        .collect();
    parts.join(" ")
}

/// `oom-score-adj-values <master> <replica> <bgchild>`.
pub fn parse_oom(args: &[Vec<u8>]) -> Result<[i32; 3], String> {
    if args.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut out = [0i32; 3];
    for (slot, a) in out.iter_mut().zip(args) {
        match parse_strtoll(a, 10) {
            Some(v) if (-2000..=2000).contains(&v) => *slot = v as i32,
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                )
            }
        }
    }
    Ok(out)
}

pub fn format_oom(v: &[i32; 3]) -> String {
    format!("{} {} {}", v[0], v[1], v[2])
}

/// `replicaof <host> <port>` or `replicaof no one`.
pub fn parse_replicaof(args: &[Vec<u8>]) -> Result<Option<(String, u16)>, String> {
    if args.len() != 2 {
        return Err("wrong number of arguments".into());
    }
    if args[0].eq_ignore_ascii_case(b"no") && args[1].eq_ignore_ascii_case(b"one") {
        return Ok(None);
    }
    match parse_strtoll(&args[1], 10) {
        Some(p) if (0..=65535).contains(&p) => Ok(Some((
            String::from_utf8_lossy(&args[0]).into_owned(),
            p as u16,
        ))),
        _ => Err("Invalid master port".into()),
    }
}

pub fn format_replicaof(v: &Option<(String, u16)>) -> String {
    match v {
        Some((h, p)) => format!("{h} {p}"),
        None => String::new(),
    }
}

/// `latency-tracking-info-percentiles <p>...`, each within [0, 100].
pub fn parse_percentiles(args: &[Vec<u8>]) -> Result<Vec<f64>, String> {
    let args = none_if_single_empty(args);
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let v = parse_double(a).ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&v) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        out.push(v);
    }
    Ok(out)
}

pub fn format_percentiles(v: &[f64]) -> String {
    v.iter()
        .map(|&p| format_double_trimmed(p))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The error for a name that is not in an enum's list.
pub fn enum_error(names: &[(&str, u32)]) -> String {
    let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    format!(
        "argument(s) must be one of the following: {}",
        list.join(", ")
    )
}

/// One enum name, any case.
pub fn parse_enum(names: &[(&str, u32)], arg: &[u8]) -> Result<u32, String> {
    names
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(arg))
        .map(|&(_, v)| v)
        .ok_or_else(|| enum_error(names))
}

/// The canonical (first) name of an enum value.
pub fn enum_name(names: &[(&'static str, u32)], v: u32) -> &'static str {
    names
        .iter()
        .find(|&&(_, x)| x == v)
        .map_or("unknown", |&(n, _)| n)
}

/// Several flag names OR-ed; at least one; SAVE and NOSAVE exclude each other.
pub fn parse_enum_flags(names: &[(&str, u32)], args: &[Vec<u8>]) -> Result<u32, String> {
    if args.is_empty() {
        return Err(enum_error(names));
    }
    let mut v = 0;
    for a in args {
        v |= parse_enum(names, a)?;
    }
    if v & 3 == 3 {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    Ok(v)
}

pub fn format_enum_flags(names: &[(&str, u32)], v: u32) -> String {
    if v == 0 {
        return enum_name_any(names, 0);
    }
    let set: Vec<&str> = names
        .iter()
        .filter(|&&(_, f)| f != 0 && v & f == f)
        .map(|&(n, _)| n)
        .collect();
    set.join(" ")
}

fn enum_name_any(names: &[(&str, u32)], v: u32) -> String {
    names
        .iter()
        .find(|&&(_, x)| x == v)
        .map_or("unknown", |&(n, _)| n)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Vec<Vec<u8>> {
        if s.is_empty() {
            return vec![Vec::new()];
        }
        s.split(' ').map(|x| x.as_bytes().to_vec()).collect()
    }

    #[test]
    fn save() {
        assert_eq!(
            parse_save(&a("3600 1 60 5")).unwrap(),
            vec![(3600, 1), (60, 5)]
        );
        assert_eq!(parse_save(&a("")).unwrap(), vec![]);
        for bad in ["3600", "0 1", "3600 -1", "3600 1  60 5", "x 1"] {
            assert_eq!(
                parse_save(&a(bad)).unwrap_err(),
                "Invalid save parameters",
                "{bad}"
            );
        }
        assert_eq!(format_save(&[(3600, 1), (300, 100)]), "3600 1 300 100");
    }

    #[test]
    fn obuf() {
        let d = crate::config::store::DEFAULT_OBUF;
        let v = parse_obuf(&a("normal 1mb 2mb 3 replica 1 2 3"), d).unwrap();
        assert_eq!(
            format_obuf(&v),
            "normal 1048576 2097152 3 slave 1 2 3 pubsub 33554432 8388608 60"
        );
        assert!(parse_obuf(&a("normal 1 2"), d)
            .unwrap_err()
            .starts_with("Wrong number"));
        assert!(parse_obuf(&a("master 1 2 3"), d)
            .unwrap_err()
            .starts_with("Invalid client class"));
        assert!(parse_obuf(&a("normal 1 2 x"), d)
            .unwrap_err()
            .starts_with("Error in hard"));
        assert!(parse_obuf(&a("normal 1 2 -1"), d).is_err());
    }

    #[test]
    fn enums_and_flags() {
        const F: &[(&str, u32)] = super::super::choices::SHUTDOWN_FLAGS;
        assert_eq!(
            format_enum_flags(F, parse_enum_flags(F, &a("now save")).unwrap()),
            "save now"
        );
        assert_eq!(
            format_enum_flags(F, parse_enum_flags(F, &a("force nosave now")).unwrap()),
            "nosave now force"
        );
        assert_eq!(
            format_enum_flags(F, parse_enum_flags(F, &a("default SAVE")).unwrap()),
            "save"
        );
        assert_eq!(format_enum_flags(F, 0), "default");
        assert!(parse_enum_flags(F, &a("nosave save"))
            .unwrap_err()
            .contains("SAVE and NOSAVE"));
        assert_eq!(
            parse_enum_flags(F, &a("")).unwrap_err(),
            "argument(s) must be one of the following: default, save, nosave, now, force"
        );
    }

    #[test]
    fn replicaof_and_percentiles() {
        assert_eq!(parse_replicaof(&a("NO ONE")).unwrap(), None);
        assert_eq!(
            parse_replicaof(&a("h 7000")).unwrap(),
            Some(("h".into(), 7000))
        );
        assert_eq!(
            parse_replicaof(&a("h x")).unwrap_err(),
            "Invalid master port"
        );
        assert_eq!(
            parse_replicaof(&a("h 70000")).unwrap_err(),
            "Invalid master port"
        );
        assert_eq!(
            format_percentiles(&parse_percentiles(&a("1.5 99.99 100")).unwrap()),
            "1.5 99.99 100"
        );
        assert!(parse_percentiles(&a("101"))
            .unwrap_err()
            .contains("[0.0,100.0]"));
        assert!(parse_percentiles(&a("abc"))
            .unwrap_err()
            .starts_with("Invalid"));
        assert_eq!(parse_percentiles(&a("")).unwrap(), Vec::<f64>::new());
        assert_eq!(
            parse_oom(&a("1 2 3000")).unwrap_err(),
            "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
        );
        assert_eq!(
            parse_oom(&a("1 2")).unwrap_err(),
            "wrong number of arguments"
        );
    }
}
