//! The keep-alive frontier and the burstiness sweep (`frontier.json`, see
//! `unitlab_results::frontier` for every definition): their tables and the sentences
//! that give their answers in numbers. The charts are in `charts::frontier`.

use unitlab_results::frontier::{FrontierCurve, FrontierResult, PointKind, TraceFrontier};

use crate::data::ReportData;
use crate::format;
use crate::tables::{Cell, Table};

/// The frontier result the report shows (the first loaded).
pub fn main(d: &ReportData) -> Option<&FrontierResult> {
    d.frontiers.first()
}

pub(crate) fn money(cur: &str, v: f64) -> String {
    let sym = if cur == "USD" { "$" } else { "" };
    let tail = if sym.is_empty() {
        format!(" {cur}")
    } else {
        String::new()
    };
    if v == 0.0 || !v.is_finite() {
        return format!("{sym}0{tail}");
    }
    let s = if v.abs() >= 0.01 {
        format::sig3(v)
    } else {
        // Two significant digits, in plain decimals: $0.00042.
        let decimals = (-v.abs().log10()).ceil() as usize + 1;
        format!("{v:.decimals$}")
    };
    format!("{sym}{s}{tail}")
}

/// The container the burstiness sentence compares with: a model named `container`, else
/// the first whose boundary is kernel namespaces, else the first model.
fn reference<'a>(f: &'a FrontierResult, t: &'a TraceFrontier) -> Option<&'a FrontierCurve> {
    let label = f
        .models
        .iter()
        .find(|m| m.label == "container")
        .or_else(|| {
            f.models
                .iter()
                .find(|m| m.boundary == Some(unitlab_backend::Boundary::Namespaces))
        })
        .or(f.models.first())?
        .label
        .clone();
    t.curves.iter().find(|c| c.model == label)
}

