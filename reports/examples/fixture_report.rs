//! Writes the synthetic fixture as result directories, simulates its keep-alive frontier, and
//! renders a report from them:
//! `cargo run -p unitlab-reports --example fixture_report -- <out-dir>`.
//! The figures are synthetic (see `unitlab_reports::fixture`), never measurements.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("unitlab-fixture-report"));
    let results = out.join("results");
    unitlab_reports::fixture::write_all(&results, 42)?;
    common::write_frontier(&results);
    let data = unitlab_reports::load(&[&results])?;
    let opts = unitlab_reports::ReportOptions {
        title: "unitlab report (synthetic fixture, not measured)".to_string(),
        generated_at: None,
    };
    let files = unitlab_reports::render_report(&data, &out.join("report"), &opts)?;
    println!("{}", files.index.display());
    Ok(())
}
