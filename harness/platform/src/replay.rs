//! Replay: a trace against a real backend, in real time or time-scaled, under a policy.
//!
//! The main thread owns the [`Platform`] and a virtual clock, `(wall - t0) x time_scale`.
//! Arrivals are released when the wall clock reaches them (open loop: an arrival never waits
//! for an earlier response); the platform's decisions are carried out on a pool of worker
//! threads (`Prepared::start`, `Unit::invoke`, `Unit::memory` + `Unit::stop`), whose results come
//! back on a channel with the instant they finished. Event times given to the platform are
//! those instants on the virtual clock, clamped to be non-decreasing.
//!
//! When the trace gives an execution time, the unit is held busy for it after its invoke
//! returns (`hold`), so that unit occupancy follows the trace while the backend runs the real
//! function: execution = invoke time + trace duration, the same sum the simulator uses
//! (calibrated invoke overhead + trace duration). Holding costs no thread: the completion is
//! scheduled on the main thread.
//!
//! After the last invocation completes, [`Platform::finish`] settles the idle units at their
//! scheduled expiry without waiting for it in real time (the real units are stopped at once);
//! the simulator ends a run the same way. Each unit's memory is read (`Unit::memory`) just
//! before it is stopped and used for its GB-s: the host view (PSS/RSS of its processes) when the
//! backend gives one, else the engine view.
//!
//! Units are used by one thread at a time (the `Unit` contract), so replay runs with a
//! per-unit concurrency of 1; higher concurrency is simulated only.
//!
//! The hand-off to a worker thread is the harness's own cost, and it is inside every replayed
//! start-up and execution (a sleeping worker takes tens to hundreds of microseconds to wake on
//! a VM). Each start and invoke carries the instant it was sent; the worker stamps when it
//! began and finished; [`ReplayOutcome::harness`] summarises the hand-offs apart from the
//! backend's own start and invoke times, so a replayed start-up can be read as harness +
//! backend, and `unitlab validate` compares the backend's part with the simulation too.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use unitlab_backend::{Backend, BackendError, FunctionSpec, Prepared, Request, Unit, UnitMemory};
use unitlab_results::platform::{HarnessOverhead, UnitMemorySample};
use unitlab_results::Summary;
use unitlab_workloads::TraceStream;

use crate::platform::{Arrival, Driver, Job, Platform, UnitHandle};
use crate::policy::Policy;
use crate::PlatformError;

/// Replay options.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Trace time per wall time: 1 = real time, 100 = a hundred times faster. Latencies are
    /// reported in wall-clock time; unit-seconds and GB-s in trace time.
    pub time_scale: f64,
    /// Worker threads that start, invoke and stop units.
    pub workers: usize,
    /// Hold a unit busy for the trace's duration after its invoke returns.
    pub hold: bool,
    /// The request sent (its seed is replaced by the invocation's position, so answers cannot
    /// be cached).
    pub request: Request,
    /// Timeline bin, ns of trace time.
    pub bin_ns: u64,
    /// Memory per unit for GB-s instead of the measured one, bytes.
    pub unit_memory: Option<u64>,
    /// Progress bar.
    pub progress: Option<indicatif::ProgressBar>,
    /// Stop after this many invocations (None: the whole trace).
    pub limit: Option<u64>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            time_scale: 1.0,
            workers: 8,
            hold: true,
            request: Request { size: 0, seed: 0 },
            bin_ns: crate::policy::NS_PER_S,
            unit_memory: None,
            progress: None,
            limit: None,
        }
    }
}

/// What a replay produced.
pub struct ReplayOutcome {
    /// The platform after the run (records are on).
    pub platform: Platform,
    /// Memory readings, one per unit (before it was stopped).
    pub memory_samples: Vec<UnitMemorySample>,
    /// Wall-clock seconds of the run.
    pub run_seconds: f64,
    /// Invocations whose answer was checked against the reference.
    pub verified: u64,
    /// Errors seen (unit faults, failed starts, failed stops), as text.
    pub errors: Vec<String>,
    /// Things the reader must know (late arrivals, saturated workers, ...).
    pub warnings: Vec<String>,
    /// Largest lag of an arrival behind its schedule, wall ns.
    pub max_arrival_lag_ns: u64,
    /// The harness's own share of start-ups and executions.
    pub harness: HarnessOverhead,
}

