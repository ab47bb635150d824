//! Real V8 isolates inside the unitlab process, through Debian's libnode and a small C++ shim.
//!
//! One unit is one V8 isolate with one context, created in this process, the way isolate-based
//! platforms (Cloudflare Workers and similar) run functions. The V8 is Debian's `libnode108`
//! (V8 10.2), reached through `shim/shim.cc`, a C ABI that build.rs compiles into a shared
//! library linked against libnode; this crate loads it with dlopen (build.rs explains why).
//! Without libnode the crate still builds, and [`availability`] says how to get it
//! (`scripts/setup-v8.sh`).
//!
//! # Lifecycle and phases
//! - `prepare`: initializes the V8 platform (once per process, with an idle anchor isolate
//!   unless `anchor=false`: see [`Config::anchor`]), reads the source, and runs a full start in
//!   a scratch isolate so that syntax errors and a missing handler surface here, with line
//!   numbers, and not in the first cold start. Unless `code_cache=false`, that scratch isolate
//!   also compiles the scripts eagerly and keeps V8's code cache of them, as a platform does
//!   once per deployed function; a second scratch start checks that V8 accepts the cache.
//! - `start` (phases `isolate`, `context`, `compile`): `Isolate::New` with its own ArrayBuffer
//!   allocator and heap limit; `Context::New`; compile (from the code cache: V8 deserializes
//!   the bytecode into the new isolate instead of parsing) and run the catalogue script (and
//!   the user script), then look up the handler function.
//! - `invoke`: `handler(size, seed)` in the unit's context.
//! - drop / `stop`: `Isolate::Dispose`.
//!
//! # Entry protocol for user JavaScript (`FunctionSource::File`)
//! The file is a classic script (not an ES module: no `import`/`export`), evaluated in a bare
//! V8 context: ECMAScript builtins only, no `console`, no timers, no host APIs. It must
//! define a global function
//! ```js
//! function handler(size, seed) { return 42; }
//! ```
//! `size` and `seed` are the request's two u32 values as JS numbers. The handler must return a
//! number synchronously (a Promise is rejected as "not a number"); it is converted with
//! ToUint32 (`v >>> 0`). A thrown exception is a guest error carrying its message, script
//! line and column and stack. Unless `catalogue_prelude=false`, the shared catalogue
//! (`guests/js/catalogue.js`: `noop`, `cpu`, `alloc`, `handle` and `__unitlab_*` names) is
//! loaded first, so user code can call it; a `let`/`const`/`class` of one of those names is
//! then a redeclaration error: rename it or turn the prelude off.
//!
//! # Limits
//! - `limits.memory_bytes` (else `heap_limit_mib`) caps the V8 heap through
//!   `ResourceConstraints::ConfigureDefaultsFromHeapSize` (V8 raises limits below its minimum,
//!   about 3.75 MiB here, to that minimum, so a limit below [`MIN_HEAP_LIMIT`] is refused at
//!   prepare rather than applied as another; `v8_heap_limit` in [`Unit::memory`] shows the
//!   applied value), and separately caps live
//!   ArrayBuffer backing stores (the shim's counting allocator). Reaching either stops the
//!   guest with [`BackendError::MemoryLimit`] and disposes the isolate (a near-heap-limit
//!   callback raises the limit a little and terminates execution, because V8 would otherwise
//!   abort the whole process). Later invokes on that unit fail; start a new unit.
//!   V8 checks the heap limit when it collects garbage, so one large allocation can take the
//!   heap well past the limit before the guest is stopped (the callback raises the limit from
//!   the heap's real size so that V8 does not abort).
//! - Known gap: a builtin that runs a long loop in C++ (e.g. `new Array(1e8).fill(0)`, which
//!   fills a dictionary-mode array) checks neither termination nor the deadline until it
//!   returns: with a 16 MiB limit that call runs for minutes and grows to about 1 GB first.
//! - `limits.deadline` (else `deadline_ms`) bounds each invoke (and the top-level script run in
//!   `start`): a process-wide watchdog thread calls `Isolate::TerminateExecution`, giving
//!   [`BackendError::Deadline`]; the unit stays usable.
//!
//! # Memory after dispose
//! A disposed isolate's memory mostly stays in glibc malloc's free lists, so the process RSS
//! does not fall (it is reused by the next isolates: 1,000 isolates created and disposed in a
//! row do not grow RSS). [`release_freed_memory`] (`malloc_trim(0)`) gives it back to the OS;
//! `trim_after_dispose=true` does that after every dispose, at a cost in dispose time.

#![warn(missing_docs)]

