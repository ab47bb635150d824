//! The one abstraction every unitlab execution model implements.
//!
//! A serverless *unit* is whatever a platform starts to serve requests: a container, a V8
//! isolate, a Wasm instance, a process. The lifecycle is split into phases that are timed apart
//! (after wasmtime's `bench-api`: create -> compile -> instantiate -> execute -> free):
//!
//! 1. [`Backend::prepare`]: once per function. Compile a module, build an image, boot the shared
//!    runtime. Never part of a cold start.
//! 2. [`Prepared::start`]: create one unit, the first half of a cold start. The unit reports the
//!    phases it went through ([`Unit::start_phases`]), e.g. container create / start / ready.
//! 3. [`Unit::invoke`]: run the function once. The first invoke after `start` completes the cold
//!    start; later ones are warm. Every [`Response`] is checked with [`verify`] by the harness.
//! 4. [`Unit::memory`]: what this unit costs in memory, from the engine's and the host's view.
//! 5. [`Unit::stop`] (or drop): free the unit.
//!
//! The harness only knows these traits. Concrete backends live in their own crates
//! (`unitlab-backend-wasm`, `-process`, `-container`, `-v8`, `-deno`, `-mock`).

#![warn(missing_docs)]

pub mod catalogue;
pub mod units;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use catalogue::Function;

/// What to prepare: a catalogue function or the user's own code, with its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionSpec {
    /// Name shown in results (`noop`, `cpu`, `alloc`, or the user's name).
    pub name: String,
    /// Where the code comes from.
    pub source: FunctionSource,
    /// Limits applied to every unit of this function.
    pub limits: Limits,
}

impl FunctionSpec {
    /// A catalogue function with default limits.
    pub fn catalogue(function: Function) -> Self {
        FunctionSpec {
            name: function.name().to_string(),
            source: FunctionSource::Catalogue(function),
            limits: Limits::default(),
        }
    }

    /// The catalogue function, if this is one.
    pub fn catalogue_function(&self) -> Option<Function> {
        match self.source {
            FunctionSource::Catalogue(f) => Some(f),
            _ => None,
        }
    }
}

/// Where a function's code comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
#[non_exhaustive]
pub enum FunctionSource {
    /// One of the built-in functions, in the backend's own guest language.
    Catalogue(Function),
    /// A user file: a core Wasm module, a WASI command, a JS module, per backend (see each
    /// backend's docs for the entry protocol it expects).
    File(PathBuf),
    /// A container image the user already has, speaking the runner protocol.
    Image(String),
}

/// Limits applied to a unit. `None` means the backend's default (recorded in [`BackendInfo`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Memory limit per unit in bytes (linear memory, V8 heap, cgroup limit).
    pub memory_bytes: Option<u64>,
    /// Deadline for one invocation; a guest that runs longer is stopped.
    pub deadline: Option<Duration>,
    /// CPU limit per unit in cores (containers).
    pub cpus: Option<f64>,
}

impl Limits {
    /// Checks the limits against the ranges every backend shares ([`units::DEADLINE_RANGE`],
    /// [`units::MIN_MEMORY_LIMIT`]) and against `backend`'s own memory floor `min_memory`
    /// (`why` says what needs it). Backends call this first thing in `prepare`, so a limit they
    /// cannot honour is refused before any unit runs, never clamped.
    pub fn check(&self, backend: &str, min_memory: u64, why: &str) -> Result<(), BackendError> {
        if let Some(d) = self.deadline {
            units::check_deadline(d).map_err(|message| BackendError::Limit {
                flag: "--deadline".into(),
                value: format!("{d:?}"),
                message,
            })?;
        }
        if let Some(m) = self.memory_bytes {
            units::check_memory_limit(m).map_err(|message| BackendError::Limit {
                flag: "--memory-limit".into(),
                value: units::format_bytes(m),
                message,
            })?;
            if m < min_memory {
                return Err(BackendError::Limit {
                    flag: "--memory-limit".into(),
                    value: units::format_bytes(m),
                    message: format!(
                        "the {backend} backend cannot honour a limit below {} ({why}); \
                         give at least {}",
                        units::format_bytes(min_memory),
                        units::format_bytes(min_memory)
                    ),
                });
            }
        }
        Ok(())
    }
}

