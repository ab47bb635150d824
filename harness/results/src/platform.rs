//! Results of `unitlab replay`, `unitlab simulate` and `unitlab validate`: what a platform policy
//! did with a trace, and what waiting cost.
//!
//! Replay (real backend, real clock) and simulation (virtual clock, calibrated latencies) write
//! the same files, so that a report can put them side by side:
//!
//! ```text
//! <out>/<UTC time>-<replay|simulate>-<backend>/
//!   summary.json               PlatformSummary: one PlatformRun per policy, comparisons
//!   <policy>/invocations.csv   one InvocationRecord per invocation (replay; simulate on request)
//!   <policy>/units.csv         one UnitRecord per unit (replay; simulate on request)
//!   <policy>/busy.csv          BusyInterval rows (replay)
//!   <policy>/memory.csv        UnitMemorySample rows (replay)
//!   <policy>/timeline.csv      TimelineBin rows: mean live / starting / executing / idle units
//! <out>/<UTC time>-validate-<backend>/validation.json   ValidationReport
//! ```
//!
//! # Cost of idle: definitions
//!
//! Every unit is, at each instant of its life, in exactly one state:
//! *starting* (from the platform's decision to create it until it can run code),
//! *executing* (at least one invocation running on it) or *idle* (alive, nothing running).
//! Unit-seconds in a state are the sum over units of the time spent in it; GB-seconds weight
//! each unit's time by its memory (GB = 10^9 bytes). A unit's memory is fixed over its life:
//! measured (replay) or calibrated (simulation), see [`PlatformRun::memory_source`].
//! Replay and simulation compute these figures with the same code.
//!
//! Money, under the prices of a [`Pricing`] file:
//! - pay per use: the user pays `gb_second` x executing GB-s + `per_million_requests`; the
//!   platform pays for starting and idle GB-s, priced here at the same `gb_second`.
//! - provisioned: alive GB-s (starting + executing + idle) x `gb_hour` / 3600.
//! - CPU time: executing unit-s x `vcpu_second` (one vCPU per executing unit) +
//!   `per_million_requests`; nothing for waiting.
//!
//! "What did waiting cost": idle GB-s and their price ([`WaitingCost`]). "What did avoiding cold
//! starts cost": against the no-keep-alive run of the same trace and backend, the extra
//! alive GB-s (starting + idle) divided by the cold starts avoided ([`AvoidanceCost`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use unitlab_backend::{BackendInfo, FunctionSpec};

use crate::{EnvRecord, Summary};

/// Schema tag of a platform `summary.json`.
pub const PLATFORM_SCHEMA: &str = "unitlab.platform/2";
/// The previous schema tag of a `summary.json`: its runs carry the policy only as text
/// (`policy_settings`), without [`PolicyFacts`]. Readers refuse it by name.
pub const PLATFORM_SCHEMA_V1: &str = "unitlab.platform/1";
/// Schema tag of a `validation.json`.
pub const VALIDATION_SCHEMA: &str = "unitlab.validate/1";

/// Replay on a real backend, or simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// Real backend, real (possibly scaled) clock.
    Replay,
    /// Discrete-event simulation with calibrated latencies.
    Simulate,
}

/// What the trace was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceInfo {
    /// Generator and parameters, or file and loader settings.
    pub source: String,
    /// Number of distinct functions.
    pub functions: u64,
    /// Invocations read.
    pub invocations: u64,
    /// Arrival of the last invocation, ns since the trace start.
    pub last_arrival_ns: u64,
    /// Trace seed, when there is one.
    pub seed: Option<u64>,
}

