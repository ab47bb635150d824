//! `unitlab density`: how many units really fit in a memory budget the kernel enforces.
//!
//! The budget is the limit of a memory cgroup ([`crate::cgroup`]), swap kept out. Units are
//! started one by one, each answering a verified first request and then kept alive, until a
//! start fails, the kernel's OOM killer strikes, or a cap (`max_units`, `max_time`) is reached.
//! After every unit the cgroup's usage is read, so the run ends with the units reached, the
//! bytes per unit at the end, and the start latency of the last units against the first.
//!
//! Where the units live decides what goes into the cgroup:
//!
//! - [`run_isolated`]: backends whose units live in or under the harness process (wasm, v8 in
//!   the process; deno's runtime and process units as its children). The harness spawns one
//!   child process (a hidden subcommand of the binary, running [`serve`]), moves it into the
//!   cgroup *before* it builds the backend, and lets it go. Everything the child allocates and
//!   every process it spawns is charged to the cgroup. The child reports each unit over a pipe
//!   (`unit <n> <cold_ns>`), so the parent outlives an OOM kill and knows the count.
//! - [`run_local`]: containers. Their processes are not the harness's children; Docker creates
//!   each container's cgroup under a `cgroup_parent` that carries the limit (cgroup v1 needs
//!   `memory.use_hierarchy = 1` for a parent's limit to bind its children).
//!
//! The cgroup is removed afterwards, always: whatever still runs in it is killed first.
//!
//! The usage includes what the backend needs before any unit (the runtime, a compiled module,
//! a Deno process): it is read once the backend is prepared (`baseline_bytes`), and
//! `bytes_per_unit` is the usage above it divided by the units.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use unitlab_backend::{verify, Backend, BackendError, BackendInfo, FunctionSpec, Request, Unit};
use unitlab_results::scale::{
    CgroupRecord, DensityResult, DensityStop, DensityUnit, DENSITY_SCHEMA,
};
use unitlab_results::Summary;

use crate::cgroup::{CgroupError, MemoryCgroup, Version};
use crate::measure::request_seed;

/// How many of the first and of the last units the latency comparison takes.
pub const EDGE_UNITS: usize = 10;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The budget: the cgroup's limit, bytes.
    pub budget: u64,
    /// Stop after this many units (a lower bound then).
    pub max_units: u32,
    /// Stop after this long (a lower bound then).
    pub max_time: Duration,
    /// Request size.
    pub size: u32,
    /// Seed for request inputs.
    pub seed: u64,
    /// Expected value for user functions.
    pub expect: Option<u32>,
}

/// A density run: the summary and every unit.
#[derive(Debug, Clone)]
pub struct DensityRun {
    /// What goes to `summary.json`.
    pub result: DensityResult,
    /// Every unit started, in order.
    pub units: Vec<DensityUnit>,
}

/// Errors of a density run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DensityError {
    /// A budget of 0.
    #[error("a budget of 0 bytes holds nothing; give --budget like 256MiB or 1GiB")]
    ZeroBudget,
    /// The cgroup could not be made.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// The backend failed as a whole (before the first unit).
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The unit process could not be spawned or spoke wrongly.
    #[error("the density unit process: {0}")]
    Child(String),
    /// Not one unit fitted.
    #[error(
        "the budget of {budget} bytes holds no unit ({why}); give a larger --budget: {baseline}"
    )]
    NoUnitFits {
        /// The budget.
        budget: u64,
        /// What happened.
        why: String,
        /// The usage once prepared, in words.
        baseline: String,
    },
}

/// What the unit loop saw, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The backend is prepared (its info, as JSON).
    Prepared(BackendInfo),
    /// Unit `n` answered correctly after `cold_ns`.
    Unit(u32, u64),
    /// Unit `n` failed.
    Error(u32, String),
    /// The cap was reached.
    Cap(String),
}

impl Event {
    /// One protocol line (no newline).
    pub fn to_line(&self) -> String {
        match self {
            Event::Prepared(info) => format!(
                "prepared {}",
                serde_json::to_string(info).unwrap_or_else(|_| "{}".into())
            ),
            Event::Unit(n, ns) => format!("unit {n} {ns}"),
            Event::Error(n, m) => format!("error {n} {}", m.replace('\n', " | ")),
            Event::Cap(m) => format!("cap {m}"),
        }
    }

