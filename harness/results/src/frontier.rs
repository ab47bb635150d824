//! The keep-alive frontier and the burstiness sweep (`frontier.json`, written by
//! `unitlab_platform::frontier`, read by the report).
//!
//! **Keep-alive frontier.** For each execution model (a backend with its settings, calibrated
//! by its own measurement) and each trace, the simulator runs a sweep of fixed keep-alives
//! (0 .. 20 min), the hybrid-histogram policy, and *provisioned for peak*: every function
//! holds, for the whole trace, as many units as it ever needed at once (the units an
//! unlimited keep-alive ends up with), so no invocation waits on a start. Each point gives
//! what waiting costs (idle GB-s, priced at the pay-per-use rate, per million invocations)
//! and what scaling down costs in latency (the share of invocations that waited on a start,
//! and the p99 penalty: the 99th percentile, over every invocation, of the time it waited on
//! a unit start, 0 for a warm one).
//!
//! **Memory basis.** [`MemoryBasis::Unit`] prices the unit's own measured memory (a Wasm
//! instance, an isolate, a container): what the execution model itself costs to keep. With
//! [`MemoryBasis::UnitPlusTrace`] the trace's per-invocation memory (the function's working
//! set) is added, which is the same for every model and hides their difference.
//!
//! **Bills.** A point's `memory_cost` is the memory-time the policy holds (starting +
//! executing + idle) at the pay-per-use GB-s price; provisioned for peak is priced at the
//! provisioned GB-hour price. Request fees are the same under every policy and left out.
//! GB is the pricing model's own unit (see `platform::MemoryUnit`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use unitlab_backend::Boundary;

use crate::platform::Pricing;
use crate::EnvRecord;

/// Schema tag of `frontier.json`.
pub const FRONTIER_SCHEMA: &str = "unitlab.frontier/1";

/// Which memory a unit is priced for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryBasis {
    /// The unit's own measured memory.
    #[default]
    Unit,
    /// The unit's memory plus the trace's per-invocation memory (the function's working set).
    UnitPlusTrace,
}

impl MemoryBasis {
    /// A phrase for captions.
    pub fn describe(self) -> &'static str {
        match self {
            MemoryBasis::Unit => "each unit's own measured memory (no function working set)",
            MemoryBasis::UnitPlusTrace => {
                "each unit's own measured memory plus the trace's per-invocation memory"
            }
        }
    }
}

/// One execution model of the sweep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Label (`container`, `container (image=node)`, `v8`).
    pub label: String,
    /// Backend name.
    pub backend: String,
    /// The backend's settings from its measurement.
    pub settings: BTreeMap<String, String>,
    /// Where its isolation boundary lies.
    pub boundary: Option<Boundary>,
    /// Memory per unit used for pricing, bytes (before any trace memory).
    pub memory_bytes: Option<u64>,
    /// Median start-up of the calibration, ns.
    pub startup_p50_ns: u64,
    /// The calibration's source (a measurement directory).
    pub source: String,
}

/// A trace of the sweep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// Short name (`default bursty`, `Azure-shaped day`, `on-fraction 0.1`, a file name).
    pub name: String,
    /// Generator and parameters, or the file.
    pub source: String,
    /// Invocations.
    pub invocations: u64,
    /// Span, s.
    pub span_s: f64,
    /// Mean arrivals per second over the span.
    pub mean_rate_per_s: Option<f64>,
    /// Variance / mean of arrivals per `dispersion_window_ns` window (1 for Poisson).
    pub dispersion_index: Option<f64>,
    /// Window of the dispersion index, ns.
    pub dispersion_window_ns: u64,
    /// On/off generators: the fraction of time in bursts.
    pub on_fraction: Option<f64>,
}

/// What a point of the frontier is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointKind {
    /// A fixed keep-alive (0 = scale to zero at once).
    KeepAlive,
    /// The hybrid-histogram policy.
    Hybrid,
    /// Each function's peak concurrency provisioned for the whole trace.
    ProvisionedForPeak,
}

