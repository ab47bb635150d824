//! The platform part of the report: replay and simulation results
//! (`unitlab_results::platform`) and their chart data (drawn by `charts::platform`); their
//! tables and the headline's "you stop paying for waiting" row are in `tables`.
//!
//! Burstiness is measured, not taken from a generator's name: the coefficient of variation
//! (standard deviation / mean) of the arrivals per `timeline.csv` bin. A keep-alive length is
//! read from a policy setting whose key contains `keep_alive`, `keepalive` or `ttl` (`none`,
//! `fixed 10m` as the platform writes it, a number of seconds, or a duration: `500ms`, `600s`,
//! `10m`, `1h`); a policy named `none` or `no-keepalive` counts as 0 s. A hybrid-histogram
//! policy has no single length: its keep-alive column is empty.

use unitlab_results::platform::{Difference, PlatformRun, RunKind, TimelineBin};

use crate::data::{PlatformInput, ReportData};

/// Most policies drawn in the timeline.
pub const MAX_TIMELINES: usize = 6;

/// One policy's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineSeries {
    /// `simulate wasm: keepalive-600s`.
    pub label: String,
    /// Bins in time order.
    pub bins: Vec<TimelineBin>,
}

/// The differences of one `unitlab validate` result.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationBars {
    /// `wasm: keepalive-600s`.
    pub label: String,
    /// The compared figures.
    pub differences: Vec<Difference>,
}

/// Everything the platform charts draw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlatformViews {
    /// The trace of the timelines.
    pub timeline_trace: String,
    /// One per (backend, policy) with a timeline, of one result (see [`headline_input`]).
    pub timelines: Vec<TimelineSeries>,
    /// One per validation result.
    pub validation: Vec<ValidationBars>,
}

pub(crate) fn kind(k: RunKind) -> &'static str {
    match k {
        RunKind::Replay => "replay",
        RunKind::Simulate => "simulate",
    }
}

/// The keep-alive length of a policy, seconds: 0 for none, `None` when it is adaptive
/// (hybrid). Read from the run's typed facts, never from its settings' text.
pub fn keep_alive_seconds(run: &PlatformRun) -> Option<f64> {
    run.facts.keep_alive_ns.map(|ns| ns as f64 / 1e9)
}

/// [`burstiness`] of the bins that start before the trace's last arrival (`last_arrival_ns`;
/// 0 = all bins): the bins after it only show units winding down, and a longer keep-alive
/// would otherwise look like a burstier trace.
pub fn burstiness_within(bins: &[TimelineBin], last_arrival_ns: u64) -> Option<f64> {
    if last_arrival_ns == 0 {
        return burstiness(bins);
    }
    let end = last_arrival_ns as f64 / 1e9;
    let n = bins.iter().take_while(|b| b.t_s <= end).count();
    burstiness(&bins[..n])
}

/// Coefficient of variation of arrivals per bin; `None` with fewer than 2 bins or no arrival.
pub fn burstiness(bins: &[TimelineBin]) -> Option<f64> {
    if bins.len() < 2 {
        return None;
    }
    let n = bins.len() as f64;
    let mean = bins.iter().map(|b| b.arrivals as f64).sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = bins
        .iter()
        .map(|b| (b.arrivals as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    Some(var.sqrt() / mean)
}

fn run_label(_p: &PlatformInput, r: &PlatformRun) -> String {
    format!("{} {}: {}", kind(r.kind), r.backend, r.policy)
}

/// The platform result the headline and the timeline use: the first whose trace is bursty by
/// name (its source names "burst", or the on/off arrival process of the default bursty mix,
/// `process=onoff`), else the first.
pub fn headline_input(d: &ReportData) -> Option<&PlatformInput> {
    d.platforms
        .iter()
        .find(|p| {
            let s = p.summary.trace.source.to_ascii_lowercase();
            s.contains("burst") || s.contains("process=onoff")
        })
        .or(d.platforms.first())
}

/// Builds the platform chart data.
pub fn views(d: &ReportData) -> PlatformViews {
    let mut v = PlatformViews::default();
    if let Some(p) = headline_input(d) {
        v.timeline_trace = p.summary.trace.source.clone();
        for r in &p.summary.runs {
            if let Some(bins) = p.timeline(r) {
                v.timelines.push(TimelineSeries {
                    label: run_label(p, r),
                    bins: bins.to_vec(),
                });
            }
        }
    }
    v.validation = d
        .validations
        .iter()
        .map(|r| ValidationBars {
            label: format!("{}: {}", r.backend, r.policy),
            differences: r.differences.clone(),
        })
        .collect();
    v
}

/// Number of platform and validation results.
pub fn count(d: &ReportData) -> usize {
    d.platforms.len() + d.validations.len()
}

/// Warnings of the platform results, prefixed with the run.
pub fn warnings(d: &ReportData) -> Vec<String> {
    let mut out = Vec::new();
    for p in &d.platforms {
        for r in &p.summary.runs {
            for w in &r.warnings {
                out.push(format!("{}: {w}", run_label(p, r)));
            }
        }
    }
    for v in &d.validations {
        for w in &v.warnings {
            out.push(format!("validate {}: {}: {w}", v.backend, v.policy));
        }
    }
    out
}

/// `s` cut to `n` characters with an ellipsis.
pub(crate) fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}
