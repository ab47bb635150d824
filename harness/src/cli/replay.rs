//! `unitlab replay`: a trace against a real backend under platform policies.

use anyhow::{Context, Result};
use clap::Args;
use unitlab_platform::experiment;

use super::platform_args::{OutputArgs, PolicyArgs, ReplayArgs, TraceArgs};
use super::unit::UnitArgs;

/// Replays a trace against a real backend under platform policies.
#[derive(Debug, Args)]
pub struct ReplayCmd {
    /// Backend and function.
    #[command(flatten)]
    pub unit: UnitArgs,
    /// The trace.
    #[command(flatten)]
    pub trace: TraceArgs,
    /// The policies (each replayed in turn, the baseline first) and their shared settings.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Replay settings.
    #[command(flatten)]
    pub replay: ReplayArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

impl ReplayCmd {
    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        let spec = self.unit.spec()?;
        let backend = self.unit.build()?;
        let env = unitlab::env::collect(self.trace.trace_seed);
        let policies = self.policy.policies()?;
        let result = experiment::replay(
            &*backend,
            &spec,
            &self.trace.options(),
            &policies,
            &self.replay.settings(),
            &self.output.options(Some(env)),
        )
        .context("replay failed")?;
        print!("{}", unitlab::output::platform_table(&result.summary));
        println!("results: {}", result.dir.display());
        Ok(())
    }
}
