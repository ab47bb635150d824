//! The report reads what `unitlab simulate` really writes: a small simulation through the
//! platform crate's typed entry point (`experiment::simulate`, what the CLI calls), then load, charts and the headline row.

use unitlab_platform::experiment::{
    self, OutputOptions, PolicyOptions, SimulateOptions, TraceOptions, TraceSource,
};
use unitlab_platform::{Calibration, Execution, Policy};
use unitlab_reports::html::{build_charts, build_tables};

#[test]
fn report_reads_a_real_simulation() {
    let tmp = tempfile::tempdir().unwrap();
    let policies: Vec<Policy> = ["keepalive:1m", "keepalive:10m"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let calibrations: Vec<Calibration> = ["assume:wasm:5us:64KiB", "assume:container:150ms:1MiB"]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    let dir = experiment::simulate(
        &TraceOptions {
            source: TraceSource::Bursty,
            span_ns: Some(300_000_000_000),
            seed: 0,
            load: Default::default(),
            execution: "exp:50ms".parse::<Execution>().unwrap(),
        },
        &experiment::with_baseline(&policies, &PolicyOptions::default()).unwrap(),
        &calibrations,
        &SimulateOptions::default(),
        &OutputOptions {
            out: tmp.path().to_path_buf(),
            pricing: None,
            bin_ns: Some(10_000_000_000),
            progress: false,
            env: None,
        },
    )
    .unwrap()
    .dir;

    let d = unitlab_reports::load(&[&dir]).unwrap();
    // To look at the result: UNITLAB_KEEP_REPORT=<dir>.
    if let Some(keep) = std::env::var_os("UNITLAB_KEEP_REPORT") {
        let opts = unitlab_reports::ReportOptions::default();
        unitlab_reports::render_report(&d, std::path::Path::new(&keep), &opts).unwrap();
    }
    assert_eq!(d.platforms.len(), 1, "{:?}", d.warnings);
    let p = &d.platforms[0];
    // Baseline (none) plus two keep-alives, for each of the two calibrations.
    assert_eq!(p.summary.runs.len(), 6);
    for r in &p.summary.runs {
        assert!(
            p.timeline(r).is_some(),
            "no timeline for {} {}",
            r.backend,
            r.policy
        );
        assert!(
            unitlab_reports::platform::keep_alive_seconds(r).is_some(),
            "keep-alive of {:?} not understood",
            r.policy_settings
        );
    }
    let charts = build_charts(&d).unwrap();
    let c = charts.iter().find(|c| c.id == "timeline").unwrap();
    assert!(c.has_data, "timeline has no data from a real simulation");
    let headline = build_tables(&d)
        .into_iter()
        .find(|t| t.id == "headline")
        .unwrap();
    let paying: Vec<_> = headline
        .rows
        .iter()
        .filter(|r| r[0].csv() == "You stop paying for waiting")
        .collect();
    assert!(!paying.is_empty());
    // One row per calibrated backend.
    assert_eq!(paying.len(), 2);
    assert!(
        paying[0][1]
            .csv()
            .contains("pay per use versus provisioned"),
        "{}",
        paying[0][1].csv()
    );
}
