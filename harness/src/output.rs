//! Writing a measurement to its results directory, and the table printed to the terminal.
//!
//! Raw data first: `samples.csv` has every sample, `phases.csv` every unit's start phases,
//! `memory.csv` every memory reading; `summary.json` holds the summaries and the environment.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use unitlab_results::dir::ResultDir;
use unitlab_results::platform::{HarnessOverhead, PlatformSummary, RunKind, ValidationReport};
use unitlab_results::{MeasureResult, Summary};

use crate::measure::Measurement;

/// The name of a measurement's results directory: `<UTC time>-<backend>-<function>`.
pub fn dir_name(backend: &str, function: &str) -> String {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    format!("{stamp}-{backend}-{}", sanitize(function))
}

/// Reserves a results directory for a measurement of `function` on `backend` under `out`
/// (fails at once when `out` is not writable). Write into it with [`write`].
pub fn reserve(out: &Path, backend: &str, function: &str) -> Result<ResultDir> {
    Ok(ResultDir::create(out, &dir_name(backend, function))?)
}

/// Writes `m` into `dir` and renames it into place; returns its final path.
pub fn write(dir: ResultDir, m: &Measurement) -> Result<PathBuf> {
    write_files(dir.path(), m)?;
    Ok(dir.commit()?)
}

fn write_files(dir: &Path, m: &Measurement) -> Result<()> {
    let json = serde_json::to_string_pretty(&m.result)?;
    write_file(&dir.join("summary.json"), json.as_bytes())?;

    let mut csv = String::from("kind,unit,invoke,total_ns,start_ns,invoke_ns,guest_ns,verified\n");
    for s in &m.samples {
        let kind = match s.kind {
            unitlab_results::SampleKind::Cold => "cold",
            unitlab_results::SampleKind::Warm => "warm",
        };
        writeln!(
            csv,
            "{kind},{},{},{},{},{},{},{}",
            s.unit,
            s.invoke,
            s.total_ns,
            s.start_ns,
            s.invoke_ns,
            s.guest_ns.map(|g| g.to_string()).unwrap_or_default(),
            s.verified
        )?;
    }
    write_file(&dir.join("samples.csv"), csv.as_bytes())?;

    let mut csv = String::from("unit,phase,ns\n");
    for p in &m.phases {
        for ph in &p.phases {
            writeln!(csv, "{},{},{}", p.unit, ph.name, ph.nanos)?;
        }
    }
    write_file(&dir.join("phases.csv"), csv.as_bytes())?;

    let mut csv = String::from("unit,engine_bytes,host_bytes\n");
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in &m.memory {
        writeln!(
            csv,
            "{},{},{}",
            r.unit,
            opt(r.engine_bytes),
            opt(r.host_bytes)
        )?;
    }
    write_file(&dir.join("memory.csv"), csv.as_bytes())?;
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// A name made safe for a directory name.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Formats nanoseconds with a unit that keeps three significant digits (unitlab's one
/// duration formatter, shared with the report).
pub fn fmt_ns(ns: u64) -> String {
    unitlab_backend::units::fmt_ns(ns as f64)
}

/// Formats bytes in binary units (shared with the report).
pub fn fmt_bytes(b: f64) -> String {
    unitlab_backend::units::fmt_bytes(b)
}

/// The header of [`row`]s.
fn header(out: &mut String) {
    let _ = writeln!(
        out,
        "  {:<14} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "", "n", "p50", "p90", "p99", "p99.9", "max"
    );
}

fn row(out: &mut String, label: &str, s: &Summary) {
    let f = |v: Option<u64>| v.map(fmt_ns).unwrap_or_else(|| "-".into());
    let _ = writeln!(
        out,
        "  {label:<14} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10}",
        s.count,
        f(s.p50),
        f(s.p90),
        f(s.p99),
        f(s.p999),
        f(s.max)
    );
}

/// The table `unitlab measure` prints.
pub fn table(r: &MeasureResult) -> String {
    let mut out = String::new();
    let settings: Vec<String> = r
        .backend
        .settings
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(
        out,
        "{} / {}  ({})",
        r.backend.name,
        r.function.name,
        settings.join(", ")
    );
    if r.config.gap_ns > 0 {
        let _ = writeln!(
            out,
            "  each start and invoke after {} idle (--gap)",
            fmt_ns(r.config.gap_ns)
        );
    }
    header(&mut out);
    row(&mut out, "cold start", &r.cold);
    row(&mut out, "  start", &r.cold_start_part);
    row(&mut out, "  first invoke", &r.cold_first_invoke);
    for (name, s) in &r.phases {
        row(&mut out, &format!("    {name}"), s);
    }
    row(&mut out, "warm invoke", &r.warm);
    let m = &r.memory;
    if m.live_units > 0 {
        let mut parts = Vec::new();
        if let Some(v) = m.engine_bytes_per_unit {
            parts.push(format!("engine {}", fmt_bytes(v)));
        }
        if let Some(v) = m.host_bytes_per_unit {
            parts.push(format!("host {}", fmt_bytes(v)));
        }
        if let Some(v) = m.rss_delta_per_unit {
            parts.push(format!("process RSS delta {}", fmt_bytes(v)));
        }
        let _ = writeln!(
            out,
            "  memory per unit over {} live units: {}",
            m.live_units,
            if parts.is_empty() {
                "not reported".into()
            } else {
                parts.join(", ")
            }
        );
    }
    let _ = writeln!(
        out,
        "  prepare (not in cold start): {}",
        fmt_ns(r.prepare_ns)
    );
    let _ = writeln!(
        out,
        "  harness overhead: {} per sample (p99 {}), timer resolution {}",
        r.overhead
            .per_sample_ns
            .map(fmt_ns)
            .unwrap_or_else(|| "below timer resolution".into()),
        r.overhead
            .per_sample_p99_ns
            .map(fmt_ns)
            .unwrap_or_else(|| "-".into()),
        fmt_ns(r.overhead.timer_resolution_ns)
    );
    for w in &r.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    for e in r.errors.iter().take(5) {
        let _ = writeln!(out, "  error (unit {}): {}", e.unit, e.message);
    }
    if r.errors.len() > 5 {
        let _ = writeln!(
            out,
            "  ... and {} more errors in summary.json",
            r.errors.len() - 5
        );
    }
    out
}

/// The table `unitlab replay` and `unitlab simulate` print: one row per policy.
pub fn platform_table(s: &PlatformSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} on {}: {} invocations, {} functions",
        match s.kind {
            RunKind::Replay => "replay",
            RunKind::Simulate => "simulation",
        },
        s.backend.name,
        s.trace.invocations,
        s.trace.functions
    );
    let _ = writeln!(
        out,
        "  {:<28} {:>11} {:>10} {:>10} {:>10} {:>6} {:>12}",
        "policy", "cold starts", "cold rate", "e2e p50", "e2e p99", "idle", "idle GB-s"
    );
    let f = |v: Option<u64>| v.map(fmt_ns).unwrap_or_else(|| "-".into());
    for r in &s.runs {
        let _ = writeln!(
            out,
            "  {:<28} {:>11} {:>10} {:>10} {:>10} {:>6} {:>12}",
            r.policy,
            r.counts.cold_starts,
            r.counts
                .cold_rate
                .map_or("-".into(), |c| format!("{:.2}%", c * 100.0)),
            f(r.latency.end_to_end.p50),
            f(r.latency.end_to_end.p99),
            r.usage
                .idle_share
                .map_or("-".into(), |c| format!("{:.0}%", c * 100.0)),
            r.waiting
                .idle_gb_seconds
                .map_or("unknown".into(), |g| format!("{g:.4}")),
        );
    }
    for r in &s.runs {
        if let Some(h) = &r.harness {
            harness_rows(&mut out, &r.policy, h);
        }
        for w in &r.warnings {
            let _ = writeln!(out, "  warning ({}): {w}", r.policy);
        }
    }
    out
}

