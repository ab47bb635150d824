//! `unitlab measure`: cold starts, warm invokes and memory per unit of one backend and function.
//!
//! The loop, per unit: `start` and the first `invoke` are timed apart and together form the
//! cold sample; then `warm` invokes are timed one by one. Every response is verified *after*
//! its timing stops, so verification never inflates a sample but a wrong answer still fails
//! the unit. Stopping a unit is outside every timing. `prepare` runs once, before, and is
//! reported as `prepare_ns`, never as a cold start.
//!
//! With a `gap`, the loop sleeps that long before every timed start and invoke (outside the
//! timing): back to back, a warm invoke finds its unit and the CPU's caches hot; after an idle
//! gap, as a sparse request does, it may cost many times more.
//!
//! Memory is read in a separate phase: `memory_units` units are started and invoked once, all
//! kept alive, then each is asked for its memory and (for in-process backends) the process RSS
//! delta is divided by their number. Keeping them apart keeps the cold-start loop free of the
//! memory pressure of thousands of live units, and the memory phase free of timing.
//!
//! A failing unit (guest trap, deadline, protocol error) is recorded in `errors` and counted
//! in [`Measurement::failed_units`] (the binary then exits with code 3), and the run goes on; a failure of the backend itself (unavailable, prepare failed) stops it, and so do
//! ten unit failures in a row, since then every further sample would be an error too.

use std::collections::BTreeMap;
use std::time::Instant;

use unitlab_backend::{verify, Backend, BackendError, FunctionSpec, Request, Unit};
use unitlab_results::{
    ErrorRecord, MeasureConfig, MeasureResult, MemorySample, MemorySummary, Overhead, Sample,
    SampleKind, Summary, UnitPhases, MEASURE_SCHEMA,
};

/// How to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Cold starts.
    pub units: u32,
    /// Warm invokes per unit after the first.
    pub warm_per_unit: u32,
    /// Units kept alive together for the memory reading (0: skip the memory phase).
    pub memory_units: u32,
    /// Request size (`cpu`: KiB, `alloc`: MiB).
    pub size: u32,
    /// Seed for the environment record and the request seeds.
    pub seed: u64,
    /// Expected value for user functions (`None`: user functions are unverified).
    pub expect: Option<u32>,
    /// Idle time before every timed start and invoke (zero: back to back).
    pub gap: std::time::Duration,
    /// Called after every unit of the cold-start loop, and every unit of the memory phase.
    pub progress: Option<fn(Progress)>,
}

/// Where a measurement is, for progress bars.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Cold-start loop: units done so far, out of the total.
    Cold(u32, u32),
    /// Memory phase: units alive so far, out of the total.
    Memory(u32, u32),
}

/// A measurement: the summary and the raw data behind it.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// What goes to `summary.json`.
    pub result: MeasureResult,
    /// Every sample, cold and warm.
    pub samples: Vec<Sample>,
    /// Start phases per unit.
    pub phases: Vec<UnitPhases>,
    /// Memory readings per unit.
    pub memory: Vec<MemorySample>,
    /// Units of the cold-start loop with at least one failed start, invoke, verification or
    /// stop (a memory phase that stops early is not counted: it is recorded in `errors`).
    pub failed_units: u32,
}

/// Errors that stop a measurement.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The backend failed as a whole.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Units keep failing: the last error is shown.
    #[error("{failures} units failed in a row; the last error: {last}")]
    TooManyFailures {
        /// How many.
        failures: u32,
        /// The last error.
        last: BackendError,
    },
}

const MAX_CONSECUTIVE_FAILURES: u32 = 10;

