//! Units: a `Store` plus one instance of the prepared module.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use unitlab_backend::{BackendError, Phase, Request, Response, Unit, UnitMemory};
use wasmtime::{Instance, ModuleExport, ResourceLimiter, Store, StoreLimits, TypedFunc};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use crate::fault::{self, FaultContext};
use crate::PreparedInner;

/// Epoch deadline used when a function has none: far enough never to be reached, small enough
/// that `current_epoch + delta` cannot overflow.
const NO_DEADLINE: u64 = u64::MAX / 4;

/// Largest stdout/stderr a WASI command may write per invocation.
const COMMAND_OUTPUT_CAPACITY: usize = 1 << 20;

static NEXT_UNIT: AtomicU64 = AtomicU64::new(0);

/// Per-store host state.
pub(crate) struct State {
    pub(crate) limiter: Limiter,
    /// WASI context, for modules that import `wasi_snapshot_preview1`.
    pub(crate) wasi: Option<Box<WasiP1Ctx>>,
}

impl State {
    fn new(memory_limit: Option<u64>) -> Self {
        State {
            limiter: Limiter::new(memory_limit),
            wasi: None,
        }
    }

    /// The WASI context; the linker's WASI functions call this.
    pub(crate) fn wasi(&mut self) -> &mut WasiP1Ctx {
        self.wasi.get_or_insert_with(|| {
            // Only reached if a module calls WASI before the backend set a context: give it an
            // empty one rather than panicking inside a host call.
            Box::new(WasiCtxBuilder::new().build_p1())
        })
    }
}

/// `StoreLimits` plus a record of denied `memory.grow`s, so that a guest that fails after a
/// denied grow is reported as `MemoryLimit` rather than as an ordinary trap.
pub(crate) struct Limiter {
    limits: StoreLimits,
    pub(crate) denied: Option<String>,
}

