//! Statistical tests of the seeded generators: each one's empirical rate, inter-arrival CV
//! and burst structure against its parameters. Seeds are fixed, so these are deterministic;
//! each tolerance is stated next to its assertion, and chosen at about 3 standard errors or
//! more for the sample size used.

use unitlab_workloads::synth::{
    FlashCrowd, GenConfig, Mix, MixProcess, OnOff, Pattern, Popularity, Process, Synthetic,
};
use unitlab_workloads::trace::collect;
use unitlab_workloads::Invocation;

fn gen(p: Pattern, span_s: f64, seed: u64) -> Vec<Invocation> {
    let cfg = GenConfig {
        seed,
        span_s,
        ..Default::default()
    };
    collect(Synthetic::new(&p, &cfg).unwrap()).unwrap().1
}

fn arrivals_s(v: &[Invocation]) -> Vec<f64> {
    v.iter().map(|i| i.arrival_ns as f64 / 1e9).collect()
}

/// (mean, CV) of inter-arrivals.
fn gap_stats(t: &[f64]) -> (f64, f64) {
    let g: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let n = g.len() as f64;
    let m = g.iter().sum::<f64>() / n;
    let v = g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt() / m)
}

fn rel(a: f64, b: f64) -> f64 {
    (a / b - 1.0).abs()
}

fn sorted(v: &[Invocation]) -> bool {
    v.windows(2).all(|w| w[0].arrival_ns <= w[1].arrival_ns)
}

#[test]
fn poisson_rate_cv_and_dispersion() {
    let v = gen(Pattern::Single(Process::Poisson { rate: 100.0 }), 1000.0, 1);
    assert!(sorted(&v));
    let t = arrivals_s(&v);
    // ~100k arrivals: count within 1% of 100,000 (3.2 standard deviations).
    assert!(rel(t.len() as f64, 100_000.0) < 0.01, "count {}", t.len());
    // Inter-arrival CV within 5% of 1 (the tolerance), and in fact within 1.5%.
    let (m, cv) = gap_stats(&t);
    assert!((cv - 1.0).abs() < 0.015, "cv {cv}");
    assert!(rel(m, 0.01) < 0.01, "mean gap {m}");
    // Counts in 1 s windows: variance/mean within 10% of 1.
    let mut w = vec![0f64; 1000];
    for x in &t {
        w[*x as usize] += 1.0;
    }
    let mean = w.iter().sum::<f64>() / 1000.0;
    let var = w.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / 999.0;
    assert!((var / mean - 1.0).abs() < 0.1, "dispersion {}", var / mean);
}

#[test]
fn onoff_burst_fraction_and_rates() {
    let p = OnOff {
        rate_on: 50.0,
        rate_off: 1.0,
        mean_on_s: 1.0,
        mean_off_s: 4.0,
    };
    let span = 50_000.0;
    let seed = 2;
    let v = gen(Pattern::Single(Process::OnOff(p)), span, seed);
    assert!(sorted(&v));
    let periods = p.periods(seed, 0, span);
    let on_time: f64 = periods.iter().map(|(a, b)| b - a).sum();
    // Fraction of time in bursts within 5% (relative) of mean_on/(mean_on+mean_off) = 0.2:
    // ~10,000 on/off cycles give a standard error near 1.5%.
    let frac = on_time / span;
    assert!(rel(frac, p.on_fraction()) < 0.05, "on fraction {frac}");
    // Rates inside and outside bursts (arrivals assigned to periods by binary search).
    let t = arrivals_s(&v);
    let mut in_on = 0usize;
    for x in &t {
        let i = periods.partition_point(|(a, _)| *a <= *x);
        if i > 0 && *x < periods[i - 1].1 {
            in_on += 1;
        }
    }
    let rate_on = in_on as f64 / on_time;
    let rate_off = (t.len() - in_on) as f64 / (span - on_time);
    // ~500k burst arrivals: within 1% of rate_on; ~40k off arrivals: within 3% of rate_off.
    assert!(rel(rate_on, 50.0) < 0.01, "rate on {rate_on}");
    assert!(rel(rate_off, 1.0) < 0.03, "rate off {rate_off}");
    // Overall rate within 3% of 0.2*50 + 0.8*1 = 10.8/s.
    assert!(rel(t.len() as f64 / span, p.mean_rate()) < 0.03);
    // Bursty: inter-arrival CV well above 1.
    let (_, cv) = gap_stats(&t);
    assert!(cv > 1.5, "cv {cv}");
}

