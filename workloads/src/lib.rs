//! Workloads: seeded synthetic arrival processes and loaders for public and custom traces.
//!
//! Everything produces the same [`trace::Invocation`] stream (see [`trace`]).

#![warn(missing_docs)]

pub mod trace;

pub use trace::{FunctionId, Invocation, TraceMeta, TraceStream};

/// Errors from generators and loaders. Each names the file, line and column where it applies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// A malformed cell or row.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: u64,
        /// 1-based column number (field index for CSV).
        column: u64,
        /// What was expected and what was found.
        message: String,
    },
    /// An I/O error with the file involved.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A parameter out of range.
    #[error("invalid parameter `{name}`: {message}")]
    Param {
        /// Parameter name.
        name: String,
        /// What is wrong and the valid range.
        message: String,
    },
}