    /// Parses one protocol line.
    pub fn parse(line: &str) -> Option<Event> {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "prepared" => serde_json::from_str(rest).ok().map(Event::Prepared),
            "unit" => {
                let (n, ns) = rest.split_once(' ')?;
                Some(Event::Unit(n.parse().ok()?, ns.parse().ok()?))
            }
            "error" => {
                let (n, m) = rest.split_once(' ').unwrap_or((rest, ""));
                Some(Event::Error(n.parse().ok()?, m.to_string()))
            }
            "cap" => Some(Event::Cap(rest.to_string())),
            _ => None,
        }
    }
}

/// Prepares and starts units until one fails or the cap is reached, telling `report` each
/// step; returns the prepared function and the live units (the caller stops the units, then
/// drops the function).
fn unit_loop(
    backend: &dyn Backend,
    spec: &FunctionSpec,
    opts: &Options,
    report: &mut dyn FnMut(&Event) -> bool,
) -> Result<Live, BackendError> {
    let prepared = backend.prepare(spec)?;
    let mut listening = report(&Event::Prepared(backend.info()));
    let t_run = Instant::now();
    let mut live: Vec<Box<dyn Unit>> = Vec::new();
    let mut n = 0u32;
    // A reporter that stops listening (the parent is gone) ends the loop.
    while listening {
        if n >= opts.max_units {
            report(&Event::Cap(format!(
                "--max-units {} reached",
                opts.max_units
            )));
            break;
        }
        if t_run.elapsed() >= opts.max_time {
            report(&Event::Cap(format!(
                "--max-time {:?} reached after {n} units",
                opts.max_time
            )));
            break;
        }
        let req = Request {
            size: opts.size,
            seed: request_seed(opts.seed, n, 0),
        };
        let t0 = Instant::now();
        let r = prepared.start().and_then(|mut u| {
            let resp = u.invoke(&req)?;
            let t1 = Instant::now();
            verify(spec, &req, &resp, opts.expect)?;
            Ok((u, t1))
        });
        match r {
            Ok((u, t1)) => {
                live.push(u);
                listening = report(&Event::Unit(n, t1.duration_since(t0).as_nanos() as u64));
            }
            Err(e) => {
                report(&Event::Error(n, e.to_string()));
                break;
            }
        }
        n += 1;
    }
    Ok((prepared, live))
}

/// A prepared function and its live units.
type Live = (Box<dyn unitlab_backend::Prepared>, Vec<Box<dyn Unit>>);

fn stop_all((prepared, live): Live) {
    for u in live {
        let _ = u.stop();
    }
    drop(prepared);
}

/// The child's side of [`run_isolated`]: waits for `go` on `input` (sent once the parent has
/// moved this process into the cgroup), runs the unit loop reporting every event on
/// `output`, then keeps the units alive until `input` closes, and stops them.
pub fn serve(
    backend_build: impl FnOnce() -> Result<Box<dyn Backend>, BackendError>,
    spec: &FunctionSpec,
    opts: &Options,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> Result<(), DensityError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| DensityError::Child(format!("reading `go`: {e}")))?;
    if line.trim() != "go" {
        return Err(DensityError::Child(format!(
            "expected `go` from the parent, got `{}`",
            line.trim()
        )));
    }
    let backend = backend_build()?;
    let mut write_err = None;
    let live = unit_loop(
        &*backend,
        spec,
        opts,
        &mut |e| match writeln!(output, "{}", e.to_line()).and_then(|_| output.flush()) {
            Ok(()) => true,
            Err(err) => {
                write_err.get_or_insert(err);
                false
            }
        },
    )?;
    if let Some(e) = write_err {
        stop_all(live);
        return Err(DensityError::Child(format!("writing to the parent: {e}")));
    }
    // Hold every unit until the parent has read the usage and closes the pipe.
    let mut rest = String::new();
    while input.read_line(&mut rest).map(|n| n > 0).unwrap_or(false) {
        rest.clear();
    }
    stop_all(live);
    Ok(())
}

