//! Keyspace: inserts and lookups on the segmented table at 1M keys, next to a plain
//! hashbrown::HashMap doing the same work (the price of segmenting).
//!
//! Run: cargo bench --bench keyspace

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringkv::store::{Entry, Table, Value};

const KEYS: usize = 1_000_000;

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:08}").into_bytes()
}

fn filled() -> Table {
    let mut t = Table::new();
    for i in 0..KEYS {
        t.insert(Entry {
            key: key(i).into(),
            value: Value::Int(i as i64),
            expire_at_ms: 0,
            access_s: 0,
        });
    }
    t
}

fn bench_keyspace(c: &mut Criterion) {
    let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
    let mut group = c.benchmark_group("keyspace");
    group.sample_size(10);
    group.throughput(Throughput::Elements(KEYS as u64));
    group.bench_function("segmented_insert_1m", |b| {
        b.iter(|| black_box(filled().len()))
    });
    group.bench_function("hashbrown_insert_1m", |b| {
        b.iter(|| {
            let mut m = hashbrown::HashMap::with_hasher(foldhash::fast::RandomState::default());
            for (i, k) in keys.iter().enumerate() {
                m.insert(k.clone().into_boxed_slice(), Value::Int(i as i64));
            }
            black_box(m.len())
        })
    });
    let mut t = filled();
    // What a read command does: unpack the record into the working entry (the previous one is
    // packed back first).
    group.bench_function("segmented_get_live_mut_1m", |b| {
        b.iter(|| {
            keys.iter()
                .filter(|k| t.get_live_mut(k, 0, false).is_ok())
                .count()
        })
    });
    group.bench_function("segmented_records_get_1m", |b| {
        b.iter(|| keys.iter().filter(|k| t.records().get(k).is_some()).count())
    });
    group.finish();
}

criterion_group!(benches, bench_keyspace);
criterion_main!(benches);
