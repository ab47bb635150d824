//! `unitlab simulate`: policies on a trace, calibrated from measured results.

use anyhow::{Context, Result};
use clap::Args;
use unitlab_platform::experiment::{self, SimulateOptions};
use unitlab_platform::Calibration;

use super::platform_args::{OutputArgs, PolicyArgs, TraceArgs};

/// Simulates policies on a trace, calibrated from measured results.
#[derive(Debug, Args)]
pub struct SimulateCmd {
    /// The trace.
    #[command(flatten)]
    pub trace: TraceArgs,
    /// The policies and their shared settings.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Backend calibrations (repeat for several backends): a `unitlab measure` result
    /// directory, `assume:<name>:<start-up>:<memory>` (a what-if model you state, e.g.
    /// `assume:container:150ms:1MiB`, labelled as not measured), or `ideal` (zero start-up).
    /// Required: nothing is assumed silently.
    #[arg(long = "calibration", required = true, value_parser = clap::value_parser!(Calibration))]
    pub calibrations: Vec<Calibration>,
    /// Memory per unit (e.g. `128MiB`), overriding the calibration's.
    #[arg(long, value_name = "SIZE", value_parser = super::parse_size_flag)]
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
    /// Threads simulating (the trace is read once, on one more thread, overlapping them).
    /// Default: every core. The runs are spread over them; when there are fewer runs than
    /// threads, each run without --cap or --records is also split into shards of functions
    /// (see --shards), so that one policy uses every core. A capped run (the cap couples the
    /// functions) or one keeping records (their order is the whole run's) stays whole.
    /// Outputs do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: Option<u64>,
    /// Shards of functions per run without --cap or --records (function f in shard f mod N;
    /// 1: none). Default: just enough for the runs to fill the threads (threads / runs,
    /// rounded up); more only adds work. Outputs do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub shards: Option<u64>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

impl SimulateCmd {
    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        let env = unitlab::env::collect(self.seed);
        let policies = self.policy.policies()?;
        let result = experiment::simulate(
            &self.trace.options(),
            &policies,
            &self.calibrations,
            &SimulateOptions {
                seed: self.seed,
                records: self.records,
                unit_memory: self.unit_memory,
                no_trace_memory: self.no_trace_memory,
                threads: self.threads.unwrap_or(0) as usize,
                shards: self.shards.unwrap_or(0) as usize,
            },
            &self.output.options(Some(env)),
        )
        .context("simulation failed")?;
        print!("{}", unitlab::output::platform_table(&result.summary));
        if let Some(speed) = &result.speed {
            println!("{speed}");
        }
        println!("results: {}", result.dir.display());
        Ok(())
    }
}