mod ffi;

pub use ffi::release_freed_memory;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use unitlab_backend::{
    Availability, Backend, BackendError, BackendInfo, FunctionSource, FunctionSpec, Phase,
    Prepared, Request, Response, Unit, UnitMemory,
};

/// The shared JavaScript catalogue (`guests/js/catalogue.js`), evaluated in every unit.
pub const CATALOGUE_JS: &str = include_str!("../../../guests/js/catalogue.js");

/// Name of the catalogue script in V8 messages and stack traces.
const CATALOGUE_NAME: &str = "unitlab:catalogue.js";

/// The global function a user file must define.
pub const USER_HANDLER: &str = "handler";

const BACKEND: &str = "v8";
const FIX: &str = "run scripts/setup-v8.sh (downloads Debian's libnode108 + libnode-dev into \
                   .deps/libnode), then rebuild; or set UNITLAB_LIBNODE_DIR=<root with \
                   usr/include/node and usr/lib/x86_64-linux-gnu> at build time";
/// The smallest memory limit accepted: V8 raises a heap limit below about 3.75 MiB to that
/// minimum, so a smaller limit would be applied as a different one.
pub const MIN_HEAP_LIMIT: u64 = 4 << 20;
const MIB: u64 = 1 << 20;
/// Bound on the top-level script run of the scratch isolate in `prepare` when no deadline is set.
const PREPARE_CHECK_DEADLINE: Duration = Duration::from_secs(30);

/// Whether V8 can run here: the shim loads, and V8's version.
pub fn availability() -> Availability {
    match ffi::api() {
        Ok(api) => {
            Availability::Available(format!("V8 {} (libnode; shim {})", api.version(), api.path))
        }
        Err(reason) => Availability::Unavailable {
            reason,
            fix: FIX.to_string(),
        },
    }
}

/// Settings of the `v8` backend.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Heap limit per isolate in MiB when the function's limits set none (`None`: V8's default).
    pub heap_limit_mib: Option<u64>,
    /// Deadline per invoke in ms when the function's limits set none (`None`: no deadline).
    pub deadline_ms: Option<u64>,
    /// Load the JS catalogue before a user script (default true).
    pub catalogue_prelude: Option<bool>,
    /// Call glibc's `malloc_trim(0)` after disposing each isolate (default false).
    pub trim_after_dispose: Option<bool>,
    /// V8 flags, set once per process before V8 starts (default [`DEFAULT_V8_FLAGS`]).
    pub v8_flags: Option<String>,
    /// Keep one idle anchor isolate alive for the process (default true): V8 shares the
    /// read-only heap among live isolates and rebuilds it when the last one is disposed, so
    /// with no other isolate alive every cold start would pay for deserializing it again
    /// (about 0.3 ms here). A running runtime always has live isolates; `false` measures the
    /// first isolate of an empty process instead.
    pub anchor: Option<bool>,
    /// Compile each unit's scripts from V8's code cache made at prepare (default true);
    /// `false` parses and compiles the source in every cold start.
    pub code_cache: Option<bool>,
}

/// V8 flags used unless `v8_flags` says otherwise. `--no-verify-snapshot-checksum`: V8 10.2
/// checksums its startup snapshot (adler32) in every `Isolate::New`, about 7% of the isolate's
/// creation time in a profile here; later V8 releases only do it in debug builds.
pub const DEFAULT_V8_FLAGS: &str = "--no-verify-snapshot-checksum";

impl Config {
    fn flags(&self) -> &str {
        self.v8_flags.as_deref().unwrap_or(DEFAULT_V8_FLAGS).trim()
    }

    fn anchor(&self) -> bool {
        self.anchor.unwrap_or(true)
    }
}

impl Config {
    /// The keys [`Config::set`] accepts, with their help text.
    pub const OPTIONS: &[(&str, &str)] = &[
        (
            "heap_limit_mib",
            "V8 heap limit per isolate in MiB (also caps live ArrayBuffers) when the function \
             sets no memory limit; default: V8's own",
        ),
        (
            "deadline_ms",
            "deadline per invoke in ms when the function sets none; default: none",
        ),
        (
            "catalogue_prelude",
            "true|false: evaluate the JS catalogue before a user script (default true)",
        ),
        (
            "v8_flags",
            "V8 command-line flags, process-wide, fixed by the first prepare (default \
             `--no-verify-snapshot-checksum`; empty for V8's own defaults)",
        ),
        (
            "anchor",
            "true|false: keep one idle isolate alive for the process so that V8's shared \
             read-only heap is not rebuilt for each unit, as in a running runtime; process-wide, \
             fixed by the first prepare (default true)",
        ),
        (
            "code_cache",
            "true|false: compile each unit's scripts from V8's code cache made once at prepare \
             (default true); false parses and compiles the source in every cold start",
        ),
        (
            "trim_after_dispose",
            "true|false: return freed memory to the OS (glibc malloc_trim) after disposing \
             each isolate; costs time at dispose (default false)",
        ),
    ];