/// Invocation counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Invocations that arrived.
    pub invocations: u64,
    /// Invocations that completed (successfully or not).
    pub completed: u64,
    /// Invocations that ran on a unit started for them.
    pub cold_starts: u64,
    /// Invocations that ran on a unit that was already up.
    pub warm_starts: u64,
    /// Invocations rejected because the unit cap was reached.
    pub rejected: u64,
    /// Invocations that waited in the cap queue.
    pub queued: u64,
    /// Invocations whose start or invoke failed (replay).
    pub failed: u64,
    /// Units started on demand (cold starts and pre-warms).
    pub units_started: u64,
    /// Units started by a pre-warm decision (hybrid histogram).
    pub units_prewarmed: u64,
    /// Units provisioned before the trace began.
    pub units_provisioned: u64,
    /// Units destroyed to make room under the cap.
    pub units_evicted: u64,
    /// `cold_starts / (cold_starts + warm_starts)`; `None` when nothing ran.
    pub cold_rate: Option<f64>,
}

/// Latency summaries, ns. In replay with a time scale, these are wall-clock durations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// Time in the cap queue, over the invocations that waited.
    pub queue_wait: Summary,
    /// Start-up time of the unit an invocation waited for, over cold invocations.
    pub startup: Summary,
    /// Execution time (dispatch to completion).
    pub execution: Summary,
    /// Arrival to completion, all completed invocations.
    pub end_to_end: Summary,
    /// Arrival to completion, cold invocations.
    pub end_to_end_cold: Summary,
    /// Arrival to completion, warm invocations.
    pub end_to_end_warm: Summary,
}

/// A quantity split by unit state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StateSplit {
    /// Starting.
    pub starting: f64,
    /// Executing (at least one invocation running).
    pub executing: f64,
    /// Idle: alive, nothing running.
    pub idle: f64,
}

impl StateSplit {
    /// Starting + executing + idle.
    pub fn alive(&self) -> f64 {
        self.starting + self.executing + self.idle
    }
}

/// Resource use of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Unit-seconds per state.
    pub unit_seconds: StateSplit,
    /// GB-seconds per state (GB = 10^9 bytes); `None` when a unit's memory is unknown.
    pub gb_seconds: Option<StateSplit>,
    /// Observation window: from 0 to the last unit's destruction, seconds.
    pub window_s: f64,
    /// Time-average live units over the window.
    pub mean_live_units: Option<f64>,
    /// Time-average idle units over the window.
    pub mean_idle_units: Option<f64>,
    /// Time-average executing units over the window.
    pub mean_executing_units: Option<f64>,
    /// Most units alive at once.
    pub peak_live_units: u64,
    /// `idle / alive` unit-seconds: the share of unit life spent waiting.
    pub idle_share: Option<f64>,
}

/// Prices, from a TOML file (`harness/platform/pricing.toml` is the default). Absent sections
/// are models that are not computed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    /// Where the prices come from (free text, shown in reports).
    #[serde(default)]
    pub note: String,
    /// Currency label.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Pay per use (AWS Lambda style).
    pub pay_per_use: Option<PayPerUsePrices>,
    /// Provisioned capacity, billed while alive.
    pub provisioned: Option<ProvisionedPrices>,
    /// CPU-time billing (Cloudflare Workers style).
    pub cpu_time: Option<CpuTimePrices>,
}

fn default_currency() -> String {
    "USD".into()
}

/// What a pricing model's "GB" is. AWS Lambda bills memory in MB / 1024 x seconds (a
/// 128 MB function is 0.125 GB), so its GB is a GiB (2^30 bytes); a decimal GB is 10^9 bytes.
/// Usage is accounted in bytes; a price applies to `bytes / MemoryUnit::bytes()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemoryUnit {
    /// 10^9 bytes (what unitlab assumed before the unit was stated; the default of a file
    /// that does not name one).
    #[default]
    #[serde(rename = "GB")]
    Gb,
    /// 2^30 bytes (AWS Lambda's GB-second).
    #[serde(rename = "GiB")]
    Gib,
}

impl MemoryUnit {
    /// Bytes in one unit.
    pub fn bytes(self) -> f64 {
        match self {
            MemoryUnit::Gb => 1e9,
            MemoryUnit::Gib => 1_073_741_824.0,
        }
    }

    /// Factor from decimal GB-s (10^9 byte-seconds, how usage is recorded) to this unit.
    pub fn from_decimal_gb(self) -> f64 {
        1e9 / self.bytes()
    }

