//! `unitlab density`: units started one by one under a memory limit the kernel enforces; and
//! the hidden `density-units` subcommand, the child process the units live in.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use unitlab::density::{self, Options};
use unitlab::BackendKind;

use super::unit::UnitArgs;

/// Starts verified units one by one inside a memory cgroup limited to the budget, until a
/// start fails or the kernel's limit is hit; reports the units reached and bytes per unit.
#[derive(Debug, Args, Clone)]
pub struct DensityCmd {
    /// Backend and function.
    #[command(flatten)]
    pub unit: UnitArgs,
    /// The memory budget, enforced as the cgroup's limit with swap off (e.g. 256MiB, 1GiB).
    #[arg(long, value_name = "SIZE", value_parser = super::parse_size_flag)]
    pub budget: u64,
    /// Stop after this many units (the count is then a lower bound).
    #[arg(long, default_value_t = 1_000_000)]
    pub max_units: u32,
    /// Stop after this long (the count is then a lower bound).
    #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = super::parse_duration_flag)]
    pub max_time: Duration,
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

/// The child process of `unitlab density`: it waits for `go`, then starts units and reports
/// each on stdout. Not for direct use.
#[derive(Debug, Args, Clone)]
pub struct DensityUnitsCmd {
    /// Backend and function.
    #[command(flatten)]
    pub unit: UnitArgs,
    /// The budget, recorded only.
    #[arg(long)]
    pub budget: u64,
    /// Stop after this many units.
    #[arg(long)]
    pub max_units: u32,
    /// Stop after this many milliseconds.
    #[arg(long)]
    pub max_time_ms: u64,
    /// Request size.
    #[arg(long)]
    pub size: u32,
    /// Seed.
    #[arg(long)]
    pub seed: u64,
    /// Expected answer of a user function.
    #[arg(long)]
    pub expect: Option<u32>,
}

/// The command line that rebuilds `u` in the child.
fn unit_argv(u: &UnitArgs) -> Vec<String> {
    let mut a = vec![
        "--backend".to_string(),
        u.backend.name().to_string(),
        "--function".into(),
        u.function.clone(),
    ];
    if let Some(s) = &u.strategy {
        a.extend(["--strategy".into(), s.clone()]);
    }
    if let Some(n) = &u.network {
        a.extend(["--network".into(), n.clone()]);
    }
    if let Some(m) = u.memory_limit {
        a.extend(["--memory-limit".into(), format!("{m}B")]);
    }
    if let Some(d) = u.deadline {
        a.extend(["--deadline".into(), format!("{}ns", d.as_nanos())]);
    }
    if let Some(c) = u.cpus {
        a.extend(["--cpus".into(), c.to_string()]);
    }
    for (k, v) in &u.opts {
        a.extend(["--opt".into(), format!("{k}={v}")]);
    }
    a
}

impl DensityCmd {
    fn options(&self, spec: &unitlab_backend::FunctionSpec) -> Options {
        Options {
            budget: self.budget,
            max_units: self.max_units,
            max_time: self.max_time,
            size: self.size.unwrap_or_else(|| {
                spec.catalogue_function()
                    .map(|f| f.default_size())
                    .unwrap_or(0)
            }),
            seed: self.seed,
            expect: self.expect,
        }
    }

    /// Runs the density measurement and returns the results directory; fails (after writing
    /// the result) when not one unit fitted.
    pub fn run(&self) -> Result<PathBuf> {
        let spec = self.unit.spec()?;
        let opts = self.options(&spec);
        let context = || {
            format!(
                "measuring the density of `{}` on the `{}` backend in {} bytes",
                spec.name, self.unit.backend, self.budget
            )
        };
        let run = if self.unit.backend == BackendKind::Container {
            let base = self.unit.backend_options();
            density::run_local(
                |cg| {
                    let mut o = base.clone();
                    o.push(("cgroup_parent".into(), cg.relative()));
                    self.unit.backend.build(&o)
                },
                &spec,
                &opts,
            )
        } else {
            // Fail here, in the parent, with the backend's own message when it cannot run.
            let info = self.unit.build()?.info();
            let exe = std::env::current_exe().context("finding the unitlab executable")?;
            let mut child = std::process::Command::new(exe);
            child
                .arg("density-units")
                .args(unit_argv(&self.unit))
                .args([
                    "--budget".to_string(),
                    self.budget.to_string(),
                    "--max-units".into(),
                    self.max_units.to_string(),
                    "--max-time-ms".into(),
                    self.max_time.as_millis().to_string(),
                    "--size".into(),
                    opts.size.to_string(),
                    "--seed".into(),
                    self.seed.to_string(),
                ]);
            if let Some(e) = self.expect {
                child.args(["--expect".to_string(), e.to_string()]);
            }
            density::run_isolated(child, info, &spec, &opts)
        }
        .with_context(context)?;
        super::check_interrupted()?;
        let dir = density::write(&self.out, &run)?;
        if !self.quiet {
            print!("{}", density::table(&run.result));
            println!("  results: {}", dir.display());
        }
        run.check_fits().with_context(context)?;
        Ok(dir)
    }

    /// Runs the command.
    pub fn execute(self) -> Result<()> {
        self.run().map(|_| ())
    }
}

impl DensityUnitsCmd {
    /// Serves the parent over stdin and stdout.
    pub fn execute(self) -> Result<()> {
        let spec = self.unit.spec()?;
        let opts = Options {
            budget: self.budget,
            max_units: self.max_units,
            max_time: Duration::from_millis(self.max_time_ms),
            size: self.size,
            seed: self.seed,
            expect: self.expect,
        };
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let stdout = std::io::stdout();
        let mut output = stdout.lock();
        let unit = self.unit.clone();
        density::serve(
            move || unit.backend.build(&unit.backend_options()),
            &spec,
            &opts,
            &mut input,
            &mut output,
        )?;
        Ok(())
    }
}

/// The main job's density runs: every backend but the container one at a 256 MiB budget (a
/// container costs ~0.2 s to start, so filling 512 MiB with them takes minutes: run
/// `unitlab density --backend container --budget 512MiB` on its own). Failures come back as
/// lines for `skipped.txt`.
pub fn main_job(
    kinds: &[BackendKind],
    out: &std::path::Path,
    seed: u64,
    quiet: bool,
) -> Vec<String> {
    let mut failed = Vec::new();
    for &k in kinds
        .iter()
        .filter(|k| !matches!(k, BackendKind::Container | BackendKind::Mock))
    {
        eprintln!("[run] density {k}: units in 256 MiB under a cgroup limit");
        let cmd = DensityCmd {
            unit: UnitArgs::defaults(k, "noop"),
            budget: 256 << 20,
            max_units: 1_000_000,
            max_time: Duration::from_secs(30),
            size: None,
            seed,
            expect: None,
            out: out.to_path_buf(),
            quiet,
        };
        if let Err(e) = cmd.run() {
            eprintln!("[run] density {k} failed: {e:#}");
            failed.push(format!("{k} density: {e:#}"));
        }
    }
    failed
}
