//! The write stream's append (`repl::feed`): one propagated SET into the backlog ring and the
//! AOF buffer, uncontended and with a second thread appending at the same time (the mutex's
//! cost under contention; see DESIGN.md's lock-free backlog and the note in feed.rs).
//!
//! Run: cargo bench --bench backlog

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringkv::repl::feed::Feed;
use ringkv::repl::propagate::encode;

fn feed() -> Arc<Feed> {
    let f = Arc::new(Feed::default());
    f.set_backlog(1 << 20);
    f.set_aof(true);
    f
}

fn append(c: &mut Criterion) {
    let cmd = vec![(0usize, encode(&[b"SET", b"key:000123", &[b'x'; 16]]))];
    let mut g = c.benchmark_group("feed");
    g.throughput(Throughput::Elements(1));
    g.bench_function("append_set_uncontended", |b| {
        let f = feed();
        let mut sink = Vec::new();
        let mut n = 0u64;
        b.iter(|| {
            f.append(&cmd, false);
            n += 1;
            if n.is_multiple_of(1024) {
                sink.clear();
                f.take_aof(&mut sink); // the AOF writer's side, so the buffer stays bounded
            }
        })
    });
    g.bench_function("append_set_two_threads", |b| {
        b.iter_custom(|iters| {
            let f = feed();
            let stop = Arc::new(AtomicBool::new(false));
            let other = {
                let (f, stop, cmd) = (f.clone(), stop.clone(), cmd.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        f.append(&cmd, false);
                    }
                })
            };
            let mut sink = Vec::new();
            let started = Instant::now();
            for i in 0..iters {
                f.append(&cmd, false);
                if i % 1024 == 0 {
                    sink.clear();
                    f.take_aof(&mut sink);
                }
            }
            let took = started.elapsed();
            stop.store(true, Ordering::Relaxed);
            other.join().unwrap();
            took
        })
    });
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
