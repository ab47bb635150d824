//! Every table of the report, as a [`Table`] that renders both to HTML (human units) and to
//! CSV (raw numbers; the unit is in the column name: `_ns`, `_bytes`).
//!
//! A figure that was not measured is an empty CSV field and a "—" in HTML, never 0.

use std::collections::BTreeMap;

use unitlab_results::Summary;

use crate::data::{ReportData, Run};
use crate::format;

/// One table cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Free text.
    Text(String),
    /// Nanoseconds.
    Ns(Option<f64>),
    /// Bytes.
    Bytes(Option<f64>),
    /// A count.
    Count(Option<f64>),
    /// A ratio (`12.3×`).
    Ratio(Option<f64>),
    /// A percentage (already multiplied by 100).
    Pct(Option<f64>),
    /// A plain number.
    Num(Option<f64>),
}

impl Cell {
    /// Text cell.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// The CSV field: raw number (integers without decimals), empty when not measured.
    pub fn csv(&self) -> String {
        // Durations and sizes to a thousandth of their unit; other numbers in full (Rust's
        // shortest round-trip form), so that tiny costs are not rounded to 0.
        let num = |v: &Option<f64>, full: bool| match v {
            None => String::new(),
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", *x as i64),
            Some(x) if full => format!("{x}"),
            Some(x) => format!("{x:.3}"),
        };
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Ns(v) | Cell::Bytes(v) | Cell::Count(v) => num(v, false),
            Cell::Num(v) | Cell::Ratio(v) | Cell::Pct(v) => num(v, true),
        }
    }

    /// The HTML text (escaped).
    pub fn html(&self) -> String {
        let missing = "<span class=\"na\" title=\"not measured\">—</span>".to_string();
        let f = |v: &Option<f64>, g: &dyn Fn(f64) -> String| match v {
            None => missing.clone(),
            Some(x) => format::html(&g(*x)),
        };
        match self {
            Cell::Text(s) => format::html(s),
            Cell::Ns(v) => f(v, &format::ns),
            Cell::Bytes(v) => f(v, &format::bytes),
            Cell::Count(v) => f(v, &format::count),
            Cell::Ratio(v) => f(v, &format::ratio),
            Cell::Pct(v) => f(v, &|x| format!("{x:+.1}%")),
            Cell::Num(v) => f(v, &format::sig3),
        }
    }

    fn is_numeric(&self) -> bool {
        !matches!(self, Cell::Text(_))
    }
}