/// The request seed of unit `unit`, invoke `invoke`: distinct per sample so that no backend can
/// answer from a cache, reproducible from the run's seed.
pub fn request_seed(seed: u64, unit: u32, invoke: u32) -> u32 {
    // SplitMix64 finaliser over (seed, unit, invoke).
    let mut z = seed
        .wrapping_add((unit as u64) << 32 | invoke as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as u32
}

/// Runs a measurement.
pub fn run(
    backend: &dyn Backend,
    spec: &FunctionSpec,
    opts: &Options,
    overhead: Overhead,
) -> Result<Measurement, MeasureError> {
    let env = crate::env::collect(opts.seed);
    let t_prepare = Instant::now();
    let prepared = backend.prepare(spec)?;
    let prepare_ns = t_prepare.elapsed().as_nanos() as u64;
    // After prepare: the backend may only know what it runs (an image id) once prepared.
    let info = backend.info();

    let mut samples = Vec::with_capacity(opts.units as usize * (1 + opts.warm_per_unit as usize));
    let mut phases = Vec::with_capacity(opts.units as usize);
    let mut failures = Failures::default();

    for unit in 0..opts.units {
        let req = Request {
            size: opts.size,
            seed: request_seed(opts.seed, unit, 0),
        };
        idle(opts.gap);
        // Timed region: start + first invoke, nothing else.
        let t0 = Instant::now();
        let started = prepared.start();
        let t1 = Instant::now();
        let mut u = match started {
            Ok(u) => u,
            Err(e) => {
                failures.record(unit, None, e)?;
                continue;
            }
        };
        let first = u.invoke(&req);
        let t2 = Instant::now();
        let verified = match first.and_then(|r| verify(spec, &req, &r, opts.expect).map(|v| (r, v)))
        {
            Ok((r, v)) => {
                let start_ns = t1.duration_since(t0).as_nanos() as u64;
                let invoke_ns = t2.duration_since(t1).as_nanos() as u64;
                samples.push(Sample {
                    kind: SampleKind::Cold,
                    unit,
                    invoke: 0,
                    total_ns: start_ns + invoke_ns,
                    start_ns,
                    invoke_ns,
                    guest_ns: r.guest_nanos,
                    verified: v,
                });
                true
            }
            Err(e) => {
                failures.record(unit, Some(0), e)?;
                false
            }
        };
        phases.push(UnitPhases {
            unit,
            phases: u.start_phases(),
        });
        if verified {
            warm_loop(&mut *u, spec, opts, unit, &mut samples, &mut failures)?;
        }
        if let Err(e) = u.stop() {
            failures.record(unit, None, e)?;
        }
        if failures.errors.last().is_none_or(|e| e.unit != unit) {
            failures.consecutive = 0;
        }
        if let Some(p) = opts.progress {
            p(Progress::Cold(unit + 1, opts.units));
        }
    }

    let failed_units = failures
        .errors
        .iter()
        .map(|e| e.unit)
        .collect::<std::collections::BTreeSet<u32>>()
        .len() as u32;
    let mut errors = failures.errors;
    let (memory_summary, memory) = memory_phase(&*prepared, backend, spec, opts, &mut errors)?;

    let cold: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.kind == SampleKind::Cold)
        .collect();
    let warm: Vec<u64> = samples
        .iter()
        .filter(|s| s.kind == SampleKind::Warm)
        .map(|s| s.total_ns)
        .collect();
    let mut by_phase: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for p in &phases {
        for ph in &p.phases {
            by_phase.entry(ph.name.clone()).or_default().push(ph.nanos);
        }
    }
    let mut warnings = Vec::new();
    if overhead.timer_resolution_ns > 1000 {
        warnings.push(format!(
            "the timer's resolution is {} ns: sub-microsecond figures are not trustworthy",
            overhead.timer_resolution_ns
        ));
    }
    let cold_summary = Summary::from_nanos(&cold.iter().map(|s| s.total_ns).collect::<Vec<_>>());
    if let (Some(p50), Some(ov)) = (cold_summary.p50, overhead.per_sample_ns) {
        if ov * 10 > p50 {
            warnings.push(format!(
                "the harness's own cost per sample ({ov} ns) is over a tenth of the cold-start median ({p50} ns)"
            ));
        }
    }
    if cold_summary.severe_outliers > 0 {
        warnings.push(format!(
            "{} cold samples are severe outliers (beyond Q3 + 3 IQR): kept, see samples.csv",
            cold_summary.severe_outliers
        ));
    }
    if !errors.is_empty() {
        warnings.push(format!(
            "{} units or invokes failed: see errors",
            errors.len()
        ));
    }

    let result = MeasureResult {
        schema: MEASURE_SCHEMA.into(),
        backend: info,
        function: spec.clone(),
        config: MeasureConfig {
            units: opts.units,
            warm_per_unit: opts.warm_per_unit,
            memory_units: opts.memory_units,
            request: Some(Request {
                size: opts.size,
                seed: 0,
            }),
            gap_ns: opts.gap.as_nanos() as u64,
        },
        env,
        overhead,
        cold: cold_summary,
        cold_start_part: Summary::from_nanos(&cold.iter().map(|s| s.start_ns).collect::<Vec<_>>()),
        cold_first_invoke: Summary::from_nanos(
            &cold.iter().map(|s| s.invoke_ns).collect::<Vec<_>>(),
        ),
        warm: Summary::from_nanos(&warm),
        phases: by_phase
            .iter()
            .map(|(k, v)| (k.clone(), Summary::from_nanos(v)))
            .collect(),
        memory: memory_summary,
        errors,
        prepare_ns,
        warnings,
    };
    Ok(Measurement {
        result,
        samples,
        phases,
        memory,
        failed_units,
    })
}

