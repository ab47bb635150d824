//! Integration tests of the wasm backend against the real wasmtime (one test binary, after
//! wasmtime's `tests/all`).

mod catalogue;
mod faults;
mod live_units;
mod modules;
mod rust_guest;

use std::path::PathBuf;
use std::time::Duration;

use unitlab_backend::{Backend, FunctionSource, FunctionSpec, Limits, Prepared, Request};
use unitlab_backend_wasm::{Config, Strategy, WasmBackend};

/// A backend with a small pool, so that many tests can hold one each.
pub fn backend(strategy: Strategy) -> WasmBackend {
    backend_with(strategy, &[])
}

/// A backend with a small pool and extra options.
pub fn backend_with(strategy: Strategy, opts: &[(&str, &str)]) -> WasmBackend {
    let mut config = Config {
        strategy,
        max_units: Some(16),
        ..Config::default()
    };
    for (k, v) in opts {
        config.set(k, v).unwrap();
    }
    WasmBackend::new(config).unwrap()
}

/// The path of a test guest in `tests/guests`.
pub fn guest(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guests")
        .join(name)
}

/// A spec for a user file.
pub fn file_spec(name: &str, path: PathBuf) -> FunctionSpec {
    FunctionSpec {
        name: name.to_string(),
        source: FunctionSource::File(path),
        limits: Limits::default(),
    }
}

/// A spec with a deadline and/or memory limit.
pub fn limited(
    mut spec: FunctionSpec,
    deadline: Option<Duration>,
    memory: Option<u64>,
) -> FunctionSpec {
    spec.limits.deadline = deadline;
    spec.limits.memory_bytes = memory;
    spec
}

/// Starts a unit and invokes it once.
pub fn cold(
    prepared: &dyn Prepared,
    size: u32,
    seed: u32,
) -> Result<u32, unitlab_backend::BackendError> {
    let mut unit = prepared.start()?;
    unit.invoke(&Request { size, seed }).map(|r| r.value)
}

/// Prepares `spec` on `backend`, panicking with the error.
pub fn prepare(backend: &WasmBackend, spec: &FunctionSpec) -> Box<dyn Prepared> {
    match backend.prepare(spec) {
        Ok(p) => p,
        Err(e) => panic!("prepare `{}`: {e}", spec.name),
    }
}