/// Collects events and the cgroup's usage after each.
struct Observer<'a> {
    cg: &'a MemoryCgroup,
    info: Option<BackendInfo>,
    baseline: Option<u64>,
    units: Vec<DensityUnit>,
    stop: Option<(DensityStop, String)>,
}

impl<'a> Observer<'a> {
    fn new(cg: &'a MemoryCgroup) -> Self {
        Observer {
            cg,
            info: None,
            baseline: None,
            units: Vec::new(),
            stop: None,
        }
    }

    fn see(&mut self, e: &Event) {
        match e {
            Event::Prepared(info) => {
                self.info = Some(info.clone());
                self.baseline = self.cg.usage();
            }
            Event::Unit(n, ns) => self.units.push(DensityUnit {
                unit: *n,
                cold_ns: *ns,
                usage_bytes: self.cg.usage(),
            }),
            Event::Error(n, m) => {
                self.stop = Some((DensityStop::StartError, format!("unit {n}: {m}")))
            }
            Event::Cap(m) => self.stop = Some((DensityStop::Cap, m.clone())),
        }
    }

    fn finish(
        self,
        spec: &FunctionSpec,
        opts: &Options,
        fallback_info: BackendInfo,
        ended: Option<String>,
    ) -> DensityRun {
        let cg = self.cg;
        let oom_kills = cg.oom_kills();
        let (mut stop, mut detail) = self.stop.unwrap_or_else(|| {
            (
                DensityStop::StartError,
                ended
                    .clone()
                    .unwrap_or_else(|| "the unit process ended".into()),
            )
        });
        if oom_kills.unwrap_or(0) > 0 {
            detail = format!(
                "the kernel's OOM killer killed {} process(es) in the cgroup; then: {detail}",
                oom_kills.unwrap_or(0)
            );
            stop = DensityStop::OomKill;
        } else if let (Some(end), DensityStop::StartError) = (&ended, stop) {
            if !detail.contains(end.as_str()) {
                detail = format!("{detail}; {end}");
            }
        }
        let units_reached = self.units.len() as u32;
        let usage_end = self.units.last().and_then(|u| u.usage_bytes);
        let bytes_per_unit = match (usage_end, self.baseline, units_reached) {
            (Some(e), Some(b), n) if n > 0 => Some((e as f64 - b as f64) / n as f64),
            _ => None,
        };
        let colds: Vec<u64> = self.units.iter().map(|u| u.cold_ns).collect();
        let first = &colds[..colds.len().min(EDGE_UNITS)];
        let last_from = colds.len().saturating_sub(EDGE_UNITS).max(first.len());
        let last = &colds[last_from..];
        let mut warnings = Vec::new();
        if stop == DensityStop::Cap {
            warnings.push(format!(
                "the run stopped at a cap ({detail}) before the limit: {units_reached} is a lower bound"
            ));
        }
        if cg.hierarchical() == Some(false) {
            warnings.push(
                "memory.use_hierarchy is 0: a parent's limit does not bind child cgroups (containers)"
                    .into(),
            );
        }
        let host_swap = crate::cgroup::host_swap_bytes();
        let result = DensityResult {
            schema: DENSITY_SCHEMA.into(),
            backend: self.info.unwrap_or(fallback_info),
            function: spec.clone(),
            env: crate::env::collect(opts.seed),
            budget_bytes: opts.budget,
            cgroup: CgroupRecord {
                version: match cg.version() {
                    Version::V1 => 1,
                    Version::V2 => 2,
                },
                path: cg.dir().display().to_string(),
                limit_bytes: cg.limit(),
                swap: if host_swap == 0 {
                    format!("the host has no swap; {}", cg.swap())
                } else {
                    cg.swap().to_string()
                },
                host_swap_bytes: host_swap,
            },
            units_reached,
            baseline_bytes: self.baseline,
            usage_end_bytes: usage_end,
            bytes_per_unit,
            budget_per_unit: (units_reached > 0).then(|| opts.budget as f64 / units_reached as f64),
            max_usage_bytes: cg.max_usage(),
            limit_hits: cg.limit_hits(),
            oom_kills,
            stop,
            stop_detail: detail,
            first_cold: Summary::from_nanos(first),
            last_cold: Summary::from_nanos(last),
            warnings,
        };
        DensityRun {
            result,
            units: self.units,
        }
    }
}

