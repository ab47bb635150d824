//! Real V8 through Deno: a long-lived Deno host process; one unit is one Web Worker (its own
//! V8 isolate and Deno runtime, on its own thread).
//!
//! The `deno` crate family (`deno_core`, `v8`) cannot be built here (their build scripts
//! download prebuilt V8 from GitHub), so this backend drives the `deno` binary instead: the
//! same engine Deno Deploy-style platforms use, at the cost of an IPC hop that is measured and
//! reported apart.
//!
//! # Architecture
//! - `prepare` starts one host process, `deno run js/host.js` (the script is embedded with
//!   `include_str!` and written to a temporary directory), registers the function's worker
//!   code with it (`define`), and starts and stops one trial worker so that syntax errors and a
//!   missing handler surface here, with file, line and column, rather than in a cold start.
//!   Each prepared function has its own host (so a crash in one does not take the others down,
//!   and its heap limit can differ).
//! - `start` asks the host for a `new Worker(blobUrl, {type: "module"})` and waits for the
//!   worker's first message. Phases: `worker_create` (host-measured, `new Worker` to the
//!   worker's "ready" message), `host` (the rest of the host's handling), `ipc` (harness round
//!   trip minus the host's handling: pipe, JSON, scheduling), and `host_boot` when this start
//!   had to (re)start a crashed host first.
//! - `invoke` posts `{size, seed}` to the worker; [`Response::guest_nanos`] is the handler call
//!   as the worker timed it. The rest of the round trip is IPC plus the host's relay.
//! - `stop`: `worker.terminate()`, then wait until the worker's thread has exited (procfs,
//!   `/proc/<host>/task/*/comm`, the thread name `worker-<k>` that the `start` reply names),
//!   at most [`REAP_WAIT`]. Deno drops the isolate on that thread after `terminate()` returns
//!   (~3 ms here); without the wait that teardown ran during the next unit's cold start, as
//!   the harness starts the next unit right after stopping one. Other backends' stops also
//!   finish their teardown (container removed, process reaped, isolate disposed). Drop sends
//!   the stop without waiting.
//!
//! # Pipe protocol
//! JSON lines over the host's stdin/stdout, documented at the top of `js/host.js`: requests
//! `define`, `start`, `invoke`, `memory`, `stop`, `stats`, each with an `id` that its reply
//! echoes; replies carry the host's own `host_ns` (request parsed to reply written) so that the
//! IPC cost can be split off. One mutex-guarded writer and one reader thread that routes replies
//! by id to the waiting caller make units usable from any thread ([`host`] module).
//!
//! # Entry protocol for user JavaScript (`FunctionSource::File`)
//! The file is loaded as an ES module in a worker (so `import` works; the host runs with
//! `--allow-read` and no other permissions). The handler is, in this order: the default export
//! if it is a function, else an exported function named `handler`, else a global `handler`
//! (`globalThis.handler = ...`):
//! ```js
//! export default function handler(size, seed) { return 42; }
//! ```
//! `size` and `seed` are the request's u32 values as numbers. The handler returns a finite
//! number, or a Promise of one (it is awaited); the value is converted with `>>> 0`. A thrown
//! exception or rejection is [`BackendError::Guest`] with its stack. Deno APIs are available
//! as in any worker. `console` output goes to the host's stderr (stdout is the protocol pipe);
//! the backend keeps only its last 8 KiB, to explain a crash. Catalogue functions run `guests/js/catalogue.js` (shared with the `v8`
//! backend) as a classic script through indirect eval, so its functions are worker globals.
//!
//! # Limits and failures
//! - Deadline (`limits.deadline`, else `deadline_ms`, else 30 s): a host-side timer terminates
//!   the worker when an invoke runs past it ([`BackendError::Deadline`]); that unit is dead
//!   afterwards (later invokes fail), the next unit works. A worker that does not load within
//!   max(deadline, 10 s) fails its start.
//! - `terminate()` does not stop a worker stuck in synchronous JavaScript (`for (;;) {}`):
//!   checked with deno 2.9.8, its thread keeps a core busy for as long as the process lives.
//!   So after a deadline the backend waits up to [`REAP_WAIT`] for the thread to exit; if it
//!   does not, the host is *retired*: units already running on it keep working, the next
//!   `start` boots a new host (phase `host_boot`), and the old process is killed once its
//!   last unit is gone. Without this the spinning thread would slow every later cold start.
//! - Heap (`limits.memory_bytes`, else `heap_limit_mib`, else V8's default): Deno has no
//!   per-worker resource limits (no equivalent of Node's `resourceLimits`). The only knob is
//!   `--v8-flags=--max-old-space-size=N` on the host process, which V8 applies to *every*
//!   isolate in it: the host's main isolate and each worker, each capped at N MiB on its own.
//!   When a worker reaches it, V8 aborts the **whole host process** ("Fatal JavaScript out of
//!   memory: Reached heap limit", SIGTRAP): every live unit of that function dies with it. The
//!   backend sees EOF on the pipe, reports [`BackendError::MemoryLimit`] to the invoke that was
//!   running (and a protocol error naming the crash to the others), and the next `start`
//!   boots a new host (phase `host_boot`). A limit below [`MIN_MEMORY_LIMIT`] is refused
//!   at prepare.
//! - Memory outside the heap: typed-array backing stores (`alloc`) live outside the V8 heap
//!   and are not capped by that flag. So under `limits.memory_bytes` every invoke also
//!   watches the host's resident memory (`/proc/<host>/statm`: read before, every
//!   [`host::WATCH_POLL`] while the reply is outstanding, and after): an invoke that grows it
//!   past the limit gets its host killed while running (a worker busy in JavaScript cannot be
//!   stopped otherwise, and V8's heap limit does the same), or its worker stopped when found
//!   at the end; either is [`BackendError::MemoryLimit`], as on the `v8` backend. The cost:
//!   two procfs reads (a few microseconds) inside every invoke's timing, only when a limit is
//!   set. What it cannot see: memory an invoke keeps and later invokes add to in steps each
//!   below the limit (V8's heap limit still caps the JS heap), and, with units invoked
//!   concurrently (replay), other units' growth during the same invoke counts too.
//! - Any other host exit (killed, crashed) is reported the same way and recovered from.
//!
//! # Cold start and its floor
//! A cold start is the host's `new Worker` to the worker's "ready", plus the first call. Both
//! halves are Deno's own work, not this backend's: `js/floor.js` times a Worker of a
//! near-empty module in a loop with nothing of unitlab around it, and its p50 matched the
//! backend's cold start p50 when run alternately with `unitlab measure` (2 vCPU VM, load ~2.4:
//! per-run p50 of the floor 14.2-24.8 ms, of the backend 13.5-22.3 ms; over five
//! alternating rounds, the median of the runs' p50s was 15.0 ms for both).
//! Measured with deno 2.9.8:
//! - `new Worker` blocks the calling thread while the worker's thread builds its runtime: an
//!   OS thread and a tokio runtime, a V8 isolate (heap and code-range reservations, the
//!   embedded builtins remapped next to it), Deno's startup snapshot deserialised (isolate
//!   ~660 KB in ~1.7-2.3 ms, context ~410 KB in ~2-3 ms, `--v8-flags=--profile-deserialization`),
//!   Deno's ~25 extensions and their ops set up, then its worker bootstrap JavaScript, which is
//!   compiled lazily in every new isolate (V8 `--prof`: setting `location` from the module URL
//!   is the largest part of it). About 60-66 M instructions per worker (callgrind); 15 ms of
//!   CPU (12.6 user + 2.3 sys, ~510 page faults) at that load.
//! - The worker's own module (wrapper + catalogue) adds <1% of those instructions.
//! - The first message into a fresh worker takes ~1.1-1.7 ms even 10 ms after "ready", later
//!   ones ~0.2 ms round trip: Deno's message receiving code is compiled on first use.
//! - No V8 or deno flag tried changed the instruction count beyond noise (±5%): `--jitless`,
//!   `--max-lazy`, `--single-threaded-gc`, `--no-code-cache`, `--cached-only`, worker
//!   `deno: {permissions: "none"}`. Blob, `data:` and file URLs for the module, glibc malloc
//!   arenas and huge pages made no difference either (wall clock and CPU time).
//!
//! On an idle machine a bare Worker took ~8 ms; on the same VM later
//! (2026-11-27 16:52 UTC, nothing else running) `floor.js` gave 10.8 ms p50 to "ready" and
//! 12.1 ms with the first round trip, and successive `unitlab measure` runs 12.8-19.7 ms p50.
//! A <= 10 ms cold start is within reach only on an idle, fast machine; under load the floor
//! scales with the CPU this work gets.
//!
//! # Memory
//! [`Unit::memory`]: `engine_bytes` is the worker isolate's own `heapTotal` from
//! `Deno.memoryUsage()` inside the worker (per isolate; checked: it differs from the host's);
//! `host_bytes` is the host's PSS growth since it started with zero workers, divided by the
//! live workers: an even share, not a per-worker measurement (workers are threads of one
//! process, procfs cannot tell them apart). `details` carry the raw figures: `v8_used_heap`,
//! `v8_total_heap`, `v8_external`, `host_pss`, `host_rss`, `host_baseline_pss`,
//! `host_live_workers`.

