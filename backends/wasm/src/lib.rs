//! WebAssembly instances on wasmtime: one shared `Engine`, a `Store` and instance per unit.
//!
//! # Lifecycle
//!
//! | phase | what happens |
//! |---|---|
//! | [`WasmBackend::new`] | one `Engine` with the chosen allocator (and, for pooling, its slots reserved) |
//! | `prepare` | compile the module, check its imports and exports, link it: an `InstancePre` |
//! | `start` | new `Store` + instantiate (phases `store`, `instantiate`) |
//! | first `invoke` | call the entry export; with `start` this is the cold start |
//! | `stop`/drop | drop the store; a pooling slot returns to the pool |
//!
//! Units live in the harness process: [`BackendInfo::in_process`] is true, and the harness's
//! RSS delta over N live units is their memory. [`Unit::memory`] reports the other view:
//! `engine_bytes` is the committed size of the instance's exported memory, and the detail
//! `linear_memory_resident` how much of it is resident (from `/proc/self/pagemap`).
//!
//! # The core module ABI
//!
//! A core module unit calls one exported function per invocation:
//!
//! ```text
//! (func (export "run") (param $size i32) (param $seed i32) (result i32))
//! ```
//!
//! `size` and `seed` are the [`Request`]'s fields (as i32 bit patterns), and the result,
//! read as u32, is the [`Response`] value. The export is `run` unless `--opt entry=NAME` says
//! otherwise. A module may also export `_initialize` (`() -> ()`, the WASI reactor convention),
//! called once by `start`; and should export its memory (any name) so that its size can be
//! reported. It may import only from `wasi_snapshot_preview1` (a WASI reactor); such units get
//! a WASI context with the function's name as `argv[0]` and no stdin/stdout/stderr.
//!
//! The instance is reused across invocations: state in globals and memory persists from one
//! invoke to the next, which is what makes a warm invoke warm.
//!
//! Memory failures: when a `memory.grow` is denied (the unit's memory limit, the pooling slot
//! size, or 4 GiB) and the call then traps or returns -1, the invoke fails with
//! [`BackendError::MemoryLimit`]. A guest that copes with the failed grow and returns another
//! value has its value returned.
//!
//! The catalogue is this ABI: `guests/catalogue.wat`, one module exporting `noop`, `cpu` and
//! `alloc` (and `memory`), each `(size, seed) -> value`; a unit of `cpu` calls `cpu` only. It is
//! compiled from WAT with the `wat` crate once per backend, so no toolchain is needed. `noop`
//! reads its value from a data segment, so the module has a memory image and copy-on-write
//! initialisation (strategy `pooling`) has something to map. `alloc` grows the memory by
//! `size` MiB on its first call and reuses that memory afterwards (wasm memory cannot shrink).
//!
//! # WASI commands
//!
//! A module that exports no entry function but exports `_start` is run as a WASI preview 1
//! command (wasmtime-wasi, synchronous). Per invocation it gets:
//!
//! - `argv = [<file name>, <function name>, <size>, <seed>]` (the function name is
//!   [`FunctionSpec::name`]);
//! - the same `<function> <size> <seed>` as one line on stdin;
//! - no environment, no preopened directories, no network; stdout and stderr captured (1 MiB
//!   each at most).
//!
//! The response value is stdout's first line parsed as a number (decimal u32, negative i32 as
//! its two's complement, or `0x` hex), or 0 (the exit status) when stdout is empty. A non-zero
//! exit status is a [`BackendError::Guest`] carrying stderr.
//!
//! What "warm" means for a command: `_start` runs once per instance (wasi-libc's `_start`
//! traps on a second call, and a command's `main` owns the process state). So `start`
//! instantiates, the first invoke runs `_start` in that instance, and every later invoke first
//! instantiates afresh in a new `Store`. What stays warm between invokes is everything before
//! instantiation: the engine, the compiled code, the linked `InstancePre` (and with pooling, a
//! slot whose memory image is already mapped). A warm invoke of a command therefore costs an
//! instantiation; use the core module ABI to keep an instance across invocations.
//!
//! `guests/rust-catalogue` is the catalogue as such a command, in Rust
//! (`cargo build --target wasm32-wasip1 --release` in that folder; `scripts/setup-wasm.sh`
//! installs the target).
//!
//! # Allocation strategies
//!
//! `--strategy`: `pooling` (default; slots reserved up front, memory initialised copy-on-write
//! from the module's image), `pooling-nocow` (same slots, data segments copied in), `ondemand`
//! (wasmtime's default allocator: `mmap` per instance, memory initialised copy-on-write). Every
//! strategy compiles identical code: the same `memory_reservation` (= `max_memory_mib`) and
//! epoch checks.
//!
//! The pool holds `max_units` (default 20,000) instances, memories and tables, each memory up
//! to `max_memory_mib` (default 128 MiB), reserved as address space only. When all slots are
//! live, `start` fails with a [`BackendError::Start`] naming `max_units`.
//!
//! Kernel mappings bound live units too: a live instance holds about three with `ondemand`
//! (its own reservation) and with `pooling` (the copy-on-write image mapped into its slot
//! splits the pool's mapping), two with `pooling-nocow`. At the default `vm.max_map_count` of
//! 65530 that is about 21,800 live units (measured: 20,000 pooled units fit, 30,000 do not),
//! or 32,700 with `pooling-nocow` (30,000 fit). Hitting it is reported as a
//! [`BackendError::Start`] naming `vm.max_map_count` and the fixes
//! (`sysctl -w vm.max_map_count=262144`, or `--strategy pooling-nocow`).
//!
//! # Limits
//!
//! - Deadline ([`Limits::deadline`](unitlab_backend::Limits), else `--opt deadline_ms=N`;
//!   default none): epoch interruption. The first function with a deadline starts one ticker
//!   thread per backend that increments the engine's epoch every `tick_us` (default 1 ms); the
//!   deadline is set in ticks (rounded up, plus one), so it is enforced within one tick. A guest
//!   past its deadline gets [`BackendError::Deadline`].
//! - Memory ([`Limits::memory_bytes`](unitlab_backend::Limits), else
//!   `--opt memory_limit_mib=N`; default none, but a pooled memory cannot outgrow
//!   `max_memory_mib`): a `ResourceLimiter` wrapping wasmtime's `StoreLimits`; see the ABI
//!   above for how a denied grow becomes [`BackendError::MemoryLimit`].
//! - A trap is a [`BackendError::Guest`] with wasmtime's message and wasm backtrace. A unit that
//!   trapped, ran past its deadline or hit its memory limit is not reused: further invokes on it
//!   fail, and the next unit starts clean.
//! - A file that fails validation is a [`BackendError::Prepare`] naming the file and carrying
//!   wasmtime's message.

