//! Deno workers: cold start (start + first `noop` invoke; the stop is outside the timing), warm
//! `noop` invoke, and memory per live worker (printed, not timed).
//!
//! Targets to report (not asserted): cold start p50 <= 10 ms; ~7 MB RSS per live worker.
//! Compare with the floor, a bare Worker in plain Deno at the same moment:
//! `deno run -A --no-config --no-lock backends/deno/js/floor.js` (see the crate docs).
//! The cold-start phases (`ipc`, `worker_create`, `host`) are collected on the side and their
//! medians printed, so the pipe's share of a cold start is visible.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use unitlab_backend::{Backend, Function, FunctionSpec, Request};
use unitlab_backend_deno::{Config, DenoBackend};

fn median(mut v: Vec<u64>) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

fn ms(n: Option<u64>) -> String {
    match n {
        Some(n) if n < 1_000_000 => format!("{:.1} us", n as f64 / 1e3),
        Some(n) => format!("{:.3} ms", n as f64 / 1e6),
        None => "n/a".into(),
    }
}

fn bench(c: &mut Criterion) {
    let backend = DenoBackend::new(Config::default()).expect("deno: run scripts/setup-deno.sh");
    let prepared = backend
        .prepare(&FunctionSpec::catalogue(Function::Noop))
        .expect("prepare noop");
    let req = Request { size: 0, seed: 1 };

    let mut group = c.benchmark_group("deno");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));

    let mut phases: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    let mut totals = Vec::new();
    let mut firsts = Vec::new();
    group.bench_function("cold_start/noop", |b| {
        b.iter_custom(|iters| {
            let mut sum = Duration::ZERO;
            for _ in 0..iters {
                let t0 = Instant::now();
                let mut unit = prepared.start().expect("start");
                let t1 = Instant::now();
                let r = unit.invoke(&req).expect("invoke");
                let d = t0.elapsed();
                firsts.push(t1.elapsed().as_nanos() as u64);
                sum += d;
                assert_eq!(r.value, Function::Noop.expected(0, 1));
                totals.push(d.as_nanos() as u64);
                for p in unit.start_phases() {
                    phases.entry(p.name).or_default().push(p.nanos);
                }
                unit.stop().expect("stop");
            }
            sum
        })
    });

    let mut unit = prepared.start().expect("start");
    let mut guest = Vec::new();
    let mut round_trips = Vec::new();
    group.bench_function("warm_invoke/noop", |b| {
        b.iter_custom(|iters| {
            let mut sum = Duration::ZERO;
            for _ in 0..iters {
                let t0 = Instant::now();
                let r = unit.invoke(&req).expect("invoke");
                let d = t0.elapsed();
                sum += d;
                round_trips.push(d.as_nanos() as u64);
                if let Some(g) = r.guest_nanos {
                    guest.push(g);
                }
            }
            sum
        })
    });
    group.finish();
    unit.stop().expect("stop");

    eprintln!(
        "deno cold start p50 (start + first invoke): {}",
        ms(median(totals))
    );
    eprintln!("  first invoke p50: {}", ms(median(firsts)));
    for (name, v) in phases {
        eprintln!("  start phase {name:>14} p50: {}", ms(median(v)));
    }
    eprintln!(
        "deno warm invoke p50: round trip {}, guest {}",
        ms(median(round_trips)),
        ms(median(guest))
    );

    // Memory per live worker: start N, touch each once, and compare the host's PSS/RSS with 1
    // and with N live workers (the difference is N - 1 workers' worth).
    const N: u64 = 21;
    let mut units = Vec::new();
    let mut first = None;
    for i in 0..N {
        let mut u = prepared.start().expect("start");
        u.invoke(&req).expect("invoke");
        if i == 0 {
            let pid: u32 = u
                .id()
                .split('-')
                .nth(1)
                .and_then(|p| p.parse().ok())
                .expect("pid");
            first = unitlab_backend::pid_memory(pid).map(|m| (pid, m));
        }
        units.push(u);
    }
    let mem = units.last_mut().expect("a unit").memory().expect("memory");
    if let Some((pid, (pss1, rss1))) = first {
        if let Some((pss, rss)) = unitlab_backend::pid_memory(pid) {
            let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / (N - 1) as f64 / 1048576.0;
            eprintln!(
                "deno memory per live worker ({} more workers): {:.2} MiB PSS, {:.2} MiB RSS; \
                 host PSS {:.1} MiB with {N} workers; worker V8 heap total {:.2} MiB, used \
                 {:.2} MiB; backend's host_bytes share {:.2} MiB",
                N - 1,
                per(pss, pss1),
                per(rss, rss1),
                pss as f64 / 1048576.0,
                mem.engine_bytes.unwrap_or(0) as f64 / 1048576.0,
                mem.details.get("v8_used_heap").copied().unwrap_or(0) as f64 / 1048576.0,
                mem.host_bytes.unwrap_or(0) as f64 / 1048576.0,
            );
        }
    }
    for u in units {
        u.stop().expect("stop");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