impl Limiter {
    fn new(memory_limit: Option<u64>) -> Self {
        let mut builder = wasmtime::StoreLimitsBuilder::new();
        if let Some(limit) = memory_limit {
            builder = builder.memory_size(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Limiter {
            limits: builder.build(),
            denied: None,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allow = self.limits.memory_growing(current, desired, maximum)?;
        if !allow {
            self.denied = Some(format!(
                "memory.grow from {current} to {desired} bytes was denied"
            ));
        }
        Ok(allow)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        if self.denied.is_none() {
            self.denied = Some(format!("memory.grow failed: {}", fault::describe(&error)));
        }
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// A fresh store for one unit of `prepared`.
fn new_store(prepared: &PreparedInner) -> Store<State> {
    let mut store = Store::new(&prepared.engine, State::new(prepared.memory_limit));
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(prepared.deadline_ticks.unwrap_or(NO_DEADLINE));
    store
}

fn fault_context<'a>(prepared: &'a PreparedInner, store: &'a Store<State>) -> FaultContext<'a> {
    FaultContext {
        deadline: prepared.deadline,
        memory_limit: prepared.effective_memory_limit,
        limit_source: prepared.limit_source,
        denied_grow: store.data().limiter.denied.as_deref(),
    }
}

/// A process-unique unit number; formatted only when `id()` is asked for.
fn next_id() -> u64 {
    NEXT_UNIT.fetch_add(1, Ordering::Relaxed)
}

/// Instantiates in `store`, mapping failures.
fn instantiate(
    prepared: &PreparedInner,
    store: &mut Store<State>,
) -> Result<Instance, BackendError> {
    prepared.pre.instantiate(&mut *store).map_err(|e| {
        fault::start_error(
            e,
            &fault_context(prepared, store),
            &prepared.spec.name,
            prepared.max_units,
        )
    })
}

/// What `memory()` reports: the size of the instance's exported memory, and how much of it is
/// resident (from `/proc/self/pagemap`).
fn memory_of(
    store: &mut Store<State>,
    instance: Option<Instance>,
    export: Option<&ModuleExport>,
) -> UnitMemory {
    let mut mem = UnitMemory::default();
    let memory = match (instance, export) {
        (Some(i), Some(e)) => i
            .get_module_export(&mut *store, e)
            .and_then(|x| x.into_memory()),
        _ => None,
    };
    if let Some(memory) = memory {
        let size = memory.data_size(&*store);
        mem.engine_bytes = Some(size as u64);
        mem.details
            .insert("linear_memory_pages".into(), memory.size(&*store));
        if let Some(resident) = crate::resident::resident_bytes(memory.data_ptr(&*store), size) {
            mem.details
                .insert("linear_memory_resident".into(), resident);
        }
    }
    mem
}

/// A unit of a core module: one instance whose entry export is called on every invoke.
pub(crate) struct CoreUnit {
    store: Store<State>,
    instance: Instance,
    entry: TypedFunc<(i32, i32), i32>,
    prepared: Arc<PreparedInner>,
    phases: [Duration; 2],
    id: u64,
    /// Set after a trap, deadline or memory fault: the instance is not reused.
    poisoned: Option<String>,
}

impl CoreUnit {
    pub(crate) fn start(prepared: &Arc<PreparedInner>) -> Result<Box<dyn Unit>, BackendError> {
        let t0 = Instant::now();
        let mut store = new_store(prepared);
        if prepared.wasi_imports {
            store.data_mut().wasi = Some(Box::new(
                WasiCtxBuilder::new().arg(&prepared.spec.name).build_p1(),
            ));
        }
        let t1 = Instant::now();
        let instance = instantiate(prepared, &mut store)?;
        let crate::Entry::Core { export, initialize } = &prepared.entry else {
            unreachable!("CoreUnit started for a command module");
        };
        if let Some(init) = initialize {
            let init = instance
                .get_module_export(&mut store, init)
                .and_then(|x| x.into_func())
                .ok_or_else(|| BackendError::Start {
                    message: "`_initialize` export vanished".into(),
                })?;
            init.typed::<(), ()>(&store)
                .and_then(|f| f.call(&mut store, ()))
                .map_err(|e| fault::call_error(e, &fault_context(prepared, &store)))?;
        }
        let entry = instance
            .get_module_export(&mut store, export)
            .and_then(|x| x.into_func())
            .ok_or_else(|| BackendError::Start {
                message: format!(
                    "the entry export of `{}` is not a function",
                    prepared.spec.name
                ),
            })?
            .typed::<(i32, i32), i32>(&store)
            .map_err(|e| BackendError::Start {
                message: format!("entry export type: {}", fault::describe(&e)),
            })?;
        let t2 = Instant::now();
        Ok(Box::new(CoreUnit {
            store,
            instance,
            entry,
            prepared: prepared.clone(),
            phases: [t1 - t0, t2 - t1],
            id: next_id(),
            poisoned: None,
        }))
    }
}

impl Unit for CoreUnit {
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError> {
        if let Some(why) = &self.poisoned {
            return Err(BackendError::Guest {
                message: format!(
                    "unit wasm-{} is not reused after an earlier failure ({why}); start a new unit",
                    self.id
                ),
            });
        }
        if let Some(ticks) = self.prepared.deadline_ticks {
            self.store.set_epoch_deadline(ticks);
        }
        let result = self
            .entry
            .call(&mut self.store, (req.size as i32, req.seed as i32));
        let outcome = match result {
            Ok(value) => match self.store.data_mut().limiter.denied.take() {
                Some(denied) if value == -1 => Err(fault::memory_limit(
                    &fault_context(&self.prepared, &self.store),
                    format!("{denied}; the guest returned -1"),
                )),
                _ => Ok(Response {
                    value: value as u32,
                    guest_nanos: None,
                }),
            },
            Err(e) => Err(fault::call_error(
                e,
                &fault_context(&self.prepared, &self.store),
            )),
        };
        if let Err(e) = &outcome {
            self.poisoned = Some(e.to_string());
        }
        outcome
    }

    fn start_phases(&self) -> Vec<Phase> {
        vec![
            Phase::new("store", self.phases[0]),
            Phase::new("instantiate", self.phases[1]),
        ]
    }

    fn memory(&mut self) -> Result<UnitMemory, BackendError> {
        Ok(memory_of(
            &mut self.store,
            Some(self.instance),
            self.prepared.memory_export.as_ref(),
        ))
    }

    fn id(&self) -> String {
        format!("wasm-{}", self.id)
    }

    fn stop(self: Box<Self>) -> Result<(), BackendError> {
        Ok(())
    }
}

/// A unit of a WASI command. `_start` runs once per instance (wasi-libc traps on a second
/// call), so the first invoke runs the instance `start` made and every later invoke first
/// instantiates afresh in a new store. See the crate docs, "WASI commands".
pub(crate) struct CommandUnit {
    /// The instance `start` made, not yet run.
    ready: Option<(Store<State>, Instance)>,
    /// The store of the last run, kept for `memory()`.
    last: Option<(Store<State>, Instance)>,
    prepared: Arc<PreparedInner>,
    phases: [Duration; 2],
    id: u64,
}

impl CommandUnit {
    pub(crate) fn start(prepared: &Arc<PreparedInner>) -> Result<Box<dyn Unit>, BackendError> {
        let t0 = Instant::now();
        let mut store = new_store(prepared);
        let t1 = Instant::now();
        let instance = instantiate(prepared, &mut store)?;
        let t2 = Instant::now();
        Ok(Box::new(CommandUnit {
            ready: Some((store, instance)),
            last: None,
            prepared: prepared.clone(),
            phases: [t1 - t0, t2 - t1],
            id: next_id(),
        }))
    }

    fn run(
        &self,
        store: &mut Store<State>,
        instance: Instance,
        req: &Request,
    ) -> Result<Response, BackendError> {
        let prepared = &self.prepared;
        let stdout = MemoryOutputPipe::new(COMMAND_OUTPUT_CAPACITY);
        let stderr = MemoryOutputPipe::new(COMMAND_OUTPUT_CAPACITY);
        let (size, seed) = (req.size.to_string(), req.seed.to_string());
        let line = format!("{} {size} {seed}\n", prepared.spec.name);
        store.data_mut().wasi = Some(Box::new(
            WasiCtxBuilder::new()
                .args(&[&prepared.program, &prepared.spec.name, &size, &seed])
                .stdin(MemoryInputPipe::new(line))
                .stdout(stdout.clone())
                .stderr(stderr.clone())
                .build_p1(),
        ));
        let crate::Entry::Command { start } = &prepared.entry else {
            unreachable!("CommandUnit started for a core module");
        };
        let func = instance
            .get_module_export(&mut *store, start)
            .and_then(|x| x.into_func())
            .ok_or_else(|| BackendError::Start {
                message: "`_start` export vanished".into(),
            })?
            .typed::<(), ()>(&*store)
            .map_err(|e| BackendError::Start {
                message: format!("`_start` type: {}", fault::describe(&e)),
            })?;
        let status = match func.call(&mut *store, ()) {
            Ok(()) => 0,
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => exit.0,
                None => return Err(fault::call_error(e, &fault_context(prepared, store))),
            },
        };
        let err_text = String::from_utf8_lossy(&stderr.contents())
            .trim()
            .to_string();
        if status != 0 {
            if let Some(denied) = store.data_mut().limiter.denied.take() {
                return Err(fault::memory_limit(
                    &fault_context(prepared, store),
                    format!("{denied}; the command exited with status {status}: {err_text}"),
                ));
            }
            return Err(BackendError::Guest {
                message: format!(
                    "the WASI command `{}` exited with status {status}; stderr: {}",
                    prepared.spec.name,
                    if err_text.is_empty() {
                        "(empty)"
                    } else {
                        &err_text
                    }
                ),
            });
        }
        let out = stdout.contents();
        let text = String::from_utf8_lossy(&out);
        match text.lines().next().map(str::trim) {
            None | Some("") => Ok(Response {
                value: 0,
                guest_nanos: None,
            }),
            Some(first) => parse_value(first)
                .map(|value| Response {
                    value,
                    guest_nanos: None,
                })
                .ok_or_else(|| BackendError::Protocol {
                    message: format!(
                        "the WASI command `{}` printed `{first}` on stdout's first line: expected \
                         a number (decimal u32 or i32, or 0x-prefixed hex)",
                        prepared.spec.name
                    ),
                }),
        }
    }
}

/// Parses a command's first stdout line: decimal u32, negative i32 (two's complement) or hex.
pub(crate) fn parse_value(text: &str) -> Option<u32> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).ok();
    }
    text.parse::<u32>()
        .ok()
        .or_else(|| text.parse::<i32>().ok().map(|v| v as u32))
}

impl Unit for CommandUnit {
    fn invoke(&mut self, req: &Request) -> Result<Response, BackendError> {
        // Drop the spent instance first: with the pooling allocator its slot is needed again.
        self.last = None;
        let (mut store, instance) = match self.ready.take() {
            Some(ready) => ready,
            None => {
                let mut store = new_store(&self.prepared);
                let instance = instantiate(&self.prepared, &mut store)?;
                (store, instance)
            }
        };
        let result = self.run(&mut store, instance, req);
        // Release the request's WASI context (pipes, args); keep the instance for memory().
        store.data_mut().wasi = None;
        self.last = Some((store, instance));
        result
    }

    fn start_phases(&self) -> Vec<Phase> {
        vec![
            Phase::new("store", self.phases[0]),
            Phase::new("instantiate", self.phases[1]),
        ]
    }

    fn memory(&mut self) -> Result<UnitMemory, BackendError> {
        let export = self.prepared.memory_export;
        let slot = self.ready.as_mut().or(self.last.as_mut());
        Ok(match slot {
            Some((store, instance)) => memory_of(store, Some(*instance), export.as_ref()),
            None => UnitMemory::default(),
        })
    }

    fn id(&self) -> String {
        format!("wasm-{}", self.id)
    }

    fn stop(self: Box<Self>) -> Result<(), BackendError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_output_parses() {
        assert_eq!(parse_value("42"), Some(42));
        assert_eq!(parse_value(" 4294967295 "), Some(u32::MAX));
        assert_eq!(parse_value("-1"), Some(u32::MAX));
        assert_eq!(parse_value("0x2A2A2A2A"), Some(0x2A2A_2A2A));
        assert_eq!(parse_value("hello"), None);
    }
}
