//! The report's layout in headless Chromium at 1400x900 (Debian's `chromium`, installed by
//! `scripts/setup-chromium.sh`; without it these tests fail, naming the script): no legend
//! covers a data mark, no SVG text is clipped, and the page with its `<details>` closed is at
//! most 12 screens tall. The first screen is written as `first-screen.png` beside the page
//! (and copied to `<target>/tmp/layout/first-screen.png`).

mod common;

use unitlab_reports::browser::{check_layout, MAX_PAGE_HEIGHT};
use unitlab_reports::{fixture, ReportOptions};

#[test]
fn the_report_layout_holds_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    fixture::write_all(&results, 11).unwrap();
    common::write_frontier(&results);
    let data = unitlab_reports::load(&[&results]).unwrap();
    assert_eq!(data.frontiers.len(), 1);
    let report = results.join("report");
    let files = unitlab_reports::render_report(&data, &report, &ReportOptions::default()).unwrap();
    let c = check_layout(&files.index, tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("layout");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::copy(&c.first_screen, keep.join("first-screen.png")).unwrap();
    eprintln!(
        "page height: {} px with details closed ({} open); first screen: {}",
        c.height_closed,
        c.height_open,
        keep.join("first-screen.png").display()
    );
    assert!(c.charts >= 10, "{c:?}");
    assert!(c.legend_overlaps.is_empty(), "{:#?}", c.legend_overlaps);
    assert!(c.clipped_texts.is_empty(), "{:#?}", c.clipped_texts);
    assert!(
        c.height_closed <= MAX_PAGE_HEIGHT,
        "the page is {} px tall with details closed (at most {MAX_PAGE_HEIGHT})",
        c.height_closed
    );
    assert!(c.height_open > c.height_closed);
    let png = std::fs::read(&c.first_screen).unwrap();
    let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
    assert_eq!((be(16), be(20)), (1400, 900));
    // The first screen holds the summary table and the spectrum.
    let html = std::fs::read_to_string(&files.index).unwrap();
    let summary = html.find("id=\"summary\"").unwrap();
    assert!(summary < html.find("id=\"chart-spectrum\"").unwrap());
    assert!(html.find("id=\"chart-spectrum\"").unwrap() < html.find("id=\"frontier\"").unwrap());
}

/// The checks fail where they should: a legend over a line, a label past the SVG's edge, a
/// page taller than 12 screens.
#[test]
fn the_layout_check_catches_a_covering_legend_a_clipped_label_and_a_long_page() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index.html");
    std::fs::write(
        &index,
        r#"<!DOCTYPE html><html><body>
<figure class="chart" id="chart-bad"><svg width="400" height="200" xmlns="http://www.w3.org/2000/svg">
<rect x="0" y="0" width="400" height="200" fill="white"/>
<polyline points="0,0 400,200" stroke="blue" fill="none"/>
<text x="380" y="100" font-size="14">a label running past the edge</text>
<g class="legend"><rect x="180" y="80" width="14" height="12" fill="blue"/><text x="200" y="90">series</text></g>
</svg></figure>
<figure class="chart" id="chart-good"><svg width="400" height="200" xmlns="http://www.w3.org/2000/svg">
<polyline points="0,0 200,200" stroke="blue" fill="none"/>
<g class="legend"><rect x="300" y="20" width="14" height="12" fill="blue"/><text x="320" y="30">series</text></g>
</svg></figure>
<div style="height: 12000px"></div>
<details><summary>more</summary><div style="height: 5000px"></div></details>
</body></html>"#,
    )
    .unwrap();
    let c = check_layout(&index, tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.charts, 2);
    assert_eq!(c.legend_overlaps.len(), 1, "{:?}", c.legend_overlaps);
    assert!(c.legend_overlaps[0].starts_with("bad: covers a polyline"));
    assert_eq!(
        c.clipped_texts,
        ["bad: a label running past the edge".to_string()]
    );
    assert!(c.height_closed > MAX_PAGE_HEIGHT && c.height_closed < 13_000);
    assert!(c.height_open > 17_000);
}
