//! Fuzz the request parser: any bytes, any split point. It must never panic, and a request
//! parsed from a prefix must parse identically from the whole buffer. The cache warm-up's quick
//! scan (`peek_second_arg`) must agree with the parser wherever both accept a request. When a
//! request's own bytes are reused for propagation (`Args::frame`), they must be exactly the
//! canonical encoding of its arguments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringkv::resp::{parse_command, peek_second_arg, Limits, ParseOutcome};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { bulk_bytes_max: 1 << 20, authenticated: data.first().is_some_and(|b| b & 1 == 0) };
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let peeked = peek_second_arg(&data[pos..]);
        if let Some((consumed, at, len)) = peeked {
            assert!(consumed <= data.len() - pos && at + len <= consumed);
        }
        match parse_command(&data[pos..], &mut ranges, &mut scratch, &limits) {
            ParseOutcome::Complete { consumed, inline } => {
                if let (Some((c, at, len)), false) = (peeked, inline) {
                    assert_eq!((c, ranges[1]), (consumed, (at as u32, len as u32)));
                }
                assert!(consumed > 0 && pos + consumed <= data.len());
                let base: &[u8] = if inline { &scratch } else { &data[pos..] };
                for &(off, len) in &ranges {
                    assert!(off as usize + len as usize <= base.len());
                }
                if !inline {
                    let args = ringkv::resp::parse::Args::framed(base, &ranges);
                    let encoded = ringkv::repl::propagate::encode(&args.iter().collect::<Vec<_>>());
                    if let Some(frame) = args.frame() {
                        assert_eq!(frame, &encoded[..]);
                        assert_eq!(frame.len(), consumed);
                    }
                    assert_eq!(ringkv::repl::propagate::encode_args(&args), encoded);
                }
                pos += consumed;
            }
            ParseOutcome::Empty { consumed } => {
                assert!(consumed > 0);
                pos += consumed;
            }
            ParseOutcome::Incomplete | ParseOutcome::Error(_) => break,
        }
    }
});
