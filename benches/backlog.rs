//! The write stream's append (`repl::feed` over the lock-free ring in `repl::backlog`): one
//! propagated SET into the backlog, uncontended and with a second thread appending at the same
//! time, and with the AOF buffer on as well (its buffer is the one part under a mutex).
//!
//! Run: cargo bench --bench backlog

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringkv::repl::feed::Feed;
use ringkv::repl::propagate::encode;

fn feed(aof: bool) -> Arc<Feed> {
    let f = Arc::new(Feed::default());
    f.set_backlog(1 << 20);
    f.set_aof(aof);
    f
}

/// Appends `iters` SETs on this thread (draining the AOF buffer as its writer would) while
/// `others` threads append too; returns this thread's time.
fn run(f: &Arc<Feed>, cmd: &[(usize, Vec<u8>)], iters: u64, others: usize) -> std::time::Duration {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..others)
        .map(|_| {
            let (f, stop, cmd) = (f.clone(), stop.clone(), cmd.to_vec());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    f.append(&cmd, false);
                }
            })
        })
        .collect();
    let mut sink = Vec::new();
    let started = Instant::now();
    for i in 0..iters {
        f.append(cmd, false);
        if i % 1024 == 0 {
            sink.clear();
            f.take_aof(&mut sink);
        }
    }
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    took
}

fn append(c: &mut Criterion) {
    let cmd = vec![(0usize, encode(&[b"SET", b"key:000123", &[b'x'; 16]]))];
    let mut g = c.benchmark_group("feed");
    g.throughput(Throughput::Elements(1));
    for (name, aof, others) in [
        ("append_set_uncontended", false, 0),
        ("append_set_two_threads", false, 1),
        ("append_set_aof_uncontended", true, 0),
        ("append_set_aof_two_threads", true, 1),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| run(&feed(aof), &cmd, iters, others))
        });
    }
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