impl DensityRun {
    /// Fails with [`DensityError::NoUnitFits`] when not one unit fitted.
    pub fn check_fits(&self) -> Result<(), DensityError> {
        if self.result.units_reached > 0 {
            return Ok(());
        }
        Err(DensityError::NoUnitFits {
            budget: self.result.budget_bytes,
            why: format!(
                "{}: {}",
                self.result.stop.describe(),
                self.result.stop_detail
            ),
            baseline: self
                .result
                .baseline_bytes
                .map(|b| format!("the runtime alone used {b} bytes before the first unit"))
                .unwrap_or_else(|| "the backend could not even be prepared within it".into()),
        })
    }
}

/// Kills the child if it is still alive, and reaps it.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the units in one child process placed in a fresh cgroup. `child` is the command that
/// runs [`serve`] (its stdin, stdout and stderr are set here); `info` stands for the backend
/// when the child dies before it says what it runs.
pub fn run_isolated(
    mut child: Command,
    info: BackendInfo,
    spec: &FunctionSpec,
    opts: &Options,
) -> Result<DensityRun, DensityError> {
    if opts.budget == 0 {
        return Err(DensityError::ZeroBudget);
    }
    let cg = MemoryCgroup::create("density", opts.budget)?;
    child
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard = ChildGuard(
        child
            .spawn()
            .map_err(|e| DensityError::Child(format!("spawning it: {e}")))?,
    );
    cg.add_pid(guard.0.id())?;
    let mut stdin = guard.0.stdin.take().expect("stdin is piped");
    let stdout = guard.0.stdout.take().expect("stdout is piped");
    let stderr = guard.0.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    let err_tail = std::thread::spawn(move || {
        let mut tail: Vec<String> = Vec::new();
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            tail.push(l);
            if tail.len() > 5 {
                tail.remove(0);
            }
        }
        tail.join(" | ")
    });
    writeln!(stdin, "go")
        .and_then(|_| stdin.flush())
        .map_err(|e| DensityError::Child(format!("sending `go`: {e}")))?;

    let mut obs = Observer::new(&cg);
    // No line for this long means the child hangs (e.g. thrashing at the limit): it is
    // killed and the run ends there.
    let silence = opts.max_time + Duration::from_secs(60);
    let mut ended = None;
    loop {
        match rx.recv_timeout(silence) {
            Ok(line) => match Event::parse(&line) {
                Some(e) => {
                    let last = matches!(e, Event::Error(..) | Event::Cap(_));
                    obs.see(&e);
                    if last {
                        break;
                    }
                }
                None => {
                    ended = Some(format!("unexpected line from the unit process: `{line}`"));
                    break;
                }
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                ended = Some(format!(
                    "the unit process said nothing for {silence:?} and was killed"
                ));
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Usage and counters are read with every unit still alive; then the child may stop them.
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match guard.0.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => break None,
        }
    };
    if obs.stop.is_none() && ended.is_none() {
        ended = Some(describe_exit(status));
    }
    let _ = guard.0.kill();
    let _ = guard.0.wait();
    let tail = err_tail.join().unwrap_or_default();
    if let (Some(e), false) = (&mut ended, tail.is_empty()) {
        e.push_str(&format!(" (its last stderr: {tail})"));
    }
    let run = obs.finish(spec, opts, info, ended);
    cg.remove()?;
    Ok(run)
}

fn describe_exit(status: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        None => "the unit process did not exit in 30 s and was killed".into(),
        Some(s) => match (s.code(), s.signal()) {
            (_, Some(sig)) => format!("the unit process was killed by signal {sig}"),
            (Some(c), _) => format!("the unit process exited with status {c}"),
            _ => "the unit process ended".into(),
        },
    }
}

