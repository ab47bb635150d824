//! The bare-process baseline: a unit is a fork+exec of the static native catalogue runner.
//!
//! This is the floor every isolation layer is compared with: no namespaces, no cgroups, no
//! runtime to boot. [`ProcessBackend::prepare`] writes the static runner (embedded in
//! `unitlab-runner`) into a cache directory once; [`Prepared::start`] spawns it and waits for
//! its `ready <pid>` line; [`Unit::invoke`] writes one request line and reads one response line
//! (protocol in `unitlab_runner`).
//!
//! # Phases of a cold start
//! - `spawn`: `fork` + `exec` until [`std::process::Command::spawn`] returns;
//! - `ready`: from there until the runner's `ready <pid>` line is read (the runner prints it
//!   first thing in `main`, so this is the kernel's exec + the static C start-up).
//!
//! The first [`Unit::invoke`] completes the cold start.
//!
//! # Limits
//! - `deadline` (default [`DEFAULT_DEADLINE`]): enforced with `poll(2)` on the child's stdout;
//!   a unit that does not answer in time is killed and the invoke returns
//!   [`BackendError::Deadline`].
//! - `memory_bytes`: `setrlimit(RLIMIT_AS)` in the child before `exec`. An allocation beyond it
//!   fails inside the runner, which answers `err out of memory ...`, reported as
//!   [`BackendError::MemoryLimit`]. A unit killed by a signal under a limit (a stack or heap
//!   mapping the limit refused: SIGSEGV) is reported as the limit's effect too, naming it. A
//!   limit below [`MIN_MEMORY_LIMIT`] is refused at prepare. Without a limit the child is spawned without a `pre_exec`
//!   hook, so the standard library may use its faster `posix_spawn` path.
//!
//! # User executables
//! [`FunctionSource::File`] names an executable that speaks the runner protocol on
//! stdin/stdout: it prints `ready <pid>` once, then answers each `<name> <size> <seed>` line
//! (where `<name>` is the function spec's name) with `ok <value> <guest_ns>` or
//! `err <message>`, and exits on `quit` or end of input.

#![warn(missing_docs)]

pub mod lines;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use unitlab_backend::{
    Availability, Backend, BackendError, BackendInfo, FunctionSource, FunctionSpec, Phase,
    Prepared, Request, Response, Unit, UnitMemory,
};

use crate::lines::{LineError, LineReader};

/// The smallest `memory_bytes` accepted: under 2 MiB of address space the static runner cannot
/// map its stack and heap and dies of SIGSEGV before its `ready` line (1 MiB did, 2 MiB
/// starts and runs `noop`).
pub const MIN_MEMORY_LIMIT: u64 = 2 << 20;

/// The deadline of one invocation when the function spec sets none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// How long `start` waits for the `ready <pid>` line.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);

/// Keys accepted by [`Config::set`], with their help text.
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "cache_dir",
        "directory the static runner is installed into (default $XDG_CACHE_HOME/unitlab, else <tmp>/unitlab-<uid>)",
    ),
    (
        "start_timeout_ms",
        "how long a start waits for the unit's `ready` line, in ms (default 10000)",
    ),
];

/// Settings of the process backend.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where the runner is installed; `None` means [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// How long `start` waits for `ready`; `None` means [`DEFAULT_START_TIMEOUT`].
    pub start_timeout: Option<Duration>,
}

impl Config {
    /// Sets one option by name (see [`OPTIONS`]).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), BackendError> {
        match key {
            "cache_dir" => self.cache_dir = Some(PathBuf::from(value)),
            "start_timeout_ms" => {
                let ms: u64 = value
                    .parse()
                    .map_err(|_| bad_option(key, value, "milliseconds"))?;
                self.start_timeout = Some(Duration::from_millis(ms));
            }
            _ => return Err(BackendError::unknown_option("process", key, OPTIONS)),
        }
        Ok(())
    }
}

fn bad_option(key: &str, value: &str, want: &str) -> BackendError {
    BackendError::bad_option("process", key, value, want)
}

/// The default directory the runner is installed into: `$XDG_CACHE_HOME/unitlab` when set,
/// else `<temp dir>/unitlab-<uid>`.
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("unitlab"),
        _ => {
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            std::env::temp_dir().join(format!("unitlab-{uid}"))
        }
    }
}

/// The process backend runs wherever `fork` and `exec` do: always on Linux.
pub fn availability() -> Availability {
    if cfg!(target_os = "linux") {
        Availability::Available(format!(
            "fork+exec of the static runner ({} bytes)",
            unitlab_runner::RUNNER.len()
        ))
    } else {
        Availability::Unavailable {
            reason: "the process backend reads /proc and is built for Linux only".into(),
            fix: "run unitlab on Linux".into(),
        }
    }
}