#![warn(missing_docs)]

pub mod binary;
pub mod host;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use unitlab_backend::{
    Availability, Backend, BackendError, BackendInfo, FunctionSource, FunctionSpec, Phase,
    Prepared, Request, Response, Unit, UnitMemory,
};

pub use binary::DenoBinary;
use host::{Host, HostError};

/// The shared JavaScript catalogue (`guests/js/catalogue.js`), run in every catalogue worker.
pub const CATALOGUE_JS: &str = include_str!("../../../guests/js/catalogue.js");

const BACKEND: &str = "deno";
/// The smallest memory limit accepted: it is also V8's heap limit (`--max-old-space-size`),
/// which V8 raises to its minimum of about 3.75 MiB; under 4 MiB the host's own isolate does
/// not boot.
pub const MIN_MEMORY_LIMIT: u64 = 4 << 20;

/// Deadline when neither the function's limits nor `deadline_ms` set one.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// The shortest time a worker gets to load before its start fails.
const MIN_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Extra time the harness side waits beyond the host's own timers before it gives up on the
/// host (and kills it).
const GRACE: Duration = Duration::from_secs(10);
/// How long a (re)started host gets to print its ready line.
const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stop (or a deadline) waits for the worker's thread to exit; a thread that is
/// still there afterwards is stuck in JavaScript and retires its host.
pub const REAP_WAIT: Duration = Duration::from_millis(250);
const MIB: u64 = 1 << 20;

