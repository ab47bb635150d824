//! Synthetic, deterministic results for tests and for trying the report without a measurement.
//!
//! Nothing here was measured: the latencies are drawn from log-normal distributions with a
//! fixed seed, shaped like the orders of magnitude in the README's "Figures on one machine",
//! and every record says `synthetic fixture (not measured)` where the CPU model would be. Never
//! use these figures as results.

use std::collections::BTreeMap;
use std::path::Path;

use unitlab_backend::{BackendInfo, Boundary, Function, FunctionSpec, Request};
use unitlab_results::platform::{
    CalibrationRecord, Costs, Counts, Difference, HarnessOverhead, Latencies, MemorySource,
    ModelCost, PayPerUsePrices, PlatformRun, PlatformSummary, Pricing, ProvisionedPrices, RunKind,
    TimelineBin, TraceInfo, Usage, ValidationReport, WaitingCost, PLATFORM_SCHEMA,
    VALIDATION_SCHEMA,
};
use unitlab_results::{
    EnvRecord, ErrorRecord, MeasureConfig, MeasureResult, MemorySample, MemorySummary, Overhead,
    Sample, SampleKind, Summary, MEASURE_SCHEMA,
};

use crate::data::{PlatformInput, ReportData, Run};
use crate::ReportError;

/// What the fixture's environment says instead of a CPU model.
pub const SYNTHETIC: &str = "synthetic fixture (not measured)";

/// Splitmix64 with a Box–Muller normal.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn lognormal(&mut self, median: f64, sigma: f64) -> u64 {
        let (u1, u2) = (self.unit(), self.unit());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (median * (sigma * z).exp()).round().max(1.0) as u64
    }
}

fn env(seed: u64) -> EnvRecord {
    let mut extra = BTreeMap::new();
    extra.insert("vm.max_map_count".to_string(), "65530".to_string());
    EnvRecord {
        cpu_model: SYNTHETIC.to_string(),
        cores: 2,
        memory_bytes: 24 * (1 << 30),
        kernel: "6.1.0-fixture".to_string(),
        os: "Debian GNU/Linux 12 (bookworm)".to_string(),
        rustc: "rustc 1.95.0".to_string(),
        unitlab: "0.1.0".to_string(),
        git_commit: Some("0000000000000000000000000000000000000000".to_string()),
        seed,
        time: "2026-01-01T00:00:00Z".to_string(),
        extra,
    }
}

/// Parameters of one synthetic backend.
struct Spec {
    name: &'static str,
    in_process: bool,
    start_median_ns: f64,
    invoke_first_ns: f64,
    warm_ns: f64,
    phases: &'static [(&'static str, f64)],
    engine_bytes: Option<u64>,
    host_bytes: Option<u64>,
    rss_delta: Option<f64>,
    versions: &'static [(&'static str, &'static str)],
    settings: &'static [(&'static str, &'static str)],
}

const SPECS: &[Spec] = &[
    Spec {
        name: "container",
        in_process: false,
        start_median_ns: 100e6,
        invoke_first_ns: 1.2e6,
        warm_ns: 90e3,
        phases: &[("create", 5e6), ("start", 80e6), ("ready", 14e6)],
        engine_bytes: Some(300 * 1024),
        host_bytes: Some(3_400_000),
        rss_delta: None,
        versions: &[("docker_engine", "20.10.24"), ("runc", "1.1.5")],
        settings: &[
            ("network", "none"),
            ("floor.runc run.p50_ns", "16000000"),
            ("floor.runc run.p99_ns", "21000000"),
        ],
    },
    Spec {
        name: "v8",
        in_process: true,
        start_median_ns: 1.1e6,
        invoke_first_ns: 0.2e6,
        warm_ns: 6e3,
        phases: &[("isolate", 0.55e6), ("context", 0.4e6), ("compile", 0.15e6)],
        engine_bytes: Some(600 * 1024),
        host_bytes: None,
        rss_delta: Some(874.0 * 1024.0),
        versions: &[("v8", "10.2.154.26-node.37")],
        settings: &[],
    },
    Spec {
        name: "wasm",
        in_process: true,
        start_median_ns: 3.5e3,
        invoke_first_ns: 1.0e3,
        warm_ns: 0.4e3,
        phases: &[],
        engine_bytes: Some(64 * 1024),
        host_bytes: None,
        rss_delta: Some(10.0 * 1024.0),
        versions: &[("wasmtime", "48.0.0")],
        settings: &[("strategy", "pooling")],
    },
    Spec {
        name: "process",
        in_process: false,
        start_median_ns: 0.8e6,
        invoke_first_ns: 60e3,
        warm_ns: 25e3,
        phases: &[("fork_exec", 0.7e6)],
        engine_bytes: None,
        host_bytes: Some(400 * 1024),
        rss_delta: None,
        versions: &[("runner", "static")],
        settings: &[],
    },
];

