//! `unitlab run`, the README's main job: measure every available backend with the catalogue,
//! run the default bursty workload through simulation (calibrated by those measurements) and a
//! short validated replay, and write the HTML report.
//!
//! Unit counts per backend are sized so that the whole job finishes in a few minutes on two
//! cores: a container cold start costs ~10^5 times a Wasm one, so each backend gets as many
//! units as fit in a few seconds, never fewer than 20 cold starts (spread needs samples).
//! Each backend's `noop` is measured twice: back to back (the best case, and the simulator's
//! calibration) and with an idle `--gap` before every timed call (20 cold starts x 10 warm
//! invokes), as sparse traffic meets it.
//! The isolation spectrum: `noop` also runs on every other available OCI runtime through
//! Docker (`container --runtime crun|runsc`) and on every installed one directly (`oci
//! --runtime crun|runc|runsc`), 20 cold starts x 5 warm each (about +30 s on a quiet
//! 2-core machine); `oci` takes part in nothing else.
//! Then a burst per backend (`unitlab burst`, a tenth of the largest level and the largest: wasm
//! 1000, v8 200, process 100, deno 50, container 20) and, for every backend but containers, the
//! units that fit in 256 MiB under a cgroup limit (`unitlab density`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use unitlab::BackendKind;
use unitlab_backend::{Availability, Function};
use unitlab_platform::experiment::{
    self, OutputOptions, PolicyOptions, ReplaySettings, SimulateOptions, TraceOptions, TraceSource,
    ValidateCalibration,
};
use unitlab_platform::{Calibration, Execution, Policy};
use unitlab_results::frontier::MemoryBasis;

use super::measure::MeasureCmd;
use super::unit::UnitArgs;

/// Measures every available backend, simulates and replays the default bursty workload, and
/// writes the HTML report.
#[derive(Debug, Args)]
pub struct RunCmd {
    /// Root of the results; the run gets its own `run-<time>` directory in it.
    #[arg(long, short, default_value = "results")]
    pub out: PathBuf,
    /// Only these backends (default: every available one but mock).
    #[arg(long, short, value_delimiter = ',')]
    pub backends: Vec<BackendKind>,
    /// Scale every backend's unit count (0.1 for a smoke run, 10 for tighter percentiles);
    /// below 1 it also shortens the frontier's Azure-shaped day (200 000 invocations at 1).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Seed for request inputs and the synthetic workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Wall-clock seconds of trace replayed on each in-process backend (0: no replay).
    #[arg(long, default_value_t = 20)]
    pub replay_seconds: u32,
    /// Idle time before each timed call of the second `noop` measurement (0: skip it).
    #[arg(long, default_value = "20ms", value_name = "DURATION", value_parser = super::parse_duration_flag)]
    pub gap: std::time::Duration,
    /// Your own traffic: a trace file in any format `unitlab trace` reads (or a
    /// `synthetic:` generator). The simulation, the keep-alive frontier, the summary and the
    /// cost tables use it instead of the built-in bursty workload, and name it.
    #[arg(long)]
    pub trace: Option<String>,
    /// With --trace: keep only arrivals before this time (e.g. `1h`).
    #[arg(long, requires = "trace", value_name = "DURATION", value_parser = super::parse_duration_flag)]
    pub span: Option<std::time::Duration>,
    /// How to load --trace.
    #[command(flatten)]
    pub load: super::trace::LoadArgs,
    /// Memory a unit is priced for in the keep-alive frontier: `unit` (its own measured
    /// memory: what sets the execution models apart) or `unit+trace` (plus the trace's
    /// per-invocation memory, the function's working set).
    #[arg(long, default_value = "unit", value_parser = parse_memory_basis)]
    pub memory_basis: MemoryBasis,
    /// The frontier's latency target: the p99 latency cold starts may add.
    #[arg(long, default_value = "10ms", value_parser = super::parse_duration_flag)]
    pub latency_target: std::time::Duration,
    /// Skip the node-runtime container (the JS catalogue, one node process per container).
    #[arg(long)]
    pub no_node_container: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_memory_basis(s: &str) -> Result<MemoryBasis, String> {
    match s {
        "unit" => Ok(MemoryBasis::Unit),
        "unit+trace" => Ok(MemoryBasis::UnitPlusTrace),
        o => Err(format!("`{o}`: expected `unit` or `unit+trace`")),
    }
}

/// (cold starts for noop, for cpu and alloc, warm invokes per unit, units alive for memory)
fn plan(kind: BackendKind) -> (u32, u32, u32, u32) {
    match kind {
        BackendKind::Container => (30, 10, 5, 10),
        // Not used: the spectrum step measures oci's noop only (see the module docs).
        BackendKind::Oci => (20, 20, 5, 5),
        BackendKind::Deno => (60, 20, 10, 20),
        BackendKind::V8 => (300, 50, 10, 100),
        BackendKind::Wasm => (2000, 200, 10, 1000),
        BackendKind::Process => (300, 50, 10, 50),
        BackendKind::Mock => (100, 20, 10, 10),
    }
}

impl RunCmd {
    /// Runs the main job and prints the report's path.
    pub fn execute(self) -> Result<()> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let root = unitlab_results::dir::fresh_dir(&self.out, &format!("run-{stamp}"))?;
        let kinds: Vec<BackendKind> = if self.backends.is_empty() {
            BackendKind::ALL
                .into_iter()
                .filter(|k| *k != BackendKind::Mock)
                .collect()
        } else {
            self.backends.clone()
        };

