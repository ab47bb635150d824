//! `unitlab validate`: replay a short trace and simulate it, and report how far apart they are.

use anyhow::{Context, Result};
use clap::Args;
use unitlab_platform::experiment::{self, ValidateCalibration};
use unitlab_platform::Policy;

use super::platform_args::{OutputArgs, ReplayArgs, TraceArgs};
use super::unit::UnitArgs;

/// Replays a short trace on a real backend, simulates it with that backend's calibration,
/// and reports the differences.
#[derive(Debug, Args)]
pub struct ValidateCmd {
    /// Backend and function.
    #[command(flatten)]
    pub unit: UnitArgs,
    /// The trace (short: it is replayed in real time).
    #[command(flatten)]
    pub trace: TraceArgs,
    /// The policy compared.
    #[arg(long = "policy", default_value = "keepalive:10m", value_parser = clap::value_parser!(Policy))]
    pub policy: Policy,
    /// The backend's calibration: a `unitlab measure` result directory, `auto` (measure 30
    /// cold starts now, before the replay) or `assume:<name>:<start-up>:<memory>`.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(ValidateCalibration))]
    pub calibration: ValidateCalibration,
    /// Seed of the simulator's draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Replay settings.
    #[command(flatten)]
    pub replay: ReplayArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

impl ValidateCmd {
    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        let spec = self.unit.spec()?;
        let backend = self.unit.build()?;
        let env = unitlab::env::collect(self.seed);
        let result = experiment::validate(
            &*backend,
            &spec,
            &self.trace.options(),
            &self.policy,
            &self.calibration,
            self.seed,
            &self.replay.settings(),
            &self.output.options(Some(env)),
        )
        .context("validation failed")?;
        print!("{}", unitlab::output::validation_table(&result.report));
        println!("results: {}", result.dir.display());
        Ok(())
    }
}