fn run(spec: &Spec, units: u32, warm_per_unit: u32, seed: u64) -> Run {
    let mut rng = Rng(seed ^ (spec.name.len() as u64 * 0x1234_5678));
    let mut samples = Vec::new();
    let mut phase_vals: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for unit in 0..units {
        let mut start = rng.lognormal(spec.start_median_ns, 0.18);
        // A few slow outliers, as on a real machine.
        if unit % 97 == 13 {
            start *= 4;
        }
        for (name, median) in spec.phases {
            phase_vals
                .entry(name.to_string())
                .or_default()
                .push(rng.lognormal(*median, 0.15));
        }
        let inv = rng.lognormal(spec.invoke_first_ns, 0.25);
        samples.push(Sample {
            kind: SampleKind::Cold,
            unit,
            invoke: 0,
            total_ns: start + inv,
            start_ns: start,
            invoke_ns: inv,
            guest_ns: None,
            verified: true,
        });
        for invoke in 1..=warm_per_unit {
            let w = rng.lognormal(spec.warm_ns, 0.3);
            samples.push(Sample {
                kind: SampleKind::Warm,
                unit,
                invoke,
                total_ns: w,
                start_ns: 0,
                invoke_ns: w,
                guest_ns: Some(w / 3),
                verified: true,
            });
        }
    }
    let pick = |k: SampleKind, f: fn(&Sample) -> u64| -> Vec<u64> {
        samples.iter().filter(|s| s.kind == k).map(f).collect()
    };
    let memory_units = 20u32;
    let memory: Vec<MemorySample> = (0..memory_units)
        .map(|unit| MemorySample {
            unit,
            engine_bytes: spec.engine_bytes.map(|b| b + (rng.next() % 4096)),
            host_bytes: spec.host_bytes.map(|b| b + (rng.next() % 65536)),
        })
        .collect();
    let mean = |v: Vec<u64>| (!v.is_empty()).then(|| v.iter().sum::<u64>() as f64 / v.len() as f64);
    let rss_before = spec.in_process.then_some(60 << 20);
    let mem = MemorySummary {
        live_units: memory_units,
        engine_bytes_per_unit: mean(memory.iter().filter_map(|m| m.engine_bytes).collect()),
        host_bytes_per_unit: mean(memory.iter().filter_map(|m| m.host_bytes).collect()),
        rss_delta_per_unit: spec.rss_delta,
        rss_before,
        rss_live: rss_before
            .zip(spec.rss_delta)
            .map(|(b, d)| b + (d * memory_units as f64) as u64),
        rss_after: rss_before.map(|b| b + (1 << 20)),
    };
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    if spec.name == "container" {
        errors.push(ErrorRecord {
            unit: 7,
            invoke: None,
            message: "start: container exited before the runner was ready (fixture)".to_string(),
        });
        warnings.push("1 cold sample is a severe outlier (beyond Q3 + 3 IQR): kept".to_string());
    }
    let result = MeasureResult {
        schema: MEASURE_SCHEMA.to_string(),
        backend: BackendInfo {
            name: spec.name.to_string(),
            versions: spec
                .versions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            settings: spec
                .settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            in_process: spec.in_process,
            boundary: match spec.name {
                "process" => Some(Boundary::Process),
                "container" => Some(Boundary::Namespaces),
                "v8" | "deno" => Some(Boundary::RuntimeIsolate),
                "wasm" => Some(Boundary::WasmInstance),
                _ => None,
            },
        },
        function: FunctionSpec::catalogue(Function::Noop),
        config: MeasureConfig {
            units,
            warm_per_unit,
            memory_units,
            request: Some(Request { size: 0, seed: 1 }),
            gap_ns: 0,
        },
        env: env(seed),
        overhead: Overhead {
            timer_resolution_ns: 20,
            per_sample_ns: Some(45),
            per_sample_p99_ns: Some(90),
        },
        cold: Summary::from_nanos(&pick(SampleKind::Cold, |s| s.total_ns)),
        cold_start_part: Summary::from_nanos(&pick(SampleKind::Cold, |s| s.start_ns)),
        cold_first_invoke: Summary::from_nanos(&pick(SampleKind::Cold, |s| s.invoke_ns)),
        warm: Summary::from_nanos(&pick(SampleKind::Warm, |s| s.total_ns)),
        phases: phase_vals
            .iter()
            .map(|(k, v)| (k.clone(), Summary::from_nanos(v)))
            .collect(),
        memory: mem,
        errors,
        prepare_ns: (spec.start_median_ns * 20.0) as u64,
        warnings,
    };
    let mut run = Run::new(result, samples, memory);
    run.phase_order = spec.phases.iter().map(|(n, _)| n.to_string()).collect();
    run
}