        let mut available = Vec::new();
        let mut skipped = Vec::new();
        for k in kinds {
            match k.availability() {
                Availability::Available(what) => {
                    eprintln!("[run] {k}: available ({what})");
                    available.push(k);
                }
                Availability::Unavailable { reason, fix } => {
                    eprintln!("[run] {k}: skipped: {reason}\n      fix: {fix}");
                    skipped.push(format!("{k}: {reason} (fix: {fix})"));
                }
            }
        }
        anyhow::ensure!(
            !available.is_empty(),
            "no backend is available here; `unitlab doctor` says why and how to fix it"
        );
        std::fs::write(root.join("skipped.txt"), skipped.join("\n") + "\n")
            .context("writing skipped.txt")?;

        // 1. Measure.
        let measure_root = root.join("measure");
        let mut noop_dirs: Vec<(BackendKind, PathBuf)> = Vec::new();
        // The node-runtime container (same JS catalogue as v8 and deno, one node process per
        // container) goes into the frontier and the summary, not the simulate/validate steps.
        let mut node_dir: Option<PathBuf> = None;
        let mut jobs: Vec<(BackendKind, bool)> = Vec::new();
        for &k in available.iter().filter(|k| **k != BackendKind::Oci) {
            jobs.push((k, false));
            if k == BackendKind::Container && !self.no_node_container {
                jobs.push((k, true));
            }
        }
        for (k, node) in jobs {
            let (noop_units, other_units, warm, memory_units) =
                if node { (20, 10, 5, 5) } else { plan(k) };
            // The node container costs ~0.25 s per cold start here: its cpu and alloc runs
            // keep 10 (a main-job budget of ~25 s for it); every other run at least 20.
            let floor = if node { 10 } else { 20 };
            let scaled = |n: u32| ((n as f64 * self.scale).round() as u32).max(floor);
            for f in Function::ALL {
                let units = scaled(if f == Function::Noop {
                    noop_units
                } else {
                    other_units
                });
                // Memory is read for noop only: the unit's own cost, not the function's.
                let mem = if f == Function::Noop {
                    memory_units.min(units)
                } else {
                    0
                };
                let size = match f {
                    Function::Noop => None,
                    Function::Cpu => Some(64),
                    Function::Alloc => Some(16),
                };
                let k_name = if node {
                    format!("{k} (image=node)")
                } else {
                    k.to_string()
                };
                eprintln!("[run] measure {k_name} {f}: {units} cold starts x {warm} warm");
                let mut unit = UnitArgs::defaults(k, f.name());
                if node {
                    unit.opts.push(("image".into(), "node".into()));
                }
                let cmd = MeasureCmd {
                    unit,
                    units,
                    warm,
                    memory_units: Some(mem),
                    size,
                    seed: self.seed,
                    expect: None,
                    gap: None,
                    out: measure_root.clone(),
                    quiet: self.quiet,
                };
                let gap_cmd =
                    (f == Function::Noop && !node && !self.gap.is_zero()).then(|| MeasureCmd {
                        units: 20,
                        warm: 10,
                        memory_units: Some(0),
                        gap: Some(self.gap),
                        ..cmd.clone()
                    });
                match cmd.run() {
                    Ok(dir) if f == Function::Noop && node => node_dir = Some(dir),
                    Ok(dir) if f == Function::Noop => noop_dirs.push((k, dir)),
                    Ok(_) => {}
                    Err(e) => {
                        // One backend failing must not lose the others' results.
                        eprintln!("[run] measure {k_name} {f} failed: {e:#}");
                        skipped.push(format!("{k_name} {f}: measurement failed: {e:#}"));
                    }
                }
                if let Some(g) = gap_cmd {
                    eprintln!(
                        "[run] measure {k} {f} after {:?} idle: 20 cold starts x 10 warm",
                        self.gap
                    );
                    if let Err(e) = g.run() {
                        eprintln!("[run] measure {k} {f} with a gap failed: {e:#}");
                        skipped.push(format!("{k} {f} with a gap: measurement failed: {e:#}"));
                    }
                }
            }
        }
        // The isolation spectrum: the other OCI runtimes through Docker, every one directly.
        for (k, runtime) in runtime_variants(&available) {
            let units = ((20.0 * self.scale).round() as u32).max(20);
            eprintln!("[run] measure {k} --runtime {runtime} noop: {units} cold starts x 5 warm");
            let mut unit = UnitArgs::defaults(k, "noop");
            unit.runtime = Some(runtime.to_string());
            let cmd = MeasureCmd {
                unit,
                units,
                warm: 5,
                memory_units: Some(5),
                size: None,
                seed: self.seed,
                expect: None,
                gap: None,
                out: measure_root.clone(),
                quiet: self.quiet,
            };
            if let Err(e) = cmd.run() {
                eprintln!("[run] measure {k} --runtime {runtime} noop failed: {e:#}");
                skipped.push(format!(
                    "{k} --runtime {runtime} noop: measurement failed: {e:#}"
                ));
            }
        }
        // 1b. Scale-out: one burst level per backend, density at 256 MiB.
        // The oci backend takes part in the spectrum step only.
        let scale_kinds: Vec<BackendKind> = available
            .iter()
            .copied()
            .filter(|k| *k != BackendKind::Oci)
            .collect();
        skipped.extend(super::burst::main_job(
            &scale_kinds,
            &root.join("scale"),
            self.seed,
            self.quiet,
        ));
        skipped.extend(super::density::main_job(
            &scale_kinds,
            &root.join("scale"),
            self.seed,
            self.quiet,
        ));
        std::fs::write(root.join("skipped.txt"), skipped.join("\n") + "\n")
            .context("writing skipped.txt")?;