/// One invocation's input. The function is fixed at prepare time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `cpu`: KiB of input; `alloc`: MiB to touch; `noop`: ignored.
    pub size: u32,
    /// Seeds the input so that answers cannot be cached across requests.
    pub seed: u32,
}

/// What a unit returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The function's result, checked by [`verify`].
    pub value: u32,
    /// Execution time as the guest (or the backend's side of an IPC channel) measured it, when
    /// it can: lets the harness separate execution from transport.
    pub guest_nanos: Option<u64>,
}

/// Checks a response against the catalogue's reference. `Ok(true)` when verified, `Ok(false)`
/// when the function is the user's own and there is nothing to compare with (`expect` unset).
pub fn verify(
    spec: &FunctionSpec,
    req: &Request,
    resp: &Response,
    expect: Option<u32>,
) -> Result<bool, BackendError> {
    let expected = match (spec.catalogue_function(), expect) {
        (_, Some(e)) => e,
        (Some(f), None) => f.expected(req.size, req.seed),
        (None, None) => return Ok(false),
    };
    if resp.value == expected {
        Ok(true)
    } else {
        Err(BackendError::WrongAnswer {
            function: spec.name.clone(),
            expected,
            got: resp.value,
        })
    }
}

/// A named phase of a cold start, e.g. `create`, `start`, `ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// Short name, stable across runs (used as a column name).
    pub name: String,
    /// Duration in nanoseconds.
    pub nanos: u64,
}

impl Phase {
    /// A phase from a measured duration.
    pub fn new(name: impl Into<String>, d: Duration) -> Self {
        Phase {
            name: name.into(),
            nanos: d.as_nanos() as u64,
        }
    }
}

/// Memory one unit holds, from the views the backend can give. Absent views are `None`, never 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitMemory {
    /// What the engine says the unit committed: Wasm linear memory, V8 heap total, cgroup usage.
    pub engine_bytes: Option<u64>,
    /// What the host says the unit's own processes hold (PSS or RSS), for out-of-process units.
    pub host_bytes: Option<u64>,
    /// Further named figures (e.g. `v8_used_heap`, `shim_pss`).
    pub details: BTreeMap<String, u64>,
}

/// Static description of a backend instance, recorded with every result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// Backend name as on the command line (`wasm`, `container`, ...).
    pub name: String,
    /// Versions of what the backend runs on (`wasmtime`, `docker_engine`, `v8`, ...).
    pub versions: BTreeMap<String, String>,
    /// Settings that change the figures (strategy, network mode, limits, image id, ...).
    pub settings: BTreeMap<String, String>,
    /// Units live inside the harness process, so the process RSS delta is the unit's memory.
    pub in_process: bool,
    /// Where the isolation boundary between two units lies (absent in results written before
    /// it was recorded).
    #[serde(default)]
    pub boundary: Option<Boundary>,
}

/// Where the isolation boundary between two units of a backend lies: what a unit has of its
/// own, from the heaviest to the lightest. The report orders its spectrum by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Boundary {
    /// A process of its own: address space, file table, scheduled by the host kernel.
    Process,
    /// A process inside kernel namespaces and cgroups (an OCI container: runc, crun).
    Namespaces,
    /// A process whose system calls go to a user-space kernel (gVisor's sentry).
    UserSpaceKernel,
    /// A V8 isolate (heap + context) inside an already-running runtime process.
    RuntimeIsolate,
    /// A WebAssembly instance (Store + linear memory) inside a shared engine.
    WasmInstance,
}

impl Boundary {
    /// A short phrase for tables: "kernel namespaces + cgroups", "runtime isolate", ...
    pub fn describe(self) -> &'static str {
        match self {
            Boundary::Process => "process (address space)",
            Boundary::Namespaces => "kernel namespaces + cgroups",
            Boundary::UserSpaceKernel => "user-space kernel",
            Boundary::RuntimeIsolate => "runtime isolate",
            Boundary::WasmInstance => "Wasm instance",
        }
    }
}

/// Whether a backend can run here, and if not, how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Availability {
    /// Ready; the string names what was found (a version, a socket).
    Available(String),
    /// Not usable here.
    Unavailable {
        /// What is missing.
        reason: String,
        /// The command or setting that fixes it.
        fix: String,
    },
}

