//! Summary statistics of a trace, computed in one streaming pass.
//!
//! - *rate percentiles*: the trace is cut into windows of `window_ns` (default 1 s) from 0 to
//!   its span, each window's count divided by its length; p50/p90/p99/max over windows
//!   (nearest rank), empty windows included.
//! - *inter-arrival CV*: standard deviation / mean of the gaps between consecutive arrivals
//!   (all functions merged); 1 for a Poisson process, > 1 for bursty traffic.
//! - *burstiness index* B = (sigma - mu) / (sigma + mu) of the inter-arrivals (Goh &
//!   Barabasi, EPL 81, 2008): -1 for a perfectly regular timer, 0 for Poisson, towards 1 for
//!   extreme bursts.
//! - *index of dispersion* of the window counts (variance / mean, the Fano factor): 1 for
//!   Poisson at any window, growing with the window for bursty traffic.
//!
//! Memory: one counter per function and one per *non-empty* window (runs of a sorted stream;
//! empty windows are counted, not stored): it follows the invocations, never the span over
//! the window, so `--window 1ns` over years of epoch timestamps costs what the rows cost.

use crate::trace::TraceStream;
use crate::TraceError;
use serde::Serialize;

/// One function's share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopFunction {
    /// Function name.
    pub name: String,
    /// Its invocations.
    pub invocations: u64,
    /// Its share of all invocations (0..1).
    pub share: f64,
}

/// Summary of a trace. A figure that cannot be computed (e.g. a CV with fewer than three
/// arrivals) is `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceStats {
    /// Where the trace came from.
    pub source: String,
    /// Invocations.
    pub invocations: u64,
    /// Functions in the trace's table.
    pub functions: usize,
    /// Functions with at least one invocation.
    pub active_functions: usize,
    /// First arrival (ns).
    pub first_arrival_ns: Option<u64>,
    /// Last arrival (ns).
    pub last_arrival_ns: Option<u64>,
    /// Span used for rates (ns): the trace's nominal span if known, else last arrival + 1.
    pub span_ns: u64,
    /// Invocations per second over the span.
    pub mean_rate_per_s: Option<f64>,
    /// Window length for the rate percentiles (ns).
    pub window_ns: u64,
    /// Windows.
    pub windows: u64,
    /// (percentile, invocations/s) for p50, p90, p99 and p100 of the window rates.
    pub rate_percentiles: Vec<(f64, f64)>,
    /// Mean inter-arrival (ns).
    pub interarrival_mean_ns: Option<f64>,
    /// Inter-arrival coefficient of variation.
    pub interarrival_cv: Option<f64>,
    /// Goh-Barabasi burstiness index of the inter-arrivals.
    pub burstiness: Option<f64>,
    /// Variance / mean of the window counts.
    pub dispersion_index: Option<f64>,
    /// Invocations that carry a duration.
    pub with_duration: u64,
    /// Mean duration (ns) of those.
    pub mean_duration_ns: Option<f64>,
    /// The most invoked functions.
    pub top: Vec<TopFunction>,
}