#![warn(missing_docs)]

mod config;
mod engine;
mod fault;
pub mod resident;
mod unit;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use unitlab_backend::{
    Availability, Backend, BackendError, BackendInfo, FunctionSource, FunctionSpec, Prepared, Unit,
};
use wasmtime::{ExternType, InstancePre, Linker, Module, ModuleExport, ValType};

pub use config::{Config, Strategy, DEFAULT_MAX_MEMORY_MIB, DEFAULT_MAX_UNITS};

use engine::Ticker;
use unit::{CommandUnit, CoreUnit, State};

/// The wasmtime version this crate links, read from `Cargo.lock` at build time.
pub const WASMTIME_VERSION: &str = env!("UNITLAB_WASMTIME_VERSION");

/// The catalogue module's source.
pub const CATALOGUE_WAT: &str = include_str!("../guests/catalogue.wat");

/// The WASI module name this backend provides.
const WASI_P1: &str = "wasi_snapshot_preview1";

/// Whether the backend can run here: always, it is in-process.
pub fn availability() -> Availability {
    Availability::Available(format!("wasmtime {WASMTIME_VERSION}"))
}

/// The wasm backend: one shared wasmtime `Engine` for every function it prepares.
pub struct WasmBackend {
    config: Config,
    engine: wasmtime::Engine,
    linker: Linker<State>,
    catalogue: OnceLock<Module>,
    shared: Arc<Shared>,
}

