//! `simulate_runs` (several runs from one read of the trace, on worker threads, runs without
//! a cap or records split into shards of functions) gives exactly what `simulate` gives run
//! by run, whatever the thread and shard counts: a smaller version of the `output_hash`
//! example's grid (counts, unit time, GB-s, peak, latency histograms, timeline and records
//! compared as text).

use unitlab_platform::calibration::{Calibration, Execution, Startup};
use unitlab_platform::parallel::{shardable, simulate_runs, simulate_runs_sharded, SimRun, CHUNK};
use unitlab_platform::policy::{Cap, KeepAlive, OnFull, PickRule, Policy, NS_PER_S};
use unitlab_platform::sim::{simulate, SimOptions, SimOutcome};
use unitlab_platform::synth::{multi_function, AzureLikeDay};
use unitlab_platform::PlatformError;
use unitlab_workloads::{Invocation, TraceError};

fn policies() -> Vec<Policy> {
    let mut out = vec![
        Policy::no_keep_alive(),
        Policy::fixed(600 * NS_PER_S),
        Policy::hybrid(),
        Policy::provisioned(2, KeepAlive::Fixed { ns: 60 * NS_PER_S }),
    ];
    let mut p = Policy::fixed(30 * NS_PER_S);
    p.pick = PickRule::Lru;
    p.concurrency = 3;
    out.push(p);
    let mut p = Policy::fixed(20 * NS_PER_S);
    p.cap = Some(Cap {
        max_units: 6,
        on_full: OnFull::Queue,
    });
    out.push(p);
    out
}

fn calibrations() -> Vec<Calibration> {
    let mut spread = Calibration::assumed("spread", 2_000_000, 32 << 20);
    spread.startup = Startup::Percentiles {
        points: vec![(0.0, 1_000_000), (0.5, 2_000_000), (1.0, 30_000_000)],
    };
    spread.first_invoke_extra_ns = 150_000;
    // Exponential execution times: draws from the run's generator at every invocation.
    let mut exp = Calibration::ideal(Some(1 << 20));
    exp.execution = Execution::Exponential { mean_ns: 40e6 };
    vec![spread, exp]
}

fn text(out: &SimOutcome) -> String {
    let p = &out.platform;
    format!(
        "{:?}{:?}{:?}{:?}{:?}",
        p.counts,
        p.usage,
        p.latency,
        p.timeline(),
        p.records
    )
}

fn opts() -> SimOptions {
    SimOptions {
        seed: 3,
        records: false,
        bin_ns: 5 * NS_PER_S,
        functions: 12,
        progress: None,
    }
}

