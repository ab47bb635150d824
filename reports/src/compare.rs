//! `unitlab compare <baseline> <new>`: the change of every metric, flagged only when it is
//! outside the noise.
//!
//! Metrics: cold start p50 and p99, warm invoke p50 and p99 (from `summary.json`), memory per
//! unit in the host and engine views (mean of the per-unit readings). For each metric:
//!
//! - **change** = (new − baseline) / baseline, from the summaries;
//! - **noise test**: a percentile bootstrap (Efron & Tibshirani, *An Introduction to the
//!   Bootstrap*, 1993, ch. 13) of the same statistic on the raw samples (`samples.csv`,
//!   `memory.csv`): both sets are resampled with replacement [`BOOTSTRAP_RESAMPLES`] times with
//!   a fixed seed, the relative difference of the statistic is computed each time, and its
//!   two-sided `1 − alpha` interval (default alpha = 0.01, a 99% interval) is reported. The
//!   difference is **significant** when that interval excludes 0;
//! - **Mann–Whitney U** (two-sided, normal approximation with tie and continuity corrections)
//!   on the whole distributions, reported beside it as a p-value: it answers "did the
//!   distribution shift", the bootstrap answers "did this percentile move";
//! - **flagged** = significant AND |change| ≥ the threshold (default 5%): a tiny but real
//!   change is shown, not flagged.
//!
//! Without raw samples no test is possible: the change is shown and marked "no test".

use crate::data::{ReportData, Run};
use crate::format;
use crate::tables::{Cell, Table};

/// Bootstrap resamples per metric.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// How a comparison decides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// Two-sided level of the bootstrap interval and the U test (0.01: a 99% interval).
    pub alpha: f64,
    /// Smallest |change| in percent that is flagged.
    pub threshold_pct: f64,
    /// Seed of the bootstrap.
    pub seed: u64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            alpha: 0.01,
            threshold_pct: 5.0,
            seed: 0x0075_6e69_746c_6162,
        }
    }
}

/// The unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUnit {
    /// Nanoseconds.
    Ns,
    /// Bytes.
    Bytes,
}

/// One metric's change.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChange {
    /// `cold p50`, `warm p99`, `memory/unit (host)`, ...
    pub metric: String,
    /// Unit of `baseline` and `new`.
    pub unit: MetricUnit,
    /// Baseline value.
    pub baseline: Option<f64>,
    /// New value.
    pub new: Option<f64>,
    /// (new − baseline) / baseline × 100.
    pub change_pct: Option<f64>,
    /// Bootstrap interval of the relative change, percent (low, high).
    pub ci_pct: Option<(f64, f64)>,
    /// Mann–Whitney U two-sided p-value on the raw distributions.
    pub u_test_p: Option<f64>,
    /// The bootstrap interval excludes 0.
    pub significant: bool,
    /// Significant and |change| ≥ threshold.
    pub flagged: bool,
    /// Why a test is missing, or other caveats.
    pub note: String,
}

/// Baseline versus new for one pair of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Baseline run label.
    pub baseline: String,
    /// New run label.
    pub new: String,
    /// The options used.
    pub options: CompareOptions,
    /// One entry per metric.
    pub metrics: Vec<MetricChange>,
    /// Differences that make the comparison less meaningful (machine, versions, function).
    pub warnings: Vec<String>,
}

/// Compares two runs with the default options (alpha 0.01, threshold 5%).
pub fn compare(baseline: &Run, new: &Run) -> Comparison {
    compare_with(baseline, new, CompareOptions::default())
}

