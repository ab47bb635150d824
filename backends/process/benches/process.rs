//! Cold start (spawn + ready + first noop) and warm invoke of the process backend.
//! Killing and reaping the unit happens outside the timed region.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use unitlab_backend::{Backend, Function, FunctionSpec, Request};
use unitlab_backend_process::{Config, ProcessBackend};

fn process(c: &mut Criterion) {
    let backend = ProcessBackend::new(Config::default()).expect("backend");
    let prepared = backend
        .prepare(&FunctionSpec::catalogue(Function::Noop))
        .expect("prepare");
    let req = Request { size: 0, seed: 1 };
    let mut g = c.benchmark_group("process");
    g.sample_size(50).measurement_time(Duration::from_secs(5));
    g.bench_function("cold_start_noop", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let mut unit = prepared.start().expect("start");
                let resp = unit.invoke(&req).expect("invoke");
                total += t.elapsed();
                assert_eq!(resp.value, Function::Noop.expected(0, 1));
                unit.stop().expect("stop");
            }
            total
        })
    });
    let mut unit = prepared.start().expect("start");
    g.bench_function("warm_invoke_noop", |b| {
        b.iter(|| unit.invoke(&req).expect("invoke"))
    });
    g.finish();
}

criterion_group!(benches, process);
criterion_main!(benches);
