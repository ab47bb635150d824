//! Arguments shared by the platform subcommands (`simulate`, `replay`, `validate`): ONE set of
//! trace options, the policy settings, the replay settings and the output options. Each turns
//! into the platform crate's typed options before any work starts.

use std::path::PathBuf;

use clap::Args;
use unitlab_platform::experiment::{
    OutputOptions, PolicyOptions, ReplaySettings, TraceOptions, TraceSource,
};
use unitlab_platform::{Execution, OnFull, PickRule, Policy};
use unitlab_results::EnvRecord;

/// Which trace, how much of it, and how to fill in what it lacks.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// A trace file in any format `unitlab trace` reads, or a generator:
    /// `synthetic:bursty` (the workloads crate's default bursty mix),
    /// `synthetic:azure-day:<functions>:<invocations>` (a streaming Azure-2019-shaped day),
    /// `synthetic:multi:<functions>:<rate/s>:<span s>`, `synthetic:poisson:<rate>:<mu>:<n>`.
    #[arg(long, value_parser = clap::value_parser!(TraceSource))]
    pub trace: TraceSource,
    /// Keep only arrivals before this time (e.g. `60s`).
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration_flag)]
    pub span: Option<std::time::Duration>,
    /// Seed of the synthetic generators (and of `exp:` fill-in executions).
    #[arg(long, default_value_t = 0)]
    pub trace_seed: u64,
    /// Execution time of invocations the trace gives none: `trace` (refuse where one is
    /// needed), `fixed:<duration>`, `exp:<mean>`.
    #[arg(long, default_value = "trace", value_parser = clap::value_parser!(Execution))]
    pub execution: Execution,
    /// How to load a trace file.
    #[command(flatten)]
    pub load: super::trace::LoadArgs,
}

impl TraceArgs {
    /// The typed trace options.
    pub fn options(&self) -> TraceOptions {
        TraceOptions {
            source: self.trace.clone(),
            span_ns: self.span.map(|d| d.as_nanos() as u64),
            seed: self.trace_seed,
            load: self.load.clone().into(),
            execution: self.execution.clone(),
        }
    }
}

/// The policies of a run and the settings they share.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// Policies (repeat the flag): `none`, `keepalive:10m`, `provisioned:2[+keepalive:10m]`,
    /// `hybrid[:range=4h,bin=1m,head=5,tail=99,margin=0.1,cv=2,min=10,oor=0.5,fallback=4h]`.
    /// The no-keep-alive baseline is always run too, to answer what avoiding cold starts cost.
    #[arg(long = "policy", default_values = ["keepalive:10m", "keepalive:20m", "hybrid"], value_parser = clap::value_parser!(Policy))]
    pub policies: Vec<Policy>,
    /// Idle-unit pick rule: mru, lru or newest.
    #[arg(long, default_value = "mru", value_parser = clap::value_parser!(PickRule))]
    pub pick: PickRule,
    /// Invocations one unit runs at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: u32,
    /// Cap on total live units.
    #[arg(long)]
    pub cap: Option<u32>,
    /// At the cap: `queue` or `reject`.
    #[arg(long, default_value = "queue", value_parser = clap::value_parser!(OnFull))]
    pub on_full: OnFull,
}

impl PolicyArgs {
    /// The policies with the shared settings applied, the baseline added and first.
    pub fn policies(&self) -> Result<Vec<Policy>, unitlab_platform::PlatformError> {
        let common = PolicyOptions {
            pick: self.pick,
            concurrency: self.concurrency,
            cap: self.cap,
            on_full: self.on_full,
        };
        unitlab_platform::experiment::with_baseline(&self.policies, &common)
    }
}

/// `--bin`: a duration with its unit, 1 ms to 366 days.
fn parse_bin(s: &str) -> Result<std::time::Duration, String> {
    super::parse_duration_flag(s)?;
    unitlab_platform::policy::parse_bin(s).map(std::time::Duration::from_nanos)
}

/// Where and how results are written.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Results directory (a timestamped subdirectory is created in it).
    #[arg(long, short, default_value = "results")]
    pub out: PathBuf,
    /// Pricing TOML (default: harness/platform/pricing.toml, built in).
    #[arg(long)]
    pub pricing: Option<PathBuf>,
    /// Timeline bin width (default 1m for simulate, 1s for replay and validate; 1ms to 366d,
    /// a timeline holds at most 2^21 bins).
    #[arg(long, value_name = "DURATION", value_parser = parse_bin)]
    pub bin: Option<std::time::Duration>,
    /// Show progress bars.
    #[arg(long)]
    pub progress: bool,
}

impl OutputArgs {
    /// The typed output options, recording `env`.
    pub fn options(&self, env: Option<EnvRecord>) -> OutputOptions {
        OutputOptions {
            out: self.out.clone(),
            pricing: self.pricing.clone(),
            bin_ns: self.bin.map(|d| d.as_nanos() as u64),
            progress: self.progress,
            env,
        }
    }
}

/// Replay settings shared by `replay` and `validate`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Trace time per wall time (1: real time; 100: a hundred times faster).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Worker threads starting, invoking and stopping units.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Do not hold units busy for the trace's durations (run the bare function).
    #[arg(long)]
    pub no_hold: bool,
    /// Request size (cpu: KiB, alloc: MiB): a count in the function's own unit.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub size: u32,
    /// Memory per unit for GB-s (e.g. `128MiB`), instead of each unit's measured memory.
    #[arg(long, value_name = "SIZE", value_parser = super::parse_size_flag)]
    pub unit_memory: Option<u64>,
    /// Stop after this many invocations.
    #[arg(long)]
    pub limit: Option<u64>,
}

impl ReplayArgs {
    /// The typed replay settings.
    pub fn settings(&self) -> ReplaySettings {
        ReplaySettings {
            time_scale: self.time_scale,
            workers: self.workers,
            hold: !self.no_hold,
            size: self.size,
            unit_memory: self.unit_memory,
            limit: self.limit,
        }
    }
}
