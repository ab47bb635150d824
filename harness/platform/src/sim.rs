//! The discrete-event simulator: the [`Platform`] state machine on a virtual clock, with
//! start-up latencies and memory from a [`Calibration`] and execution times from the trace.
//!
//! Events are unique [`Ev`] keys, `(time << 1 | kind, index)`, in a calendar queue
//! ([`EventQueue`]: per-bucket 4-ary heaps), so that ties resolve deterministically: at equal
//! times, start completions, then execution completions, then platform timers (expiry,
//! pre-warm), then arrivals; within a kind, by slot or job index. Arrivals are merged from the
//! sorted trace stream and never enter the queue; the platform's timers are in a second heap,
//! one pending timer per live unit at most. Nothing is allocated per event once the slabs and
//! the queue's buckets have grown to the trace's peak concurrency. Randomness (start-up
//! latency draws, exponential execution times) comes from one ChaCha8 generator seeded by the
//! caller: a run is a pure function of (trace, policy, calibration, seed).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use unitlab_workloads::{Invocation, TraceError};

use crate::calibration::{Calibration, Execution};
use crate::heap::{Ev, EventQueue};
use crate::platform::{Arrival, Driver, Job, Platform, UnitHandle};
use crate::policy::Policy;
use crate::PlatformError;

const KIND_STARTED: u64 = 0;
const KIND_DONE: u64 = 1;

/// Simulation options.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Seed of the simulator's own random draws.
    pub seed: u64,
    /// Keep per-invocation and per-unit rows (memory grows with the trace: small runs only).
    pub records: bool,
    /// Timeline bin width, ns.
    pub bin_ns: u64,
    /// Functions to provision units for (the trace's function count).
    pub functions: u32,
    /// Progress bar, updated every 2^20 invocations.
    pub progress: Option<indicatif::ProgressBar>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 0,
            records: false,
            bin_ns: 60 * crate::policy::NS_PER_S,
            functions: 0,
            progress: None,
        }
    }
}

/// What a simulation produced.
pub struct SimOutcome {
    /// The platform after the run (counts, usage, latencies, records, timeline).
    pub platform: Platform,
    /// Wall-clock seconds the run took.
    pub run_seconds: f64,
}

struct SimDriver<'a> {
    heap: EventQueue,
    rng: ChaCha8Rng,
    cal: &'a Calibration,
    missing_duration: Option<u64>,
}

impl SimDriver<'_> {
    #[inline]
    fn memory(&self, trace_mem: Option<u64>) -> Option<u64> {
        let t = if self.cal.add_trace_memory {
            trace_mem
        } else {
            None
        };
        match (self.cal.memory_bytes, t) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        }
    }
}

impl Driver for SimDriver<'_> {
    #[inline]
    fn start(&mut self, now: u64, unit: UnitHandle, job: Option<&Job>) -> Option<u64> {
        let d = self.cal.startup.sample(&mut self.rng);
        self.heap.push(Ev {
            key: (now + d) << 1 | KIND_STARTED,
            idx: unit.slot,
            aux: unit.slot,
        });
        self.memory(job.and_then(|j| j.memory_bytes))
    }

    fn provision(&mut self, _unit: UnitHandle) -> Option<u64> {
        self.memory(None)
    }

    #[inline]
    fn run(&mut self, now: u64, unit: UnitHandle, job_id: u32, job: &Job, first: bool) {
        let exec = match job.duration_ns {
            Some(d) => d,
            None => match &self.cal.execution {
                Execution::Fixed { ns } => *ns,
                Execution::Exponential { mean_ns } => {
                    let e: f64 = self.rng.sample(rand_distr::Exp1);
                    (e * mean_ns).round() as u64
                }
                Execution::Required => {
                    self.missing_duration.get_or_insert(job.seq);
                    0
                }
            },
        };
        let d = exec
            + self.cal.invoke_overhead_ns
            + if first {
                self.cal.first_invoke_extra_ns
            } else {
                0
            };
        self.heap.push(Ev {
            key: (now + d) << 1 | KIND_DONE,
            idx: job_id,
            aux: unit.slot,
        });
    }

    #[inline]
    fn stop(&mut self, _now: u64, _unit: UnitHandle) {}
}

/// A simulation fed one invocation at a time: [`Simulation::push`] each arrival in trace
/// order, then [`Simulation::finish`]. [`simulate`] is this over an iterator; the parallel
/// runner ([`crate::parallel`]) feeds several simulations from one read of the trace. The
/// processing order is the same whatever the feeding, so a run's output depends only on
/// (trace, policy, calibration, seed).
pub struct Simulation<'a> {
    p: Platform,
    d: SimDriver<'a>,
    seq: u64,
    last_arrival: u64,
    now: u64,
    progress: Option<indicatif::ProgressBar>,
    busy: std::time::Duration,
}

