//! Command-line arguments of `unitlab replay`, `unitlab simulate` and `unitlab validate`
//! (clap derive, wired into the binary by the harness). Each has an `execute` that writes a
//! results directory and returns its path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use unitlab_backend::{Backend, BackendInfo, FunctionSpec, Request};
use unitlab_results::platform::{
    PlatformRun, PlatformSummary, RunKind, TraceInfo, PLATFORM_SCHEMA,
};
use unitlab_results::EnvRecord;
use unitlab_workloads::{BoxedTrace, Invocation, LoadOptions, TraceError, TraceMeta, TraceStream};

use crate::calibration::{Calibration, Execution};
use crate::output::{new_results_dir, write_json, write_run_files, write_summary};
use crate::parallel::{process_cpu_seconds, simulate_runs, SimRun};
use crate::policy::{parse_duration, Cap, OnFull, PickRule, Policy, NS_PER_S};
use crate::pricing::{compare_with_baseline, load_pricing};
use crate::replay::{replay, ReplayOptions};
use crate::sim::SimOptions;
use crate::synth::{multi_function, AzureLikeDay, Background, MemTrace, PoissonExponential};
use crate::validate::{replay_run, sim_run, validate};

/// Which trace to run.
#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// A trace file in any format `unitlab trace` reads, or a generator:
    /// `synthetic:bursty` (the workloads crate's default bursty mix),
    /// `synthetic:azure-day:<functions>:<invocations>` (a streaming Azure-2019-shaped day),
    /// `synthetic:multi:<functions>:<rate/s>:<span s>`, `synthetic:poisson:<rate>:<mu>:<n>`.
    #[arg(long)]
    pub trace: String,
    /// Keep only arrivals before this time (e.g. `60s`).
    #[arg(long)]
    pub span: Option<String>,
    /// Seed of the synthetic generators.
    #[arg(long, default_value_t = 0)]
    pub trace_seed: u64,
    /// How to load a trace file.
    #[command(flatten)]
    pub load: LoadOptions,
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

impl TraceArgs {
    /// Opens the trace as a stream (re-opened for every run).
    pub fn open(&self) -> anyhow::Result<BoxedTrace> {
        let t: BoxedTrace = if let Some(spec) = self.trace.strip_prefix("synthetic:") {
            let parts: Vec<&str> = spec.split(':').collect();
            let num = |i: usize, what: &str| -> anyhow::Result<f64> {
                parts
                    .get(i)
                    .with_context(|| format!("synthetic:{spec}: missing <{what}>"))?
                    .parse::<f64>()
                    .with_context(|| format!("synthetic:{spec}: <{what}> is not a number"))
            };
            match parts[0] {
                "bursty" => Box::new(unitlab_workloads::default_bursty(self.trace_seed)),
                // Generated on its own thread, overlapping the simulation.
                "azure-day" => Box::new(
                    Background::new(AzureLikeDay::new(
                        num(1, "functions")? as u32,
                        1440,
                        num(2, "invocations")?,
                        self.trace_seed,
                    ))
                    .context("starting the trace generator thread")?,
                ),
                "multi" => Box::new(MemTrace::new(
                    multi_function(
                        num(1, "functions")? as u32,
                        num(2, "rate")?,
                        num(3, "span")?,
                        self.trace_seed,
                    ),
                    &format!("platform::synth::multi_function {spec} seed={}", self.trace_seed),
                )),
                // Generated as it is read.
                "poisson" => Box::new(PoissonExponential::new(
                    num(1, "rate")?,
                    num(2, "mu")?,
                    num(3, "n")? as usize,
                    self.trace_seed,
                    &format!("platform::synth::poisson_exponential {spec} seed={}", self.trace_seed),
                )),
                other => bail!(
                    "unknown generator `synthetic:{other}`; known: bursty, azure-day, multi, poisson"
                ),
            }
        } else {
            let path = Path::new(&self.trace);
            Box::new(
                unitlab_workloads::open(path, &self.load)
                    .with_context(|| format!("opening trace {}", path.display()))?,
            )
        };
        Ok(match &self.span {
            Some(s) => Box::new(Truncated {
                inner: t,
                until: parse_duration(s).map_err(anyhow::Error::msg)?,
            }),
            None => t,
        })
    }
}