/// One policy on one trace for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierPoint {
    /// What the point is.
    pub kind: PointKind,
    /// The keep-alive, ns (keep-alive points).
    pub keep_alive_ns: Option<u64>,
    /// Short label (`0`, `100 ms`, `10 min`, `hybrid`, `peak`).
    pub label: String,
    /// Invocations.
    pub invocations: u64,
    /// Invocations that waited on a start.
    pub cold_starts: u64,
    /// `cold_starts / invocations`.
    pub cold_share: Option<f64>,
    /// Units started (keep-alive, hybrid) or provisioned (peak).
    pub units: u64,
    /// End-to-end p99, ns.
    pub p99_ns: Option<u64>,
    /// Execution p99 (the invoke alone), ns.
    pub p99_execution_ns: Option<u64>,
    /// What waiting on starts adds at p99: the 99th percentile over every invocation of its
    /// wait on a unit start (0 when at most 1% were cold; else the start-up time's quantile
    /// `1 - 0.01 / cold_share`, interpolated between the run's start-up percentiles).
    pub p99_penalty_ns: Option<u64>,
    /// Idle GB-s (GB in the pay-per-use model's unit).
    pub idle_gb_seconds: Option<f64>,
    /// Idle GB-s at the pay-per-use price.
    pub idle_cost: Option<f64>,
    /// `idle_cost` per million invocations.
    pub idle_cost_per_million: Option<f64>,
    /// The memory-time held (starting + executing + idle) at the point's price.
    pub memory_cost: Option<f64>,
    /// `memory_cost` per million invocations.
    pub memory_cost_per_million: Option<f64>,
}

/// One model's points on one trace, in sweep order (keep-alives ascending, hybrid, peak).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierCurve {
    /// The model's label.
    pub model: String,
    /// The points.
    pub points: Vec<FrontierPoint>,
}

impl FrontierCurve {
    /// The point of a kind (the first).
    pub fn point(&self, kind: PointKind) -> Option<&FrontierPoint> {
        self.points.iter().find(|p| p.kind == kind)
    }

    /// The keep-alive 0 point: scale to zero at once.
    pub fn scale_to_zero(&self) -> Option<&FrontierPoint> {
        self.points
            .iter()
            .find(|p| p.kind == PointKind::KeepAlive && p.keep_alive_ns == Some(0))
    }

    /// The cheapest keep-alive point (by memory cost, then shorter keep-alive) whose p99
    /// penalty is at most `target_ns`.
    pub fn cheapest_meeting(&self, target_ns: u64) -> Option<&FrontierPoint> {
        self.points
            .iter()
            .filter(|p| p.kind == PointKind::KeepAlive)
            .filter(|p| p.p99_penalty_ns.is_some_and(|x| x <= target_ns))
            .min_by(|a, b| {
                let c = |p: &FrontierPoint| p.memory_cost.unwrap_or(f64::INFINITY);
                c(a).total_cmp(&c(b))
                    .then(a.keep_alive_ns.cmp(&b.keep_alive_ns))
            })
    }

    /// The shortest keep-alive whose p99 penalty is at most `target_ns`.
    pub fn shortest_meeting(&self, target_ns: u64) -> Option<&FrontierPoint> {
        self.points
            .iter()
            .filter(|p| p.kind == PointKind::KeepAlive)
            .filter(|p| p.p99_penalty_ns.is_some_and(|x| x <= target_ns))
            .min_by_key(|p| p.keep_alive_ns)
    }
}

/// Every model's frontier on one trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceFrontier {
    /// The trace.
    pub trace: TraceSummary,
    /// One curve per model, in the models' order.
    pub curves: Vec<FrontierCurve>,
}

