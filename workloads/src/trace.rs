//! The one trace model: a stream of invocations sorted by arrival.
//!
//! Synthetic generators and loaded traces both produce [`Invocation`]s through a
//! [`TraceStream`], so replay and simulation never care where a trace came from. Streams are
//! iterators: a day of the Azure 2019 trace is expanded minute by minute, never held whole.

use serde::{Deserialize, Serialize};

/// Identifies a function within a trace. Dense ids (0..n) index into [`TraceMeta::functions`].
pub type FunctionId = u32;

/// One invocation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// Arrival time in nanoseconds since the trace start.
    pub arrival_ns: u64,
    /// Which function (index into [`TraceMeta::functions`]).
    pub function: FunctionId,
    /// Execution time in nanoseconds, if the trace or generator gives one.
    pub duration_ns: Option<u64>,
    /// Memory the invocation's unit needs in bytes, if known.
    pub memory_bytes: Option<u64>,
}

/// What a trace knows about itself, available before streaming starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceMeta {
    /// Function names (e.g. `owner/app/function` hashes), indexed by [`FunctionId`].
    pub functions: Vec<String>,
    /// Where the trace came from: generator and parameters, or file and loader settings.
    pub source: String,
    /// The seed used (generators; loaders that spread per-minute counts).
    pub seed: Option<u64>,
    /// Nominal span in nanoseconds, when known up front.
    pub span_ns: Option<u64>,
}

/// A stream of invocations sorted by `arrival_ns`, with its metadata.
///
/// Errors (a malformed line in a file) surface as `Err` items naming file, line and column.
pub trait TraceStream: Iterator<Item = Result<Invocation, crate::TraceError>> {
    /// The trace's metadata.
    fn meta(&self) -> &TraceMeta;
}