/// One synthetic run per backend (`container`, `v8`, `wasm`, `process`).
pub fn measure_runs(units: u32, warm_per_unit: u32, seed: u64) -> Vec<Run> {
    SPECS
        .iter()
        .map(|s| run(s, units, warm_per_unit, seed))
        .collect()
}

/// One synthetic run of the named backend (`container`, `v8`, `wasm`, `process`).
pub fn measure_run(backend: &str, units: u32, warm_per_unit: u32, seed: u64) -> Option<Run> {
    SPECS
        .iter()
        .find(|s| s.name == backend)
        .map(|s| run(s, units, warm_per_unit, seed))
}

fn timeline(rng: &mut Rng, bins: usize, burst: f64, keep_alive_s: f64) -> Vec<TimelineBin> {
    let mut out = Vec::new();
    let mut live: f64 = 0.0;
    for i in 0..bins {
        let t = i as f64 * 10.0;
        // Bursts every 12 bins; `burst` scales how peaked they are.
        let phase = (i % 12) as f64;
        let rate = if phase < 2.0 { 1.0 + 20.0 * burst } else { 1.0 };
        let arrivals = (rate * (0.6 + 0.8 * rng.unit())).round() as u64;
        let executing = arrivals as f64 * 0.05;
        let wanted = executing.max(arrivals as f64 / 10.0);
        let decay = if keep_alive_s > 0.0 {
            (-10.0 / keep_alive_s).exp()
        } else {
            0.0
        };
        live = (live * decay).max(wanted);
        let starting = if live > wanted { 0.0 } else { wanted * 0.1 };
        let idle = (live - executing - starting).max(0.0);
        out.push(TimelineBin {
            t_s: t,
            width_s: 10.0,
            live: executing + starting + idle,
            starting,
            executing,
            idle,
            arrivals,
            cold_starts: (starting * 10.0).round() as u64,
        });
    }
    out
}

