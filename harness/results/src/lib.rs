//! The result schema shared by the harness (which writes it) and the reports (which read it).
//!
//! Raw data first (after ripgrep's `benchsuite/` and hyperfine's exports): every sample is kept
//! in `samples.csv`, beside a `summary.json` holding the summaries, the environment record, the
//! backend's versions and settings, and the harness's own overhead. A results directory holds
//! one measurement:
//!
//! ```text
//! <out>/<UTC time>-<backend>-<function>/
//!   summary.json     MeasureResult
//!   samples.csv      one row per sample (cold and warm), see Sample
//!   memory.csv       one row per memory reading, see MemorySample
//! ```
//!
//! A results directory appears complete or not at all: it is written as a hidden partial
//! directory and renamed when done ([`dir`]).
//!
//! Statistics follow hyperfine's rule: a figure that cannot be computed is `None`, never 0.

#![warn(missing_docs)]

pub mod dir;
pub mod frontier;
pub mod platform;
pub mod scale;
pub mod stats;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use unitlab_backend::{BackendInfo, FunctionSpec, Phase, Request};

pub use stats::Summary;

/// Schema tag written into every `summary.json`.
pub const MEASURE_SCHEMA: &str = "unitlab.measure/1";

/// The machine and software a result was measured on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvRecord {
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Logical cores.
    pub cores: usize,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// `uname -r`.
    pub kernel: String,
    /// `PRETTY_NAME` from `/etc/os-release`.
    pub os: String,
    /// The rustc that built unitlab.
    pub rustc: String,
    /// unitlab's version.
    pub unitlab: String,
    /// `git rev-parse HEAD` of the checkout, when there is one.
    pub git_commit: Option<String>,
    /// The run's seed.
    pub seed: u64,
    /// UTC time the run started, RFC 3339.
    pub time: String,
    /// Anything else worth recording (governor, `vm.max_map_count`, ...).
    pub extra: BTreeMap<String, String>,
}

/// Whether a sample is a cold start or a warm invoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleKind {
    /// `start` plus the first invoke.
    Cold,
    /// An invoke on a unit that already served one.
    Warm,
}

/// One timed sample. Cold samples carry the start/first-invoke split and the phases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Cold or warm.
    pub kind: SampleKind,
    /// Which unit (0-based, in start order).
    pub unit: u32,
    /// Invoke number on that unit (0 for the cold start's first invoke).
    pub invoke: u32,
    /// Total nanoseconds: for cold, `start_ns + invoke_ns`.
    pub total_ns: u64,
    /// Nanoseconds in `start` (cold only, else 0).
    pub start_ns: u64,
    /// Nanoseconds in `invoke`.
    pub invoke_ns: u64,
    /// Execution time the guest reported, when it could.
    pub guest_ns: Option<u64>,
    /// The response was checked against the reference (false only for unverifiable user code).
    pub verified: bool,
}

/// Cold-start phases of one unit, in the backend's words (kept apart from [`Sample`] so that
/// `samples.csv` has fixed columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitPhases {
    /// Which unit.
    pub unit: u32,
    /// Its phases.
    pub phases: Vec<Phase>,
}

/// One memory reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemorySample {
    /// Which unit.
    pub unit: u32,
    /// Engine view in bytes.
    pub engine_bytes: Option<u64>,
    /// Host view in bytes.
    pub host_bytes: Option<u64>,
}

/// Memory per unit, from every view the backend has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemorySummary {
    /// Units alive when memory was read.
    pub live_units: u32,
    /// Mean engine view per unit (linear memory, V8 heap, cgroup usage), bytes.
    pub engine_bytes_per_unit: Option<f64>,
    /// Mean host view per unit (PSS/RSS of the unit's processes), bytes.
    pub host_bytes_per_unit: Option<f64>,
    /// For in-process backends: (RSS with `live_units` alive - RSS before) / `live_units`.
    pub rss_delta_per_unit: Option<f64>,
    /// Process RSS before the units were started, bytes.
    pub rss_before: Option<u64>,
    /// Process RSS with all units alive, bytes.
    pub rss_live: Option<u64>,
    /// Process RSS after all units were stopped, bytes (what the runtime kept).
    pub rss_after: Option<u64>,
}

/// Which of a unit's memory views a figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryView {
    /// PSS/RSS of the unit's own processes.
    Host,
    /// What the engine reports (Wasm linear memory, V8 heap, cgroup usage).
    Engine,
    /// The process's RSS growth per live unit (in-process backends).
    RssGrowth,
}

impl MemoryView {
    /// Its short name, as tables and charts show it.
    pub fn name(self) -> &'static str {
        match self {
            MemoryView::Host => "host",
            MemoryView::Engine => "engine",
            MemoryView::RssGrowth => "RSS growth",
        }
    }
}

impl std::fmt::Display for MemoryView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl MemorySummary {
    /// The one memory per unit that every density, cost and simulation figure uses: the host
    /// view, else the engine view, else the RSS growth per unit; `None` when none is positive.
    ///
    /// Replay reads each live unit in the same order (host, else engine), so simulation,
    /// replay, the frontier and the report's summary all price the same bytes.
    pub fn per_unit(&self) -> Option<(f64, MemoryView)> {
        [
            (self.host_bytes_per_unit, MemoryView::Host),
            (self.engine_bytes_per_unit, MemoryView::Engine),
            (self.rss_delta_per_unit, MemoryView::RssGrowth),
        ]
        .into_iter()
        .find_map(|(b, v)| b.filter(|b| *b > 0.0).map(|b| (b, v)))
    }
}

