//! The keep-alive frontier and burstiness sweep of `unitlab run`, from measure result
//! directories you already have: `cargo run --release -p unitlab-platform --example frontier
//! -- <out-dir> <measure-dir>...` writes `<out-dir>/frontier.json` (render it with
//! `unitlab report <out-dir> <measure-dir>...`).

use unitlab_platform::frontier::{main_job, FrontierOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: frontier <out-dir> <measure-dir>...")?;
    let dirs: Vec<std::path::PathBuf> = args.map(Into::into).collect();
    let pricing = unitlab_platform::pricing::load_pricing(None)?;
    let t0 = std::time::Instant::now();
    let path = main_job(
        &dirs,
        None,
        &pricing,
        &FrontierOptions::default(),
        None,
        std::path::Path::new(&out),
    )?;
    eprintln!("{} in {:.2?}", path.display(), t0.elapsed());
    Ok(())
}
