//! Charts on synthetic data (one backend, several, none), loading result directories, the
//! report's files, CSV snapshots, and `compare`.

use std::path::{Path, PathBuf};

use unitlab_reports::charts::{self, DensityData, LatencySeries};
use unitlab_reports::html::{self, CHART_IDS};
use unitlab_reports::{fixture, platform, tables, ReportData, ReportError, ReportOptions};

const SEED: u64 = 7;

fn all_data() -> ReportData {
    fixture::report_data(SEED)
}

fn one_backend() -> ReportData {
    ReportData::from_runs(vec![fixture::measure_run("wasm", 50, 3, SEED).unwrap()])
}

/// Every chart function on the given data.
fn every_chart(d: &ReportData) -> Vec<(&'static str, String)> {
    let p = platform::views(d);
    vec![
        (
            "cold_start_cdf",
            charts::cold_start_cdf(&html::cold_series(d)).unwrap(),
        ),
        (
            "cold_start_phases",
            charts::cold_start_phases(&html::phase_bars(d)).unwrap(),
        ),
        (
            "warm_latency",
            charts::warm_latency(&html::warm_series(d)).unwrap(),
        ),
        (
            "memory_per_unit",
            charts::memory_per_unit(&html::memory_bars(d)).unwrap(),
        ),
        ("density", charts::density(&html::density_data(d)).unwrap()),
        (
            "mechanism_floors",
            charts::mechanism_floors(&html::floor_bars(d)).unwrap(),
        ),
        (
            "timeline",
            charts::timeline(&p.timeline_trace, &p.timelines).unwrap(),
        ),
        ("validation", charts::validation(&p.validation).unwrap()),
    ]
}

trait NoData {
    fn pipe_no_data(&self) -> bool;
}

impl NoData for str {
    fn pipe_no_data(&self) -> bool {
        charts::is_no_data(self) && self.contains("no data")
    }
}

fn is_svg(s: &str) -> bool {
    s.contains("<svg") && s.trim_end().ends_with("</svg>")
}

fn has_marks(s: &str) -> bool {
    ["<polyline", "<rect", "<circle", "<path", "<polygon"]
        .iter()
        .map(|t| s.matches(t).count())
        .sum::<usize>()
        > 3
}

#[test]
fn every_chart_draws_for_all_backends() {
    let d = all_data();
    for (id, svg) in every_chart(&d) {
        assert!(is_svg(&svg), "{id}: not an SVG");
        assert!(!charts::is_no_data(&svg), "{id}: no data with full fixture");
        assert!(has_marks(&svg), "{id}: nothing drawn");
    }
}

#[test]
fn every_chart_draws_for_one_backend() {
    let d = one_backend();
    for (id, svg) in every_chart(&d) {
        assert!(is_svg(&svg), "{id}: not an SVG");
        let platform = ["timeline", "validation"];
        if platform.contains(&id) {
            assert!(charts::is_no_data(&svg), "{id}: expected a no-data panel");
        } else {
            assert!(!charts::is_no_data(&svg), "{id}: no data for one backend");
            assert!(has_marks(&svg), "{id}: nothing drawn");
        }
        assert!(
            svg.contains("wasm") || platform.contains(&id),
            "{id}: label missing"
        );
    }
}

#[test]
fn every_chart_gives_a_no_data_panel_for_empty_data() {
    let d = ReportData::default();
    for (id, svg) in every_chart(&d) {
        assert!(is_svg(&svg), "{id}: not an SVG");
        assert!(
            charts::is_no_data(&svg) && svg.contains("no data"),
            "{id}: no 'no data' panel"
        );
    }
}