/// Whether Deno can run here: the binary found (see [`binary`] for the search order) and its
/// version (major >= 2).
pub fn availability() -> Availability {
    availability_with(&Config::default())
}

/// [`availability`] for a given configuration (its `deno` key).
pub fn availability_with(config: &Config) -> Availability {
    match binary::find(config.deno.as_deref()) {
        Ok(b) => Availability::Available(format!(
            "deno {} (V8 {}) at {} (from {})",
            b.versions.get("deno").map(String::as_str).unwrap_or("?"),
            b.versions.get("v8").map(String::as_str).unwrap_or("?"),
            b.path.display(),
            b.origin
        )),
        Err(reason) => Availability::Unavailable {
            reason,
            fix: binary::FIX.into(),
        },
    }
}

/// Settings of the `deno` backend.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The `deno` binary; unset: `UNITLAB_DENO`, `.deps/deno`, `PATH`.
    pub deno: Option<PathBuf>,
    /// Default per-invoke deadline in milliseconds, when the function's limits set none.
    pub deadline_ms: Option<u64>,
    /// Default V8 heap limit per isolate in MiB (`--max-old-space-size`), when the function's
    /// limits set none.
    pub heap_limit_mib: Option<u64>,
}

impl Config {
    /// The keys [`Config::set`] accepts, with help.
    pub const OPTIONS: &[(&str, &str)] = &[
        (
            "deno",
            "path to the deno binary (default: $UNITLAB_DENO, .deps/deno/bin/deno, PATH)",
        ),
        (
            "deadline_ms",
            "per-invoke deadline in ms when the function sets none (default 30000); the \
             worker is terminated when it passes",
        ),
        (
            "heap_limit_mib",
            "V8 heap limit per isolate in MiB when the function sets none (default: V8's); \
             applied with --v8-flags=--max-old-space-size to the whole host process, and \
             reaching it crashes the host (all its workers)",
        ),
    ];

