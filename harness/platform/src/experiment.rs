//! The typed entry points the `unitlab` binary drives: [`simulate`], [`replay`] and
//! [`validate`] take a trace, policies and calibrations as values (parsed before any work
//! starts, by the [`std::str::FromStr`] impls of [`TraceSource`], [`Policy`],
//! [`crate::PickRule`], [`crate::OnFull`], [`Calibration`] and [`Execution`]), run every
//! (calibration, policy) pair, and write one results directory (`summary.json` + CSVs, see
//! [`crate::output`]). Nothing here parses a command line.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rand::{Rng as _, SeedableRng};
use unitlab_backend::{Backend, BackendInfo, FunctionSpec, Request};
use unitlab_results::dir::ResultDir;
use unitlab_results::platform::{
    PlatformRun, PlatformSummary, RunKind, TraceInfo, ValidationReport, PLATFORM_SCHEMA,
};
use unitlab_results::EnvRecord;
use unitlab_workloads::{BoxedTrace, Invocation, LoadOptions, TraceError, TraceMeta, TraceStream};

use crate::calibration::{Calibration, Execution};
use crate::output::{new_results_dir, write_json, write_run_files, write_summary};
use crate::parallel::{process_cpu_seconds, simulate_runs_sharded, SimRun};
use crate::policy::{Cap, OnFull, PickRule, Policy, NS_PER_S};
use crate::pricing::{compare_with_baseline, load_pricing};
use crate::replay::ReplayOptions;
use crate::synth::{AzureLikeDay, Background, MemTrace, MultiFunction, PoissonExponential};
use crate::validate::{replay_run, sim_run};
use crate::PlatformError;

/// Where a trace comes from: a file in any format the workloads crate reads, or one of the
/// seeded generators.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceSource {
    /// A trace file (`unitlab trace` formats; the [`LoadOptions`] say how to read it).
    File(PathBuf),
    /// `synthetic:bursty`: the workloads crate's default bursty mix.
    Bursty,
    /// `synthetic:azure-day:<functions>:<invocations>`: a streaming Azure-2019-shaped day.
    AzureDay {
        /// Functions.
        functions: u32,
        /// Invocations in the day.
        invocations: f64,
    },
    /// `synthetic:multi:<functions>:<rate/s>:<span s>`.
    Multi {
        /// Functions.
        functions: u32,
        /// Invocations per second, all functions together.
        rate: f64,
        /// Span, seconds.
        span_s: f64,
    },
    /// `synthetic:poisson:<rate>:<mu>:<n>`.
    Poisson {
        /// Arrivals per second.
        rate: f64,
        /// Service rate (1 / mean execution, per second).
        mu: f64,
        /// Invocations.
        n: usize,
    },
}

impl FromStr for TraceSource {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, PlatformError> {
        let Some(spec) = s.strip_prefix("synthetic:") else {
            return Ok(TraceSource::File(PathBuf::from(s)));
        };
        let bad = |message: String| PlatformError::Config {
            what: format!("trace `{s}`"),
            message,
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let num = |i: usize, what: &str| -> Result<f64, PlatformError> {
            parts
                .get(i)
                .ok_or_else(|| bad(format!("missing <{what}>")))?
                .parse::<f64>()
                .map_err(|_| bad(format!("<{what}> is not a number")))
        };
        Ok(match parts[0] {
            "bursty" => TraceSource::Bursty,
            "azure-day" => TraceSource::AzureDay {
                functions: num(1, "functions")? as u32,
                invocations: num(2, "invocations")?,
            },
            "multi" => TraceSource::Multi {
                functions: num(1, "functions")? as u32,
                rate: num(2, "rate")?,
                span_s: num(3, "span")?,
            },
            "poisson" => TraceSource::Poisson {
                rate: num(1, "rate")?,
                mu: num(2, "mu")?,
                n: num(3, "n")? as usize,
            },
            other => {
                return Err(bad(format!(
                "unknown generator `synthetic:{other}`; known: bursty, azure-day, multi, poisson"
            )))
            }
        })
    }
}

/// A trace to run: where from, how much of it, the generators' seed, how to read a file, and
/// what fills in a missing execution time.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// The source.
    pub source: TraceSource,
    /// Keep only arrivals before this time, ns.
    pub span_ns: Option<u64>,
    /// Seed of the synthetic generators (and of exponential fill-in executions).
    pub seed: u64,
    /// How to read a trace file.
    pub load: LoadOptions,
    /// Execution time of invocations without one.
    pub execution: Execution,
}

