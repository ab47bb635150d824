//! Writes the input files of `scripts/bench-simulators.sh` (seeded, so every run gets the same
//! bytes):
//!
//! - `azure2019/`: a day in the Azure Functions 2019 format (invocations, durations and app
//!   memory files, day 01): `functions` functions, one per app, each with a rate drawn
//!   log-uniformly in 1e-3..10 per minute, a daily cycle (rate x (1 + 0.5 sin), peak at 14:00),
//!   Poisson counts per minute, and log-normal duration percentiles (median 300 ms x
//!   lognormal(0, 1.5)). 2,000 functions give about 3 million invocations.
//! - `azure2021.csv`: one function in the Azure Functions 2021 per-invocation format
//!   (`app,func,end_timestamp,duration`, seconds): Poisson arrivals at `rate`/s, exponential
//!   durations of mean 2 s, `rows` rows (default 900,000), in arrival order.
//!
//! `cargo run --release -p unitlab-platform --example bench_inputs -- DIR [functions] [rows]`

use std::io::{BufWriter, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, Poisson};

fn hex(rng: &mut ChaCha8Rng) -> String {
    (0..4)
        .map(|_| format!("{:016x}", rng.gen::<u64>()))
        .collect()
}

fn azure2019(dir: &Path, functions: u32) -> std::io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut inv = BufWriter::new(std::fs::File::create(
        dir.join("invocations_per_function_md.anon.d01.csv"),
    )?);
    let mut dur = BufWriter::new(std::fs::File::create(
        dir.join("function_durations_percentiles.anon.d01.csv"),
    )?);
    let mut mem = BufWriter::new(std::fs::File::create(
        dir.join("app_memory_percentiles.anon.d01.csv"),
    )?);
    write!(inv, "HashOwner,HashApp,HashFunction,Trigger")?;
    for m in 1..=1440 {
        write!(inv, ",{m}")?;
    }
    writeln!(inv)?;
    writeln!(dur, "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100")?;
    writeln!(mem, "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100")?;
    let mut rng = ChaCha8Rng::seed_from_u64(2019);
    let spread = LogNormal::new(0.0, 1.5).expect("valid log-normal");
    let mut total = 0u64;
    for _ in 0..functions {
        let (owner, app, func) = (hex(&mut rng), hex(&mut rng), hex(&mut rng));
        let per_min = 10f64.powf(rng.gen_range(-3.0..1.0));
        write!(inv, "{owner},{app},{func},http")?;
        let mut daily = 0u64;
        for m in 0..1440 {
            let phase = (m as f64 - 14.0 * 60.0 + 360.0) / 1440.0 * std::f64::consts::TAU;
            let lambda = per_min * (1.0 + 0.5 * phase.sin());
            let c = if lambda > 0.0 {
                Poisson::new(lambda)
                    .expect("positive rate")
                    .sample(&mut rng) as u64
            } else {
                0
            };
            daily += c;
            write!(inv, ",{c}")?;
        }
        writeln!(inv)?;
        total += daily;
        let med = 300.0 * spread.sample(&mut rng);
        let p = [0.2, 0.3, 0.7, 1.0, 1.5, 4.0, 6.0].map(|k| med * k);
        writeln!(
            dur,
            "{owner},{app},{func},{:.3},{daily},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}",
            med * 1.2, p[0], p[6], p[0], p[1], p[2], p[3], p[4], p[5], p[6]
        )?;
        let mb = 130.0 * LogNormal::new(0.0, 0.6).expect("valid").sample(&mut rng);
        writeln!(
            mem,
            "{owner},{app},100,{mb:.1},{:.1},{:.1},{:.1},{mb:.1},{:.1},{:.1},{:.1},{:.1}",
            mb * 0.8,
            mb * 0.85,
            mb * 0.9,
            mb * 1.1,
            mb * 1.2,
            mb * 1.3,
            mb * 1.4
        )?;
    }
    inv.flush()?;
    dur.flush()?;
    mem.flush()?;
    Ok(total)
}

fn azure2021(path: &Path, rows: u64, rate: f64) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "app,func,end_timestamp,duration")?;
    let mut rng = ChaCha8Rng::seed_from_u64(2021);
    let gap = Exp::new(rate).expect("positive rate");
    let exec = Exp::new(0.5).expect("positive rate");
    let (app, func) = (hex(&mut rng), hex(&mut rng));
    let mut t = 0.0f64;
    for _ in 0..rows {
        t += gap.sample(&mut rng);
        let d: f64 = exec.sample(&mut rng);
        // Millisecond resolution, as in the published file: end - duration (the arrival)
        // keeps the order of the arrivals.
        let (t_ms, d_ms) = ((t * 1e3).round() as u64, (d * 1e3).round() as u64);
        let end = t_ms + d_ms;
        writeln!(
            w,
            "{app},{func},{}.{:03},{}.{:03}",
            end / 1000,
            end % 1000,
            d_ms / 1000,
            d_ms % 1000
        )?;
    }
    w.flush()
}

fn main() -> std::io::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let dir = Path::new(a.get(1).map_or("bench-inputs", String::as_str));
    let functions: u32 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(2_000);
    let rows: u64 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(900_000);
    std::fs::create_dir_all(dir)?;
    let total = azure2019(&dir.join("azure2019"), functions)?;
    println!(
        "{}: {functions} functions, {total} invocations",
        dir.join("azure2019/invocations_per_function_md.anon.d01.csv")
            .display()
    );
    azure2021(&dir.join("azure2021.csv"), rows, 0.9)?;
    println!(
        "{}: {rows} rows, Poisson 0.9/s, exponential 2 s durations",
        dir.join("azure2021.csv").display()
    );
    Ok(())
}