    /// Sets one key from the command line.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), BackendError> {
        let bad = |expected: &str| BackendError::bad_option("deno", key, value, expected);
        let positive = |v: &str| -> Result<u64, BackendError> {
            match v.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(bad("a positive integer")),
            }
        };
        match key {
            "deno" => self.deno = Some(PathBuf::from(value)),
            "deadline_ms" => self.deadline_ms = Some(positive(value)?),
            "heap_limit_mib" => self.heap_limit_mib = Some(positive(value)?),
            _ => return Err(BackendError::unknown_option("deno", key, Self::OPTIONS)),
        }
        Ok(())
    }
}

/// V8 isolates as Deno workers in a long-lived `deno` process per prepared function.
pub struct DenoBackend {
    config: Config,
    binary: DenoBinary,
}

impl DenoBackend {
    /// Finds and checks the `deno` binary; [`BackendError::Unavailable`] says how to get one.
    pub fn new(config: Config) -> Result<Self, BackendError> {
        let binary =
            binary::find(config.deno.as_deref()).map_err(|reason| BackendError::Unavailable {
                backend: BACKEND.into(),
                reason,
                fix: binary::FIX.into(),
            })?;
        Ok(DenoBackend { config, binary })
    }

    /// The binary in use.
    pub fn binary(&self) -> &DenoBinary {
        &self.binary
    }
}

