//! Checks a rendered report's layout in headless Chromium at 1400x900 and writes its first
//! screen beside it: `cargo run -p unitlab-reports --example check_layout -- <index.html>`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let index = std::env::args()
        .nth(1)
        .ok_or("usage: check_layout <report/index.html>")?;
    let work = tempfile::tempdir()?;
    let c = unitlab_reports::browser::check_layout(std::path::Path::new(&index), work.path())?;
    println!("first screen: {}", c.first_screen.display());
    println!(
        "height: {} px with details closed (limit {}), {} px open; {} charts",
        c.height_closed,
        unitlab_reports::browser::MAX_PAGE_HEIGHT,
        c.height_open,
        c.charts
    );
    for l in &c.legend_overlaps {
        println!("legend over marks: {l}");
    }
    for t in &c.clipped_texts {
        println!("clipped text: {t}");
    }
    Ok(())
}