    /// Sets one option by name (see [`Config::OPTIONS`]).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), BackendError> {
        let bad = |what: &str| BackendError::bad_option("v8", key, value, what);
        let boolean = |v: &str| match v.trim() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(bad("true or false")),
        };
        let positive = |v: &str| match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad("a whole number > 0")),
        };
        match key {
            "heap_limit_mib" => self.heap_limit_mib = Some(positive(value)?),
            "deadline_ms" => self.deadline_ms = Some(positive(value)?),
            "catalogue_prelude" => self.catalogue_prelude = Some(boolean(value)?),
            "trim_after_dispose" => self.trim_after_dispose = Some(boolean(value)?),
            "v8_flags" => self.v8_flags = Some(value.trim().to_string()),
            "anchor" => self.anchor = Some(boolean(value)?),
            "code_cache" => self.code_cache = Some(boolean(value)?),
            _ => return Err(BackendError::unknown_option("v8", key, Self::OPTIONS)),
        }
        Ok(())
    }
}

/// The `v8` backend: one V8 isolate per unit, inside this process.
pub struct V8Backend {
    config: Config,
    api: &'static ffi::Api,
}

impl V8Backend {
    /// Loads the shim; fails with [`BackendError::Unavailable`] (and the fix) without libnode.
    pub fn new(config: Config) -> Result<Self, BackendError> {
        let api = ffi::api().map_err(|reason| BackendError::Unavailable {
            backend: BACKEND.into(),
            reason,
            fix: FIX.into(),
        })?;
        Ok(V8Backend { config, api })
    }
}

impl Backend for V8Backend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn info(&self) -> BackendInfo {
        let mut versions = BTreeMap::new();
        versions.insert("v8".to_string(), self.api.version());
        if let Some(dir) = ffi::libnode_dir() {
            versions.insert("libnode_dir".to_string(), dir.to_string());
        }
        let mut settings = BTreeMap::new();
        let opt = |v: Option<u64>| v.map_or("default".to_string(), |n| n.to_string());
        settings.insert("heap_limit_mib".into(), opt(self.config.heap_limit_mib));
        settings.insert("deadline_ms".into(), opt(self.config.deadline_ms));
        settings.insert(
            "catalogue_prelude".into(),
            self.config.catalogue_prelude.unwrap_or(true).to_string(),
        );
        settings.insert(
            "trim_after_dispose".into(),
            self.config.trim_after_dispose.unwrap_or(false).to_string(),
        );
        settings.insert("v8_flags".into(), self.config.flags().to_string());
        settings.insert("anchor".into(), self.config.anchor().to_string());
        settings.insert(
            "code_cache".into(),
            self.config.code_cache.unwrap_or(true).to_string(),
        );
        settings.insert("unit".into(), "isolate+context per unit".into());
        BackendInfo {
            name: BACKEND.into(),
            versions,
            settings,
            in_process: true,
            boundary: Some(unitlab_backend::Boundary::RuntimeIsolate),
        }
    }

    fn prepare(&self, spec: &FunctionSpec) -> Result<Box<dyn Prepared>, BackendError> {
        spec.limits.check(
            "v8",
            MIN_HEAP_LIMIT,
            "V8 raises a smaller heap limit to its own minimum, about 3.75 MiB",
        )?;
        let prep_err = |message: String| BackendError::Prepare {
            function: spec.name.clone(),
            message,
        };
        let (flags, anchor) = (self.config.flags(), self.config.anchor());
        let (applied, anchored) = self.api.init(flags, anchor);
        if applied != flags || anchored != anchor {
            return Err(prep_err(format!(
                "V8 was already started in this process with flags `{applied}` and \
                 anchor={anchored}, which cannot change once it runs; use the same v8_flags \
                 (now `{flags}`) and anchor (now {anchor}) for every v8 backend in one process"
            )));
        }
        let (user, handler) = match &spec.source {
            FunctionSource::Catalogue(f) => (None, f.name().to_string()),
            FunctionSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    BackendError::io(format!("reading the JS function {}", path.display()), e)
                })?;
                (
                    Some((text, path.display().to_string())),
                    USER_HANDLER.to_string(),
                )
            }
            other => {
                return Err(prep_err(format!(
                    "the v8 backend runs JavaScript (a catalogue function or a .js file \
                     defining `function handler(size, seed)`), not {other:?}"
                )))
            }
        };
        let heap_limit = spec
            .limits
            .memory_bytes
            .or(self.config.heap_limit_mib.map(|m| m * MIB));
        let deadline = spec
            .limits
            .deadline
            .or(self.config.deadline_ms.map(Duration::from_millis));
        let mut prepared = V8Prepared {
            spec: spec.clone(),
            api: self.api,
            user,
            prelude_cache: None,
            user_cache: None,
            prelude: user_prelude(&spec.source, &self.config),
            trim: self.config.trim_after_dispose.unwrap_or(false),
            handler,
            heap_limit,
            deadline,
        };
        // A full start in a scratch isolate: compile errors, top-level throws and a missing
        // handler are reported now, with line numbers, instead of in the first cold start.
        // Without a deadline the check still gets PREPARE_CHECK_DEADLINE, so that a script
        // whose top level never ends fails prepare instead of hanging it.
        let check_deadline = Some(deadline.unwrap_or(PREPARE_CHECK_DEADLINE));
        let mut scratch = prepared
            .build(check_deadline)
            .map_err(|e| prep_err(format!("checking the script in a scratch isolate: {e}")))?;
        if self.config.code_cache.unwrap_or(true) {
            let cache_err =
                |e: ffi::ShimError| prep_err(format!("making V8's code cache: {}", e.message));
            if prepared.prelude {
                let cache = scratch.raw.code_cache(CATALOGUE_JS, CATALOGUE_NAME);
                prepared.prelude_cache = Some(cache.map_err(cache_err)?);
            }
            if let Some((src, name)) = &prepared.user {
                prepared.user_cache = Some(scratch.raw.code_cache(src, name).map_err(cache_err)?);
            }
            drop(scratch);
            let check = prepared
                .build(check_deadline)
                .map_err(|e| prep_err(format!("starting from V8's code cache: {e}")))?;
            if check.cache_rejected {
                return Err(prep_err(
                    "V8 rejected the code cache it made a moment ago (a V8 flag or version \
                     mismatch?); set code_cache=false to compile from source"
                        .into(),
                ));
            }
        }
        Ok(Box::new(prepared))
    }
}