impl Backend for DenoBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn info(&self) -> BackendInfo {
        let mut settings = BTreeMap::new();
        settings.insert("deno_path".into(), self.binary.path.display().to_string());
        settings.insert("deno_origin".into(), self.binary.origin.to_string());
        settings.insert(
            "deadline_ms".into(),
            self.config
                .deadline_ms
                .unwrap_or(DEFAULT_DEADLINE.as_millis() as u64)
                .to_string(),
        );
        settings.insert(
            "heap_limit_mib".into(),
            self.config
                .heap_limit_mib
                .map(|m| m.to_string())
                .unwrap_or_else(|| "v8-default".into()),
        );
        settings.insert(
            "unit".into(),
            "Web Worker (module) in one deno host process per prepared function".into(),
        );
        BackendInfo {
            name: BACKEND.into(),
            versions: self.binary.versions.clone(),
            settings,
            in_process: false,
            boundary: Some(unitlab_backend::Boundary::RuntimeIsolate),
        }
    }

    fn prepare(&self, spec: &FunctionSpec) -> Result<Box<dyn Prepared>, BackendError> {
        spec.limits.check(
            "deno",
            MIN_MEMORY_LIMIT,
            "the limit is also V8's heap limit, whose minimum is about 3.75 MiB, for the \
             host's own isolate as well",
        )?;
        let prepare_err = |message: String| BackendError::Prepare {
            function: spec.name.clone(),
            message,
        };
        let (define, allow_read) = match &spec.source {
            FunctionSource::Catalogue(f) => (
                json!({"op": "define", "kind": "script", "code": CATALOGUE_JS, "entry": f.name()}),
                false,
            ),
            FunctionSource::File(path) => {
                let abs = std::fs::canonicalize(path).map_err(|e| {
                    prepare_err(format!("cannot read the JS module {}: {e}", path.display()))
                })?;
                (
                    json!({"op": "define", "kind": "module", "url": file_url(&abs)}),
                    true,
                )
            }
            other => {
                return Err(prepare_err(format!(
                    "the deno backend runs JavaScript (a catalogue function or a JS module \
                     file), not {other:?}"
                )))
            }
        };
        let heap_limit_mib = spec
            .limits
            .memory_bytes
            .map(|b| b.div_ceil(MIB).max(1))
            .or(self.config.heap_limit_mib);
        let deadline = spec
            .limits
            .deadline
            .or(self.config.deadline_ms.map(Duration::from_millis))
            .unwrap_or(DEFAULT_DEADLINE);
        let prepared = DenoPrepared {
            spec: spec.clone(),
            deno: self.binary.path.clone(),
            define,
            allow_read,
            heap_limit_mib,
            deadline,
            slot: Mutex::new(None),
            generation: AtomicU64::new(0),
        };
        // Boot the host and load one trial worker: errors in the code show up here.
        let (ctx, _) = prepared
            .host()
            .map_err(|e| prepare_err(prepared.boot_error(&e)))?;
        let unit = prepared.start_on(&ctx, None).map_err(|e| match e {
            BackendError::Start { message } => prepare_err(message),
            other => other,
        })?;
        unit.stop()?;
        Ok(Box::new(prepared))
    }
}

/// `file://` URL of an absolute path, percent-encoding what URLs do not allow.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(*b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

/// One host process with the function's code registered in it.
struct HostCtx {
    host: Host,
    def: u64,
    generation: u64,
    /// Set when a terminated worker's thread would not exit: new units go to a new host.
    retired: AtomicBool,
}

struct DenoPrepared {
    spec: FunctionSpec,
    deno: PathBuf,
    define: Value,
    allow_read: bool,
    heap_limit_mib: Option<u64>,
    deadline: Duration,
    slot: Mutex<Option<Arc<HostCtx>>>,
    generation: AtomicU64,
}

impl DenoPrepared {
    fn start_timeout(&self) -> Duration {
        self.deadline.max(MIN_START_TIMEOUT)
    }

    /// Describes a failure to boot the host, with the fix for a heap limit that is too small.
    fn boot_error(&self, e: &HostError) -> String {
        let mut text = format!(
            "starting the Deno host ({}): {}",
            self.deno.display(),
            e.describe()
        );
        if let (true, Some(mib)) = (e.is_oom(), self.heap_limit_mib) {
            text.push_str(&format!(
                "; the heap limit of {mib} MiB (--max-old-space-size, which also caps the host's \
                 own isolate) is too small for Deno's runtime: raise heap_limit_mib or the \
                 function's memory limit"
            ));
        }
        text
    }

