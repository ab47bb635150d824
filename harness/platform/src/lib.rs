//! Platform policies, replay on real backends, discrete-event simulation, and the cost of idle.
//!
//! "You stop paying for waiting" is serverless's economic claim; this crate measures what the
//! waiting costs somebody. The pipeline (modules in order):
//!
//! - [`policy`]: what a platform does (no keep-alive, fixed keep-alive, provisioned units with
//!   overflow, Shahrad et al.'s hybrid histogram; concurrency, unit cap, pick rule).
//! - [`platform`]: the one deterministic state machine that applies a policy to events in
//!   virtual time and accounts every unit's starting / executing / idle time.
//! - [`sim`]: the discrete-event simulator driving it with [`calibration`]s.
//! - [`parallel`]: several simulations of one trace at once, on worker threads, from one
//!   read of the trace.
//! - [`replay`]: the real-time driver, starting and invoking real backend units on worker
//!   threads, open loop.
//! - [`pricing`]: counts, latency summaries, GB-seconds, money (`harness/platform/pricing.toml`), and the two
//!   answers: what did waiting cost, what did avoiding cold starts cost.
//! - [`output`]: the results directory (`summary.json` + CSVs, types in
//!   `unitlab_results::platform`).
//! - [`validate`]: replay vs simulation of the same trace.
//! - [`frontier`]: the keep-alive frontier and the burstiness sweep of every measured model.
//! - [`experiment`]: the typed entry points the `unitlab` binary drives: [`experiment::simulate`],
//!   [`experiment::replay`], [`experiment::validate`].
//!

#![warn(missing_docs)]

pub mod calibration;
pub mod experiment;
pub mod frontier;
pub mod heap;
mod hybrid;
mod latency;
pub mod output;
pub mod parallel;
pub mod platform;
pub mod policy;
pub mod pricing;
pub mod replay;
pub mod sim;
pub mod synth;
pub mod timeline;
pub mod validate;

pub use calibration::{Calibration, Execution, Startup};
pub use parallel::{simulate_runs, simulate_runs_sharded, SimRun, TraceRead};
pub use platform::{Arrival, Driver, Job, Platform, UnitHandle};
pub use policy::{Cap, HybridParams, KeepAlive, OnFull, PickRule, Policy};
pub use replay::{replay, ReplayOptions, ReplayOutcome};
pub use sim::{simulate, SimOptions, SimOutcome, Simulation};

/// Errors of replay, simulation and their configuration. Each names the cause and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The results directory could not be made or moved into place.
    #[error(transparent)]
    Dir(#[from] unitlab_results::dir::DirError),
    /// A policy spec or parameter is invalid.
    #[error("policy `{spec}`: {message}")]
    Policy {
        /// The spec as given.
        spec: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// Another configuration value is invalid (pricing file, execution model, options).
    #[error("{what}: {message}")]
    Config {
        /// What was being read.
        what: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A calibration could not be built.
    #[error("calibration from `{source_name}`: {message}")]
    Calibration {
        /// Where it was to come from.
        source_name: String,
        /// What is wrong, with the fix.
        message: String,
    },
    /// The trace is not sorted by arrival.
    #[error("trace invocation #{seq} arrives at {arrival_ns} ns, before the previous one at {previous_ns} ns\n  fix: sort the trace by arrival (the loaders' --unsorted sort does this)")]
    Unsorted {
        /// Position in the trace.
        seq: u64,
        /// Its arrival.
        arrival_ns: u64,
        /// The previous arrival.
        previous_ns: u64,
    },
    /// An invocation without a duration, and no execution model to fill it in.
    #[error("trace invocation #{seq} has no duration\n  fix: pass --execution fixed:<duration> or exp:<mean> to fill in missing durations")]
    MissingDuration {
        /// Position in the trace.
        seq: u64,
    },
    /// The trace could not be read.
    #[error(transparent)]
    Trace(#[from] unitlab_workloads::TraceError),
    /// The backend failed outside a single unit (prepare, provisioning).
    #[error("backend: {0}")]
    Backend(#[from] unitlab_backend::BackendError),
    /// A step failed: what was being done, and why.
    #[error("{what}")]
    In {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<PlatformError>,
    },
    /// Writing results failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}