fn platform_run(policy: &str, keep_alive: Option<f64>, bins: &[TimelineBin]) -> PlatformRun {
    let idle: f64 = bins.iter().map(|b| b.idle * b.width_s).sum();
    let exec: f64 = bins.iter().map(|b| b.executing * b.width_s).sum();
    let start: f64 = bins.iter().map(|b| b.starting * b.width_s).sum();
    let gb = 0.000_5; // 0.5 MB per unit
    let (ppu, prov_h) = (0.000_016_666_7, 0.015);
    let invocations: u64 = bins.iter().map(|b| b.arrivals).sum();
    let cold: u64 = bins
        .iter()
        .map(|b| b.cold_starts)
        .sum::<u64>()
        .min(invocations);
    let mut settings = BTreeMap::new();
    match keep_alive {
        Some(k) if k > 0.0 => settings.insert("keep_alive".to_string(), format!("fixed {k}s")),
        _ => settings.insert("keep_alive".to_string(), "none".to_string()),
    };
    let alive = idle + exec + start;
    PlatformRun {
        harness: None,
        kind: RunKind::Simulate,
        backend: "wasm".to_string(),
        policy: policy.to_string(),
        policy_settings: settings,
        facts: unitlab_results::platform::PolicyFacts {
            keep_alive_ns: Some(keep_alive.map_or(0, |k| (k * 1e9).round() as u64)),
            baseline: policy == "none",
            pick: "mru".into(),
            concurrency: 1,
            ..Default::default()
        },
        counts: Counts {
            invocations,
            completed: invocations,
            cold_starts: cold,
            warm_starts: invocations - cold,
            cold_rate: Some(cold as f64 / invocations.max(1) as f64),
            ..Counts::default()
        },
        latency: Latencies {
            end_to_end: Summary::from_nanos(&[40_000, 52_000, 61_000, 75_000, 400_000]),
            ..Latencies::default()
        },
        usage: Usage {
            unit_seconds: unitlab_results::platform::StateSplit {
                starting: start,
                executing: exec,
                idle,
            },
            gb_seconds: None,
            window_s: bins.len() as f64 * 10.0,
            mean_live_units: Some(alive / (bins.len() as f64 * 10.0)),
            mean_idle_units: Some(idle / (bins.len() as f64 * 10.0)),
            mean_executing_units: Some(exec / (bins.len() as f64 * 10.0)),
            peak_live_units: bins.iter().map(|b| b.live.ceil() as u64).max().unwrap_or(0),
            idle_share: (alive > 0.0).then(|| idle / alive),
        },
        memory_source: MemorySource {
            kind: "calibration".to_string(),
            mean_bytes_per_unit: Some(500_000.0),
        },
        costs: Costs {
            pay_per_use: Some(ModelCost {
                billed: exec * gb * ppu + invocations as f64 * 0.2e-6,
                idle: idle * gb * ppu,
                starting: start * gb * ppu,
                alive: alive * gb * ppu,
            }),
            provisioned: Some(ModelCost {
                billed: alive * gb * prov_h / 3600.0 * 40.0,
                idle: idle * gb * prov_h / 3600.0 * 40.0,
                starting: start * gb * prov_h / 3600.0 * 40.0,
                alive: alive * gb * prov_h / 3600.0 * 40.0,
            }),
            cpu_time: None,
        },
        waiting: WaitingCost {
            idle_unit_seconds: idle,
            idle_gb_seconds: Some(idle * gb),
            pay_per_use: Some(idle * gb * ppu),
            provisioned: Some(idle * gb * prov_h / 3600.0 * 40.0),
            idle_share: (alive > 0.0).then(|| idle / alive),
        },
        avoidance: None,
        calibration: Some(CalibrationRecord {
            backend: "wasm".to_string(),
            source: "assume:fixture (synthetic fixture, not measured)".to_string(),
            startup_model: "percentiles".to_string(),
            startup_p50_ns: Some(4_500),
            first_invoke_extra_ns: 1_000,
            invoke_overhead_ns: 400,
            memory_bytes_per_unit: Some(500_000),
            execution_model: "trace".to_string(),
        }),
        run_seconds: 0.05,
        invocations_per_second: Some(1e6),
        warnings: Vec::new(),
    }
}

