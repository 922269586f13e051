//! x87 extended precision (64-bit mantissa, 15-bit exponent) in software: the `long double`
//! Redis computes INCRBYFLOAT in on x86_64, with glibc's correctly rounded `strtold` parsing and
//! `%.17Lf` printing. Doing it in software gives the same bytes on every architecture.
use std::cmp::Ordering;

/// Exponent of the smallest subnormal's unit (value = m · 2^e).
const EMIN: i64 = -16445;
/// Largest exponent a finite value can have with a 64-bit mantissa.
const EMAX: i64 = 16320;
/// Marks an infinity (which parses, but any sum with it is an error).
const INF_E: i64 = i64::MAX;
/// Redis rejects float strings this long or longer (MAX_LONG_DOUBLE_CHARS).
const TEXT_MAX: usize = 5 * 1024;

/// ±m · 2^e, zero when m == 0. Normal values have the top bit of `m` set; subnormals have
/// e == EMIN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ld {
    neg: bool,
    m: u64,
    e: i64,
}

impl Ld {
    pub const ZERO: Ld = Ld {
        neg: false,
        m: 0,
        e: 0,
    };

    pub fn from_i64(v: i64) -> Ld {
        let m = v.unsigned_abs();
        if m == 0 {
            return Ld::ZERO;
        }
        let z = m.leading_zeros();
        Ld {
            neg: v < 0,
            m: m << z,
            e: -(z as i64),
        }
    }

    /// The correctly rounded sum; None when it overflows (Redis: NaN or Infinity).
    pub fn checked_add(self, other: Ld) -> Option<Ld> {
        if self.e == INF_E || other.e == INF_E {
            return None;
        }
        if other.m == 0 {
            let neg = self.neg && (other.neg || self.m != 0);
            return Some(Ld { neg, ..self });
        }
        if self.m == 0 {
            return Some(other);
        }
        let (big, small) = if (self.e, self.m) >= (other.e, other.m) {
            (self, other)
        } else {
            (other, self)
        };
        let a = (big.m as u128) << 63;
        let base = big.e - 63;
        let d = small.e - base; // <= 63
        let (b, sticky) = if d >= 0 {
            ((small.m as u128) << d, false)
        } else if d <= -64 {
            (0, true)
        } else {
            let s = (-d) as u32;
            ((small.m >> s) as u128, small.m & ((1u64 << s) - 1) != 0)
        };
        let r = if big.neg == small.neg {
            a + b
        } else {
            // With a sticky remainder the exact difference lies just below a - b.
            a - b - sticky as u128
        };
        if r == 0 && !sticky {
            return Some(Ld::ZERO);
        }
        round(big.neg, r, base, sticky)
    }
}

/// Rounds ±(q + sticky fraction) · 2^e to the nearest Ld, ties to even. None on overflow.
fn round(neg: bool, q: u128, e: i64, sticky: bool) -> Option<Ld> {
    if q == 0 {
        return Some(Ld { neg, m: 0, e: 0 });
    }
    let bits = 128 - q.leading_zeros() as i64;
    let shift = (bits - 64).max(EMIN - e);
    let (mut m, mut e2) = if shift <= 0 {
        (q << (-shift) as u32, e + shift)
    } else {
        let (kept, frac) = if shift > 128 {
            (0, Ordering::Less)
        } else if shift == 128 {
            (0, q.cmp(&(1u128 << 127)))
        } else {
            let rem = q & ((1u128 << shift) - 1);
            (q >> shift, rem.cmp(&(1u128 << (shift - 1))))
        };
        let frac = if frac == Ordering::Equal && sticky {
            Ordering::Greater
        } else {
            frac
        };
        let up = frac == Ordering::Greater || (frac == Ordering::Equal && kept & 1 == 1);
        (kept + up as u128, e + shift)
    };
    if m >> 64 != 0 {
        m >>= 1;
        e2 += 1;
    }
    if m == 0 {
        return Some(Ld { neg, m: 0, e: 0 });
    }
    if e2 > EMAX {
        return None;
    }
    Some(Ld {
        neg,
        m: m as u64,
        e: e2,
    })
}

/// Parses a float as Redis's string2ld does (strtold over the whole string: decimal or hex,
/// "inf"; no spaces, no NaN, no overflow or underflow to zero). Infinity parses, as `Inf`.
pub fn parse(s: &[u8]) -> Option<Ld> {
    match parse_num(s)? {
        Num::Finite(v) => Some(v),
        Num::Inf => Some(Ld {
            neg: false,
            m: u64::MAX,
            e: INF_E,
        }),
    }
}

enum Num {
    Finite(Ld),
    Inf,
}

fn parse_num(s: &[u8]) -> Option<Num> {
    if s.is_empty() || s.len() >= TEXT_MAX || matches!(s[0], b' ' | b'\t'..=b'\r') {
        return None;
    }
    let (neg, rest) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(Num::Inf);
    }
    let v = if rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        parse_hex(neg, &rest[2..])?
    } else {
        parse_dec(neg, rest)?
    };
    Some(Num::Finite(v))
}