struct Truncated {
    inner: BoxedTrace,
    until: u64,
}

impl Iterator for Truncated {
    type Item = Result<Invocation, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.inner.next()? {
            Ok(i) if i.arrival_ns >= self.until => None,
            x => Some(x),
        }
    }
}

impl TraceStream for Truncated {
    fn meta(&self) -> &TraceMeta {
        self.inner.meta()
    }
}

impl TraceOptions {
    /// Opens the trace as a stream (re-opened for every run).
    pub fn open(&self) -> Result<BoxedTrace, PlatformError> {
        let seed = self.seed;
        let t: BoxedTrace = match &self.source {
            TraceSource::File(path) => {
                Box::new(unitlab_workloads::open(path, &self.load).map_err(|e| {
                    PlatformError::In {
                        what: format!("opening trace {}", path.display()),
                        source: Box::new(e.into()),
                    }
                })?)
            }
            TraceSource::Bursty => Box::new(unitlab_workloads::default_bursty(seed)),
            // Generated on its own thread, overlapping the simulation.
            TraceSource::AzureDay {
                functions,
                invocations,
            } => Box::new(
                Background::new(AzureLikeDay::new(*functions, 1440, *invocations, seed)).map_err(
                    |e| PlatformError::Io {
                        path: "starting the trace generator thread".into(),
                        source: e,
                    },
                )?,
            ),
            TraceSource::Multi {
                functions,
                rate,
                span_s,
            } => Box::new(MultiFunction::new(
                *functions,
                *rate,
                *span_s,
                seed,
                &format!(
                    "platform::synth::multi_function {} seed={seed}",
                    synthetic_spec(&self.source)
                ),
            )),
            // Generated as it is read.
            TraceSource::Poisson { rate, mu, n } => Box::new(PoissonExponential::new(
                *rate,
                *mu,
                *n,
                seed,
                &format!(
                    "platform::synth::poisson_exponential {} seed={seed}",
                    synthetic_spec(&self.source)
                ),
            )),
        };
        Ok(match self.span_ns {
            Some(until) => Box::new(Truncated { inner: t, until }),
            None => t,
        })
    }

    /// Reads the whole trace into memory (replay and validate do), filling in missing
    /// execution times from [`TraceOptions::execution`].
    pub fn collect(&self) -> Result<(TraceMeta, Vec<Invocation>), PlatformError> {
        let t = self.open()?;
        let meta = t.meta().clone();
        let mut items: Vec<Invocation> = t.collect::<Result<_, _>>()?;
        fill_durations(&mut items, &self.execution, self.seed);
        Ok((meta, items))
    }
}

/// The generator spec as written after `synthetic:` (for the trace's source label).
fn synthetic_spec(s: &TraceSource) -> String {
    match s {
        TraceSource::Multi {
            functions,
            rate,
            span_s,
        } => format!("multi:{functions}:{rate}:{span_s}"),
        TraceSource::Poisson { rate, mu, n } => format!("poisson:{rate}:{mu}:{n}"),
        _ => String::new(),
    }
}

/// Fills in missing durations: `fixed` gives each the same, `exp` draws them (seeded);
/// `trace` leaves them missing.
fn fill_durations(items: &mut [Invocation], execution: &Execution, seed: u64) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for i in items.iter_mut().filter(|i| i.duration_ns.is_none()) {
        i.duration_ns = match execution {
            Execution::Required => None,
            Execution::Fixed { ns } => Some(*ns),
            Execution::Exponential { mean_ns } => {
                let e: f64 = rng.sample(rand_distr::Exp1);
                Some((e * mean_ns).round() as u64)
            }
        };
    }
}

