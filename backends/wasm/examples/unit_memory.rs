//! Memory per live unit: starts N units of a catalogue function, invokes each once, keeps them
//! all alive and prints what the process RSS grew by, against what their linear memories
//! commit and hold resident.
//!
//! ```text
//! cargo run --release -p unitlab-backend-wasm --example unit_memory -- [N] [strategy] [function]
//! ```
//!
//! Defaults: 10000 units, pooling, noop. "beyond linear memory" = RSS delta per unit minus the
//! unit's resident linear memory (pagemap), i.e. the store, instance and allocator metadata.
//! (Subtracting the *committed* linear memory instead, 64 KiB for noop, would give a negative
//! figure: only the pages a guest touched are resident.)

use unitlab_backend::{process_rss_bytes, Backend, Function, FunctionSpec, Request};
use unitlab_backend_wasm::{Config, WasmBackend};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let strategy = args.next().unwrap_or_else(|| "pooling".into());
    let function = args.next().unwrap_or_else(|| "noop".into());
    let function = Function::from_name(&function).ok_or("unknown function")?;
    let mut config = Config::default();
    config.set("strategy", &strategy)?;
    config.max_units = Some(n.max(1) as u32 + 1);
    let strategy = config.strategy;
    let backend = WasmBackend::new(config)?;
    let prepared = backend.prepare(&FunctionSpec::catalogue(function))?;
    let req = Request {
        size: match function {
            Function::Noop => 0,
            _ => 1,
        },
        seed: 1,
    };
    // Warm up the allocator and the code pages with one unit first.
    prepared.start()?.invoke(&req)?;

    let before = process_rss_bytes().ok_or("no /proc/self/statm")?;
    let mut units = Vec::with_capacity(n);
    for _ in 0..n {
        let mut unit = prepared.start()?;
        unit.invoke(&req)?;
        units.push(unit);
    }
    let after = process_rss_bytes().ok_or("no /proc/self/statm")?;

    let (mut committed, mut resident) = (0u64, 0u64);
    for unit in &mut units {
        let m = unit.memory()?;
        committed += m.engine_bytes.unwrap_or(0);
        resident += m
            .details
            .get("linear_memory_resident")
            .copied()
            .unwrap_or(0);
    }
    let per = |bytes: u64| bytes as f64 / n as f64 / 1024.0;
    let delta = after.saturating_sub(before);
    println!("units={n} strategy={strategy} function={function}");
    println!("rss_delta_kib={}", delta >> 10);
    println!("rss_per_unit_kib={:.2}", per(delta));
    println!("linear_committed_per_unit_kib={:.2}", per(committed));
    println!("linear_resident_per_unit_kib={:.2}", per(resident));
    println!(
        "rss_beyond_resident_linear_memory_per_unit_kib={:.2}",
        per(delta) - per(resident)
    );
    Ok(())
}
