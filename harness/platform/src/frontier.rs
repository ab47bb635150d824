//! The keep-alive frontier and the burstiness sweep: typed simulations of every measured
//! execution model under a sweep of policies, written as `frontier.json`
//! (`unitlab_results::frontier`, whose module docs define every figure).
//!
//! - [`sweep`]: one trace, every model: fixed keep-alives (`FrontierOptions::keep_alives_ns`),
//!   the hybrid-histogram policy, and provisioned for peak (from an unlimited keep-alive run:
//!   the units each function ended up with, held for the whole trace at the provisioned
//!   price).
//! - [`burstiness_traces`]: on/off mixes with the same mean rate and a shrinking on-fraction
//!   (1 = Poisson), each with its measured dispersion index.
//! - [`run`]: the main traces and the burstiness traces, one [`FrontierResult`].
//!
//! Everything is a pure function of (traces, calibrations, prices, options, seed).

use std::path::Path;

use unitlab_results::frontier::{
    model_label, spectrum_rank, FrontierCurve, FrontierPoint, FrontierResult, MemoryBasis, Model,
    PointKind, TraceFrontier, TraceSummary, FRONTIER_SCHEMA,
};
use unitlab_results::platform::{PlatformRun, Pricing};
use unitlab_results::{EnvRecord, MeasureResult};
use unitlab_workloads::durations::DurationDist;
use unitlab_workloads::synth::{GenConfig, Mix, MixProcess, Pattern, Popularity, Synthetic};
use unitlab_workloads::{Invocation, TraceMeta, TraceStream, VecTrace};

use crate::calibration::{Calibration, Execution};
use crate::policy::{KeepAlive, Policy, NS_PER_S};
use crate::sim::{simulate, SimOptions};
use crate::validate::sim_run;
use crate::PlatformError;

/// The keep-alives of the sweep: 0, 100 ms, 1 s, 10 s, 1 min, 5 min, 10 min, 20 min.
pub const KEEP_ALIVES_NS: [u64; 8] = [
    0,
    100_000_000,
    NS_PER_S,
    10 * NS_PER_S,
    60 * NS_PER_S,
    300 * NS_PER_S,
    600 * NS_PER_S,
    1200 * NS_PER_S,
];

/// "Unlimited" keep-alive for provisioned-for-peak: a year, far beyond any trace here.
const UNLIMITED_NS: u64 = 365 * 86_400 * NS_PER_S;

/// Options of the sweeps.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontierOptions {
    /// Fixed keep-alives swept, ns.
    pub keep_alives_ns: Vec<u64>,
    /// Which memory a unit is priced for.
    pub memory_basis: MemoryBasis,
    /// p99 penalty target of "the cheapest keep-alive that meets it", ns.
    pub latency_target_ns: u64,
    /// Seed of the simulator's draws and of the generated traces.
    pub seed: u64,
    /// Window of the dispersion index, ns.
    pub dispersion_window_ns: u64,
    /// On-fractions of the burstiness traces (1 = Poisson); empty: no burstiness sweep.
    pub on_fractions: Vec<f64>,
    /// Mean rate of every burstiness trace, invocations/s over all functions.
    pub burst_rate_per_s: f64,
    /// Span of every burstiness trace, s.
    pub burst_span_s: f64,
    /// Functions in every burstiness trace.
    pub burst_functions: u32,
    /// Invocations of the Azure-shaped day of [`main_traces`].
    pub day_invocations: f64,
}

impl Default for FrontierOptions {
    fn default() -> Self {
        FrontierOptions {
            keep_alives_ns: KEEP_ALIVES_NS.to_vec(),
            memory_basis: MemoryBasis::Unit,
            latency_target_ns: 10_000_000,
            seed: 1,
            dispersion_window_ns: NS_PER_S,
            on_fractions: vec![1.0, 0.5, 0.2, 0.1, 0.05, 0.02],
            burst_rate_per_s: 2.0,
            burst_span_s: 3600.0,
            burst_functions: 10,
            day_invocations: 200_000.0,
        }
    }
}