/// Which policies, and their common settings.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// Policies (repeat the flag): `none`, `keepalive:10m`, `provisioned:2[+keepalive:10m]`,
    /// `hybrid[:range=4h,bin=1m,head=5,tail=99,margin=0.1,cv=2,min=10,oor=0.5,fallback=4h]`.
    /// The no-keep-alive baseline is always run too, to answer what avoiding cold starts cost.
    #[arg(long = "policy", default_values_t = ["keepalive:10m".to_string(), "keepalive:20m".to_string(), "hybrid".to_string()])]
    pub policies: Vec<String>,
    /// Idle-unit pick rule: mru, lru or newest.
    #[arg(long, default_value = "mru")]
    pub pick: String,
    /// Invocations one unit runs at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: u32,
    /// Cap on total live units.
    #[arg(long)]
    pub cap: Option<u32>,
    /// At the cap: `queue` or `reject`.
    #[arg(long, default_value = "queue")]
    pub on_full: String,
}

impl PolicyArgs {
    /// The policies, baseline first.
    pub fn policies(&self) -> anyhow::Result<Vec<Policy>> {
        let pick = PickRule::parse(&self.pick)?;
        let on_full = match self.on_full.as_str() {
            "queue" => OnFull::Queue,
            "reject" => OnFull::Reject,
            o => bail!("--on-full {o}: expected queue or reject"),
        };
        let mut specs = self.policies.clone();
        if !specs.iter().any(|s| s == "none") {
            specs.insert(0, "none".into());
        }
        let mut out = Vec::new();
        for s in &specs {
            let mut p = Policy::parse(s)?;
            p.pick = pick;
            p.concurrency = self.concurrency;
            p.cap = self.cap.map(|max_units| Cap { max_units, on_full });
            p.refresh_name();
            p.validate()?;
            out.push(p);
        }
        out.sort_by_key(|p| !p.is_baseline());
        Ok(out)
    }
}

/// Options shared by the three commands.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Results directory (a timestamped subdirectory is created in it).
    #[arg(long, short, default_value = "results")]
    pub out: PathBuf,
    /// Pricing TOML (default: harness/platform/pricing.toml, built in).
    #[arg(long)]
    pub pricing: Option<PathBuf>,
    /// Timeline bin width (1ms to 366d; a timeline holds at most 2^21 bins).
    #[arg(long)]
    pub bin: Option<String>,
    /// Show progress bars.
    #[arg(long)]
    pub progress: bool,
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
    if let Some(bi) = runs.iter().position(|r| {
        r.policy_settings.get("keep_alive").map(String::as_str) == Some("none")
            && r.policy_settings
                .get("provisioned_per_function")
                .map(String::as_str)
                == Some("0")
    }) {
        let base = runs[bi].clone();
        for (i, r) in runs.iter_mut().enumerate() {
            if i != bi && r.backend == base.backend {
                compare_with_baseline(r, &base, pricing);
            }
        }
    }
}

/// `unitlab simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The trace.
    #[command(flatten)]
    pub trace: TraceArgs,
    /// The policies.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Backend calibrations (repeat for several backends): a `unitlab measure` result
    /// directory, `assume:<name>:<start-up>:<memory>` (a what-if model you state, e.g.
    /// `assume:container:150ms:1MiB`, labelled as not measured), or `ideal` (zero start-up).
    /// Required: nothing is assumed silently.
    #[arg(long = "calibration", required = true)]
    pub calibrations: Vec<String>,
    /// Execution time of invocations without one: `trace` (refuse), `fixed:<dur>`,
    /// `exp:<mean>`.
    #[arg(long, default_value = "trace")]
    pub execution: String,
    /// Memory per unit in bytes, overriding the calibration's.
    #[arg(long)]
    pub unit_memory: Option<u64>,
    /// Do not add the trace's per-invocation memory to the unit's memory.
    #[arg(long)]
    pub no_trace_memory: bool,
    /// Seed of the simulator's draws (start-up latencies, exponential executions).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write per-invocation and per-unit CSVs (memory grows with the trace).
    #[arg(long)]
    pub records: bool,
    /// Threads simulating (the runs are spread over them; the trace is read once, on one more
    /// thread, overlapping them). Default: every core. Outputs do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// How fast `simulate` went: every run's invocations over the command's wall and CPU time
/// (reading the trace, simulating, writing results).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimSpeed {
    /// Invocations in the trace.
    pub invocations: u64,
    /// Runs (calibrations x policies, baseline included).
    pub runs: usize,
    /// Threads simulating.
    pub threads: usize,
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
        )
    }
}

impl SimulateArgs {
    /// Runs every (calibration, policy) pair and writes one results directory.
    pub fn execute(self, env: Option<EnvRecord>) -> anyhow::Result<PathBuf> {
        Ok(self.run(env)?.0)
    }

