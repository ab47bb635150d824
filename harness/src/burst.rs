//! `unitlab burst`: N cold starts released at once, and the time until every one has answered.
//!
//! Per level N, `T` threads wait on a barrier; the harness reads the clock (the *release*) and
//! opens it. Thread `t` then starts units `t`, `t + T`, `t + 2T`, ... one after another: each
//! unit is started, sent its first request, and its answer verified after the timing stops.
//! Every unit stays alive until the whole level has answered, so the last units start while
//! the first N - T are still holding their memory, as on a platform scaling out. Then every
//! unit is stopped, outside every timing.
//!
//! Every time is relative to the release: when `start` was called (the *dispatch*: the wait
//! for a free thread, and the barrier's wake-up for a thread's first unit), when it returned,
//! when the first response came. The *scale-out time* is the release to the last correct
//! answer; the completion rate is N over it. The harness's own share is recorded apart: the
//! barrier's wake-up skew and, per unit, the time a thread spent between one unit's answer and
//! the next unit's `start` (verification, recording).
//!
//! Threads: a thread stands for a request being dispatched. In-process backends (wasm, v8)
//! burn CPU in `start`, so more threads than cores only queue in the kernel scheduler instead
//! of in the harness: the default is one per core. Containers and processes spend their start
//! waiting (on dockerd, on fork+exec), so they get one thread per unit up to a cap. `--threads`
//! overrides both.

use std::sync::{Barrier, OnceLock};
use std::time::Instant;

use unitlab_backend::{verify, Backend, BackendError, BackendInfo, FunctionSpec, Request, Unit};
use unitlab_results::scale::{BurstConfig, BurstLevel, BurstResult, BurstSample, BURST_SCHEMA};
use unitlab_results::{ErrorRecord, Overhead, Summary};

use crate::measure::request_seed;

/// Most threads the default gives a backend whose start waits rather than computes.
pub const MAX_DEFAULT_THREADS: u32 = 64;

/// How to burst.
#[derive(Debug, Clone)]
pub struct Options {
    /// The levels, each a number of units released at once (none may be 0).
    pub levels: Vec<u32>,
    /// Threads per level (`None`: [`default_threads`]).
    pub threads: Option<u32>,
    /// Request size (`cpu`: KiB, `alloc`: MiB).
    pub size: u32,
    /// Seed for the request inputs.
    pub seed: u64,
    /// Expected value for user functions.
    pub expect: Option<u32>,
}

/// A burst: the summary and every unit's sample.
#[derive(Debug, Clone)]
pub struct BurstRun {
    /// What goes to `summary.json`.
    pub result: BurstResult,
    /// Every unit of every level.
    pub samples: Vec<BurstSample>,
}

/// Errors that stop a burst.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BurstError {
    /// A level of 0 units.
    #[error("a burst level of 0 units releases nothing; give levels of at least 1 (e.g. --concurrency 1,10,100)")]
    ZeroConcurrency,
    /// No level at all.
    #[error("no burst level given; give at least one (e.g. --concurrency 1,10,100)")]
    NoLevels,
    /// `--threads 0`.
    #[error("0 threads cannot start a unit; give --threads 1 or more, or leave it out for the backend's default")]
    ZeroThreads,
    /// The backend failed as a whole.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Every unit of a level failed: the backend cannot start units at all.
    #[error("every one of the {level} units of the level failed; the first error: {first}")]
    AllFailed {
        /// The level.
        level: u32,
        /// The first error, as displayed.
        first: String,
    },
}

/// The default number of threads for a level of `n` units on a backend: one per core for
/// in-process backends (their start is CPU work), one per unit up to [`MAX_DEFAULT_THREADS`]
/// for the others (their start mostly waits).
pub fn default_threads(info: &BackendInfo, n: u32) -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as u32;
    let t = if info.in_process {
        cores
    } else {
        MAX_DEFAULT_THREADS
    };
    t.min(n).max(1)
}

/// Checks the options before anything is prepared.
pub fn check(opts: &Options) -> Result<(), BurstError> {
    if opts.levels.is_empty() {
        return Err(BurstError::NoLevels);
    }
    if opts.levels.contains(&0) {
        return Err(BurstError::ZeroConcurrency);
    }
    if opts.threads == Some(0) {
        return Err(BurstError::ZeroThreads);
    }
    Ok(())
}

