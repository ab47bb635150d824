//! Results of the scale-out experiments: `unitlab burst` (N cold starts released at once) and
//! `unitlab density` (units started one by one under a kernel-enforced memory limit).
//!
//! A burst results directory:
//!
//! ```text
//! <out>/<UTC time>-burst-<backend>-<function>/
//!   samples.csv      one row per unit of every level, see BurstSample
//!   summary.json     BurstResult
//! ```
//!
//! A density results directory:
//!
//! ```text
//! <out>/<UTC time>-density-<backend>-<function>/
//!   units.csv        one row per unit started, see DensityUnit
//!   summary.json     DensityResult
//! ```
//!
//! Every time in a burst is relative to the *release*: the instant the barrier opened.

use serde::{Deserialize, Serialize};
use unitlab_backend::{BackendInfo, FunctionSpec};

use crate::{EnvRecord, ErrorRecord, Overhead, ResultsError, Summary};

/// Schema tag of a burst `summary.json`.
pub const BURST_SCHEMA: &str = "unitlab.burst/1";
/// Schema tag of a density `summary.json`.
pub const DENSITY_SCHEMA: &str = "unitlab.density/1";

/// One unit of a burst: its times relative to the release, in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstSample {
    /// The burst level (N) this unit belonged to.
    pub level: u32,
    /// Unit number within the level.
    pub unit: u32,
    /// The thread that started it.
    pub thread: u32,
    /// Release -> `start` called (the wait for a thread, including the barrier's wake-up).
    pub dispatch_ns: u64,
    /// Release -> `start` returned.
    pub started_ns: u64,
    /// Release -> first response returned (0 when the unit failed).
    pub answered_ns: u64,
    /// The unit's own cold start under contention: `start` called -> first response.
    pub cold_ns: u64,
    /// Harness work on this thread after the previous unit's answer and before this unit's
    /// `start` (verification, recording); 0 for a thread's first unit.
    pub harness_ns: u64,
    /// The unit answered and the answer was right (or unverifiable user code answered).
    pub ok: bool,
    /// The answer was checked against the reference.
    pub verified: bool,
}

/// One burst level's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstLevel {
    /// N: units released at once.
    pub concurrency: u32,
    /// Threads that started them.
    pub threads: u32,
    /// Units that answered correctly.
    pub answered: u32,
    /// Units that failed to start or answer (each in `errors`).
    pub failures: u32,
    /// Release -> the last correct answer, when every unit answered; `None` when any failed
    /// (then the level did not scale out).
    pub scale_out_ns: Option<u64>,
    /// Release -> the last answer of those that answered.
    pub last_answer_ns: Option<u64>,
    /// Answered units per second of `last_answer_ns`.
    pub units_per_second: Option<f64>,
    /// Each unit's cold start under contention (`start` called -> first response), ns.
    pub cold: Summary,
    /// Release -> first response per unit (queueing included), ns.
    pub response: Summary,
    /// Release -> `start` called per unit, ns.
    pub dispatch: Summary,
    /// The harness's own work between units on a thread, ns.
    pub harness: Summary,
    /// How long the barrier took to wake every thread: the latest first `start` call of any
    /// thread, ns after the release.
    pub release_skew_ns: u64,
    /// Stopping every unit of the level afterwards (outside every timing), ns.
    pub stop_ns: u64,
    /// Failures, one per failed unit.
    pub errors: Vec<ErrorRecord>,
}

/// How a burst was configured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BurstConfig {
    /// The levels asked for.
    pub levels: Vec<u32>,
    /// Threads asked for (`None`: the backend's default per level).
    pub threads: Option<u32>,
    /// Request size.
    pub size: u32,
}

/// One `unitlab burst` run: `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstResult {
    /// [`BURST_SCHEMA`].
    pub schema: String,
    /// The backend.
    pub backend: BackendInfo,
    /// The function.
    pub function: FunctionSpec,
    /// The configuration.
    pub config: BurstConfig,
    /// The machine.
    pub env: EnvRecord,
    /// The harness's timer and per-sample cost.
    pub overhead: Overhead,
    /// Prepare time, ns (never part of a burst).
    pub prepare_ns: u64,
    /// One entry per level, in order.
    pub levels: Vec<BurstLevel>,
    /// Warnings for the reader.
    pub warnings: Vec<String>,
}