/// Compares two runs.
pub fn compare_with(baseline: &Run, new: &Run, options: CompareOptions) -> Comparison {
    let b = &baseline.result;
    let n = &new.result;
    let mut warnings = Vec::new();
    if b.backend.name != n.backend.name {
        warnings.push(format!(
            "different backends: {} vs {}",
            b.backend.name, n.backend.name
        ));
    }
    if b.function.name != n.function.name {
        warnings.push(format!(
            "different functions: {} vs {}",
            b.function.name, n.function.name
        ));
    }
    if b.env.cpu_model != n.env.cpu_model || b.env.cores != n.env.cores {
        warnings.push(format!(
            "different machines: {} ({} cores) vs {} ({} cores)",
            b.env.cpu_model, b.env.cores, n.env.cpu_model, n.env.cores
        ));
    }
    if b.env.kernel != n.env.kernel {
        warnings.push(format!(
            "different kernels: {} vs {}",
            b.env.kernel, n.env.kernel
        ));
    }
    if b.backend.versions != n.backend.versions {
        warnings.push("backend versions differ (see each report's backends table)".to_string());
    }
    if b.backend.settings != n.backend.settings {
        warnings.push("backend settings differ (see each report's backends table)".to_string());
    }

    let mut seed = options.seed;
    let mut next_seed = || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        seed
    };
    let mut metrics = Vec::new();
    let (bc, nc) = (baseline.cold_nanos(), new.cold_nanos());
    let (bw, nw) = (baseline.warm_nanos(), new.warm_nanos());
    let f = |v: Option<u64>| v.map(|v| v as f64);
    let pos = |v: &[u64]| -> Vec<f64> { v.iter().filter(|&&x| x > 0).map(|&x| x as f64).collect() };
    let (bc, nc, bw, nw) = (pos(&bc), pos(&nc), pos(&bw), pos(&nw));
    // Both percentiles of a sample set come from the same resamples.
    let cold_ci = bootstrap_quantiles(&bc, &nc, &[0.5, 0.99], options.alpha, next_seed());
    let warm_ci = bootstrap_quantiles(&bw, &nw, &[0.5, 0.99], options.alpha, next_seed());
    for (name, bv, nv, bs, ns, ci, tail) in [
        (
            "cold p50",
            f(b.cold.p50),
            f(n.cold.p50),
            &bc,
            &nc,
            cold_ci[0],
            false,
        ),
        (
            "cold p99",
            f(b.cold.p99),
            f(n.cold.p99),
            &bc,
            &nc,
            cold_ci[1],
            true,
        ),
        (
            "warm p50",
            f(b.warm.p50),
            f(n.warm.p50),
            &bw,
            &nw,
            warm_ci[0],
            false,
        ),
        (
            "warm p99",
            f(b.warm.p99),
            f(n.warm.p99),
            &bw,
            &nw,
            warm_ci[1],
            true,
        ),
    ] {
        metrics.push(metric(
            name,
            MetricUnit::Ns,
            (bv, nv),
            (bs, ns),
            || ci,
            tail,
            &options,
        ));
    }
    let host = |r: &Run| -> Vec<f64> {
        r.memory
            .iter()
            .filter_map(|m| m.host_bytes)
            .map(|v| v as f64)
            .collect()
    };
    let engine = |r: &Run| -> Vec<f64> {
        r.memory
            .iter()
            .filter_map(|m| m.engine_bytes)
            .map(|v| v as f64)
            .collect()
    };
    for (name, bv, nv, bs, ns) in [
        (
            "memory/unit (host)",
            b.memory.host_bytes_per_unit,
            n.memory.host_bytes_per_unit,
            host(baseline),
            host(new),
        ),
        (
            "memory/unit (engine)",
            b.memory.engine_bytes_per_unit,
            n.memory.engine_bytes_per_unit,
            engine(baseline),
            engine(new),
        ),
    ] {
        let seed = next_seed();
        metrics.push(metric(
            name,
            MetricUnit::Bytes,
            (bv, nv),
            (&bs, &ns),
            || bootstrap_mean(&bs, &ns, options.alpha, seed),
            false,
            &options,
        ));
    }
    Comparison {
        baseline: baseline.label.clone(),
        new: new.label.clone(),
        options,
        metrics,
        warnings,
    }
}

/// Pairs the runs of two result sets by (backend, function) and compares each pair; runs
/// without a partner are listed in the returned warnings.
pub fn compare_runs(baseline: &ReportData, new: &ReportData) -> (Vec<Comparison>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let key = |r: &Run| {
        (
            r.backend().to_string(),
            r.result.function.name.clone(),
            r.result.backend.settings.clone(),
        )
    };
    let mut used = vec![false; new.runs.len()];
    for b in &baseline.runs {
        let pos = new
            .runs
            .iter()
            .enumerate()
            .position(|(i, n)| !used[i] && key(n) == key(b))
            .or_else(|| {
                new.runs.iter().enumerate().position(|(i, n)| {
                    !used[i]
                        && n.backend() == b.backend()
                        && n.result.function.name == b.result.function.name
                })
            });
        match pos {
            Some(i) => {
                used[i] = true;
                out.push(compare(b, &new.runs[i]));
            }
            None => warnings.push(format!("{}: only in the baseline", b.label)),
        }
    }
    for (i, n) in new.runs.iter().enumerate() {
        if !used[i] {
            warnings.push(format!("{}: only in the new results", n.label));
        }
    }
    (out, warnings)
}