#[test]
fn charts_survive_degenerate_data() {
    // All zeros (below the timer), a single sample, identical samples.
    let zeros = [LatencySeries {
        label: "wasm".into(),
        nanos: vec![0, 0, 0],
    }];
    assert!(charts::cold_start_cdf(&zeros)
        .unwrap()
        .as_str()
        .pipe_no_data());
    let one = [LatencySeries {
        label: "wasm".into(),
        nanos: vec![1234],
    }];
    assert!(!charts::cold_start_cdf(&one)
        .unwrap()
        .as_str()
        .pipe_no_data());
    assert!(!charts::warm_latency(&one).unwrap().as_str().pipe_no_data());
    let same = [LatencySeries {
        label: "v8".into(),
        nanos: vec![5000; 100],
    }];
    assert!(is_svg(&charts::cold_start_cdf(&same).unwrap()));
    let d = DensityData {
        lines: vec![charts::DensityLine {
            label: "x".into(),
            bytes_per_unit: f64::NAN,
            view: "host".into(),
        }],
        machine_bytes: None,
    };
    assert!(charts::density(&d).unwrap().as_str().pipe_no_data());
}

#[test]
fn charts_escape_labels() {
    let s = [LatencySeries {
        label: "<script>&".into(),
        nanos: vec![10, 20, 30],
    }];
    let svg = charts::cold_start_cdf(&s).unwrap();
    assert!(!svg.contains("<script>"));
    assert!(svg.contains("&lt;script&gt;&amp;"));
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn load_reads_what_the_harness_writes() {
    let t = tmp();
    fixture::write_all(t.path(), SEED).unwrap();
    let d = unitlab_reports::load(&[t.path()]).unwrap();
    let expected = fixture::report_data(SEED);
    assert_eq!(d.runs.len(), expected.runs.len());
    for a in &d.runs {
        let b = expected.runs.iter().find(|b| b.label == a.label).unwrap();
        // JSON floats are not bit-exact after a round trip (serde_json without
        // `float_roundtrip`): compare everything but the means and deviations exactly.
        assert_eq!(a.result.backend, b.result.backend);
        assert_eq!(a.result.env, b.result.env);
        assert_eq!(a.result.cold.p50, b.result.cold.p50);
        assert_eq!(a.result.warm.p99, b.result.warm.p99);
        assert_eq!(
            a.result.phases.keys().collect::<Vec<_>>(),
            b.result.phases.keys().collect::<Vec<_>>()
        );
        assert_eq!(a.samples, b.samples);
        assert_eq!(a.memory, b.memory);
        assert_eq!(a.label, b.label);
        assert_eq!(a.phase_order, b.phase_order);
    }
    assert_eq!(d.platforms.len(), 2);
    assert_eq!(d.platforms[0].timelines.len(), 3);
    assert_eq!(d.validations.len(), 1);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    // A single result directory and a summary.json path load too.
    let one = t.path().join("20260101T000000Z-wasm-noop");
    assert_eq!(unitlab_reports::load(&[&one]).unwrap().runs.len(), 1);
    let file = one.join("summary.json");
    assert_eq!(unitlab_reports::load(&[&file]).unwrap().runs.len(), 1);
}

#[test]
fn load_warns_about_missing_raw_files_and_fails_on_bad_paths() {
    let t = tmp();
    let run = fixture::measure_run("v8", 10, 2, SEED).unwrap();
    let dir = t.path().join("r");
    fixture::write_run(&run, &dir).unwrap();
    std::fs::remove_file(dir.join("samples.csv")).unwrap();
    let d = unitlab_reports::load(&[&dir]).unwrap();
    assert_eq!(d.runs.len(), 1);
    assert!(d.runs[0].samples.is_empty());
    assert!(
        d.warnings.iter().any(|w| w.contains("samples.csv")),
        "{:?}",
        d.warnings
    );

    let missing = t.path().join("nope");
    assert!(matches!(
        unitlab_reports::load(&[&missing]),
        Err(ReportError::NotFound { .. })
    ));
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = unitlab_reports::load(&[&empty]).unwrap_err();
    assert!(matches!(err, ReportError::NoResults { .. }));
    assert!(err.to_string().contains("unitlab measure"), "{err}");
    std::fs::write(dir.join("summary.json"), "{").unwrap();
    assert!(unitlab_reports::load(&[&dir]).is_err());
}

#[test]
fn report_writes_index_charts_and_tables() {
    let t = tmp();
    let d = all_data();
    let files = unitlab_reports::render_report(&d, t.path(), &ReportOptions::default()).unwrap();
    let html = std::fs::read_to_string(&files.index).unwrap();
    assert_eq!(files.charts.len(), CHART_IDS.len());
    for id in CHART_IDS {
        assert!(html.contains(&format!("id=\"chart-{id}\"")), "{id} missing");
        assert!(t.path().join("charts").join(format!("{id}.svg")).is_file());
    }
    for f in &files.tables {
        assert!(f.is_file());
        let id = f.file_stem().unwrap().to_str().unwrap();
        assert!(
            html.contains(&format!("tables/{id}.csv")),
            "{id} not linked"
        );
    }
    // Self-contained: no script, no remote reference.
    assert!(!html.contains("<script"));
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
    // The summary comes first; the claims table is kept (collapsed, with the environment).
    let summary = html.find("id=\"summary\"").unwrap();
    assert!(summary < html.find("id=\"chart-").unwrap());
    assert!(html.contains("The claims, measured"));
    for claim in [
        "Containers start whole running environments",
        "Isolates start smaller pieces of work",
        "Wasm instances",
        "You stop paying for waiting",
    ] {
        assert!(html.contains(claim), "{claim}");
    }
    assert!(html.contains("container p50 / v8 p50"));
    assert!(html.contains("pay per use versus provisioned"));
    // The environment, overhead and warnings are shown.
    assert!(html.contains(fixture::SYNTHETIC));
    assert!(html.contains("Harness overhead"));
    assert!(html.contains("severe outlier"));
}

#[test]
fn report_of_nothing_still_renders() {
    let t = tmp();
    let files =
        unitlab_reports::render_report(&ReportData::default(), t.path(), &ReportOptions::default())
            .unwrap();
    let html = std::fs::read_to_string(files.index).unwrap();
    assert!(html.contains("no results were given"));
    assert!(html.contains("not measured: no container result"));
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// Compares every CSV export of the fixture with `tests/snapshots/<id>.csv`. Set
/// `UPDATE_SNAPSHOTS=1` to rewrite them after an intended change (and review the diff).
#[test]
fn csv_exports_match_snapshots() {
    let d = fixture::report_data(SEED);
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let dir = snapshot_dir();
    let mut failures = Vec::new();
    let mut tables = html::build_tables(&d);
    let base = fixture::measure_run("container", 60, 3, SEED).unwrap();
    let new = fixture::measure_run("container", 60, 3, SEED + 1).unwrap();
    let mut t = unitlab_reports::compare(&base, &new).to_table();
    t.id = "compare_container".to_string();
    tables.push(t);
    for t in tables {
        let path = dir.join(format!("{}.csv", t.id));
        let csv = t.to_csv();
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &csv).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == csv => {}
            Ok(expected) => failures.push(format!(
                "{}: differs\n--- expected\n{expected}\n--- got\n{csv}",
                path.display()
            )),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "CSV snapshots differ (UPDATE_SNAPSHOTS=1 rewrites them):\n{}",
        failures.join("\n")
    );
}

#[test]
fn csv_has_raw_numbers_and_empty_fields_for_missing_figures() {
    let d = one_backend();
    let csv = tables::memory(&d).to_csv();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().contains("host_bytes_per_unit"));
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    // wasm has no host view: an empty field, not 0.
    assert_eq!(row[4], "");
    assert!(row[3].parse::<f64>().unwrap() > 0.0);
}