/// The harness's own cost, measured before every run (hyperfine's `time_overhead`, divan's
/// timer precision).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overhead {
    /// Smallest non-zero difference between two consecutive `Instant::now()` readings, ns.
    pub timer_resolution_ns: u64,
    /// Median cost of one empty timed sample (two clock reads and the bookkeeping), ns; `None`
    /// when the timer is too coarse to see it.
    pub per_sample_ns: Option<u64>,
    /// The same cost's p99, ns.
    pub per_sample_p99_ns: Option<u64>,
}

/// A unit or invoke that failed, kept with the result (never silently dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// Which unit.
    pub unit: u32,
    /// Invoke number, if the failure was in an invoke.
    pub invoke: Option<u32>,
    /// The error, as displayed.
    pub message: String,
}

/// How a measurement was configured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeasureConfig {
    /// Cold starts.
    pub units: u32,
    /// Warm invokes per unit after the cold one.
    pub warm_per_unit: u32,
    /// Units kept alive at once for the memory reading.
    pub memory_units: u32,
    /// The request sent.
    pub request: Option<Request>,
    /// Idle time before every timed start and invoke, ns (0: back to back). With a gap, the
    /// machine's caches and the unit cool down between calls, as under sparse traffic.
    #[serde(default)]
    pub gap_ns: u64,
}

/// One `unitlab measure` run: `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureResult {
    /// [`MEASURE_SCHEMA`].
    pub schema: String,
    /// The backend's name, versions and settings.
    pub backend: BackendInfo,
    /// The function.
    pub function: FunctionSpec,
    /// The configuration.
    pub config: MeasureConfig,
    /// The machine.
    pub env: EnvRecord,
    /// The harness's own cost.
    pub overhead: Overhead,
    /// Cold starts, total (start + first invoke), ns.
    pub cold: Summary,
    /// The `start` part of cold starts, ns.
    pub cold_start_part: Summary,
    /// The first-invoke part of cold starts, ns.
    pub cold_first_invoke: Summary,
    /// Warm invokes, ns.
    pub warm: Summary,
    /// Per named start phase, ns.
    pub phases: BTreeMap<String, Summary>,
    /// Memory per unit.
    pub memory: MemorySummary,
    /// Failures, one per failed unit or invoke.
    pub errors: Vec<ErrorRecord>,
    /// Prepare time (compile, image build), ns: reported, never part of a cold start.
    pub prepare_ns: u64,
    /// Warnings for the reader ("timer resolution is coarse", "3 outliers above 10x median").
    pub warnings: Vec<String>,
}

/// Errors reading or writing results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResultsError {
    /// File I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A result written by an older unitlab, in a schema this reader no longer reads.
    #[error("{path}: schema {found} is older than this reader's {expected}\n  fix: re-run the command that wrote it (unitlab simulate, replay or run) to rewrite it")]
    OldSchema {
        /// The file.
        path: String,
        /// Its schema tag.
        found: String,
        /// The tag this reader reads.
        expected: String,
    },
    /// Bad JSON.
    #[error("{path}: not a unitlab result: {source}")]
    Json {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
}

impl MeasureResult {
    /// Reads a `summary.json` (or a directory holding one).
    pub fn load(path: &std::path::Path) -> Result<MeasureResult, ResultsError> {
        let file = if path.is_dir() {
            path.join("summary.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| ResultsError::Io {
            path: file.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ResultsError::Json {
            path: file.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod memory_view_tests {
    use super::{MemorySummary, MemoryView};

    fn summary(host: Option<f64>, engine: Option<f64>, rss: Option<f64>) -> MemorySummary {
        MemorySummary {
            host_bytes_per_unit: host,
            engine_bytes_per_unit: engine,
            rss_delta_per_unit: rss,
            ..MemorySummary::default()
        }
    }

    #[test]
    fn host_then_engine_then_rss_growth() {
        let all = summary(Some(3.0), Some(2.0), Some(1.0));
        assert_eq!(all.per_unit(), Some((3.0, MemoryView::Host)));
        // v8 in-process: an engine heap figure and an RSS growth; the engine figure is priced.
        let in_process = summary(None, Some(1_900_000.0), Some(800_000.0));
        assert_eq!(
            in_process.per_unit(),
            Some((1_900_000.0, MemoryView::Engine))
        );
        let rss_only = summary(None, None, Some(4096.0));
        assert_eq!(rss_only.per_unit(), Some((4096.0, MemoryView::RssGrowth)));
        assert_eq!(MemoryView::RssGrowth.to_string(), "RSS growth");
    }

    #[test]
    fn a_zero_view_is_skipped_and_none_is_none() {
        let zero_host = summary(Some(0.0), Some(65536.0), None);
        assert_eq!(zero_host.per_unit(), Some((65536.0, MemoryView::Engine)));
        assert_eq!(summary(None, None, Some(-1.0)).per_unit(), None);
        assert_eq!(MemorySummary::default().per_unit(), None);
    }
}