fn metric(
    name: &str,
    unit: MetricUnit,
    (baseline, new): (Option<f64>, Option<f64>),
    (braw, nraw): (&[f64], &[f64]),
    ci: impl FnOnce() -> Option<(f64, f64)>,
    tail: bool,
    o: &CompareOptions,
) -> MetricChange {
    let change_pct = match (baseline, new) {
        (Some(b), Some(n)) if b > 0.0 => Some((n - b) / b * 100.0),
        _ => None,
    };
    let mut m = MetricChange {
        metric: name.to_string(),
        unit,
        baseline,
        new,
        change_pct,
        ci_pct: None,
        u_test_p: None,
        significant: false,
        flagged: false,
        note: String::new(),
    };
    if change_pct.is_none() {
        m.note = "not measured in both".to_string();
        return m;
    }
    if braw.len() < MIN_SAMPLES || nraw.len() < MIN_SAMPLES {
        m.note = format!("no test: fewer than {MIN_SAMPLES} raw samples on a side");
        return m;
    }
    m.u_test_p = mann_whitney_u(braw, nraw);
    m.ci_pct = ci();
    if let Some((lo, hi)) = m.ci_pct {
        m.significant = lo > 0.0 || hi < 0.0;
    }
    m.flagged = m.significant && change_pct.is_some_and(|c| c.abs() >= o.threshold_pct);
    if tail && braw.len().min(nraw.len()) < 100 {
        m.note = "few samples for a tail percentile: interval is wide".to_string();
    }
    m
}

/// Fewest raw samples on each side for a test.
const MIN_SAMPLES: usize = 5;

/// Splitmix64: a tiny deterministic generator for the bootstrap.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for these sizes).
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}

/// The two-sided `1 - alpha` percentile interval of relative changes (percent).
fn interval(mut diffs: Vec<f64>, alpha: f64) -> Option<(f64, f64)> {
    if diffs.len() < BOOTSTRAP_RESAMPLES / 2 {
        return None;
    }
    diffs.sort_by(f64::total_cmp);
    let k = diffs.len() as f64;
    let lo = diffs[((alpha / 2.0 * k).floor() as usize).min(diffs.len() - 1)];
    let hi = diffs[(((1.0 - alpha / 2.0) * k).ceil() as usize).clamp(1, diffs.len()) - 1];
    Some((lo, hi))
}

/// Nearest-rank quantiles `qs` (ascending) of one resample of `sorted`, drawn as counts per
/// index: the r-th smallest of the resample is `sorted[i]` for the first `i` whose running
/// count reaches `r`. Linear in the sample size, no sort.
fn resample_quantiles(sorted: &[f64], qs: &[f64], rng: &mut Rng, counts: &mut [u32]) -> Vec<f64> {
    let n = sorted.len();
    counts.fill(0);
    for _ in 0..n {
        counts[rng.below(n)] += 1;
    }
    let ranks: Vec<usize> = qs
        .iter()
        .map(|q| ((q * n as f64).ceil() as usize).clamp(1, n))
        .collect();
    let mut out = Vec::with_capacity(qs.len());
    let mut cum = 0usize;
    let mut k = 0;
    for (i, &c) in counts.iter().enumerate() {
        cum += c as usize;
        while k < ranks.len() && cum >= ranks[k] {
            out.push(sorted[i]);
            k += 1;
        }
        if k == ranks.len() {
            break;
        }
    }
    out
}