/// Reads `[+-]digits` as a saturated exponent.
fn parse_exp(s: &[u8]) -> Option<i64> {
    let (neg, d) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = d
        .iter()
        .fold(0i64, |v, &c| (v * 10 + (c - b'0') as i64).min(1 << 40));
    Some(if neg { -v } else { v })
}

/// Splits `int[.frac][<marker>exp]` (markers are case-insensitive).
fn split(s: &[u8], marker: u8, digit: fn(&u8) -> bool) -> Option<(&[u8], &[u8], i64)> {
    let (mant, exp) = match s.iter().position(|&c| c | 0x20 == marker) {
        Some(p) => (&s[..p], parse_exp(&s[p + 1..])?),
        None => (s, 0),
    };
    let (int, frac) = match mant.iter().position(|&c| c == b'.') {
        Some(p) => (&mant[..p], &mant[p + 1..]),
        None => (mant, &mant[mant.len()..]),
    };
    let ok = int.iter().all(digit) && frac.iter().all(digit);
    (ok && int.len() + frac.len() > 0).then_some((int, frac, exp))
}

fn parse_dec(neg: bool, s: &[u8]) -> Option<Ld> {
    let (int, frac, exp) = split(s, b'e', u8::is_ascii_digit)?;
    let all: Vec<u8> = int.iter().chain(frac).map(|c| c - b'0').collect();
    let first = all.iter().position(|&d| d != 0);
    let Some(first) = first else {
        return Some(Ld { neg, m: 0, e: 0 });
    };
    let last = all.iter().rposition(|&d| d != 0).unwrap_or(first);
    let digits = &all[first..=last];
    // value = digits · 10^e10
    let e10 = exp - frac.len() as i64 + (all.len() - 1 - last) as i64;
    let magnitude = digits.len() as i64 + e10; // value < 10^magnitude
    if magnitude > 4933 {
        return None; // overflow
    }
    if magnitude < -4951 {
        return None; // underflows to zero
    }
    let mut num = vec![0u32];
    for chunk in digits.chunks(9) {
        let v = chunk.iter().fold(0u32, |v, &d| v * 10 + d as u32);
        mul_small(&mut num, 10u32.pow(chunk.len() as u32), v);
    }
    let mut den = vec![1u32];
    let target = if e10 >= 0 { &mut num } else { &mut den };
    let mut left = e10.unsigned_abs();
    while left > 0 {
        let k = left.min(9);
        mul_small(target, 10u32.pow(k as u32), 0);
        left -= k;
    }
    // q = num · 2^k / den has 127 or 128 bits.
    let k = 127 + bit_len(&den) as i64 - bit_len(&num) as i64;
    let num = shl(&num, k.max(0) as u64);
    let den = shl(&den, (-k).max(0) as u64);
    let (q, sticky) = divide(num, &den);
    let v = round(neg, q, -k, sticky)?;
    (v.m != 0).then_some(v)
}

fn parse_hex(neg: bool, s: &[u8]) -> Option<Ld> {
    let (int, frac, exp) = split(s, b'p', u8::is_ascii_hexdigit)?;
    let (mut q, mut e, mut sticky, mut used) = (0u128, exp, false, 0);
    for (i, &c) in int.iter().chain(frac).enumerate() {
        let d = (c as char).to_digit(16).unwrap_or(0) as u128;
        let in_frac = i >= int.len();
        if used < 32 {
            q = q * 16 + d;
            used += (q != 0) as u32;
            e -= 4 * in_frac as i64;
        } else {
            sticky |= d != 0;
            e += 4 * !in_frac as i64;
        }
    }
    if q == 0 {
        return Some(Ld { neg, m: 0, e: 0 });
    }
    let v = round(neg, q, e, sticky)?;
    (v.m != 0).then_some(v)
}

/// The value as Redis prints it: `%.17Lf` with trailing zeros (and a bare point) removed,
/// and "-0" printed as "0".
pub fn format(v: Ld) -> String {
    if v.m == 0 {
        return "0".to_string();
    }
    let sign = if v.neg { "-" } else { "" };
    if v.e >= 0 {
        return format!(
            "{sign}{}",
            to_decimal(shl(&[v.m as u32, (v.m >> 32) as u32], v.e as u64))
        );
    }
    let s = v.e.unsigned_abs();
    let (mut int, frac) = if s >= 64 {
        (0u128, v.m as u128)
    } else {
        ((v.m >> s) as u128, (v.m & ((1u64 << s) - 1)) as u128)
    };
    const SCALE: u128 = 100_000_000_000_000_000; // 10^17
    let prod = frac * SCALE;
    let (mut q, cmp) = if s >= 122 {
        (0, Ordering::Less) // prod < 2^121 <= half a unit
    } else {
        let half = 1u128 << (s - 1);
        (prod >> s, (prod & ((1u128 << s) - 1)).cmp(&half))
    };
    if cmp == Ordering::Greater || (cmp == Ordering::Equal && q & 1 == 1) {
        q += 1;
    }
    if q == SCALE {
        q = 0;
        int += 1;
    }
    let text = format!("{int}.{q:017}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "0" {
        "0".to_string()
    } else {
        format!("{sign}{text}")
    }
}