/// Failures of the cold-start loop, and how many came in a row.
#[derive(Default)]
struct Failures {
    errors: Vec<ErrorRecord>,
    consecutive: u32,
}

impl Failures {
    /// Records a failure of one unit; errors of the backend as a whole stop the run.
    fn record(
        &mut self,
        unit: u32,
        invoke: Option<u32>,
        e: BackendError,
    ) -> Result<(), MeasureError> {
        let per_unit = e.is_unit_fault()
            || matches!(
                e,
                BackendError::WrongAnswer { .. } | BackendError::Start { .. }
            );
        if !per_unit {
            return Err(e.into());
        }
        self.errors.push(ErrorRecord {
            unit,
            invoke,
            message: e.to_string(),
        });
        self.consecutive += 1;
        if self.consecutive >= MAX_CONSECUTIVE_FAILURES {
            return Err(MeasureError::TooManyFailures {
                failures: self.consecutive,
                last: e,
            });
        }
        Ok(())
    }
}

/// Sleeps `gap` (nothing when zero).
fn idle(gap: std::time::Duration) {
    if !gap.is_zero() {
        std::thread::sleep(gap);
    }
}

fn warm_loop(
    u: &mut dyn Unit,
    spec: &FunctionSpec,
    opts: &Options,
    unit: u32,
    samples: &mut Vec<Sample>,
    failures: &mut Failures,
) -> Result<(), MeasureError> {
    for invoke in 1..=opts.warm_per_unit {
        let req = Request {
            size: opts.size,
            seed: request_seed(opts.seed, unit, invoke),
        };
        idle(opts.gap);
        let t0 = Instant::now();
        let r = u.invoke(&req);
        let t1 = Instant::now();
        match r.and_then(|r| verify(spec, &req, &r, opts.expect).map(|v| (r, v))) {
            Ok((r, v)) => {
                let ns = t1.duration_since(t0).as_nanos() as u64;
                samples.push(Sample {
                    kind: SampleKind::Warm,
                    unit,
                    invoke,
                    total_ns: ns,
                    start_ns: 0,
                    invoke_ns: ns,
                    guest_ns: r.guest_nanos,
                    verified: v,
                });
            }
            Err(e) => {
                // A unit that failed once is not trusted for further warm samples.
                failures.record(unit, Some(invoke), e)?;
                break;
            }
        }
    }
    Ok(())
}