#[test]
fn diurnal_follows_the_sinusoid() {
    let (mean, amp, period, peak) = (50.0, 0.8, 1000.0, 250.0);
    let span = 10_000.0;
    let v = gen(
        Pattern::Single(Process::Diurnal {
            mean_rate: mean,
            amplitude: amp,
            period_s: period,
            peak_s: peak,
        }),
        span,
        3,
    );
    assert!(sorted(&v));
    let t = arrivals_s(&v);
    // Overall rate within 1% of the mean (500k arrivals).
    assert!(rel(t.len() as f64 / span, mean) < 0.01);
    // Fold onto the period in 20 bins of 50 s; each bin's count within 3% of the integral of
    // the rate over it (every bin holds >= 2,500 arrivals, so 3% is > 1.5 standard errors at
    // the trough and > 5 at the peak; checked for every bin).
    let bins = 20;
    let width = period / bins as f64;
    let mut c = vec![0f64; bins];
    for x in &t {
        c[((x % period) / width) as usize % bins] += 1.0;
    }
    let cycles = span / period;
    for (b, got) in c.iter().enumerate() {
        let (a, z) = (b as f64 * width, (b + 1) as f64 * width);
        // Integral of mean*(1 + amp*cos(2pi(t-peak)/P)) over [a, z).
        let k = std::f64::consts::TAU / period;
        let integral =
            mean * ((z - a) + amp / k * ((k * (z - peak)).sin() - (k * (a - peak)).sin()));
        let want = integral * cycles;
        assert!(
            rel(*got, want) < 0.05 || (got - want).abs() < 4.0 * want.sqrt(),
            "bin {b}: {got} vs {want}"
        );
    }
    // The busiest bin holds the peak.
    let best = (0..bins).max_by(|&a, &b| c[a].total_cmp(&c[b])).unwrap();
    assert_eq!(best, (peak / width) as usize);
}

#[test]
fn flash_crowd_spike_over_baseline() {
    let p = FlashCrowd {
        base_rate: 10.0,
        peak_rate: 500.0,
        start_s: 100.0,
        ramp_s: 10.0,
        hold_s: 50.0,
        decay_s: 20.0,
    };
    let span = 300.0;
    let v = gen(Pattern::Single(Process::FlashCrowd(p)), span, 4);
    assert!(sorted(&v));
    let t = arrivals_s(&v);
    let count = |a: f64, b: f64| t.iter().filter(|x| **x >= a && **x < b).count() as f64;
    // Baseline before the spike: 1,000 expected; within 10% (3.2 standard deviations).
    assert!(rel(count(0.0, 100.0), 1000.0) < 0.10);
    // Hold: 25,000 expected; within 2%.
    assert!(rel(count(110.0, 160.0), 25_000.0) < 0.02);
    // Ramp (mean rate 255/s over 10 s) and decay (255/s over 20 s): within 5%.
    assert!(rel(count(100.0, 110.0), 2550.0) < 0.05);
    assert!(rel(count(160.0, 180.0), 5100.0) < 0.05);
    // Baseline after: 1,200 expected; within 10%.
    assert!(rel(count(180.0, 300.0), 1200.0) < 0.10);
}

#[test]
fn pareto_mean_cv_and_tail() {
    // Shape 5: CV = 1/sqrt(5*3) = 0.2582; 100k arrivals.
    let v = gen(
        Pattern::Single(Process::Pareto {
            rate: 100.0,
            shape: 5.0,
        }),
        1000.0,
        5,
    );
    let (m, cv) = gap_stats(&arrivals_s(&v));
    assert!(rel(m, 0.01) < 0.02, "mean gap {m}"); // within 2%
    assert!(rel(cv, 1.0 / 15f64.sqrt()) < 0.05, "cv {cv}"); // within 5%
                                                            // Shape 1.5 (infinite variance): median gap xm * 2^(1/1.5) within 2%, and the tail
                                                            // P(gap > 10 xm) = 10^-1.5 within 5%.
    let v = gen(
        Pattern::Single(Process::Pareto {
            rate: 100.0,
            shape: 1.5,
        }),
        1000.0,
        6,
    );
    let t = arrivals_s(&v);
    let mut g: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    g.sort_by(f64::total_cmp);
    let xm = 0.5 / (1.5 * 100.0);
    let median = g[g.len() / 2];
    assert!(
        rel(median, xm * 2f64.powf(1.0 / 1.5)) < 0.02,
        "median {median}"
    );
    let tail = g.iter().filter(|x| **x > 10.0 * xm).count() as f64 / g.len() as f64;
    assert!(rel(tail, 10f64.powf(-1.5)) < 0.05, "tail {tail}");
}