/// An execution model with its calibration.
#[derive(Debug, Clone)]
pub struct FrontierModel {
    /// Who it is.
    pub model: Model,
    /// Its start-up and memory.
    pub calibration: Calibration,
}

impl FrontierModel {
    /// From a `unitlab measure` result directory.
    pub fn from_measure(dir: &Path) -> Result<Self, PlatformError> {
        let m = MeasureResult::load(dir).map_err(|e| PlatformError::Calibration {
            source_name: dir.display().to_string(),
            message: format!("{e}\n  fix: pass a directory written by `unitlab measure`"),
        })?;
        let mut cal = Calibration::from_measure_result(&m, &format!("measure:{}", dir.display()))?;
        let b = &m.backend;
        let label = model_label(&b.name, &b.settings);
        cal.backend = label.clone();
        Ok(FrontierModel {
            model: Model {
                label,
                backend: b.name.clone(),
                settings: b.settings.clone(),
                boundary: b.boundary,
                memory_bytes: cal.memory_bytes,
                startup_p50_ns: cal.startup.p50(),
                source: dir.display().to_string(),
            },
            calibration: cal,
        })
    }

    fn rank(&self) -> u32 {
        spectrum_rank(
            &self.model.backend,
            &self.model.settings,
            self.model.boundary,
        )
    }
}

/// A trace held in memory, with its summary.
#[derive(Debug, Clone)]
pub struct SweepTrace {
    /// Name, source, size, rate, dispersion.
    pub summary: TraceSummary,
    /// Metadata (function names).
    pub meta: TraceMeta,
    /// The invocations, sorted.
    pub items: Vec<Invocation>,
}

impl SweepTrace {
    /// Reads `stream` to the end and measures it (dispersion per `window_ns`).
    pub fn collect(
        name: &str,
        stream: impl TraceStream,
        window_ns: u64,
    ) -> Result<Self, PlatformError> {
        let meta = stream.meta().clone();
        let items: Vec<Invocation> = stream.collect::<Result<_, _>>()?;
        let stats = unitlab_workloads::stats::compute(
            VecTrace::new(meta.clone(), items.clone()),
            window_ns,
            0,
        )?;
        Ok(SweepTrace {
            summary: TraceSummary {
                name: name.to_string(),
                source: meta.source.clone(),
                invocations: items.len() as u64,
                span_s: stats.span_ns as f64 / 1e9,
                mean_rate_per_s: stats.mean_rate_per_s,
                dispersion_index: stats.dispersion_index,
                dispersion_window_ns: window_ns,
                on_fraction: None,
            },
            meta,
            items,
        })
    }
}

/// The burstiness traces: `burst_functions` functions sharing `burst_rate_per_s` by a
/// Zipf(1) law, each on/off with the given on-fraction (mean burst 10 s; 1 = Poisson), the
/// default workload's durations (log-normal, median 50 ms) and no memory column. Sorted by
/// measured dispersion index.
pub fn burstiness_traces(opts: &FrontierOptions) -> Result<Vec<SweepTrace>, PlatformError> {
    let mut out = Vec::new();
    for &f in &opts.on_fractions {
        let process = if f >= 1.0 {
            MixProcess::Poisson
        } else {
            MixProcess::OnOff {
                on_fraction: f,
                mean_on_s: 10.0,
            }
        };
        let pattern = Pattern::Mix(Mix {
            functions: opts.burst_functions,
            total_rate: opts.burst_rate_per_s,
            popularity: Popularity::Zipf { exponent: 1.0 },
            process,
            timer_fraction: 0.0,
            function_duration_sigma: 0.5,
        });
        let config = GenConfig {
            seed: opts.seed,
            span_s: opts.burst_span_s,
            durations: DurationDist::LogNormal {
                median_ns: 50e6,
                sigma: 1.0,
            },
            memory_bytes: None,
        };
        let gen = Synthetic::new(&pattern, &config)?;
        let mut t =
            SweepTrace::collect(&format!("on-fraction {f}"), gen, opts.dispersion_window_ns)?;
        t.summary.on_fraction = Some(f);
        out.push(t);
    }
    out.sort_by(|a, b| {
        let d = |t: &SweepTrace| t.summary.dispersion_index.unwrap_or(0.0);
        d(a).total_cmp(&d(b))
    });
    Ok(out)
}