        // 2. Simulate the default bursty workload, calibrated by the noop measurements.
        if !noop_dirs.is_empty() {
            eprintln!(
                "[run] simulate the default bursty workload on {} backends",
                noop_dirs.len()
            );
            if let Err(e) = self.simulate(&noop_dirs, &root) {
                eprintln!("[run] simulation failed: {e:#}");
            }
        }

        // 2b. The keep-alive frontier and the burstiness sweep, from the same calibrations.
        if !noop_dirs.is_empty() {
            let dirs: Vec<PathBuf> = noop_dirs
                .iter()
                .map(|(_, d)| d.clone())
                .chain(node_dir.clone())
                .collect();
            eprintln!(
                "[run] keep-alive frontier and burstiness sweep on {} models",
                dirs.len()
            );
            if let Err(e) = self.frontier(&dirs, &root) {
                eprintln!("[run] frontier failed: {e:#}");
                skipped.push(format!("keep-alive frontier: {e:#}"));
            }
        }

        // 3. A short replay, validated against the simulation, on in-process backends.
        if self.replay_seconds > 0 {
            for (k, dir) in noop_dirs
                .iter()
                .filter(|(k, _)| matches!(k, BackendKind::Wasm | BackendKind::V8))
            {
                eprintln!(
                    "[run] validate {k}: {} s replay of the default bursty workload",
                    self.replay_seconds
                );
                if let Err(e) = self.validate(*k, dir, &root) {
                    eprintln!("[run] validate {k} failed: {e:#}");
                }
            }
        }

        // 4. The report.
        let report_dir = root.join("report");
        let files = super::report::build(
            std::slice::from_ref(&root),
            &report_dir,
            "unitlab: what each execution model costs to start, to keep, and to keep waiting",
        )?;
        // Absolute, so that it can be opened from anywhere (scripts/run.sh runs elsewhere).
        let index = std::fs::canonicalize(&files.index).unwrap_or(files.index);
        println!("{}", index.display());
        Ok(())
    }

    /// `--trace` as the platform's typed trace options.
    fn trace_args(&self) -> Result<Option<TraceOptions>> {
        let Some(t) = &self.trace else {
            return Ok(None);
        };
        let span_ns = self.span.map(|d| d.as_nanos() as u64);
        Ok(Some(TraceOptions {
            source: t.parse().map_err(|e| anyhow::anyhow!("--trace {t}: {e}"))?,
            span_ns,
            seed: self.seed,
            load: self.load.clone().into(),
            execution: Execution::Required,
        }))
    }