#[test]
fn lognormal_mean_and_cv() {
    // sigma 1: CV = sqrt(e - 1) = 1.3108; 100k arrivals.
    let v = gen(
        Pattern::Single(Process::LogNormal {
            rate: 100.0,
            sigma: 1.0,
        }),
        1000.0,
        7,
    );
    let (m, cv) = gap_stats(&arrivals_s(&v));
    assert!(rel(m, 0.01) < 0.02, "mean gap {m}"); // within 2%
    assert!(rel(cv, (1f64.exp() - 1.0).sqrt()) < 0.05, "cv {cv}"); // within 5%
}

#[test]
fn periodic_timer_with_jitter() {
    let v = gen(
        Pattern::Single(Process::Periodic {
            period_s: 1.0,
            jitter_s: 0.2,
            offset_s: 0.0,
        }),
        1000.0,
        8,
    );
    // Exactly one firing per period, each inside [k, k + jitter).
    assert_eq!(v.len(), 1000);
    for (k, i) in v.iter().enumerate() {
        let off = i.arrival_ns as i64 - k as i64 * 1_000_000_000;
        assert!(
            (0..200_000_000).contains(&off),
            "firing {k} at offset {off} ns"
        );
    }
    // Jitter uniform: mean offset within 2% of 0.1 s.
    let mean = v
        .iter()
        .enumerate()
        .map(|(k, i)| i.arrival_ns as f64 / 1e9 - k as f64)
        .sum::<f64>()
        / 1000.0;
    assert!(rel(mean, 0.1) < 0.05, "mean offset {mean}");
    // Regular: CV far below 1.
    let (_, cv) = gap_stats(&arrivals_s(&v));
    assert!(cv < 0.15, "cv {cv}");
}

#[test]
fn mix_follows_zipf_popularity() {
    let m = Mix {
        functions: 1000,
        total_rate: 1000.0,
        popularity: Popularity::Zipf { exponent: 1.0 },
        process: MixProcess::Poisson,
        timer_fraction: 0.0,
        function_duration_sigma: 0.0,
    };
    let span = 200.0;
    let v = gen(Pattern::Mix(m.clone()), span, 9);
    assert!(sorted(&v));
    // Total within 1% of 200k.
    assert!(rel(v.len() as f64, 200_000.0) < 0.01);
    let mut per = vec![0f64; 1000];
    for i in &v {
        per[i.function as usize] += 1.0;
    }
    let h: f64 = (1..=1000).map(|i| 1.0 / i as f64).sum();
    // Each of the top 10 functions (>= 2,600 arrivals each) within 6% of its Zipf share.
    for (i, got) in per.iter().enumerate().take(10) {
        let want = 200_000.0 / (h * (i + 1) as f64);
        assert!(rel(*got, want) < 0.06, "function {i}: {got} vs {want}");
    }
    // Skew as in the Azure trace: the top 1% of functions carry ~39% of invocations
    // (H(10)/H(1000) = 0.391), within 2%; the bottom half carry < 10%.
    let top10: f64 = per[..10].iter().sum::<f64>() / v.len() as f64;
    assert!(rel(top10, 2.928968 / h) < 0.02, "top 1% share {top10}");
    let bottom: f64 = per[500..].iter().sum::<f64>() / v.len() as f64;
    assert!(bottom < 0.10);
    // The configured rates sum to the total.
    assert!(rel(m.rates(9).iter().sum::<f64>(), 1000.0) < 1e-9);
}