/// Computes [`TraceStats`] in one pass. `window_ns` > 0; `top` = how many functions to list.
pub fn compute(
    stream: impl TraceStream,
    window_ns: u64,
    top: usize,
) -> Result<TraceStats, TraceError> {
    if window_ns == 0 {
        return Err(TraceError::param("window", "must be > 0"));
    }
    let meta = stream.meta().clone();
    let mut per_fn = vec![0u64; meta.functions.len()];
    // Non-empty windows as (index, count), in stream order.
    let mut windows: Vec<(u64, u64)> = Vec::new();
    let (mut n, mut first, mut last) = (0u64, None, None::<u64>);
    // Welford on gaps.
    let (mut gn, mut gmean, mut gm2) = (0u64, 0.0f64, 0.0f64);
    let (mut nd, mut dsum) = (0u64, 0.0f64);
    for inv in stream {
        let inv = inv?;
        n += 1;
        if first.is_none() {
            first = Some(inv.arrival_ns);
        }
        if let Some(l) = last {
            let g = inv.arrival_ns.saturating_sub(l) as f64;
            gn += 1;
            let d = g - gmean;
            gmean += d / gn as f64;
            gm2 += d * (g - gmean);
        }
        last = Some(inv.arrival_ns);
        let f = inv.function as usize;
        if f >= per_fn.len() {
            per_fn.resize(f + 1, 0);
        }
        per_fn[f] += 1;
        let w = inv.arrival_ns / window_ns;
        match windows.last_mut() {
            Some((lw, c)) if *lw == w => *c += 1,
            _ => windows.push((w, 1)),
        }
        if let Some(d) = inv.duration_ns {
            nd += 1;
            dsum += d as f64;
        }
    }
    let span_ns = meta
        .span_ns
        .filter(|&s| last.is_none_or(|l| s > l))
        .unwrap_or_else(|| last.map_or(0, |l| l + 1));
    // A stream breaking the sorted contract splits a window into several runs: merge them.
    if !windows.windows(2).all(|p| p[0].0 < p[1].0) {
        windows.sort_by_key(|&(w, _)| w);
        windows.dedup_by(|b, a| {
            let same = a.0 == b.0;
            if same {
                a.1 += b.1;
            }
            same
        });
    }
    let last_window = windows.last().map_or(0, |&(w, _)| w + 1);
    let nwin = span_ns.div_ceil(window_ns).max(last_window);
    let empty = nwin - windows.len() as u64;
    let mut counts: Vec<u64> = windows.iter().map(|&(_, c)| c).collect();
    counts.sort_unstable();
    // Nearest rank over all `nwin` windows, sorted: `empty` zeros, then `counts`.
    let pct = |p: f64| -> f64 {
        let k = (((p / 100.0) * nwin as f64).ceil() as u64).clamp(1, nwin);
        let c = if k <= empty {
            0
        } else {
            counts[(k - empty - 1) as usize]
        };
        c as f64 * 1e9 / window_ns as f64
    };
    let rate_percentiles = if nwin == 0 {
        vec![]
    } else {
        [50.0, 90.0, 99.0, 100.0]
            .iter()
            .map(|&p| (p, pct(p)))
            .collect()
    };
    let (cv, burst) = if gn >= 2 && gmean > 0.0 {
        let sd = (gm2 / (gn - 1) as f64).sqrt();
        (Some(sd / gmean), Some((sd - gmean) / (sd + gmean)))
    } else {
        (None, None)
    };
    let dispersion = if nwin >= 2 && n > 0 {
        let m = n as f64 / nwin as f64;
        let v = (counts.iter().map(|&c| (c as f64 - m).powi(2)).sum::<f64>()
            + empty as f64 * m * m)
            / (nwin - 1) as f64;
        Some(v / m)
    } else {
        None
    };
    let mut order: Vec<usize> = (0..per_fn.len()).filter(|&i| per_fn[i] > 0).collect();
    let active = order.len();
    order.sort_by(|&a, &b| per_fn[b].cmp(&per_fn[a]).then(a.cmp(&b)));
    let top = order
        .iter()
        .take(top)
        .map(|&i| TopFunction {
            name: meta
                .functions
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("#{i}")),
            invocations: per_fn[i],
            share: per_fn[i] as f64 / n as f64,
        })
        .collect();
    Ok(TraceStats {
        source: meta.source.clone(),
        invocations: n,
        functions: meta.functions.len(),
        active_functions: active,
        first_arrival_ns: first,
        last_arrival_ns: last,
        span_ns,
        mean_rate_per_s: (span_ns > 0).then(|| n as f64 * 1e9 / span_ns as f64),
        window_ns,
        windows: nwin,
        rate_percentiles,
        interarrival_mean_ns: (gn > 0).then_some(gmean),
        interarrival_cv: cv,
        burstiness: burst,
        dispersion_index: dispersion,
        with_duration: nd,
        mean_duration_ns: (nd > 0).then(|| dsum / nd as f64),
        top,
    })
}

/// A rate with enough digits to be read whatever its size (`12.500/s`, `3.472e-4/s`).
fn fmt_rate(r: f64) -> String {
    if r == 0.0 || r >= 0.01 {
        format!("{r:.3}/s")
    } else {
        format!("{r:.3e}/s")
    }
}

impl std::fmt::Display for TraceStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::units::fmt_ns;
        let opt = |x: Option<f64>, d: usize| x.map_or("n/a".to_string(), |v| format!("{v:.d$}"));
        writeln!(f, "source:            {}", self.source)?;
        writeln!(f, "invocations:       {}", self.invocations)?;
        writeln!(
            f,
            "functions:         {} ({} invoked)",
            self.functions, self.active_functions
        )?;
        writeln!(
            f,
            "span:              {} (first arrival {}, last {})",
            fmt_ns(self.span_ns as f64),
            self.first_arrival_ns
                .map_or("n/a".into(), |v| fmt_ns(v as f64)),
            self.last_arrival_ns
                .map_or("n/a".into(), |v| fmt_ns(v as f64))
        )?;
        writeln!(
            f,
            "mean rate:         {}",
            self.mean_rate_per_s.map_or("n/a".into(), fmt_rate)
        )?;
        write!(
            f,
            "rate per {} window ({} windows):",
            fmt_ns(self.window_ns as f64),
            self.windows
        )?;
        for (p, r) in &self.rate_percentiles {
            write!(f, " p{p}={}", fmt_rate(*r))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "inter-arrival:     mean {}, CV {}",
            self.interarrival_mean_ns.map_or("n/a".into(), fmt_ns),
            opt(self.interarrival_cv, 3)
        )?;
        writeln!(
            f,
            "burstiness index:  {} (Goh-Barabasi: -1 regular, 0 Poisson, ->1 bursty)",
            opt(self.burstiness, 3)
        )?;
        writeln!(
            f,
            "dispersion index:  {} (variance/mean of window counts; 1 for Poisson)",
            opt(self.dispersion_index, 3)
        )?;
        writeln!(
            f,
            "durations:         {} with a duration, mean {}",
            self.with_duration,
            self.mean_duration_ns.map_or("n/a".into(), fmt_ns)
        )?;
        writeln!(f, "top functions:")?;
        for t in &self.top {
            writeln!(
                f,
                "  {:>10}  {:>6.2}%  {}",
                t.invocations,
                t.share * 100.0,
                t.name
            )?;
        }
        Ok(())
    }
}
