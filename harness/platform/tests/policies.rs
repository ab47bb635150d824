//! Exact tests of every policy on hand-built traces, through the simulator (virtual time, so
//! every figure is exact to the nanosecond).

use unitlab_platform::calibration::{Calibration, Startup};
use unitlab_platform::policy::{Cap, HybridParams, KeepAlive, OnFull, PickRule, Policy, NS_PER_S};
use unitlab_platform::sim::{simulate, SimOptions, SimOutcome};
use unitlab_platform::synth::{inv, multi_function};
use unitlab_results::platform::Outcome;
use unitlab_workloads::Invocation;

const S: u64 = NS_PER_S;
const GB: u64 = 1_000_000_000;

fn cal(startup_ns: u64) -> Calibration {
    let mut c = Calibration::ideal(Some(GB));
    c.startup = Startup::Fixed { ns: startup_ns };
    c
}

fn run(items: Vec<Invocation>, policy: &Policy, cal: &Calibration) -> SimOutcome {
    let functions = items.iter().map(|i| i.function + 1).max().unwrap_or(0);
    simulate(
        items.into_iter().map(Ok),
        policy,
        cal,
        &SimOptions {
            seed: 1,
            records: true,
            bin_ns: S,
            functions,
            progress: None,
        },
    )
    .expect("simulation runs")
}

/// Three invocations 5 minutes apart, 1 s each, 0.5 s start-up, 10-minute keep-alive, 1 GB
/// units: one cold start; the unit starts 0..0.5, runs 0.5..1.5, 300..301, 600..601, idles
/// 1.5..300, 301..600, and 601..1201 (the keep-alive after the last invocation).
#[test]
fn keep_alive_three_invocations_five_minutes_apart() {
    let items = vec![inv(0, 0, S), inv(300 * S, 0, S), inv(600 * S, 0, S)];
    let out = run(items, &Policy::fixed(600 * S), &cal(S / 2));
    let p = &out.platform;
    assert_eq!(p.counts.cold_starts, 1);
    assert_eq!(p.counts.warm_starts, 2);
    assert_eq!(p.counts.units_started, 1);
    let idle_ns = (300 * S - 3 * S / 2) + (299 * S) + 600 * S;
    assert_eq!(p.usage.idle_ns, idle_ns as u128);
    assert_eq!(p.usage.executing_ns, (3 * S) as u128);
    assert_eq!(p.usage.starting_ns, (S / 2) as u128);
    // 1 GB units: byte-ns = GB x ns.
    assert_eq!(p.usage.idle_byte_ns, idle_ns as u128 * GB as u128);
    assert_eq!(p.usage.window_end_ns, 1201 * S);
    let u = &p.records.units[0];
    assert_eq!(
        (u.created_ns, u.ready_ns, u.destroyed_ns),
        (0, Some(S / 2), 1201 * S)
    );
    let inv = &p.records.invocations;
    assert_eq!(inv[0].e2e_ns, 3 * S / 2);
    assert_eq!(inv[0].startup_ns, S / 2);
    assert!(inv[0].cold && !inv[1].cold && !inv[2].cold);
    assert_eq!(inv[1].e2e_ns, S);

    // The run record: 1197.5 idle unit-s = 1197.5 GB-s, priced.
    let pricing = unitlab_platform::pricing::load_pricing(None).unwrap();
    let r = unitlab_platform::validate::sim_run("ideal", p, 1.0, &cal(S / 2), &pricing);
    assert_eq!(r.usage.unit_seconds.idle, 1197.5);
    assert_eq!(r.usage.gb_seconds.unwrap().idle, 1197.5);
    assert_eq!(r.counts.cold_rate, Some(1.0 / 3.0));
    // The shipped prices are per GiB-s (as Lambda counts a GB): 1 GB = 10^9 / 2^30 GiB.
    let gib = 1e9 / 1_073_741_824.0;
    let ppu = r.costs.pay_per_use.unwrap();
    assert!((ppu.idle - 1197.5 * gib * 0.0000166667).abs() < 1e-12);
    assert!((ppu.billed - (3.0 * gib * 0.0000166667 + 3.0 / 1e6 * 0.20)).abs() < 1e-12);
}

/// No keep-alive: every invocation starts its own unit, nothing idles.
#[test]
fn no_keep_alive_is_always_cold() {
    let items = vec![inv(0, 0, S), inv(300 * S, 0, S), inv(600 * S, 0, S)];
    let out = run(items, &Policy::no_keep_alive(), &cal(S / 2));
    let p = &out.platform;
    assert_eq!(p.counts.cold_starts, 3);
    assert_eq!(p.counts.units_started, 3);
    assert_eq!(p.usage.idle_ns, 0);
    assert_eq!(p.usage.starting_ns, (3 * S / 2) as u128);
    assert_eq!(p.usage.executing_ns, (3 * S) as u128);
}