    /// The live host, booting a new one if there is none or it died. Returns the boot time
    /// when a host was started by this call.
    fn host(&self) -> Result<(Arc<HostCtx>, Option<Duration>), HostError> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ctx) = slot.as_ref() {
            if !ctx.host.is_dead() && !ctx.retired.load(Ordering::Relaxed) {
                return Ok((Arc::clone(ctx), None));
            }
        }
        *slot = None;
        let t0 = Instant::now();
        let host = Host::spawn(
            &self.deno,
            self.heap_limit_mib,
            self.allow_read,
            BOOT_TIMEOUT,
        )?;
        let (reply, _) = host.request(self.define.clone(), BOOT_TIMEOUT)?;
        let def = reply
            .get("def")
            .and_then(Value::as_u64)
            .ok_or_else(|| HostError::Io(format!("define: no `def` in {reply}")))?;
        let ctx = Arc::new(HostCtx {
            host,
            def,
            generation: self.generation.fetch_add(1, Ordering::Relaxed),
            retired: AtomicBool::new(false),
        });
        *slot = Some(Arc::clone(&ctx));
        Ok((ctx, Some(t0.elapsed())))
    }

    fn start_on(
        &self,
        ctx: &Arc<HostCtx>,
        boot: Option<Duration>,
    ) -> Result<Box<dyn Unit>, BackendError> {
        let timeout = self.start_timeout();
        let (reply, rtt) = ctx
            .host
            .request(
                json!({"op": "start", "def": ctx.def, "timeout_ms": timeout.as_millis() as u64}),
                timeout + GRACE,
            )
            .map_err(|e| BackendError::Start {
                message: match e {
                    // The worker's own load error (syntax error with file:line:col, no handler).
                    HostError::Reply { message, .. } => message,
                    other => describe(ctx, &other),
                },
            })?;
        let unit =
            reply
                .get("unit")
                .and_then(Value::as_u64)
                .ok_or_else(|| BackendError::Protocol {
                    message: format!("start: no `unit` in {reply}"),
                })?;
        let host_ns = field(&reply, "host_ns");
        let create_ns = field(&reply, "create_ns");
        let thread = reply
            .get("thread")
            .and_then(Value::as_str)
            .map(String::from);
        let mut phases = Vec::new();
        if let Some(b) = boot {
            phases.push(Phase::new("host_boot", b));
        }
        phases.push(Phase {
            name: "ipc".into(),
            nanos: (rtt.as_nanos() as u64).saturating_sub(host_ns),
        });
        phases.push(Phase {
            name: "worker_create".into(),
            nanos: create_ns,
        });
        phases.push(Phase {
            name: "host".into(),
            nanos: host_ns.saturating_sub(create_ns),
        });
        Ok(Box::new(DenoUnit {
            ctx: Arc::clone(ctx),
            unit,
            deadline: self.deadline,
            heap_limit: self.heap_limit_mib.map(|m| m * MIB),
            memory_limit: self.spec.limits.memory_bytes,
            phases,
            thread,
            dead: false,
            reaped: false,
            stopped: false,
        }))
    }
}

impl Prepared for DenoPrepared {
    fn spec(&self) -> &FunctionSpec {
        &self.spec
    }

    fn start(&self) -> Result<Box<dyn Unit>, BackendError> {
        let (ctx, boot) = self.host().map_err(|e| BackendError::Start {
            message: self.boot_error(&e),
        })?;
        self.start_on(&ctx, boot)
    }
}

fn field(v: &Value, name: &str) -> u64 {
    v.get(name).and_then(Value::as_u64).unwrap_or(0)
}

/// Describes a host error met by a unit, adding the exit status of a dead host.
fn describe(ctx: &HostCtx, e: &HostError) -> String {
    let aftermath = "; every worker in it is gone, the next unit starts a new host";
    match ctx.host.with_status(e.clone()) {
        e @ HostError::Died { .. } => format!("{}{aftermath}", e.describe()),
        e @ HostError::Gone(_) => format!("{}{aftermath}", e.describe()),
        other => other.describe(),
    }
}

struct DenoUnit {
    ctx: Arc<HostCtx>,
    unit: u64,
    deadline: Duration,
    heap_limit: Option<u64>,
    /// The function's memory limit, also watched as the host's resident memory during each
    /// invoke ([`DenoUnit::watched_invoke`]).
    memory_limit: Option<u64>,
    phases: Vec<Phase>,
    /// The name of the worker's OS thread in the host (`worker-<k>`), from the start reply.
    thread: Option<String>,
    dead: bool,
    /// The worker was terminated and its thread waited for (see [`DenoUnit::reap`]).
    reaped: bool,
    stopped: bool,
}