#[test]
fn compare_flags_a_real_change_and_not_noise() {
    let base = fixture::measure_run("v8", 120, 2, 1).unwrap();
    // Same distribution, other seed: within noise.
    let same = fixture::measure_run("v8", 120, 2, 2).unwrap();
    let c = unitlab_reports::compare(&base, &same);
    assert!(!c.any_flagged(), "{}", c.to_text());
    // Every cold start 30% slower.
    let mut slow = same.clone();
    for s in &mut slow.samples {
        if s.kind == unitlab_results::SampleKind::Cold {
            s.total_ns = s.total_ns * 13 / 10;
        }
    }
    let cold: Vec<u64> = slow.cold_nanos();
    slow.result.cold = unitlab_results::Summary::from_nanos(&cold);
    let c = unitlab_reports::compare(&base, &slow);
    let p50 = c.metrics.iter().find(|m| m.metric == "cold p50").unwrap();
    assert!(p50.flagged, "{}", c.to_text());
    assert_eq!(p50.verdict(), "SLOWER");
    assert!(p50.u_test_p.unwrap() < 0.01);
    let warm = c.metrics.iter().find(|m| m.metric == "warm p50").unwrap();
    assert!(!warm.flagged);
    let text = c.to_text();
    assert!(text.contains("cold p50") && text.contains("SLOWER") && text.contains("bootstrap"));
}