fn join_names(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// One sentence from the main trace's frontier: which models can scale to zero and keep the
/// p99 penalty under the target, which need a keep-alive, how long and at what price.
pub fn frontier_sentence(f: &FrontierResult) -> Option<String> {
    let t = f.frontiers.first()?;
    let target = f.latency_target_ns;
    let cur = &f.pricing.currency;
    let mut zero = Vec::new();
    let mut parts = Vec::new();
    for c in &t.curves {
        match c.cheapest_meeting(target) {
            Some(p) if p.keep_alive_ns == Some(0) => zero.push(c.model.clone()),
            Some(p) => parts.push(format!(
                "{} needs a keep-alive of at least {} and pays {} per million invocations for idle time ({:.1}% of invocations still wait on a start)",
                c.model,
                p.label,
                money(cur, p.idle_cost_per_million.unwrap_or(0.0)),
                p.cold_share.unwrap_or(0.0) * 100.0
            )),
            None => {
                let best = c
                    .points
                    .iter()
                    .filter(|p| p.kind == PointKind::KeepAlive)
                    .filter_map(|p| p.p99_penalty_ns.map(|x| (x, p)))
                    .min_by_key(|(x, _)| *x);
                let peak = c.point(PointKind::ProvisionedForPeak);
                parts.push(format!(
                    "{} meets it with no keep-alive in the sweep{}{}",
                    c.model,
                    best.map(|(x, p)| format!(
                        " (best: {} leaves {} at p99)",
                        p.label,
                        format::ns(x as f64)
                    ))
                    .unwrap_or_default(),
                    peak.and_then(|p| p.memory_cost_per_million)
                        .map(|m| format!(", only provisioned for peak does, at {} per million invocations", money(cur, m)))
                        .unwrap_or_default()
                ))
            }
        }
    }
    let mut s = format!(
        "On the {} trace, to keep the p99 latency added by cold starts under {}: ",
        t.trace.name,
        format::ns(target as f64)
    );
    if !zero.is_empty() {
        s.push_str(&format!(
            "{} can scale to zero and pay{} nothing for waiting",
            join_names(&zero),
            if zero.len() == 1 { "s" } else { "" }
        ));
        if !parts.is_empty() {
            s.push_str("; ");
        }
    }
    s.push_str(&parts.join("; "));
    s.push('.');
    Some(s)
}

/// One sentence from the burstiness sweep: from which dispersion index on scale-to-zero on
/// each model is ten times cheaper than containers provisioned for peak, how much cheaper at
/// the burstiest trace, and at what p99 penalty.
pub fn burstiness_sentence(f: &FrontierResult) -> Option<String> {
    if f.burstiness.len() < 2 {
        return None;
    }
    let refname = reference(f, &f.burstiness[0])?.model.clone();
    let cur_ratio = |t: &TraceFrontier, model: &str| -> Option<(f64, Option<u64>)> {
        let r = reference(f, t)?
            .point(PointKind::ProvisionedForPeak)?
            .memory_cost?;
        let c = t.curves.iter().find(|c| c.model == model)?;
        let z = c.scale_to_zero()?;
        let m = z.memory_cost?;
        (m > 0.0).then_some((r / m, z.p99_penalty_ns))
    };
    let last = f.burstiness.last()?;
    let mut parts = Vec::new();
    for c in &last.curves {
        let ratios: Vec<Option<(f64, Option<u64>)>> = f
            .burstiness
            .iter()
            .map(|t| cur_ratio(t, &c.model))
            .collect();
        let Some(Some((r_last, pen))) = ratios.last().cloned() else {
            continue;
        };
        // The first trace from which every burstier one is at least 10x cheaper.
        let mut from = None;
        for i in (0..ratios.len()).rev() {
            match ratios[i] {
                Some((r, _)) if r >= 10.0 => from = Some(i),
                _ => break,
            }
        }
        let d = |i: usize| {
            f.burstiness[i]
                .trace
                .dispersion_index
                .map(format::sig3)
                .unwrap_or("?".into())
        };
        let pen = pen.map(|p| format::ns(p as f64)).unwrap_or("—".into());
        parts.push(match from {
            Some(i) => format!(
                "{} is 10× cheaper from dispersion {} on and {} at {} (p99 penalty {})",
                c.model,
                d(i),
                format::ratio(r_last),
                d(ratios.len() - 1),
                pen
            ),
            None => format!(
                "{} is at most {} cheaper (at dispersion {}; p99 penalty {})",
                c.model,
                format::ratio(ratios.iter().flatten().map(|(r, _)| *r).fold(0.0, f64::max)),
                d(ratios.len() - 1),
                pen
            ),
        });
    }
    Some(format!(
        "Same mean rate, growing burstiness: against {refname} units provisioned for peak, scale-to-zero on {}.",
        parts.join("; ")
    ))
}

/// Every point of every frontier and of the burstiness sweep.
pub fn points_table(f: &FrontierResult) -> Table {
    let mut t = Table::new(
        "frontier_points",
        "Keep-alive frontier and burstiness sweep: every point",
        &format!(
            "Simulated from each model's measured cold start and memory ({}); idle GB-s in the pay-per-use model's GB; memory cost = starting + executing + idle memory-time at the pay-per-use price (provisioned for peak: units x span at the provisioned price); request fees left out.",
            f.memory_basis.describe()
        ),
        &[
            "trace",
            "dispersion_index",
            "model",
            "policy",
            "invocations",
            "cold_share",
            "p99_penalty_ns",
            "units",
            "idle_gb_s",
            "idle_cost_per_1M",
            "memory_cost_per_1M",
        ],
    );
    for tf in f.frontiers.iter().chain(&f.burstiness) {
        for c in &tf.curves {
            for p in &c.points {
                t.rows.push(vec![
                    Cell::text(&tf.trace.name),
                    Cell::Num(tf.trace.dispersion_index),
                    Cell::text(&c.model),
                    Cell::text(&p.label),
                    Cell::Count(Some(p.invocations as f64)),
                    Cell::Num(p.cold_share),
                    Cell::Ns(p.p99_penalty_ns.map(|v| v as f64)),
                    Cell::Count(Some(p.units as f64)),
                    Cell::Num(p.idle_gb_seconds),
                    Cell::Num(p.idle_cost_per_million),
                    Cell::Num(p.memory_cost_per_million),
                ]);
            }
        }
    }
    t
}

/// One row per model: what waiting costs on the main trace (the compact "you stop paying
/// for waiting" table).
pub fn waiting_table(f: &FrontierResult) -> Table {
    let target = f.latency_target_ns;
    let mut t = Table::new(
        "cost_of_waiting",
        "You stop paying for waiting: what each model pays",
        &format!(
            "Main trace of the frontier; scale to zero = keep-alive 0; the keep-alive column is the cheapest in the sweep whose p99 penalty is at most {} ({}).",
            format::ns(target as f64),
            f.memory_basis.describe()
        ),
        &[
            "model",
            "memory_per_unit_bytes",
            "scale_to_zero_p99_penalty_ns",
            "scale_to_zero_cold_share",
            "keepalive_10m_idle_cost_per_1M",
            "keepalive_meeting_target",
            "its_idle_cost_per_1M",
            "peak_memory_cost_per_1M",
        ],
    );
    let Some(tf) = f.frontiers.first() else {
        return t;
    };
    for c in &tf.curves {
        let m = f.models.iter().find(|m| m.label == c.model);
        let z = c.scale_to_zero();
        let ka10 = c
            .points
            .iter()
            .find(|p| p.keep_alive_ns == Some(600_000_000_000));
        let best = c.cheapest_meeting(target);
        t.rows.push(vec![
            Cell::text(&c.model),
            Cell::Bytes(m.and_then(|m| m.memory_bytes).map(|b| b as f64)),
            Cell::Ns(z.and_then(|p| p.p99_penalty_ns).map(|v| v as f64)),
            Cell::Num(z.and_then(|p| p.cold_share)),
            Cell::Num(ka10.and_then(|p| p.idle_cost_per_million)),
            Cell::text(
                best.map(|p| p.label.as_str())
                    .unwrap_or("none in the sweep"),
            ),
            Cell::Num(best.and_then(|p| p.idle_cost_per_million)),
            Cell::Num(
                c.point(PointKind::ProvisionedForPeak)
                    .and_then(|p| p.memory_cost_per_million),
            ),
        ]);
    }
    t
}
