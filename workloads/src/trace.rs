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

    /// The metadata, for a wrapper that keeps it while the stream itself is read elsewhere
    /// (on another thread): a copy by default. A stream whose metadata is large (tens of
    /// thousands of function names) may move it out instead; its [`TraceStream::meta`] is
    /// then empty.
    fn take_meta(&mut self) -> TraceMeta {
        self.meta().clone()
    }
}

/// A boxed trace stream, as returned by [`crate::open`] and the generators.
pub type BoxedTrace = Box<dyn TraceStream + Send>;

impl<T: TraceStream + ?Sized> TraceStream for Box<T> {
    fn meta(&self) -> &TraceMeta {
        (**self).meta()
    }
    fn take_meta(&mut self) -> TraceMeta {
        (**self).take_meta()
    }
}

/// An in-memory trace (tests, small traces, the result of a full sort).
#[derive(Debug, Clone)]
pub struct VecTrace {
    meta: TraceMeta,
    items: std::vec::IntoIter<Invocation>,
}

impl VecTrace {
    /// A trace over `items`, which are sorted by arrival here (stable) if they are not.
    pub fn new(meta: TraceMeta, mut items: Vec<Invocation>) -> Self {
        if !items.windows(2).all(|w| w[0].arrival_ns <= w[1].arrival_ns) {
            items.sort_by_key(|i| i.arrival_ns);
        }
        VecTrace {
            meta,
            items: items.into_iter(),
        }
    }
}

impl Iterator for VecTrace {
    type Item = Result<Invocation, crate::TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.items.next().map(Ok)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl TraceStream for VecTrace {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

/// Reads a whole stream into memory (tests and small traces only: a day of a real trace does
/// not fit). Stops at the first error.
pub fn collect(
    stream: impl TraceStream,
) -> Result<(TraceMeta, Vec<Invocation>), crate::TraceError> {
    let meta = stream.meta().clone();
    let items = stream.collect::<Result<Vec<_>, _>>()?;
    Ok((meta, items))
}