/// Raw hand-off and backend times, wall ns (summarised into [`HarnessOverhead`]).
#[derive(Debug, Default)]
struct HarnessTimes {
    start_handoff: Vec<u64>,
    invoke_handoff: Vec<u64>,
    backend_start: Vec<u64>,
    backend_invoke: Vec<u64>,
    report_lag: Vec<u64>,
}

impl HarnessTimes {
    fn ns(a: Instant, b: Instant) -> u64 {
        b.saturating_duration_since(a).as_nanos() as u64
    }

    /// A start or invoke sent at `sent`, begun on a worker at `began`, finished at `at`,
    /// handled by the main thread at `handled`.
    fn record(
        &mut self,
        start: bool,
        sent: Instant,
        began: Instant,
        at: Instant,
        handled: Instant,
    ) {
        let (h, b) = if start {
            (&mut self.start_handoff, &mut self.backend_start)
        } else {
            (&mut self.invoke_handoff, &mut self.backend_invoke)
        };
        h.push(Self::ns(sent, began));
        b.push(Self::ns(began, at));
        self.report_lag.push(Self::ns(at, handled));
    }

    fn summary(&self) -> HarnessOverhead {
        HarnessOverhead {
            start_handoff: Summary::from_nanos(&self.start_handoff),
            invoke_handoff: Summary::from_nanos(&self.invoke_handoff),
            backend_start: Summary::from_nanos(&self.backend_start),
            backend_invoke: Summary::from_nanos(&self.backend_invoke),
            report_lag: Summary::from_nanos(&self.report_lag),
        }
    }
}

enum Work {
    Start {
        slot: u32,
        sent: Instant,
    },
    Invoke {
        slot: u32,
        job: u32,
        unit: Box<dyn Unit>,
        req: Request,
        sent: Instant,
    },
    Stop {
        id: u64,
        unit: Box<dyn Unit>,
        at_v: u64,
    },
}

enum Done {
    Started {
        slot: u32,
        result: Result<Box<dyn Unit>, BackendError>,
        sent: Instant,
        began: Instant,
        at: Instant,
    },
    Invoked {
        slot: u32,
        job: u32,
        unit: Box<dyn Unit>,
        result: Result<unitlab_backend::Response, BackendError>,
        sent: Instant,
        began: Instant,
        at: Instant,
    },
    Stopped {
        id: u64,
        at_v: u64,
        memory: Result<UnitMemory, BackendError>,
        stop: Result<(), BackendError>,
    },
}

struct Pool {
    tx: Option<Sender<Work>>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(n: usize, prepared: Arc<dyn Prepared>, done: Sender<Done>) -> Pool {
        let (tx, rx) = mpsc::channel::<Work>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..n.max(1))
            .map(|_| {
                let rx = Arc::clone(&rx);
                let done = done.clone();
                let prepared = Arc::clone(&prepared);
                std::thread::spawn(move || loop {
                    let w = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    let Ok(w) = w else { return };
                    let msg = match w {
                        Work::Start { slot, sent } => {
                            let began = Instant::now();
                            let result = prepared.start();
                            Done::Started {
                                slot,
                                result,
                                sent,
                                began,
                                at: Instant::now(),
                            }
                        }
                        Work::Invoke {
                            slot,
                            job,
                            mut unit,
                            req,
                            sent,
                        } => {
                            let began = Instant::now();
                            let result = unit.invoke(&req);
                            Done::Invoked {
                                slot,
                                job,
                                unit,
                                result,
                                sent,
                                began,
                                at: Instant::now(),
                            }
                        }
                        Work::Stop { id, mut unit, at_v } => {
                            let memory = unit.memory();
                            let stop = unit.stop();
                            Done::Stopped {
                                id,
                                at_v,
                                memory,
                                stop,
                            }
                        }
                    };
                    if done.send(msg).is_err() {
                        return;
                    }
                })
            })
            .collect();
        Pool {
            tx: Some(tx),
            threads,
        }
    }

    fn send(&self, w: Work) {
        if let Some(tx) = &self.tx {
            // The workers outlive the sender; a send only fails if they all panicked.
            let _ = tx.send(w);
        }
    }

    fn shutdown(mut self) {
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct ReplayDriver<'a> {
    pool: &'a Pool,
    prepared: &'a dyn Prepared,
    boxes: Vec<Option<Box<dyn Unit>>>,
    backend_ids: HashMap<u64, String>,
    unit_ids: Vec<u64>,
    outstanding_stops: u64,
    req: Request,
    unit_memory: Option<u64>,
    provision_error: Option<BackendError>,
    /// slot -> (job, trace duration) currently dispatched.
    hold: Vec<u64>,
}