/// Replay's hand-off times and the backend's own, for one policy.
fn harness_rows(out: &mut String, policy: &str, h: &HarnessOverhead) {
    let _ = writeln!(
        out,
        "  {policy}: where replayed start-ups and invokes went (wall clock)"
    );
    header(out);
    for (part, s) in h.parts() {
        row(out, part, s);
    }
}

/// The table `unitlab validate` prints: replay against simulation, figure by figure.
pub fn validation_table(v: &ValidationReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "validate {} under {}: {} invocations, {} functions; calibration: {}",
        v.backend, v.policy, v.trace.invocations, v.trace.functions, v.calibration.source
    );
    let _ = writeln!(
        out,
        "  {:<24} {:>16} {:>16} {:>10}",
        "figure", "replay", "simulate", "relative"
    );
    for d in &v.differences {
        let fmt = |x: Option<f64>| match x {
            None => "-".to_string(),
            Some(x) if d.name.ends_with("_ns") => fmt_ns(x.max(0.0).round() as u64),
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
            Some(x) => format!("{x:.6}"),
        };
        let _ = writeln!(
            out,
            "  {:<24} {:>16} {:>16} {:>10}",
            d.name,
            fmt(d.replay),
            fmt(d.simulate),
            d.relative
                .map_or("-".into(), |r| format!("{:+.2}%", r * 100.0))
        );
    }
    if let Some(h) = &v.replay.harness {
        harness_rows(&mut out, &v.policy, h);
    }
    for w in &v.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    out
}