/// Two synthetic simulations (a bursty and a steady trace), three policies each, with
/// timelines.
pub fn platform_inputs(seed: u64) -> Vec<PlatformInput> {
    let mut rng = Rng(seed ^ 0xface);
    let mut out = Vec::new();
    for (source, burst) in [
        ("synthetic bursty (fixture)", 1.0),
        ("synthetic steady (fixture)", 0.05),
    ] {
        let mut runs = Vec::new();
        let mut timelines = BTreeMap::new();
        for (policy, ka) in [
            ("none", Some(0.0)),
            ("keepalive-60s", Some(60.0)),
            ("keepalive-600s", Some(600.0)),
        ] {
            let bins = timeline(&mut rng, 72, burst, ka.unwrap_or(0.0));
            runs.push(platform_run(policy, ka, &bins));
            timelines.insert(("wasm".to_string(), policy.to_string()), bins);
        }
        let invocations = runs[0].counts.invocations;
        out.push(PlatformInput {
            dir: Path::new("fixture").join(source.split(' ').nth(1).unwrap_or("trace")),
            summary: PlatformSummary {
                schema: PLATFORM_SCHEMA.to_string(),
                kind: RunKind::Simulate,
                backend: BackendInfo {
                    name: "wasm".to_string(),
                    ..BackendInfo::default()
                },
                function: None,
                trace: TraceInfo {
                    source: source.to_string(),
                    functions: 1,
                    invocations,
                    last_arrival_ns: 720_000_000_000,
                    seed: Some(seed),
                },
                time_scale: 1.0,
                seed,
                pricing: Pricing {
                    note: "fixture prices".to_string(),
                    currency: "USD".to_string(),
                    pay_per_use: Some(PayPerUsePrices {
                        gb_second: 0.000_016_666_7,
                        per_million_requests: 0.2,
                        ..Default::default()
                    }),
                    provisioned: Some(ProvisionedPrices {
                        gb_hour: 0.015,
                        ..Default::default()
                    }),
                    cpu_time: None,
                },
                env: Some(env(seed)),
                runs,
            },
            timelines,
        });
    }
    out
}

/// A synthetic validation result.
pub fn validation() -> ValidationReport {
    let bins = vec![TimelineBin {
        t_s: 0.0,
        width_s: 10.0,
        live: 1.0,
        starting: 0.0,
        executing: 0.1,
        idle: 0.9,
        arrivals: 5,
        cold_starts: 1,
    }];
    ValidationReport {
        schema: VALIDATION_SCHEMA.to_string(),
        backend: "wasm".to_string(),
        policy: "keepalive-60s".to_string(),
        trace: TraceInfo::default(),
        calibration: CalibrationRecord::default(),
        differences: vec![
            Difference::new("cold_starts", Some(120.0), Some(126.0)),
            Difference::new("e2e_p50_ns", Some(52_000.0), Some(50_500.0)),
            Difference::new("e2e_p99_ns", Some(410_000.0), Some(330_000.0)),
            Difference::new("idle_gb_seconds", Some(0.8), Some(0.83)),
            Difference::new("peak_live_units", Some(0.0), Some(3.0)),
        ],
        replay: PlatformRun {
            kind: RunKind::Replay,
            harness: Some(HarnessOverhead {
                start_handoff: Summary::from_nanos(&[61_000, 75_000, 92_000, 140_000]),
                backend_start: Summary::from_nanos(&[96_000, 109_000, 121_000, 205_000]),
                invoke_handoff: Summary::from_nanos(&[70_000, 98_000, 101_000, 188_000]),
                backend_invoke: Summary::from_nanos(&[6_900, 7_900, 8_100, 34_000]),
                report_lag: Summary::from_nanos(&[18_000, 22_000, 25_000, 81_000]),
            }),
            ..platform_run("keepalive-60s", Some(60.0), &bins)
        },
        simulate: platform_run("keepalive-60s", Some(60.0), &bins),
        warnings: vec!["replay time scale 10x: sub-millisecond gaps are compressed".to_string()],
    }
}