/// The bare-process backend.
#[derive(Debug)]
pub struct ProcessBackend {
    config: Config,
}

impl ProcessBackend {
    /// A backend with the given settings.
    pub fn new(config: Config) -> Result<Self, BackendError> {
        Ok(ProcessBackend { config })
    }

    fn cache_dir(&self) -> PathBuf {
        self.config
            .cache_dir
            .clone()
            .unwrap_or_else(default_cache_dir)
    }
}

impl Backend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    fn info(&self) -> BackendInfo {
        let mut versions = BTreeMap::new();
        versions.insert("kernel".to_string(), kernel_release());
        versions.insert(
            "runner_bytes".to_string(),
            unitlab_runner::RUNNER.len().to_string(),
        );
        let mut settings = BTreeMap::new();
        settings.insert(
            "cache_dir".to_string(),
            self.cache_dir().display().to_string(),
        );
        settings.insert(
            "start_timeout_ms".to_string(),
            self.config
                .start_timeout
                .unwrap_or(DEFAULT_START_TIMEOUT)
                .as_millis()
                .to_string(),
        );
        settings.insert(
            "default_deadline_ms".to_string(),
            DEFAULT_DEADLINE.as_millis().to_string(),
        );
        settings.insert("memory_limit".to_string(), "RLIMIT_AS when set".to_string());
        BackendInfo {
            name: "process".into(),
            versions,
            settings,
            in_process: false,
            boundary: Some(unitlab_backend::Boundary::Process),
        }
    }

    fn prepare(&self, spec: &FunctionSpec) -> Result<Box<dyn Prepared>, BackendError> {
        spec.limits.check(
            "process",
            MIN_MEMORY_LIMIT,
            "RLIMIT_AS covers the runner's own code, stack and heap",
        )?;
        let (program, function) = match &spec.source {
            FunctionSource::Catalogue(f) => {
                let dir = self.cache_dir();
                let path = unitlab_runner::install(&dir).map_err(|e| BackendError::Prepare {
                    function: spec.name.clone(),
                    message: format!(
                        "cannot install the runner into {}: {e} (set `--opt cache_dir=<writable dir>`)",
                        dir.display()
                    ),
                })?;
                (path, f.name().to_string())
            }
            FunctionSource::File(path) => {
                check_executable(path).map_err(|message| BackendError::Prepare {
                    function: spec.name.clone(),
                    message,
                })?;
                (path.clone(), spec.name.clone())
            }
            FunctionSource::Image(image) => {
                return Err(BackendError::Prepare {
                    function: spec.name.clone(),
                    message: format!(
                        "the process backend runs executables, not container images (`{image}`); use `--backend container`"
                    ),
                })
            }
            #[allow(unreachable_patterns, reason = "FunctionSource is non_exhaustive")]
            other => {
                return Err(BackendError::Prepare {
                    function: spec.name.clone(),
                    message: format!("unsupported function source {other:?}"),
                })
            }
        };
        Ok(Box::new(ProcessPrepared {
            spec: spec.clone(),
            program,
            function,
            start_timeout: self.config.start_timeout.unwrap_or(DEFAULT_START_TIMEOUT),
        }))
    }
}

fn check_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the executable {}: {e}", path.display()))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "{} is not an executable file (fix: chmod +x, and make it speak the runner protocol)",
            path.display()
        ));
    }
    Ok(())
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// A function ready to spawn units from.
#[derive(Debug)]
struct ProcessPrepared {
    spec: FunctionSpec,
    program: PathBuf,
    function: String,
    start_timeout: Duration,
}

impl Prepared for ProcessPrepared {
    fn spec(&self) -> &FunctionSpec {
        &self.spec
    }

    fn start(&self) -> Result<Box<dyn Unit>, BackendError> {
        let mut cmd = Command::new(&self.program);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(limit) = self.spec.limits.memory_bytes {
            // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    let rl = libc::rlimit {
                        rlim_cur: limit as libc::rlim_t,
                        rlim_max: limit as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_AS, &rl) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let t0 = Instant::now();
        let mut child = unitlab_runner::spawn(&mut cmd).map_err(|e| BackendError::Start {
            message: format!("cannot spawn {}: {e}", self.program.display()),
        })?;
        let t_spawn = t0.elapsed();
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut unit = ProcessUnit {
            child,
            stdin: Some(stdin),
            reader: LineReader::new(stdout),
            function: self.function.clone(),
            deadline: self.spec.limits.deadline.unwrap_or(DEFAULT_DEADLINE),
            memory_limit: self.spec.limits.memory_bytes,
            phases: Vec::new(),
            dead: false,
        };
        let t1 = Instant::now();
        let line = match unit.reader.read_line(self.start_timeout) {
            Ok(line) => line,
            Err(LineError::Timeout) => {
                unit.kill();
                return Err(BackendError::Start {
                    message: format!(
                        "{} printed no `ready <pid>` line within {:?}; it was killed (is it a runner-protocol executable?)",
                        self.program.display(),
                        self.start_timeout
                    ),
                });
            }
            Err(e) => {
                let what = format!(
                    "{} exited before its `ready` line ({e})",
                    self.program.display()
                );
                return Err(unit.died(what));
            }
        };
        let t_ready = t1.elapsed();
        // The pid the runner reports is informative only: memory is read for the child spawned.
        unitlab_runner::parse_ready(&line)?;
        unit.phases = vec![Phase::new("spawn", t_spawn), Phase::new("ready", t_ready)];
        Ok(Box::new(unit))
    }
}