/// Percentile-bootstrap intervals of the relative change of each quantile in `qs`
/// (ascending), percent; both samples resampled together, once per resample for all `qs`.
fn bootstrap_quantiles(
    b: &[f64],
    n: &[f64],
    qs: &[f64],
    alpha: f64,
    seed: u64,
) -> Vec<Option<(f64, f64)>> {
    if b.len() < MIN_SAMPLES || n.len() < MIN_SAMPLES {
        return vec![None; qs.len()];
    }
    let sort = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (bs, ns) = (sort(b), sort(n));
    let (mut bc, mut nc) = (vec![0u32; bs.len()], vec![0u32; ns.len()]);
    let mut rng = Rng(seed);
    let mut diffs = vec![Vec::with_capacity(BOOTSTRAP_RESAMPLES); qs.len()];
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let qb = resample_quantiles(&bs, qs, &mut rng, &mut bc);
        let qn = resample_quantiles(&ns, qs, &mut rng, &mut nc);
        for (k, d) in diffs.iter_mut().enumerate() {
            if qb[k] > 0.0 {
                d.push((qn[k] - qb[k]) / qb[k] * 100.0);
            }
        }
    }
    diffs.into_iter().map(|d| interval(d, alpha)).collect()
}

/// Percentile-bootstrap interval of the relative change of the mean, percent.
fn bootstrap_mean(b: &[f64], n: &[f64], alpha: f64, seed: u64) -> Option<(f64, f64)> {
    if b.is_empty() || n.is_empty() {
        return None;
    }
    let mut rng = Rng(seed);
    let mean = |v: &[f64], rng: &mut Rng| {
        (0..v.len()).map(|_| v[rng.below(v.len())]).sum::<f64>() / v.len() as f64
    };
    let mut diffs = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let mb = mean(b, &mut rng);
        let mn = mean(n, &mut rng);
        if mb > 0.0 {
            diffs.push((mn - mb) / mb * 100.0);
        }
    }
    interval(diffs, alpha)
}

/// Two-sided Mann–Whitney U p-value, normal approximation with tie and continuity corrections.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<f64> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut r1 = 0.0;
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        for item in &all[i..=j] {
            if item.1 {
                r1 += rank;
            }
        }
        i = j + 1;
    }
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let mu = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let var = n1 * n2 / 12.0 * ((nn + 1.0) - ties / (nn * (nn - 1.0)));
    if var <= 0.0 {
        return Some(1.0);
    }
    let d = (u1 - mu).abs() - 0.5;
    let z = d.max(0.0) / var.sqrt();
    Some((2.0 * normal_sf(z)).min(1.0))
}

/// Upper tail of the standard normal, via erfc (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
fn normal_sf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    0.5 * poly * (-x * x).exp()
}

impl Comparison {
    /// The comparison as a [`Table`] (HTML and CSV).
    pub fn to_table(&self) -> Table {
        let mut t = Table {
            id: "compare".to_string(),
            title: format!("{} → {}", self.baseline, self.new),
            note: format!(
                "Flagged when the {:.0}% bootstrap interval of the change excludes 0 and the \
                 change is at least {}%.",
                (1.0 - self.options.alpha) * 100.0,
                self.options.threshold_pct
            ),
            columns: [
                "metric",
                "baseline",
                "new",
                "change_pct",
                "ci_low_pct",
                "ci_high_pct",
                "u_test_p",
                "verdict",
                "note",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows: Vec::new(),
        };
        for m in &self.metrics {
            let v = |x: Option<f64>| match m.unit {
                MetricUnit::Ns => Cell::Ns(x),
                MetricUnit::Bytes => Cell::Bytes(x),
            };
            t.rows.push(vec![
                Cell::text(&m.metric),
                v(m.baseline),
                v(m.new),
                Cell::Pct(m.change_pct),
                Cell::Pct(m.ci_pct.map(|c| c.0)),
                Cell::Pct(m.ci_pct.map(|c| c.1)),
                Cell::Num(m.u_test_p),
                Cell::text(m.verdict()),
                Cell::text(&m.note),
            ]);
        }
        t
    }

    /// A plain-text table for the terminal.
    pub fn to_text(&self) -> String {
        let mut rows: Vec<[String; 7]> = vec![[
            "metric".into(),
            "baseline".into(),
            "new".into(),
            "change".into(),
            format!("{:.0}% interval", (1.0 - self.options.alpha) * 100.0),
            "U test p".into(),
            "verdict".into(),
        ]];
        for m in &self.metrics {
            let v = |x: Option<f64>| match (x, m.unit) {
                (None, _) => "—".to_string(),
                (Some(x), MetricUnit::Ns) => format::ns(x),
                (Some(x), MetricUnit::Bytes) => format::bytes(x),
            };
            rows.push([
                m.metric.clone(),
                v(m.baseline),
                v(m.new),
                m.change_pct
                    .map(|c| format!("{c:+.1}%"))
                    .unwrap_or("—".into()),
                m.ci_pct
                    .map(|(l, h)| format!("[{l:+.1}%, {h:+.1}%]"))
                    .unwrap_or("—".into()),
                m.u_test_p
                    .map(|p| {
                        if p < 1e-4 {
                            "<0.0001".to_string()
                        } else {
                            format!("{p:.4}")
                        }
                    })
                    .unwrap_or("—".into()),
                if m.note.is_empty() {
                    m.verdict().to_string()
                } else {
                    format!("{} ({})", m.verdict(), m.note)
                },
            ]);
        }
        let mut width = [0usize; 7];
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut s = format!("{} -> {}\n", self.baseline, self.new);
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        for r in &rows {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                let pad = width[i] - c.chars().count();
                if i == 0 || i == 6 {
                    line.push_str(c);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(c);
                }
                line.push_str("  ");
            }
            s.push_str(line.trim_end());
            s.push('\n');
        }
        s.push_str(&format!(
            "Test: {}-resample percentile bootstrap of the change (alpha {}), flagged when the \
             interval excludes 0 and |change| >= {}%; U test: Mann-Whitney, two-sided.\n",
            BOOTSTRAP_RESAMPLES, self.options.alpha, self.options.threshold_pct
        ));
        s
    }