/// The keep-alive window is half-open: an arrival exactly when the unit expires is cold.
#[test]
fn keep_alive_boundary() {
    let items = vec![inv(0, 0, S), inv(11 * S - 1, 0, S), inv(22 * S, 0, S)];
    let out = run(items, &Policy::fixed(10 * S), &cal(0));
    // Unit idle from 1 s; second arrival at 11 s - 1 ns is warm; idle again from 12 s - 1 ns,
    // expires at 22 s - 1 ns, before the third arrival.
    assert_eq!(out.platform.counts.cold_starts, 2);
    let items = vec![inv(0, 0, S), inv(11 * S, 0, S)];
    let out = run(items, &Policy::fixed(10 * S), &cal(0));
    assert_eq!(
        out.platform.counts.cold_starts, 2,
        "arrival at expiry is cold"
    );
}

/// One provisioned unit, overflow with no keep-alive: two simultaneous arrivals, one warm on
/// the provisioned unit and one cold; the provisioned unit idles until the end of the run.
#[test]
fn provisioned_with_overflow() {
    let items = vec![inv(0, 0, 2 * S), inv(0, 0, 2 * S), inv(10 * S, 0, S)];
    let out = run(items, &Policy::provisioned(1, KeepAlive::None), &cal(S));
    let p = &out.platform;
    assert_eq!(p.counts.units_provisioned, 1);
    assert_eq!(p.counts.cold_starts, 1);
    assert_eq!(p.counts.warm_starts, 2);
    assert_eq!(p.counts.units_started, 1);
    // Overflow unit: starting 0..1, executing 1..3, destroyed at 3. Provisioned: executing
    // 0..2 and 10..11, idle 2..10; destroyed at the end of the run (11 s).
    assert_eq!(p.usage.starting_ns, S as u128);
    assert_eq!(p.usage.executing_ns, (2 * S + 2 * S + S) as u128);
    assert_eq!(p.usage.idle_ns, (8 * S) as u128);
    assert_eq!(p.usage.window_end_ns, 11 * S);
}

fn capped(on_full: OnFull) -> Policy {
    let mut p = Policy::fixed(600 * S);
    p.cap = Some(Cap {
        max_units: 1,
        on_full,
    });
    p
}

/// Cap of one unit, queueing: a second invocation of the same function waits for the unit;
/// one of another function waits, then the idle unit is evicted to start its own.
#[test]
fn cap_with_queueing() {
    let items = vec![inv(0, 0, S), inv(0, 0, S), inv(S / 2, 1, S)];
    let out = run(items, &capped(OnFull::Queue), &cal(0));
    let p = &out.platform;
    let r = &p.records.invocations;
    let by_seq = |s: u64| r.iter().find(|x| x.seq == s).unwrap();
    assert_eq!(p.counts.queued, 2);
    assert_eq!(p.counts.rejected, 0);
    // seq 1 (f0) waited 1 s for unit 0 (FIFO per function first), warm.
    assert_eq!(by_seq(1).queue_ns, S);
    assert!(!by_seq(1).cold);
    assert_eq!(by_seq(1).unit, Some(0));
    // seq 2 (f1) waited from 0.5 s until unit 0 was free at 2 s and evicted; cold on unit 1.
    assert_eq!(by_seq(2).queue_ns, 2 * S - S / 2);
    assert!(by_seq(2).cold);
    assert_eq!(by_seq(2).unit, Some(1));
    assert_eq!(by_seq(2).e2e_ns, 3 * S - S / 2);
    assert_eq!(p.counts.units_evicted, 1);
    assert_eq!(p.usage.peak_live, 1);
}

/// Cap of one unit, rejection.
#[test]
fn cap_with_rejection() {
    let items = vec![inv(0, 0, S), inv(0, 0, S), inv(2 * S, 1, S)];
    let out = run(items, &capped(OnFull::Reject), &cal(0));
    let p = &out.platform;
    assert_eq!(p.counts.rejected, 1);
    let rej: Vec<_> = p
        .records
        .invocations
        .iter()
        .filter(|r| r.outcome == Outcome::Rejected)
        .collect();
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].seq, 1);
    // f1 at 2 s: the cap is full of f0's idle unit, which is evicted (not rejected).
    assert_eq!(p.counts.units_evicted, 1);
    assert_eq!(p.counts.cold_starts, 2);
}

/// Pick rules: unit 0 runs 2 s, unit 1 runs 1 s; at 3 s both are idle, unit 1 since 1 s and
/// unit 0 since 2 s. MRU takes unit 0 (free most recently), LRU unit 1 (free longest), newest
/// unit 1 (created last).
#[test]
fn pick_rules() {
    for (rule, want) in [
        (PickRule::Mru, 0),
        (PickRule::Lru, 1),
        (PickRule::Newest, 1),
    ] {
        let items = vec![inv(0, 0, 2 * S), inv(0, 0, S), inv(3 * S, 0, S)];
        let mut p = Policy::fixed(600 * S);
        p.pick = rule;
        let out = run(items, &p, &cal(0));
        let r = &out.platform.records.invocations;
        let third = r.iter().find(|x| x.seq == 2).unwrap();
        assert_eq!(third.unit, Some(want), "{rule:?}");
        assert!(!third.cold);
    }
}