    /// [`SimulateArgs::execute`], also returning how fast it went.
    pub fn run(self, env: Option<EnvRecord>) -> anyhow::Result<(PathBuf, SimSpeed)> {
        let (t0, c0) = (std::time::Instant::now(), process_cpu_seconds());
        let pricing = load_pricing(self.output.pricing.as_deref())?;
        let policies = self.policy.policies()?;
        let execution = Execution::parse(&self.execution)?;
        let bin_ns = match &self.output.bin {
            Some(b) => crate::policy::parse_bin(b).map_err(anyhow::Error::msg)?,
            None => 60 * NS_PER_S,
        };
        let mut cals = Vec::new();
        for c in &self.calibrations {
            let mut cal = Calibration::parse(c)?;
            cal.execution = execution.clone();
            if let Some(m) = self.unit_memory {
                cal.memory_bytes = Some(m);
            }
            if self.no_trace_memory {
                cal.add_trace_memory = false;
            }
            cals.push(cal);
        }
        let name = cals
            .iter()
            .map(|c| c.backend.as_str())
            .collect::<Vec<_>>()
            .join("+");
        let dir = new_results_dir(&self.output.out, "simulate", &name)?;
        let threads = match self.threads {
            Some(0) => bail!("--threads 0: give at least 1 (or leave it out to use every core)"),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let trace = self.trace.open()?;
        let meta = trace.meta().clone();
        if let Some(span) = meta.span_ns {
            crate::timeline::check_timeline(span, bin_ns)?;
        }
        let mut sim_runs = Vec::new();
        let mut bars = Vec::new();
        for cal in &cals {
            for p in &policies {
                let pb = progress(
                    self.output.progress,
                    None,
                    &format!("simulate {} {}", cal.backend, p.name),
                );
                bars.push(pb.clone());
                sim_runs.push(SimRun {
                    policy: p,
                    calibration: cal,
                    options: SimOptions {
                        seed: self.seed,
                        records: self.records,
                        bin_ns,
                        functions: meta.functions.len() as u32,
                        progress: pb,
                    },
                });
            }
        }
        let (outs, read) = simulate_runs(trace, &sim_runs, threads).context("simulating")?;
        for pb in bars.into_iter().flatten() {
            pb.finish_and_clear();
        }
        let info = trace_info(&meta, read.invocations, read.last_arrival_ns);
        let mut runs = Vec::new();
        for (r, out) in sim_runs.iter().zip(&outs) {
            let cal = r.calibration;
            let run = sim_run(&cal.backend, &out.platform, out.run_seconds, cal, &pricing);
            let sub = dir.join(&cal.backend);
            write_run_files(&sub, &r.policy.name, &out.platform, &[])?;
            runs.push(run);
        }
        drop(outs);
        fill_avoidance(&mut runs, &pricing);
        let summary = PlatformSummary {
            schema: PLATFORM_SCHEMA.into(),
            kind: RunKind::Simulate,
            backend: BackendInfo {
                name,
                ..BackendInfo::default()
            },
            function: None,
            trace: info,
            time_scale: 1.0,
            seed: self.seed,
            pricing,
            env,
            runs,
        };
        write_summary(&dir, &summary)?;
        let speed = SimSpeed {
            invocations: read.invocations,
            runs: sim_runs.len(),
            threads: threads.min(sim_runs.len()),
            wall_seconds: t0.elapsed().as_secs_f64(),
            cpu_seconds: process_cpu_seconds() - c0,
        };
        Ok((dir, speed))
    }
}

/// Replay settings shared by `replay` and `validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplaySettings {
    /// Trace time per wall time (1: real time; 100: a hundred times faster).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Worker threads starting, invoking and stopping units.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Do not hold units busy for the trace's durations (run the bare function).
    #[arg(long)]
    pub no_hold: bool,
    /// Request size (cpu: KiB, alloc: MiB).
    #[arg(long, default_value_t = 0)]
    pub size: u32,
    /// Memory per unit in bytes for GB-s, instead of each unit's measured memory.
    #[arg(long)]
    pub unit_memory: Option<u64>,
    /// Stop after this many invocations.
    #[arg(long)]
    pub limit: Option<u64>,
}

