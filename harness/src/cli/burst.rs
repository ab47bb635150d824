//! `unitlab burst`: N cold starts released at once, per level, and the time until all answered.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use unitlab::burst::{self, Options};

/// Releases N cold starts at once for each level and times until every one has answered.
#[derive(Debug, Args, Clone)]
pub struct BurstCmd {
    /// Backend and function.
    #[command(flatten)]
    pub unit: super::unit::UnitArgs,
    /// Units released at once, one level per value (e.g. 1,10,100,1000).
    #[arg(long, short = 'c', value_delimiter = ',', required = true, value_parser = parse_level)]
    pub concurrency: Vec<u32>,
    /// Threads that start the units (default: one per core for in-process backends, one per
    /// unit up to 64 for the others).
    #[arg(long, short = 't')]
    pub threads: Option<u32>,
    /// Request size: KiB of input for `cpu`, MiB for `alloc` (default: the function's).
    #[arg(long, value_name = "N")]
    pub size: Option<u32>,
    /// Seed for request inputs, recorded with the result.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Expected answer of a user function (catalogue functions are always verified).
    #[arg(long)]
    pub expect: Option<u32>,
    /// Where result directories go.
    #[arg(long, short, default_value = "results")]
    pub out: PathBuf,
    /// No table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Parses one burst level: a whole number of at least 1.
pub fn parse_level(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(0) => Err("a burst level of 0 units releases nothing; give levels of at least 1 (e.g. --concurrency 1,10,100)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}`: expected a whole number of units, like 100")),
    }
}

impl BurstCmd {
    /// Runs the burst and returns the results directory.
    pub fn run(&self) -> Result<PathBuf> {
        // Before any work: a bad --out fails now.
        unitlab_results::dir::check_writable(&self.out)?;
        let spec = self.unit.spec()?;
        let opts = Options {
            levels: self.concurrency.clone(),
            threads: self.threads,
            size: self.size.unwrap_or_else(|| {
                spec.catalogue_function()
                    .map(|f| f.default_size())
                    .unwrap_or(0)
            }),
            seed: self.seed,
            expect: self.expect,
        };
        burst::check(&opts)?;
        let backend = self.unit.build()?;
        let overhead = unitlab::overhead::measure(10_000);
        let b = burst::run(&*backend, &spec, &opts, overhead).with_context(|| {
            format!(
                "bursting `{}` on the `{}` backend",
                spec.name, self.unit.backend
            )
        })?;
        super::check_interrupted()?;
        let dir = burst::write(&self.out, &b)?;
        if !self.quiet {
            print!("{}", burst::table(&b.result));
            println!("  results: {}", dir.display());
        }
        Ok(dir)
    }

    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        self.run().map(|_| ())
    }
}

/// The main job's burst levels per backend: the largest sized to finish in seconds on two
/// cores, with a tenth of it before it so that the scale-out chart has a line per backend.
pub fn main_job_levels(kind: unitlab::BackendKind) -> Vec<u32> {
    use unitlab::BackendKind as K;
    match kind {
        K::Wasm => vec![10, 100, 1000],
        K::V8 => vec![20, 200],
        K::Process => vec![10, 100],
        K::Deno => vec![5, 50],
        K::Container => vec![2, 20],
        // Not in the main job's bursts (it measures oci in the spectrum step only).
        K::Oci => vec![2, 20],
        K::Mock => vec![10, 100],
    }
}

/// The main job's bursts: one level per backend into `out`; failures come back as lines for
/// `skipped.txt` (one backend failing must not lose the others).
pub fn main_job(
    kinds: &[unitlab::BackendKind],
    out: &std::path::Path,
    seed: u64,
    quiet: bool,
) -> Vec<String> {
    let mut failed = Vec::new();
    for &k in kinds {
        let levels = main_job_levels(k);
        eprintln!("[run] burst {k}: {levels:?} cold starts released at once");
        let cmd = BurstCmd {
            unit: super::unit::UnitArgs::defaults(k, "noop"),
            concurrency: levels,
            threads: None,
            size: None,
            seed,
            expect: None,
            out: out.to_path_buf(),
            quiet,
        };
        if let Err(e) = cmd.run() {
            eprintln!("[run] burst {k} failed: {e:#}");
            failed.push(format!("{k} burst: {e:#}"));
        }
    }
    failed
}
