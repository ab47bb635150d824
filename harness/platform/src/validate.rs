//! `unitlab validate`: replay a short trace on a real backend, simulate the same trace with
//! that backend's calibration, and report the differences.

use unitlab_backend::{Backend, FunctionSpec};
use unitlab_results::platform::{
    Difference, PlatformRun, Pricing, RunKind, TraceInfo, ValidationReport, VALIDATION_SCHEMA,
};
use unitlab_workloads::{Invocation, TraceMeta};

use crate::calibration::Calibration;
use crate::platform::Platform;
use crate::pricing::{build_run, RunInfo};
use crate::replay::{replay, ReplayOptions, ReplayOutcome};
use crate::sim::{simulate, SimOptions, SimOutcome};
use crate::synth::MemTrace;
use crate::{PlatformError, Policy};

/// Everything a validation produced.
pub struct Validation {
    /// The comparison.
    pub report: ValidationReport,
    /// The replay (for its CSVs).
    pub replay: ReplayOutcome,
    /// The simulation (for its CSVs).
    pub simulate: SimOutcome,
}

/// Builds the replay's [`PlatformRun`].
pub fn replay_run(
    backend: &str,
    out: &ReplayOutcome,
    pricing: &Pricing,
    opts: &ReplayOptions,
) -> PlatformRun {
    let mut warnings = out.warnings.clone();
    if !out.errors.is_empty() {
        warnings.push(format!(
            "{} errors during replay, first: {}",
            out.errors.len(),
            out.errors[0]
        ));
    }
    let mut run = build_run(
        &out.platform,
        pricing,
        RunInfo {
            kind: RunKind::Replay,
            backend: backend.to_string(),
            memory_kind: if opts.unit_memory.is_some() {
                "override".into()
            } else {
                "measured (host view, else engine view, read before stop)".into()
            },
            calibration: None,
            run_seconds: out.run_seconds,
            latency_divisor: opts.time_scale,
            warnings,
        },
    );
    run.harness = Some(out.harness.clone());
    run
}

/// Builds a simulation's [`PlatformRun`].
pub fn sim_run(
    backend: &str,
    p: &Platform,
    run_seconds: f64,
    cal: &Calibration,
    pricing: &Pricing,
) -> PlatformRun {
    build_run(
        p,
        pricing,
        RunInfo {
            kind: RunKind::Simulate,
            backend: backend.to_string(),
            memory_kind: format!(
                "calibration{}",
                if cal.add_trace_memory { "+trace" } else { "" }
            ),
            calibration: Some(cal.record()),
            run_seconds,
            latency_divisor: 1.0,
            warnings: Vec::new(),
        },
    )
}

/// The figures compared.
pub fn differences(r: &PlatformRun, s: &PlatformRun) -> Vec<Difference> {
    let f = |v: Option<u64>| v.map(|x| x as f64);
    vec![
        Difference::new(
            "cold_starts",
            Some(r.counts.cold_starts as f64),
            Some(s.counts.cold_starts as f64),
        ),
        Difference::new("cold_rate", r.counts.cold_rate, s.counts.cold_rate),
        Difference::new(
            "e2e_p50_ns",
            f(r.latency.end_to_end.p50),
            f(s.latency.end_to_end.p50),
        ),
        Difference::new(
            "e2e_p99_ns",
            f(r.latency.end_to_end.p99),
            f(s.latency.end_to_end.p99),
        ),
        Difference::new(
            "startup_p50_ns",
            f(r.latency.startup.p50),
            f(s.latency.startup.p50),
        ),
        // The backend's own start, timed on the replay's worker thread (without the
        // harness's hand-offs, which the calibration does not include either).
        Difference::new(
            "backend_startup_p50_ns",
            f(r.harness.as_ref().and_then(|h| h.backend_start.p50)),
            f(s.latency.startup.p50),
        ),
        Difference::new(
            "idle_unit_seconds",
            Some(r.usage.unit_seconds.idle),
            Some(s.usage.unit_seconds.idle),
        ),
        Difference::new(
            "idle_gb_seconds",
            r.waiting.idle_gb_seconds,
            s.waiting.idle_gb_seconds,
        ),
        Difference::new(
            "mean_live_units",
            r.usage.mean_live_units,
            s.usage.mean_live_units,
        ),
        Difference::new(
            "units_started",
            Some(r.counts.units_started as f64),
            Some(s.counts.units_started as f64),
        ),
    ]
}

/// Replays `items` on `backend` and simulates them with `cal`, under `policy`.
#[allow(clippy::too_many_arguments)] // reason: the two runs' inputs, kept explicit
pub fn validate(
    backend: &dyn Backend,
    spec: &FunctionSpec,
    meta: &TraceMeta,
    items: Vec<Invocation>,
    policy: &Policy,
    cal: &Calibration,
    replay_opts: &ReplayOptions,
    seed: u64,
    pricing: &Pricing,
) -> Result<Validation, PlatformError> {
    let info = TraceInfo {
        source: meta.source.clone(),
        functions: meta.functions.len() as u64,
        invocations: items.len() as u64,
        last_arrival_ns: items.last().map_or(0, |i| i.arrival_ns),
        seed: meta.seed,
    };
    let mut mem = MemTrace::new(items.clone(), &meta.source);
    let _ = &mut mem;
    let rep = replay(backend, spec, mem, policy, replay_opts)?;
    let functions = meta.functions.len().max(
        items
            .iter()
            .map(|i| i.function as usize + 1)
            .max()
            .unwrap_or(0),
    ) as u32;
    let sim = simulate(
        items.into_iter().map(Ok),
        policy,
        cal,
        &SimOptions {
            seed,
            records: true,
            bin_ns: replay_opts.bin_ns,
            functions,
            progress: None,
        },
    )?;
    let r = replay_run(backend.name(), &rep, pricing, replay_opts);
    let s = sim_run(backend.name(), &sim.platform, sim.run_seconds, cal, pricing);
    let mut warnings = Vec::new();
    if replay_opts.time_scale != 1.0 {
        warnings.push(format!(
            "replay ran at time scale {}: its latencies are wall-clock, the simulation's are trace time; compare cold starts and GB-s, not latencies",
            replay_opts.time_scale
        ));
    }
    let report = ValidationReport {
        schema: VALIDATION_SCHEMA.into(),
        backend: backend.name().into(),
        policy: policy.name.clone(),
        trace: info,
        calibration: cal.record(),
        differences: differences(&r, &s),
        replay: r,
        simulate: s,
        warnings,
    };
    Ok(Validation {
        report,
        replay: rep,
        simulate: sim,
    })
}