fn user_prelude(source: &FunctionSource, config: &Config) -> bool {
    match source {
        FunctionSource::Catalogue(_) => true,
        _ => config.catalogue_prelude.unwrap_or(true),
    }
}

/// A function ready to start isolates from.
struct V8Prepared {
    spec: FunctionSpec,
    api: &'static ffi::Api,
    /// User script and its name, for `FunctionSource::File`.
    user: Option<(String, String)>,
    /// V8's code cache of the catalogue and of the user script (`code_cache=true`).
    prelude_cache: Option<Vec<u8>>,
    user_cache: Option<Vec<u8>>,
    prelude: bool,
    trim: bool,
    handler: String,
    heap_limit: Option<u64>,
    deadline: Option<Duration>,
}

fn deadline_ns(d: Option<Duration>) -> u64 {
    // 0 means "no deadline" to the shim; a zero Duration is kept as 1 ns, i.e. "already due".
    d.map_or(0, |d| (d.as_nanos() as u64).max(1))
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Maps a shim failure to the backend error; `other` builds the error for shim misuse and
/// state failures (a start failure in `start`, a protocol error in `invoke`).
fn shim_error(
    e: ffi::ShimError,
    deadline: Option<Duration>,
    heap_limit: Option<u64>,
    other: fn(String) -> BackendError,
) -> BackendError {
    match e.code {
        ffi::UL_ERR_GUEST => BackendError::Guest { message: e.message },
        ffi::UL_ERR_DEADLINE => BackendError::Deadline {
            deadline: deadline.unwrap_or_default(),
        },
        ffi::UL_ERR_MEMORY => BackendError::MemoryLimit {
            limit: heap_limit,
            message: e.message,
        },
        _ => other(e.message),
    }
}

impl V8Prepared {
    /// Creates a unit; `script_deadline` bounds the top-level script runs.
    fn build(&self, script_deadline: Option<Duration>) -> Result<V8Unit, BackendError> {
        let dl = deadline_ns(script_deadline);
        let err = |e: ffi::ShimError| {
            shim_error(e, script_deadline, self.heap_limit, |message| {
                BackendError::Start { message }
            })
        };
        let t0 = Instant::now();
        let mut raw = ffi::ShimUnit::new(self.api, self.heap_limit.unwrap_or(0));
        raw.trim_on_drop = self.trim;
        let t1 = Instant::now();
        raw.context().map_err(err)?;
        let t2 = Instant::now();
        let mut cache_rejected = false;
        if self.prelude {
            cache_rejected |= raw
                .run_script(
                    CATALOGUE_JS,
                    CATALOGUE_NAME,
                    self.prelude_cache.as_deref(),
                    dl,
                )
                .map_err(err)?;
        }
        if let Some((src, name)) = &self.user {
            cache_rejected |= raw
                .run_script(src, name, self.user_cache.as_deref(), dl)
                .map_err(err)?;
        }
        raw.set_handler(&self.handler).map_err(err)?;
        let t3 = Instant::now();
        Ok(V8Unit {
            raw,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            phases: vec![
                Phase::new("isolate", t1 - t0),
                Phase::new("context", t2 - t1),
                Phase::new("compile", t3 - t2),
            ],
            deadline: self.deadline,
            heap_limit: self.heap_limit,
            cache_rejected,
        })
    }
}

impl Prepared for V8Prepared {
    fn spec(&self) -> &FunctionSpec {
        &self.spec
    }

    fn start(&self) -> Result<Box<dyn Unit>, BackendError> {
        Ok(Box::new(self.build(self.deadline)?))
    }
}

/// One V8 isolate with its context and handler.
struct V8Unit {
    raw: ffi::ShimUnit,
    id: u64,
    phases: Vec<Phase>,
    deadline: Option<Duration>,
    heap_limit: Option<u64>,
    /// V8 rejected a code cache in this start and compiled from source.
    cache_rejected: bool,
}

impl Unit for V8Unit {
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError> {
        match self
            .raw
            .invoke(req.size, req.seed, deadline_ns(self.deadline))
        {
            Ok((value, ns)) => Ok(Response {
                value,
                guest_nanos: Some(ns),
            }),
            Err(e) => Err(shim_error(e, self.deadline, self.heap_limit, |message| {
                BackendError::Protocol { message }
            })),
        }
    }

    fn start_phases(&self) -> Vec<Phase> {
        self.phases.clone()
    }

    fn memory(&mut self) -> Result<UnitMemory, BackendError> {
        let Some(s) = self.raw.heap_stats() else {
            // The isolate was disposed after a memory-limit error: nothing to measure.
            return Ok(UnitMemory::default());
        };
        let details = BTreeMap::from([
            ("v8_used_heap".to_string(), s.used_heap),
            ("v8_total_heap".to_string(), s.total_heap),
            ("v8_physical".to_string(), s.physical),
            ("v8_external".to_string(), s.external),
            ("v8_malloced".to_string(), s.malloced),
            ("v8_heap_limit".to_string(), s.heap_limit),
            ("v8_array_buffers".to_string(), s.array_buffers),
        ]);
        Ok(UnitMemory {
            engine_bytes: Some(s.total_heap),
            host_bytes: None,
            details,
        })
    }

    fn id(&self) -> String {
        format!("v8-isolate-{}", self.id)
    }

    fn stop(self: Box<Self>) -> Result<(), BackendError> {
        drop(self);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys() {
        let mut c = Config::default();
        c.set("heap_limit_mib", "64").unwrap();
        c.set("deadline_ms", "250").unwrap();
        c.set("catalogue_prelude", "false").unwrap();
        assert_eq!(c.heap_limit_mib, Some(64));
        assert_eq!(c.deadline_ms, Some(250));
        assert_eq!(c.catalogue_prelude, Some(false));
        assert!(c.set("heap_limit_mib", "0").is_err());
        assert!(c.set("deadline_ms", "soon").is_err());
        let err = c.set("nope", "1").unwrap_err().to_string();
        assert!(err.contains("heap_limit_mib"), "{err}");
        for (k, _) in Config::OPTIONS {
            assert!(Config::default().set(k, "1").is_ok(), "{k}");
        }
    }

    #[test]
    fn catalogue_is_embedded() {
        for name in [
            "function handle(",
            "function noop(",
            "function cpu(",
            "function alloc(",
        ] {
            assert!(CATALOGUE_JS.contains(name), "{name}");
        }
    }

    #[test]
    fn availability_names_a_fix() {
        match availability() {
            Availability::Available(v) => assert!(v.contains("V8"), "{v}"),
            Availability::Unavailable { reason, fix } => {
                assert!(!reason.is_empty());
                assert!(fix.contains("setup-v8.sh"));
            }
        }
    }
}
