//! Renders a report from result directories, until `unitlab report` is wired:
//! `cargo run -p unitlab-reports --example report -- <out-dir> <results>...`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: report <out-dir> <results>...")?;
    let inputs: Vec<String> = args.collect();
    let data = unitlab_reports::load(&inputs)?;
    let files = unitlab_reports::render_report(
        &data,
        std::path::Path::new(&out),
        &unitlab_reports::ReportOptions::default(),
    )?;
    println!("{}", files.index.display());
    Ok(())
}
