//! The trace operations behind `unitlab trace ...`, as typed functions: [`generate`],
//! [`stats`], [`slice`] and [`scale`]. Each takes typed values (a [`Pattern`] and
//! [`GenConfig`], a file and its [`LoadOptions`], the transform's settings), writes the
//! native output file where there is one, and returns what it did together with the notes a
//! user should see (e.g. that an unsorted file was sorted on load).

use crate::load::{open, LoadOptions};
use crate::stats::TraceStats;
use crate::synth::{GenConfig, Pattern, Synthetic};
use crate::trace::{BoxedTrace, TraceStream};
use crate::transform::{Scale, Slice};
use crate::TraceError;
use std::path::{Path, PathBuf};

/// A trace operation's failure: which step, on which file.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The input could not be opened (format, header, first rows).
    #[error("opening trace {}", path.display())]
    Open {
        /// The input file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: TraceError,
    },
    /// The input failed while being read.
    #[error("reading {}", path.display())]
    Read {
        /// The input file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: TraceError,
    },
    /// The output could not be written (or the input failed while streaming into it).
    #[error("writing {}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: TraceError,
    },
    /// A parameter out of range (named in the error).
    #[error(transparent)]
    Invalid(#[from] TraceError),
}

/// What an operation produced, and what the user should be told about its input.
#[derive(Debug, Clone, PartialEq)]
pub struct Done<T> {
    /// The result: invocations written, or the statistics.
    pub value: T,
    /// Notes about the input (e.g. `sorted on load`), empty if none.
    pub notes: Vec<String>,
}

fn open_input(file: &Path, load: &LoadOptions) -> Result<(BoxedTrace, Vec<String>), OpError> {
    let s = open(file, load).map_err(|source| OpError::Open {
        path: file.to_path_buf(),
        source,
    })?;
    let notes = if s.meta().source.contains("sorted on load") {
        vec![s.meta().source.clone()]
    } else {
        Vec::new()
    };
    Ok((s, notes))
}

fn write(stream: impl TraceStream, output: &Path) -> Result<u64, OpError> {
    crate::native::write(stream, output).map_err(|source| OpError::Write {
        path: output.to_path_buf(),
        source,
    })
}

/// Generates a seeded synthetic trace into `output` (native format; `.gz` compresses, `-`
/// is standard output). Returns the number of invocations written.
pub fn generate(pattern: &Pattern, config: &GenConfig, output: &Path) -> Result<u64, OpError> {
    let g = Synthetic::new(pattern, config)?;
    write(g, output)
}

/// The statistics of a trace file: rates per `window_ns` window (> 0) and the `top` most
/// invoked functions.
pub fn stats(
    file: &Path,
    load: &LoadOptions,
    window_ns: u64,
    top: usize,
) -> Result<Done<TraceStats>, OpError> {
    let (s, notes) = open_input(file, load)?;
    let value = crate::stats::compute(s, window_ns, top).map_err(|source| OpError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    Ok(Done { value, notes })
}

/// What [`slice`] keeps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SliceSpec {
    /// Window start, ns.
    pub from_ns: u64,
    /// Window end (exclusive), ns; `None`: to the end.
    pub to_ns: Option<u64>,
    /// Function names or ids to keep; empty: all.
    pub functions: Vec<String>,
    /// Shift arrivals so the window starts at 0.
    pub rebase: bool,
}

/// Cuts a time window and/or some functions out of a trace file into `output` (native).
/// Returns the number of invocations written.
pub fn slice(
    file: &Path,
    load: &LoadOptions,
    spec: &SliceSpec,
    output: &Path,
) -> Result<Done<u64>, OpError> {
    let (s, notes) = open_input(file, load)?;
    let sl = Slice::new(s, spec.from_ns, spec.to_ns, &spec.functions, spec.rebase)?;
    Ok(Done {
        value: write(sl, output)?,
        notes,
    })
}

/// How [`scale`] changes a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleSpec {
    /// Multiplies arrival times (< 1 compresses time and raises the rate); > 0.
    pub time_factor: f64,
    /// Multiplies the rate without changing the time axis (< 1 thins, > 1 thickens); > 0.
    pub rate_factor: f64,
    /// Seed for thinning and thickening.
    pub seed: u64,
}

impl Default for ScaleSpec {
    fn default() -> Self {
        ScaleSpec {
            time_factor: 1.0,
            rate_factor: 1.0,
            seed: 0,
        }
    }
}

/// Compresses or stretches time and thins or thickens the rate of a trace file into
/// `output` (native). Returns the number of invocations written.
pub fn scale(
    file: &Path,
    load: &LoadOptions,
    spec: &ScaleSpec,
    output: &Path,
) -> Result<Done<u64>, OpError> {
    let (s, notes) = open_input(file, load)?;
    let sc = Scale::new(s, spec.time_factor, spec.rate_factor, spec.seed)?;
    Ok(Done {
        value: write(sc, output)?,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Process;

    #[test]
    fn generate_stats_slice_scale() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t.csv");
        let pattern = Pattern::Single(Process::Periodic {
            period_s: 0.1,
            jitter_s: 0.0,
            offset_s: 0.0,
        });
        let config = GenConfig {
            span_s: 10.0,
            ..Default::default()
        };
        assert_eq!(generate(&pattern, &config, &t).unwrap(), 100);
        let load = LoadOptions::default();
        let st = stats(&t, &load, 1_000_000_000, 3).unwrap();
        assert_eq!(st.value.invocations, 100);
        assert!(st.notes.is_empty());
        let cut = SliceSpec {
            from_ns: 1_000_000_000,
            to_ns: Some(2_000_000_000),
            ..Default::default()
        };
        let out = dir.path().join("s.csv");
        assert_eq!(slice(&t, &load, &cut, &out).unwrap().value, 10);
        let e = scale(
            &t,
            &load,
            &ScaleSpec {
                time_factor: 0.0,
                ..Default::default()
            },
            &out,
        )
        .unwrap_err();
        assert!(matches!(e, OpError::Invalid(_)), "{e}");
        let e = stats(&dir.path().join("none.csv"), &load, 1, 1).unwrap_err();
        assert!(e.to_string().starts_with("opening trace "), "{e}");
    }
}