/// What the backend and its prepared functions share, alive until the last of them is dropped.
struct Shared {
    ticker: Ticker,
}

impl WasmBackend {
    /// Builds the engine (reserving the pool, for pooling strategies) and the WASI linker.
    pub fn new(config: Config) -> Result<Self, BackendError> {
        let engine = engine::build_engine(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut State| s.wasi()).map_err(
            |e| BackendError::Unavailable {
                backend: "wasm".into(),
                reason: format!("linking WASI preview 1 failed: {}", fault::describe(&e)),
                fix: "this is a bug in unitlab-backend-wasm; please report it".into(),
            },
        )?;
        let shared = Arc::new(Shared {
            ticker: Ticker::new(config.tick()),
        });
        Ok(WasmBackend {
            config,
            engine,
            linker,
            catalogue: OnceLock::new(),
            shared,
        })
    }

    /// The configuration in effect.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn catalogue_module(&self, function: &str) -> Result<Module, BackendError> {
        if let Some(m) = self.catalogue.get() {
            return Ok(m.clone());
        }
        let prepare_error = |message: String| BackendError::Prepare {
            function: function.to_string(),
            message,
        };
        let bytes = wat::parse_str(CATALOGUE_WAT)
            .map_err(|e| prepare_error(format!("guests/catalogue.wat: {e}")))?;
        let module = Module::from_binary(&self.engine, &bytes)
            .map_err(|e| prepare_error(format!("guests/catalogue.wat: {}", fault::describe(&e))))?;
        Ok(self.catalogue.get_or_init(|| module).clone())
    }

    fn file_module(&self, spec: &FunctionSpec, path: &Path) -> Result<Module, BackendError> {
        let prepare_error = |message: String| BackendError::Prepare {
            function: spec.name.clone(),
            message,
        };
        let bytes = std::fs::read(path)
            .map_err(|e| prepare_error(format!("reading `{}`: {e}", path.display())))?;
        let bytes = wat::parse_bytes(&bytes)
            .map_err(|e| prepare_error(format!("`{}` is not valid WAT: {e}", path.display())))?;
        Module::from_binary(&self.engine, &bytes).map_err(|e| {
            prepare_error(format!(
                "`{}` is not a valid WebAssembly module: {}",
                path.display(),
                fault::describe(&e)
            ))
        })
    }
}

/// How units of a prepared function are entered.
pub(crate) enum Entry {
    /// Core module ABI: call `export` per invoke, `initialize` once at start.
    Core {
        export: ModuleExport,
        initialize: Option<ModuleExport>,
    },
    /// WASI command: `_start` once per instance.
    Command { start: ModuleExport },
}

/// Everything units of one function need, shared by them.
pub(crate) struct PreparedInner {
    pub(crate) spec: FunctionSpec,
    pub(crate) engine: wasmtime::Engine,
    pub(crate) pre: InstancePre<State>,
    pub(crate) entry: Entry,
    pub(crate) memory_export: Option<ModuleExport>,
    pub(crate) wasi_imports: bool,
    /// `argv[0]` for WASI: the file name.
    pub(crate) program: String,
    pub(crate) deadline: Option<Duration>,
    pub(crate) deadline_ticks: Option<u64>,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) effective_memory_limit: Option<u64>,
    pub(crate) limit_source: &'static str,
    pub(crate) max_units: Option<u32>,
    _shared: Arc<Shared>,
}

struct WasmPrepared(Arc<PreparedInner>);

impl Prepared for WasmPrepared {
    fn spec(&self) -> &FunctionSpec {
        &self.0.spec
    }

    fn start(&self) -> Result<Box<dyn Unit>, BackendError> {
        match self.0.entry {
            Entry::Core { .. } => CoreUnit::start(&self.0),
            Entry::Command { .. } => CommandUnit::start(&self.0),
        }
    }
}

fn func_type_text(ty: &wasmtime::FuncType) -> String {
    let list = |tys: &mut dyn Iterator<Item = ValType>| {
        tys.map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
    };
    format!(
        "({}) -> ({})",
        list(&mut ty.params()),
        list(&mut ty.results())
    )
}

