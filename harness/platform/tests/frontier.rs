//! The keep-alive frontier and the burstiness sweep on hand-built traces and stated models
//! (exact counts: the simulator runs in virtual time).

use unitlab_platform::calibration::Calibration;
use unitlab_platform::frontier::{
    burstiness_traces, run, sweep, FrontierModel, FrontierOptions, SweepTrace,
};
use unitlab_platform::policy::NS_PER_S;
use unitlab_platform::pricing::load_pricing;
use unitlab_platform::synth::{inv, MemTrace};
use unitlab_results::frontier::{Model, PointKind};

const MS: u64 = 1_000_000;
const S: u64 = NS_PER_S;

fn model(name: &str, startup_ns: u64, memory: u64) -> FrontierModel {
    FrontierModel {
        model: Model {
            label: name.into(),
            backend: name.into(),
            memory_bytes: Some(memory),
            startup_p50_ns: startup_ns,
            ..Model::default()
        },
        calibration: Calibration::assumed(name, startup_ns, memory),
    }
}

/// One function: arrivals at 0, 2, 4 and 100 s, 10 ms each.
fn trace() -> SweepTrace {
    let items = vec![
        inv(0, 0, 10 * MS),
        inv(2 * S, 0, 10 * MS),
        inv(4 * S, 0, 10 * MS),
        inv(100 * S, 0, 10 * MS),
    ];
    SweepTrace::collect("hand", MemTrace::new(items, "hand"), S).unwrap()
}

#[test]
fn keep_alive_trades_idle_cost_for_cold_starts_exactly() {
    let pricing = load_pricing(None).unwrap();
    let opts = FrontierOptions {
        keep_alives_ns: vec![0, S, 10 * S, 1200 * S],
        on_fractions: vec![],
        ..FrontierOptions::default()
    };
    let models = [
        model("container", 500 * MS, 1 << 30),
        model("wasm", 20_000, 64 << 10),
    ];
    let f = sweep(&trace(), &models, &pricing, &opts).unwrap();
    let c = &f.curves[0];
    let cold: Vec<u64> = c.points.iter().map(|p| p.cold_starts).collect();
    // keep-alive 0, 1 s, 10 s, 20 min, hybrid (falls back to 4 h: one cold start), peak.
    assert_eq!(cold, [4, 4, 2, 1, 1, 0]);
    let labels: Vec<&str> = c.points.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["0", "1 s", "10 s", "20 min", "hybrid", "peak"]);
    // Scale to zero: nothing is paid for waiting.
    let zero = c.scale_to_zero().unwrap();
    assert_eq!(zero.idle_gb_seconds, Some(0.0));
    assert_eq!(zero.idle_cost, Some(0.0));
    // 10 s keep-alive, 1 GiB unit: started 0..0.5 s, runs 0.5..0.51, idle to 2 (1.49 s), runs
    // 2..2.01, idle to 4 (1.99 s), runs 4..4.01, idles 10 s and expires; at 100 s a new unit
    // starts (..100.5), runs (..100.51) and idles 10 s: 23.48 GiB-s.
    let ka10 = &c.points[2];
    let idle = ka10.idle_gb_seconds.unwrap();
    assert!((idle - 23.48).abs() < 1e-9, "{idle}");
    let price = pricing.pay_per_use.as_ref().unwrap().gb_second;
    assert!((ka10.idle_cost.unwrap() - 23.48 * price).abs() < 1e-15);
    assert!((ka10.idle_cost_per_million.unwrap() - 23.48 * price / 4.0 * 1e6).abs() < 1e-9);
    // Container at keep-alive 0: every invocation waits 500 ms; p99 penalty = 500 ms.
    assert_eq!(zero.p99_penalty_ns.map(|v| v / MS), Some(500));
    assert_eq!(zero.cold_share, Some(1.0));
    // Provisioned for peak: one unit held over the span (100.01 s), 1 GiB, at $/GiB-hour.
    let peak = c.point(PointKind::ProvisionedForPeak).unwrap();
    assert_eq!(peak.units, 1);
    assert_eq!(peak.p99_penalty_ns, Some(0));
    // A 10 ms target: the container needs the 20 min keep-alive (one cold start in four is
    // above p99, so 10 s, with two, is not enough); wasm scales to zero.
    let target = 10 * MS;
    assert_eq!(
        c.cheapest_meeting(target).map(|p| p.label.as_str()),
        None,
        "one cold start in four invocations is always above p99"
    );
    let w = &f.curves[1];
    assert_eq!(
        w.cheapest_meeting(target).map(|p| p.label.as_str()),
        Some("0")
    );
    // Every invocation waits 20 us for its Wasm instance (to the start-up histogram's 0.8%).
    let p = w.scale_to_zero().unwrap().p99_penalty_ns.unwrap();
    assert!((20_000..=20_160).contains(&p), "{p}");
}

#[test]
fn burstiness_traces_share_the_mean_rate_and_grow_in_dispersion() {
    let opts = FrontierOptions {
        burst_span_s: 600.0,
        burst_rate_per_s: 2.0,
        ..FrontierOptions::default()
    };
    let t = burstiness_traces(&opts).unwrap();
    assert_eq!(t.len(), 6);
    let d: Vec<f64> = t
        .iter()
        .map(|t| t.summary.dispersion_index.unwrap())
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
    // Poisson first (dispersion near 1), the burstiest last and far above it.
    assert_eq!(t[0].summary.on_fraction, Some(1.0));
    assert!(d[0] < 1.5 && d[5] > 5.0 * d[0], "{d:?}");
    for x in &t {
        let r = x.summary.mean_rate_per_s.unwrap();
        assert!((0.5..4.0).contains(&r), "{}: {r}/s", x.summary.name);
    }
}

#[test]
fn run_orders_models_by_the_spectrum_and_fills_every_sweep() {
    let pricing = load_pricing(None).unwrap();
    let opts = FrontierOptions {
        keep_alives_ns: vec![0, 60 * S],
        on_fractions: vec![1.0, 0.1],
        burst_span_s: 120.0,
        ..FrontierOptions::default()
    };
    let models = [
        model("wasm", 20_000, 64 << 10),
        model("container", 500 * MS, 4 << 20),
    ];
    let r = run(&[trace()], &models, &pricing, &opts, None).unwrap();
    let names: Vec<&str> = r.models.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(names, ["container", "wasm"]);
    assert_eq!(r.frontiers.len(), 1);
    assert_eq!(r.burstiness.len(), 2);
    for f in r.frontiers.iter().chain(&r.burstiness) {
        assert_eq!(f.curves.len(), 2);
        // 2 keep-alives, hybrid, peak.
        assert!(f.curves.iter().all(|c| c.points.len() == 4));
    }
    let json = serde_json::to_string(&r).unwrap();
    let back: unitlab_results::frontier::FrontierResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back.models, r.models);
    assert_eq!(back.burstiness.len(), 2);
}
