//! Prints what the container backend sees: `probe tag` prepares the runner image and prints
//! its tag (used by scripts/bench-container-floors.sh); `probe [N]` starts N units per setting
//! (runner/none, runner/bridge, node/none) and prints the median of each cold-start phase and
//! one unit's memory figures; `probe compare [N]` interleaves N lab cold starts with N raw
//! create+start and create+start+wait cycles of the same image through bollard (network
//! disabled), so that a noisy machine hits both alike, and prints the p50 of each and the ratio.

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
    if arg.as_deref() == Some("compare") {
        let n: usize = std::env::args()
            .nth(2)
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(20);
        return compare(n);
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

fn compare(n: usize) -> Result<(), Box<dyn std::error::Error>> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    use bollard::query_parameters::{
        CreateContainerOptions, RemoveContainerOptionsBuilder, StartContainerOptions,
        WaitContainerOptionsBuilder,
    };
    use futures_util::StreamExt;

    let b = ContainerBackend::new(Config::default())?;
    let p = b.prepare(&FunctionSpec::catalogue(Function::Noop))?;
    let image = b.info().settings["image_id"].clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let host = unitlab_backend_container::resolve_host(None);
    let docker = rt.block_on(async {
        bollard::Docker::connect_with_unix(&host, 120, bollard::API_DEFAULT_VERSION)?
            .negotiate_version()
            .await
    })?;
    let body = ContainerCreateBody {
        image: Some(image),
        network_disabled: Some(true),
        labels: Some(std::collections::HashMap::from([
            ("unitlab".to_string(), "1".to_string()),
            ("unitlab.kind".to_string(), "probe-raw".to_string()),
        ])),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let raw = |wait_exit: bool| -> Result<f64, Box<dyn std::error::Error>> {
        let (took, id) = rt.block_on(async {
            let t = Instant::now();
            let id = docker
                .create_container(None::<CreateContainerOptions>, body.clone())
                .await?
                .id;
            docker
                .start_container(&id, None::<StartContainerOptions>)
                .await?;
            if wait_exit {
                let wait = WaitContainerOptionsBuilder::default()
                    .condition("not-running")
                    .build();
                let mut w = docker.wait_container(&id, Some(wait));
                while let Some(r) = w.next().await {
                    r?;
                }
            }
            Ok::<_, bollard::errors::Error>((t.elapsed(), id))
        })?;
        let rm = RemoveContainerOptionsBuilder::default().force(true).build();
        rt.block_on(docker.remove_container(&id, Some(rm)))?;
        Ok(took.as_secs_f64() * 1e3)
    };
    let (mut lab, mut cs, mut csw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        let mut u = p.start()?;
        u.invoke(&Request { size: 0, seed: 1 })?;
        lab.push(t.elapsed().as_secs_f64() * 1e3);
        u.stop()?;
        cs.push(raw(false)?);
        csw.push(raw(true)?);
    }
    let (l, a, w) = (median(lab), median(cs), median(csw));
    println!("interleaved, n={n} each, network disabled:");
    println!("  lab cold start (create+attach+start+ready+first noop) p50 {l:8.2} ms");
    println!(
        "  raw create+start                                      p50 {a:8.2} ms  (lab/raw {:.3})",
        l / a
    );
    println!(
        "  raw create+start+wait                                 p50 {w:8.2} ms  (lab/raw {:.3})",
        l / w
    );
    Ok(())
}