fn is_abi_type(ty: &wasmtime::FuncType) -> bool {
    let params: Vec<ValType> = ty.params().collect();
    let results: Vec<ValType> = ty.results().collect();
    params.len() == 2
        && params.iter().all(|t| matches!(t, ValType::I32))
        && results.len() == 1
        && matches!(results[0], ValType::I32)
}

fn is_unit_func(ty: &ExternType) -> bool {
    matches!(ty, ExternType::Func(f) if f.params().len() == 0 && f.results().len() == 0)
}

impl Backend for WasmBackend {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn info(&self) -> BackendInfo {
        let c = &self.config;
        let mut info = BackendInfo {
            name: "wasm".into(),
            in_process: true,
            boundary: Some(unitlab_backend::Boundary::WasmInstance),
            ..BackendInfo::default()
        };
        info.versions
            .insert("wasmtime".into(), WASMTIME_VERSION.to_string());
        let s = &mut info.settings;
        s.insert("strategy".into(), c.strategy.to_string());
        s.insert("cow".into(), c.strategy.cow().to_string());
        s.insert(
            "max_units".into(),
            if c.strategy.is_pooling() {
                c.max_units().to_string()
            } else {
                "unbounded (ondemand; vm.max_map_count applies)".into()
            },
        );
        s.insert(
            "max_memory_mib".into(),
            (c.max_memory_bytes() >> 20).to_string(),
        );
        s.insert(
            "deadline".into(),
            c.deadline
                .map(|d| format!("{}ms", d.as_millis()))
                .unwrap_or_else(|| "none".into()),
        );
        s.insert(
            "memory_limit".into(),
            c.memory_limit_bytes
                .map(|b| b.to_string())
                .unwrap_or_else(|| "none".into()),
        );
        s.insert("tick_us".into(), c.tick().as_micros().to_string());
        s.insert("entry".into(), c.entry().to_string());
        info
    }

    fn prepare(&self, spec: &FunctionSpec) -> Result<Box<dyn Prepared>, BackendError> {
        // Linear memory grows in 64 KiB pages: every limit from 1 MiB on is honoured exactly.
        spec.limits.check("wasm", 0, "")?;
        let prepare_error = |message: String| BackendError::Prepare {
            function: spec.name.clone(),
            message,
        };
        let (module, program, entry_name, origin) = match &spec.source {
            FunctionSource::Catalogue(f) => (
                self.catalogue_module(&spec.name)?,
                "catalogue".to_string(),
                f.name().to_string(),
                "guests/catalogue.wat".to_string(),
            ),
            FunctionSource::File(path) => (
                self.file_module(spec, path)?,
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| spec.name.clone()),
                self.config.entry().to_string(),
                format!("`{}`", path.display()),
            ),
            other => {
                return Err(prepare_error(format!(
                "the wasm backend runs catalogue functions and .wasm/.wat files, not {other:?}; \
                     use the container backend for images"
            )))
            }
        };

        let mut wasi_imports = false;
        for import in module.imports() {
            if import.module() == WASI_P1 {
                wasi_imports = true;
            } else {
                return Err(prepare_error(format!(
                    "{origin} imports `{}::{}`, which this backend does not provide: modules may \
                     import only from `{WASI_P1}`",
                    import.module(),
                    import.name()
                )));
            }
        }

