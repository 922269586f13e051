//! Readers for the packed blobs inside RDB values: listpack (Redis 7), ziplist (Redis 3.2–6.2),
//! intset, and zipmap (Redis before 2.6). Each walks a blob that came from a file, so every
//! length and offset is checked against the blob before it is used; a malformed blob is an
//! error, never a panic or an out-of-bounds read. Elements reach the caller as bytes (integers
//! in decimal, as Redis would reply them).

/// Formats `i` into `tmp` and returns the digits.
fn int_text(tmp: &mut [u8; 24], i: i64) -> &[u8] {
    crate::resp::reply::fmt_i64(tmp, i)
}

fn take(b: &[u8], at: usize, n: usize) -> Result<&[u8], &'static str> {
    at.checked_add(n)
        .and_then(|end| b.get(at..end))
        .ok_or("entry runs past the end of the blob")
}

fn le_int(b: &[u8]) -> i64 {
    // Sign-extends a little-endian integer of 1..=8 bytes.
    let mut x = [0u8; 8];
    x[..b.len()].copy_from_slice(b);
    let shift = 64 - 8 * b.len() as u32;
    (i64::from_le_bytes(x) << shift) >> shift
}

/// Calls `f` on every element of a listpack; returns the element count.
pub fn listpack(blob: &[u8], mut f: impl FnMut(&[u8])) -> Result<usize, &'static str> {
    let head = take(blob, 0, 6)?;
    let total = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if total != blob.len() {
        return Err("listpack size does not match its header");
    }
    let mut at = 6;
    let mut count = 0;
    let mut tmp = [0u8; 24];
    loop {
        let enc = *blob.get(at).ok_or("listpack without terminator")?;
        if enc == 0xFF {
            return if at + 1 == blob.len() {
                Ok(count)
            } else {
                Err("bytes after the listpack terminator")
            };
        }
        let (entry_len, value): (usize, Result<&[u8], i64>) = if enc & 0x80 == 0 {
            (1, Err((enc & 0x7f) as i64))
        } else if enc & 0xC0 == 0x80 {
            let n = (enc & 0x3f) as usize;
            (1 + n, Ok(take(blob, at + 1, n)?))
        } else if enc & 0xE0 == 0xC0 {
            let b = take(blob, at, 2)?;
            let v = (((b[0] & 0x1f) as u16) << 8 | b[1] as u16) as i64;
            (2, Err(if v >= 1 << 12 { v - (1 << 13) } else { v }))
        } else if enc & 0xF0 == 0xE0 {
            let b = take(blob, at, 2)?;
            let n = ((b[0] & 0x0f) as usize) << 8 | b[1] as usize;
            (2 + n, Ok(take(blob, at + 2, n)?))
        } else {
            match enc {
                0xF0 => {
                    let b = take(blob, at + 1, 4)?;
                    let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
                    (5 + n, Ok(take(blob, at + 5, n)?))
                }
                0xF1 => (3, Err(le_int(take(blob, at + 1, 2)?))),
                0xF2 => (4, Err(le_int(take(blob, at + 1, 3)?))),
                0xF3 => (5, Err(le_int(take(blob, at + 1, 4)?))),
                0xF4 => (9, Err(le_int(take(blob, at + 1, 8)?))),
                _ => return Err("unknown listpack entry encoding"),
            }
        };
        match value {
            Ok(s) => f(s),
            Err(i) => f(int_text(&mut tmp, i)),
        }
        count += 1;
        // The back-length that follows an entry takes 1..=5 bytes, 7 bits each.
        let backlen_bytes = match entry_len {
            0..=127 => 1,
            128..=16_382 => 2,
            16_383..=2_097_150 => 3,
            2_097_151..=268_435_454 => 4,
            _ => 5,
        };
        at = at
            .checked_add(entry_len + backlen_bytes)
            .filter(|&a| a < blob.len())
            .ok_or("listpack entry runs past the end")?;
    }
}

/// Calls `f` on every element of a ziplist; returns the element count.
pub fn ziplist(blob: &[u8], mut f: impl FnMut(&[u8])) -> Result<usize, &'static str> {
    let head = take(blob, 0, 10)?;
    let total = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if total != blob.len() {
        return Err("ziplist size does not match its header");
    }
    let mut at = 10;
    let mut count = 0;
    let mut tmp = [0u8; 24];
    loop {
        let first = *blob.get(at).ok_or("ziplist without terminator")?;
        if first == 0xFF {
            return if at + 1 == blob.len() {
                Ok(count)
            } else {
                Err("bytes after the ziplist terminator")
            };
        }
        at += if first < 254 { 1 } else { 5 }; // previous entry's length
        let enc = *blob.get(at).ok_or("ziplist entry runs past the end")?;
        let (header, value): (usize, Result<usize, i64>) = match enc >> 6 {
            0 => (1, Ok((enc & 0x3f) as usize)),
            1 => {
                let b = take(blob, at, 2)?;
                (2, Ok(((b[0] & 0x3f) as usize) << 8 | b[1] as usize))
            }
            2 => {
                let b = take(blob, at + 1, 4)?;
                (5, Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize))
            }
            _ => match enc {
                0xC0 => (3, Err(le_int(take(blob, at + 1, 2)?))),
                0xD0 => (5, Err(le_int(take(blob, at + 1, 4)?))),
                0xE0 => (9, Err(le_int(take(blob, at + 1, 8)?))),
                0xF0 => (4, Err(le_int(take(blob, at + 1, 3)?))),
                0xFE => (2, Err(le_int(take(blob, at + 1, 1)?))),
                0xF1..=0xFD => (1, Err((enc & 0x0f) as i64 - 1)),
                _ => return Err("unknown ziplist entry encoding"),
            },
        };
        let data_len = match value {
            Ok(n) => {
                f(take(blob, at + header, n)?);
                n
            }
            Err(i) => {
                f(int_text(&mut tmp, i));
                0
            }
        };
        count += 1;
        at = at
            .checked_add(header + data_len)
            .filter(|&a| a < blob.len())
            .ok_or("ziplist entry runs past the end")?;
    }
}