fn check(trace: &[Invocation]) {
    let (policies, cals) = (policies(), calibrations());
    let mut runs = Vec::new();
    for cal in &cals {
        for policy in &policies {
            runs.push(SimRun {
                policy,
                calibration: cal,
                options: opts(),
            });
        }
    }
    // Records keep a run whole (their order and unit ids are the whole run's).
    runs.push(SimRun {
        policy: &policies[1],
        calibration: &cals[0],
        options: SimOptions {
            records: true,
            ..opts()
        },
    });
    let shardable_runs = runs.iter().filter(|r| shardable(r)).count();
    // Every policy but the capped one, with either calibration.
    assert_eq!(shardable_runs, 2 * (policies.len() - 1));
    let alone: Vec<String> = runs
        .iter()
        .map(|r| {
            text(
                &simulate(
                    trace.iter().copied().map(Ok),
                    r.policy,
                    r.calibration,
                    &r.options,
                )
                .expect("simulation runs"),
            )
        })
        .collect();
    // (threads, shards): 1, 2 and 8 threads with as many shards, 3 shards on 2 threads, and
    // the default (runs enough to fill 8 threads: none sharded).
    for (threads, shards) in [(1, 1), (2, 2), (8, 8), (2, 3), (8, 0)] {
        let (outs, read) = if shards == 0 {
            simulate_runs(trace.iter().copied().map(Ok), &runs, threads)
        } else {
            simulate_runs_sharded(trace.iter().copied().map(Ok), &runs, threads, shards)
        }
        .expect("runs");
        let shards = shards.max(1);
        assert_eq!(read.shards, shards);
        let sharded = if shards > 1 { shardable_runs } else { 0 };
        assert_eq!(read.sharded_runs, sharded);
        assert_eq!(read.invocations, trace.len() as u64);
        assert_eq!(
            read.last_arrival_ns,
            trace.last().map_or(0, |i| i.arrival_ns)
        );
        assert_eq!(outs.len(), runs.len());
        for (k, (out, want)) in outs.iter().zip(&alone).enumerate() {
            let got = text(out);
            // The first difference, in context (the texts are long).
            let at = got
                .bytes()
                .zip(want.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            let around = |t: &str| t[at.saturating_sub(120)..(at + 120).min(t.len())].to_string();
            assert!(
                got == *want,
                "run {k} ({} under {}) differs with {threads} threads, {shards} shards:\n got ...{}...\nwant ...{}...",
                runs[k].calibration.backend,
                runs[k].policy.name,
                around(&got),
                around(want)
            );
        }
    }
}

#[test]
fn same_outputs_for_1_2_and_8_threads() {
    // Two chunks (arrivals cross a chunk boundary), 12 functions.
    let busy = multi_function(12, 1_500.0, 12.0, 7);
    assert!(busy.len() > CHUNK, "{} invocations", busy.len());
    check(&busy);
    // Sparse functions over two hours: idle times from seconds to an hour, pre-warms.
    let sparse: Vec<Invocation> = AzureLikeDay::new(12, 120, 3_000.0, 5)
        .collect::<Result<_, _>>()
        .expect("synthetic day");
    check(&sparse);
    // Bursts: arrivals at 20 ms steps, durations in 10 ms steps, so that a function's starts
    // and completions tie (its simultaneous events are ordered by its own history, not by
    // slab indices that depend on the other functions).
    let bursts: Vec<Invocation> = multi_function(12, 400.0, 10.0, 9)
        .into_iter()
        .map(|i| Invocation {
            arrival_ns: i.arrival_ns / 20_000_000 * 20_000_000,
            duration_ns: i.duration_ns.map(|d| d / 10_000_000 * 10_000_000),
            ..i
        })
        .collect();
    check(&bursts);
}

#[test]
fn errors_are_the_earliest_runs_or_the_traces() {
    let cal = Calibration::ideal(Some(1 << 20));
    let (a, b) = (Policy::no_keep_alive(), Policy::fixed(60 * NS_PER_S));
    let runs = [
        SimRun {
            policy: &a,
            calibration: &cal,
            options: opts(),
        },
        SimRun {
            policy: &b,
            calibration: &cal,
            options: opts(),
        },
    ];
    let mut unsorted = multi_function(3, 100.0, 400.0, 1);
    let n = unsorted.len();
    unsorted.swap(n - 10, n - 20);
    // Missing durations in two functions: the earliest in the trace is the error, however
    // the functions are sharded.
    let mut missing = multi_function(3, 100.0, 400.0, 1);
    let early = n - 50;
    let late = (early + 1..n)
        .find(|&i| missing[i].function != missing[early].function)
        .expect("another function");
    missing[late].duration_ns = None;
    missing[early].duration_ns = None;
    assert_ne!(missing[late].function, missing[early].function);
    for (threads, shards) in [(1, 1), (2, 1), (2, 2), (2, 3)] {
        match simulate_runs_sharded(unsorted.iter().copied().map(Ok), &runs, threads, shards) {
            Err(PlatformError::Unsorted { seq, .. }) => assert_eq!(seq, n as u64 - 19),
            Err(e) => panic!("expected Unsorted, got {e}"),
            Ok(_) => panic!("expected Unsorted, got outcomes"),
        }
        let bad = multi_function(3, 100.0, 400.0, 1)
            .into_iter()
            .map(Ok)
            .take(CHUNK + 5)
            .chain(std::iter::once(Err(TraceError::parse(
                "t.csv", 7, 2, "bad",
            ))));
        match simulate_runs_sharded(bad, &runs, threads, shards) {
            Err(PlatformError::Trace(e)) => assert_eq!(e.to_string(), "t.csv:7:2: bad"),
            Err(e) => panic!("expected the trace's error, got {e}"),
            Ok(_) => panic!("expected the trace's error, got outcomes"),
        }
        match simulate_runs_sharded(missing.iter().copied().map(Ok), &runs, threads, shards) {
            Err(PlatformError::MissingDuration { seq }) => assert_eq!(seq, early as u64),
            Err(e) => panic!("expected MissingDuration, got {e}"),
            Ok(_) => panic!("expected MissingDuration, got outcomes"),
        }
    }
}