/// Why a density run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DensityStop {
    /// The kernel's OOM killer killed a process in the cgroup.
    OomKill,
    /// A unit failed to start or to answer (the backend said why, e.g. "out of memory").
    StartError,
    /// The run hit `--max-units` or `--max-time` before any failure: a lower bound.
    Cap,
}

impl DensityStop {
    /// A short phrase for tables.
    pub fn describe(self) -> &'static str {
        match self {
            DensityStop::OomKill => "OOM kill",
            DensityStop::StartError => "start error",
            DensityStop::Cap => "cap reached (lower bound)",
        }
    }
}

/// One unit a density run started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DensityUnit {
    /// Unit number, in start order.
    pub unit: u32,
    /// `start` + first invoke, ns.
    pub cold_ns: u64,
    /// The cgroup's memory usage after this unit answered, bytes.
    pub usage_bytes: Option<u64>,
}

/// The memory cgroup a density run used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupRecord {
    /// 1 or 2.
    pub version: u8,
    /// Its directory.
    pub path: String,
    /// The memory limit written, bytes.
    pub limit_bytes: u64,
    /// How swap was kept out ("memsw limit = limit", "memory.swap.max = 0", or why not).
    pub swap: String,
    /// The host's swap total, bytes (from `/proc/meminfo`).
    pub host_swap_bytes: u64,
}

/// One `unitlab density` run: `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DensityResult {
    /// [`DENSITY_SCHEMA`].
    pub schema: String,
    /// The backend.
    pub backend: BackendInfo,
    /// The function.
    pub function: FunctionSpec,
    /// The machine.
    pub env: EnvRecord,
    /// The budget, bytes: the cgroup's limit.
    pub budget_bytes: u64,
    /// The cgroup.
    pub cgroup: CgroupRecord,
    /// Units started, answered correctly and alive together at the end.
    pub units_reached: u32,
    /// Usage once the backend was prepared and before the first unit (the runtime itself), bytes.
    pub baseline_bytes: Option<u64>,
    /// Usage after the last unit that answered, bytes.
    pub usage_end_bytes: Option<u64>,
    /// (usage at the end - baseline) / units: each unit's cost, bytes.
    pub bytes_per_unit: Option<f64>,
    /// Budget / units reached: each unit's share of the budget, runtime included, bytes.
    pub budget_per_unit: Option<f64>,
    /// The cgroup's peak usage, bytes.
    pub max_usage_bytes: Option<u64>,
    /// How often the limit was hit (`memory.failcnt`, or `max` events in v2).
    pub limit_hits: Option<u64>,
    /// OOM kills the kernel counted in the cgroup.
    pub oom_kills: Option<u64>,
    /// Why the run stopped.
    pub stop: DensityStop,
    /// What was seen when it stopped (the error, the exit signal, the cap).
    pub stop_detail: String,
    /// Cold starts of the first units (up to 10), ns.
    pub first_cold: Summary,
    /// Cold starts of the last units (up to 10, after the first ones), ns.
    pub last_cold: Summary,
    /// Warnings for the reader.
    pub warnings: Vec<String>,
}

fn load_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, ResultsError> {
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

impl BurstResult {
    /// Reads a burst `summary.json` (or a directory holding one).
    pub fn load(path: &std::path::Path) -> Result<BurstResult, ResultsError> {
        load_json(path)
    }
}

impl DensityResult {
    /// Reads a density `summary.json` (or a directory holding one).
    pub fn load(path: &std::path::Path) -> Result<DensityResult, ResultsError> {
        load_json(path)
    }
}

/// The schema tag of a `summary.json`, without parsing the rest.
pub fn schema_of(path: &std::path::Path) -> Option<String> {
    #[derive(Deserialize)]
    struct Tag {
        schema: String,
    }
    load_json::<Tag>(path).ok().map(|t| t.schema)
}