/// The integers of an intset, in order.
pub fn intset(blob: &[u8]) -> Result<Vec<i64>, &'static str> {
    let head = take(blob, 0, 8)?;
    let width = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let n = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset with an unknown integer width");
    }
    if n.checked_mul(width) != Some(blob.len() - 8) {
        return Err("intset size does not match its header");
    }
    Ok(blob[8..].chunks_exact(width).map(le_int).collect())
}

/// Calls `f(field, value)` for every pair of a zipmap (the hash encoding before Redis 2.6).
pub fn zipmap(blob: &[u8], mut f: impl FnMut(&[u8], &[u8])) -> Result<usize, &'static str> {
    let mut at = 1; // the first byte is a (saturating) count
    let mut count = 0;
    let len_at = |at: usize| -> Result<(usize, usize), &'static str> {
        match *blob.get(at).ok_or("zipmap without terminator")? {
            254 => {
                let b = take(blob, at + 1, 4)?;
                Ok((u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 5))
            }
            255 => Err("zipmap entry where a length was expected"),
            n => Ok((n as usize, 1)),
        }
    };
    loop {
        if *blob.get(at).ok_or("zipmap without terminator")? == 255 {
            return Ok(count);
        }
        let (klen, h) = len_at(at)?;
        let key = take(blob, at + h, klen)?;
        at += h + klen;
        let (vlen, h) = len_at(at)?;
        let free = *blob.get(at + h).ok_or("zipmap entry runs past the end")? as usize;
        let value = take(blob, at + h + 1, vlen)?;
        f(key, value);
        count += 1;
        at += h + 1 + vlen + free;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect_lp(b: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
        let mut out = Vec::new();
        listpack(b, |e| out.push(e.to_vec()))?;
        Ok(out)
    }

    #[test]
    fn listpack_entries_of_each_encoding() {
        // 7-bit 5, 6-bit string "ab", 13-bit -2, int16 1000: each followed by its backlen.
        let mut body = vec![0x05, 0x01, 0x82, b'a', b'b', 0x03, 0xDF, 0xFE, 0x02];
        body.extend_from_slice(&[0xF1, 0xE8, 0x03, 0x03]);
        let mut lp = Vec::new();
        lp.extend_from_slice(&((6 + body.len() + 1) as u32).to_le_bytes());
        lp.extend_from_slice(&4u16.to_le_bytes());
        lp.extend_from_slice(&body);
        lp.push(0xFF);
        let got = collect_lp(&lp).unwrap();
        assert_eq!(
            got,
            vec![
                b"5".to_vec(),
                b"ab".to_vec(),
                b"-2".to_vec(),
                b"1000".to_vec()
            ]
        );
        // Every truncation is an error, not a panic.
        for cut in 0..lp.len() {
            assert!(collect_lp(&lp[..cut]).is_err());
        }
    }

    #[test]
    fn ziplist_and_zipmap_entries() {
        // "ab" (6-bit string), 5 (immediate), 300 (int16); each after the previous length.
        let body = [0x00, 0x02, b'a', b'b', 0x04, 0xF6, 0x02, 0xC0, 0x2C, 0x01];
        let mut zl = Vec::new();
        zl.extend_from_slice(&((10 + body.len() + 1) as u32).to_le_bytes());
        zl.extend_from_slice(&16u32.to_le_bytes());
        zl.extend_from_slice(&3u16.to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        let mut got = Vec::new();
        assert_eq!(ziplist(&zl, |e| got.push(e.to_vec())), Ok(3));
        assert_eq!(got, vec![b"ab".to_vec(), b"5".to_vec(), b"300".to_vec()]);
        for cut in 0..zl.len() {
            assert!(ziplist(&zl[..cut], |_| {}).is_err());
        }
        // A zipmap {"k": "val"} with one free byte after the value.
        let zm = [1, 1, b'k', 3, 1, b'v', b'a', b'l', 0, 0xFF];
        let mut pairs = Vec::new();
        assert_eq!(
            zipmap(&zm, |k, v| pairs.push((k.to_vec(), v.to_vec()))),
            Ok(1)
        );
        assert_eq!(pairs, vec![(b"k".to_vec(), b"val".to_vec())]);
    }

    #[test]
    fn intset_and_malformed_blobs() {
        let mut is = Vec::new();
        is.extend_from_slice(&2u32.to_le_bytes());
        is.extend_from_slice(&2u32.to_le_bytes());
        is.extend_from_slice(&(-3i16).to_le_bytes());
        is.extend_from_slice(&7i16.to_le_bytes());
        assert_eq!(intset(&is).unwrap(), vec![-3, 7]);
        assert!(intset(&is[..11]).is_err());
        assert!(ziplist(&[0xff; 3], |_| {}).is_err());
        assert!(zipmap(&[1, 3, b'a'], |_, _| {}).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_garbage(b in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = listpack(&b, |_| {});
            let _ = ziplist(&b, |_| {});
            let _ = intset(&b);
            let _ = zipmap(&b, |_, _| {});
        }
    }
}
