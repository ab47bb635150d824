//! The first screen: one row per execution model, ordered by where its isolation boundary
//! lies (`unitlab_results::frontier::spectrum_rank`: process, OCI and Docker containers,
//! gVisor, the node-runtime container, deno worker, v8 isolate, Wasm instance), and the
//! spectrum chart that goes with it. Rows that were not measured do not appear.

use unitlab_results::frontier::{model_label, spectrum_rank, FrontierResult};

use crate::charts::FloorBar;
use crate::data::{ReportData, Run};
use crate::format;
use crate::tables::{Cell, Table};

/// One execution model's headline run: its back-to-back `noop` run, else its first
/// back-to-back run, else its first.
#[derive(Debug, Clone)]
pub struct ModelRow<'a> {
    /// `container`, `container (node)`, `v8`, ...
    pub label: String,
    /// Spectrum position.
    pub rank: u32,
    /// The run.
    pub run: &'a Run,
}

/// The models measured, in spectrum order.
pub fn models(d: &ReportData) -> Vec<ModelRow<'_>> {
    let mut out: Vec<ModelRow<'_>> = Vec::new();
    for r in &d.runs {
        let b = &r.result.backend;
        let label = model_label(&b.name, &b.settings);
        if out.iter().any(|m| m.label == label) {
            continue;
        }
        let same = || {
            d.runs.iter().filter(|o| {
                model_label(&o.result.backend.name, &o.result.backend.settings) == label
            })
        };
        let back = || same().filter(|o| o.result.config.gap_ns == 0);
        let run = back()
            .find(|o| o.result.function.name == "noop")
            .or_else(|| back().next())
            .unwrap_or(r);
        out.push(ModelRow {
            rank: spectrum_rank(&b.name, &b.settings, b.boundary),
            label,
            run,
        });
    }
    out.sort_by(|a, b| (a.rank, &a.label).cmp(&(b.rank, &b.label)));
    out
}

const GIB: f64 = 1_073_741_824.0;

/// The summary table.
pub fn table(d: &ReportData, f: Option<&FrontierResult>) -> Table {
    let models = models(d);
    let target = f.map(|f| f.latency_target_ns);
    let trace = f
        .and_then(|f| f.frontiers.first())
        .map(|t| t.trace.name.clone());
    let currency = f.map(|f| f.pricing.currency.clone()).unwrap_or_default();
    // The column names the currency; the note names the frontier point (trace and target).
    let (waiting_col, point) = match (&trace, target) {
        (Some(t), Some(x)) => (
            format!("cost of waiting per 1M invocations, {currency}"),
            format!(
                " on the {t} trace, at the cheapest keep-alive whose p99 penalty is ≤ {}",
                format::ns(x as f64)
            ),
        ),
        _ => (
            "cost of waiting per 1M invocations".to_string(),
            String::new(),
        ),
    };
    let mut t = Table::new(
        "summary",
        "Each execution model, from the heaviest isolation boundary to the lightest",
        &format!("Cold start = start + first invoke of `noop`, back to back; memory per unit in the view named: host (PSS/RSS of the unit's processes), else engine (linear memory, V8 heap, cgroup usage), else RSS growth (the process's RSS growth per live unit), the same bytes the frontier prices; units per GiB = 1 GiB / memory per unit (an upper bound). Cost of waiting from the keep-alive frontier (below){point}: the keep-alive is named. The CSV holds raw figures (ns, bytes)."),
        &[
            "model",
            "isolation boundary",
            "cold start p50",
            "cold start p99",
            "warm invoke p50",
            "memory per unit",
            "memory view",
            "units per GiB",
            &waiting_col,
            "at keep-alive",
            "cold start ÷ container's",
        ],
    );
    let container = models
        .iter()
        .find(|m| m.label == "container")
        .and_then(|m| m.run.result.cold.p50);
    for m in &models {
        let r = &m.run.result;
        let mem = m.run.bytes_per_unit();
        // (cost per 1M invocations, the keep-alive it is read at)
        let waiting = f.and_then(|f| {
            let c = f
                .frontiers
                .first()?
                .curves
                .iter()
                .find(|c| c.model == m.label)?;
            Some(match c.cheapest_meeting(f.latency_target_ns) {
                Some(p) if p.keep_alive_ns == Some(0) => {
                    (Some(0.0), "0 (scales to zero)".to_string())
                }
                Some(p) => (
                    Some(p.idle_cost_per_million.unwrap_or(0.0)),
                    p.label.clone(),
                ),
                None => (None, "none meets the target".to_string()),
            })
        });
        let (waiting, keep_alive) = match waiting {
            Some((cost, ka)) => (cost, Cell::text(ka)),
            None => (None, Cell::text("—")),
        };
        t.rows.push(vec![
            Cell::text(&m.label),
            Cell::text(
                r.backend
                    .boundary
                    .map(|b| b.describe())
                    .unwrap_or("not recorded"),
            ),
            Cell::Ns(r.cold.p50.map(|v| v as f64)),
            Cell::Ns(r.cold.p99.map(|v| v as f64)),
            Cell::Ns(r.warm.p50.map(|v| v as f64)),
            Cell::Bytes(mem.map(|(b, _)| b)),
            Cell::text(mem.map(|(_, v)| v).unwrap_or("—")),
            Cell::Count(mem.map(|(b, _)| (GIB / b).floor())),
            Cell::Num(waiting),
            keep_alive,
            Cell::Ratio(match (r.cold.p50, container) {
                (Some(x), Some(c)) if c > 0 => Some(x as f64 / c as f64),
                _ => None,
            }),
        ]);
    }
    t
}

/// The spectrum chart's bars: each model's cold start (p50 bar, p99 whisker), in spectrum
/// order.
pub fn spectrum_bars(d: &ReportData) -> Vec<FloorBar> {
    models(d)
        .into_iter()
        .filter_map(|m| {
            Some(FloorBar {
                label: match m.run.result.backend.boundary {
                    Some(b) => format!("{} · {}", m.label, b.describe()),
                    None => m.label.clone(),
                },
                mechanism: false,
                p50_ns: m.run.result.cold.p50? as f64,
                p99_ns: m.run.result.cold.p99.map(|v| v as f64),
            })
        })
        .collect()
}
