//! The report page: one self-contained `index.html` (inline CSS, charts as inline SVG, no
//! script, no network), beside `charts/<id>.svg` and `tables/<id>.csv` for every chart and
//! table.
//!
//! Order: the headline table (each claim beside the measured figures), warnings, then one
//! section per question (cold start, warm invoke, memory and density, mechanism floors,
//! platform), then failures, the environment, the backends' versions and settings, and the
//! harness's overhead.

use std::path::{Path, PathBuf};

use crate::charts::{self, DensityData, DensityLine, FloorBar, LatencySeries, MemoryBar, PhaseBar};
use crate::data::ReportData;
use crate::format;
use crate::frontier;
use crate::platform;
use crate::summary;
use crate::tables::{self, Table};
use crate::ReportError;

const TEMPLATE: &str = include_str!("../templates/index.html");

/// Options of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Page title.
    pub title: String,
    /// When the report was generated (shown under the title); `None` leaves it out, which
    /// keeps the page byte-for-byte reproducible.
    pub generated_at: Option<String>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            title: "unitlab report".to_string(),
            generated_at: None,
        }
    }
}

/// One chart of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Shown in a collapsed `<details>` (secondary charts).
    pub collapsed: bool,
    /// File stem and HTML id (`chart-<id>`).
    pub id: &'static str,
    /// Section it belongs to.
    pub section: &'static str,
    /// What it shows, how, in which unit.
    pub caption: String,
    /// The SVG.
    pub svg: String,
    /// False when the SVG is a "no data" panel.
    pub has_data: bool,
}

/// The ids of every chart, in page order.
pub const CHART_IDS: &[&str] = &[
    "spectrum",
    "frontier",
    "frontier_other",
    "burstiness",
    "cold_start_cdf",
    "cold_start_phases",
    "warm_latency",
    "memory_per_unit",
    "density",
    "mechanism_floors",
    "timeline",
    "validation",
    "scale_out",
];

/// Charts shown collapsed (in `<details>`): secondary views.
const COLLAPSED: &[&str] = &[
    "frontier_other",
    "density",
    "mechanism_floors",
    "timeline",
    "validation",
];

/// What [`render_report`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFiles {
    /// `index.html`.
    pub index: PathBuf,
    /// `charts/<id>.svg`, one per chart.
    pub charts: Vec<PathBuf>,
    /// `tables/<id>.csv`, one per table.
    pub tables: Vec<PathBuf>,
}

/// Chart data: cold samples per run.
pub fn cold_series(d: &ReportData) -> Vec<LatencySeries> {
    d.runs
        .iter()
        .map(|r| LatencySeries {
            label: r.label.clone(),
            nanos: r.cold_nanos(),
        })
        .collect()
}

/// Chart data: warm samples per run.
pub fn warm_series(d: &ReportData) -> Vec<LatencySeries> {
    d.runs
        .iter()
        .map(|r| LatencySeries {
            label: r.label.clone(),
            nanos: r.warm_nanos(),
        })
        .collect()
}

/// Chart data: phase medians per run (the backend's phases, the rest of `start` when they do
/// not cover it, then the first invoke).
pub fn phase_bars(d: &ReportData) -> Vec<PhaseBar> {
    let mut out = Vec::new();
    for r in &d.runs {
        let m = &r.result;
        let mut phases: Vec<(String, f64)> = m
            .phases
            .iter()
            .filter_map(|(n, s)| s.p50.map(|p| (n.clone(), p as f64)))
            .collect();
        if !r.phase_order.is_empty() {
            let pos = |n: &str| {
                r.phase_order
                    .iter()
                    .position(|p| p == n)
                    .unwrap_or(usize::MAX)
            };
            phases.sort_by_key(|(n, _)| pos(n));
        }
        let covered: f64 = phases.iter().map(|(_, v)| v).sum();
        if let Some(start) = m.cold_start_part.p50.map(|v| v as f64) {
            if phases.is_empty() {
                phases.push(("start".to_string(), start));
            } else if start - covered > 0.01 * start {
                phases.push(("start, other".to_string(), start - covered));
            }
        }
        if let Some(inv) = m.cold_first_invoke.p50 {
            phases.push(("first invoke".to_string(), inv as f64));
        }
        if !phases.is_empty() {
            out.push(PhaseBar {
                label: r.label.clone(),
                phases,
            });
        }
    }
    out
}

