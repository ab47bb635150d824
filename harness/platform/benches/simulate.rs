//! Simulator throughput (criterion): invocations per second on one core, on a multi-function
//! synthetic trace held in memory (generation outside the timed loop). Target: >= 10 million
//! invocations per second.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use unitlab_platform::calibration::Calibration;
use unitlab_platform::policy::{Policy, NS_PER_S};
use unitlab_platform::sim::{simulate, SimOptions};
use unitlab_platform::synth::multi_function;

fn bench(c: &mut Criterion) {
    // 1000 functions sharing 20 000 invocations/s (Zipf), 50 s: about a million invocations.
    let trace = multi_function(1000, 20_000.0, 50.0, 1);
    let n = trace.len() as u64;
    let cal = Calibration::assumed("wasm", 5_000, 64 * 1024);
    let mut g = c.benchmark_group("simulate");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    for policy in [
        Policy::fixed(600 * NS_PER_S),
        Policy::no_keep_alive(),
        Policy::hybrid(),
    ] {
        let opts = SimOptions {
            seed: 1,
            records: false,
            bin_ns: 60 * NS_PER_S,
            functions: 1000,
            progress: None,
        };
        g.bench_function(format!("multi1000/{}", policy.name), |b| {
            b.iter_batched(
                || trace.clone(),
                |t| simulate(t.into_iter().map(Ok), &policy, &cal, &opts).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
