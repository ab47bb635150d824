//! Peak memory of streaming Azure-2019-format days, to show it does not grow with the trace's
//! length.
//!
//! ```text
//! cargo run --release -p unitlab-workloads --example azure2019_rss -- write DIR [FUNCTIONS]
//! cargo run --release -p unitlab-workloads --example azure2019_rss -- expand DIR DAYS
//! ```
//!
//! `write` generates a synthetic 1440-minute day in the published format (default 50,000
//! functions; see `SyntheticDay`). `expand` streams that day repeated DAYS times (day i
//! starts at minute 1440*i, each with its own random streams), counts the invocations and
//! prints the peak resident set (VmHWM from /proc/self/status) and the expansion rate. Run
//! each `expand` in its own process: VmHWM never goes down.

use std::path::PathBuf;
use std::time::Instant;
use unitlab_workloads::azure2019::{
    Azure2019, Azure2019Options, DurationJoin, Spread, SyntheticDay,
};

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of this process (s), from /proc/self/stat (10 ms ticks).
fn cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: azure2019_rss write DIR [FUNCTIONS] | expand DIR DAYS [durations=none|average|percentiles] [spread=uniform|equidistant|start]";
    let dir = PathBuf::from(args.get(2).expect(usage));
    match args.get(1).map(String::as_str) {
        Some("write") => {
            std::fs::create_dir_all(&dir).expect("create DIR");
            let functions = args
                .get(3)
                .map(|s| s.parse().expect("FUNCTIONS"))
                .unwrap_or(50_000);
            let t = Instant::now();
            let (path, total) = SyntheticDay {
                functions,
                ..Default::default()
            }
            .write(&dir, 1)
            .expect("write");
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            println!(
                "wrote {} ({} bytes, {functions} functions, {total} invocations) in {:.1} s",
                path.display(),
                size,
                t.elapsed().as_secs_f64()
            );
        }
        Some("expand") => {
            let days: usize = args.get(3).expect(usage).parse().expect("DAYS");
            let inv = dir.join("invocations_per_function_md.anon.d01.csv");
            let mut opts = Azure2019Options {
                invocations: vec![inv; days],
                seed: 1,
                ..Default::default()
            }
            .with_siblings();
            // Optional: `durations=none|average|percentiles`, `spread=uniform|equidistant|start`.
            for a in &args[4..] {
                use unitlab_workloads::Choice;
                match a.split_once('=') {
                    Some(("durations", v)) => {
                        opts.duration_join = DurationJoin::parse_choice(v).expect("durations")
                    }
                    Some(("spread", v)) => opts.spread = Spread::parse_choice(v).expect("spread"),
                    _ => panic!("{usage}"),
                }
            }
            let t0 = Instant::now();
            let s = Azure2019::open(opts).expect("open");
            let open_s = t0.elapsed().as_secs_f64();
            let day = s.current_day().expect("first day");
            let cells = day.cells.len();
            let busiest = day.busiest_minute();
            let c1 = cpu_s();
            let t1 = Instant::now();
            let mut n = 0u64;
            let mut last = 0u64;
            for i in s {
                let i = i.expect("stream");
                debug_assert!(i.arrival_ns >= last);
                last = i.arrival_ns;
                n += 1;
            }
            let secs = t1.elapsed().as_secs_f64();
            let cpu = cpu_s().zip(c1).map(|(b, a)| b - a);
            println!(
                "days={days} invocations={n} span_min={} nonzero_cells_per_day={cells} busiest_minute={busiest} open_s={open_s:.2} expand_s={secs:.2} rate={:.2}M/s cpu_s={} rate_per_cpu_s={} peak_rss_kib={}",
                last / 60_000_000_000 + 1,
                n as f64 / secs / 1e6,
                cpu.map_or("n/a".into(), |c| format!("{c:.2}")),
                cpu.filter(|c| *c > 0.0).map_or("n/a".into(), |c| format!("{:.2}M/s", n as f64 / c / 1e6)),
                vm_hwm_kib().map_or("n/a".into(), |v| v.to_string())
            );
        }
        _ => eprintln!("{usage}"),
    }
}
