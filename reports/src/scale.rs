//! Scale-out and measured density: the `unitlab burst` and `unitlab density` results.
//!
//! - [`scale_out`]: time until all N units answered against N, log-log, one line per backend
//!   (a level where any unit failed has no scale-out time and is left out, and said so).
//! - [`tables`]: the burst table (per backend and level: cold start under contention p50/p99,
//!   time until all answered, units per second, the harness's share) and the measured density
//!   table, each row beside the extrapolated figure: budget / memory per unit from a measure
//!   run of the same backend among the inputs (the figure the density chart draws).

use plotters::prelude::*;
use unitlab_results::scale::{BurstResult, DensityResult};

use crate::charts::{backend_color, no_data, WIDTH};
use crate::data::ReportData;
use crate::format;
use crate::tables::{Cell, Table};
use crate::ReportError;

use crate::style::{render_with_legend, LegendEntry, Swatch, FONT};

/// Burst and density results among the inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScaleInput {
    /// `unitlab burst` results, in the order loaded.
    pub bursts: Vec<BurstResult>,
    /// `unitlab density` results, in the order loaded.
    pub densities: Vec<DensityResult>,
}

impl ScaleInput {
    /// How many results.
    pub fn count(&self) -> usize {
        self.bursts.len() + self.densities.len()
    }
}

/// One backend's line: (N, ns until all N answered), N ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleLine {
    /// Backend (and function when not noop).
    pub label: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

fn label(backend: &str, function: &str) -> String {
    if function == "noop" {
        backend.to_string()
    } else {
        format!("{backend} ({function})")
    }
}

