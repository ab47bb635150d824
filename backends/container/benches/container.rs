//! Container cold start and warm invoke against the real engine, sized to finish in a few
//! minutes (10 samples per benchmark).
//!
//! - `cold_start_noop/<network>`: `start` (create + attach + start + ready) + the first `noop`
//!   invoke; the container's removal happens outside the timed region.
//! - `raw_create_start_wait/none`: the best create + start cycle bollard can do with the same
//!   image and networking disabled, with no attach: create, start, wait for the runner to exit
//!   (its stdin is closed, so it prints `ready` and exits). The lab's cold start is compared
//!   with this figure; `scripts/bench-container-floors.sh` gives `docker run --rm` and
//!   `runc run` of the same image.
//! - `raw_create_start/none`: create + start only (start returns once runc has exec'd the
//!   entrypoint): the lower bound of any create/start cycle through the API.
//! - `cold_start_noop/node`: the same with the node image (booting a runtime).
//! - `cold_start_noop/runtime-crun`, `.../runtime-runsc`: the runner image with another OCI
//!   runtime (when dockerd has it registered); the `oci` backend gives the same without dockerd.
//! - `warm_invoke_noop/none`: one request/response over the attached stream.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptionsBuilder, StartContainerOptions,
    WaitContainerOptionsBuilder,
};
use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::StreamExt;
use unitlab_backend::{Backend, Function, FunctionSpec, Request};
use unitlab_backend_container::{Config, ContainerBackend};

fn backend(opts: &[(&str, &str)]) -> ContainerBackend {
    let mut config = Config::default();
    for (k, v) in opts {
        config.set(k, v).expect("option");
    }
    ContainerBackend::new(config)
        .unwrap_or_else(|e| panic!("{e}\n(the container benchmarks need a running engine)"))
}

fn cold_start(c: &mut Criterion, label: &str, opts: &[(&str, &str)]) {
    let b = backend(opts);
    let prepared = b
        .prepare(&FunctionSpec::catalogue(Function::Noop))
        .expect("prepare");
    let req = Request { size: 0, seed: 1 };
    let mut g = c.benchmark_group("container");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    g.bench_function(format!("cold_start_noop/{label}"), |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let mut unit = prepared.start().expect("start");
                let resp = unit.invoke(&req).expect("invoke");
                total += t.elapsed();
                assert_eq!(resp.value, Function::Noop.expected(0, 1));
                unit.stop().expect("stop");
            }
            total
        })
    });
    g.finish();
}

fn cold_starts(c: &mut Criterion) {
    cold_start(c, "none", &[]);
    cold_start(c, "bridge", &[("network", "bridge")]);
    cold_start(c, "node", &[("image", "node")]);
    // The other OCI runtimes dockerd has registered (scripts/setup-runtimes.sh).
    let registered = unitlab_backend_container::runtime::engine_runtimes(None)
        .map(|e| e.registered)
        .unwrap_or_default();
    for rt in ["crun", "runsc"] {
        if registered.contains_key(rt) {
            cold_start(c, &format!("runtime-{rt}"), &[("runtime", rt)]);
        } else {
            eprintln!("{rt} is not registered with dockerd: cold_start_noop/runtime-{rt} skipped (scripts/setup-runtimes.sh)");
        }
    }
}

fn raw_cycles(c: &mut Criterion) {
    // Make sure the image exists, then talk to the engine directly.
    let b = backend(&[]);
    b.prepare(&FunctionSpec::catalogue(Function::Noop))
        .expect("prepare");
    let image = b.info().settings["image_id"].clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let docker = rt
        .block_on(async {
            let host = unitlab_backend_container::resolve_host(None);
            let d = {
                bollard::Docker::connect_with_unix(&host, 120, bollard::API_DEFAULT_VERSION)
                    .expect("connect")
            };
            d.negotiate_version().await
        })
        .expect("engine");
    let body = ContainerCreateBody {
        image: Some(image),
        network_disabled: Some(true),
        labels: Some(HashMap::from([
            ("unitlab".to_string(), "1".to_string()),
            ("unitlab.kind".to_string(), "bench-raw".to_string()),
        ])),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut g = c.benchmark_group("container");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for wait_exit in [true, false] {
        let name = if wait_exit {
            "raw_create_start_wait/none"
        } else {
            "raw_create_start/none"
        };
        g.bench_function(name, |bench| {
            bench.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (took, id) = rt.block_on(async {
                        let t = Instant::now();
                        let id = docker
                            .create_container(None::<CreateContainerOptions>, body.clone())
                            .await
                            .expect("create")
                            .id;
                        docker
                            .start_container(&id, None::<StartContainerOptions>)
                            .await
                            .expect("start");
                        if wait_exit {
                            let wait = WaitContainerOptionsBuilder::default()
                                .condition("not-running")
                                .build();
                            let mut w = docker.wait_container(&id, Some(wait));
                            while let Some(r) = w.next().await {
                                r.expect("wait");
                            }
                        }
                        (t.elapsed(), id)
                    });
                    total += took;
                    let rm = RemoveContainerOptionsBuilder::default().force(true).build();
                    rt.block_on(docker.remove_container(&id, Some(rm)))
                        .expect("remove");
                }
                total
            })
        });
    }
    g.finish();
}

fn warm_invoke(c: &mut Criterion) {
    let b = backend(&[]);
    let prepared = b
        .prepare(&FunctionSpec::catalogue(Function::Noop))
        .expect("prepare");
    let mut unit = prepared.start().expect("start");
    let req = Request { size: 0, seed: 1 };
    let mut g = c.benchmark_group("container");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("warm_invoke_noop/none", |bench| {
        bench.iter(|| unit.invoke(&req).expect("invoke"))
    });
    g.finish();
    unit.stop().expect("stop");
}

criterion_group!(benches, raw_cycles, cold_starts, warm_invoke);
criterion_main!(benches);
