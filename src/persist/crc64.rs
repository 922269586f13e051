//! CRC-64 as Redis computes it for RDB files and DUMP payloads: the Jones polynomial
//! (0xad93d23594c935a9), reflected input and output, initial value 0, no final xor.
//! Check value: `crc64(0, b"123456789") == 0xe9c6d914c4b8d9ca`.

/// The polynomial in reflected (LSB-first) form.
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

const fn make_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static TABLE: [u64; 256] = make_table();

/// Continues a CRC over `bytes` (start with 0).
pub fn crc64(mut crc: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        crc = TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_value_and_chaining() {
        assert_eq!(super::crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        let whole = super::crc64(0, b"hello world");
        assert_eq!(super::crc64(super::crc64(0, b"hello "), b"world"), whole);
    }
}
