//! Opens a generated report in headless Chromium (Debian's `chromium`, installed by
//! `scripts/setup-chromium.sh`): takes a screenshot, and checks in the rendered page that every
//! chart is present, drawn and has a non-zero size (see `unitlab_reports::browser`).
//!
//! Without Chromium this test fails (it does not skip), naming the set-up script.

mod common;

use unitlab_reports::browser::check_report;
use unitlab_reports::html::CHART_IDS;
use unitlab_reports::{fixture, ReportOptions};

#[test]
fn report_opens_in_headless_chromium_with_every_chart_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    // The whole pipeline: result directories as the harness writes them -> load -> report.
    let results = tmp.path().join("results");
    fixture::write_all(&results, 11).unwrap();
    common::write_frontier(&results);
    let data = unitlab_reports::load(&[&results]).unwrap();
    let report = tmp.path().join("report");
    let files = unitlab_reports::render_report(&data, &report, &ReportOptions::default()).unwrap();

    let check = check_report(&files.index, tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check.screenshot_size, (1280, 4000));
    // A blank page of this size compresses to about 10 KiB; charts and tables do not.
    assert!(
        check.screenshot_bytes > 100 * 1024,
        "screenshot is only {} bytes: the page looks empty",
        check.screenshot_bytes
    );
    if let Some(keep) = std::env::var_os("UNITLAB_KEEP_SCREENSHOT") {
        std::fs::copy(&check.screenshot, keep).unwrap();
    }
    assert_eq!(check.charts.len(), CHART_IDS.len(), "{:?}", check.charts);
    for id in CHART_IDS {
        let c = check
            .charts
            .iter()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("chart {id} missing from the rendered page"));
        if *id == "frontier_other" {
            // The fixture's frontier has one trace: the second trace's chart says so.
            assert!(!c.drawn);
            continue;
        }
        assert!(c.drawn, "chart {id} is a no-data panel");
        assert!(
            c.width >= 400 && c.height >= 150,
            "chart {id} rendered at {}x{}",
            c.width,
            c.height
        );
        assert!(
            c.marks > 5,
            "chart {id} has only {} drawn elements",
            c.marks
        );
    }
}

#[test]
fn an_empty_report_opens_and_shows_no_data_panels() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report");
    let files = unitlab_reports::render_report(
        &unitlab_reports::ReportData::default(),
        &report,
        &ReportOptions::default(),
    )
    .unwrap();
    let check = check_report(&files.index, tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check.charts.len(), CHART_IDS.len());
    assert!(check
        .charts
        .iter()
        .all(|c| !c.drawn && c.width > 0 && c.height > 0));
}