impl<'a> Simulation<'a> {
    /// A simulation of `policy` with `cal`, its units provisioned.
    pub fn new(
        policy: &Policy,
        cal: &'a Calibration,
        opts: &SimOptions,
    ) -> Result<Self, PlatformError> {
        policy.validate()?;
        policy.check_memory(opts.functions as u64)?;
        let t0 = Instant::now();
        let mut p = Platform::new(policy.clone(), opts.records, opts.bin_ns);
        let mut d = SimDriver {
            heap: EventQueue::default(),
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            cal,
            missing_duration: None,
        };
        p.provision(opts.functions, &mut d);
        Ok(Simulation {
            p,
            d,
            seq: 0,
            last_arrival: 0,
            now: 0,
            progress: opts.progress.clone(),
            busy: t0.elapsed(),
        })
    }

    /// Invocations pushed so far.
    pub fn invocations(&self) -> u64 {
        self.seq
    }

    /// Processes the events due before `t_ar` (an arrival's time, or `u64::MAX` at the end),
    /// in the simulator's order: events no later than the next timer and `t_ar`, then timers
    /// due no later than `t_ar`, and again. Returns when the next thing is the arrival (or,
    /// at the end, when nothing is running or starting).
    #[inline]
    fn advance(&mut self, t_ar: u64) {
        let (p, d) = (&mut self.p, &mut self.d);
        loop {
            // Events due no later than the next timer and the next arrival, in order.
            let ev = loop {
                let Some(k) = d.heap.peek() else { break None };
                if let Some(evs) = d.heap.take_fresh() {
                    // The next bucket's events, a few hundred ns ahead: start loading their
                    // jobs and units (random lines of slabs larger than the L2 cache).
                    for e in evs {
                        p.prefetch(e.key & 1 == KIND_DONE, e.idx, e.aux);
                    }
                }
                let t_ev = k.key >> 1;
                if t_ev > t_ar || t_ev > p.next_timer().unwrap_or(u64::MAX) {
                    break Some(k);
                }
                d.heap.pop();
                self.now = t_ev;
                if k.key & 1 == KIND_STARTED {
                    p.started(self.now, k.idx, d);
                } else {
                    p.completed(self.now, k.idx, true, false, d);
                }
            };
            let t_tm = p.next_timer().unwrap_or(u64::MAX);
            if ev.is_none() && t_ar == u64::MAX {
                // No arrival left and nothing running or starting: the remaining timers are
                // expiries (and pre-warms) of an idle platform; `finish` settles them.
                return;
            } else if t_tm <= t_ar {
                self.now = t_tm;
                p.fire_timers(self.now, d);
            } else {
                return;
            }
        }
    }

    /// Feeds the next arrival of the trace.
    #[inline]
    pub fn push(&mut self, inv: &Invocation) -> Result<(), PlatformError> {
        // Start the dependent loads this arrival's pick will make (its function's idle entry,
        // then that unit), overlapping the events processed before it.
        self.p.prefetch_idle_unit(inv.function);
        if inv.arrival_ns < self.last_arrival {
            return Err(PlatformError::Unsorted {
                seq: self.seq,
                arrival_ns: inv.arrival_ns,
                previous_ns: self.last_arrival,
            });
        }
        self.advance(inv.arrival_ns);
        self.last_arrival = inv.arrival_ns;
        self.now = inv.arrival_ns;
        self.p.arrive(
            self.now,
            Arrival {
                seq: self.seq,
                function: inv.function,
                duration_ns: inv.duration_ns,
                memory_bytes: inv.memory_bytes,
            },
            &mut self.d,
        );
        self.seq += 1;
        if self.seq & 0xF_FFFF == 0 {
            if let Some(pb) = &self.progress {
                pb.set_position(self.seq);
            }
        }
        if let Some(s) = self.d.missing_duration {
            return Err(PlatformError::MissingDuration { seq: s });
        }
        Ok(())
    }

    /// Feeds a run of arrivals; adds the time it took to the run's own time.
    pub fn push_all(&mut self, invs: &[Invocation]) -> Result<(), PlatformError> {
        let t0 = Instant::now();
        let r = invs.iter().try_for_each(|i| self.push(i));
        self.busy += t0.elapsed();
        r
    }

    /// Runs the platform to its end (every unit stopped) after the last arrival.
    pub fn finish(mut self) -> Result<SimOutcome, PlatformError> {
        let t0 = Instant::now();
        self.advance(u64::MAX);
        if let Some(s) = self.d.missing_duration {
            return Err(PlatformError::MissingDuration { seq: s });
        }
        self.p.finish(self.now, &mut self.d);
        self.p.check_timeline()?;
        if let Some(pb) = &self.progress {
            pb.set_position(self.seq);
        }
        Ok(SimOutcome {
            platform: self.p,
            run_seconds: (self.busy + t0.elapsed()).as_secs_f64(),
        })
    }
}

/// Simulates `trace` under `policy` with `cal`.
pub fn simulate<I>(
    trace: I,
    policy: &Policy,
    cal: &Calibration,
    opts: &SimOptions,
) -> Result<SimOutcome, PlatformError>
where
    I: Iterator<Item = Result<Invocation, TraceError>>,
{
    let t0 = Instant::now();
    let mut sim = Simulation::new(policy, cal, opts)?;
    for inv in trace {
        sim.push(&inv?)?;
    }
    let mut out = sim.finish()?;
    out.run_seconds = t0.elapsed().as_secs_f64();
    Ok(out)
}
