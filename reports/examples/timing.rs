//! How long a report and a comparison take on fixture data of a realistic size:
//! `cargo run --release -p unitlab-reports --example timing`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (units, warm) = (1000, 10);
    let mut d = unitlab_reports::ReportData::from_runs(unitlab_reports::fixture::measure_runs(
        units, warm, 1,
    ));
    d.platforms = unitlab_reports::fixture::platform_inputs(1);
    let out = std::env::temp_dir().join("unitlab-timing-report");
    let t = Instant::now();
    let files =
        unitlab_reports::render_report(&d, &out, &unitlab_reports::ReportOptions::default())?;
    let html = std::fs::metadata(&files.index)?.len();
    println!(
        "report of {} runs x ({units} cold + {} warm samples): {:.0} ms, index.html {} KiB",
        d.runs.len(),
        units * warm,
        t.elapsed().as_secs_f64() * 1e3,
        html / 1024
    );
    let other = unitlab_reports::ReportData::from_runs(unitlab_reports::fixture::measure_runs(
        units, warm, 2,
    ));
    let t = Instant::now();
    let (c, _) = unitlab_reports::compare_runs(&d, &other);
    println!(
        "compare of {} pairs (6 metrics, {} bootstrap resamples each): {:.0} ms",
        c.len(),
        unitlab_reports::compare::BOOTSTRAP_RESAMPLES,
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