    /// "GB" or "GiB".
    pub fn name(self) -> &'static str {
        match self {
            MemoryUnit::Gb => "GB",
            MemoryUnit::Gib => "GiB",
        }
    }
}

/// Pay-per-use prices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PayPerUsePrices {
    /// Price of one GB-second of execution (GB as `memory_unit` says).
    pub gb_second: f64,
    /// Price of one million requests.
    #[serde(default)]
    pub per_million_requests: f64,
    /// What the provider's GB is.
    #[serde(default)]
    pub memory_unit: MemoryUnit,
}

/// Provisioned-capacity prices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProvisionedPrices {
    /// Price of one GB-hour of a unit kept alive (GB as `memory_unit` says).
    pub gb_hour: f64,
    /// What the provider's GB is.
    #[serde(default)]
    pub memory_unit: MemoryUnit,
}

/// CPU-time prices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuTimePrices {
    /// Price of one vCPU-second of execution.
    pub vcpu_second: f64,
    /// Price of one million requests.
    #[serde(default)]
    pub per_million_requests: f64,
}

/// Money under one pricing model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCost {
    /// What the user is billed.
    pub billed: f64,
    /// The same model's price of the idle time (paid by the user under provisioned, by the
    /// platform under pay per use, by nobody under CPU time).
    pub idle: f64,
    /// The price of the starting time.
    pub starting: f64,
    /// The price of everything alive: starting + executing + idle (+ requests where billed):
    /// what the platform's resources cost at this price.
    pub alive: f64,
}

/// Money under each pricing model present in the [`Pricing`]; `None` when not computable
/// (model absent, or memory unknown for GB-based models).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    /// Pay per use.
    pub pay_per_use: Option<ModelCost>,
    /// Provisioned.
    pub provisioned: Option<ModelCost>,
    /// CPU time.
    pub cpu_time: Option<ModelCost>,
}

/// What waiting (idle units) cost in a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaitingCost {
    /// Idle unit-seconds.
    pub idle_unit_seconds: f64,
    /// Idle GB-seconds.
    pub idle_gb_seconds: Option<f64>,
    /// Idle GB-s at the pay-per-use GB-s price (borne by the platform).
    pub pay_per_use: Option<f64>,
    /// Idle GB-s at the provisioned GB-hour price (borne by the user).
    pub provisioned: Option<f64>,
    /// Share of unit life spent idle.
    pub idle_share: Option<f64>,
}

/// What avoiding cold starts cost, against a baseline run (no keep-alive) of the same trace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AvoidanceCost {
    /// The baseline policy's name.
    pub baseline: String,
    /// Baseline cold starts minus this run's.
    pub cold_starts_avoided: i64,
    /// This run's alive-but-not-executing GB-s (starting + idle) minus the baseline's.
    pub extra_gb_seconds: Option<f64>,
    /// This run's alive-but-not-executing unit-s minus the baseline's.
    pub extra_unit_seconds: f64,
    /// `extra_gb_seconds / cold_starts_avoided`; `None` when nothing was avoided.
    pub gb_seconds_per_avoided_cold_start: Option<f64>,
    /// Extra GB-s at the pay-per-use price.
    pub extra_cost_pay_per_use: Option<f64>,
    /// Extra GB-s at the pay-per-use price per avoided cold start.
    pub cost_per_avoided_cold_start: Option<f64>,
    /// Baseline mean end-to-end latency minus this run's, ns.
    pub mean_latency_saved_ns: Option<f64>,
    /// Baseline p99 end-to-end latency minus this run's, ns.
    pub p99_latency_saved_ns: Option<f64>,
}

/// What was used to turn unit time into GB-s.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemorySource {
    /// `measured` (replay), `calibration`, `override`, plus `+trace` when the trace's own
    /// memory column was added.
    pub kind: String,
    /// Mean memory per unit, bytes, over units with a known memory.
    pub mean_bytes_per_unit: Option<f64>,
}