/// Concurrency 2: the second simultaneous arrival shares the first unit (started in no time),
/// the third starts another. At 1 s both units free up, unit 1 last; at 5 s MRU picks unit 1.
#[test]
fn concurrency_two() {
    let items = vec![inv(0, 0, S), inv(0, 0, S), inv(0, 0, S), inv(5 * S, 0, S)];
    let mut p = Policy::fixed(600 * S);
    p.concurrency = 2;
    let out = run(items, &p, &cal(0));
    let pl = &out.platform;
    assert_eq!(pl.counts.cold_starts, 2);
    assert_eq!(pl.counts.warm_starts, 2);
    let r = &pl.records.invocations;
    assert_eq!(r.iter().filter(|x| x.unit == Some(0)).count(), 2);
    assert_eq!(r.iter().find(|x| x.seq == 3).unwrap().unit, Some(1));
    // Unit 0 runs two invocations at once from 0 to 1 s: 1 s of executing, not 2.
    let u0 = pl.records.units.iter().find(|u| u.unit == 0).unwrap();
    assert_eq!(
        (u0.executing_ns, u0.idle_ns, u0.invocations),
        (S, 600 * S, 2)
    );
    let u1 = pl.records.units.iter().find(|u| u.unit == 1).unwrap();
    assert_eq!((u1.executing_ns, u1.idle_ns), (2 * S, 4 * S + 600 * S));
}

/// Hybrid histogram: a function invoked every 30 minutes. After 3 idle times (bin 29 of a
/// 1-minute histogram), the policy unloads the unit after each execution, pre-warms one after
/// 29 min x 0.9 = 1566 s and keeps it until 30 min x 1.1 = 1980 s; every arrival stays warm
/// and each cycle idles 233 s instead of ~30 minutes.
#[test]
fn hybrid_histogram_prewarms() {
    let items: Vec<_> = (0..8).map(|k| inv(k * 1800 * S, 0, S)).collect();
    let h = HybridParams {
        min_samples: 3,
        ..HybridParams::default()
    };
    let mut p = Policy::hybrid();
    p.keep_alive = KeepAlive::Hybrid(h);
    let out = run(items, &p, &cal(0));
    let pl = &out.platform;
    assert_eq!(pl.counts.cold_starts, 1);
    assert_eq!(pl.counts.warm_starts, 7);
    assert_eq!(pl.counts.units_prewarmed, 4);
    assert_eq!(pl.counts.units_started, 5);
    assert_eq!(pl.usage.idle_ns, (3 * 1799 * S + 4 * 233 * S) as u128);
}

/// Same seed, same result; another seed draws other start-up latencies.
#[test]
fn deterministic_for_a_seed() {
    let items = multi_function(50, 200.0, 60.0, 7);
    let mut c = Calibration::ideal(Some(GB));
    c.startup = Startup::Percentiles {
        points: vec![(0.0, 1_000_000), (0.5, 5_000_000), (1.0, 50_000_000)],
    };
    let go = |seed| {
        let out = simulate(
            items.clone().into_iter().map(Ok),
            &Policy::fixed(10 * S),
            &c,
            &SimOptions {
                seed,
                records: true,
                bin_ns: S,
                functions: 50,
                progress: None,
            },
        )
        .unwrap();
        let p = out.platform;
        (
            p.counts.clone(),
            p.usage.starting_ns,
            p.usage.idle_ns,
            p.records.invocations.clone(),
        )
    };
    let a = go(3);
    let b = go(3);
    assert_eq!(a, b);
    let c2 = go(4);
    assert_ne!(a.1, c2.1);
}

/// The timeline's time-averages add up to the unit-seconds.
#[test]
fn timeline_matches_totals() {
    let items = multi_function(20, 50.0, 120.0, 1);
    let out = run(items, &Policy::fixed(30 * S), &cal(20_000_000));
    let p = &out.platform;
    let bins = p.timeline();
    let live: f64 = bins.iter().map(|b| b.live * b.width_s).sum();
    let exec: f64 = bins.iter().map(|b| b.executing * b.width_s).sum();
    let total_live = (p.usage.starting_ns + p.usage.executing_ns + p.usage.idle_ns) as f64 / 1e9;
    assert!(
        (live - total_live).abs() < 1e-6 * total_live,
        "{live} vs {total_live}"
    );
    assert!((exec - p.usage.executing_ns as f64 / 1e9).abs() < 1e-6 * total_live);
    let arrivals: u64 = bins.iter().map(|b| b.arrivals).sum();
    assert_eq!(arrivals, p.counts.invocations);
}
