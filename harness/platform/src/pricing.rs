//! From a finished [`Platform`] to a [`PlatformRun`]: counts, latency summaries, unit-seconds
//! and GB-seconds by state, money, what waiting cost and what avoiding cold starts cost.
//! Replay and simulation both go through [`build_run`]; the definitions are in
//! `unitlab_results::platform`'s module docs (and the README).

use hdrhistogram::Histogram;
use unitlab_results::platform::{
    AvoidanceCost, CalibrationRecord, Costs, Latencies, MemorySource, ModelCost, PlatformRun,
    Pricing, RunKind, StateSplit, Usage, WaitingCost,
};
use unitlab_results::Summary;

use crate::platform::{LogHist, Platform};

/// Summarises a histogram of ns the way `Summary::from_nanos` summarises raw samples: the
/// percentiles, min, max and mean are the histogram's (its significant digits), the standard
/// deviation is the population one, outliers are counted against Tukey fences computed from
/// the histogram's quartiles. `zeros` are counted in `zero_samples`, not analysed.
pub fn summary_from_histogram(h: &Histogram<u64>, zeros: u64) -> Summary {
    let n = h.len();
    let mut s = Summary {
        count: n + zeros,
        zero_samples: zeros,
        ..Summary::default()
    };
    if n == 0 {
        return s;
    }
    s.min = Some(h.min());
    s.max = Some(h.max());
    // As in `Summary::from_nanos`: a quantile's bucket top can lie above the largest sample.
    let q = |p: f64| Some(h.value_at_quantile(p).min(h.max()));
    s.p50 = q(0.5);
    s.p90 = q(0.9);
    s.p99 = q(0.99);
    s.p999 = q(0.999);
    s.mean = Some(h.mean());
    if n > 1 {
        s.stdev = Some(h.stdev());
    }
    if n >= 4 {
        let q1 = h.value_at_quantile(0.25) as f64;
        let q3 = h.value_at_quantile(0.75) as f64;
        let iqr = q3 - q1;
        for v in h.iter_recorded() {
            let x = h.median_equivalent(v.value_iterated_to()) as f64;
            let c = v.count_at_value();
            if x > q3 + 3.0 * iqr || x < q1 - 3.0 * iqr {
                s.severe_outliers += c;
            } else if x > q3 + 1.5 * iqr || x < q1 - 1.5 * iqr {
                s.mild_outliers += c;
            }
        }
    }
    s
}

/// Summarises a [`LogHist`]: percentiles and spread from its bins (0.8% wide), count, min,
/// max and mean exact.
pub fn summary_from_loghist(h: &LogHist, zeros: u64) -> Summary {
    let mut s = summary_from_histogram(&h.to_hdr(), zeros);
    if let Some((min, max, mean)) = h.exact() {
        s.min = Some(min);
        s.max = Some(max);
        s.mean = Some(mean);
    }
    s
}

/// Inputs of [`build_run`] beyond the platform itself.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Replay or simulate.
    pub kind: RunKind,
    /// Backend name.
    pub backend: String,
    /// How unit memory was obtained (see `MemorySource::kind`).
    pub memory_kind: String,
    /// Calibration (simulation).
    pub calibration: Option<CalibrationRecord>,
    /// Wall-clock seconds of the run.
    pub run_seconds: f64,
    /// Latencies are divided by this (replay with a time scale: back to wall-clock ns).
    pub latency_divisor: f64,
    /// Warnings collected by the caller.
    pub warnings: Vec<String>,
}

const GB: u128 = 1_000_000_000;
const NS: u128 = 1_000_000_000;

/// `a / b` from exact integers: whole part exact, fraction rounded once.
fn ratio(a: u128, b: u128) -> f64 {
    (a / b) as f64 + (a % b) as f64 / b as f64
}

