//! The simulator against independent references.
//!
//! 1. **Closed form, short service** (exact up to O(lambda x s)): one function, Poisson
//!    arrivals at rate lambda, service s = 1 us << 1/lambda, zero start-up, fixed keep-alive T.
//!    A unit goes idle at arrival + s and expires T later, so an arrival is cold iff the gap to
//!    the previous one is >= s + T: P(cold) = exp(-lambda (s + T)). The unit is alive from each
//!    arrival for min(gap, s + T), so by renewal-reward the mean live units is
//!    E[min(gap, s+T)] / E[gap] = 1 - exp(-lambda (s + T)), and mean idle = that - lambda s.
//!    Tolerance: 4 standard errors of the estimate over n = 200 000 arrivals (binomial for the
//!    cold fraction: sqrt(p(1-p)/n) ~ 0.0011; the live fraction's is of the same order).
//!
//! 2. **M/M/infinity with keep-alive against SimFaaS** (Mahmoudi & Khazaei, "SimFaaS: A
//!    Performance Simulator for Serverless Computing Platforms", 2021; PyPI `simfaas` 0.2.2,
//!    `ServerlessSimulator`): Poisson arrivals (lambda), exponential service (mu), warm and
//!    cold service alike (zero start-up), deterministic expiration threshold T, routing to the
//!    newest idle instance, no cap. SimFaaS was run for 200 000 s (200 000 to 1 000 000
//!    arrivals) with seeds 1 and 2; its figures below are the mean of the two runs, which
//!    agreed to within 0.3% on every figure. Our run: the same parameters,
//!    `PickRule::Newest`, 300 000 arrivals. The busy-unit mean must also match the exact
//!    M/M/inf value lambda/mu (Little's law). Tolerance: 2% relative on P(cold), mean live and
//!    mean idle units; 1.5% on mean busy units. The script that produced the SimFaaS figures is
//!    reproduced at the end of this file.

use unitlab_platform::calibration::Calibration;
use unitlab_platform::policy::{PickRule, Policy, NS_PER_S};
use unitlab_platform::sim::{simulate, SimOptions};
use unitlab_platform::synth::poisson_exponential;
use unitlab_workloads::Invocation;

struct Figures {
    p_cold: f64,
    mean_live: f64,
    mean_busy: f64,
    mean_idle: f64,
}

fn sim(items: Vec<Invocation>, keep_alive_s: f64, pick: PickRule) -> Figures {
    let mut p = Policy::fixed((keep_alive_s * 1e9) as u64);
    p.pick = pick;
    let out = simulate(
        items.into_iter().map(Ok),
        &p,
        &Calibration::ideal(None),
        &SimOptions {
            seed: 0,
            records: false,
            bin_ns: 60 * NS_PER_S,
            functions: 1,
            progress: None,
        },
    )
    .unwrap();
    let pl = &out.platform;
    let w = pl.usage.window_end_ns as f64;
    Figures {
        p_cold: pl.counts.cold_starts as f64 / pl.counts.invocations as f64,
        mean_live: (pl.usage.starting_ns + pl.usage.executing_ns + pl.usage.idle_ns) as f64 / w,
        mean_busy: pl.usage.executing_ns as f64 / w,
        mean_idle: pl.usage.idle_ns as f64 / w,
    }
}

#[test]
fn short_service_matches_closed_form() {
    let (lambda, t, s) = (1.0, 1.0, 1e-6);
    let n = 200_000;
    let items: Vec<Invocation> = poisson_exponential(lambda, 1.0, n, 11)
        .into_iter()
        .map(|mut i| {
            i.duration_ns = Some((s * 1e9) as u64);
            i
        })
        .collect();
    let f = sim(items, t, PickRule::Mru);
    let p = (-lambda * (s + t)).exp();
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (f.p_cold - p).abs() < 4.0 * se,
        "P(cold) {} vs {p}",
        f.p_cold
    );
    let live = 1.0 - p;
    assert!(
        (f.mean_live - live).abs() < 4.0 * se,
        "live {} vs {live}",
        f.mean_live
    );
    assert!(
        (f.mean_idle - (live - lambda * s)).abs() < 4.0 * se,
        "idle {} vs {}",
        f.mean_idle,
        live - lambda * s
    );
}

fn check_simfaas(lambda: f64, mu: f64, t: f64, simfaas: [f64; 4]) {
    let n = 300_000;
    let f = sim(poisson_exponential(lambda, mu, n, 5), t, PickRule::Newest);
    let [p_cold, live, busy, idle] = simfaas;
    let rel = |a: f64, b: f64| (a - b).abs() / b;
    assert!(
        rel(f.p_cold, p_cold) < 0.02,
        "P(cold) {} vs SimFaaS {p_cold}",
        f.p_cold
    );
    assert!(
        rel(f.mean_live, live) < 0.02,
        "live {} vs SimFaaS {live}",
        f.mean_live
    );
    assert!(
        rel(f.mean_idle, idle) < 0.02,
        "idle {} vs SimFaaS {idle}",
        f.mean_idle
    );
    assert!(
        rel(f.mean_busy, busy) < 0.015,
        "busy {} vs SimFaaS {busy}",
        f.mean_busy
    );
    assert!(
        rel(f.mean_busy, lambda / mu) < 0.015,
        "busy {} vs lambda/mu",
        f.mean_busy
    );
}

/// lambda = 1/s, mu = 1/s, T = 2 s.
#[test]
fn mm_inf_keep_alive_matches_simfaas_a() {
    check_simfaas(1.0, 1.0, 2.0, [0.31388, 2.12599, 0.99840, 1.12753]);
}

/// lambda = 5/s, mu = 1/s, T = 0.5 s.
#[test]
fn mm_inf_keep_alive_matches_simfaas_b() {
    check_simfaas(5.0, 1.0, 0.5, [0.30639, 6.37717, 4.99375, 1.38343]);
}

/// lambda = 2/s, mu = 0.5/s, T = 1 s.
#[test]
fn mm_inf_keep_alive_matches_simfaas_c() {
    check_simfaas(2.0, 0.5, 1.0, [0.34851, 5.17779, 3.98956, 1.18823]);
}

// The SimFaaS runs (python3, simfaas 0.2.2 from PyPI, numpy seeded):
//
//   import sys, json, numpy as np
//   from simfaas.ServerlessSimulator import ServerlessSimulator as Sim
//   lam, mu, T, max_time, seed = [float(x) for x in sys.argv[1:6]]
//   np.random.seed(int(seed))
//   sim = Sim(arrival_rate=lam, warm_service_rate=mu, cold_service_rate=mu,
//             expiration_threshold=T, max_time=max_time, maximum_concurrency=10**9)
//   sim.generate_trace(debug_print=False, progress=False)
//   sim.calculate_time_lengths()
//   print(json.dumps({"p_cold": sim.get_cold_start_prob(),
//     "avg_server_count": sim.get_average_server_count(),
//     "avg_running_count": sim.get_average_server_running_count(),
//     "avg_idle_count": sim.get_average_server_idle_count()}))
//
// Outputs (seed 1 / seed 2), max_time 200000:
//   lam=1 mu=1 T=2:   p_cold 0.313843/0.313922  servers 2.124822/2.127166
//                     running 0.997100/0.999831  idle 1.127722/1.127335
//   lam=5 mu=1 T=0.5: p_cold 0.306395/0.306393  servers 6.378584/6.375763
//                     running 4.994152/4.993342  idle 1.384431/1.382421
//   lam=2 mu=0.5 T=1: p_cold 0.349024/0.347996  servers 5.173791/5.181790
//                     running 3.984940/3.994183  idle 1.188851/1.187607