    /// True when any metric is flagged.
    pub fn any_flagged(&self) -> bool {
        self.metrics.iter().any(|m| m.flagged)
    }
}

impl MetricChange {
    /// `slower`/`faster`/`larger`/`smaller` when flagged, `within noise`, or `no test`.
    pub fn verdict(&self) -> &'static str {
        let up = self.change_pct.is_some_and(|c| c > 0.0);
        if self.flagged {
            match (self.unit, up) {
                (MetricUnit::Ns, true) => "SLOWER",
                (MetricUnit::Ns, false) => "FASTER",
                (MetricUnit::Bytes, true) => "LARGER",
                (MetricUnit::Bytes, false) => "SMALLER",
            }
        } else if self.ci_pct.is_none() {
            "no test"
        } else if self.significant {
            "below threshold"
        } else {
            "within noise"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_test_identical_is_not_significant() {
        let a: Vec<f64> = (0..50).map(|i| i as f64).collect();
        let p = mann_whitney_u(&a, &a).unwrap();
        assert!(p > 0.9, "{p}");
    }

    #[test]
    fn u_test_shifted_is_significant() {
        let a: Vec<f64> = (0..50).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..50).map(|i| i as f64 + 40.0).collect();
        let p = mann_whitney_u(&a, &b).unwrap();
        assert!(p < 1e-6, "{p}");
    }

    #[test]
    fn u_test_matches_a_known_value() {
        // Two small samples, no ties: U = 3 for a=[1,2,3,4,5] vs b=[3.5,6,7,8,9]... computed
        // by hand: ranks of a = 1,2,3,5,6 (3.5 has rank 4) -> R1 = 17, U1 = 17 - 15 = 2.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [3.5, 6.0, 7.0, 8.0, 9.0];
        // mu = 12.5, var = 25/12*11 = 22.9167, z = (10.5 - 0.5)/4.787 = 2.089, p = 0.0367.
        let p = mann_whitney_u(&a, &b).unwrap();
        assert!((p - 0.0367).abs() < 0.001, "{p}");
    }

    #[test]
    fn counted_resample_quantiles_equal_sorting_the_resample() {
        let sorted: Vec<f64> = (1..=101).map(|i| (i * i) as f64).collect();
        let mut rng = Rng(9);
        let mut twin = rng.clone();
        let mut counts = vec![0; sorted.len()];
        for _ in 0..20 {
            let got = resample_quantiles(&sorted, &[0.5, 0.99], &mut rng, &mut counts);
            let mut v: Vec<f64> = (0..sorted.len())
                .map(|_| sorted[twin.below(sorted.len())])
                .collect();
            v.sort_by(f64::total_cmp);
            let rank = |q: f64| ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            assert_eq!(got, vec![v[rank(0.5)], v[rank(0.99)]]);
        }
    }

    #[test]
    fn normal_tail() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-6);
        assert!((normal_sf(1.959_964) - 0.025).abs() < 1e-6);
    }
}