/// `frontier.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierResult {
    /// [`FRONTIER_SCHEMA`].
    pub schema: String,
    /// Which memory a unit is priced for.
    pub memory_basis: MemoryBasis,
    /// The latency target of "the cheapest keep-alive that meets it": p99 penalty, ns.
    pub latency_target_ns: u64,
    /// The prices.
    pub pricing: Pricing,
    /// Seed of the simulator's draws.
    pub seed: u64,
    /// The models, heaviest isolation boundary first.
    pub models: Vec<Model>,
    /// Keep-alive frontiers: the main trace first, then the others.
    pub frontiers: Vec<TraceFrontier>,
    /// The burstiness sweep: same mean rate, growing burstiness (ascending dispersion).
    pub burstiness: Vec<TraceFrontier>,
    /// Where it ran.
    pub env: Option<EnvRecord>,
}

impl FrontierResult {
    /// Reads a `frontier.json`.
    pub fn load(path: &std::path::Path) -> Result<Self, crate::ResultsError> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::ResultsError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        serde_json::from_str(&text).map_err(|e| crate::ResultsError::Json {
            path: path.display().to_string(),
            source: e,
        })
    }
}

/// A model's name in the sweep and the report's summary: the backend name, with what sets
/// it apart (`container (node)` for the node-runtime image, `container (crun)`, `oci (runc)`).
pub fn model_label(backend: &str, settings: &BTreeMap<String, String>) -> String {
    let get = |k: &str| settings.get(k).map(String::as_str);
    match backend {
        "container" => match (get("image"), get("runtime")) {
            (Some("node"), Some(rt)) if rt != "runc" => format!("container (node, {rt})"),
            (Some("node"), _) => "container (node)".to_string(),
            (_, Some(rt)) if rt != "runc" => format!("container ({rt})"),
            _ => "container".to_string(),
        },
        "oci" => match get("runtime") {
            Some(rt) => format!("oci ({rt})"),
            None => "oci".to_string(),
        },
        other => other.to_string(),
    }
}

/// Where a model sits on the spectrum, from the heaviest isolation boundary to the lightest:
/// process, OCI crun, OCI runc, Docker + crun, Docker + runc, gVisor (runsc, Docker or OCI),
/// the node-runtime container, deno worker, v8 isolate, Wasm instance. Unknown backends are
/// placed by their boundary. Rows sort by `(rank, label)`.
pub fn spectrum_rank(
    backend: &str,
    settings: &BTreeMap<String, String>,
    boundary: Option<Boundary>,
) -> u32 {
    let runtime = settings.get("runtime").map(String::as_str);
    match backend {
        "process" => 0,
        "oci" => match runtime {
            Some("crun") => 10,
            Some("runsc") => 50,
            _ => 20,
        },
        "container" => match (settings.get("image").map(String::as_str), runtime) {
            (Some("node"), _) => 60,
            (_, Some("runsc")) => 50,
            (_, Some("crun")) => 30,
            _ => 40,
        },
        "deno" => 70,
        "v8" => 80,
        "wasm" => 90,
        _ => match boundary {
            Some(Boundary::Process) => 5,
            Some(Boundary::Namespaces) => 45,
            Some(Boundary::UserSpaceKernel) => 55,
            Some(Boundary::RuntimeIsolate) => 85,
            Some(Boundary::WasmInstance) => 95,
            _ => 100,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_spectrum_runs_from_process_to_wasm() {
        let rows = [
            ("wasm", s(&[])),
            ("container", s(&[("image", "node")])),
            ("v8", s(&[])),
            ("container", s(&[("image", "runner"), ("runtime", "runsc")])),
            ("oci", s(&[("runtime", "runc")])),
            ("deno", s(&[])),
            ("container", s(&[("image", "runner")])),
            ("process", s(&[])),
            ("container", s(&[("image", "runner"), ("runtime", "crun")])),
            ("oci", s(&[("runtime", "crun")])),
        ];
        let mut v: Vec<(u32, String)> = rows
            .iter()
            .map(|(b, st)| (spectrum_rank(b, st, None), model_label(b, st)))
            .collect();
        v.sort();
        let labels: Vec<&str> = v.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "process",
                "oci (crun)",
                "oci (runc)",
                "container (crun)",
                "container",
                "container (runsc)",
                "container (node)",
                "deno",
                "v8",
                "wasm"
            ]
        );
    }
}
