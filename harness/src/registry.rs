//! The backends this binary was built with, chosen by name (each behind a cargo feature).
//!
//! The harness knows backends only through the [`Backend`] trait; this module is the one place
//! that names the concrete crates.

use unitlab_backend::{Availability, Backend, BackendError};

/// A backend the CLI can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// WebAssembly instances on wasmtime (in-process).
    Wasm,
    /// V8 isolates inside this process, through libnode.
    V8,
    /// Deno workers in one long-lived Deno process.
    Deno,
    /// Docker containers through the Engine API.
    Container,
    /// OCI bundles run directly with crun, runc or runsc: the floor under Docker.
    Oci,
    /// A fork+exec of a static native program: the bare-process baseline.
    Process,
    /// Scripted latencies, for testing the harness.
    Mock,
}

impl BackendKind {
    /// Every backend, in report order (mock last).
    pub const ALL: [BackendKind; 7] = [
        BackendKind::Container,
        BackendKind::Oci,
        BackendKind::Deno,
        BackendKind::V8,
        BackendKind::Wasm,
        BackendKind::Process,
        BackendKind::Mock,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Wasm => "wasm",
            BackendKind::V8 => "v8",
            BackendKind::Deno => "deno",
            BackendKind::Container => "container",
            BackendKind::Oci => "oci",
            BackendKind::Process => "process",
            BackendKind::Mock => "mock",
        }
    }

    /// Whether this binary was built with the backend's feature.
    pub fn compiled(self) -> bool {
        match self {
            BackendKind::Wasm => cfg!(feature = "wasm"),
            BackendKind::V8 => cfg!(feature = "v8"),
            BackendKind::Deno => cfg!(feature = "deno"),
            BackendKind::Container => cfg!(feature = "container"),
            BackendKind::Oci => cfg!(feature = "oci"),
            BackendKind::Process => cfg!(feature = "process"),
            BackendKind::Mock => true,
        }
    }

    /// Whether the backend can run here, with the reason and the fix if not.
    pub fn availability(self) -> Availability {
        if !self.compiled() {
            return not_compiled(self);
        }
        match self {
            #[cfg(feature = "wasm")]
            BackendKind::Wasm => unitlab_backend_wasm::availability(),
            #[cfg(feature = "v8")]
            BackendKind::V8 => unitlab_backend_v8::availability(),
            #[cfg(feature = "deno")]
            BackendKind::Deno => unitlab_backend_deno::availability(),
            #[cfg(feature = "container")]
            BackendKind::Container => unitlab_backend_container::availability(),
            #[cfg(feature = "oci")]
            BackendKind::Oci => unitlab_backend_oci::availability(),
            #[cfg(feature = "process")]
            BackendKind::Process => unitlab_backend_process::availability(),
            BackendKind::Mock => unitlab_backend_mock::availability(),
            #[allow(unreachable_patterns, reason = "arms of backends compiled out")]
            _ => not_compiled(self),
        }
    }

    /// The options `--opt key=value` accepts for this backend.
    pub fn options(self) -> &'static [(&'static str, &'static str)] {
        match self {
            #[cfg(feature = "wasm")]
            BackendKind::Wasm => unitlab_backend_wasm::Config::OPTIONS,
            #[cfg(feature = "v8")]
            BackendKind::V8 => unitlab_backend_v8::Config::OPTIONS,
            #[cfg(feature = "deno")]
            BackendKind::Deno => unitlab_backend_deno::Config::OPTIONS,
            #[cfg(feature = "container")]
            BackendKind::Container => unitlab_backend_container::OPTIONS,
            #[cfg(feature = "oci")]
            BackendKind::Oci => unitlab_backend_oci::OPTIONS,
            #[cfg(feature = "process")]
            BackendKind::Process => unitlab_backend_process::OPTIONS,
            BackendKind::Mock => unitlab_backend_mock::Config::OPTIONS,
            #[allow(unreachable_patterns, reason = "arms of backends compiled out")]
            _ => &[],
        }
    }

    /// Builds the backend with `options` applied in order.
    pub fn build(self, options: &[(String, String)]) -> Result<Box<dyn Backend>, BackendError> {
        macro_rules! build {
            ($krate:ident, $ty:ident) => {{
                let mut config = $krate::Config::default();
                for (k, v) in options {
                    config.set(k, v)?;
                }
                Ok(Box::new($krate::$ty::new(config)?) as Box<dyn Backend>)
            }};
        }
        match self {
            #[cfg(feature = "wasm")]
            BackendKind::Wasm => build!(unitlab_backend_wasm, WasmBackend),
            #[cfg(feature = "v8")]
            BackendKind::V8 => build!(unitlab_backend_v8, V8Backend),
            #[cfg(feature = "deno")]
            BackendKind::Deno => build!(unitlab_backend_deno, DenoBackend),
            #[cfg(feature = "container")]
            BackendKind::Container => build!(unitlab_backend_container, ContainerBackend),
            #[cfg(feature = "oci")]
            BackendKind::Oci => build!(unitlab_backend_oci, OciBackend),
            #[cfg(feature = "process")]
            BackendKind::Process => build!(unitlab_backend_process, ProcessBackend),
            BackendKind::Mock => build!(unitlab_backend_mock, MockBackend),
            #[allow(unreachable_patterns, reason = "arms of backends compiled out")]
            _ => match not_compiled(self) {
                Availability::Unavailable { reason, fix } => Err(BackendError::Unavailable {
                    backend: self.name().into(),
                    reason,
                    fix,
                }),
                Availability::Available(_) => unreachable!("not_compiled is never available"),
            },
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn not_compiled(kind: BackendKind) -> Availability {
    Availability::Unavailable {
        reason: format!(
            "this unitlab was built without the `{}` feature",
            kind.name()
        ),
        fix: format!(
            "rebuild with `cargo build --release --features {}`",
            kind.name()
        ),
    }
}