    fn frontier(&self, dirs: &[PathBuf], root: &Path) -> Result<PathBuf> {
        use unitlab_platform::frontier::{main_job, FrontierOptions};
        let user = match (self.trace_args()?, &self.trace) {
            (Some(t), Some(given)) => {
                let name = Path::new(given)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| given.clone());
                Some((name, t.open()?))
            }
            _ => None,
        };
        let opts = FrontierOptions {
            memory_basis: self.memory_basis,
            latency_target_ns: self.latency_target.as_nanos() as u64,
            seed: self.seed,
            day_invocations: (200_000.0 * self.scale.min(1.0)).max(2_000.0),
            ..FrontierOptions::default()
        };
        let pricing = unitlab_platform::pricing::load_pricing(None)?;
        let env = unitlab::env::collect(self.seed);
        Ok(main_job(
            dirs,
            user,
            &pricing,
            &opts,
            Some(env),
            &root.join("frontier"),
        )?)
    }

    /// The default bursty workload, seeded by `--seed`, whole or cut at `span_ns`.
    fn bursty(&self, span_ns: Option<u64>) -> TraceOptions {
        TraceOptions {
            source: TraceSource::Bursty,
            span_ns,
            seed: self.seed,
            load: Default::default(),
            execution: Execution::Required,
        }
    }

    fn output(&self, out: PathBuf, progress: bool) -> OutputOptions {
        OutputOptions {
            out,
            pricing: None,
            bin_ns: None,
            progress,
            env: Some(unitlab::env::collect(self.seed)),
        }
    }

    fn simulate(&self, noop_dirs: &[(BackendKind, PathBuf)], root: &Path) -> Result<()> {
        let policies = ["keepalive:10m", "keepalive:20m", "hybrid", "provisioned:1"]
            .into_iter()
            .map(str::parse)
            .collect::<Result<Vec<Policy>, _>>()?;
        let policies = experiment::with_baseline(&policies, &PolicyOptions::default())?;
        let calibrations = noop_dirs
            .iter()
            .map(|(_, dir)| Calibration::from_measure(dir))
            .collect::<Result<Vec<_>, _>>()?;
        experiment::simulate(
            &self.trace_args()?.unwrap_or_else(|| self.bursty(None)),
            &policies,
            &calibrations,
            &SimulateOptions {
                seed: self.seed,
                ..SimulateOptions::default()
            },
            &self.output(root.join("simulate"), !self.quiet),
        )?;
        Ok(())
    }

    fn validate(&self, kind: BackendKind, calibration: &Path, root: &Path) -> Result<()> {
        let unit = UnitArgs::defaults(kind, "noop");
        let backend = unit.build()?;
        let spec = unit.spec()?;
        experiment::validate(
            &*backend,
            &spec,
            &self.bursty(Some(self.replay_seconds as u64 * 1_000_000_000)),
            &"keepalive:10m".parse::<Policy>()?,
            &ValidateCalibration::Given(Calibration::from_measure(calibration)?),
            0,
            &ReplaySettings::default(),
            &self.output(root.join("validate"), false),
        )?;
        Ok(())
    }
}

/// The runtimes the spectrum step measures `noop` on: for `container`, those dockerd has
/// registered beyond runc (measured with the other backends); for `oci`, every installed one.
/// Missing ones are reported by `unitlab doctor` with their fix.
fn runtime_variants(available: &[BackendKind]) -> Vec<(BackendKind, &'static str)> {
    #[allow(unused_mut, reason = "empty without the container and oci features")]
    let mut out = Vec::new();
    #[cfg(feature = "container")]
    {
        use unitlab_backend_container::Runtime;
        let statuses = unitlab_backend_container::runtime::statuses(None);
        for s in statuses {
            if available.contains(&BackendKind::Container)
                && s.runtime != Runtime::Runc
                && s.registered == Some(true)
            {
                out.push((BackendKind::Container, s.runtime.name()));
            }
        }
    }
    #[cfg(feature = "oci")]
    {
        use unitlab_backend_oci::runtime::Runtime;
        for r in Runtime::ALL {
            if available.contains(&BackendKind::Oci) && r.binary().is_some() {
                out.push((BackendKind::Oci, r.name()));
            }
        }
    }
    let _ = available;
    out
}