impl ReplayDriver<'_> {
    fn ensure(&mut self, slot: u32) {
        let i = slot as usize;
        if i >= self.boxes.len() {
            self.boxes.resize_with(i + 1, || None);
            self.unit_ids.resize(i + 1, 0);
            self.hold.resize(i + 1, 0);
        }
    }
}

impl Driver for ReplayDriver<'_> {
    fn start(&mut self, _now: u64, unit: UnitHandle, _job: Option<&Job>) -> Option<u64> {
        self.ensure(unit.slot);
        self.unit_ids[unit.slot as usize] = unit.id;
        self.pool.send(Work::Start {
            slot: unit.slot,
            sent: Instant::now(),
        });
        self.unit_memory
    }

    fn provision(&mut self, unit: UnitHandle) -> Option<u64> {
        self.ensure(unit.slot);
        self.unit_ids[unit.slot as usize] = unit.id;
        match self.prepared.start() {
            Ok(u) => {
                self.backend_ids.insert(unit.id, u.id());
                self.boxes[unit.slot as usize] = Some(u);
            }
            Err(e) => {
                self.provision_error.get_or_insert(e);
            }
        }
        self.unit_memory
    }

    fn run(&mut self, _now: u64, unit: UnitHandle, job_id: u32, job: &Job, _first: bool) {
        self.ensure(unit.slot);
        let b = self.boxes[unit.slot as usize]
            .take()
            .expect("a ready unit's box is home when the platform dispatches to it");
        self.hold[unit.slot as usize] = job.duration_ns.unwrap_or(0);
        let req = Request {
            size: self.req.size,
            seed: job.seq as u32,
        };
        self.pool.send(Work::Invoke {
            slot: unit.slot,
            job: job_id,
            unit: b,
            req,
            sent: Instant::now(),
        });
    }

    fn stop(&mut self, now: u64, unit: UnitHandle) {
        self.ensure(unit.slot);
        if let Some(b) = self.boxes[unit.slot as usize].take() {
            self.outstanding_stops += 1;
            self.pool.send(Work::Stop {
                id: unit.id,
                unit: b,
                at_v: now,
            });
        }
    }
}