/// The chart's data: every level with a scale-out time, per backend.
pub fn lines(d: &ReportData) -> Vec<ScaleLine> {
    let mut out: Vec<ScaleLine> = Vec::new();
    for b in &d.scale.bursts {
        let l = label(&b.backend.name, &b.function.name);
        let pts = b
            .levels
            .iter()
            .filter_map(|lv| lv.scale_out_ns.map(|ns| (lv.concurrency as f64, ns as f64)));
        match out.iter_mut().find(|x| x.label == l) {
            Some(x) => x.points.extend(pts),
            None => out.push(ScaleLine {
                label: l,
                points: pts.collect(),
            }),
        }
    }
    for l in &mut out {
        l.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out.retain(|l| !l.points.is_empty());
    out
}

/// Time until all N answered against N, log-log, one line per backend.
pub fn scale_out(lines: &[ScaleLine]) -> Result<String, ReportError> {
    let title = "Scale-out: time until all N cold starts answered";
    if lines.is_empty() {
        return no_data(title, "no `unitlab burst` result among the inputs");
    }
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let xmax = all().map(|p| p.0).fold(1.0, f64::max) * 2.0;
    let ymin = all().map(|p| p.1).fold(f64::INFINITY, f64::min).max(1.0) / 2.0;
    let ymax = all().map(|p| p.1).fold(1.0, f64::max) * 2.0;
    let legend: Vec<LegendEntry> = lines
        .iter()
        .map(|l| LegendEntry::new(l.label.clone(), backend_color(&l.label), Swatch::Line))
        .collect();
    render_with_legend("scale_out", (WIDTH, 440), &legend, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .build_cartesian_2d((0.7f64..xmax).log_scale(), (ymin..ymax).log_scale())?;
        c.configure_mesh()
            .x_desc("N: cold starts released at once (log scale)")
            .y_desc("release to the last answer (log scale)")
            .x_label_formatter(&|v| format::count(*v))
            .y_label_formatter(&|v| format::ns(*v))
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()?;
        for l in lines {
            let color = backend_color(&l.label);
            c.draw_series(LineSeries::new(l.points.clone(), color.stroke_width(2)))?;
            c.draw_series(l.points.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        }
        Ok(())
    })
}

fn ns(v: Option<u64>) -> Cell {
    Cell::Ns(v.map(|v| v as f64))
}

/// The burst table and the measured density table.
pub fn tables(d: &ReportData) -> Vec<Table> {
    let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut burst = Table {
        id: "burst".into(),
        title: "Bursts: N cold starts released at once".into(),
        note: "Per level: N units released from a barrier across the given threads, each \
               answering one verified first request; all kept alive until the level ends. Cold \
               = the unit's own start + first invoke under contention; all answered = release \
               to the last correct answer (empty when any unit failed); units/s = answered / \
               that time; harness = the harness's work between two units on a thread (p50); \
               release skew = the barrier's wake-up of the last thread."
            .into(),
        columns: cols(&[
            "backend",
            "n",
            "threads",
            "failures",
            "cold_p50_ns",
            "cold_p99_ns",
            "all_answered_ns",
            "units_per_s",
            "harness_p50_ns",
            "release_skew_ns",
        ]),
        rows: Vec::new(),
    };
    for b in &d.scale.bursts {
        for l in &b.levels {
            burst.rows.push(vec![
                Cell::text(label(&b.backend.name, &b.function.name)),
                Cell::Count(Some(l.concurrency as f64)),
                Cell::Count(Some(l.threads as f64)),
                Cell::Count(Some(l.failures as f64)),
                ns(l.cold.p50),
                ns(l.cold.p99),
                ns(l.scale_out_ns),
                Cell::Num(l.units_per_second.map(|u| u.round())),
                ns(l.harness.p50),
                ns(Some(l.release_skew_ns)),
            ]);
        }
    }
    let mut density = Table {
        id: "density_measured".into(),
        title: "Density under a real memory limit".into(),
        note: "Units started one by one, each answering a verified request and kept alive, in \
               a memory cgroup whose limit is the budget (swap kept out), until a start failed \
               or the kernel's OOM killer struck. Per unit = (usage at the end - the runtime's \
               usage before the first unit) / units. Extrapolated = budget / memory per unit \
               from a measure run of the same backend (the density chart's figure); ratio = \
               measured / extrapolated. Cold p50 of the first and of the last 10 units."
            .into(),
        columns: cols(&[
            "backend",
            "budget_bytes",
            "units_reached",
            "extrapolated_units",
            "measured_over_extrapolated",
            "bytes_per_unit",
            "runtime_baseline_bytes",
            "stopped_by",
            "first_cold_p50_ns",
            "last_cold_p50_ns",
            "detail",
        ]),
        rows: Vec::new(),
    };
    for r in &d.scale.densities {
        let extrapolated = d
            .headline_run(&r.backend.name)
            .and_then(|run| run.bytes_per_unit())
            .map(|(per, _)| (r.budget_bytes as f64 / per).floor());
        density.rows.push(vec![
            Cell::text(label(&r.backend.name, &r.function.name)),
            Cell::Bytes(Some(r.budget_bytes as f64)),
            Cell::Count(Some(r.units_reached as f64)),
            Cell::Count(extrapolated),
            Cell::Ratio(
                extrapolated
                    .filter(|e| *e > 0.0)
                    .map(|e| r.units_reached as f64 / e),
            ),
            Cell::Bytes(r.bytes_per_unit),
            Cell::Bytes(r.baseline_bytes.map(|b| b as f64)),
            Cell::text(r.stop.describe()),
            ns(r.first_cold.p50),
            ns(r.last_cold.p50),
            Cell::text(r.stop_detail.clone()),
        ]);
    }
    vec![burst, density]
}

/// Warnings of burst and density results.
pub fn warnings(d: &ReportData) -> Vec<String> {
    let mut w = Vec::new();
    for b in &d.scale.bursts {
        for x in &b.warnings {
            w.push(format!("burst {}: {x}", b.backend.name));
        }
    }
    for r in &d.scale.densities {
        for x in &r.warnings {
            w.push(format!("density {}: {x}", r.backend.name));
        }
    }
    w
}

/// Synthetic burst and density results for the report fixture, derived from the fixture's
/// measure runs (never measurements: the environment record says so).
pub fn fixture(runs: &[crate::data::Run]) -> ScaleInput {
    use unitlab_results::scale::{
        BurstConfig, BurstLevel, CgroupRecord, DensityStop, BURST_SCHEMA, DENSITY_SCHEMA,
    };
    use unitlab_results::Summary;
    let mut s = ScaleInput::default();
    for r in runs {
        let cold = r.result.cold.p50.unwrap_or(1_000_000);
        let levels = [1u32, 10, 100]
            .iter()
            .map(|&n| {
                // Two threads: N / 2 starts in sequence on each.
                let all = cold * (n as u64).div_ceil(2);
                let colds: Vec<u64> = (0..n as u64).map(|i| cold + i * cold / 50).collect();
                BurstLevel {
                    concurrency: n,
                    threads: n.min(2),
                    answered: n,
                    failures: 0,
                    scale_out_ns: Some(all),
                    last_answer_ns: Some(all),
                    units_per_second: Some(n as f64 / (all as f64 / 1e9)),
                    cold: Summary::from_nanos(&colds),
                    response: Summary::from_nanos(&colds),
                    dispatch: Summary::from_nanos(&[1000]),
                    harness: Summary::from_nanos(&[200]),
                    release_skew_ns: 20_000,
                    stop_ns: 1_000_000,
                    errors: Vec::new(),
                }
            })
            .collect();
        s.bursts.push(BurstResult {
            schema: BURST_SCHEMA.into(),
            backend: r.result.backend.clone(),
            function: r.result.function.clone(),
            config: BurstConfig {
                levels: vec![1, 10, 100],
                threads: None,
                size: 0,
            },
            env: r.result.env.clone(),
            overhead: r.result.overhead.clone(),
            prepare_ns: r.result.prepare_ns,
            levels,
            warnings: Vec::new(),
        });
        if let Some((per, _)) = r.bytes_per_unit() {
            let budget = 256u64 << 20;
            let real = per * 1.3;
            let units = (budget as f64 / real).floor() as u32;
            s.densities.push(DensityResult {
                schema: DENSITY_SCHEMA.into(),
                backend: r.result.backend.clone(),
                function: r.result.function.clone(),
                env: r.result.env.clone(),
                budget_bytes: budget,
                cgroup: CgroupRecord {
                    version: 1,
                    path: "/sys/fs/cgroup/memory/unitlab-density-0-0".into(),
                    limit_bytes: budget,
                    swap: "the host has no swap".into(),
                    host_swap_bytes: 0,
                },
                units_reached: units,
                baseline_bytes: Some(4 << 20),
                usage_end_bytes: Some(budget),
                bytes_per_unit: Some(real),
                budget_per_unit: Some(budget as f64 / units.max(1) as f64),
                max_usage_bytes: Some(budget),
                limit_hits: Some(1),
                oom_kills: Some(1),
                stop: DensityStop::OomKill,
                stop_detail: "the kernel's OOM killer killed 1 process(es) in the cgroup".into(),
                first_cold: Summary::from_nanos(&[cold; 10]),
                last_cold: Summary::from_nanos(&[cold * 2; 10]),
                warnings: Vec::new(),
            });
        }
    }
    s
}

/// Writes `input`'s results under `root` as the harness does (`summary.json` per directory).
pub fn write_fixture(input: &ScaleInput, root: &std::path::Path) -> Result<(), ReportError> {
    let write = |dir: std::path::PathBuf, json: Result<String, serde_json::Error>| {
        std::fs::create_dir_all(&dir).map_err(|source| ReportError::Io {
            path: dir.clone(),
            source,
        })?;
        let p = dir.join("summary.json");
        let json = json.map_err(|source| ReportError::Json {
            path: p.clone(),
            source,
        })?;
        std::fs::write(&p, json).map_err(|source| ReportError::Io { path: p, source })
    };
    for b in &input.bursts {
        write(
            root.join(format!("20260101T000000Z-burst-{}-noop", b.backend.name)),
            serde_json::to_string_pretty(b),
        )?;
    }
    for d in &input.densities {
        write(
            root.join(format!("20260101T000000Z-density-{}-noop", d.backend.name)),
            serde_json::to_string_pretty(d),
        )?;
    }
    Ok(())
}
