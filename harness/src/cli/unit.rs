//! The arguments that pick a backend and a function, shared by measure, replay and validate.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use unitlab::BackendKind;
use unitlab_backend::{Backend, FunctionSpec};

/// `--memory-limit`: a size with its unit (the one syntax of size flags), then its range.
fn parse_memory_limit(s: &str) -> Result<u64, String> {
    super::parse_size_flag(s)?;
    unitlab_backend::units::parse_memory_limit(s)
}

/// `--deadline`: a duration with its unit (the one syntax of duration flags), then its range.
fn parse_deadline(s: &str) -> Result<Duration, String> {
    super::parse_duration_flag(s)?;
    unitlab_backend::units::parse_deadline(s)
}

/// Which backend runs which function, with which limits.
#[derive(Debug, Args, Clone)]
pub struct UnitArgs {
    /// The backend (`unitlab doctor` shows which are available here).
    #[arg(long, short)]
    pub backend: BackendKind,
    /// A catalogue function (noop, cpu, alloc), a file of your own (.wasm, .js, an executable
    /// speaking the runner protocol), or `image:NAME` for the container backend.
    #[arg(long, short, default_value = "noop")]
    pub function: String,
    /// Strategy, for backends that have one (wasm: pooling, pooling-nocow, ondemand).
    #[arg(long)]
    pub strategy: Option<String>,
    /// Network mode, for the container backend (none, bridge).
    #[arg(long)]
    pub network: Option<String>,
    /// OCI runtime, for the container and oci backends (runc, crun, runsc).
    #[arg(long)]
    pub runtime: Option<String>,
    /// Memory limit per unit (e.g. 64MiB), from 1MiB to 1TiB; each backend refuses a limit
    /// below the least it can honour, naming it.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory_limit)]
    pub memory_limit: Option<u64>,
    /// Deadline per invocation (e.g. 2s), from 1ms to 1d; a guest running longer is stopped.
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline)]
    pub deadline: Option<Duration>,
    /// CPU limit per unit in cores (containers).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Backend option `key=value` (repeatable); `unitlab doctor --options` lists them.
    #[arg(long = "opt", value_parser = super::parse_kv)]
    pub opts: Vec<(String, String)>,
}

impl UnitArgs {
    /// `function` on `backend` with every option at its default (what `unitlab run` uses).
    pub fn defaults(backend: BackendKind, function: &str) -> Self {
        UnitArgs {
            backend,
            function: function.to_string(),
            strategy: None,
            network: None,
            runtime: None,
            memory_limit: None,
            deadline: None,
            cpus: None,
            opts: Vec::new(),
        }
    }

    /// The backend options these arguments set, in order.
    pub fn backend_options(&self) -> Vec<(String, String)> {
        let mut o = Vec::new();
        if let Some(s) = &self.strategy {
            o.push(("strategy".to_string(), s.clone()));
        }
        if let Some(n) = &self.network {
            o.push(("network".to_string(), n.clone()));
        }
        if let Some(r) = &self.runtime {
            o.push(("runtime".to_string(), r.clone()));
        }
        o.extend(self.opts.iter().cloned());
        o
    }

    /// The function to prepare.
    pub fn spec(&self) -> Result<FunctionSpec> {
        super::function_spec(&self.function, self.memory_limit, self.deadline, self.cpus)
    }

    /// Builds the backend.
    pub fn build(&self) -> Result<Box<dyn Backend>> {
        self.backend
            .build(&self.backend_options())
            .with_context(|| format!("setting up the `{}` backend", self.backend))
    }
}
