//! LZF, the compression of RDB strings (`rdbcompression yes`), in liblzf's stream format:
//! a control byte below 32 starts a run of `ctrl + 1` literal bytes; any other starts a back
//! reference of `(ctrl >> 5) + 2` bytes (a 7 there means "add the next byte"), at distance
//! `((ctrl & 0x1f) << 8) + next byte + 1` behind the output position.

/// A back reference reaches at most this far.
const DISTANCE_MAX: usize = 1 << 13;
/// ... and copies at most this many bytes (7 + 255 + 2).
const MATCH_BYTES_MAX: usize = 264;
/// Literal runs are at most 32 bytes.
const LITERAL_RUN_MAX: usize = 32;
/// Hash table slots at most; small inputs get a table their size (zeroing 64 KiB for every
/// 100-byte string would cost more than compressing it).
const HASH_BITS_MAX: u32 = 14;
const HASH_BITS_MIN: u32 = 6;

/// No Redis string is longer (512 MiB, `proto-max-bulk-len`'s default and Redis's hard limit).
pub const STRING_BYTES_MAX: usize = 512 * 1024 * 1024;

/// The largest expansion one input byte can produce (a 3-byte reference yields 264 bytes), so
/// a declared output length above `input.len() * EXPANSION_MAX` is a lie and is refused before
/// anything is allocated.
pub const EXPANSION_MAX: usize = MATCH_BYTES_MAX / 2;

#[inline]
fn hash3(b: &[u8], bits: u32) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

/// Compresses `input`; `None` when the result would not be shorter than `out_max` bytes
/// (Redis then stores the string as is).
pub fn compress(input: &[u8], out_max: usize) -> Option<Vec<u8>> {
    let (mut out, mut table) = (Vec::new(), Vec::new());
    compress_with(input, out_max, &mut out, &mut table).then_some(out)
}

/// Reads 8 bytes at `at` as one word (for comparing runs a word at a time).
#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// `compress` into buffers the caller keeps (`out` receives the result, `table` is scratch):
/// a snapshot compresses millions of short strings, and two allocations each cost more than
/// compressing one. False when the result would not be shorter than `out_max` bytes.
pub fn compress_with(
    input: &[u8],
    out_max: usize,
    out: &mut Vec<u8>,
    table: &mut Vec<u32>,
) -> bool {
    let n = input.len();
    let bits = (usize::BITS - n.leading_zeros()).clamp(HASH_BITS_MIN, HASH_BITS_MAX);
    table.clear();
    table.resize(1 << bits, 0);
    out.clear();
    out.reserve(out_max.min(n + n / 32 + 1));
    let mut run_at = out.len(); // where the current literal run's control byte sits
    out.push(0);
    let mut run = 0usize;
    let mut ip = 0usize;
    while ip < n {
        if ip + 2 < n {
            let h = hash3(&input[ip..], bits);
            let candidate = table[h] as usize;
            table[h] = ip as u32 + 1;
            if candidate > 0 {
                let r = candidate - 1;
                let dist = ip - r;
                if dist <= DISTANCE_MAX && input[r..r + 3] == input[ip..ip + 3] {
                    let limit = (n - ip).min(MATCH_BYTES_MAX);
                    // Extend the match a word at a time, then byte by byte near the limit.
                    let mut len = 3;
                    loop {
                        if len + 8 <= limit {
                            let x = word(input, r + len) ^ word(input, ip + len);
                            if x == 0 {
                                len += 8;
                                continue;
                            }
                            len += (x.trailing_zeros() / 8) as usize;
                            break;
                        }
                        while len < limit && input[r + len] == input[ip + len] {
                            len += 1;
                        }
                        break;
                    }
                    if run == 0 {
                        out.pop();
                    } else {
                        out[run_at] = (run - 1) as u8;
                    }
                    let (l, off) = (len - 2, dist - 1);
                    if l < 7 {
                        out.push((off >> 8) as u8 + ((l as u8) << 5));
                    } else {
                        out.push((off >> 8) as u8 + (7 << 5));
                        out.push((l - 7) as u8);
                    }
                    out.push(off as u8);
                    ip += len;
                    run_at = out.len();
                    out.push(0);
                    run = 0;
                    if out.len() >= out_max {
                        return false;
                    }
                    continue;
                }
            }
        }
        out.push(input[ip]);
        ip += 1;
        run += 1;
        if run == LITERAL_RUN_MAX {
            out[run_at] = (run - 1) as u8;
            run_at = out.len();
            out.push(0);
            run = 0;
        }
        if out.len() >= out_max {
            return false;
        }
    }
    if run == 0 {
        out.pop();
    } else {
        out[run_at] = (run - 1) as u8;
    }
    out.len() < out_max
}

/// Decompresses `input` into exactly `out_len` bytes; `None` when the stream is malformed
/// (a reference before the start, a run past the end, a length mismatch).
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if out_len > input.len().saturating_mul(EXPANSION_MAX) || out_len > STRING_BYTES_MAX {
        return None;
    }
    // The declared length is only a claim: reserve what the input could plausibly give, and let
    // real output grow the buffer past that.
    let mut out = Vec::with_capacity(out_len.min(input.len().saturating_mul(4)));
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < LITERAL_RUN_MAX {
            let len = ctrl + 1;
            let lit = input.get(ip..ip + len)?;
            if out.len() + len > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += len;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            len += 2;
            let dist = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            if dist > out.len() || out.len() + len > out_len {
                return None;
            }
            let from = out.len() - dist;
            for i in 0..len {
                // Byte by byte: a reference may overlap the bytes it produces.
                out.push(out[from + i]);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_repetitive_data_and_round_trips() {
        let input = b"abcabcabcabcabcabcabcabcabcabcabcabc hello hello hello".repeat(20);
        let c = compress(&input, input.len() - 4).expect("compressible");
        assert!(c.len() < input.len() / 4);
        assert_eq!(decompress(&c, input.len()).unwrap(), input);
    }

    #[test]
    fn refuses_incompressible_and_malformed_input() {
        let noise: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(compress(&noise, noise.len() - 4).is_none());
        assert!(decompress(&[0x20, 0x00], 3).is_none()); // reference before the start
        assert!(decompress(&[0x05, b'a'], 6).is_none()); // literal run past the end
        assert!(decompress(&[0x00, b'a'], 2).is_none()); // length mismatch
        assert!(decompress(&[0x00, b'a'], 1 << 40).is_none()); // absurd declared length
    }

    proptest::proptest! {
        #[test]
        fn round_trips(input in proptest::collection::vec(0u8..4, 0..3000)) {
            if let Some(c) = compress(&input, input.len()) {
                proptest::prop_assert_eq!(decompress(&c, input.len()), Some(input));
            }
        }
    }
}
