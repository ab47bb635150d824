//! The platform part of the report: replay and simulation results
//! (`unitlab_results::platform`), their chart data (drawn by `charts::platform`), tables and the headline's "you stop paying
//! for waiting" row.
//!
//! Burstiness is measured, not taken from a generator's name: the coefficient of variation
//! (standard deviation / mean) of the arrivals per `timeline.csv` bin. A keep-alive length is
//! read from a policy setting whose key contains `keep_alive`, `keepalive` or `ttl` (`none`,
//! `fixed 10m` as the platform writes it, a number of seconds, or a duration: `500ms`, `600s`,
//! `10m`, `1h`); a policy named `none` or `no-keepalive` counts as 0 s. A hybrid-histogram
//! policy has no single length: its keep-alive column is empty.

use plotters::prelude::*;

use unitlab_results::platform::{Difference, PlatformRun, RunKind, TimelineBin};

use crate::data::{PlatformInput, ReportData};
use crate::format;
use crate::tables::{Cell, Table};

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

fn kind(k: RunKind) -> &'static str {
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

/// A stacked layer of the timeline: name, colour, top of the layer.
pub(crate) type Layer = (&'static str, RGBColor, fn(&TimelineBin) -> f64);

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

/// Replaces the headline's "you stop paying for waiting" row with measured rows when a replay or
/// simulation result is present: the trace whose source names "burst" (else the first), one row
/// per backend, told through its first keep-alive policy (else its first policy).
pub fn headline_rows(d: &ReportData, headline: &mut Table) {
    let Some(p) = headline_input(d) else {
        return;
    };
    let claim = "You stop paying for waiting";
    headline
        .rows
        .retain(|r| r.first() != Some(&Cell::text(claim)));
    let s = &p.summary;
    let cur = &s.pricing.currency;
    let money = |v: f64| format!("{} {cur}", format_money(v));
    let machine = s
        .env
        .as_ref()
        .map(|e| {
            format!(
                "{}, {} cores, {}, Linux {}",
                e.cpu_model,
                e.cores,
                format::bytes(e.memory_bytes as f64),
                e.kernel
            )
        })
        .unwrap_or_else(|| "not recorded".to_string());
    let mut versions: Vec<String> = s
        .backend
        .versions
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if let Some(e) = &s.env {
        versions.push(format!("unitlab {}", e.unitlab));
    }
    let date = s.env.as_ref().map(|e| e.time.clone()).unwrap_or_default();
    // One row per backend, every policy of that backend in the result.
    let mut backends: Vec<&str> = Vec::new();
    for r in &s.runs {
        if !backends.contains(&r.backend.as_str()) {
            backends.push(&r.backend);
        }
    }
    for backend in backends {
        let runs: Vec<_> = s.runs.iter().filter(|r| r.backend == backend).collect();
        // The first keep-alive policy speaks for the row (scale to zero after waiting is the
        // claim's subject); every policy is in the "Replay and simulation runs" table.
        let Some(r) = runs
            .iter()
            .find(|r| r.policy.starts_with("keepalive"))
            .or(runs.first())
        else {
            continue;
        };
        let mut m = format!(
            "{} of trace \"{}\" ({} invocations) on {backend}, policy {}: ",
            kind(s.kind),
            short(&s.trace.source, 60),
            s.trace.invocations,
            r.policy,
        );
        if let Some(share) = r.usage.idle_share {
            m.push_str(&format!("{:.0}% of unit life idle; ", share * 100.0));
        }
        match (&r.costs.pay_per_use, &r.costs.provisioned) {
            (Some(ppu), Some(prov)) => {
                m.push_str(&format!(
                    "pay per use bills {}, and the idle time the platform carries is priced {}",
                    money(ppu.billed),
                    money(prov.idle)
                ));
                if ppu.billed > 0.0 {
                    m.push_str(&format!(
                        " ({} the bill)",
                        format::ratio(prov.idle / ppu.billed)
                    ));
                }
                m.push_str(&format!(
                    "; pay per use versus provisioned, billed: {} versus {}",
                    money(ppu.billed),
                    money(prov.billed)
                ));
                if ppu.billed > 0.0 {
                    m.push_str(&format!(" ({})", format::ratio(prov.billed / ppu.billed)));
                }
            }
            _ => m.push_str("cost not computable (a price or the memory per unit is missing)"),
        }
        m.push_str(&format!(
            ". {} policies in the table \"Replay and simulation runs\".",
            runs.len()
        ));
        headline.rows.push(vec![
            Cell::text(claim),
            Cell::text(m),
            Cell::text(format!(
                "{} {backend} ({})",
                kind(s.kind),
                p.dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )),
            Cell::text(&machine),
            Cell::text(versions.join(", ")),
            Cell::text(&date),
        ]);
    }
}

/// `s` cut to `n` characters with an ellipsis.
pub(crate) fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn format_money(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if v.abs() >= 0.01 {
        format::sig3(v)
    } else {
        format!("{v:.2e}")
    }
}

/// The platform tables: one row per (result, policy), the validation differences, and the
/// platform results' environment.
pub fn tables(d: &ReportData) -> Vec<Table> {
    let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut runs = Table {
        id: "platform_runs".to_string(),
        title: "Replay and simulation runs".to_string(),
        note: "One row per policy. Idle share = idle / alive unit-seconds. Costs under the \
               pricing file of each result; GB = 10^9 bytes. Burstiness = coefficient of \
               variation of arrivals per timeline bin."
            .to_string(),
        columns: cols(&[
            "kind",
            "backend",
            "policy",
            "trace",
            "invocations",
            "cold_starts",
            "cold_rate",
            "e2e_p50_ns",
            "e2e_p99_ns",
            "mean_live_units",
            "peak_live_units",
            "idle_share",
            "idle_gb_seconds",
            "keep_alive_s",
            "burstiness_cv",
            "pay_per_use_billed",
            "provisioned_billed",
            "cpu_time_billed",
            "idle_cost_pay_per_use",
            "idle_cost_provisioned",
            "currency",
            "memory_source",
        ]),
        rows: Vec::new(),
    };
    let mut env = Table {
        id: "platform_environment".to_string(),
        title: "Replay and simulation: inputs and machine".to_string(),
        note: "The trace, seed, time scale, prices and machine of every platform result."
            .to_string(),
        columns: cols(&[
            "result",
            "kind",
            "backend",
            "trace",
            "seed",
            "time_scale",
            "pricing",
            "machine",
            "time_utc",
        ]),
        rows: Vec::new(),
    };
    for p in &d.platforms {
        let s = &p.summary;
        for r in &s.runs {
            let ns = |v: Option<u64>| Cell::Ns(v.map(|v| v as f64));
            let num = Cell::Num;
            runs.rows.push(vec![
                Cell::text(kind(r.kind)),
                Cell::text(&r.backend),
                Cell::text(&r.policy),
                Cell::text(&s.trace.source),
                Cell::Count(Some(r.counts.invocations as f64)),
                Cell::Count(Some(r.counts.cold_starts as f64)),
                num(r.counts.cold_rate),
                ns(r.latency.end_to_end.p50),
                ns(r.latency.end_to_end.p99),
                num(r.usage.mean_live_units),
                Cell::Count(Some(r.usage.peak_live_units as f64)),
                num(r.usage.idle_share),
                num(r.waiting.idle_gb_seconds),
                num(keep_alive_seconds(r)),
                num(p
                    .timeline(r)
                    .and_then(|b| burstiness_within(b, s.trace.last_arrival_ns))),
                num(r.costs.pay_per_use.as_ref().map(|c| c.billed)),
                num(r.costs.provisioned.as_ref().map(|c| c.billed)),
                num(r.costs.cpu_time.as_ref().map(|c| c.billed)),
                num(r.waiting.pay_per_use),
                num(r.waiting.provisioned),
                Cell::text(&s.pricing.currency),
                Cell::text(&r.memory_source.kind),
            ]);
        }
        let e = s.env.as_ref();
        env.rows.push(vec![
            Cell::text(p.dir.display().to_string()),
            Cell::text(kind(s.kind)),
            Cell::text(&s.backend.name),
            Cell::text(&s.trace.source),
            Cell::text(s.seed.to_string()),
            Cell::Num(Some(s.time_scale)),
            Cell::text(&s.pricing.note),
            Cell::text(
                e.map(|e| format!("{}, {} cores, Linux {}", e.cpu_model, e.cores, e.kernel))
                    .unwrap_or_default(),
            ),
            Cell::text(e.map(|e| e.time.clone()).unwrap_or_default()),
        ]);
    }
    let mut val = Table {
        id: "validation".to_string(),
        title: "Simulated versus replayed".to_string(),
        note: "relative = (simulated − replayed) / replayed. The simulation's calibration is in \
               the validation.json."
            .to_string(),
        columns: cols(&[
            "backend", "policy", "figure", "replay", "simulate", "absolute", "relative",
        ]),
        rows: Vec::new(),
    };
    let mut harness = Table {
        id: "replay_harness".to_string(),
        title: "Replay: the harness's share".to_string(),
        note: "Replay hands every start and invoke to a worker thread. A replayed start-up is \
               start hand-off + backend start, an execution invoke hand-off + backend invoke \
               (+ the trace's hold); the hand-offs are the harness's cost. Backend times are \
               taken on the worker. Report lag (worker done to main thread) does not shift \
               event times. Wall-clock ns."
            .to_string(),
        columns: cols(&[
            "source", "backend", "policy", "part", "n", "p50_ns", "p99_ns", "max_ns",
        ]),
        rows: Vec::new(),
    };
    let mut harness_rows = |source: &str, r: &PlatformRun| {
        let Some(h) = &r.harness else { return };
        for (part, s) in h.parts() {
            let ns = |v: Option<u64>| Cell::Ns(v.map(|v| v as f64));
            harness.rows.push(vec![
                Cell::text(source),
                Cell::text(&r.backend),
                Cell::text(&r.policy),
                Cell::text(part),
                Cell::Count(Some(s.count as f64)),
                ns(s.p50),
                ns(s.p99),
                ns(s.max),
            ]);
        }
    };
    for p in &d.platforms {
        for r in &p.summary.runs {
            harness_rows("replay", r);
        }
    }
    for v in &d.validations {
        harness_rows("validate", &v.replay);
    }
    for v in &d.validations {
        for x in &v.differences {
            val.rows.push(vec![
                Cell::text(&v.backend),
                Cell::text(&v.policy),
                Cell::text(&x.name),
                Cell::Num(x.replay),
                Cell::Num(x.simulate),
                Cell::Num(x.absolute),
                Cell::Num(x.relative),
            ]);
        }
    }
    vec![runs, val, harness, env]
}