impl ReplaySettings {
    fn options(&self, bin_ns: u64, progress: Option<indicatif::ProgressBar>) -> ReplayOptions {
        ReplayOptions {
            time_scale: self.time_scale,
            workers: self.workers,
            hold: !self.no_hold,
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

/// `unitlab replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// The trace.
    #[command(flatten)]
    pub trace: TraceArgs,
    /// The policies (each replayed in turn; the baseline first).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Replay settings.
    #[command(flatten)]
    pub replay: ReplaySettings,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

impl ReplayArgs {
    /// Replays the trace on `backend` running `spec` under every policy; writes one results
    /// directory.
    pub fn execute(
        self,
        backend: &dyn Backend,
        spec: &FunctionSpec,
        env: Option<EnvRecord>,
    ) -> anyhow::Result<PathBuf> {
        let pricing = load_pricing(self.output.pricing.as_deref())?;
        let policies = self.policy.policies()?;
        let bin_ns = match &self.output.bin {
            Some(b) => crate::policy::parse_bin(b).map_err(anyhow::Error::msg)?,
            None => NS_PER_S,
        };
        let dir = new_results_dir(&self.output.out, "replay", backend.name())?;
        let mut runs = Vec::new();
        let mut info = None;
        for p in &policies {
            let t = self.trace.open()?;
            let meta = t.meta().clone();
            let items: Vec<Invocation> = t.collect::<Result<_, _>>()?;
            info = Some(trace_info(
                &meta,
                items.len() as u64,
                items.last().map_or(0, |i| i.arrival_ns),
            ));
            let pb = progress(
                self.output.progress,
                Some(items.len() as u64),
                &format!("replay {} {}", backend.name(), p.name),
            );
            let opts = self.replay.options(bin_ns, pb.clone());
            let mut trace = MemTrace::new(items, &meta.source);
            set_meta(&mut trace, &meta);
            let out = replay(backend, spec, trace, p, &opts)
                .with_context(|| format!("replaying on {} under {}", backend.name(), p.name))?;
            if let Some(pb) = pb {
                pb.finish_and_clear();
            }
            let run = replay_run(backend.name(), &out, &pricing, &opts);
            write_run_files(&dir, &p.name, &out.platform, &out.memory_samples)?;
            runs.push(run);
        }
        fill_avoidance(&mut runs, &pricing);
        let summary = PlatformSummary {
            schema: PLATFORM_SCHEMA.into(),
            kind: RunKind::Replay,
            backend: backend.info(),
            function: Some(spec.clone()),
            trace: info.unwrap_or_default(),
            time_scale: self.replay.time_scale,
            seed: self.trace.trace_seed,
            pricing,
            env,
            runs,
        };
        write_summary(&dir, &summary)?;
        Ok(dir)
    }
}

fn set_meta(t: &mut MemTrace, meta: &TraceMeta) {
    t.set_meta(meta.clone());
}

/// `unitlab validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The trace (short: it is replayed in real time).
    #[command(flatten)]
    pub trace: TraceArgs,
    /// The policy compared.
    #[arg(long = "policy", default_value = "keepalive:10m")]
    pub policy: String,
    /// The backend's calibration: a `unitlab measure` result directory, `auto` (measure 30
    /// cold starts now, before the replay) or `assume:<name>:<start-up>:<memory>`.
    #[arg(long, default_value = "auto")]
    pub calibration: String,
    /// Seed of the simulator's draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Replay settings.
    #[command(flatten)]
    pub replay: ReplaySettings,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

impl ValidateArgs {
    /// Replays, simulates, compares; writes `validation.json` plus both runs' CSVs.
    pub fn execute(
        self,
        backend: &dyn Backend,
        spec: &FunctionSpec,
        _env: Option<EnvRecord>,
    ) -> anyhow::Result<PathBuf> {
        let pricing = load_pricing(self.output.pricing.as_deref())?;
        let mut policy = Policy::parse(&self.policy)?;
        policy.refresh_name();
        let bin_ns = match &self.output.bin {
            Some(b) => crate::policy::parse_bin(b).map_err(anyhow::Error::msg)?,
            None => NS_PER_S,
        };
        let request = Request {
            size: self.replay.size,
            seed: 0,
        };
        let mut cal = if self.calibration == "auto" {
            Calibration::measure(backend, spec, 30, request)?
        } else {
            Calibration::parse(&self.calibration)?
        };
        // Replay measures each unit's memory as it is; the trace's memory column is not part
        // of it, so the simulation leaves it out too.
        cal.add_trace_memory = false;
        if let Some(m) = self.replay.unit_memory {
            cal.memory_bytes = Some(m);
        }
        let t = self.trace.open()?;
        let meta = t.meta().clone();
        let items: Vec<Invocation> = t.collect::<Result<_, _>>()?;
        let opts = self.replay.options(
            bin_ns,
            progress(self.output.progress, Some(items.len() as u64), "validate"),
        );
        let v = validate(
            backend, spec, &meta, items, &policy, &cal, &opts, self.seed, &pricing,
        )?;
        let dir = new_results_dir(&self.output.out, "validate", backend.name())?;
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
        Ok(dir)
    }
}
