//! `unitlab measure`: cold starts, warm invokes and memory per unit.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use unitlab::measure::{self, Options, Progress};

/// Cold starts, warm invokes and memory per unit of one backend and function.
#[derive(Debug, Args, Clone)]
pub struct MeasureCmd {
    /// Backend and function.
    #[command(flatten)]
    pub unit: super::unit::UnitArgs,
    /// Cold starts to measure (each a new unit), at least 1.
    #[arg(long, short, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub units: u32,
    /// Warm invokes per unit after the cold one.
    #[arg(long, short, default_value_t = 10)]
    pub warm: u32,
    /// Units kept alive together for the memory reading (default: min(units, 100); 0 skips it).
    #[arg(long)]
    pub memory_units: Option<u32>,
    /// Request size: KiB of input for `cpu`, MiB for `alloc` (default: 64 for cpu, 16 for alloc).
    /// A count in the function's own unit, not a byte size.
    #[arg(long, value_name = "N")]
    pub size: Option<u32>,
    /// Seed for request inputs, recorded with the result.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Expected answer of a user function (catalogue functions are always verified).
    #[arg(long)]
    pub expect: Option<u32>,
    /// Idle time before every timed start and invoke (e.g. `20ms`), as under sparse traffic:
    /// back to back (the default), a warm invoke finds its unit and the CPU's caches hot.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration_flag)]
    pub gap: Option<std::time::Duration>,
    /// Where result directories go.
    #[arg(long, short, default_value = "results")]
    pub out: PathBuf,
    /// No progress bar and no table.
    #[arg(long, short)]
    pub quiet: bool,
}

static BAR: std::sync::OnceLock<ProgressBar> = std::sync::OnceLock::new();

fn progress(p: Progress) {
    if let Some(bar) = BAR.get() {
        let (label, done, total) = match p {
            Progress::Cold(d, t) => ("cold starts", d, t),
            Progress::Memory(d, t) => ("memory units", d, t),
        };
        if bar.length() != Some(total as u64) || bar.message() != label {
            bar.set_length(total as u64);
            bar.set_message(label);
        }
        bar.set_position(done as u64);
    }
}

/// A finished measurement: where it was written and how many units failed.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The results directory.
    pub dir: PathBuf,
    /// Units with at least one failed start, invoke, stop or memory reading.
    pub failed_units: u32,
    /// Units requested.
    pub units: u32,
}

impl MeasureCmd {
    /// Runs the measurement and returns the results directory.
    pub fn run(&self) -> Result<PathBuf> {
        self.run_counted().map(|m| m.dir)
    }

    /// Runs the measurement; returns the results directory and the failure count.
    pub fn run_counted(&self) -> Result<Measured> {
        let spec = self.unit.spec()?;
        // Before any work: a bad --out fails now, not after the measurement.
        let reserved = unitlab::output::reserve(&self.out, self.unit.backend.name(), &spec.name)?;
        let backend = self.unit.build()?;
        let size = self.size.unwrap_or_else(|| {
            spec.catalogue_function()
                .map(|f| f.default_size())
                .unwrap_or(0)
        });
        if !self.quiet {
            let bar = ProgressBar::new(self.units as u64);
            bar.set_style(
                ProgressStyle::with_template("{msg:>13} [{bar:30}] {pos}/{len} {elapsed}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            let _ = BAR.set(bar);
        }
        let opts = Options {
            units: self.units,
            warm_per_unit: self.warm,
            memory_units: self.memory_units.unwrap_or(self.units.min(100)),
            size,
            seed: self.seed,
            expect: self.expect,
            gap: self.gap.unwrap_or_default(),
            progress: (!self.quiet).then_some(progress as fn(Progress)),
        };
        let overhead = unitlab::overhead::measure(100_000);
        let m = measure::run(&*backend, &spec, &opts, overhead).with_context(|| {
            format!(
                "measuring `{}` on the `{}` backend",
                spec.name, self.unit.backend
            )
        })?;
        if let Some(bar) = BAR.get() {
            bar.finish_and_clear();
        }
        let failed_units = m.failed_units;
        let dir = unitlab::output::write(reserved, &m)?;
        if !self.quiet {
            print!("{}", unitlab::output::table(&m.result));
            println!("  results: {}", dir.display());
        }
        Ok(Measured {
            dir,
            failed_units,
            units: self.units,
        })
    }

    /// Runs the command: exits non-zero ([`unitlab::exit::UNITS_FAILED`]) when a unit failed.
    pub fn execute(self) -> Result<()> {
        let m = self.run_counted()?;
        if m.failed_units > 0 {
            return Err(unitlab::exit::UnitsFailed {
                failed: m.failed_units,
                units: m.units,
                dir: m.dir,
            }
            .into());
        }
        Ok(())
    }
}