/// The full fixture: four measure runs, two simulations, one validation, and bursts and
/// density results derived from the runs.
pub fn report_data(seed: u64) -> ReportData {
    let mut d = ReportData::from_runs(measure_runs(200, 5, seed));
    d.platforms = platform_inputs(seed);
    d.validations = vec![validation()];
    d.scale = crate::scale::fixture(&d.runs);
    d
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a run as the harness does: `summary.json`, `samples.csv`, `memory.csv` in `dir`.
pub fn write_run(run: &Run, dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let p = dir.join("summary.json");
    let json = serde_json::to_string_pretty(&run.result).map_err(|source| ReportError::Json {
        path: p.clone(),
        source,
    })?;
    std::fs::write(&p, json).map_err(io(&p))?;
    write_csv(&dir.join("samples.csv"), &run.samples)?;
    write_csv(&dir.join("memory.csv"), &run.memory)?;
    // phases.csv as the harness writes it (unit, phase, ns); the fixture keeps only the order,
    // so every unit gets its phase medians.
    let mut rows = Vec::new();
    for unit in 0..run.result.cold.count.min(3) as u32 {
        for name in &run.phase_order {
            let ns = run.result.phases.get(name).and_then(|s| s.p50).unwrap_or(0);
            rows.push((unit, name.clone(), ns));
        }
    }
    let p = dir.join("phases.csv");
    let mut w = csv::Writer::from_path(&p).map_err(|source| ReportError::Csv {
        path: p.clone(),
        source,
    })?;
    let csv_err = |source| ReportError::Csv {
        path: p.clone(),
        source,
    };
    w.write_record(["unit", "phase", "ns"]).map_err(csv_err)?;
    for (u, n, ns) in rows {
        w.write_record([u.to_string(), n, ns.to_string()])
            .map_err(|source| ReportError::Csv {
                path: p.clone(),
                source,
            })?;
    }
    w.flush().map_err(io(&p))?;
    Ok(())
}

/// Writes a platform result as the platform does: `summary.json` and `<policy>/timeline.csv`.
pub fn write_platform(p: &PlatformInput, dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let f = dir.join("summary.json");
    let json = serde_json::to_string_pretty(&p.summary).map_err(|source| ReportError::Json {
        path: f.clone(),
        source,
    })?;
    std::fs::write(&f, json).map_err(io(&f))?;
    for ((backend, policy), bins) in &p.timelines {
        let d = dir.join(backend).join(crate::data::policy_dir_name(policy));
        std::fs::create_dir_all(&d).map_err(io(&d))?;
        write_csv(&d.join("timeline.csv"), bins)?;
    }
    Ok(())
}

/// Writes a validation result: `validation.json` in `dir`.
pub fn write_validation(v: &ValidationReport, dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let f = dir.join("validation.json");
    let json = serde_json::to_string_pretty(v).map_err(|source| ReportError::Json {
        path: f.clone(),
        source,
    })?;
    std::fs::write(&f, json).map_err(io(&f))
}

/// Writes the whole fixture under `root` as result directories, the way the harness lays
/// them out; returns `root`.
pub fn write_all(root: &Path, seed: u64) -> Result<(), ReportError> {
    let d = report_data(seed);
    for r in &d.runs {
        write_run(
            r,
            &root.join(format!("20260101T000000Z-{}-noop", r.backend())),
        )?;
    }
    for (i, p) in d.platforms.iter().enumerate() {
        write_platform(p, &root.join(format!("20260101T000000Z-simulate-wasm-{i}")))?;
    }
    for v in &d.validations {
        write_validation(v, &root.join("20260101T000000Z-validate-wasm"))?;
    }
    crate::scale::write_fixture(&d.scale, root)?;
    Ok(())
}

fn write_csv<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<(), ReportError> {
    let csv_err = |source| ReportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = csv::Writer::from_path(path).map_err(csv_err)?;
    for r in rows {
        w.serialize(r).map_err(|source| ReportError::Csv {
            path: path.to_path_buf(),
            source,
        })?;
    }
    w.flush().map_err(io(path))
}