/// One live runner process.
#[derive(Debug)]
struct ProcessUnit {
    child: Child,
    stdin: Option<ChildStdin>,
    reader: LineReader,
    function: String,
    deadline: Duration,
    memory_limit: Option<u64>,
    phases: Vec<Phase>,
    dead: bool,
}

impl ProcessUnit {
    fn kill(&mut self) {
        if !self.dead {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.dead = true;
        }
        self.stdin = None;
    }

    /// Waits for an exited child, describing its status.
    fn reap(&mut self) -> (String, Option<std::process::ExitStatus>) {
        self.stdin = None;
        self.dead = true;
        match self.child.wait() {
            Ok(s) => (s.to_string(), Some(s)),
            Err(e) => (format!("unknown ({e})"), None),
        }
    }

    /// The error for a unit that exited on its own (`what` happened): a signal under a memory
    /// limit is reported as the limit's effect, since RLIMIT_AS makes a stack or heap mapping
    /// fail and the runner then dies of SIGSEGV (or SIGBUS) without a word.
    fn died(&mut self, what: String) -> BackendError {
        use std::os::unix::process::ExitStatusExt;
        let (status, raw) = self.reap();
        match (raw.and_then(|s| s.signal()), self.memory_limit) {
            (Some(sig), Some(limit)) => BackendError::MemoryLimit {
                limit: Some(limit),
                message: format!(
                    "{what}; exit status: {status}: killed by signal {sig} under the memory \
                     limit (RLIMIT_AS {}), most likely a stack or heap mapping the limit \
                     refused; raise --memory-limit",
                    unitlab_backend::units::format_bytes(limit)
                ),
            },
            _ => BackendError::Protocol {
                message: format!("{what}; exit status: {status}"),
            },
        }
    }
}

impl Unit for ProcessUnit {
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError> {
        if self.dead {
            return Err(BackendError::Protocol {
                message: format!("unit {} was already stopped", self.child.id()),
            });
        }
        let line = unitlab_runner::request_line(&self.function, req);
        let stdin = self.stdin.as_mut().expect("live unit has stdin");
        if let Err(e) = stdin.write_all(line.as_bytes()) {
            return Err(self.died(format!("the unit exited early (writing the request: {e})")));
        }
        match self.reader.read_line(self.deadline) {
            Ok(line) => match unitlab_runner::parse_response(&line) {
                Err(BackendError::Guest { message }) if message.starts_with("out of memory") => {
                    Err(BackendError::MemoryLimit {
                        limit: self.memory_limit,
                        message,
                    })
                }
                other => other,
            },
            Err(LineError::Timeout) => {
                self.kill();
                Err(BackendError::Deadline {
                    deadline: self.deadline,
                })
            }
            Err(e) => Err(self.died(format!("the unit exited early ({e})"))),
        }
    }

    fn start_phases(&self) -> Vec<Phase> {
        self.phases.clone()
    }

    fn memory(&mut self) -> Result<UnitMemory, BackendError> {
        let mut mem = UnitMemory::default();
        if !self.dead {
            if let Some((pss, rss)) = unitlab_backend::pid_memory(self.child.id()) {
                mem.host_bytes = Some(pss);
                mem.details.insert("pss".into(), pss);
                mem.details.insert("rss".into(), rss);
            }
        }
        Ok(mem)
    }

    fn id(&self) -> String {
        format!("pid:{}", self.child.id())
    }

    fn stop(mut self: Box<Self>) -> Result<(), BackendError> {
        if self.dead {
            return Ok(());
        }
        // Ask politely (EOF), then make sure.
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"quit\n");
        }
        let give_up = Instant::now() + Duration::from_millis(500);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_micros(200))
                }
                Ok(None) => {
                    self.kill();
                    break;
                }
                Err(e) => {
                    self.kill();
                    return Err(BackendError::io("waiting for the runner to exit", e));
                }
            }
        }
        self.dead = true;
        Ok(())
    }
}

impl Drop for ProcessUnit {
    fn drop(&mut self) {
        // No zombie leaks: kill and reap whatever is left.
        self.kill();
    }
}