/// Calibration record of a simulated backend (what the simulator assumed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRecord {
    /// Backend name.
    pub backend: String,
    /// Where the numbers come from (`measure:<dir>` or `assume:<name>:..` or `override`).
    pub source: String,
    /// Start-up latency model (`percentiles`, `fixed`).
    pub startup_model: String,
    /// Start-up p50 assumed, ns.
    pub startup_p50_ns: Option<u64>,
    /// Extra time of a unit's first invoke over a warm one, ns.
    pub first_invoke_extra_ns: u64,
    /// Per-invoke overhead added to every execution, ns.
    pub invoke_overhead_ns: u64,
    /// Memory per unit, bytes.
    pub memory_bytes_per_unit: Option<u64>,
    /// Execution-time model for invocations without a duration.
    pub execution_model: String,
}

/// A policy's facts as typed values, for readers (the report) that must not parse
/// [`PlatformRun::policy_settings`]' text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyFacts {
    /// Keep-alive after an execution, ns: `Some(0)` for none, `Some(ns)` for a fixed
    /// keep-alive, `None` when it is adaptive (the hybrid histogram decides per function).
    pub keep_alive_ns: Option<u64>,
    /// True for the no-keep-alive, nothing-provisioned baseline other runs are compared to.
    pub baseline: bool,
    /// Units provisioned per function.
    pub provisioned: u32,
    /// Idle-unit pick rule (`mru`, `lru`, `newest`).
    pub pick: String,
    /// Cap on total live units, if any.
    pub cap: Option<u32>,
    /// Invocations one unit runs at once.
    pub concurrency: u32,
}

/// One policy's run over a trace on one backend: the core of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformRun {
    /// Replay or simulate.
    pub kind: RunKind,
    /// Backend name.
    pub backend: String,
    /// Policy name (directory name of its CSV files).
    pub policy: String,
    /// The policy's full settings, as text (for people; readers use [`PlatformRun::facts`]).
    pub policy_settings: BTreeMap<String, String>,
    /// The policy's facts, typed.
    pub facts: PolicyFacts,
    /// Invocation counts.
    pub counts: Counts,
    /// Latencies, ns.
    pub latency: Latencies,
    /// Resource use.
    pub usage: Usage,
    /// Memory source for GB-s.
    pub memory_source: MemorySource,
    /// Money.
    pub costs: Costs,
    /// What waiting cost.
    pub waiting: WaitingCost,
    /// What avoiding cold starts cost, against the baseline (None for the baseline itself or
    /// when no baseline ran).
    pub avoidance: Option<AvoidanceCost>,
    /// Simulated: the calibration used.
    pub calibration: Option<CalibrationRecord>,
    /// Wall-clock seconds the run took (simulated: on its own thread, summed over its shards
    /// when its functions were split into shards, so it is the run's cost either way).
    pub run_seconds: f64,
    /// Invocations handled per wall-clock second (simulation speed, per `run_seconds`;
    /// replay: the trace's rate).
    pub invocations_per_second: Option<f64>,
    /// Things the reader must know.
    pub warnings: Vec<String>,
    /// Replay only: what the harness itself added to the start-ups and executions above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<HarnessOverhead>,
}

/// Replay's own share of its latencies, wall-clock ns, from instants taken on both sides of
/// the hand-off between the replay's main thread and its worker threads. A replayed start-up
/// is `start_handoff + backend_start`, an execution `invoke_handoff + backend_invoke` (+ the
/// trace's hold): the hand-offs are the harness's cost, the rest the backend's. The simulator
/// models only the backend's part (its calibration is measured without hand-offs), so
/// `unitlab validate` compares `backend_start` with the simulated start-up as well.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HarnessOverhead {
    /// Main thread sending a start to a worker beginning `Prepared::start`.
    pub start_handoff: Summary,
    /// Main thread sending an invoke to a worker beginning `Unit::invoke`.
    pub invoke_handoff: Summary,
    /// `Prepared::start` as timed on the worker.
    pub backend_start: Summary,
    /// `Unit::invoke` as timed on the worker.
    pub backend_invoke: Summary,
    /// A worker finishing to the main thread handling its result. Events are stamped with
    /// the worker's instant, so this lag does not shift event times; it shows how busy the
    /// main thread was.
    pub report_lag: Summary,
}