/// Chart data: memory per unit per run.
pub fn memory_bars(d: &ReportData) -> Vec<MemoryBar> {
    d.runs
        .iter()
        .map(|r| MemoryBar {
            label: r.label.clone(),
            engine_bytes: r.result.memory.engine_bytes_per_unit,
            host_bytes: r.result.memory.host_bytes_per_unit,
            rss_delta_bytes: r.result.memory.rss_delta_per_unit,
        })
        .collect()
}

/// Chart data: density lines.
pub fn density_data(d: &ReportData) -> DensityData {
    DensityData {
        lines: d
            .runs
            .iter()
            .filter_map(|r| {
                let (b, view) = r.bytes_per_unit()?;
                Some(DensityLine {
                    label: r.label.clone(),
                    bytes_per_unit: b,
                    view: view.to_string(),
                })
            })
            .collect(),
        machine_bytes: d
            .runs
            .iter()
            .map(|r| r.result.env.memory_bytes)
            .find(|&m| m > 0),
    }
}

/// Chart data: floors, then the backends' cold starts (fastest first).
pub fn floor_bars(d: &ReportData) -> Vec<FloorBar> {
    let mut out: Vec<FloorBar> = d
        .floors()
        .into_iter()
        .map(|f| FloorBar {
            label: f.name,
            mechanism: true,
            p50_ns: f.p50_ns as f64,
            p99_ns: f.p99_ns.map(|v| v as f64),
        })
        .collect();
    let mut backends: Vec<FloorBar> = d
        .runs
        .iter()
        .filter(|r| r.backend() != "process")
        .filter_map(|r| {
            Some(FloorBar {
                label: r.label.clone(),
                mechanism: false,
                p50_ns: r.result.cold.p50? as f64,
                p99_ns: r.result.cold.p99.map(|v| v as f64),
            })
        })
        .collect();
    backends.sort_by(|a, b| a.p50_ns.total_cmp(&b.p50_ns));
    out.extend(backends);
    out
}

fn chart(id: &'static str, section: &'static str, caption: &str, svg: String) -> Chart {
    Chart {
        collapsed: COLLAPSED.contains(&id),
        id,
        section,
        caption: caption.to_string(),
        has_data: !charts::is_no_data(&svg),
        svg,
    }
}