/// Settings every policy of a run shares.
#[derive(Debug, Clone)]
pub struct PolicyOptions {
    /// Idle-unit pick rule.
    pub pick: PickRule,
    /// Invocations one unit runs at once.
    pub concurrency: u32,
    /// Cap on total live units.
    pub cap: Option<u32>,
    /// At the cap.
    pub on_full: OnFull,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            pick: PickRule::Mru,
            concurrency: 1,
            cap: None,
            on_full: OnFull::Queue,
        }
    }
}

/// The policies with the shared settings applied and the no-keep-alive baseline added (it is
/// always run, to answer what avoiding cold starts cost), baseline first.
pub fn with_baseline(
    policies: &[Policy],
    common: &PolicyOptions,
) -> Result<Vec<Policy>, PlatformError> {
    let mut all = policies.to_vec();
    if !all.iter().any(|p| p.name == "none") {
        all.insert(0, Policy::no_keep_alive());
    }
    let mut out = Vec::new();
    for mut p in all {
        p.pick = common.pick;
        p.concurrency = common.concurrency;
        p.cap = common.cap.map(|max_units| Cap {
            max_units,
            on_full: common.on_full,
        });
        p.refresh_name();
        p.validate()?;
        out.push(p);
    }
    out.sort_by_key(|p| !p.is_baseline());
    Ok(out)
}

/// Where and how results are written.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    /// Results directory (a timestamped subdirectory is created in it).
    pub out: PathBuf,
    /// Pricing TOML (default: the built-in `harness/platform/pricing.toml`).
    pub pricing: Option<PathBuf>,
    /// Timeline bin width, ns (default: 60 s for simulate, 1 s for replay and validate).
    pub bin_ns: Option<u64>,
    /// Show progress bars.
    pub progress: bool,
    /// The machine, recorded with the results.
    pub env: Option<EnvRecord>,
}

/// A written results directory and its summary.
#[derive(Debug, Clone)]
pub struct PlatformResult {
    /// The directory.
    pub dir: PathBuf,
    /// What `summary.json` in it holds.
    pub summary: PlatformSummary,
    /// How fast it went ([`simulate`] only).
    pub speed: Option<SimSpeed>,
}

/// How fast [`simulate`] went: every run's invocations over the call's wall and CPU time
/// (reading the trace, simulating, writing results).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimSpeed {
    /// Invocations in the trace.
    pub invocations: u64,
    /// Runs (calibrations x policies, baseline included).
    pub runs: usize,
    /// Threads simulating.
    pub threads: usize,
    /// Shards each run without a cap or records was split into (1: none).
    pub shards: usize,
    /// Runs split into shards.
    pub sharded_runs: usize,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// CPU seconds of the process over the same span (every thread).
    pub cpu_seconds: f64,
}

impl std::fmt::Display for SimSpeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.invocations as f64 * self.runs as f64;
        write!(
            f,
            "speed: {} invocations x {} runs on {} threads in {:.3} s wall, {:.3} s CPU: {:.1} M invocations per wall-second, {:.1} M per CPU-second",
            self.invocations,
            self.runs,
            self.threads,
            self.wall_seconds,
            self.cpu_seconds,
            total / self.wall_seconds / 1e6,
            total / self.cpu_seconds / 1e6
        )?;
        if self.sharded_runs > 0 {
            write!(
                f,
                " ({} of the runs split into {} shards of functions)",
                self.sharded_runs, self.shards
            )?;
        }
        Ok(())
    }
}

/// Simulator settings.
#[derive(Debug, Clone, Default)]
pub struct SimulateOptions {
    /// Seed of the simulator's draws (start-up latencies, exponential executions).
    pub seed: u64,
    /// Also write per-invocation and per-unit CSVs (memory grows with the trace).
    pub records: bool,
    /// Memory per unit in bytes, overriding the calibration's.
    pub unit_memory: Option<u64>,
    /// Do not add the trace's per-invocation memory to the unit's memory.
    pub no_trace_memory: bool,
    /// Threads simulating (the runs, and the shards of the runs without a cap or records, are
    /// spread over them; the trace is read once, on the calling thread); 0: every core.
    /// Outputs do not depend on it.
    pub threads: usize,
    /// Shards each run without a cap or records is split into; 0: just enough for the runs
    /// to fill the threads ([`crate::parallel::default_shards`]). Outputs do not depend on it.
    pub shards: usize,
}

