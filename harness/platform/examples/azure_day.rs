//! A synthetic day shaped like the Azure Functions 2019 trace, streamed through the simulator
//! under several policies; prints wall time, CPU time and the process's peak RSS.
//!
//! `cargo run --release -p unitlab-platform --example azure_day -- [functions] [invocations]`
//! (defaults: 50 000 functions, 100 million invocations).
//!
//! The day is generated on a second thread ([`Background`]), overlapping the simulation:
//! "sim CPU" is the simulating thread's CPU time, "process CPU" adds the generator's.

use std::time::Instant;

use unitlab_platform::calibration::Calibration;
use unitlab_platform::policy::{Policy, NS_PER_S};
use unitlab_platform::pricing::{build_run, load_pricing, RunInfo};
use unitlab_platform::sim::{simulate, SimOptions};
use unitlab_platform::synth::{AzureLikeDay, Background};
use unitlab_results::platform::RunKind;

mod common;
use common::{process_cpu_s, thread_cpu_s};

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let functions: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50_000);
    let target: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100e6);
    let cal = Calibration::assumed("wasm", 5_000, 64 * 1024);
    let pricing = load_pricing(None).expect("built-in pricing");

    // The generator's own cost, alone.
    let (t, c) = (Instant::now(), thread_cpu_s());
    let n = AzureLikeDay::new(functions, 1440, target, 1).count();
    let (gen_s, gen_cpu) = (t.elapsed().as_secs_f64(), thread_cpu_s() - c);
    println!(
        "trace: {functions} functions, {n} invocations in a day; generating alone: {gen_s:.1} s wall, {gen_cpu:.1} s CPU"
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
        let (t, c, pc) = (Instant::now(), thread_cpu_s(), process_cpu_s());
        let day = Background::new(AzureLikeDay::new(functions, 1440, target, 1))
            .expect("starting the generator thread");
        let out = simulate(
            day,
            &policy,
            &cal,
            &SimOptions {
                seed: 1,
                functions,
                ..SimOptions::default()
            },
        )
        .expect("simulation runs");
        let (wall, cpu, pcpu) = (
            t.elapsed().as_secs_f64(),
            thread_cpu_s() - c,
            process_cpu_s() - pc,
        );
        let run = build_run(
            &out.platform,
            &pricing,
            RunInfo {
                kind: RunKind::Simulate,
                backend: "wasm".into(),
                memory_kind: "assumed+trace".into(),
                calibration: None,
                run_seconds: wall,
                latency_divisor: 1.0,
                warnings: vec![],
            },
        );
        println!(
            "{:>16}: {:6.1} s wall, {:5.1} s sim CPU ({:4.1} M invocations per CPU-s), {:5.1} s process CPU (generation included), cold rate {:.4}, idle GB-s {:.0}, mean live units {:.0}, peak live {}, peak RSS {:.0} MiB",
            policy.name,
            wall,
            cpu,
            n as f64 / cpu / 1e6,
            pcpu,
            run.counts.cold_rate.unwrap_or(f64::NAN),
            run.waiting.idle_gb_seconds.unwrap_or(f64::NAN),
            run.usage.mean_live_units.unwrap_or(f64::NAN),
            run.usage.peak_live_units,
            peak_rss_mib().unwrap_or(f64::NAN),
        );
    }
}