/// A table: shown in the HTML and written as `<id>.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// File stem and HTML anchor.
    pub id: String,
    /// Heading.
    pub title: String,
    /// What the reader must know (method, units, caveats).
    pub note: String,
    /// Column names (CSV header; units in the names).
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table.
    pub fn new(id: &str, title: &str, note: &str, columns: &[&str]) -> Table {
        Table {
            id: id.to_string(),
            title: title.to_string(),
            note: note.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// The CSV text (RFC 4180 quoting, `\n` line ends).
    pub fn to_csv(&self) -> String {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&self.columns);
        for r in &self.rows {
            let _ = w.write_record(r.iter().map(Cell::csv));
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The HTML `<table>` (without heading).
    pub fn to_html(&self) -> String {
        let mut s = String::from("<table>\n<thead><tr>");
        for c in &self.columns {
            s.push_str(&format!("<th>{}</th>", format::html(c)));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        if self.rows.is_empty() {
            s.push_str(&format!(
                "<tr><td colspan=\"{}\" class=\"na\">no data</td></tr>\n",
                self.columns.len().max(1)
            ));
        }
        for r in &self.rows {
            s.push_str("<tr>");
            for c in r {
                if c.is_numeric() {
                    s.push_str(&format!("<td class=\"num\">{}</td>", c.html()));
                } else {
                    s.push_str(&format!("<td>{}</td>", c.html()));
                }
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody>\n</table>\n");
        s
    }
}

fn ns(v: Option<u64>) -> Cell {
    Cell::Ns(v.map(|v| v as f64))
}

fn summary_cells(s: &Summary) -> Vec<Cell> {
    vec![
        Cell::Count(Some(s.count as f64)),
        Cell::Count(Some(s.zero_samples as f64)),
        ns(s.min),
        ns(s.p50),
        ns(s.p90),
        ns(s.p99),
        ns(s.p999),
        ns(s.max),
        Cell::Ns(s.mean),
        Cell::Ns(s.stdev),
        Cell::Count(Some(s.mild_outliers as f64)),
        Cell::Count(Some(s.severe_outliers as f64)),
    ]
}

const SUMMARY_COLS: [&str; 12] = [
    "n",
    "zero_samples",
    "min_ns",
    "p50_ns",
    "p90_ns",
    "p99_ns",
    "p99.9_ns",
    "max_ns",
    "mean_ns",
    "stdev_ns",
    "mild_outliers",
    "severe_outliers",
];

/// Cold starts per run.
pub fn cold_start(d: &ReportData) -> Table {
    let mut cols = vec!["run", "backend", "function"];
    cols.extend(SUMMARY_COLS);
    cols.extend([
        "start_p50_ns",
        "first_invoke_p50_ns",
        "prepare_ns",
        "failures",
    ]);
    let mut t = Table::new(
        "cold_start",
        "Cold start: start + first invoke",
        "Percentiles from an HDR histogram (3 significant digits) of every cold sample; outliers \
         (Tukey fences) are counted, never dropped. Prepare (image build, compile) is never part \
         of a cold start and is shown apart.",
        &cols,
    );
    for r in &d.runs {
        let m = &r.result;
        let mut row = vec![
            Cell::text(&r.label),
            Cell::text(r.backend()),
            Cell::text(&m.function.name),
        ];
        row.extend(summary_cells(&m.cold));
        row.extend([
            ns(m.cold_start_part.p50),
            ns(m.cold_first_invoke.p50),
            Cell::Ns(Some(m.prepare_ns as f64)),
            Cell::Count(Some(m.errors.len() as f64)),
        ]);
        t.rows.push(row);
    }
    t
}

/// Cold-start phases per run, in the backend's words.
pub fn phases(d: &ReportData) -> Table {
    let mut t = Table::new(
        "phases",
        "Cold start phases",
        "Each phase summarised on its own; the sum of the phase medians is not the median of \
         the sum. `start (total)` and `first invoke` are the harness's own split of every cold \
         start.",
        &["run", "phase", "n", "p50_ns", "p99_ns", "mean_ns", "max_ns"],
    );
    for r in &d.runs {
        let m = &r.result;
        let mut add = |name: &str, s: &Summary| {
            t.rows.push(vec![
                Cell::text(&r.label),
                Cell::text(name),
                Cell::Count(Some(s.count as f64)),
                ns(s.p50),
                ns(s.p99),
                Cell::Ns(s.mean),
                ns(s.max),
            ])
        };
        for (name, s) in &m.phases {
            add(name, s);
        }
        add("start (total)", &m.cold_start_part);
        add("first invoke", &m.cold_first_invoke);
    }
    t
}

/// Warm invokes per run.
pub fn warm(d: &ReportData) -> Table {
    let mut cols = vec!["run", "backend", "function"];
    cols.extend(SUMMARY_COLS);
    let mut t = Table::new(
        "warm",
        "Warm invoke",
        "An invoke on a unit that already served one; never averaged with cold starts.",
        &cols,
    );
    for r in &d.runs {
        let m = &r.result;
        let mut row = vec![
            Cell::text(&r.label),
            Cell::text(r.backend()),
            Cell::text(&m.function.name),
        ];
        row.extend(summary_cells(&m.warm));
        t.rows.push(row);
    }
    t
}

/// Memory per unit per run, every view.
pub fn memory(d: &ReportData) -> Table {
    let mut t = Table::new(
        "memory",
        "Memory per live unit",
        "Engine view: what the engine accounts (linear memory, V8 heap, cgroup usage). Host view: \
         PSS/RSS of the unit's own processes. RSS delta: for in-process backends, (process RSS \
         with all units alive − RSS before) / units. RSS after: what the runtime kept once the \
         units were stopped.",
        &[
            "run",
            "in_process",
            "live_units",
            "engine_bytes_per_unit",
            "host_bytes_per_unit",
            "rss_delta_bytes_per_unit",
            "rss_before_bytes",
            "rss_live_bytes",
            "rss_after_bytes",
            "readings",
        ],
    );
    for r in &d.runs {
        let m = &r.result.memory;
        let b = |v: Option<u64>| Cell::Bytes(v.map(|v| v as f64));
        t.rows.push(vec![
            Cell::text(&r.label),
            Cell::text(if r.result.backend.in_process {
                "yes"
            } else {
                "no"
            }),
            Cell::Count(Some(m.live_units as f64)),
            Cell::Bytes(m.engine_bytes_per_unit),
            Cell::Bytes(m.host_bytes_per_unit),
            Cell::Bytes(m.rss_delta_per_unit),
            b(m.rss_before),
            b(m.rss_live),
            b(m.rss_after),
            Cell::Count(Some(r.memory.len() as f64)),
        ]);
    }
    t
}

/// Units that fit in 1 GiB and in the measuring machine's memory.
pub fn density(d: &ReportData) -> Table {
    let mut t = Table::new(
        "density",
        "Density",
        "floor(budget / memory per unit), per-unit memory only: the runtime's fixed base (a \
         dockerd, a Node or deno process, the harness) is not included, nor the kernel's own \
         page tables. Memory per unit is the host view, else the RSS delta, else the engine view.",
        &[
            "run",
            "view",
            "bytes_per_unit",
            "units_in_1GiB",
            "machine_memory_bytes",
            "units_in_machine_memory",
        ],
    );
    for r in &d.runs {
        let Some((per, view)) = r.bytes_per_unit() else {
            continue;
        };
        let machine = r.result.env.memory_bytes as f64;
        let machine = (machine > 0.0).then_some(machine);
        t.rows.push(vec![
            Cell::text(&r.label),
            Cell::text(view),
            Cell::Bytes(Some(per)),
            Cell::Count(Some((1073741824.0 / per).floor())),
            Cell::Bytes(machine),
            Cell::Count(machine.map(|m| (m / per).floor())),
        ]);
    }
    t
}

/// Mechanism floors and the backends' cold starts.
pub fn floors(d: &ReportData) -> Table {
    let mut t = Table::new(
        "floors",
        "Mechanism floors",
        "The bare mechanisms the backends build on, timed on the same machine: fork/exec of the \
         static runner (the process backend), `runc run` when a result or floors.json carries it.",
        &["name", "kind", "p50_ns", "p99_ns", "source"],
    );
    for f in d.floors() {
        t.rows.push(vec![
            Cell::text(&f.name),
            Cell::text("mechanism"),
            Cell::Ns(Some(f.p50_ns as f64)),
            ns(f.p99_ns),
            Cell::text(&f.source),
        ]);
    }
    for r in &d.runs {
        if r.backend() == "process" {
            continue;
        }
        if let Some(p50) = r.result.cold.p50 {
            t.rows.push(vec![
                Cell::text(&r.label),
                Cell::text("backend"),
                Cell::Ns(Some(p50 as f64)),
                ns(r.result.cold.p99),
                Cell::text("cold start"),
            ]);
        }
    }
    t
}

/// The machine and software of every run.
pub fn environment(d: &ReportData) -> Table {
    let mut t = Table::new(
        "environment",
        "Environment",
        "As recorded by the harness at the start of each run.",
        &[
            "run",
            "cpu",
            "cores",
            "memory_bytes",
            "kernel",
            "os",
            "rustc",
            "unitlab",
            "git_commit",
            "seed",
            "time_utc",
            "extra",
        ],
    );
    for r in &d.runs {
        let e = &r.result.env;
        let extra: Vec<String> = e.extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        t.rows.push(vec![
            Cell::text(&r.label),
            Cell::text(&e.cpu_model),
            Cell::Count(Some(e.cores as f64)),
            Cell::Bytes(Some(e.memory_bytes as f64)),
            Cell::text(&e.kernel),
            Cell::text(&e.os),
            Cell::text(&e.rustc),
            Cell::text(&e.unitlab),
            Cell::text(e.git_commit.as_deref().unwrap_or("")),
            Cell::text(e.seed.to_string()),
            Cell::text(&e.time),
            Cell::text(extra.join("; ")),
        ]);
    }
    t
}

/// Backend versions and settings of every run.
pub fn backends(d: &ReportData) -> Table {
    let mut t = Table::new(
        "backends",
        "Backend versions and settings",
        "What each backend ran on and every setting that changes the figures.",
        &["run", "kind", "key", "value"],
    );
    for r in &d.runs {
        let b = &r.result.backend;
        for (kind, map) in [("version", &b.versions), ("setting", &b.settings)] {
            for (k, v) in map {
                t.rows.push(vec![
                    Cell::text(&r.label),
                    Cell::text(kind),
                    Cell::text(k),
                    Cell::text(v),
                ]);
            }
        }
        let l = &r.result.function.limits;
        let limits = [
            ("limit.memory_bytes", l.memory_bytes.map(|v| v.to_string())),
            (
                "limit.deadline_ms",
                l.deadline.map(|d| d.as_millis().to_string()),
            ),
            ("limit.cpus", l.cpus.map(|c| c.to_string())),
        ];
        for (k, v) in limits {
            if let Some(v) = v {
                t.rows.push(vec![
                    Cell::text(&r.label),
                    Cell::text("limit"),
                    Cell::text(k),
                    Cell::text(v),
                ]);
            }
        }
    }
    t
}

/// The harness's own overhead per run.
pub fn overhead(d: &ReportData) -> Table {
    let mut t = Table::new(
        "overhead",
        "Harness overhead",
        "Measured before every run: the timer's resolution and the cost of one empty timed \
         sample (two clock reads and the bookkeeping). Figures near these are noise. Then the \
         run's settings, with the idle gap before each timed call (0: back to back).",
        &[
            "run",
            "timer_resolution_ns",
            "per_sample_p50_ns",
            "per_sample_p99_ns",
            "units",
            "warm_per_unit",
            "memory_units",
            "gap_ns",
        ],
    );
    for r in &d.runs {
        let o = &r.result.overhead;
        let c = &r.result.config;
        t.rows.push(vec![
            Cell::text(&r.label),
            Cell::Ns(Some(o.timer_resolution_ns as f64)),
            ns(o.per_sample_ns),
            ns(o.per_sample_p99_ns),
            Cell::Count(Some(c.units as f64)),
            Cell::Count(Some(c.warm_per_unit as f64)),
            Cell::Count(Some(c.memory_units as f64)),
            Cell::Ns(Some(c.gap_ns as f64)),
        ]);
    }
    t
}

/// Medians within 10× of the harness's own per-sample cost: mostly harness, an upper bound.
pub fn overhead_warnings(r: &Run) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(o) = r.result.overhead.per_sample_ns.filter(|&o| o > 0) {
        for (what, s) in [("cold", &r.result.cold), ("warm", &r.result.warm)] {
            if let Some(p50) = s.p50.filter(|&p| p < 10 * o) {
                out.push(format!(
                    "{what} p50 ({}) is within 10× of the harness's own cost per sample ({}): \
                     read it as an upper bound",
                    format::ns(p50 as f64),
                    format::ns(o as f64)
                ));
            }
        }
    }
    out
}

/// Warnings from the harness, failures, load warnings, and the platform results' warnings.
pub fn warnings(d: &ReportData) -> Table {
    let mut t = Table::new(
        "warnings",
        "Warnings and failures",
        "Everything the harness flagged; failed units and invokes are kept here, never dropped \
         silently.",
        &["run", "kind", "unit", "invoke", "message"],
    );
    for w in &d.warnings {
        t.rows.push(vec![
            Cell::text("(inputs)"),
            Cell::text("warning"),
            Cell::text(""),
            Cell::text(""),
            Cell::text(w),
        ]);
    }
    for r in &d.runs {
        for w in &r.result.warnings {
            t.rows.push(vec![
                Cell::text(&r.label),
                Cell::text("warning"),
                Cell::text(""),
                Cell::text(""),
                Cell::text(w),
            ]);
        }
        let unverified = r.samples.iter().filter(|s| !s.verified).count();
        if unverified > 0 {
            t.rows.push(vec![
                Cell::text(&r.label),
                Cell::text("warning"),
                Cell::text(""),
                Cell::text(""),
                Cell::text(format!(
                    "{unverified} samples could not be verified (user code without an expected answer)"
                )),
            ]);
        }
        for w in overhead_warnings(r) {
            t.rows.push(vec![
                Cell::text(&r.label),
                Cell::text("warning"),
                Cell::text(""),
                Cell::text(""),
                Cell::text(w),
            ]);
        }
        for e in &r.result.errors {
            t.rows.push(vec![
                Cell::text(&r.label),
                Cell::text("failure"),
                Cell::text(e.unit.to_string()),
                Cell::text(e.invoke.map(|i| i.to_string()).unwrap_or_default()),
                Cell::text(&e.message),
            ]);
        }
    }
    for w in crate::platform::warnings(d) {
        t.rows.push(vec![
            Cell::text("(platform)"),
            Cell::text("warning"),
            Cell::text(""),
            Cell::text(""),
            Cell::text(w),
        ]);
    }
    t
}

/// The headline: each of the seed's claims beside the measured numbers.
pub fn headline(d: &ReportData) -> Table {
    let mut t = Table::new(
        "headline",
        "The claims, measured",
        "Each claim beside the figures measured here (function `noop` when present: the cost of \
         the unit itself). Ratios compare medians of cold starts (start + first invoke) on the \
         same machine; see the tables below for the spread.",
        &[
            "claim",
            "measured",
            "runs",
            "machine",
            "versions",
            "measured_at",
        ],
    );
    let container = d.headline_run("container");
    let row = |claim: &str, measured: String, runs: &[&Run]| -> Vec<Cell> {
        let machine: Vec<String> = dedup(runs.iter().map(|r| machine(r)));
        let versions: Vec<String> = dedup(runs.iter().map(|r| versions(r)));
        let dates: Vec<String> = dedup(runs.iter().map(|r| r.result.env.time.clone()));
        vec![
            Cell::text(claim),
            Cell::text(measured),
            Cell::text(
                runs.iter()
                    .map(|r| r.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Cell::text(machine.join(" | ")),
            Cell::text(versions.join(" | ")),
            Cell::text(dates.join(" | ")),
        ]
    };

    // 1. Containers.
    let claim = "Containers start whole running environments";
    match container {
        Some(c) => {
            let mut m = cold_text(c);
            let phases: Vec<String> = c
                .result
                .phases
                .iter()
                .filter_map(|(n, s)| s.p50.map(|p| format!("{n} {}", format::ns(p as f64))))
                .collect();
            if !phases.is_empty() {
                m.push_str(&format!("; phase medians: {}", phases.join(", ")));
            }
            t.rows.push(row(claim, m, &[c]));
        }
        None => t.rows.push(row(
            claim,
            "not measured: no container result among the inputs".to_string(),
            &[],
        )),
    }

    // 2 and 3. Isolates and Wasm, against containers.
    let others = [
        (
            "Isolates start smaller pieces of work inside an already-running runtime",
            ["v8", "deno"].as_slice(),
        ),
        ("Wasm instances start smaller still", ["wasm"].as_slice()),
    ];
    for (claim, backends) in others {
        let runs: Vec<&Run> = backends.iter().filter_map(|b| d.headline_run(b)).collect();
        if runs.is_empty() {
            t.rows.push(row(
                claim,
                format!(
                    "not measured: no {} result among the inputs",
                    backends.join(" or ")
                ),
                &[],
            ));
            continue;
        }
        for r in runs {
            let mut m = cold_text(r);
            match container {
                Some(c) => {
                    m.push_str(&format!("; {}", ratio_text(c, r)));
                    t.rows.push(row(claim, m, &[r, c]));
                }
                None => {
                    m.push_str("; no container result to compare with");
                    t.rows.push(row(claim, m, &[r]));
                }
            }
        }
    }

    // 4. Paying for waiting: needs a replay or simulation result.
    t.rows.push(row(
        "You stop paying for waiting",
        "not measured: no replay or simulation result among the inputs (idle cost, pay-per-use \
         versus provisioned on the default bursty workload)"
            .to_string(),
        &[],
    ));
    t
}

fn dedup(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in it {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn machine(r: &Run) -> String {
    let e = &r.result.env;
    format!(
        "{}, {} cores, {}, Linux {}",
        e.cpu_model,
        e.cores,
        format::bytes(e.memory_bytes as f64),
        e.kernel
    )
}

fn versions(r: &Run) -> String {
    let v: BTreeMap<&String, &String> = r.result.backend.versions.iter().collect();
    let mut parts: Vec<String> = v.iter().map(|(k, v)| format!("{k} {v}")).collect();
    parts.push(format!("unitlab {}", r.result.env.unitlab));
    parts.join(", ")
}

fn cold_text(r: &Run) -> String {
    let s = &r.result.cold;
    let f = |v: Option<u64>| v.map(|v| format::ns(v as f64)).unwrap_or("—".into());
    format!(
        "{} cold start ({}): p50 {}, p99 {} (n={})",
        r.backend(),
        r.result.function.name,
        f(s.p50),
        f(s.p99),
        s.count
    )
}

/// Container p50 over the other's p50, with a note when the functions differ.
pub fn cold_ratio(container: &Run, other: &Run) -> Option<f64> {
    let c = container.result.cold.p50? as f64;
    let o = other.result.cold.p50? as f64;
    (o > 0.0).then_some(c / o)
}

fn ratio_text(c: &Run, r: &Run) -> String {
    match cold_ratio(c, r) {
        Some(x) => {
            let mut s = format!("container p50 / {} p50 = {}", r.backend(), format::ratio(x));
            if let (Some(cp), Some(rp)) = (c.result.cold.p99, r.result.cold.p99) {
                if rp > 0 {
                    s.push_str(&format!(
                        " (p99 ratio {})",
                        format::ratio(cp as f64 / rp as f64)
                    ));
                }
            }
            if c.result.function.name != r.result.function.name {
                s.push_str(&format!(
                    " — caution: functions differ ({} vs {})",
                    c.result.function.name, r.result.function.name
                ));
            }
            s
        }
        None => "ratio not computable (a median is missing)".to_string(),
    }
}

/// Every measure table, in report order (headline first).
pub fn all(d: &ReportData) -> Vec<Table> {
    vec![
        headline(d),
        cold_start(d),
        phases(d),
        warm(d),
        memory(d),
        density(d),
        floors(d),
        warnings(d),
        environment(d),
        backends(d),
        overhead(d),
    ]
}