fn memory_phase(
    prepared: &dyn unitlab_backend::Prepared,
    backend: &dyn Backend,
    spec: &FunctionSpec,
    opts: &Options,
    errors: &mut Vec<ErrorRecord>,
) -> Result<(MemorySummary, Vec<MemorySample>), MeasureError> {
    let n = opts.memory_units;
    if n == 0 {
        return Ok((MemorySummary::default(), Vec::new()));
    }
    let in_process = backend.info().in_process;
    let rss_before = unitlab_backend::process_rss_bytes();
    let mut live: Vec<Box<dyn Unit>> = Vec::with_capacity(n as usize);
    let mut first_error = None;
    for i in 0..n {
        let req = Request {
            size: opts.size,
            seed: request_seed(opts.seed ^ 0xA5A5, i, 0),
        };
        let unit = prepared.start().and_then(|mut u| {
            let r = u.invoke(&req)?;
            verify(spec, &req, &r, opts.expect)?;
            Ok(u)
        });
        match unit {
            Ok(u) => live.push(u),
            Err(e) => {
                // The memory phase stops at the first failure: often the very limit being
                // probed (vm.max_map_count, a pool's size). What was alive is still measured.
                errors.push(ErrorRecord {
                    unit: i,
                    invoke: None,
                    message: format!("memory phase stopped at unit {i}: {e}"),
                });
                first_error = Some(e);
                break;
            }
        }
        if let Some(p) = opts.progress {
            p(Progress::Memory(i + 1, n));
        }
    }
    let rss_live = unitlab_backend::process_rss_bytes();
    let mut readings = Vec::with_capacity(live.len());
    for (i, u) in live.iter_mut().enumerate() {
        let m = u.memory()?;
        readings.push(MemorySample {
            unit: i as u32,
            engine_bytes: m.engine_bytes,
            host_bytes: m.host_bytes,
        });
    }
    let count = live.len();
    for u in live {
        u.stop()?;
    }
    let rss_after = unitlab_backend::process_rss_bytes();
    let mean = |f: fn(&MemorySample) -> Option<u64>| {
        let vals: Vec<u64> = readings.iter().filter_map(f).collect();
        (!vals.is_empty()).then(|| vals.iter().sum::<u64>() as f64 / vals.len() as f64)
    };
    let rss_delta_per_unit = match (in_process, rss_before, rss_live, count) {
        (true, Some(b), Some(l), c) if c > 0 => Some((l as f64 - b as f64) / c as f64),
        _ => None,
    };
    if count == 0 {
        if let Some(e) = first_error {
            if !e.is_unit_fault() {
                return Err(e.into());
            }
        }
    }
    Ok((
        MemorySummary {
            live_units: count as u32,
            engine_bytes_per_unit: mean(|m| m.engine_bytes),
            host_bytes_per_unit: mean(|m| m.host_bytes),
            rss_delta_per_unit,
            rss_before,
            rss_live,
            rss_after,
        },
        readings,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use unitlab_backend::Function;
    use unitlab_backend_mock::{Config, MockBackend};

    fn opts(units: u32, warm: u32) -> Options {
        Options {
            units,
            warm_per_unit: warm,
            memory_units: 3,
            size: 1,
            seed: 42,
            expect: None,
            gap: std::time::Duration::ZERO,
            progress: None,
        }
    }

    fn overhead() -> Overhead {
        Overhead::default()
    }

    #[test]
    fn counts_samples_and_phases() {
        let b = MockBackend::new(Config::default()).unwrap();
        let m = run(
            &b,
            &FunctionSpec::catalogue(Function::Cpu),
            &opts(5, 4),
            overhead(),
        )
        .unwrap();
        assert_eq!(m.result.cold.count, 5);
        assert_eq!(m.result.warm.count, 20);
        assert_eq!(m.samples.len(), 25);
        assert!(m.samples.iter().all(|s| s.verified));
        assert_eq!(m.result.phases["spin"].count, 5);
        assert_eq!(m.result.memory.live_units, 3);
        assert_eq!(
            m.result.memory.engine_bytes_per_unit,
            Some((1 << 20) as f64)
        );
        assert!(m.result.errors.is_empty());
        // Scripted latencies show through: start 100 us, invoke 10 us.
        let s = &m.samples[0];
        assert!(s.start_ns >= 100_000 && s.invoke_ns >= 10_000, "{s:?}");
        assert_eq!(s.total_ns, s.start_ns + s.invoke_ns);
    }

    #[test]
    fn wrong_answers_are_errors_not_samples() {
        let cfg = Config {
            wrong_answer: true,
            ..Config::default()
        };
        let b = MockBackend::new(cfg).unwrap();
        let err = run(
            &b,
            &FunctionSpec::catalogue(Function::Noop),
            &opts(20, 1),
            overhead(),
        )
        .unwrap_err();
        assert!(
            matches!(err, MeasureError::TooManyFailures { failures: 10, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("wrong answer"), "{err}");
    }

    #[test]
    fn a_failing_unit_is_recorded_and_the_run_goes_on() {
        let cfg = Config {
            fail_start_every: 3,
            ..Config::default()
        };
        let b = MockBackend::new(cfg).unwrap();
        let mut o = opts(9, 2);
        o.memory_units = 0;
        let m = run(&b, &FunctionSpec::catalogue(Function::Noop), &o, overhead()).unwrap();
        assert_eq!(m.result.cold.count, 6);
        assert_eq!(m.result.errors.len(), 3);
        assert_eq!(m.result.errors[0].unit, 2);
        assert!(m.result.errors[0]
            .message
            .contains("scripted start failure"));
        assert_eq!(m.result.memory, MemorySummary::default());
    }

    #[test]
    fn request_seeds_differ_per_sample() {
        let a = request_seed(1, 0, 0);
        assert_ne!(a, request_seed(1, 0, 1));
        assert_ne!(a, request_seed(1, 1, 0));
        assert_ne!(a, request_seed(2, 0, 0));
        assert_eq!(a, request_seed(1, 0, 0));
    }
}