/// Short label of a keep-alive: `0`, `100 ms`, `1 s`, `10 min`.
pub fn keep_alive_label(ns: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (60 * NS_PER_S, "min"),
        (NS_PER_S, "s"),
        (1_000_000, "ms"),
        (1_000, "µs"),
    ];
    if ns == 0 {
        return "0".to_string();
    }
    for (div, u) in UNITS {
        if ns >= div && ns.is_multiple_of(div) {
            return format!("{} {u}", ns / div);
        }
    }
    format!("{ns} ns")
}

fn per_million(x: Option<f64>, n: u64) -> Option<f64> {
    x.filter(|_| n > 0).map(|v| v / n as f64 * 1e6)
}

/// The p99, over every invocation, of the time spent waiting on a unit start (0 for a warm
/// invocation): 0 when at most 1% of invocations were cold, else the start-up time's quantile
/// `1 - 0.01 / cold share`, interpolated between the run's start-up percentiles (min, p50,
/// p90, p99, p99.9, max). Unlike end-to-end p99 minus execution p99, it does not vanish
/// when start-ups are short against executions.
fn penalty(run: &PlatformRun) -> Option<u64> {
    let n = run.counts.invocations;
    if n == 0 {
        return None;
    }
    let share = run.counts.cold_starts as f64 / n as f64;
    if share <= 0.01 {
        return Some(0);
    }
    let q = 1.0 - 0.01 / share;
    let s = &run.latency.startup;
    let pts: Vec<(f64, f64)> = [
        (0.0, s.min),
        (0.5, s.p50),
        (0.9, s.p90),
        (0.99, s.p99),
        (0.999, s.p999),
        (1.0, s.max),
    ]
    .into_iter()
    .filter_map(|(q, v)| Some((q, v? as f64)))
    .collect();
    let hi = pts.iter().position(|(pq, _)| *pq >= q)?;
    if hi == 0 {
        return Some(pts[0].1.round() as u64);
    }
    let ((q0, v0), (q1, v1)) = (pts[hi - 1], pts[hi]);
    let v = v0 + (v1 - v0) * (q - q0) / (q1 - q0).max(f64::EPSILON);
    Some(v.round() as u64)
}

/// A point from a simulated keep-alive or hybrid run.
fn point(
    kind: PointKind,
    keep_alive_ns: Option<u64>,
    label: String,
    run: &PlatformRun,
    pricing: &Pricing,
) -> FrontierPoint {
    let n = run.counts.invocations;
    let pp = pricing.pay_per_use.as_ref();
    let f = pp.map(|p| p.memory_unit.from_decimal_gb());
    let g = run.usage.gb_seconds;
    let idle_gb = match (g, f) {
        (Some(g), Some(f)) => Some(g.idle * f),
        (Some(g), None) => Some(g.idle),
        _ => None,
    };
    let idle_cost = run.costs.pay_per_use.as_ref().map(|c| c.idle);
    let memory_cost = match (g, pp, f) {
        (Some(g), Some(p), Some(f)) => Some(g.alive() * f * p.gb_second),
        _ => None,
    };
    FrontierPoint {
        kind,
        keep_alive_ns,
        label,
        invocations: n,
        cold_starts: run.counts.cold_starts,
        cold_share: (n > 0).then(|| run.counts.cold_starts as f64 / n as f64),
        units: run.counts.units_started + run.counts.units_provisioned,
        p99_ns: run.latency.end_to_end.p99,
        p99_execution_ns: run.latency.execution.p99,
        p99_penalty_ns: penalty(run),
        idle_gb_seconds: idle_gb,
        idle_cost,
        idle_cost_per_million: per_million(idle_cost, n),
        memory_cost,
        memory_cost_per_million: per_million(memory_cost, n),
    }
}

