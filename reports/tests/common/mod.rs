//! Shared by the report's tests and the fixture example: a keep-alive frontier simulated from
//! the fixture's measure results (synthetic, never measurements), written as
//! `<results>/frontier/frontier.json`.

use std::path::Path;

use unitlab_platform::frontier::{main_traces, run, write, FrontierModel, FrontierOptions};

/// Simulates the frontier of every back-to-back `noop` measure result under `results` (one per
/// model), on the default bursty workload and short burstiness traces, and writes it there.
pub fn write_frontier(results: &Path) {
    let mut dirs: Vec<_> = std::fs::read_dir(results)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("summary.json").is_file())
        .collect();
    dirs.sort();
    let mut models: Vec<FrontierModel> = Vec::new();
    for d in dirs {
        let Ok(m) = unitlab_results::MeasureResult::load(&d) else {
            continue;
        };
        if m.function.name != "noop" || m.config.gap_ns != 0 {
            continue;
        }
        let fm = FrontierModel::from_measure(&d).unwrap();
        if !models.iter().any(|o| o.model.label == fm.model.label) {
            models.push(fm);
        }
    }
    let opts = FrontierOptions {
        burst_span_s: 600.0,
        day_invocations: 2_000.0,
        ..FrontierOptions::default()
    };
    let mut traces = main_traces(None, &opts).unwrap();
    traces.truncate(1);
    let pricing = unitlab_platform::pricing::load_pricing(None).unwrap();
    let r = run(&traces, &models, &pricing, &opts, None).unwrap();
    write(&results.join("frontier"), &r).unwrap();
}