/// Replays `trace` against `backend` running `spec`, under `policy`. Every trace function gets
/// its own pool of units of `spec`.
pub fn replay<T: TraceStream>(
    backend: &dyn Backend,
    spec: &FunctionSpec,
    trace: T,
    policy: &Policy,
    opts: &ReplayOptions,
) -> Result<ReplayOutcome, PlatformError> {
    policy.validate()?;
    if policy.concurrency != 1 {
        return Err(PlatformError::Policy {
            spec: policy.name.clone(),
            message: "replay runs one invocation per unit at a time (a backend unit is used by one thread at a time); use `unitlab simulate` for concurrency > 1".into(),
        });
    }
    if !(opts.time_scale > 0.0 && opts.time_scale.is_finite()) {
        return Err(PlatformError::Config {
            what: "time scale".into(),
            message: format!("{} must be a finite number > 0", opts.time_scale),
        });
    }
    let scale = opts.time_scale;
    let functions = trace.meta().functions.len() as u32;
    let prepared: Arc<dyn Prepared> = Arc::from(backend.prepare(spec)?);
    let (done_tx, done_rx): (Sender<Done>, Receiver<Done>) = mpsc::channel();
    let pool = Pool::new(opts.workers, Arc::clone(&prepared), done_tx);
    let mut platform = Platform::new(policy.clone(), true, opts.bin_ns);
    let mut d = ReplayDriver {
        pool: &pool,
        prepared: &*prepared,
        boxes: Vec::new(),
        backend_ids: HashMap::new(),
        unit_ids: Vec::new(),
        outstanding_stops: 0,
        req: opts.request,
        unit_memory: opts.unit_memory,
        provision_error: None,
        hold: Vec::new(),
    };
    platform.provision(functions, &mut d);
    if let Some(e) = d.provision_error.take() {
        platform.finish(0, &mut d);
        drain_stops(&done_rx, &mut d);
        drop(d);
        pool.shutdown();
        return Err(PlatformError::Backend(e));
    }

    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut memory_samples = Vec::new();
    let mut verified = 0u64;
    let mut max_lag = 0u64;
    let mut times = HarnessTimes::default();
    // Completions held for the trace's duration: (virtual time, job).
    let mut held: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    let mut trace = trace;
    let mut next = trace.next().transpose()?;
    let mut seq = 0u64;
    let mut last_v = 0u64;
    let t0 = Instant::now();
    let vt = |at: Instant| (at.saturating_duration_since(t0).as_nanos() as f64 * scale) as u64;
    let wall = |v: u64| t0 + Duration::from_nanos((v as f64 / scale) as u64);
    let limit = opts.limit.unwrap_or(u64::MAX);

    loop {
        // 1. Everything due now, in time order.
        let now_v = vt(Instant::now());
        loop {
            let t_ar = next
                .as_ref()
                .filter(|_| seq < limit)
                .map_or(u64::MAX, |i| i.arrival_ns);
            let t_held = held.peek().map_or(u64::MAX, |r| r.0 .0);
            let t_tm = platform.next_timer().unwrap_or(u64::MAX);
            let t = t_ar.min(t_held).min(t_tm);
            if t > now_v {
                break;
            }
            if t == t_held {
                let Some(Reverse((_, job))) = held.pop() else {
                    break;
                };
                last_v = last_v.max(t);
                platform.completed(last_v, job, true, false, &mut d);
            } else if t == t_tm {
                last_v = last_v.max(t);
                platform.fire_timers(last_v, &mut d);
            } else if let Some(inv) = next.take() {
                max_lag = max_lag.max(((now_v - inv.arrival_ns) as f64 / scale) as u64);
                last_v = last_v.max(inv.arrival_ns);
                platform.arrive(
                    last_v,
                    Arrival {
                        seq,
                        function: inv.function,
                        duration_ns: inv.duration_ns,
                        memory_bytes: inv.memory_bytes,
                    },
                    &mut d,
                );
                seq += 1;
                if let Some(pb) = &opts.progress {
                    pb.set_position(seq);
                }
                next = trace.next().transpose()?;
            }
        }
        if seq >= limit {
            next = None;
        }
        // 2. Done?
        if next.is_none()
            && held.is_empty()
            && platform.jobs_in_flight() == 0
            && platform.starting_units() == 0
        {
            break;
        }
        // 3. Wait for a worker or the next deadline.
        let mut deadline_v = u64::MAX;
        if let Some(i) = &next {
            deadline_v = deadline_v.min(i.arrival_ns);
        }
        if let Some(Reverse((t, _))) = held.peek() {
            deadline_v = deadline_v.min(*t);
        }
        if let Some(t) = platform.next_timer() {
            deadline_v = deadline_v.min(t);
        }
        let timeout = if deadline_v == u64::MAX {
            Duration::from_secs(3600)
        } else {
            wall(deadline_v).saturating_duration_since(Instant::now())
        };
        let msg = match done_rx.recv_timeout(timeout) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        handle(
            msg,
            &mut platform,
            &mut d,
            &mut last_v,
            &vt,
            &mut held,
            opts.hold,
            spec,
            &mut verified,
            &mut errors,
            &mut memory_samples,
            &mut times,
        );
    }
    let end_v = vt(Instant::now()).max(last_v);
    let run_seconds = t0.elapsed().as_secs_f64();
    platform.finish(last_v, &mut d);
    let _ = end_v;
    // Collect the stops (and their memory readings).
    while d.outstanding_stops > 0 {
        match done_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(m) => handle(
                m,
                &mut platform,
                &mut d,
                &mut last_v,
                &vt,
                &mut held,
                opts.hold,
                spec,
                &mut verified,
                &mut errors,
                &mut memory_samples,
                &mut times,
            ),
            Err(_) => {
                warnings.push(format!(
                    "{} units did not report their stop within 120 s",
                    d.outstanding_stops
                ));
                break;
            }
        }
    }
    let backend_ids = std::mem::take(&mut d.backend_ids);
    drop(d);
    pool.shutdown();

    // Unit memory for GB-s: the override, else each unit's own reading.
    let mut by_unit: HashMap<u64, u64> = HashMap::new();
    for s in &memory_samples {
        if let Some(b) = s.host_bytes.or(s.engine_bytes) {
            by_unit.insert(s.unit, b);
        }
    }
    let mean = (!by_unit.is_empty())
        .then(|| (by_unit.values().map(|&v| v as f64).sum::<f64>() / by_unit.len() as f64) as u64);
    let mut filled = 0;
    let recs = std::mem::take(&mut platform.records.units);
    let mut units = recs;
    for u in &mut units {
        u.backend_id = backend_ids.get(&u.unit).cloned();
        if u.memory_bytes.is_none() {
            let m = by_unit.get(&u.unit).copied().or_else(|| {
                filled += 1;
                mean
            });
            if let Some(m) = m {
                u.memory_bytes = Some(m);
                platform
                    .usage
                    .resolve_memory(u.starting_ns, u.executing_ns, u.idle_ns, m);
            }
        }
    }
    platform.records.units = units;
    if filled > 0 && mean.is_some() {
        warnings.push(format!(
            "{filled} units had no memory reading (failed start or read); the mean of the others was used for their GB-s"
        ));
    }
    if max_lag > 10_000_000 {
        warnings.push(format!(
            "arrivals were released up to {:.1} ms late (open-loop schedule could not be kept: too many workers busy, or the machine is loaded)",
            max_lag as f64 / 1e6
        ));
    }
    // Every unit is stopped by now: a timeline past its bound fails the run, not the cleanup.
    platform.check_timeline()?;
    Ok(ReplayOutcome {
        platform,
        memory_samples,
        run_seconds,
        verified,
        errors,
        warnings,
        max_arrival_lag_ns: max_lag,
        harness: times.summary(),
    })
}