/// Draws every chart of the report.
pub fn build_charts(d: &ReportData) -> Result<Vec<Chart>, ReportError> {
    let p = platform::views(d);
    let f = frontier::main(d);
    let none = |title: &str| {
        charts::no_data(
            title,
            "no keep-alive frontier (frontier.json, written by `unitlab run`) among the inputs",
        )
    };
    let (frontier_main, frontier_other, burst, basis) = match f {
        Some(f) => (
            match f.frontiers.first() {
                Some(t) => frontier::frontier_chart(f, t)?,
                None => none("Keep-alive frontier")?,
            },
            match f.frontiers.get(1) {
                Some(t) => frontier::frontier_chart(f, t)?,
                None => charts::no_data(
                    "Keep-alive frontier, second trace",
                    "the frontier was computed on one trace only",
                )?,
            },
            frontier::burstiness_chart(f)?,
            format!(
                "Memory basis: {}. GB as the pay-per-use model counts it ({}).",
                f.memory_basis.describe(),
                f.pricing
                    .pay_per_use
                    .as_ref()
                    .map(|p| p.memory_unit.name())
                    .unwrap_or("—")
            ),
        ),
        None => (
            none("Keep-alive frontier")?,
            none("Keep-alive frontier, second trace")?,
            none("What waiting costs as burstiness grows")?,
            String::new(),
        ),
    };
    Ok(vec![
        chart(
            "spectrum",
            "summary",
            "Cold start (start + first invoke of noop, back to back) of every execution model \
             measured, heaviest isolation boundary first, each row naming its boundary; log \
             time axis.",
            charts::spectrum(&summary::spectrum_bars(d))?,
        ),
        chart(
            "frontier",
            "frontier",
            &format!(
                "Each model simulated from its own measured cold start and memory under fixed \
                 keep-alives 0, 100 ms, 1 s, 10 s, 1 min, 5 min, 10 min and 20 min (dots on the \
                 line, labelled), the hybrid-histogram policy (square) and provisioned for peak \
                 (diamond). x: idle GB-s priced at the pay-per-use rate, per million \
                 invocations; y: the p99 latency cold starts add (left) and the share of \
                 invocations that waited on a start (right). Zero is drawn on the axis edge. \
                 {basis}"
            ),
            frontier_main,
        ),
        chart(
            "frontier_other",
            "frontier",
            "The same frontier on the second trace (an Azure-2019-shaped day: 200 functions, \
             diurnal, heavy-tailed popularity), where keep-alives of minutes matter.",
            frontier_other,
        ),
        chart(
            "burstiness",
            "burstiness",
            "Six on/off traces with the same mean rate and a shrinking on-fraction (1, 0.5, \
             0.2, 0.1, 0.05, 0.02), placed by their measured dispersion index (variance / mean \
             of arrivals per 1 s window; 1 = Poisson). Per model, the memory-time bill per \
             million invocations: provisioned for peak (every function holds its peak \
             concurrency for the whole trace, at the provisioned price), scale to zero \
             (keep-alive 0) and the cheapest keep-alive meeting the latency target (both at the \
             pay-per-use price). Request fees, the same under every policy, are left out.",
            burst,
        ),
        chart(
            "cold_start_cdf",
            "cold",
            "Every cold start (Prepared::start + first invoke), one curve per run; log time axis. \
             Dots mark p50 and p99 (nearest rank on the raw samples). Prepare (image build, \
             compile) is not included.",
            charts::cold_start_cdf(&cold_series(d))?,
        ),
        chart(
            "cold_start_phases",
            "cold",
            "Median of each cold-start phase as a share of the sum of those medians, with the \
             sum written beside the bar. Phases are the backend's own, in start order (from phases.csv; alphabetical \
             without it); \"start, other\" is the part of the start median the phases do not cover.",
            charts::cold_start_phases(&phase_bars(d))?,
        ),
        chart(
            "warm_latency",
            "warm",
            "Invokes on a unit that already served one; log time axis. Box p25–p75, thick tick \
             p50, dot p99, thin line min–max.",
            charts::warm_latency(&warm_series(d))?,
        ),
        chart(
            "memory_per_unit",
            "memory",
            "Mean memory per live unit, in every view the backend reports; log axis. Views are \
             not interchangeable: see the memory table's note.",
            charts::memory_per_unit(&memory_bars(d))?,
        ),
        chart(
            "density",
            "memory",
            "RAM budget / memory per unit (host view, else RSS delta, else engine view): an upper \
             bound, since the runtime's fixed base and kernel overheads are left out.",
            charts::density(&density_data(d))?,
        ),
        chart(
            "mechanism_floors",
            "floors",
            "Cold-start medians (bars) and p99 (whiskers) of the backends beside the bare \
             mechanisms timed on the same machine ([floor] rows); log time axis.",
            charts::mechanism_floors(&floor_bars(d))?,
        ),
        chart(
            "timeline",
            "platform",
            "Arrivals per second (top) and mean live units per bin split into executing, starting \
             and idle, per policy, over trace time, for one platform result (the first whose \
             trace is named bursty, else the first; at most 6 policies). Idle area is capacity \
             kept waiting.",
            platform::timeline(&p.timeline_trace, &p.timelines)?,
        ),
        chart(
            "validation",
            "platform",
            "Simulated minus replayed (measured), as a percentage of the replayed value, for \
             every figure `unitlab validate` compared.",
            platform::validation(&p.validation)?,
        ),
        chart(
            "scale_out",
            "scale",
            "Release to the last correct answer of N cold starts released at once (unitlab burst), log-log, one line per backend; a level where any unit failed is left out.",
            crate::scale::scale_out(&crate::scale::lines(d))?,
        ),
    ])
}

/// Every table of the report, in page order (the summary first). The claims table keeps its
/// CSV (`tables/headline.csv`) but is not shown: the summary and the sections' takeaways say
/// the same with fewer words.
pub fn build_tables(d: &ReportData) -> Vec<Table> {
    let f = frontier::main(d);
    let mut t = vec![summary::table(d, f)];
    if let Some(f) = f {
        t.push(frontier::waiting_table(f));
        t.push(frontier::points_table(f));
    }
    let mut all = tables::all(d);
    let mut headline = all.remove(0);
    platform::headline_rows(d, &mut headline);
    t.extend(all);
    t.extend(platform::tables(d));
    t.extend(crate::scale::tables(d));
    t.push(headline);
    t
}