impl DenoUnit {
    /// After a terminate: waits up to [`REAP_WAIT`] for the worker's thread to exit, and
    /// retires the host when it does not (a worker stuck in JavaScript keeps spinning).
    fn reap(&mut self) {
        if self.reaped {
            return;
        }
        self.reaped = true;
        if let Some(thread) = &self.thread {
            if !self.ctx.host.wait_thread_gone(thread, REAP_WAIT) {
                self.ctx.retired.store(true, Ordering::Relaxed);
            }
        }
    }

    fn fail(&mut self, e: HostError) -> BackendError {
        let message = describe(&self.ctx, &e);
        match e {
            HostError::Reply { kind, message } => match kind.as_str() {
                "guest" => BackendError::Guest { message },
                "deadline" => {
                    self.dead = true;
                    self.reap();
                    BackendError::Deadline {
                        deadline: self.deadline,
                    }
                }
                _ => BackendError::Protocol {
                    message: format!("{kind}: {message}"),
                },
            },
            e @ HostError::Died { .. } => {
                self.dead = true;
                if e.is_oom() {
                    BackendError::MemoryLimit {
                        limit: self.heap_limit,
                        message: format!(
                            "a worker reached the V8 heap limit ({}): {message}",
                            self.heap_limit
                                .map(|b| format!("--max-old-space-size={}", b / MIB))
                                .unwrap_or_else(|| "V8's default".into())
                        ),
                    }
                } else {
                    BackendError::Protocol { message }
                }
            }
            HostError::OverLimit(message) => {
                // Its worker was stopped, or its host killed.
                self.dead = true;
                self.stopped = true;
                BackendError::MemoryLimit {
                    limit: self.memory_limit,
                    message,
                }
            }
            HostError::Timeout(_) | HostError::Io(_) | HostError::Gone(_) => {
                self.dead = true;
                BackendError::Protocol { message }
            }
        }
    }
}

/// Why an invoke is over its memory limit, once it has grown the host's resident memory by
/// `grown` bytes.
fn over_limit(grown: i64, limit: u64) -> Option<String> {
    (grown > limit as i64).then(|| {
        format!(
            "this invoke grew the Deno host's resident memory by {} MiB, past the limit of {} \
             (the limit covers ArrayBuffers and all memory outside the V8 heap too, watched \
             from procfs every {:?}: Deno has no per-worker limit for them)",
            grown >> 20,
            unitlab_backend::units::format_bytes(limit),
            host::WATCH_POLL
        )
    })
}

impl DenoUnit {
    /// An invoke under a memory limit: the host's resident memory is read before, polled
    /// during and read after the invoke. An invoke growing it past the limit while running
    /// gets its host killed (a worker stuck in JavaScript cannot be stopped otherwise, and
    /// V8's own heap limit does the same); one found past it at the end has its worker
    /// stopped.
    fn watched_invoke(&mut self, body: Value, limit: u64) -> Result<(Value, Duration), HostError> {
        let pid = self.ctx.host.pid;
        let before = host::rss_bytes(pid);
        let grown = |now: Option<u64>| Some(now? as i64 - before? as i64);
        let mut watch = || over_limit(grown(host::rss_bytes(pid))?, limit);
        let reply = self.ctx.host.request_watched(
            body,
            self.deadline + GRACE,
            Some(&mut watch as &mut dyn FnMut() -> Option<String>),
        )?;
        if let Some(reason) = grown(host::rss_bytes(pid)).and_then(|g| over_limit(g, limit)) {
            let _ = self
                .ctx
                .host
                .request(json!({"op": "stop", "unit": self.unit}), GRACE);
            self.reap();
            self.stopped = true;
            return Err(HostError::OverLimit(reason));
        }
        Ok(reply)
    }
}