/// Provisioned for peak, from an unlimited keep-alive run: the units it started are each
/// function's peak concurrency; they are held over the trace's span at the provisioned price.
fn peak_point(
    unlimited: &PlatformRun,
    memory: Option<u64>,
    span_s: f64,
    pricing: &Pricing,
) -> FrontierPoint {
    let n = unlimited.counts.invocations;
    let units = unlimited.counts.units_started;
    let exec_gb = unlimited.usage.gb_seconds.map(|g| g.executing);
    // Held GB-s over the span, decimal GB (as usage is recorded).
    let held = memory.map(|m| units as f64 * m as f64 * span_s / 1e9);
    let (idle_gb, idle_cost) = match (held, exec_gb, pricing.pay_per_use.as_ref()) {
        (Some(h), Some(e), Some(p)) => {
            let g = (h - e).max(0.0) * p.memory_unit.from_decimal_gb();
            (Some(g), Some(g * p.gb_second))
        }
        _ => (None, None),
    };
    let memory_cost = match (held, pricing.provisioned.as_ref()) {
        (Some(h), Some(p)) => Some(h * p.memory_unit.from_decimal_gb() * p.gb_hour / 3600.0),
        _ => None,
    };
    let exec = unlimited.latency.execution.p99;
    FrontierPoint {
        kind: PointKind::ProvisionedForPeak,
        keep_alive_ns: None,
        label: "peak".to_string(),
        invocations: n,
        cold_starts: 0,
        cold_share: (n > 0).then_some(0.0),
        units,
        p99_ns: exec,
        p99_execution_ns: exec,
        p99_penalty_ns: exec.map(|_| 0),
        idle_gb_seconds: idle_gb,
        idle_cost,
        idle_cost_per_million: per_million(idle_cost, n),
        memory_cost,
        memory_cost_per_million: per_million(memory_cost, n),
    }
}

fn sim_one(
    trace: &SweepTrace,
    policy: &Policy,
    cal: &Calibration,
    pricing: &Pricing,
    seed: u64,
) -> Result<PlatformRun, PlatformError> {
    let out = simulate(
        trace.items.iter().cloned().map(Ok),
        policy,
        cal,
        &SimOptions {
            seed,
            records: false,
            bin_ns: 60 * NS_PER_S,
            functions: trace.meta.functions.len() as u32,
            progress: None,
        },
    )?;
    Ok(sim_run(
        &cal.backend,
        &out.platform,
        out.run_seconds,
        cal,
        pricing,
    ))
}

/// One trace, every model: the keep-alive sweep, hybrid, provisioned for peak.
pub fn sweep(
    trace: &SweepTrace,
    models: &[FrontierModel],
    pricing: &Pricing,
    opts: &FrontierOptions,
) -> Result<TraceFrontier, PlatformError> {
    let mut curves = Vec::new();
    for m in models {
        let mut cal = m.calibration.clone();
        cal.add_trace_memory = opts.memory_basis == MemoryBasis::UnitPlusTrace;
        if matches!(cal.execution, Execution::Required) {
            // Traces without durations run the bare invoke (its overhead is the calibration's).
            cal.execution = Execution::Fixed { ns: 0 };
        }
        let mut points = Vec::new();
        for &ka in &opts.keep_alives_ns {
            let policy = if ka == 0 {
                Policy::no_keep_alive()
            } else {
                Policy::fixed(ka)
            };
            let run = sim_one(trace, &policy, &cal, pricing, opts.seed)?;
            points.push(point(
                PointKind::KeepAlive,
                Some(ka),
                keep_alive_label(ka),
                &run,
                pricing,
            ));
        }
        let run = sim_one(trace, &Policy::hybrid(), &cal, pricing, opts.seed)?;
        points.push(point(
            PointKind::Hybrid,
            None,
            "hybrid".into(),
            &run,
            pricing,
        ));
        let mut unlimited = Policy::fixed(UNLIMITED_NS);
        unlimited.keep_alive = KeepAlive::Fixed { ns: UNLIMITED_NS };
        let run = sim_one(trace, &unlimited, &cal, pricing, opts.seed)?;
        // With trace memory, the unit's memory varies per invocation: use the mean per unit.
        let memory = match opts.memory_basis {
            MemoryBasis::Unit => cal.memory_bytes,
            MemoryBasis::UnitPlusTrace => run
                .memory_source
                .mean_bytes_per_unit
                .map(|v| v.round() as u64),
        };
        points.push(peak_point(&run, memory, trace.summary.span_s, pricing));
        curves.push(FrontierCurve {
            model: m.model.label.clone(),
            points,
        });
    }
    Ok(TraceFrontier {
        trace: trace.summary.clone(),
        curves,
    })
}