fn progress(on: bool, len: Option<u64>, what: &str) -> Option<indicatif::ProgressBar> {
    if !on {
        return None;
    }
    let pb = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {pos} invocations [{elapsed_precise}] {per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    pb.set_message(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    Some(pb)
}

fn trace_info(meta: &TraceMeta, invocations: u64, last: u64) -> TraceInfo {
    TraceInfo {
        source: meta.source.clone(),
        functions: meta.functions.len() as u64,
        invocations,
        last_arrival_ns: last,
        seed: meta.seed,
    }
}

fn fill_avoidance(runs: &mut [PlatformRun], pricing: &unitlab_results::platform::Pricing) {
    if let Some(bi) = runs.iter().position(|r| r.facts.baseline) {
        let base = runs[bi].clone();
        for (i, r) in runs.iter_mut().enumerate() {
            if i != bi && r.backend == base.backend {
                compare_with_baseline(r, &base, pricing);
            }
        }
    }
}

/// Compares every run with its backend's baseline, writes `summary.json`.
/// The directory is complete then: it is renamed from its partial name to its own.
fn finish(
    reserved: ResultDir,
    mut summary: PlatformSummary,
) -> Result<PlatformResult, PlatformError> {
    fill_avoidance(&mut summary.runs, &summary.pricing);
    write_summary(reserved.path(), &summary)?;
    let dir = reserved.commit()?;
    Ok(PlatformResult {
        dir,
        summary,
        speed: None,
    })
}

/// Wraps an error with what was being done.
fn context(what: impl Into<String>) -> impl FnOnce(PlatformError) -> PlatformError {
    let what = what.into();
    move |e| PlatformError::In {
        what,
        source: Box::new(e),
    }
}

/// Simulates every (calibration, policy) pair on the trace and writes one results directory.
/// `policies` are taken as given (see [`with_baseline`]); each calibration's execution model
/// is the trace's.
pub fn simulate(
    trace: &TraceOptions,
    policies: &[Policy],
    calibrations: &[Calibration],
    options: &SimulateOptions,
    output: &OutputOptions,
) -> Result<PlatformResult, PlatformError> {
    let pricing = load_pricing(output.pricing.as_deref())?;
    let bin_ns = output.bin_ns.unwrap_or(60 * NS_PER_S);
    let cals: Vec<Calibration> = calibrations
        .iter()
        .map(|c| {
            let mut cal = c.clone();
            cal.execution = trace.execution.clone();
            if let Some(m) = options.unit_memory {
                cal.memory_bytes = Some(m);
            }
            if options.no_trace_memory {
                cal.add_trace_memory = false;
            }
            cal
        })
        .collect();
    let name = cals
        .iter()
        .map(|c| c.backend.as_str())
        .collect::<Vec<_>>()
        .join("+");
    let (t0, c0) = (std::time::Instant::now(), process_cpu_seconds());
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let reserved = new_results_dir(&output.out, "simulate", &name)?;
    let dir = reserved.path().to_path_buf();
    let t = trace.open()?;
    // What the summary needs of the metadata, without a copy of its function names (tens
    // of thousands of strings for a large trace).
    let mut info = trace_info(t.meta(), 0, 0);
    let span_ns = t.meta().span_ns;
    if let Some(span) = span_ns {
        crate::timeline::check_timeline(span, bin_ns)?;
    }
    let mut sim_runs = Vec::new();
    let mut bars = Vec::new();
    for cal in &cals {
        for p in policies {
            let pb = progress(
                output.progress,
                None,
                &format!("simulate {} {}", cal.backend, p.name),
            );
            bars.push(pb.clone());
            sim_runs.push(SimRun {
                policy: p,
                calibration: cal,
                options: crate::sim::SimOptions {
                    seed: options.seed,
                    records: options.records,
                    bin_ns,
                    functions: info.functions as u32,
                    progress: pb,
                },
            });
        }
    }
    let shards = match options.shards {
        0 => crate::parallel::default_shards(threads, sim_runs.len()),
        n => n,
    };
    let (outs, read) =
        simulate_runs_sharded(t, &sim_runs, threads, shards).map_err(context("simulating"))?;
    for pb in bars.into_iter().flatten() {
        pb.finish_and_clear();
    }
    (info.invocations, info.last_arrival_ns) = (read.invocations, read.last_arrival_ns);
    let mut runs = Vec::new();
    for (r, out) in sim_runs.iter().zip(&outs) {
        let cal = r.calibration;
        let run = sim_run(&cal.backend, &out.platform, out.run_seconds, cal, &pricing);
        let sub = dir.join(&cal.backend);
        write_run_files(&sub, &r.policy.name, &out.platform, &[])?;
        runs.push(run);
    }
    drop(outs);
    let mut result = finish(
        reserved,
        PlatformSummary {
            schema: PLATFORM_SCHEMA.into(),
            kind: RunKind::Simulate,
            backend: BackendInfo {
                name,
                ..BackendInfo::default()
            },
            function: None,
            trace: info,
            time_scale: 1.0,
            seed: options.seed,
            pricing,
            env: output.env.clone(),
            runs,
        },
    )?;
    result.speed = Some(SimSpeed {
        invocations: read.invocations,
        runs: sim_runs.len(),
        threads: read.threads,
        shards: read.shards,
        sharded_runs: read.sharded_runs,
        wall_seconds: t0.elapsed().as_secs_f64(),
        cpu_seconds: process_cpu_seconds() - c0,
    });
    Ok(result)
}

/// Replay settings shared by [`replay`] and [`validate`].
#[derive(Debug, Clone)]
pub struct ReplaySettings {
    /// Trace time per wall time (1: real time; 100: a hundred times faster).
    pub time_scale: f64,
    /// Worker threads starting, invoking and stopping units.
    pub workers: usize,
    /// Hold units busy for the trace's durations (false: run the bare function).
    pub hold: bool,
    /// Request size (cpu: KiB, alloc: MiB).
    pub size: u32,
    /// Memory per unit in bytes for GB-s, instead of each unit's measured memory.
    pub unit_memory: Option<u64>,
    /// Stop after this many invocations.
    pub limit: Option<u64>,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        ReplaySettings {
            time_scale: 1.0,
            workers: 8,
            hold: true,
            size: 0,
            unit_memory: None,
            limit: None,
        }
    }
}

impl ReplaySettings {
    fn options(&self, bin_ns: u64, progress: Option<indicatif::ProgressBar>) -> ReplayOptions {
        ReplayOptions {
            time_scale: self.time_scale,
            workers: self.workers,
            hold: self.hold,
            request: Request {
                size: self.size,
                seed: 0,
            },
            bin_ns,
            unit_memory: self.unit_memory,
            progress,
            limit: self.limit,
        }
    }
}

/// Replays the trace on `backend` running `spec` under every policy in turn; writes one
/// results directory.
pub fn replay(
    backend: &dyn Backend,
    spec: &FunctionSpec,
    trace: &TraceOptions,
    policies: &[Policy],
    settings: &ReplaySettings,
    output: &OutputOptions,
) -> Result<PlatformResult, PlatformError> {
    let pricing = load_pricing(output.pricing.as_deref())?;
    let bin_ns = output.bin_ns.unwrap_or(NS_PER_S);
    let reserved = new_results_dir(&output.out, "replay", backend.name())?;
    let dir = reserved.path().to_path_buf();
    let mut runs = Vec::new();
    let mut info = None;
    for p in policies {
        let (meta, items) = trace.collect()?;
        info = Some(trace_info(
            &meta,
            items.len() as u64,
            items.last().map_or(0, |i| i.arrival_ns),
        ));
        let pb = progress(
            output.progress,
            Some(items.len() as u64),
            &format!("replay {} {}", backend.name(), p.name),
        );
        let opts = settings.options(bin_ns, pb.clone());
        let mut t = MemTrace::new(items, &meta.source);
        t.set_meta(meta.clone());
        let out = crate::replay::replay(backend, spec, t, p, &opts).map_err(context(format!(
            "replaying on {} under {}",
            backend.name(),
            p.name
        )))?;
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        let run = replay_run(backend.name(), &out, &pricing, &opts);
        write_run_files(&dir, &p.name, &out.platform, &out.memory_samples)?;
        runs.push(run);
    }
    finish(
        reserved,
        PlatformSummary {
            schema: PLATFORM_SCHEMA.into(),
            kind: RunKind::Replay,
            backend: backend.info(),
            function: Some(spec.clone()),
            trace: info.unwrap_or_default(),
            time_scale: settings.time_scale,
            seed: trace.seed,
            pricing,
            env: output.env.clone(),
            runs,
        },
    )
}

/// The calibration [`validate`] simulates with.
#[derive(Debug, Clone)]
pub enum ValidateCalibration {
    /// `auto`: measure 30 cold starts of the backend now, before the replay.
    Auto,
    /// A given calibration (a `unitlab measure` result directory, or `assume:...`).
    Given(Calibration),
}

impl FromStr for ValidateCalibration {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, PlatformError> {
        if s == "auto" {
            Ok(ValidateCalibration::Auto)
        } else {
            s.parse().map(ValidateCalibration::Given)
        }
    }
}

/// A written validation directory and its report.
#[derive(Debug, Clone)]
pub struct ValidateResult {
    /// The directory (`validation.json`, `replay/`, `simulate/`).
    pub dir: PathBuf,
    /// The comparison.
    pub report: ValidationReport,
}

/// Replays the trace on `backend` under `policy`, simulates it with the backend's
/// calibration, and writes the comparison (`validation.json`) and both runs' CSVs.
#[allow(clippy::too_many_arguments)] // reason: each is one typed input of the experiment
pub fn validate(
    backend: &dyn Backend,
    spec: &FunctionSpec,
    trace: &TraceOptions,
    policy: &Policy,
    calibration: &ValidateCalibration,
    seed: u64,
    settings: &ReplaySettings,
    output: &OutputOptions,
) -> Result<ValidateResult, PlatformError> {
    let pricing = load_pricing(output.pricing.as_deref())?;
    let mut policy = policy.clone();
    policy.refresh_name();
    let bin_ns = output.bin_ns.unwrap_or(NS_PER_S);
    let request = Request {
        size: settings.size,
        seed: 0,
    };
    // Before any work: a bad output folder fails now.
    let reserved = new_results_dir(&output.out, "validate", backend.name())?;
    let dir = reserved.path().to_path_buf();
    let mut cal = match calibration {
        ValidateCalibration::Auto => Calibration::measure(backend, spec, 30, request)?,
        ValidateCalibration::Given(c) => c.clone(),
    };
    // Replay measures each unit's memory as it is; the trace's memory column is not part
    // of it, so the simulation leaves it out too.
    cal.add_trace_memory = false;
    cal.execution = trace.execution.clone();
    if let Some(m) = settings.unit_memory {
        cal.memory_bytes = Some(m);
    }
    let (meta, items) = trace.collect()?;
    let opts = settings.options(
        bin_ns,
        progress(output.progress, Some(items.len() as u64), "validate"),
    );
    let v = crate::validate::validate(
        backend, spec, &meta, items, &policy, &cal, &opts, seed, &pricing,
    )?;
    write_json(&dir.join("validation.json"), &v.report)?;
    write_run_files(
        &dir.join("replay"),
        &policy.name,
        &v.replay.platform,
        &v.replay.memory_samples,
    )?;
    write_run_files(
        &dir.join("simulate"),
        &policy.name,
        &v.simulate.platform,
        &[],
    )?;
    Ok(ValidateResult {
        dir: reserved.commit()?,
        report: v.report,
    })
}

/// The results directory's summary, read back (for printing a table).
pub fn load_summary(dir: &Path) -> Result<PlatformSummary, PlatformError> {
    PlatformSummary::load(dir).map_err(|e| PlatformError::Config {
        what: format!("reading back {}", dir.display()),
        message: e.to_string(),
    })
}