#[test]
fn mix_lognormal_popularity_onoff_and_timers() {
    let m = Mix {
        functions: 200,
        total_rate: 500.0,
        popularity: Popularity::LogNormal { sigma: 2.0 },
        process: MixProcess::OnOff {
            on_fraction: 0.25,
            mean_on_s: 2.0,
        },
        timer_fraction: 0.2,
        function_duration_sigma: 0.0,
    };
    let rates = m.rates(10);
    assert!(
        rates.windows(2).all(|w| w[0] >= w[1]),
        "sorted most popular first"
    );
    let procs = m.processes(10);
    let timers = procs
        .iter()
        .filter(|p| matches!(p, Process::Periodic { .. }))
        .count();
    // Timer share within 0.2 +- 0.1 (200 Bernoulli draws: 3.5 standard deviations).
    assert!((20..=60).contains(&timers), "{timers} timers");
    let span = 400.0;
    let v = gen(Pattern::Mix(m), span, 10);
    assert!(sorted(&v));
    // Each on/off function's count matches its rate during its own burst periods (which
    // the generator reproduces exactly): summed over functions, within 2% of
    // sum(rate_on * time on) (~150k arrivals, Poisson noise ~0.3%).
    let mut want = 0.0;
    let mut got = 0.0;
    for (f, p) in procs.iter().enumerate() {
        if let Process::OnOff(o) = p {
            let on: f64 = o
                .periods(10, f as u32, span)
                .iter()
                .map(|(a, b)| b - a)
                .sum();
            want += o.rate_on * on;
            got += v.iter().filter(|i| i.function as usize == f).count() as f64;
        }
    }
    assert!(rel(got, want) < 0.02, "{got} vs {want}");
    // Every timer fires regularly: its count is span * rate within 1 firing.
    for (f, p) in procs.iter().enumerate() {
        if let Process::Periodic {
            period_s, offset_s, ..
        } = p
        {
            let n = v.iter().filter(|i| i.function as usize == f).count() as f64;
            let want = ((span - offset_s) / period_s).ceil();
            assert!((n - want).abs() <= 1.0, "timer {f}: {n} vs {want}");
        }
    }
}

#[test]
fn invalid_parameters_name_the_parameter() {
    let cfg = GenConfig::default();
    let e = Synthetic::new(
        &Pattern::Single(Process::Pareto {
            rate: 1.0,
            shape: 0.9,
        }),
        &cfg,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid parameter `shape`: must be > 1 (the mean is infinite otherwise), got 0.9"
    );
    let e = Synthetic::new(
        &Pattern::Single(Process::Periodic {
            period_s: 1.0,
            jitter_s: 2.0,
            offset_s: 0.0,
        }),
        &cfg,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid parameter `jitter`: must be in [0, period] = [0, 1] s, got 2"
    );
    let e = Synthetic::new(&Pattern::Single(Process::Poisson { rate: 0.0 }), &cfg).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid parameter `rate`: must be > 0 and finite, got 0"
    );
}

#[test]
fn default_bursty_is_bursty() {
    let (meta, v) = collect(unitlab_workloads::default_bursty(1)).unwrap();
    assert_eq!(meta.functions.len(), 20);
    assert_eq!(meta.span_ns, Some(600_000_000_000));
    assert!(sorted(&v));
    // 20/s for 600 s = 12,000 expected; bursty processes vary more: within 20%.
    assert!(rel(v.len() as f64, 12_000.0) < 0.2, "{}", v.len());
    // Merged over 20 functions the gaps look Poisson-like (CV ~ 1), but the counts are
    // bursty: variance/mean of 10 s window counts far above Poisson's 1 (> 5).
    let st =
        unitlab_workloads::stats::compute(unitlab_workloads::default_bursty(1), 10_000_000_000, 3)
            .unwrap();
    assert!(st.dispersion_index.unwrap() > 5.0, "{st}");
    // Each on/off function on its own is bursty: the most popular one's inter-arrival CV > 1.5.
    let (Pattern::Mix(m), _) = unitlab_workloads::synth::default_bursty_config(1) else {
        unreachable!()
    };
    let first = m
        .processes(1)
        .iter()
        .position(|p| matches!(p, Process::OnOff(_)))
        .unwrap() as u32;
    let f0: Vec<Invocation> = v.iter().copied().filter(|i| i.function == first).collect();
    let (_, cv) = gap_stats(&arrivals_s(&f0));
    assert!(cv > 1.5, "cv {cv}");
    assert!(v
        .iter()
        .all(|i| i.duration_ns.is_some() && i.memory_bytes == Some(128 << 20)));
}