/// An execution model: Docker containers, V8 isolates, Wasm instances, processes.
pub trait Backend: Send + Sync {
    /// Name as on the command line.
    fn name(&self) -> &'static str;

    /// Versions and settings, recorded with every result.
    fn info(&self) -> BackendInfo;

    /// Once per function: compile, build an image, start the shared runtime. Not a cold start.
    fn prepare(&self, spec: &FunctionSpec) -> Result<Box<dyn Prepared>, BackendError>;
}

/// A function ready to start units from.
pub trait Prepared: Send + Sync {
    /// The function this was prepared for.
    fn spec(&self) -> &FunctionSpec;

    /// Creates one unit: the first part of a cold start (the first [`Unit::invoke`] is the rest).
    fn start(&self) -> Result<Box<dyn Unit>, BackendError>;
}

/// One live unit. Used by one thread at a time; may move between threads.
pub trait Unit: Send {
    /// Runs the function once.
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError>;

    /// The phases `start` went through, with their durations. Empty if the backend has none
    /// finer than the whole start.
    fn start_phases(&self) -> Vec<Phase> {
        Vec::new()
    }

    /// What this unit holds in memory now.
    fn memory(&mut self) -> Result<UnitMemory, BackendError>;

    /// A stable id for logs and replay records (container id, isolate number, pid).
    fn id(&self) -> String;

    /// Frees the unit and reports failures to do so. Dropping a unit frees it too, silently.
    fn stop(self: Box<Self>) -> Result<(), BackendError>;
}