/// Runs every level of a burst against `backend`.
pub fn run(
    backend: &dyn Backend,
    spec: &FunctionSpec,
    opts: &Options,
    overhead: Overhead,
) -> Result<BurstRun, BurstError> {
    check(opts)?;
    let env = crate::env::collect(opts.seed);
    let t_prepare = Instant::now();
    let prepared = backend.prepare(spec)?;
    let prepare_ns = t_prepare.elapsed().as_nanos() as u64;
    let info = backend.info();

    let mut levels = Vec::with_capacity(opts.levels.len());
    let mut samples = Vec::new();
    let mut warnings = Vec::new();
    for (i, &n) in opts.levels.iter().enumerate() {
        let threads = opts
            .threads
            .unwrap_or_else(|| default_threads(&info, n))
            .min(n);
        let (level, mut s) = run_level(&*prepared, spec, opts, i as u32, n, threads)?;
        if level.failures > 0 {
            warnings.push(format!(
                "level {n}: {} of {n} units failed (see errors): no scale-out time",
                level.failures
            ));
        }
        samples.append(&mut s);
        levels.push(level);
    }
    if overhead.timer_resolution_ns > 1000 {
        warnings.push(format!(
            "the timer's resolution is {} ns: sub-microsecond figures are not trustworthy",
            overhead.timer_resolution_ns
        ));
    }
    Ok(BurstRun {
        result: BurstResult {
            schema: BURST_SCHEMA.into(),
            backend: info,
            function: spec.clone(),
            config: BurstConfig {
                levels: opts.levels.clone(),
                threads: opts.threads,
                size: opts.size,
            },
            env,
            overhead,
            prepare_ns,
            levels,
            warnings,
        },
        samples,
    })
}

/// What one thread did: its samples, failures and live units.
struct ThreadOutcome {
    samples: Vec<BurstSample>,
    errors: Vec<ErrorRecord>,
    live: Vec<Box<dyn Unit>>,
}

