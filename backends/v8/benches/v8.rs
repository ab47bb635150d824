//! Benchmarks of the `v8` backend: cold start and warm invoke of `noop`, plus a report of the
//! RSS each live isolate costs.
//!
//! - `v8/cold_start/noop`: `Prepared::start` (isolate + context + compile of the catalogue +
//!   handler lookup) and the first invoke. Disposing the unit is outside the timed region
//!   (iter_custom drops the units after the clock stops).
//! - `v8/warm_invoke/noop`: one invoke on a live isolate.
//! - `v8/dispose/noop`: `Isolate::Dispose` of a used unit, timed alone.
//! - Printed, not timed: RSS delta over 200 live noop isolates, per isolate; and the median
//!   of each start phase.
//!
//! Targets (reported, not asserted): cold start p50 <= 1.6 ms; <= 1 MiB RSS per live isolate.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use unitlab_backend::{process_rss_bytes, Availability, Backend, Function, FunctionSpec, Request};
use unitlab_backend_v8::{availability, Config, V8Backend};

const REQ: Request = Request { size: 0, seed: 1 };

/// CPU time of the calling thread: less disturbed than wall time on a shared machine (it
/// leaves out time the thread waited for a core; V8's helper threads are not counted).
fn thread_cpu_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_THREAD_CPUTIME_ID exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn report_memory_and_phases(b: &V8Backend) {
    let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
    // Warm the process first so that one-time costs are not charged to the isolates.
    for _ in 0..20 {
        let mut u = p.start().unwrap();
        u.invoke(&REQ).unwrap();
    }
    const N: usize = 200;
    let before = process_rss_bytes();
    let mut units = Vec::with_capacity(N);
    let mut phases: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    let (mut wall, mut cpu) = (Vec::with_capacity(N), Vec::with_capacity(N));
    let mut first_invoke = Vec::with_capacity(N);
    for _ in 0..N {
        let (t, c) = (Instant::now(), thread_cpu_nanos());
        let mut u = p.start().unwrap();
        let t_inv = Instant::now();
        u.invoke(&REQ).unwrap();
        first_invoke.push(t_inv.elapsed().as_nanos() as u64);
        cpu.push(thread_cpu_nanos() - c);
        wall.push(t.elapsed().as_nanos() as u64);
        for ph in u.start_phases() {
            phases.entry(ph.name).or_default().push(ph.nanos);
        }
        units.push(u);
    }
    let after = process_rss_bytes();
    let heap: u64 = units
        .iter_mut()
        .map(|u| u.memory().unwrap().engine_bytes.unwrap_or(0))
        .sum();
    match (before, after) {
        (Some(a), Some(z)) => eprintln!(
            "v8: {N} live noop isolates: RSS {:.1} -> {:.1} MiB, {:.0} KiB RSS per isolate \
             (V8 total heap {:.0} KiB per isolate)",
            a as f64 / 1048576.0,
            z as f64 / 1048576.0,
            (z as f64 - a as f64) / 1024.0 / N as f64,
            heap as f64 / 1024.0 / N as f64
        ),
        _ => eprintln!("v8: RSS not readable (no /proc/self/statm)"),
    }
    eprintln!(
        "v8: cold start (start + first invoke, units kept alive) p50 wall {} us, p50 thread CPU \
         time {} us",
        median(wall) / 1000,
        median(cpu) / 1000
    );
    eprintln!("v8: first invoke p50 {} us", median(first_invoke) / 1000);
    for (name, v) in phases {
        eprintln!("v8: start phase `{name}` p50 {} us", median(v) / 1000);
    }
    drop(units);
    eprintln!(
        "v8: RSS after disposing them: {:.1} MiB",
        process_rss_bytes().unwrap_or(0) as f64 / 1048576.0
    );
    // How much of what stays is glibc malloc's free memory rather than V8's own pools.
    unitlab_backend_v8::release_freed_memory();
    eprintln!(
        "v8: RSS after malloc_trim(0): {:.1} MiB",
        process_rss_bytes().unwrap_or(0) as f64 / 1048576.0
    );
}

fn benches(c: &mut Criterion) {
    if let Availability::Unavailable { reason, fix } = availability() {
        eprintln!("v8 benches skipped: {reason}\n  fix: {fix}");
        return;
    }
    let b = V8Backend::new(Config::default()).unwrap();
    report_memory_and_phases(&b);
    let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();

    let mut g = c.benchmark_group("v8");
    // Short runs: the machine is shared; criterion's intervals show the spread.
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("cold_start/noop", |bench| {
        bench.iter_custom(|iters| {
            let mut units = Vec::with_capacity(64);
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let mut u = p.start().unwrap();
                let r = u.invoke(&REQ).unwrap();
                total += t.elapsed();
                assert_eq!(r.value, Function::Noop.expected(REQ.size, REQ.seed));
                units.push(u);
                if units.len() == 64 {
                    units.clear(); // dispose outside the timed region
                }
            }
            total
        })
    });
    let mut unit = p.start().unwrap();
    unit.invoke(&REQ).unwrap();
    g.bench_function("warm_invoke/noop", |bench| {
        bench.iter(|| unit.invoke(&REQ).unwrap())
    });
    drop(unit);
    g.bench_function("dispose/noop", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut u = p.start().unwrap();
                u.invoke(&REQ).unwrap();
                let t = Instant::now();
                drop(u);
                total += t.elapsed();
            }
            total
        })
    });
    let mut trim = Config::default();
    trim.set("trim_after_dispose", "true").unwrap();
    let bt = V8Backend::new(trim).unwrap();
    let pt = bt
        .prepare(&FunctionSpec::catalogue(Function::Noop))
        .unwrap();
    g.bench_function("dispose_trim/noop", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut u = pt.start().unwrap();
                u.invoke(&REQ).unwrap();
                let t = Instant::now();
                drop(u);
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(v8, benches);
criterion_main!(v8);