/// Errors from any backend. Each names the cause and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The backend cannot run on this machine.
    #[error("backend `{backend}` is unavailable: {reason}\n  fix: {fix}")]
    Unavailable {
        /// Backend name.
        backend: String,
        /// What is missing.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// The function name is not in the catalogue and is not a file.
    #[error("unknown function `{name}`; known: {known}")]
    UnknownFunction {
        /// What was asked for.
        name: String,
        /// The catalogue, comma-separated.
        known: String,
    },
    /// Preparing the function failed (compile, validation, image build).
    #[error("preparing `{function}` failed: {message}")]
    Prepare {
        /// Function name.
        function: String,
        /// What went wrong, with the tool's own output where there is one.
        message: String,
    },
    /// A backend option (`--opt key=value`) is unknown, or its value is not accepted. Made by
    /// [`BackendError::unknown_option`] and [`BackendError::bad_option`].
    #[error("{message}")]
    BadOption {
        /// The backend.
        backend: String,
        /// The option's key.
        key: String,
        /// What is wrong and what is accepted (names the backend and the key).
        message: String,
    },
    /// Starting a unit failed.
    #[error("starting a unit failed: {message}")]
    Start {
        /// What went wrong.
        message: String,
    },
    /// The guest trapped or threw.
    #[error("the guest failed: {message}")]
    Guest {
        /// Trap or exception message.
        message: String,
    },
    /// The guest ran past its deadline and was stopped.
    #[error("the guest ran past its deadline of {deadline:?} and was stopped")]
    Deadline {
        /// The deadline that was exceeded.
        deadline: Duration,
    },
    /// The guest exceeded its memory limit.
    #[error("the guest exceeded its memory limit{}: {message}", limit.map(|l| format!(" of {l} bytes")).unwrap_or_default())]
    MemoryLimit {
        /// The limit in bytes, when known.
        limit: Option<u64>,
        /// What the engine said (OOM-killed, grow failed, heap limit).
        message: String,
    },
    /// The unit answered, but not with the right value: a broken backend must not look fast.
    #[error("wrong answer from `{function}`: expected {expected:#010x}, got {got:#010x}")]
    WrongAnswer {
        /// Function name.
        function: String,
        /// The reference value.
        expected: u32,
        /// What came back.
        got: u32,
    },
    /// The unit spoke the protocol wrongly, exited early or never answered.
    #[error("unit protocol error: {message}")]
    Protocol {
        /// What was seen.
        message: String,
    },
    /// A limit outside what the backend (or any backend) can honour: the flag, the value and
    /// the allowed range.
    #[error("{flag} {value}: {message}")]
    Limit {
        /// The flag or setting (`--memory-limit`, `--deadline`).
        flag: String,
        /// The value given.
        value: String,
        /// The allowed range and why.
        message: String,
    },
    /// An I/O error with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl BackendError {
    /// Wraps an I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BackendError::Io {
            context: context.into(),
            source,
        }
    }

    /// The catalogue's names, for [`BackendError::UnknownFunction`].
    pub fn unknown_function(name: &str) -> Self {
        BackendError::UnknownFunction {
            name: name.to_string(),
            known: Function::ALL.map(|f| f.name()).join(", "),
        }
    }

    /// An option key a backend does not know, listing the ones it does (`options` is the
    /// backend's `OPTIONS` table of key and help).
    pub fn unknown_option(backend: &str, key: &str, options: &[(&str, &str)]) -> Self {
        BackendError::BadOption {
            backend: backend.to_string(),
            key: key.to_string(),
            message: format!(
                "unknown option `{key}` for backend `{backend}`; known: {}",
                options
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// An option value a backend cannot use: `expected` says what it accepts.
    pub fn bad_option(backend: &str, key: &str, value: &str, expected: &str) -> Self {
        BackendError::BadOption {
            backend: backend.to_string(),
            key: key.to_string(),
            message: format!("{backend} option `{key}`: expected {expected}, got `{value}`"),
        }
    }

    /// True when this error concerns one unit only and the run can go on with the next unit.
    pub fn is_unit_fault(&self) -> bool {
        matches!(
            self,
            BackendError::Guest { .. }
                | BackendError::Deadline { .. }
                | BackendError::MemoryLimit { .. }
                | BackendError::Protocol { .. }
        )
    }
}

/// The resident set size of this process in bytes (from `/proc/self/statm`), for RSS deltas of
/// in-process backends. `None` where procfs is missing.
pub fn process_rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(resident * page.max(1) as u64)
}

/// Reads `Pss:` and `Rss:` from `/proc/<pid>/smaps_rollup`, in bytes.
pub fn pid_memory(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("Pss:")?, field("Rss:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_against_one_range_and_the_backends_floor() {
        let l = |memory_bytes, deadline| Limits {
            memory_bytes,
            deadline,
            cpus: None,
        };
        assert!(l(None, None).check("x", 6 << 20, "why").is_ok());
        assert!(l(Some(6 << 20), Some(Duration::from_millis(1)))
            .check("x", 6 << 20, "why")
            .is_ok());
        let e = l(Some(4 << 20), None)
            .check("container", 6 << 20, "Docker's minimum")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--memory-limit 4MiB")
                && e.contains("container backend")
                && e.contains("below 6MiB (Docker's minimum)"),
            "{e}"
        );
        let e = l(Some(1), None).check("x", 0, "").unwrap_err().to_string();
        assert!(e.contains("between 1MiB and 1TiB"), "{e}");
        let e = l(None, Some(Duration::ZERO))
            .check("x", 0, "")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--deadline") && e.contains("between 1ms and 1d"),
            "{e}"
        );
    }

    #[test]
    fn verify_catches_wrong_answers() {
        let spec = FunctionSpec::catalogue(Function::Cpu);
        let req = Request { size: 1, seed: 5 };
        let good = Response {
            value: catalogue::cpu(1, 5),
            guest_nanos: None,
        };
        assert!(verify(&spec, &req, &good, None).unwrap());
        let bad = Response {
            value: good.value ^ 1,
            guest_nanos: None,
        };
        let err = verify(&spec, &req, &bad, None).unwrap_err();
        assert!(err.to_string().contains("wrong answer from `cpu`"), "{err}");
    }

    #[test]
    fn user_functions_are_unverified_unless_expected() {
        let spec = FunctionSpec {
            name: "mine".into(),
            source: FunctionSource::File("x.wasm".into()),
            limits: Limits::default(),
        };
        let req = Request { size: 0, seed: 0 };
        let resp = Response {
            value: 9,
            guest_nanos: None,
        };
        assert!(!verify(&spec, &req, &resp, None).unwrap());
        assert!(verify(&spec, &req, &resp, Some(9)).unwrap());
        assert!(verify(&spec, &req, &resp, Some(8)).is_err());
    }

    #[test]
    fn rss_is_readable() {
        assert!(process_rss_bytes().unwrap() > 0);
    }
}
