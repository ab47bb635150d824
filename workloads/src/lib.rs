//! Workloads: seeded synthetic arrival processes and loaders for public and custom traces.
//!
//! Everything produces the same [`trace::Invocation`] stream (see [`trace`]): synthetic
//! generators ([`synth`]), the unitlab native trace file ([`native`]), the Azure Functions
//! 2019 files ([`azure2019`]), the Azure Functions 2021 per-invocation CSV and generic
//! timestamped CSV/JSONL logs ([`rows`]). [`open`] picks the loader for a file (by its header,
//! or as told by [`LoadOptions::format`]). The `unitlab trace ...` command line (in the `unitlab`
//! binary) calls the typed operations in [`ops`]; [`choice`] lets it list and parse the named options.
//!
//! Pipeline: `synth` / loaders -> [`TraceStream`] -> [`stats`] / [`transform`] / replay and
//! simulation (in `unitlab-platform`).

#![warn(missing_docs)]

pub mod azure2019;
pub mod choice;
pub mod durations;
pub mod io;
pub mod limits;
pub mod load;
pub mod native;
pub mod ops;
pub mod rng;
pub mod rows;
pub mod stats;
pub mod synth;
pub mod trace;
pub mod transform;
pub mod units;

pub use choice::Choice;
pub use load::{open, Format, LoadOptions};
pub use synth::default_bursty;
pub use trace::{BoxedTrace, FunctionId, Invocation, TraceMeta, TraceStream, VecTrace};

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
    /// A file whose format could not be recognised or that lacks something the loader needs.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What was expected, what was found and how to fix it.
        message: String,
    },
}

impl TraceError {
    /// A [`TraceError::Parse`].
    pub fn parse(path: &str, line: u64, column: u64, message: impl Into<String>) -> Self {
        TraceError::Parse {
            path: path.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A [`TraceError::Param`].
    pub fn param(name: &str, message: impl Into<String>) -> Self {
        TraceError::Param {
            name: name.to_string(),
            message: message.into(),
        }
    }

    /// A [`TraceError::Io`].
    pub fn io(path: &str, source: std::io::Error) -> Self {
        TraceError::Io {
            path: path.to_string(),
            source,
        }
    }

    /// A [`TraceError::Format`].
    pub fn format(path: &str, message: impl Into<String>) -> Self {
        TraceError::Format {
            path: path.to_string(),
            message: message.into(),
        }
    }
}
