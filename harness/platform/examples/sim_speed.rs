//! Simulator speed on one core, measured in thread CPU time (robust to a loaded machine), on a
//! multi-function trace held in memory.
//!
//! `cargo run --release -p unitlab-platform --example sim_speed -- [functions] [rate/s] [span s]`
//! (defaults: 1000 functions, 20 000/s, 250 s: about 5 million invocations).

use unitlab_platform::calibration::Calibration;
use unitlab_platform::policy::{Policy, NS_PER_S};
use unitlab_platform::sim::{simulate, SimOptions};
use unitlab_platform::synth::multi_function;

mod common;
use common::thread_cpu_s as cpu_s;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let functions: u32 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let rate: f64 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000.0);
    let span: f64 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(250.0);
    let c0 = cpu_s();
    let trace = multi_function(functions, rate, span, 1);
    let gen_cpu = cpu_s() - c0;
    let n = trace.len();
    let cal = Calibration::assumed("wasm", 5_000, 64 * 1024);
    println!(
        "trace: {functions} functions, {n} invocations over {span} s (generated in {gen_cpu:.3} s CPU: {:.1} M per CPU-second)",
        n as f64 / gen_cpu / 1e6
    );
    let only = std::env::var("POLICY").ok();
    for policy in [
        Policy::fixed(600 * NS_PER_S),
        Policy::no_keep_alive(),
        Policy::hybrid(),
    ] {
        if only.as_ref().is_some_and(|o| *o != policy.name) {
            continue;
        }
        // Best of three: the machine is shared, the best run is the least disturbed.
        let mut best = f64::MAX;
        let runs = std::env::var("RUNS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(3);
        for _ in 0..runs {
            let (c0, w0) = (cpu_s(), std::time::Instant::now());
            let out = simulate(
                trace.iter().copied().map(Ok),
                &policy,
                &cal,
                &SimOptions {
                    seed: 1,
                    functions,
                    ..SimOptions::default()
                },
            )
            .expect("simulation runs");
            let (cpu, wall) = (cpu_s() - c0, w0.elapsed().as_secs_f64());
            if cpu >= best {
                continue;
            }
            best = cpu;
            println!(
            "{:>14}: {:.2} s CPU ({:.2} s wall): {:.1} M invocations per CPU-second; cold starts {}",
            policy.name,
            cpu,
            wall,
            n as f64 / cpu / 1e6,
            out.platform.counts.cold_starts
        );
        }
    }
}