/// Builds the run record. `avoidance` is filled later by [`compare_with_baseline`].
pub fn build_run(p: &Platform, pricing: &Pricing, info: RunInfo) -> PlatformRun {
    let mut counts = p.counts.clone();
    let ran = counts.cold_starts + counts.warm_starts;
    counts.cold_rate = (ran > 0).then(|| counts.cold_starts as f64 / ran as f64);

    let l = &p.latency;
    let div = info.latency_divisor;
    let scale = |s: Summary| scale_summary(s, div);
    let mut e2e = l.e2e_cold.clone();
    e2e.merge(&l.e2e_warm);
    let latency = Latencies {
        queue_wait: scale(summary_from_loghist(&l.queue, l.zeros[0])),
        startup: scale(summary_from_loghist(&l.startup, l.zeros[1])),
        execution: scale(summary_from_loghist(&l.exec, l.zeros[2])),
        end_to_end: scale(summary_from_loghist(&e2e, l.zeros[3] + l.zeros[4])),
        end_to_end_cold: scale(summary_from_loghist(&l.e2e_cold, l.zeros[3])),
        end_to_end_warm: scale(summary_from_loghist(&l.e2e_warm, l.zeros[4])),
    };

    let u = &p.usage;
    let unit_seconds = StateSplit {
        starting: ratio(u.starting_ns, NS),
        executing: ratio(u.executing_ns, NS),
        idle: ratio(u.idle_ns, NS),
    };
    let gb_seconds = (u.units_without_memory == 0).then(|| StateSplit {
        starting: ratio(u.starting_byte_ns, NS * GB),
        executing: ratio(u.executing_byte_ns, NS * GB),
        idle: ratio(u.idle_byte_ns, NS * GB),
    });
    let window_s = u.window_end_ns as f64 / 1e9;
    let per_window = |x: f64| (window_s > 0.0).then(|| x / window_s);
    let alive = unit_seconds.alive();
    let usage = Usage {
        unit_seconds,
        gb_seconds,
        window_s,
        mean_live_units: per_window(alive),
        mean_idle_units: per_window(unit_seconds.idle),
        mean_executing_units: per_window(unit_seconds.executing),
        peak_live_units: u.peak_live,
        idle_share: (alive > 0.0).then(|| unit_seconds.idle / alive),
    };
    let memory_source = MemorySource {
        kind: info.memory_kind.clone(),
        mean_bytes_per_unit: (u.units_with_memory > 0)
            .then(|| u.memory_sum as f64 / u.units_with_memory as f64),
    };
    let costs = costs(&usage, counts.invocations, pricing);
    let waiting = WaitingCost {
        idle_unit_seconds: unit_seconds.idle,
        idle_gb_seconds: gb_seconds.map(|g| g.idle),
        pay_per_use: match (&pricing.pay_per_use, gb_seconds) {
            (Some(pp), Some(g)) => Some(g.idle * pp.memory_unit.from_decimal_gb() * pp.gb_second),
            _ => None,
        },
        provisioned: match (&pricing.provisioned, gb_seconds) {
            (Some(pr), Some(g)) => {
                Some(g.idle * pr.memory_unit.from_decimal_gb() * pr.gb_hour / 3600.0)
            }
            _ => None,
        },
        idle_share: usage.idle_share,
    };
    let mut warnings = info.warnings;
    if u.units_without_memory > 0 {
        warnings.push(format!(
            "{} units have no known memory: GB-s and GB-based costs are not computed; give the simulator a calibration with memory, or --unit-memory",
            u.units_without_memory
        ));
    }
    let ips = (info.run_seconds > 0.0).then(|| counts.invocations as f64 / info.run_seconds);
    PlatformRun {
        kind: info.kind,
        backend: info.backend,
        policy: p.policy().name.clone(),
        policy_settings: p.policy().settings(),
        facts: p.policy().facts(),
        counts,
        latency,
        usage,
        memory_source,
        costs,
        waiting,
        avoidance: None,
        calibration: info.calibration,
        run_seconds: info.run_seconds,
        invocations_per_second: ips,
        warnings,
        harness: None,
    }
}

fn scale_summary(mut s: Summary, div: f64) -> Summary {
    if div == 1.0 {
        return s;
    }
    let f = |v: Option<u64>| v.map(|x| (x as f64 / div).round() as u64);
    s.min = f(s.min);
    s.p50 = f(s.p50);
    s.p90 = f(s.p90);
    s.p99 = f(s.p99);
    s.p999 = f(s.p999);
    s.max = f(s.max);
    s.mean = s.mean.map(|m| m / div);
    s.stdev = s.stdev.map(|m| m / div);
    s
}

/// Money under each pricing model (see the results module docs for the definitions). Usage
/// is in decimal GB-s; each model's price applies per its own `memory_unit` (a GiB-priced
/// model bills 10^9 / 2^30 = 0.93 of the decimal GB-s).
pub fn costs(usage: &Usage, invocations: u64, pricing: &Pricing) -> Costs {
    let g = usage.gb_seconds;
    let us = usage.unit_seconds;
    let mreq = invocations as f64 / 1e6;
    Costs {
        pay_per_use: match (&pricing.pay_per_use, g) {
            (Some(pp), Some(g)) => {
                let req = mreq * pp.per_million_requests;
                let price = pp.gb_second * pp.memory_unit.from_decimal_gb();
                Some(ModelCost {
                    billed: g.executing * price + req,
                    idle: g.idle * price,
                    starting: g.starting * price,
                    alive: g.alive() * price + req,
                })
            }
            _ => None,
        },
        provisioned: match (&pricing.provisioned, g) {
            (Some(pr), Some(g)) => {
                let r = pr.gb_hour / 3600.0 * pr.memory_unit.from_decimal_gb();
                Some(ModelCost {
                    billed: g.alive() * r,
                    idle: g.idle * r,
                    starting: g.starting * r,
                    alive: g.alive() * r,
                })
            }
            _ => None,
        },
        cpu_time: pricing.cpu_time.as_ref().map(|c| {
            let req = mreq * c.per_million_requests;
            ModelCost {
                billed: us.executing * c.vcpu_second + req,
                idle: 0.0,
                starting: us.starting * c.vcpu_second,
                alive: (us.starting + us.executing) * c.vcpu_second + req,
            }
        }),
    }
}

