//! What the simulator assumes about a backend: start-up latency, invoke overhead, memory per
//! unit, and how long an invocation runs when the trace does not say.
//!
//! Calibrations come from `unitlab measure` results ([`Calibration::from_measure`]): start-up
//! latency is sampled from the measured percentiles of `start` (piecewise-linear inverse CDF
//! through min, p50, p90, p99, p99.9, max), the first invoke's extra time over a warm invoke and
//! the warm invoke time are the measured medians, and memory per unit is the unit's host view (PSS of its
//! processes), else its engine view, else the in-process RSS delta: the order replay reads
//! each live unit in, so both price the same bytes. A stated model ([`Calibration::assumed`], `assume:<name>:<start-up>:<memory>`) exists for
//! what-if runs and simulator benchmarks; it is labelled "assumed, not measured" in every result
//! and nothing falls back to it.

use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};
use unitlab_results::platform::CalibrationRecord;
use unitlab_results::MeasureResult;

use crate::PlatformError;

/// Start-up latency model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Startup {
    /// Always the same, ns.
    Fixed {
        /// ns.
        ns: u64,
    },
    /// Piecewise-linear inverse CDF through (quantile, ns) points, quantiles 0..=1 ascending.
    Percentiles {
        /// (quantile, ns).
        points: Vec<(f64, u64)>,
    },
}

impl Startup {
    /// Draws one start-up latency.
    #[inline]
    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        match self {
            Startup::Fixed { ns } => *ns,
            Startup::Percentiles { points } => {
                let q: f64 = rng.gen();
                inverse_cdf(points, q)
            }
        }
    }

    /// The median.
    pub fn p50(&self) -> u64 {
        match self {
            Startup::Fixed { ns } => *ns,
            Startup::Percentiles { points } => inverse_cdf(points, 0.5),
        }
    }
}

fn inverse_cdf(points: &[(f64, u64)], q: f64) -> u64 {
    match points {
        [] => 0,
        [(_, v)] => *v,
        _ => {
            for w in points.windows(2) {
                let ((q0, v0), (q1, v1)) = (w[0], w[1]);
                if q <= q1 {
                    if q1 <= q0 {
                        return v1;
                    }
                    let t = ((q - q0) / (q1 - q0)).clamp(0.0, 1.0);
                    return (v0 as f64 + t * (v1 as f64 - v0 as f64)).round() as u64;
                }
            }
            points[points.len() - 1].1
        }
    }
}

/// Execution time of invocations whose trace row has no duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Execution {
    /// Refuse: every invocation must carry a duration.
    Required,
    /// Always the same, ns.
    Fixed {
        /// ns.
        ns: u64,
    },
    /// Exponential with this mean, ns.
    Exponential {
        /// Mean, ns.
        mean_ns: f64,
    },
}

impl Execution {
    /// Parses `trace` (required), `fixed:<dur>` or `exp:<mean>`.
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        let bad = |m: String| PlatformError::Config {
            what: format!("execution model `{s}`"),
            message: m,
        };
        if s == "trace" || s == "required" {
            return Ok(Execution::Required);
        }
        let (k, v) = s
            .split_once(':')
            .ok_or_else(|| bad("expected trace, fixed:<duration> or exp:<mean>".into()))?;
        let ns = crate::policy::parse_execution("the execution time", v).map_err(bad)?;
        match k {
            "fixed" => Ok(Execution::Fixed { ns }),
            "exp" | "exponential" => Ok(Execution::Exponential { mean_ns: ns as f64 }),
            _ => Err(bad("expected trace, fixed:<duration> or exp:<mean>".into())),
        }
    }

    fn describe(&self) -> String {
        match self {
            Execution::Required => "from the trace (required)".into(),
            Execution::Fixed { ns } => format!("fixed {ns} ns when the trace has none"),
            Execution::Exponential { mean_ns } => {
                format!("exponential, mean {mean_ns} ns, when the trace has none")
            }
        }
    }
}

/// A backend's calibration for the simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Backend name.
    pub backend: String,
    /// Where the numbers come from.
    pub source: String,
    /// Start-up latency.
    pub startup: Startup,
    /// Extra time of a unit's first invoke over a warm one, ns.
    pub first_invoke_extra_ns: u64,
    /// Per-invoke overhead added to every execution (the backend's warm invoke), ns.
    pub invoke_overhead_ns: u64,
    /// Memory per unit, bytes; `None`: GB-s unknown unless the trace gives memory.
    pub memory_bytes: Option<u64>,
    /// Add the trace's per-invocation memory to the unit's memory.
    pub add_trace_memory: bool,
    /// Execution time when the trace has none.
    pub execution: Execution,
}