struct Section {
    id: &'static str,
    title: &'static str,
    tables: &'static [&'static str],
}

const SECTIONS: &[Section] = &[
    Section {
        id: "frontier",
        title: "The cost of waiting: keep-alive frontier",
        tables: &["cost_of_waiting", "frontier_points"],
    },
    Section {
        id: "burstiness",
        title: "Burstiness: when scale-to-zero pays",
        tables: &[],
    },
    Section {
        id: "cold",
        title: "Cold start",
        tables: &["cold_start", "phases"],
    },
    Section {
        id: "warm",
        title: "Warm invoke",
        tables: &["warm"],
    },
    Section {
        id: "memory",
        title: "Memory and density",
        tables: &["memory", "density"],
    },
    Section {
        id: "floors",
        title: "Mechanism floors",
        tables: &["floors"],
    },
    Section {
        id: "platform",
        title: "Platform: replay and simulation",
        tables: &["platform_runs", "validation", "replay_harness"],
    },
    Section {
        id: "scale",
        title: "Scale-out and density under a limit",
        tables: &["burst", "density_measured"],
    },
    Section {
        id: "failures",
        title: "Warnings and failures",
        tables: &["warnings"],
    },
    Section {
        id: "environment",
        title: "Environment",
        tables: &[
            "environment",
            "backends",
            "overhead",
            "platform_environment",
            "headline",
        ],
    },
];

/// Tables longer than this go into a collapsed `<details>`.
pub const MAX_OPEN_ROWS: usize = 12;

/// Tables shown open (when not longer than [`MAX_OPEN_ROWS`]); the others are collapsed.
const OPEN_TABLES: &[&str] = &["cost_of_waiting", "validation"];

fn table_html(t: &Table, collapse: bool) -> String {
    let inner = format!(
        "<p class=\"note\">{note}</p>\n<div class=\"table-wrap\">\n{table}</div>\n<p class=\"csv\">CSV: <a href=\"tables/{id}.csv\">tables/{id}.csv</a></p>\n",
        id = format::html(&t.id),
        note = format::html(&t.note),
        table = t.to_html(),
    );
    if collapse || t.rows.len() > MAX_OPEN_ROWS {
        format!(
            "<details id=\"table-{id}\"><summary>{title} ({n} rows; <a href=\"tables/{id}.csv\">CSV</a>)</summary>\n{inner}</details>\n",
            id = format::html(&t.id),
            title = format::html(&t.title),
            n = t.rows.len(),
        )
    } else {
        format!(
            "<h3 id=\"table-{id}\">{title}</h3>\n{inner}",
            id = format::html(&t.id),
            title = format::html(&t.title),
        )
    }
}

fn chart_html(c: &Chart) -> String {
    let fig = format!(
        "<figure class=\"chart\" id=\"chart-{id}\" data-has-data=\"{has}\">\n{svg}\n<figcaption>{caption} <a href=\"charts/{id}.svg\">SVG</a></figcaption>\n</figure>\n",
        id = c.id,
        has = c.has_data,
        svg = strip_xml_decl(&c.svg),
        caption = format::html(&c.caption),
    );
    if c.collapsed {
        format!(
            "<details class=\"chart\"><summary>Chart: {}</summary>\n{fig}</details>\n",
            format::html(c.id)
        )
    } else {
        fig
    }
}