impl HarnessOverhead {
    /// Each part with its label, in the order a replayed call goes through them.
    pub fn parts(&self) -> [(&'static str, &Summary); 5] {
        [
            ("start handoff", &self.start_handoff),
            ("backend start", &self.backend_start),
            ("invoke handoff", &self.invoke_handoff),
            ("backend invoke", &self.backend_invoke),
            ("report lag", &self.report_lag),
        ]
    }
}

/// `summary.json` of a replay or simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformSummary {
    /// [`PLATFORM_SCHEMA`].
    pub schema: String,
    /// Replay or simulate.
    pub kind: RunKind,
    /// The backend (replay: the real backend's info; simulate: name only).
    pub backend: BackendInfo,
    /// The function replayed (replay only).
    pub function: Option<FunctionSpec>,
    /// The trace.
    pub trace: TraceInfo,
    /// Replay: trace time / wall time (1 = real time).
    pub time_scale: f64,
    /// The run's seed (simulation sampling, trace generation).
    pub seed: u64,
    /// Prices used.
    pub pricing: Pricing,
    /// The machine.
    pub env: Option<EnvRecord>,
    /// One entry per policy, baseline first when present.
    pub runs: Vec<PlatformRun>,
}

/// Outcome of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Completed.
    Ok,
    /// Rejected at the cap.
    Rejected,
    /// Start or invoke failed.
    Failed,
}

/// One row of `invocations.csv`. Times in ns since the trace start (trace time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationRecord {
    /// Position in the trace (0-based).
    pub seq: u64,
    /// Function id in the trace.
    pub function: u32,
    /// Arrival.
    pub arrival_ns: u64,
    /// Time in the cap queue.
    pub queue_ns: u64,
    /// Ran on a unit started for it.
    pub cold: bool,
    /// Start-up time waited for (cold only).
    pub startup_ns: u64,
    /// Execution time.
    pub exec_ns: u64,
    /// Arrival to completion.
    pub e2e_ns: u64,
    /// Unit id (`u64::MAX`-free: absent when rejected).
    pub unit: Option<u64>,
    /// Ok, rejected, failed.
    pub outcome: Outcome,
}

/// One row of `units.csv`. Times in ns since the trace start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Unit id (start order).
    pub unit: u64,
    /// Function id.
    pub function: u32,
    /// Provisioned before the trace.
    pub provisioned: bool,
    /// Started by a pre-warm decision.
    pub prewarmed: bool,
    /// When the platform decided to start it.
    pub created_ns: u64,
    /// When it could run code (None if it never started).
    pub ready_ns: Option<u64>,
    /// When it was destroyed.
    pub destroyed_ns: u64,
    /// Time starting.
    pub starting_ns: u64,
    /// Time executing.
    pub executing_ns: u64,
    /// Time idle.
    pub idle_ns: u64,
    /// Invocations it served.
    pub invocations: u64,
    /// Memory used for GB-s, bytes.
    pub memory_bytes: Option<u64>,
    /// The backend's unit id (replay).
    pub backend_id: Option<String>,
}

/// One row of `busy.csv`: a unit executing from `start_ns` to `end_ns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusyInterval {
    /// Unit id.
    pub unit: u64,
    /// Start, ns.
    pub start_ns: u64,
    /// End, ns.
    pub end_ns: u64,
}

/// One row of `memory.csv`: a memory reading of a live unit (replay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitMemorySample {
    /// Unit id.
    pub unit: u64,
    /// When, ns since the trace start.
    pub t_ns: u64,
    /// Engine view, bytes.
    pub engine_bytes: Option<u64>,
    /// Host view, bytes.
    pub host_bytes: Option<u64>,
}

