//! RESP parser throughput: pipelined SET/GET frames, reported as bytes/s and commands/s.
//!
//! Run: cargo bench --bench resp

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringkv::resp::{parse_command, Limits, ParseOutcome};

fn frames(n: usize, value_len: usize) -> Vec<u8> {
    let value = "x".repeat(value_len);
    let mut buf = Vec::new();
    for i in 0..n {
        let key = format!("key:{:06}", i % 100_000);
        if i % 2 == 0 {
            buf.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                    key.len(),
                    value.len()
                )
                .as_bytes(),
            );
        } else {
            buf.extend_from_slice(
                format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
            );
        }
    }
    buf
}

fn parse_all(buf: &[u8], ranges: &mut Vec<(u32, u32)>, scratch: &mut Vec<u8>) -> usize {
    let limits = Limits {
        bulk_bytes_max: 512 << 20,
        authenticated: true,
    };
    let mut pos = 0;
    let mut commands = 0;
    while pos < buf.len() {
        match parse_command(&buf[pos..], ranges, scratch, &limits) {
            ParseOutcome::Complete { consumed, .. } => {
                pos += consumed;
                commands += 1;
            }
            _ => break,
        }
    }
    commands
}

fn bench_parser(c: &mut Criterion) {
    let mut group = c.benchmark_group("resp_parse_pipelined_set_get");
    for value_len in [3usize, 64, 1024] {
        let buf = frames(1000, value_len);
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_with_input(BenchmarkId::new("bytes", value_len), &buf, |b, buf| {
            b.iter(|| black_box(parse_all(buf, &mut ranges, &mut scratch)))
        });
        group.throughput(Throughput::Elements(1000));
        group.bench_with_input(BenchmarkId::new("commands", value_len), &buf, |b, buf| {
            b.iter(|| black_box(parse_all(buf, &mut ranges, &mut scratch)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parser);
criterion_main!(benches);
