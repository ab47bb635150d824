//! Percentiles of individual cold starts (new Store + instantiate + first call), per strategy:
//! criterion reports means of batches, the issue's targets are p50s of single cold starts.
//!
//! ```text
//! cargo run --release -p unitlab-backend-wasm --example cold_p50 -- [samples] [function]
//! ```
//!
//! Each sample is timed alone with `Instant` (the timer pair's own cost, printed as
//! `timer_overhead`, is included and not subtracted); dropping the unit is not timed.

use std::time::{Duration, Instant};

use unitlab_backend::{Backend, Function, FunctionSpec, Request};
use unitlab_backend_wasm::{Config, Strategy, WasmBackend};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_nanos() as f64 / 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let samples: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let function = args.next().unwrap_or_else(|| "noop".into());
    let function = Function::from_name(&function).ok_or("unknown function")?;
    let size = if function == Function::Noop { 0 } else { 1 };
    let req = Request { size, seed: 7 };

    let mut timer: Vec<Duration> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(t).elapsed()
        })
        .collect();
    timer.sort();
    println!("timer_overhead p50={:.3}us", percentile(&timer, 0.5));

    for strategy in Strategy::ALL {
        let backend = WasmBackend::new(Config {
            strategy,
            max_units: Some(64),
            ..Config::default()
        })?;
        let prepared = backend.prepare(&FunctionSpec::catalogue(function))?;
        for _ in 0..1000 {
            prepared.start()?.invoke(&req)?;
        }
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let t = Instant::now();
            let mut unit = prepared.start()?;
            let resp = unit.invoke(&req)?;
            times.push(t.elapsed());
            assert_eq!(resp.value, function.expected(size, 7));
            drop(unit);
        }
        times.sort();
        println!(
            "cold_start {strategy:<13} {function:<5} p50={:.2}us p90={:.2}us p99={:.2}us min={:.2}us",
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            percentile(&times, 0.99),
            percentile(&times, 0.0)
        );
    }
    Ok(())
}
