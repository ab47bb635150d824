//! The harness's own cost: one empty timed sample, and the whole measure loop against a mock
//! backend whose start and invoke do nothing. Targets (closing note, not tests): under 1 us of
//! harness overhead per sample.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use unitlab::measure::{self, Options};
use unitlab_backend::{Function, FunctionSpec};
use unitlab_backend_mock::{Config, MockBackend};
use unitlab_results::Overhead;

fn empty_sample(c: &mut Criterion) {
    c.bench_function("harness/empty_timed_sample", |b| {
        b.iter(|| {
            let t0 = Instant::now();
            black_box(());
            let t1 = Instant::now();
            black_box(t1.duration_since(t0).as_nanos() as u64)
        })
    });
}

fn measure_loop(c: &mut Criterion) {
    let mut cfg = Config::default();
    cfg.set("start_us", "0").unwrap();
    cfg.set("invoke_us", "0").unwrap();
    let backend = MockBackend::new(cfg).unwrap();
    let spec = FunctionSpec::catalogue(Function::Noop);
    let opts = Options {
        units: 10,
        warm_per_unit: 99,
        memory_units: 0,
        size: 0,
        seed: 1,
        expect: None,
        gap: std::time::Duration::ZERO,
        progress: None,
    };
    let mut g = c.benchmark_group("harness");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("measure_loop_1000_samples_mock", |b| {
        b.iter(|| measure::run(&backend, &spec, &opts, Overhead::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, empty_sample, measure_loop);
criterion_main!(benches);
