//! 20,000 live noop units in one process (pooling), all answering.

use unitlab_backend::{process_rss_bytes, Backend, Function, FunctionSpec, Request};
use unitlab_backend_wasm::{Config, Strategy, WasmBackend};

const UNITS: usize = 20_000;

#[test]
fn twenty_thousand_live_noop_units_all_answer() {
    let b = WasmBackend::new(Config {
        strategy: Strategy::Pooling,
        max_units: Some(UNITS as u32),
        ..Config::default()
    })
    .unwrap();
    let p = b.prepare(&FunctionSpec::catalogue(Function::Noop)).unwrap();
    let before = process_rss_bytes();
    let mut units = Vec::with_capacity(UNITS);
    for i in 0..UNITS {
        let mut unit = p
            .start()
            .unwrap_or_else(|e| panic!("unit {i} of {UNITS} failed to start: {e}"));
        let resp = unit
            .invoke(&Request {
                size: 0,
                seed: i as u32,
            })
            .unwrap_or_else(|e| panic!("unit {i} failed its first invoke: {e}"));
        assert_eq!(resp.value, Function::Noop.expected(0, 0));
        units.push(unit);
    }
    let after = process_rss_bytes();
    // All of them still answer while all are alive.
    for (i, unit) in units.iter_mut().enumerate() {
        let resp = unit.invoke(&Request { size: 0, seed: 1 }).unwrap();
        assert_eq!(resp.value, Function::Noop.expected(0, 1), "unit {i}");
    }
    if let (Some(a), Some(b)) = (before, after) {
        eprintln!(
            "{UNITS} live noop units (pooling): RSS delta {} KiB, {:.1} KiB per unit",
            (b.saturating_sub(a)) >> 10,
            b.saturating_sub(a) as f64 / 1024.0 / UNITS as f64
        );
    }
    // One more does not fit, and says so.
    let err = p.start().err().unwrap().to_string();
    assert!(err.contains("max_units"), "{err}");
}