/// The one-sentence takeaway a section opens with, computed from the data.
pub fn takeaway(d: &ReportData, section: &str) -> Option<String> {
    let models = summary::models(d);
    let by = |f: &dyn Fn(&crate::data::Run) -> Option<f64>| -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = models
            .iter()
            .filter_map(|m| Some((m.label.clone(), f(m.run)?)))
            .filter(|(_, x)| *x > 0.0)
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v
    };
    let span = |v: &[(String, f64)], fmt: &dyn Fn(f64) -> String, what: &str| {
        let (lo, hi) = (v.first()?, v.last()?);
        Some(format!(
            "{what} runs from {} for {} to {} for {}: {} apart.",
            fmt(lo.1),
            lo.0,
            fmt(hi.1),
            hi.0,
            format::ratio(hi.1 / lo.1)
        ))
    };
    match section {
        "frontier" => frontier::main(d).and_then(frontier::frontier_sentence),
        "burstiness" => frontier::main(d).and_then(frontier::burstiness_sentence),
        "cold" => span(
            &by(&|r| r.result.cold.p50.map(|v| v as f64)),
            &format::ns,
            "The median cold start",
        ),
        "warm" => span(
            &by(&|r| r.result.warm.p50.map(|v| v as f64)),
            &format::ns,
            "The median warm invoke",
        ),
        "memory" => {
            let v = by(&|r| r.bytes_per_unit().map(|(b, _)| b));
            let (lo, hi) = (v.first()?, v.last()?);
            Some(format!(
                "A unit costs from {} ({}) to {} ({}): {} more units of {} than of {} fit in the same memory.",
                format::bytes(lo.1),
                lo.0,
                format::bytes(hi.1),
                hi.0,
                format::ratio(hi.1 / lo.1),
                lo.0,
                hi.0
            ))
        }
        "floors" => {
            let f = d.floors();
            let first = f.first()?;
            Some(format!(
                "The bare mechanism {} takes {} (p50): no model built on it starts faster.",
                first.name,
                format::ns(first.p50_ns as f64)
            ))
        }
        "platform" => {
            let n: usize = d.platforms.iter().map(|p| p.summary.runs.len()).sum();
            (n > 0).then(|| {
                format!(
                    "{n} policy runs over {} replay or simulation results; {} validations compare the simulator with a replay on the real backend.",
                    d.platforms.len(),
                    d.validations.len()
                )
            })
        }
        _ => None,
    }
}

/// Warnings for the top of the page: one line per backend at most (its runs' notes, the
/// first in full and a count of the rest; the full list is under Warnings and failures).
fn top_warnings(d: &ReportData) -> Vec<String> {
    let mut warns: Vec<String> = d.warnings.clone();
    let mut by_backend: Vec<(String, Vec<String>)> = Vec::new();
    for r in &d.runs {
        let mut notes: Vec<String> = Vec::new();
        if !r.result.errors.is_empty() {
            notes.push(format!("{} failed units or invokes", r.result.errors.len()));
        }
        notes.extend(r.result.warnings.iter().cloned());
        notes.extend(tables::overhead_warnings(r));
        let notes: Vec<String> = notes
            .into_iter()
            .map(|n| format!("{}: {n}", r.label))
            .collect();
        match by_backend.iter_mut().find(|(b, _)| b == r.backend()) {
            Some((_, v)) => v.extend(notes),
            None => by_backend.push((r.backend().to_string(), notes)),
        }
    }
    for (_, notes) in by_backend {
        match notes.len() {
            0 => {}
            1 => warns.push(notes[0].clone()),
            n => warns.push(format!(
                "{} (+{} more notes under Warnings and failures)",
                notes[0],
                n - 1
            )),
        }
    }
    let mut p = platform::warnings(d);
    p.extend(crate::scale::warnings(d));
    match p.len() {
        0 => {}
        1 => warns.push(p[0].clone()),
        n => warns.push(format!(
            "{} (+{} more platform notes under Warnings and failures)",
            p[0],
            n - 1
        )),
    }
    if d.is_empty() {
        warns.push("no results were given: every chart below is empty".to_string());
    }
    warns
}

