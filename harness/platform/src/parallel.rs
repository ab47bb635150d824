//! Several simulations of one trace at once, on several threads, from one read of the trace.
//!
//! Each (policy, calibration) run is independent, so [`simulate_runs`] reads the trace once
//! on the calling thread, in chunks of [`CHUNK`] invocations, and hands every chunk (shared,
//! not copied) to worker threads, each driving its share of the runs ([`Simulation::push_all`]).
//! Reading (parsing a file, generating a day) thereby overlaps with simulating, and a file is
//! parsed once for all policies instead of once per policy. Memory is bounded by the chunks
//! in flight (at most `QUEUE + 2` per worker), not by the trace's length.
//!
//! Exactness: a run's output is a pure function of (trace, policy, calibration, seed), and
//! every run sees the same invocations in the same order whatever the thread count or the
//! chunk boundaries ([`Simulation`] processes events the same way whether it is fed one
//! arrival or a chunk), so outputs are bit-identical for 1, 2 or 8 threads. A run's
//! `run_seconds` is the time its own thread spent in it (reading the trace excluded).
//!
//! Functions are not split into shards: the simulator draws start-up latencies and
//! exponential execution times from one generator per run, in event order across all
//! functions, so a shard's draws would depend on the other shards' events. Sharding would need
//! one random stream per function (a different, but equally valid, output) and exact merges of
//! the timeline and peak counts; parallelism here is across runs.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::time::Instant;

use unitlab_workloads::{Invocation, TraceError};

use crate::calibration::Calibration;
use crate::policy::Policy;
use crate::sim::{SimOptions, SimOutcome, Simulation};
use crate::PlatformError;

/// Invocations per chunk handed to the workers (48 bytes each: 192 KiB).
pub const CHUNK: usize = 4 * 1024;
/// Chunks queued per worker before the reader waits.
pub const QUEUE: usize = 2;

/// One simulation to run.
#[derive(Debug, Clone)]
pub struct SimRun<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// The backend's calibration.
    pub calibration: &'a Calibration,
    /// The run's options (seed, records, timeline bin, function count, progress bar).
    pub options: SimOptions,
}

/// What the reader saw of the trace.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TraceRead {
    /// Invocations read.
    pub invocations: u64,
    /// Arrival of the last one, ns.
    pub last_arrival_ns: u64,
    /// Wall seconds from the first read to the last simulation's end.
    pub wall_seconds: f64,
}

type Chunk = Arc<Vec<Invocation>>;

/// Feeds every chunk to each of `sims`; returns each run's index and error, if any.
fn run_worker(
    sims: &mut [(usize, Simulation<'_>)],
    rx: Receiver<Chunk>,
) -> Vec<(usize, Option<PlatformError>)> {
    let mut errors: Vec<Option<PlatformError>> = sims.iter().map(|_| None).collect();
    for chunk in rx {
        for (k, (_, sim)) in sims.iter_mut().enumerate() {
            if errors[k].is_none() {
                if let Err(e) = sim.push_all(&chunk) {
                    errors[k] = Some(e);
                }
            }
        }
        if errors.iter().all(Option::is_some) {
            break;
        }
    }
    sims.iter().map(|(i, _)| *i).zip(errors).collect()
}

/// Runs every simulation in `runs` over `trace` on `threads` worker threads (at most one per
/// run; 1: everything on the calling thread). Outcomes are in the order of `runs`; on error,
/// the error of the earliest failing run (or the trace's) is returned.
pub fn simulate_runs<I>(
    trace: I,
    runs: &[SimRun<'_>],
    threads: usize,
) -> Result<(Vec<SimOutcome>, TraceRead), PlatformError>
where
    I: Iterator<Item = Result<Invocation, TraceError>>,
{
    let t0 = Instant::now();
    let workers = threads.clamp(1, runs.len().max(1));
    let mut sims = Vec::with_capacity(runs.len());
    for (i, r) in runs.iter().enumerate() {
        sims.push((i, Simulation::new(r.policy, r.calibration, &r.options)?));
    }
    // Round-robin: worker w drives runs w, w + workers, ...
    let mut groups: Vec<Vec<(usize, Simulation<'_>)>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, s) in sims {
        groups[i % workers].push((i, s));
    }
    let mut read = TraceRead::default();
    let mut trace = trace;
    let mut next_chunk = |read: &mut TraceRead| -> Result<Option<Vec<Invocation>>, TraceError> {
        let mut v = Vec::with_capacity(CHUNK);
        for inv in trace.by_ref() {
            let inv = inv?;
            read.last_arrival_ns = inv.arrival_ns;
            v.push(inv);
            if v.len() == CHUNK {
                break;
            }
        }
        read.invocations += v.len() as u64;
        Ok((!v.is_empty()).then_some(v))
    };
    let mut trace_err = None;
    let mut errors: Vec<Option<PlatformError>> = (0..runs.len()).map(|_| None).collect();
    if workers == 1 {
        let group = &mut groups[0];
        loop {
            match next_chunk(&mut read) {
                Ok(Some(chunk)) => {
                    for (i, sim) in group.iter_mut() {
                        if errors[*i].is_none() {
                            if let Err(e) = sim.push_all(&chunk) {
                                errors[*i] = Some(e);
                            }
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    trace_err = Some(e);
                    break;
                }
            }
        }
    } else {
        std::thread::scope(|s| {
            let mut senders = Vec::with_capacity(workers);
            let mut handles = Vec::with_capacity(workers);
            for group in groups.iter_mut() {
                let (tx, rx) = sync_channel::<Chunk>(QUEUE);
                senders.push(tx);
                handles.push(s.spawn(move || run_worker(group, rx)));
            }
            loop {
                match next_chunk(&mut read) {
                    Ok(Some(chunk)) => {
                        let chunk = Arc::new(chunk);
                        // A worker whose runs all failed has hung up: nothing to send it.
                        let mut live = 0;
                        for tx in &senders {
                            live += usize::from(tx.send(Arc::clone(&chunk)).is_ok());
                        }
                        if live == 0 {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        trace_err = Some(e);
                        break;
                    }
                }
            }
            drop(senders);
            for h in handles {
                match h.join() {
                    Ok(errs) => {
                        for (i, e) in errs {
                            errors[i] = e;
                        }
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
    }
    if let Some(e) = errors.iter_mut().find_map(Option::take) {
        return Err(e);
    }
    if let Some(e) = trace_err {
        return Err(e.into());
    }
    // Every run's end (draining its units) on the threads too.
    let mut outs: Vec<Option<Result<SimOutcome, PlatformError>>> =
        (0..runs.len()).map(|_| None).collect();
    if workers == 1 {
        for (i, sim) in groups.pop().into_iter().flatten() {
            outs[i] = Some(sim.finish());
        }
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = groups
                .into_iter()
                .map(|g| {
                    s.spawn(move || {
                        g.into_iter()
                            .map(|(i, sim)| (i, sim.finish()))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok(v) => {
                        for (i, r) in v {
                            outs[i] = Some(r);
                        }
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
    }
    let outs = outs
        .into_iter()
        .map(|o| o.expect("every run finished"))
        .collect::<Result<Vec<_>, _>>()?;
    read.wall_seconds = t0.elapsed().as_secs_f64();
    Ok((outs, read))
}

/// CPU seconds this process has used so far (every thread), for speed figures.
pub fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