/// One row of `timeline.csv`: time-average unit counts in a bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineBin {
    /// Bin start, seconds since the trace start.
    pub t_s: f64,
    /// Bin width, seconds.
    pub width_s: f64,
    /// Mean live units (starting + executing + idle).
    pub live: f64,
    /// Mean starting units.
    pub starting: f64,
    /// Mean executing units.
    pub executing: f64,
    /// Mean idle units.
    pub idle: f64,
    /// Arrivals in the bin.
    pub arrivals: u64,
    /// Cold starts in the bin.
    pub cold_starts: u64,
}

/// One compared figure of `unitlab validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// Figure name.
    pub name: String,
    /// Replay's value.
    pub replay: Option<f64>,
    /// Simulation's value.
    pub simulate: Option<f64>,
    /// simulate - replay.
    pub absolute: Option<f64>,
    /// (simulate - replay) / replay.
    pub relative: Option<f64>,
}

impl Difference {
    /// Compares two optional figures.
    pub fn new(name: &str, replay: Option<f64>, simulate: Option<f64>) -> Self {
        let absolute = match (replay, simulate) {
            (Some(r), Some(s)) => Some(s - r),
            _ => None,
        };
        let relative = match (replay, absolute) {
            (Some(r), Some(a)) if r != 0.0 => Some(a / r),
            _ => None,
        };
        Difference {
            name: name.to_string(),
            replay,
            simulate,
            absolute,
            relative,
        }
    }
}

/// `validation.json`: replay and simulation of the same trace, compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// [`VALIDATION_SCHEMA`].
    pub schema: String,
    /// Backend.
    pub backend: String,
    /// Policy.
    pub policy: String,
    /// The trace.
    pub trace: TraceInfo,
    /// The calibration the simulation used.
    pub calibration: CalibrationRecord,
    /// Cold starts, p50 / p99 end-to-end latency, idle GB-s, ...
    pub differences: Vec<Difference>,
    /// The replay run.
    pub replay: PlatformRun,
    /// The simulated run.
    pub simulate: PlatformRun,
    /// Things the reader must know.
    pub warnings: Vec<String>,
}

impl PlatformSummary {
    /// Reads a `summary.json` (or a directory holding one).
    pub fn load(path: &std::path::Path) -> Result<PlatformSummary, crate::ResultsError> {
        #[derive(Deserialize)]
        struct Tag {
            #[serde(default)]
            schema: String,
        }
        let tag: Tag = load_json(path, "summary.json")?;
        if tag.schema == PLATFORM_SCHEMA_V1 {
            let file = if path.is_dir() {
                path.join("summary.json")
            } else {
                path.to_path_buf()
            };
            return Err(crate::ResultsError::OldSchema {
                path: file.display().to_string(),
                found: tag.schema,
                expected: PLATFORM_SCHEMA.into(),
            });
        }
        load_json(path, "summary.json")
    }
}

impl ValidationReport {
    /// Reads a `validation.json` (or a directory holding one).
    pub fn load(path: &std::path::Path) -> Result<ValidationReport, crate::ResultsError> {
        load_json(path, "validation.json")
    }
}

fn load_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    name: &str,
) -> Result<T, crate::ResultsError> {
    let file = if path.is_dir() {
        path.join(name)
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| crate::ResultsError::Io {
        path: file.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| crate::ResultsError::Json {
        path: file.display().to_string(),
        source,
    })
}

/// The `<policy>` directory name of a policy (see the layout above): ASCII letters, digits and
/// `-_.+@,` kept, anything else `_`.
pub fn policy_dir_name(policy: &str) -> String {
    policy
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+@,".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A summary written before the policy facts were typed is refused by name, with the fix.
    #[test]
    fn an_older_summary_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("unitlab-schema-v1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("summary.json"),
            r#"{"schema":"unitlab.platform/1","kind":"simulate","runs":[]}"#,
        )
        .unwrap();
        let err = PlatformSummary::load(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let text = err.to_string();
        assert!(
            matches!(err, crate::ResultsError::OldSchema { .. }),
            "{text}"
        );
        assert!(
            text.contains("unitlab.platform/1") && text.contains("re-run"),
            "{text}"
        );
    }
}