#[test]
fn compare_without_raw_samples_says_no_test() {
    let mut base = fixture::measure_run("wasm", 50, 2, 1).unwrap();
    let mut new = fixture::measure_run("wasm", 50, 2, 2).unwrap();
    base.samples.clear();
    new.samples.clear();
    let c = unitlab_reports::compare(&base, &new);
    let m = &c.metrics[0];
    assert!(m.change_pct.is_some());
    assert!(m.ci_pct.is_none());
    assert_eq!(m.verdict(), "no test");
    assert!(!c.any_flagged());
}

#[test]
fn compare_runs_pairs_by_backend_and_function() {
    let a = ReportData::from_runs(fixture::measure_runs(30, 2, 1));
    let mut runs = fixture::measure_runs(30, 2, 2);
    runs.remove(0);
    let b = ReportData::from_runs(runs);
    let (pairs, warnings) = unitlab_reports::compare_runs(&a, &b);
    assert_eq!(pairs.len(), a.runs.len() - 1);
    assert!(warnings
        .iter()
        .any(|w| w.contains("container") && w.contains("only in the baseline")));
}

#[test]
fn labels_name_what_differs() {
    let a = fixture::measure_run("wasm", 10, 1, 1).unwrap();
    let mut b = fixture::measure_run("wasm", 10, 1, 2).unwrap();
    b.result
        .backend
        .settings
        .insert("strategy".into(), "ondemand".into());
    let c = fixture::measure_run("v8", 10, 1, 1).unwrap();
    let mut d = ReportData::from_runs(vec![a.clone(), b, c, a]);
    d.relabel();
    let labels: Vec<&str> = d.runs.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "wasm (strategy=pooling)",
            "wasm (strategy=ondemand)",
            "v8",
            "wasm (strategy=pooling) #2"
        ]
    );
}

/// A run measured with an idle gap is labelled as such beside its back-to-back peer, and the
/// headline keeps the back-to-back run.
#[test]
fn gap_runs_are_labelled_and_kept_out_of_the_headline() {
    let a = fixture::measure_run("v8", 10, 1, 1).unwrap();
    let mut gap = fixture::measure_run("v8", 10, 1, 2).unwrap();
    gap.result.config.gap_ns = 20_000_000;
    let mut d = ReportData::from_runs(vec![gap, a]);
    d.relabel();
    let labels: Vec<&str> = d.runs.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["v8 (after 20.0 ms idle)", "v8 (back to back)"]);
    assert_eq!(d.headline_run("v8").unwrap().label, "v8 (back to back)");
}

#[test]
fn figures_near_the_harness_overhead_are_flagged() {
    let mut run = fixture::measure_run("wasm", 20, 2, 1).unwrap();
    run.result.overhead.per_sample_ns = Some(200);
    let d = ReportData::from_runs(vec![run]);
    let (html, _, _) = html::render_html(&d, &ReportOptions::default()).unwrap();
    assert!(
        html.contains("warm p50"),
        "warm p50 of ~400 ns is within 10x of 200 ns"
    );
    assert!(html.contains("upper bound"));
}