/// Fills `run.avoidance` against `baseline` (the no-keep-alive run of the same trace).
pub fn compare_with_baseline(run: &mut PlatformRun, baseline: &PlatformRun, pricing: &Pricing) {
    let avoided = baseline.counts.cold_starts as i64 - run.counts.cold_starts as i64;
    let waste = |r: &PlatformRun| r.usage.unit_seconds.starting + r.usage.unit_seconds.idle;
    let waste_gb = |r: &PlatformRun| r.usage.gb_seconds.map(|g| g.starting + g.idle);
    let extra_gb = match (waste_gb(run), waste_gb(baseline)) {
        (Some(a), Some(b)) => Some(a - b),
        _ => None,
    };
    let per = |x: Option<f64>| match x {
        Some(v) if avoided > 0 => Some(v / avoided as f64),
        _ => None,
    };
    let extra_cost = match (&pricing.pay_per_use, extra_gb) {
        (Some(pp), Some(g)) => Some(g * pp.memory_unit.from_decimal_gb() * pp.gb_second),
        _ => None,
    };
    let diff = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    run.avoidance = Some(AvoidanceCost {
        baseline: baseline.policy.clone(),
        cold_starts_avoided: avoided,
        extra_gb_seconds: extra_gb,
        extra_unit_seconds: waste(run) - waste(baseline),
        gb_seconds_per_avoided_cold_start: per(extra_gb),
        extra_cost_pay_per_use: extra_cost,
        cost_per_avoided_cold_start: per(extra_cost),
        mean_latency_saved_ns: diff(
            run.latency.end_to_end.mean,
            baseline.latency.end_to_end.mean,
        ),
        p99_latency_saved_ns: diff(
            run.latency.end_to_end.p99.map(|v| v as f64),
            baseline.latency.end_to_end.p99.map(|v| v as f64),
        ),
    });
}

/// Loads a pricing TOML file, or the default shipped with the crate (`pricing.toml`).
pub fn load_pricing(path: Option<&std::path::Path>) -> Result<Pricing, crate::PlatformError> {
    let (text, name) = match path {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| crate::PlatformError::Io {
                path: p.display().to_string(),
                source: e,
            })?,
            p.display().to_string(),
        ),
        None => (
            DEFAULT_PRICING.to_string(),
            "built-in pricing.toml".to_string(),
        ),
    };
    toml::from_str(&text).map_err(|e| crate::PlatformError::Config {
        what: name,
        message: format!("{e}\n  fix: see harness/platform/pricing.toml for the format"),
    })
}

/// The default pricing file's text.
pub const DEFAULT_PRICING: &str = include_str!("../pricing.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pricing_parses() {
        let p = load_pricing(None).unwrap();
        assert!(p.pay_per_use.is_some() && p.provisioned.is_some() && p.cpu_time.is_some());
    }

    #[test]
    fn loghist_summary_is_close_to_raw_summary() {
        let v: Vec<u64> = (1..=10_000).map(|i| i * 997).collect();
        let mut h = LogHist::default();
        for &x in &v {
            h.record(x);
        }
        let a = summary_from_loghist(&h, 0);
        let b = Summary::from_nanos(&v);
        assert_eq!(
            (a.count, a.min, a.max, a.mean),
            (b.count, b.min, b.max, b.mean)
        );
        for (x, y) in [(a.p50, b.p50), (a.p90, b.p90), (a.p99, b.p99)] {
            let (x, y) = (x.unwrap() as f64, y.unwrap() as f64);
            assert!((x - y).abs() / y < 0.01, "{x} vs {y}");
        }
        // Small values are exact.
        let mut h = LogHist::default();
        h.record(5);
        assert_eq!(summary_from_loghist(&h, 0).p50, Some(5));
    }

    #[test]
    fn histogram_summary_matches_raw_summary() {
        let v: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        let mut h = Histogram::<u64>::new_with_bounds(1, 86_400_000_000_000, 3).unwrap();
        for &x in &v {
            h.record(x).unwrap();
        }
        let a = summary_from_histogram(&h, 0);
        let b = Summary::from_nanos(&v);
        assert_eq!(a.count, b.count);
        assert_eq!(a.p50, b.p50);
        assert_eq!(a.p99, b.p99);
        let rel = |x: f64, y: f64| (x - y).abs() / y;
        assert!(rel(a.mean.unwrap(), b.mean.unwrap()) < 1e-3);
    }
}