fn run_level(
    prepared: &dyn unitlab_backend::Prepared,
    spec: &FunctionSpec,
    opts: &Options,
    level_index: u32,
    n: u32,
    threads: u32,
) -> Result<(BurstLevel, Vec<BurstSample>), BurstError> {
    // Two barriers: every thread is spawned and waiting before the clock is read, so the
    // release measures the wake-up only, not thread creation.
    let ready = Barrier::new(threads as usize + 1);
    let barrier = Barrier::new(threads as usize + 1);
    let release: OnceLock<Instant> = OnceLock::new();
    let outcomes: Vec<ThreadOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                let ready = &ready;
                let release = &release;
                s.spawn(move || {
                    let mine: Vec<u32> = (t..n).step_by(threads as usize).collect();
                    let mut out = ThreadOutcome {
                        samples: Vec::with_capacity(mine.len()),
                        errors: Vec::new(),
                        live: Vec::with_capacity(mine.len()),
                    };
                    ready.wait();
                    barrier.wait();
                    let r = *release
                        .get()
                        .expect("the release is set before the barrier opens");
                    let mut prev_end: Option<Instant> = None;
                    for unit in mine {
                        let req = Request {
                            size: opts.size,
                            seed: request_seed(opts.seed ^ (level_index as u64) << 48, unit, 0),
                        };
                        let t0 = Instant::now();
                        let started = prepared.start();
                        let t1 = Instant::now();
                        let answer = started.and_then(|mut u| {
                            let resp = u.invoke(&req);
                            let t2 = Instant::now();
                            match resp {
                                Ok(resp) => Ok((u, resp, t2)),
                                Err(e) => {
                                    // A unit that failed its first invoke is freed now.
                                    let _ = u.stop();
                                    Err(e)
                                }
                            }
                        });
                        let rel = |t: Instant| t.duration_since(r).as_nanos() as u64;
                        let harness_ns =
                            prev_end.map_or(0, |p| t0.duration_since(p).as_nanos() as u64);
                        let mut sample = BurstSample {
                            level: n,
                            unit,
                            thread: t,
                            dispatch_ns: rel(t0),
                            started_ns: rel(t1),
                            answered_ns: 0,
                            cold_ns: 0,
                            harness_ns,
                            ok: false,
                            verified: false,
                        };
                        match answer.and_then(|(u, resp, t2)| {
                            verify(spec, &req, &resp, opts.expect).map(|v| (u, v, t2))
                        }) {
                            Ok((u, verified, t2)) => {
                                sample.answered_ns = rel(t2);
                                sample.cold_ns = t2.duration_since(t0).as_nanos() as u64;
                                sample.ok = true;
                                sample.verified = verified;
                                out.live.push(u);
                            }
                            Err(e) => out.errors.push(ErrorRecord {
                                unit,
                                invoke: None,
                                message: e.to_string(),
                            }),
                        }
                        out.samples.push(sample);
                        prev_end = Some(Instant::now());
                    }
                    out
                })
            })
            .collect();
        ready.wait();
        release
            .set(Instant::now())
            .expect("the release is set once per level");
        barrier.wait();
        handles
            .into_iter()
            .map(|h| h.join().expect("a burst thread panicked"))
            .collect()
    });

    let mut samples: Vec<BurstSample> = Vec::with_capacity(n as usize);
    let mut errors = Vec::new();
    let mut live = Vec::with_capacity(n as usize);
    for mut o in outcomes {
        samples.append(&mut o.samples);
        errors.append(&mut o.errors);
        live.append(&mut o.live);
    }
    samples.sort_by_key(|s| s.unit);
    errors.sort_by_key(|e| e.unit);

    // Stop everything, outside every timing; stop failures are failures too.
    let t_stop = Instant::now();
    for u in live {
        let id = u.id();
        if let Err(e) = u.stop() {
            errors.push(ErrorRecord {
                unit: u32::MAX,
                invoke: None,
                message: format!("stopping unit {id}: {e}"),
            });
        }
    }
    let stop_ns = t_stop.elapsed().as_nanos() as u64;

    let ok: Vec<&BurstSample> = samples.iter().filter(|s| s.ok).collect();
    let answered = ok.len() as u32;
    if answered == 0 {
        return Err(BurstError::AllFailed {
            level: n,
            first: errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default(),
        });
    }
    let last_answer_ns = ok.iter().map(|s| s.answered_ns).max();
    let failures = n - answered;
    let scale_out_ns = if failures == 0 { last_answer_ns } else { None };
    let units_per_second = last_answer_ns
        .filter(|&ns| ns > 0)
        .map(|ns| answered as f64 / (ns as f64 / 1e9));
    let first_per_thread = (0..threads).filter_map(|t| {
        samples
            .iter()
            .filter(|s| s.thread == t)
            .map(|s| s.dispatch_ns)
            .min()
    });
    let release_skew_ns = first_per_thread.max().unwrap_or(0);
    let level = BurstLevel {
        concurrency: n,
        threads,
        answered,
        failures,
        scale_out_ns,
        last_answer_ns,
        units_per_second,
        cold: Summary::from_nanos(&ok.iter().map(|s| s.cold_ns).collect::<Vec<_>>()),
        response: Summary::from_nanos(&ok.iter().map(|s| s.answered_ns).collect::<Vec<_>>()),
        dispatch: Summary::from_nanos(&samples.iter().map(|s| s.dispatch_ns).collect::<Vec<_>>()),
        harness: Summary::from_nanos(
            &samples
                .iter()
                .filter(|s| s.harness_ns > 0)
                .map(|s| s.harness_ns)
                .collect::<Vec<_>>(),
        ),
        release_skew_ns,
        stop_ns,
        errors,
    };
    Ok((level, samples))
}

/// Writes a burst into a new directory under `out`: `samples.csv` first, then `summary.json`.
pub fn write(out: &std::path::Path, b: &BurstRun) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    use std::fmt::Write as _;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let name = format!(
        "{stamp}-burst-{}-{}",
        b.result.backend.name,
        crate::output::sanitize(&b.result.function.name)
    );
    // Written into a partial directory, renamed when complete (unitlab_results::dir).
    let reserved = unitlab_results::dir::ResultDir::create(out, &name)?;
    let dir = reserved.path().to_path_buf();
    let mut csv = String::from(
        "level,unit,thread,dispatch_ns,started_ns,answered_ns,cold_ns,harness_ns,ok,verified\n",
    );
    for s in &b.samples {
        writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{}",
            s.level,
            s.unit,
            s.thread,
            s.dispatch_ns,
            s.started_ns,
            s.answered_ns,
            s.cold_ns,
            s.harness_ns,
            s.ok,
            s.verified
        )?;
    }
    let p = dir.join("samples.csv");
    std::fs::write(&p, csv).with_context(|| format!("writing {}", p.display()))?;
    let p = dir.join("summary.json");
    std::fs::write(&p, serde_json::to_string_pretty(&b.result)?)
        .with_context(|| format!("writing {}", p.display()))?;
    Ok(reserved.commit()?)
}