/// The page, with the charts and tables it shows.
pub fn render_html(
    d: &ReportData,
    opts: &ReportOptions,
) -> Result<(String, Vec<Chart>, Vec<Table>), ReportError> {
    let charts = build_charts(d)?;
    let tables = build_tables(d);
    let mut body = String::new();

    // The first screen: the summary table and the spectrum.
    if let Some(t) = tables.iter().find(|t| t.id == "summary") {
        body.push_str(&format!(
            "<section id=\"summary\">\n<h2>{}</h2>\n<div class=\"table-wrap\">\n{}</div>\n<p class=\"note\">{} CSV: <a href=\"tables/summary.csv\">tables/summary.csv</a></p>\n",
            format::html(&t.title),
            t.to_html().replacen("<table>", "<table class=\"summary\">", 1),
            format::html(&t.note),
        ));
        for c in charts.iter().filter(|c| c.section == "summary") {
            body.push_str(&chart_html(c));
        }
        body.push_str("</section>\n");
    }

    let warns = top_warnings(d);
    if !warns.is_empty() {
        body.push_str("<div class=\"warnings\"><strong>Read these first</strong><ul>\n");
        for w in &warns {
            body.push_str(&format!("<li>{}</li>\n", format::html(w)));
        }
        body.push_str("</ul></div>\n");
    }

    for s in SECTIONS {
        body.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n",
            s.id,
            format::html(s.title)
        ));
        if let Some(t) = takeaway(d, s.id) {
            body.push_str(&format!("<p class=\"takeaway\">{}</p>\n", format::html(&t)));
        }
        for c in charts.iter().filter(|c| c.section == s.id) {
            body.push_str(&chart_html(c));
        }
        if s.id == "floors" && d.floors().is_empty() {
            body.push_str("<p class=\"note\">No mechanism floor among the inputs: measure the \
                <code>process</code> backend (fork/exec of the static runner) or add a \
                <code>floors.json</code> (e.g. <code>runc run</code> of an OCI bundle) to show one.</p>\n");
        }
        for id in s.tables {
            if let Some(t) = tables.iter().find(|t| t.id == *id) {
                // The sections lead with their chart and takeaway; the full tables (with
                // their CSV) are one click away. The compact cost-of-waiting table stays open.
                body.push_str(&table_html(t, !OPEN_TABLES.contains(id)));
            }
        }
        body.push_str("</section>\n");
    }

    body.push_str("<section id=\"files\">\n<details><summary>Files: every chart as SVG and every table as CSV</summary>\n<p class=\"note\">Raw numbers; units in the column names; an empty field is a figure that was not measured.</p>\n<ul class=\"files\">\n");
    for c in &charts {
        body.push_str(&format!(
            "<li><a href=\"charts/{0}.svg\">charts/{0}.svg</a></li>\n",
            c.id
        ));
    }
    for t in &tables {
        body.push_str(&format!(
            "<li><a href=\"tables/{0}.csv\">tables/{0}.csv</a></li>\n",
            format::html(&t.id)
        ));
    }
    body.push_str("</ul>\n</details>\n</section>\n");

    let nav: String = SECTIONS
        .iter()
        .map(|s| format!("<a href=\"#{}\">{}</a>", s.id, format::html(s.title)))
        .collect();
    let mut subtitle = format!(
        "{} measure runs, {} platform results",
        d.runs.len(),
        platform::count(d)
    );
    let machines: Vec<String> = {
        let mut m: Vec<String> = Vec::new();
        for r in &d.runs {
            let e = &r.result.env;
            let s = format!("{} ({} cores)", e.cpu_model, e.cores);
            if !m.contains(&s) {
                m.push(s);
            }
        }
        m
    };
    if !machines.is_empty() {
        subtitle.push_str(&format!(" · measured on {}", machines.join(", ")));
    }
    if let Some(g) = &opts.generated_at {
        subtitle.push_str(&format!(" · generated {g}"));
    }
    let html = TEMPLATE
        .replace("{{title}}", &format::html(&opts.title))
        .replace("{{subtitle}}", &format::html(&subtitle))
        .replace("{{nav}}", &nav)
        .replace("{{body}}", &body);
    Ok((html, charts, tables))
}

fn strip_xml_decl(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn mkdir(path: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `index.html`, `charts/<id>.svg` and `tables/<id>.csv` under `out_dir` (created if
/// needed; existing files of the same names are replaced).
pub fn render_report(
    d: &ReportData,
    out_dir: &Path,
    opts: &ReportOptions,
) -> Result<ReportFiles, ReportError> {
    let (html, charts, tables) = render_html(d, opts)?;
    let chart_dir = out_dir.join("charts");
    let table_dir = out_dir.join("tables");
    mkdir(&chart_dir)?;
    mkdir(&table_dir)?;
    let mut files = ReportFiles {
        index: out_dir.join("index.html"),
        charts: Vec::new(),
        tables: Vec::new(),
    };
    for c in &charts {
        let p = chart_dir.join(format!("{}.svg", c.id));
        write(&p, &c.svg)?;
        files.charts.push(p);
    }
    for t in &tables {
        let p = table_dir.join(format!("{}.csv", t.id));
        write(&p, &t.to_csv())?;
        files.tables.push(p);
    }
    write(&files.index, &html)?;
    Ok(files)
}
