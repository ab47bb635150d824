//! Prints what the container backend sees: `probe tag` prepares the runner image and prints
//! its tag (used by scripts/bench-container-floors.sh); `probe [N]` starts N units per setting
//! (runner/none, runner/bridge, node/none) and prints the median of each cold-start phase and
//! one unit's memory figures.

use std::time::Instant;

use unitlab_backend::{Backend, Function, FunctionSpec, Request};
use unitlab_backend_container::{Config, ContainerBackend};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("tag") {
        let b = ContainerBackend::new(Config::default())?;
        b.prepare(&FunctionSpec::catalogue(Function::Noop))?;
        println!("{}", b.info().settings["image_ref"]);
        return Ok(());
    }
    let n: usize = arg.map(|a| a.parse()).transpose()?.unwrap_or(10);
    for (label, opts) in [
        ("runner/none", vec![]),
        ("runner/bridge", vec![("network", "bridge")]),
        ("node/none", vec![("image", "node")]),
    ] {
        let mut config = Config::default();
        for (k, v) in opts {
            config.set(k, v)?;
        }
        let b = ContainerBackend::new(config)?;
        let p = b.prepare(&FunctionSpec::catalogue(Function::Noop))?;
        let mut phases: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        let mut mem = None;
        for i in 0..n {
            let t = Instant::now();
            let mut u = p.start()?;
            let first_t = Instant::now();
            u.invoke(&Request { size: 0, seed: 1 })?;
            let first = first_t.elapsed();
            let total = t.elapsed();
            for ph in u.start_phases() {
                phases
                    .entry(ph.name)
                    .or_default()
                    .push(ph.nanos as f64 / 1e6);
            }
            phases
                .entry("first_invoke".into())
                .or_default()
                .push(first.as_secs_f64() * 1e3);
            phases
                .entry("cold_total".into())
                .or_default()
                .push(total.as_secs_f64() * 1e3);
            if i == n - 1 {
                mem = Some(u.memory()?);
            }
            u.stop()?;
        }
        let info = b.info();
        println!(
            "{label}: engine {} api {} image {} network {}",
            info.versions
                .get("docker_engine")
                .cloned()
                .unwrap_or_default(),
            info.versions
                .get("api_version")
                .cloned()
                .unwrap_or_default(),
            info.settings["image_id"],
            info.settings["network"]
        );
        for (name, v) in phases {
            println!("  {name:>13} p50 {:8.2} ms", median(v));
        }
        if let Some(m) = mem {
            println!(
                "  memory: engine {:?} B, host {:?} B, details {:?}",
                m.engine_bytes, m.host_bytes, m.details
            );
        }
    }
    Ok(())
}
