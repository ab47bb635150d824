//! `unitlab replay`, `unitlab simulate` and `unitlab validate`: the platform crate's commands,
//! given a backend built from the command line.

use anyhow::{Context, Result};
use clap::Args;
use unitlab_platform::cli::{ReplayArgs, SimulateArgs, ValidateArgs};

use unitlab_results::platform::{PlatformSummary, ValidationReport};

use super::unit::UnitArgs;

/// Prints the table of the replay or simulation just written to `dir`.
fn print_platform(dir: &std::path::Path) -> Result<()> {
    let summary =
        PlatformSummary::load(dir).with_context(|| format!("reading back {}", dir.display()))?;
    print!("{}", unitlab::output::platform_table(&summary));
    Ok(())
}

/// Replays a trace against a real backend under platform policies.
#[derive(Debug, Args)]
pub struct ReplayCmd {
    /// Backend and function.
    #[command(flatten)]
    pub unit: UnitArgs,
    /// Trace, policies, replay settings, output.
    #[command(flatten)]
    pub args: ReplayArgs,
}

impl ReplayCmd {
    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        let spec = self.unit.spec()?;
        let backend = self.unit.build()?;
        let env = unitlab::env::collect(self.args.trace.trace_seed);
        let dir = self
            .args
            .execute(&*backend, &spec, Some(env))
            .context("replay failed")?;
        print_platform(&dir)?;
        println!("results: {}", dir.display());
        Ok(())
    }
}

/// Simulates policies on a trace, calibrated from measured results.
#[derive(Debug, Args)]
pub struct SimulateCmd {
    /// Trace, policies, calibrations, output.
    #[command(flatten)]
    pub args: SimulateArgs,
}

impl SimulateCmd {
    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        let env = unitlab::env::collect(self.args.seed);
        let (dir, speed) = self.args.run(Some(env)).context("simulation failed")?;
        print_platform(&dir)?;
        println!("{speed}");
        println!("results: {}", dir.display());
        Ok(())
    }
}

/// Replays a short trace on a real backend, simulates it with that backend's calibration,
/// and reports the differences.
#[derive(Debug, Args)]
pub struct ValidateCmd {
    /// Backend and function.
    #[command(flatten)]
    pub unit: UnitArgs,
    /// Trace, policy, calibration, output.
    #[command(flatten)]
    pub args: ValidateArgs,
}

impl ValidateCmd {
    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        let spec = self.unit.spec()?;
        let backend = self.unit.build()?;
        let env = unitlab::env::collect(self.args.seed);
        let dir = self
            .args
            .execute(&*backend, &spec, Some(env))
            .context("validation failed")?;
        let report = ValidationReport::load(&dir)
            .with_context(|| format!("reading back {}", dir.display()))?;
        print!("{}", unitlab::output::validation_table(&report));
        println!("results: {}", dir.display());
        Ok(())
    }
}