/// Every sweep: `main` traces (the first is the one the report leads with) and, when
/// `opts.on_fractions` is not empty, the burstiness traces. Models are sorted by the
/// spectrum (heaviest boundary first).
pub fn run(
    main: &[SweepTrace],
    models: &[FrontierModel],
    pricing: &Pricing,
    opts: &FrontierOptions,
    env: Option<EnvRecord>,
) -> Result<FrontierResult, PlatformError> {
    let mut models: Vec<FrontierModel> = models.to_vec();
    models.sort_by(|a, b| (a.rank(), &a.model.label).cmp(&(b.rank(), &b.model.label)));
    let mut frontiers = Vec::new();
    for t in main {
        frontiers.push(sweep(t, &models, pricing, opts)?);
    }
    let mut burstiness = Vec::new();
    for t in burstiness_traces(opts)? {
        burstiness.push(sweep(&t, &models, pricing, opts)?);
    }
    Ok(FrontierResult {
        schema: FRONTIER_SCHEMA.to_string(),
        memory_basis: opts.memory_basis,
        latency_target_ns: opts.latency_target_ns,
        pricing: pricing.clone(),
        seed: opts.seed,
        models: models.into_iter().map(|m| m.model).collect(),
        frontiers,
        burstiness,
        env,
    })
}

/// Writes `dir/frontier.json` (creating `dir`).
pub fn write(dir: &Path, result: &FrontierResult) -> Result<std::path::PathBuf, PlatformError> {
    std::fs::create_dir_all(dir).map_err(|source| PlatformError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let path = dir.join("frontier.json");
    crate::output::write_json(&path, result)?;
    Ok(path)
}

/// The traces of the main job's frontier: `user` (a trace the user gave, named) or the
/// default bursty workload, then an Azure-2019-shaped day (200 functions,
/// `opts.day_invocations` invocations, diurnal, heavy-tailed popularity) where keep-alives of
/// minutes matter.
pub fn main_traces(
    user: Option<(String, unitlab_workloads::BoxedTrace)>,
    opts: &FrontierOptions,
) -> Result<Vec<SweepTrace>, PlatformError> {
    let (seed, window_ns) = (opts.seed, opts.dispersion_window_ns);
    let first = match user {
        Some((name, t)) => SweepTrace::collect(&name, t, window_ns)?,
        None => SweepTrace::collect(
            "default bursty",
            unitlab_workloads::default_bursty(seed),
            window_ns,
        )?,
    };
    let day = crate::synth::AzureLikeDay::new(200, 1440, opts.day_invocations, seed);
    let day = SweepTrace::collect("Azure-shaped day", day, window_ns)?;
    Ok(vec![first, day])
}

/// The main job's sweep: models from `measure_dirs` (each a `unitlab measure` result of a
/// backend's `noop`), the [`main_traces`] and the burstiness traces; writes
/// `out/frontier.json` and returns its path.
pub fn main_job(
    measure_dirs: &[std::path::PathBuf],
    user_trace: Option<(String, unitlab_workloads::BoxedTrace)>,
    pricing: &Pricing,
    opts: &FrontierOptions,
    env: Option<EnvRecord>,
    out: &Path,
) -> Result<std::path::PathBuf, PlatformError> {
    let models = measure_dirs
        .iter()
        .map(|d| FrontierModel::from_measure(d))
        .collect::<Result<Vec<_>, _>>()?;
    let traces = main_traces(user_trace, opts)?;
    let result = run(&traces, &models, pricing, opts, env)?;
    write(out, &result)
}