/// Issue 17: a failed or interrupted run's directory (`.partial-*`, or an empty one from
/// before results were written atomically) is skipped and named, and the rest loads: the
/// README's `unitlab report results/*` keeps working.
#[test]
fn load_skips_and_names_incomplete_directories() {
    let t = tmp();
    let run = fixture::measure_run("wasm", 10, 2, SEED).unwrap();
    let good = t.path().join("20260101T000000Z-wasm-noop");
    fixture::write_run(&run, &good).unwrap();
    let partial = t.path().join(".partial-4194305-20260101T000001Z-wasm-noop");
    fixture::write_run(&run, &partial).unwrap();
    let empty = t.path().join("20260101T000002Z-simulate-wasm");
    std::fs::create_dir(&empty).unwrap();

    // A folder of results: the partial and the empty directory are named, the good one loads.
    let d = unitlab_reports::load(&[t.path()]).unwrap();
    assert_eq!(d.runs.len(), 1);
    assert_eq!(d.skipped, vec![partial.clone(), empty.clone()]);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains(".partial-") && w.contains("incomplete")),
        "{:?}",
        d.warnings
    );
    // The shell's `results/*`: each directory given on its own.
    let d = unitlab_reports::load(&[&good, &empty]).unwrap();
    assert_eq!(d.runs.len(), 1);
    assert_eq!(d.skipped, vec![empty.clone()]);
    // Nothing complete at all is still an error.
    assert!(matches!(
        unitlab_reports::load(&[&empty]),
        Err(ReportError::NoResults { .. })
    ));
}

/// The summary's memory per unit is the figure the simulator and the frontier price: one
/// choice of view (host, else engine, else RSS growth), named in the table.
#[test]
fn summary_memory_is_the_memory_the_frontier_prices() {
    let d = fixture::report_data(SEED);
    let t = unitlab_reports::summary::table(&d, None);
    let col = |name: &str| t.columns.iter().position(|c| c == name).unwrap();
    let (mem, view) = (col("memory per unit"), col("memory view"));
    let mut checked = 0;
    for m in unitlab_reports::summary::models(&d) {
        let cal = unitlab_platform::calibration::Calibration::from_measure_result(
            &m.run.result,
            "fixture",
        )
        .unwrap();
        let row = t.rows.iter().find(|r| r[0].csv() == m.label).unwrap();
        let bytes: f64 = row[mem].csv().parse().unwrap();
        assert_eq!(Some(bytes.round() as u64), cal.memory_bytes, "{}", m.label);
        let (_, v) = m.run.result.memory.per_unit().unwrap();
        assert_eq!(row[view].csv(), v.name());
        checked += 1;
    }
    // The fixture's v8 and wasm runs have both an engine view and an RSS growth: the engine
    // view is the one priced.
    assert_eq!(checked, 4);
    let v8 = t.rows.iter().find(|r| r[0].csv() == "v8").unwrap();
    assert_eq!(v8[view].csv(), "engine");
}

/// A legend with more entries than the chart is tall makes the chart taller (no entry falls
/// off the bottom), and a long label is shortened to its column.
#[test]
fn a_long_legend_grows_the_chart_and_long_labels_are_shortened() {
    use unitlab_reports::style::{render_with_legend, LegendEntry, Swatch};
    let entries: Vec<LegendEntry> = (0..30)
        .map(|i| {
            LegendEntry::new(
                format!("oci (runtime=crun, runtime_args=, runtime_path=/usr/bin/crun) {i}"),
                plotters::style::RGBColor(0, 0, 0),
                Swatch::Line,
            )
        })
        .collect();
    let svg = render_with_legend("t", (960, 300), &entries, |_| Ok(())).unwrap();
    assert!(svg.contains("height=\"600\""), "{}", &svg[..200]);
    assert!(svg.contains("runtime_args=, runt"));
    assert!(svg.contains('…'));
    assert!(!svg.contains("/usr/bin/crun) 29"));
}