impl Calibration {
    /// A calibration with zero start-up and overhead, for tests and pure policy studies.
    pub fn ideal(memory_bytes: Option<u64>) -> Self {
        Calibration {
            backend: "ideal".into(),
            source: "ideal: zero start-up, zero overhead".into(),
            startup: Startup::Fixed { ns: 0 },
            first_invoke_extra_ns: 0,
            invoke_overhead_ns: 0,
            memory_bytes,
            add_trace_memory: false,
            execution: Execution::Required,
        }
    }

    /// From a `unitlab measure` result directory (or its `summary.json`).
    pub fn from_measure(path: &Path) -> Result<Self, PlatformError> {
        let m = MeasureResult::load(path).map_err(|e| PlatformError::Calibration {
            source_name: path.display().to_string(),
            message: format!(
                "{e}\n  fix: pass a directory written by `unitlab measure --backend <name>`"
            ),
        })?;
        Self::from_measure_result(&m, &format!("measure:{}", path.display()))
    }

    /// From a loaded measurement.
    pub fn from_measure_result(m: &MeasureResult, source: &str) -> Result<Self, PlatformError> {
        let s = &m.cold_start_part;
        let mut points = Vec::new();
        for (q, v) in [
            (0.0, s.min),
            (0.5, s.p50),
            (0.9, s.p90),
            (0.99, s.p99),
            (0.999, s.p999),
            (1.0, s.max),
        ] {
            if let Some(v) = v {
                // Keep the points monotone: histogram percentiles can exceed the exact max by
                // the histogram's 0.1% precision.
                let v = points.last().map_or(v, |&(_, p): &(f64, u64)| v.max(p));
                points.push((q, v));
            }
        }
        if points.is_empty() {
            return Err(PlatformError::Calibration {
                source_name: source.into(),
                message: "the measurement has no cold start samples\n  fix: re-run `unitlab measure` with --units >= 1".into(),
            });
        }
        let warm = m.warm.p50;
        let first = m.cold_first_invoke.p50;
        let first_extra = match (first, warm) {
            (Some(f), Some(w)) => f.saturating_sub(w),
            _ => 0,
        };
        // The one view every figure uses (`MemorySummary::per_unit`): the same one replay
        // reads from each live unit, and the one the report's summary names.
        let memory = m.memory.per_unit().map(|(b, _)| b);
        Ok(Calibration {
            backend: m.backend.name.clone(),
            source: source.into(),
            startup: Startup::Percentiles { points },
            first_invoke_extra_ns: first_extra,
            invoke_overhead_ns: warm.unwrap_or(0),
            memory_bytes: memory.map(|v| v.round() as u64),
            add_trace_memory: true,
            execution: Execution::Required,
        })
    }

    /// A model the user states outright (`assume:<name>:<start-up>:<memory>`, e.g.
    /// `assume:container:150ms:1MiB`): fixed start-up latency and memory per unit, labelled as
    /// an assumption in every result, never as a measurement. For what-if runs and for
    /// benchmarks of the simulator itself; calibrate from `unitlab measure` for real figures.
    pub fn assumed(name: &str, startup_ns: u64, memory_bytes: u64) -> Self {
        Calibration {
            backend: name.into(),
            source: format!(
                "assumed by the user (not measured): start-up {startup_ns} ns, memory {memory_bytes} B per unit"
            ),
            startup: Startup::Fixed { ns: startup_ns },
            first_invoke_extra_ns: 0,
            invoke_overhead_ns: 0,
            memory_bytes: Some(memory_bytes),
            add_trace_memory: true,
            execution: Execution::Required,
        }
    }

