//! A guard for speed work on the simulator: one hash of everything the simulator outputs
//! (counts, unit time and GB-s, every latency histogram, the timeline, and per-invocation and
//! per-unit records) over a grid of policies, calibrations, traces and options. A change meant
//! only to make the simulator faster must leave the printed hash unchanged.
//!
//! The runs go through [`simulate_runs_sharded`] (one read of each trace, several runs on
//! worker threads, each run without a cap or records split into as many shards of functions
//! as threads); the hash must not depend on the thread count, hence the shard count, either.
//!
//! `cargo run --release -p unitlab-platform --example output_hash -- [threads]` (default: 1;
//! `0`: every core)

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use unitlab_platform::calibration::{Calibration, Execution, Startup};
use unitlab_platform::parallel::{simulate_runs_sharded, SimRun};
use unitlab_platform::policy::{Cap, KeepAlive, OnFull, PickRule, Policy, NS_PER_S};
use unitlab_platform::sim::SimOptions;
use unitlab_platform::synth::{multi_function, AzureLikeDay};
use unitlab_workloads::Invocation;

fn policies() -> Vec<Policy> {
    let mut out = vec![
        Policy::no_keep_alive(),
        Policy::fixed(600 * NS_PER_S),
        Policy::fixed(NS_PER_S),
        Policy::hybrid(),
        Policy::provisioned(2, KeepAlive::Fixed { ns: 60 * NS_PER_S }),
        Policy::provisioned(1, KeepAlive::None),
    ];
    for pick in [PickRule::Lru, PickRule::Newest] {
        let mut p = Policy::fixed(30 * NS_PER_S);
        p.pick = pick;
        out.push(p);
    }
    let mut p = Policy::fixed(30 * NS_PER_S);
    p.concurrency = 3;
    out.push(p);
    for on_full in [OnFull::Queue, OnFull::Reject] {
        let mut p = Policy::fixed(20 * NS_PER_S);
        p.cap = Some(Cap {
            max_units: 40,
            on_full,
        });
        out.push(p);
    }
    out
}

fn calibrations() -> Vec<Calibration> {
    let mut spread = Calibration::assumed("spread", 2_000_000, 32 << 20);
    spread.startup = Startup::Percentiles {
        points: vec![
            (0.0, 1_000_000),
            (0.5, 2_000_000),
            (0.99, 9_000_000),
            (1.0, 30_000_000),
        ],
    };
    spread.first_invoke_extra_ns = 150_000;
    spread.invoke_overhead_ns = 2_000;
    spread.add_trace_memory = false;
    let mut exp = Calibration::ideal(Some(1 << 20));
    exp.execution = Execution::Exponential { mean_ns: 40e6 };
    vec![Calibration::assumed("wasm", 5_000, 64 * 1024), spread, exp]
}

fn main() {
    let threads = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => 1,
        Some(Ok(0)) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(Ok(n)) => n,
        Some(Err(e)) => panic!("threads: {e}"),
    };
    let base = multi_function(40, 1_500.0, 30.0, 7);
    let no_durations: Vec<Invocation> = base
        .iter()
        .map(|i| Invocation {
            duration_ns: None,
            memory_bytes: None,
            ..*i
        })
        .collect();
    // Bursts: groups of arrivals at one instant.
    let bursts: Vec<Invocation> = base
        .iter()
        .map(|i| Invocation {
            arrival_ns: i.arrival_ns / 50_000_000 * 50_000_000,
            ..*i
        })
        .collect();
    // Sparse functions over ten hours: idle times from seconds to hours, so that the hybrid
    // policy's histograms fill many bins and pre-warm.
    let sparse: Vec<Invocation> = AzureLikeDay::new(40, 600, 30_000.0, 5)
        .collect::<Result<_, _>>()
        .expect("synthetic day");
    let mut all = DefaultHasher::new();
    let mut runs = 0;
    let mut sharded = 0;
    let mut shards = 1;
    for (tname, trace) in [
        ("base", &base),
        ("no-durations", &no_durations),
        ("bursts", &bursts),
        ("sparse", &sparse),
    ] {
        for cal in calibrations() {
            if tname == "no-durations" && matches!(cal.execution, Execution::Required) {
                continue;
            }
            let policies = policies();
            let mut grid = Vec::new();
            for policy in &policies {
                for records in [false, true] {
                    grid.push(SimRun {
                        policy,
                        calibration: &cal,
                        options: SimOptions {
                            seed: 3,
                            records,
                            bin_ns: 5 * NS_PER_S,
                            functions: 40,
                            progress: None,
                        },
                    });
                }
            }
            let (outs, read) =
                simulate_runs_sharded(trace.iter().copied().map(Ok), &grid, threads, threads)
                    .expect("simulation runs");
            sharded += read.sharded_runs;
            shards = read.shards;
            for (run, out) in grid.iter().zip(&outs) {
                let (policy, records) = (run.policy, run.options.records);
                let p = &out.platform;
                let text = format!(
                    "{:?}{:?}{:?}{:?}{:?}",
                    p.counts,
                    p.usage,
                    p.latency,
                    p.timeline(),
                    p.records
                );
                let mut h = DefaultHasher::new();
                text.hash(&mut h);
                let one = h.finish();
                one.hash(&mut all);
                runs += 1;
                if std::env::var_os("VERBOSE").is_some() {
                    println!(
                        "{tname:>12} {:>8} {:<32} records={records:<5} {one:016x} (cold {}, pre-warmed {})",
                        cal.backend, policy.name, p.counts.cold_starts, p.counts.units_prewarmed
                    );
                }
            }
        }
    }
    println!(
        "{runs} runs on {threads} threads ({sharded} in {shards} shards), output hash {:016x}",
        all.finish()
    );
}