/// The terminal table: one row per level.
pub fn table(r: &BurstResult) -> String {
    use crate::output::fmt_ns;
    use std::fmt::Write as _;
    let opt = |v: Option<u64>| v.map(fmt_ns).unwrap_or_else(|| "-".into());
    let mut out = format!(
        "burst: {} {} (prepare {}, not counted)\n",
        r.backend.name,
        r.function.name,
        fmt_ns(r.prepare_ns)
    );
    let _ = writeln!(
        out,
        "{:>6} {:>4} {:>8} {:>10} {:>10} {:>12} {:>10} {:>10}",
        "N", "thr", "failed", "cold p50", "cold p99", "all answered", "units/s", "harness"
    );
    for l in &r.levels {
        let _ = writeln!(
            out,
            "{:>6} {:>4} {:>8} {:>10} {:>10} {:>12} {:>10} {:>10}",
            l.concurrency,
            l.threads,
            l.failures,
            opt(l.cold.p50),
            opt(l.cold.p99),
            opt(l.scale_out_ns),
            l.units_per_second
                .map(|u| format!("{u:.0}"))
                .unwrap_or_else(|| "-".into()),
            opt(l.harness.p50),
        );
    }
    for w in &r.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use unitlab_backend::Function;
    use unitlab_backend_mock::{Config, MockBackend};

    fn opts(levels: &[u32], threads: Option<u32>) -> Options {
        Options {
            levels: levels.to_vec(),
            threads,
            size: 1,
            seed: 3,
            expect: None,
        }
    }

    #[test]
    fn every_unit_of_every_level_answers_once() {
        let b = MockBackend::new(Config::default()).unwrap();
        let spec = FunctionSpec::catalogue(Function::Cpu);
        let r = run(&b, &spec, &opts(&[1, 7, 20], Some(3)), Overhead::default()).unwrap();
        assert_eq!(r.samples.len(), 28);
        let levels: Vec<_> = r.result.levels.iter().map(|l| l.concurrency).collect();
        assert_eq!(levels, [1, 7, 20]);
        assert_eq!(r.result.levels[0].threads, 1);
        assert_eq!(r.result.levels[2].threads, 3);
        for l in &r.result.levels {
            assert_eq!(l.answered, l.concurrency);
            assert_eq!(l.failures, 0);
            assert_eq!(l.cold.count, l.concurrency as u64);
            // Scripted start 100 us + invoke 10 us: every cold start takes at least that.
            assert!(l.cold.min.unwrap() >= 110_000, "{l:?}");
            let last = r
                .samples
                .iter()
                .filter(|s| s.level == l.concurrency)
                .map(|s| s.answered_ns)
                .max();
            assert_eq!(l.scale_out_ns, last);
        }
        assert!(r.samples.iter().all(|s| s.ok && s.verified));
        // 20 units on 3 threads: one thread ran 7 in sequence, so the last answer came after
        // at least 7 scripted cold starts.
        assert!(r.result.levels[2].scale_out_ns.unwrap() >= 7 * 110_000);
    }

    #[test]
    fn failures_are_recorded_and_deny_a_scale_out_time() {
        let cfg = Config {
            fail_start_every: 4,
            ..Config::default()
        };
        let b = MockBackend::new(cfg).unwrap();
        let r = run(
            &b,
            &FunctionSpec::catalogue(Function::Noop),
            &opts(&[8], Some(2)),
            Overhead::default(),
        )
        .unwrap();
        let l = &r.result.levels[0];
        assert_eq!(l.failures, 2);
        assert_eq!(l.answered, 6);
        assert_eq!(l.errors.len(), 2);
        assert_eq!(l.scale_out_ns, None);
        assert!(l.last_answer_ns.is_some());
        assert_eq!(r.result.warnings.len(), 1, "{:?}", r.result.warnings);
    }

    #[test]
    fn zero_levels_and_threads_are_refused() {
        assert!(matches!(
            check(&opts(&[10, 0], None)),
            Err(BurstError::ZeroConcurrency)
        ));
        assert!(matches!(check(&opts(&[], None)), Err(BurstError::NoLevels)));
        assert!(matches!(
            check(&opts(&[1], Some(0))),
            Err(BurstError::ZeroThreads)
        ));
    }

    #[test]
    fn wrong_answers_fail_every_unit() {
        let cfg = Config {
            wrong_answer: true,
            ..Config::default()
        };
        let b = MockBackend::new(cfg).unwrap();
        let e = run(
            &b,
            &FunctionSpec::catalogue(Function::Noop),
            &opts(&[4], None),
            Overhead::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("wrong answer"), "{e}");
    }
}