        let entry = match module.get_export(&entry_name) {
            Some(ExternType::Func(ty)) if is_abi_type(&ty) => Entry::Core {
                export: module
                    .get_export_index(&entry_name)
                    .expect("export listed by get_export"),
                initialize: module
                    .get_export("_initialize")
                    .filter(is_unit_func)
                    .and_then(|_| module.get_export_index("_initialize")),
            },
            Some(ExternType::Func(ty)) => {
                return Err(prepare_error(format!(
                    "{origin} exports `{entry_name}` with type {}, but the core module ABI \
                     needs (i32, i32) -> (i32): `{entry_name}(size: i32, seed: i32) -> i32`",
                    func_type_text(&ty)
                )))
            }
            Some(other) => {
                return Err(prepare_error(format!(
                    "{origin} exports `{entry_name}`, but as a {other:?}, not a function \
                     `(i32, i32) -> i32`"
                )))
            }
            None if module
                .get_export("_start")
                .as_ref()
                .is_some_and(is_unit_func) =>
            {
                Entry::Command {
                    start: module
                        .get_export_index("_start")
                        .expect("export listed by get_export"),
                }
            }
            None => {
                let funcs: Vec<String> = module
                    .exports()
                    .filter(|e| matches!(e.ty(), ExternType::Func(_)))
                    .map(|e| format!("`{}`", e.name()))
                    .collect();
                return Err(prepare_error(format!(
                    "{origin} exports neither `{entry_name}` (the core module ABI: \
                     `{entry_name}(size: i32, seed: i32) -> i32`) nor `_start` (a WASI command); \
                     its function exports are: {}; fix: pick one with --opt entry=NAME, export \
                     `{entry_name}`, or build a WASI command",
                    if funcs.is_empty() {
                        "none".to_string()
                    } else {
                        funcs.join(", ")
                    }
                )));
            }
        };

        let memory_export = module
            .exports()
            .find(|e| matches!(e.ty(), ExternType::Memory(_)))
            .map(|e| e.name().to_string())
            .and_then(|name| module.get_export_index(&name));

        let deadline = spec.limits.deadline.or(self.config.deadline);
        let deadline_ticks = match deadline {
            Some(d) => {
                self.shared.ticker.ensure_running(&self.engine)?;
                Some(self.shared.ticker.ticks_for(d))
            }
            None => None,
        };
        let memory_limit = spec.limits.memory_bytes.or(self.config.memory_limit_bytes);
        let pooling = self.config.strategy.is_pooling();
        let (effective_memory_limit, limit_source) = match (spec.limits.memory_bytes, memory_limit)
        {
            (Some(l), _) => (Some(l), "the function's limits.memory_bytes"),
            (None, Some(l)) => (Some(l), "--opt memory_limit_mib"),
            (None, None) if pooling => (
                Some(self.config.max_memory_bytes()),
                "the pooling slot size, --opt max_memory_mib",
            ),
            (None, None) => (None, "wasm32's 4 GiB address space"),
        };

        let pre = self.linker.instantiate_pre(&module).map_err(|e| {
            prepare_error(format!("linking {origin} failed: {}", fault::describe(&e)))
        })?;

        Ok(Box::new(WasmPrepared(Arc::new(PreparedInner {
            spec: spec.clone(),
            engine: self.engine.clone(),
            pre,
            entry,
            memory_export,
            wasi_imports,
            program,
            deadline,
            deadline_ticks,
            memory_limit,
            effective_memory_limit,
            limit_source,
            max_units: pooling.then(|| self.config.max_units()),
            _shared: self.shared.clone(),
        }))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_comes_from_cargo_lock() {
        assert!(WASMTIME_VERSION.starts_with("48."), "{WASMTIME_VERSION}");
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .unwrap();
        assert!(
            lock.contains(&format!(
                "name = \"wasmtime\"\nversion = \"{WASMTIME_VERSION}\""
            )),
            "Cargo.lock does not pin wasmtime {WASMTIME_VERSION}"
        );
        assert_eq!(
            availability(),
            Availability::Available(format!("wasmtime {WASMTIME_VERSION}"))
        );
    }

    #[test]
    fn info_records_versions_and_settings() {
        let b = WasmBackend::new(Config {
            max_units: Some(4),
            ..Config::default()
        })
        .unwrap();
        let info = b.info();
        assert!(info.in_process);
        assert_eq!(info.name, "wasm");
        assert_eq!(info.versions["wasmtime"], WASMTIME_VERSION);
        assert_eq!(info.settings["strategy"], "pooling");
        assert_eq!(info.settings["cow"], "true");
        assert_eq!(info.settings["max_units"], "4");
        assert_eq!(info.settings["deadline"], "none");
    }
}