    fn parse_assumed(spec: &str) -> Result<Self, PlatformError> {
        let bad = |m: String| {
            PlatformError::Calibration {
            source_name: format!("assume:{spec}"),
            message: format!(
                "{m}\n  expected assume:<name>:<start-up>:<memory>, e.g. assume:container:150ms:1MiB"
            ),
        }
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let [name, startup, memory] = parts[..] else {
            return Err(bad("wrong number of fields".into()));
        };
        let startup_ns = crate::policy::parse_execution("the start-up", startup).map_err(bad)?;
        let memory_bytes = unitlab_workloads::units::parse_size(memory).map_err(bad)?;
        Ok(Self::assumed(name, startup_ns, memory_bytes))
    }

    /// Measures a calibration on the spot: `units` cold starts (start, then first invoke),
    /// `units` warm invokes on one unit, and each unit's memory, like a small
    /// `unitlab measure`. Used by `unitlab validate --calibration auto`.
    pub fn measure(
        backend: &dyn unitlab_backend::Backend,
        spec: &unitlab_backend::FunctionSpec,
        units: usize,
        request: unitlab_backend::Request,
    ) -> Result<Self, PlatformError> {
        use std::time::Instant;
        let prepared = backend.prepare(spec)?;
        let mut starts = Vec::new();
        let mut firsts = Vec::new();
        let mut warms = Vec::new();
        let mut mems = Vec::new();
        let mut live = Vec::new();
        for i in 0..units.max(1) {
            let t = Instant::now();
            let mut u = prepared.start()?;
            starts.push(t.elapsed().as_nanos() as u64);
            let req = unitlab_backend::Request {
                seed: i as u32,
                ..request
            };
            let t = Instant::now();
            let r = u.invoke(&req)?;
            firsts.push(t.elapsed().as_nanos() as u64);
            unitlab_backend::verify(spec, &req, &r, None)?;
            live.push(u);
        }
        if let Some(u) = live.first_mut() {
            for i in 0..units.max(1) {
                let req = unitlab_backend::Request {
                    seed: 1000 + i as u32,
                    ..request
                };
                let t = Instant::now();
                let r = u.invoke(&req)?;
                warms.push(t.elapsed().as_nanos() as u64);
                unitlab_backend::verify(spec, &req, &r, None)?;
            }
        }
        for u in &mut live {
            if let Ok(m) = u.memory() {
                if let Some(b) = m.host_bytes.or(m.engine_bytes) {
                    mems.push(b);
                }
            }
        }
        for u in live {
            let _ = u.stop();
        }
        let s = unitlab_results::Summary::from_nanos(&starts);
        let mut points = Vec::new();
        for (q, v) in [
            (0.0, s.min),
            (0.5, s.p50),
            (0.9, s.p90),
            (0.99, s.p99),
            (1.0, s.max),
        ] {
            if let Some(v) = v {
                let v = points.last().map_or(v, |&(_, p): &(f64, u64)| v.max(p));
                points.push((q, v));
            }
        }
        let med = |v: &mut Vec<u64>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        let (first, warm) = (med(&mut firsts), med(&mut warms));
        Ok(Calibration {
            backend: backend.name().into(),
            source: format!(
                "auto: {} cold starts, {} warm invokes and {} memory readings measured just before the run",
                starts.len(),
                warms.len(),
                mems.len()
            ),
            startup: Startup::Percentiles { points },
            first_invoke_extra_ns: first.saturating_sub(warm),
            invoke_overhead_ns: warm,
            memory_bytes: (!mems.is_empty())
                .then(|| mems.iter().sum::<u64>() / mems.len() as u64),
            add_trace_memory: false,
            execution: Execution::Required,
        })
    }

    /// Parses `assume:<name>:<start-up>:<memory>`, `ideal` or a measure result path.
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        if let Some(b) = s.strip_prefix("assume:") {
            Self::parse_assumed(b)
        } else if s == "ideal" {
            Ok(Self::ideal(None))
        } else {
            Self::from_measure(Path::new(s))
        }
    }

    /// The record written with results.
    pub fn record(&self) -> CalibrationRecord {
        CalibrationRecord {
            backend: self.backend.clone(),
            source: self.source.clone(),
            startup_model: match &self.startup {
                Startup::Fixed { .. } => "fixed".into(),
                Startup::Percentiles { .. } => "percentiles (piecewise-linear inverse CDF)".into(),
            },
            startup_p50_ns: Some(self.startup.p50()),
            first_invoke_extra_ns: self.first_invoke_extra_ns,
            invoke_overhead_ns: self.invoke_overhead_ns,
            memory_bytes_per_unit: self.memory_bytes,
            execution_model: self.execution.describe(),
        }
    }
}

impl std::str::FromStr for Execution {
    type Err = PlatformError;
    /// [`Execution::parse`].
    fn from_str(s: &str) -> Result<Self, PlatformError> {
        Execution::parse(s)
    }
}

impl std::str::FromStr for Calibration {
    type Err = PlatformError;
    /// [`Calibration::parse`].
    fn from_str(s: &str) -> Result<Self, PlatformError> {
        Calibration::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_cdf_interpolates() {
        let p = vec![(0.0, 100), (0.5, 200), (1.0, 1000)];
        assert_eq!(inverse_cdf(&p, 0.0), 100);
        assert_eq!(inverse_cdf(&p, 0.25), 150);
        assert_eq!(inverse_cdf(&p, 0.75), 600);
        assert_eq!(inverse_cdf(&p, 1.0), 1000);
    }

    #[test]
    fn assumed_only_by_name() {
        let c = Calibration::parse("assume:wasm:5us:64KiB").unwrap();
        assert_eq!(c.startup.p50(), 5_000);
        assert_eq!(c.memory_bytes, Some(64 * 1024));
        assert!(c.source.contains("not measured"));
        assert!(Calibration::parse("assume:wasm:5us").is_err());
        // Start-up and memory name their unit, as every flag.
        let e = Calibration::parse("assume:wasm:150:64KiB")
            .unwrap_err()
            .to_string();
        assert!(e.contains("the start-up: `150` has no unit"), "{e}");
        let e = Calibration::parse("assume:wasm:5us:65536")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`65536` has no unit"), "{e}");
        assert!(Calibration::parse("builtin:wasm").is_err());
        assert!(Calibration::parse("/nonexistent/dir").is_err());
    }
}