/// Runs the units from this process, for backends whose units are not its children
/// (containers): `build` gets the cgroup and returns a backend that creates every unit's
/// cgroup under it.
pub fn run_local(
    build: impl FnOnce(&MemoryCgroup) -> Result<Box<dyn Backend>, BackendError>,
    spec: &FunctionSpec,
    opts: &Options,
) -> Result<DensityRun, DensityError> {
    if opts.budget == 0 {
        return Err(DensityError::ZeroBudget);
    }
    let cg = MemoryCgroup::create("density", opts.budget)?;
    let backend = build(&cg)?;
    let info = backend.info();
    let mut obs = Observer::new(&cg);
    let live = unit_loop(&*backend, spec, opts, &mut |e| {
        obs.see(e);
        true
    })?;
    let run = obs.finish(spec, opts, info, None);
    stop_all(live);
    cg.remove()?;
    Ok(run)
}

/// Writes a density run into a new directory under `out`: `units.csv`, then `summary.json`.
pub fn write(out: &std::path::Path, d: &DensityRun) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    use std::fmt::Write as _;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let name = format!(
        "{stamp}-density-{}-{}",
        d.result.backend.name,
        crate::output::sanitize(&d.result.function.name)
    );
    // Written into a partial directory, renamed when complete (unitlab_results::dir).
    let reserved = unitlab_results::dir::ResultDir::create(out, &name)?;
    let dir = reserved.path().to_path_buf();
    let mut csv = String::from("unit,cold_ns,usage_bytes\n");
    for u in &d.units {
        writeln!(
            csv,
            "{},{},{}",
            u.unit,
            u.cold_ns,
            u.usage_bytes.map(|b| b.to_string()).unwrap_or_default()
        )?;
    }
    let p = dir.join("units.csv");
    std::fs::write(&p, csv).with_context(|| format!("writing {}", p.display()))?;
    let p = dir.join("summary.json");
    std::fs::write(&p, serde_json::to_string_pretty(&d.result)?)
        .with_context(|| format!("writing {}", p.display()))?;
    Ok(reserved.commit()?)
}

/// The terminal summary.
pub fn table(r: &DensityResult) -> String {
    use crate::output::{fmt_bytes, fmt_ns};
    let b = |v: Option<u64>| v.map(|v| fmt_bytes(v as f64)).unwrap_or_else(|| "-".into());
    let f = |v: Option<f64>| v.map(fmt_bytes).unwrap_or_else(|| "-".into());
    let t = |v: Option<u64>| v.map(fmt_ns).unwrap_or_else(|| "-".into());
    let mut out = format!(
        "density: {} {} in {} (cgroup v{}, {})\n",
        r.backend.name,
        r.function.name,
        fmt_bytes(r.budget_bytes as f64),
        r.cgroup.version,
        r.cgroup.swap
    );
    out += &format!("  units reached      {}\n", r.units_reached);
    out += &format!("  runtime baseline   {}\n", b(r.baseline_bytes));
    out += &format!("  usage at the end   {}\n", b(r.usage_end_bytes));
    out += &format!("  bytes per unit     {}\n", f(r.bytes_per_unit));
    out += &format!("  budget per unit    {}\n", f(r.budget_per_unit));
    out += &format!("  peak usage         {}\n", b(r.max_usage_bytes));
    out += &format!(
        "  cold start p50     first {}: {}   last {}: {}\n",
        r.first_cold.count,
        t(r.first_cold.p50),
        r.last_cold.count,
        t(r.last_cold.p50)
    );
    out += &format!(
        "  stopped by         {}: {}\n",
        r.stop.describe(),
        r.stop_detail
    );
    for w in &r.warnings {
        out += &format!("  warning: {w}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines_round_trip() {
        for e in [
            Event::Unit(3, 12345),
            Event::Error(7, "out of memory".into()),
            Event::Cap("--max-units 5 reached".into()),
            Event::Prepared(BackendInfo {
                name: "wasm".into(),
                ..BackendInfo::default()
            }),
        ] {
            assert_eq!(Event::parse(&e.to_line()), Some(e));
        }
        assert_eq!(
            Event::parse(&Event::Error(1, "a\nb".into()).to_line()),
            Some(Event::Error(1, "a | b".into()))
        );
        assert_eq!(Event::parse("garbage"), None);
    }
}