impl Unit for DenoUnit {
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError> {
        let body = json!({
            "op": "invoke",
            "unit": self.unit,
            "size": req.size,
            "seed": req.seed,
            "deadline_ms": self.deadline.as_millis() as u64,
        });
        let reply = match self.memory_limit {
            None => self.ctx.host.request(body, self.deadline + GRACE),
            Some(limit) => self.watched_invoke(body, limit),
        };
        match reply {
            Ok((reply, _)) => {
                let value = reply
                    .get("value")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| BackendError::Protocol {
                        message: format!("invoke: no u32 `value` in {reply}"),
                    })?;
                Ok(Response {
                    value,
                    guest_nanos: reply.get("guest_ns").and_then(Value::as_u64),
                })
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn start_phases(&self) -> Vec<Phase> {
        self.phases.clone()
    }

    fn memory(&mut self) -> Result<UnitMemory, BackendError> {
        let (reply, _) = self
            .ctx
            .host
            .request(json!({"op": "memory", "unit": self.unit}), GRACE)
            .map_err(|e| self.fail(e))?;
        let mut details = BTreeMap::new();
        let mut put = |name: &str, v: Option<u64>| {
            if let Some(v) = v {
                details.insert(name.to_string(), v);
            }
        };
        let get = |name: &str| reply.get(name).and_then(Value::as_u64);
        put("v8_used_heap", get("heap_used"));
        put("v8_total_heap", get("heap_total"));
        put("v8_external", get("external"));
        let live = get("live");
        put("host_live_workers", live);
        let procfs = unitlab_backend::pid_memory(self.ctx.host.pid);
        put("host_pss", procfs.map(|(pss, _)| pss));
        put("host_rss", procfs.map(|(_, rss)| rss));
        put("host_baseline_pss", self.ctx.host.baseline_pss);
        put("host_generation", Some(self.ctx.generation));
        let host_bytes = match (procfs, self.ctx.host.baseline_pss, live) {
            (Some((pss, _)), Some(base), Some(n)) if n > 0 => Some(pss.saturating_sub(base) / n),
            _ => None,
        };
        Ok(UnitMemory {
            engine_bytes: get("heap_total"),
            host_bytes,
            details,
        })
    }

    fn id(&self) -> String {
        format!("deno-{}-worker-{}", self.ctx.host.pid, self.unit)
    }

    fn stop(mut self: Box<Self>) -> Result<(), BackendError> {
        if std::mem::replace(&mut self.stopped, true) {
            return Ok(()); // stopped already, for going over its memory limit
        }
        if self.ctx.host.is_dead() {
            return Ok(()); // the worker died with its host
        }
        self.ctx
            .host
            .request(json!({"op": "stop", "unit": self.unit}), GRACE)
            .map_err(|e| BackendError::Protocol {
                message: format!("stopping worker {}: {}", self.unit, describe(&self.ctx, &e)),
            })?;
        self.reap();
        Ok(())
    }
}

impl Drop for DenoUnit {
    fn drop(&mut self) {
        if !self.stopped && !self.ctx.host.is_dead() {
            self.ctx
                .host
                .notify(json!({"op": "stop", "unit": self.unit}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys() {
        let mut c = Config::default();
        c.set("deadline_ms", "250").unwrap();
        c.set("heap_limit_mib", "64").unwrap();
        c.set("deno", "/x/deno").unwrap();
        assert_eq!(c.deadline_ms, Some(250));
        assert_eq!(c.heap_limit_mib, Some(64));
        assert_eq!(c.deno.as_deref(), Some(Path::new("/x/deno")));
        assert!(c.set("deadline_ms", "0").is_err());
        let err = c.set("nope", "1").unwrap_err().to_string();
        assert!(
            err.contains("known: deno, deadline_ms, heap_limit_mib"),
            "{err}"
        );
        for (k, _) in Config::OPTIONS {
            assert!(c.clone().set(k, "1").is_ok(), "{k}");
        }
    }

    #[test]
    fn file_urls_are_encoded() {
        assert_eq!(file_url(Path::new("/a b/c#d.js")), "file:///a%20b/c%23d.js");
    }
}