#[allow(clippy::too_many_arguments)] // reason: one event handler sharing the loop's state
fn handle(
    msg: Done,
    platform: &mut Platform,
    d: &mut ReplayDriver<'_>,
    last_v: &mut u64,
    vt: &impl Fn(Instant) -> u64,
    held: &mut BinaryHeap<Reverse<(u64, u32)>>,
    hold: bool,
    spec: &FunctionSpec,
    verified: &mut u64,
    errors: &mut Vec<String>,
    samples: &mut Vec<UnitMemorySample>,
    times: &mut HarnessTimes,
) {
    let handled = Instant::now();
    match msg {
        Done::Started {
            slot,
            result,
            sent,
            began,
            at,
        } => {
            times.record(true, sent, began, at, handled);
            let t = vt(at).max(*last_v);
            *last_v = t;
            match result {
                Ok(u) => {
                    let id = d.unit_ids[slot as usize];
                    d.backend_ids.insert(id, u.id());
                    d.boxes[slot as usize] = Some(u);
                    platform.started(t, slot, d);
                }
                Err(e) => {
                    errors.push(format!("start: {e}"));
                    platform.start_failed(t, slot, d);
                }
            }
        }
        Done::Invoked {
            slot,
            job,
            unit,
            result,
            sent,
            began,
            at,
        } => {
            times.record(false, sent, began, at, handled);
            let t = vt(at).max(*last_v);
            *last_v = t;
            d.boxes[slot as usize] = Some(unit);
            let seq = platform.job(job).seq;
            let req = Request {
                size: d.req.size,
                seed: seq as u32,
            };
            let outcome = result.and_then(|r| unitlab_backend::verify(spec, &req, &r, None));
            match outcome {
                Ok(v) => {
                    if v {
                        *verified += 1;
                    }
                    let h = if hold { d.hold[slot as usize] } else { 0 };
                    if h > 0 {
                        held.push(Reverse((t + h, job)));
                    } else {
                        platform.completed(t, job, true, false, d);
                    }
                }
                Err(e) => {
                    let lost = e.is_unit_fault();
                    errors.push(format!("invocation #{seq}: {e}"));
                    platform.completed(t, job, false, lost, d);
                }
            }
        }
        Done::Stopped {
            id,
            at_v,
            memory,
            stop,
        } => {
            d.outstanding_stops -= 1;
            match memory {
                Ok(m) => samples.push(UnitMemorySample {
                    unit: id,
                    t_ns: at_v,
                    engine_bytes: m.engine_bytes,
                    host_bytes: m.host_bytes,
                }),
                Err(e) => errors.push(format!("memory of unit {id}: {e}")),
            }
            if let Err(e) = stop {
                errors.push(format!("stop of unit {id}: {e}"));
            }
        }
    }
}

fn drain_stops(rx: &Receiver<Done>, d: &mut ReplayDriver<'_>) {
    while d.outstanding_stops > 0 {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Done::Stopped { .. }) => d.outstanding_stops -= 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
}
