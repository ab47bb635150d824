//! Expanding an Azure-2019-format day: a synthetic 1440-minute file with 50,000 functions in
//! the published format (`SyntheticDay::default()`: log-normal daily counts, most functions
//! rarely invoked; ~28 million invocations, ~150 MB) is written to a temporary directory at
//! set-up.
//!
//! - `expand/<spread>/<durations>`: streaming every invocation of the parsed day in arrival
//!   order (per-minute spreading, sorting, duration draws, memory join). The day is parsed once
//!   outside the timing; each sample streams a clone. Throughput = invocations.
//! - `parse_day`: parsing the invocations file into the sparse day (throughput = bytes).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use std::time::Duration;
use unitlab_workloads::azure2019::{
    read_day, Azure2019, Azure2019Options, DurationJoin, Spread, SyntheticDay,
};
use unitlab_workloads::rows::Names;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (path, total) = SyntheticDay::default()
        .write(dir.path(), 1)
        .expect("write the synthetic day");
    let bytes = std::fs::metadata(&path).expect("size").len();
    eprintln!("synthetic day: {bytes} bytes, {total} invocations");

    let mut g = c.benchmark_group("azure2019");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(total));
    for (spread, join) in [
        (Spread::Uniform, DurationJoin::Percentiles),
        (Spread::Uniform, DurationJoin::None),
        (Spread::Equidistant, DurationJoin::None),
    ] {
        let opts = Azure2019Options {
            invocations: vec![path.clone()],
            seed: 1,
            spread,
            duration_join: join,
            ..Default::default()
        }
        .with_siblings();
        let opened = Azure2019::open(opts).expect("open");
        g.bench_function(format!("expand/{spread:?}/{join:?}"), |b| {
            b.iter_batched(
                || opened.clone(),
                |s| {
                    let mut n = 0u64;
                    for i in s {
                        std::hint::black_box(i.expect("stream"));
                        n += 1;
                    }
                    assert_eq!(n, total);
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("parse_day", |b| {
        b.iter(|| {
            let mut names = Names::default();
            read_day(&path, &mut names, &mut Vec::new(), true).expect("parse")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