// ---- minimal big unsigned integers: little-endian u32 words ----

fn mul_small(a: &mut Vec<u32>, m: u32, add: u32) {
    let mut carry = add as u64;
    for d in a.iter_mut() {
        let v = *d as u64 * m as u64 + carry;
        *d = v as u32;
        carry = v >> 32;
    }
    if carry != 0 {
        a.push(carry as u32);
    }
}

fn trim(a: &mut Vec<u32>) {
    while a.last() == Some(&0) {
        a.pop();
    }
}

fn bit_len(a: &[u32]) -> u64 {
    match a.iter().rposition(|&d| d != 0) {
        Some(i) => i as u64 * 32 + 32 - a[i].leading_zeros() as u64,
        None => 0,
    }
}

fn shl(a: &[u32], n: u64) -> Vec<u32> {
    let (words, bits) = ((n / 32) as usize, (n % 32) as u32);
    let mut out = vec![0u32; words];
    out.reserve(a.len() + 1);
    let mut carry = 0u32;
    for &d in a {
        out.push(if bits == 0 { d } else { (d << bits) | carry });
        carry = if bits == 0 { 0 } else { d >> (32 - bits) };
    }
    out.push(carry);
    trim(&mut out);
    out
}

fn shr1(a: &mut Vec<u32>) {
    let mut carry = 0u32;
    for d in a.iter_mut().rev() {
        let next = *d & 1;
        *d = (*d >> 1) | (carry << 31);
        carry = next;
    }
    trim(a);
}

fn cmp(a: &[u32], b: &[u32]) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.iter().rev().cmp(b.iter().rev()))
}

fn sub_assign(a: &mut Vec<u32>, b: &[u32]) {
    let mut borrow = 0i64;
    for (i, d) in a.iter_mut().enumerate() {
        let v = *d as i64 - borrow - *b.get(i).unwrap_or(&0) as i64;
        borrow = (v < 0) as i64;
        *d = v.rem_euclid(1 << 32) as u32;
    }
    trim(a);
}

/// (num / den, remainder != 0) for a quotient known to fit in 128 bits.
fn divide(mut num: Vec<u32>, den: &[u32]) -> (u128, bool) {
    trim(&mut num);
    let mut t = shl(den, 127);
    let mut q = 0u128;
    for i in (0..128).rev() {
        if cmp(&num, &t) != Ordering::Less {
            sub_assign(&mut num, &t);
            q |= 1u128 << i;
        }
        shr1(&mut t);
    }
    (q, !num.is_empty())
}

fn to_decimal(mut a: Vec<u32>) -> String {
    trim(&mut a);
    let mut chunks = Vec::new();
    while !a.is_empty() {
        let mut rem = 0u64;
        for d in a.iter_mut().rev() {
            let cur = (rem << 32) | *d as u64;
            *d = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        trim(&mut a);
    }
    let mut s = chunks.pop().map_or("0".to_string(), |c| c.to_string());
    for c in chunks.iter().rev() {
        s.push_str(&format!("{c:09}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIS_2E308: &str = "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096";

    fn sum(a: &str, b: &str) -> Option<String> {
        Some(format(
            parse(a.as_bytes())?.checked_add(parse(b.as_bytes())?)?,
        ))
    }

    #[test]
    fn matches_redis_x86_64() {
        assert_eq!(sum("0.1", "0.2").unwrap(), "0.3");
        assert_eq!(sum("10.50", "0.1").unwrap(), "10.6");
        assert_eq!(sum("10.6", "-5").unwrap(), "5.6");
        assert_eq!(sum("1000000", "0.1").unwrap(), "1000000.10000000000002274");
        assert_eq!(sum("5.0e3", "2.0e2").unwrap(), "5200");
        assert_eq!(sum("5200", "1e20").unwrap(), "100000000000000005200");
        assert_eq!(sum("1", "1e-20").unwrap(), "1");
        assert_eq!(sum("3", "0.0001").unwrap(), "3.0001");
        assert_eq!(sum("0x10", "0").unwrap(), "16");
        assert_eq!(sum("16", "-0.00000000000000000001").unwrap(), "16");
        assert_eq!(sum("-5", "5").unwrap(), "0");
        assert_eq!(
            sum("1.123456789012345678", "0").unwrap(),
            "1.12345678901234568"
        );
        let big = sum("1e308", "1e308").unwrap();
        assert_eq!(big, REDIS_2E308);
        assert!(parse(b"1e-5000").is_none());
        assert!(parse(b"1e5000").is_none());
        assert!(parse(b" 1").is_none());
        assert!(parse(b"1 ").is_none());
        assert!(parse(b"nan").is_none());
        assert!(parse(b"").is_none());
        assert!(parse(b"1e").is_none());
        assert!(parse(b".").is_none());
        assert!(sum("inf", "1").is_none());
        assert!(sum("1e4932", "1e4932").is_none());
    }
}
