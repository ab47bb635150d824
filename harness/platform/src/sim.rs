//! The discrete-event simulator: the [`Platform`] state machine on a virtual clock, with
//! start-up latencies and memory from a [`Calibration`] and execution times from the trace.
//!
//! Events are unique [`Ev`] keys, `(time << 1 | kind, index)`, in a calendar queue
//! ([`EventQueue`]: per-bucket 4-ary heaps), so that ties resolve deterministically: at equal
//! times, start completions, then execution completions, then platform timers (expiry,
//! pre-warm), then arrivals; within a kind, by unit start order (start completions) or trace
//! position (execution completions), see below. Arrivals are merged from the
//! sorted trace stream and never enter the queue; the platform's timers are in a second heap,
//! one pending timer per live unit at most. Nothing is allocated per event once the slabs and
//! the queue's buckets have grown to the trace's peak concurrency. A run is a pure function
//! of (trace, policy, calibration, seed).
//!
//! Randomness (start-up latency draws, exponential execution times) comes from one stream per
//! function ([`FnStreams`]): draw `k` of function `f` is a SplitMix64 output (Steele, Lea and
//! Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014) of a key mixed from
//! (seed, `f`) and the counter `k`, so a function's draws depend only on the seed and its own
//! events, not on other functions'. Ties between events of one function at the same time are
//! processed in an order that depends only on that function's history too (start completions
//! by unit start order, execution completions by trace position), not on slab indices. Both
//! make a run's functions independent when no cap couples them, which lets
//! [`crate::parallel`] split the functions into shards simulated apart and merge them
//! exactly.

use std::time::Instant;

use rand::{Rng, RngCore};
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
    /// Seconds the run took on its own thread (the wall-clock time spent in it, reading the
    /// trace excluded); for a run split into shards ([`crate::parallel`]), the sum of its
    /// shards' times, so that it stays the run's cost, comparable with an unsharded run's.
    pub run_seconds: f64,
}

/// SplitMix64's output mix (a bijection of `u64` with full avalanche).
#[inline(always)]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64's increment (the golden ratio's odd 64-bit fraction).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// One random stream per function, 8 bytes each (a draw counter): draw `k` of function `f`
/// is `mix64(key_f + k * GAMMA)` with `key_f = mix64(mix64(seed) + (f + 1) * C)`, i.e. a
/// SplitMix64 generator seeded from (seed, `f`). The samplers (start-up percentiles,
/// exponential execution times) are the same as with any other generator: only the source of
/// uniform bits is per function.
#[derive(Debug, Clone)]
pub struct FnStreams {
    seed_key: u64,
    counters: Vec<u64>,
}

impl FnStreams {
    /// Streams for `seed`, none drawn yet, with room for `functions` counters.
    pub fn new(seed: u64, functions: u32) -> Self {
        FnStreams {
            seed_key: mix64(seed ^ 0x5EED_0FF0_0DCA_FE00),
            counters: vec![0; functions as usize],
        }
    }

    /// The generator of function `f` (its id in the trace), continuing its stream, whose
    /// counter is kept at `slot` (the function's index in this simulation, e.g. in a shard).
    #[inline]
    pub fn function(&mut self, slot: u32, f: u32) -> FnRng<'_> {
        let i = slot as usize;
        if i >= self.counters.len() {
            self.counters.resize(i + 1, 0);
        }
        let key = mix64(
            self.seed_key
                .wrapping_add((f as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)),
        );
        FnRng {
            key,
            counter: &mut self.counters[i],
        }
    }
}

/// A function's generator, borrowed from [`FnStreams`].
#[derive(Debug)]
pub struct FnRng<'a> {
    key: u64,
    counter: &'a mut u64,
}

impl RngCore for FnRng<'_> {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        *self.counter += 1;
        mix64(self.key.wrapping_add(self.counter.wrapping_mul(GAMMA)))
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for c in dest.chunks_mut(8) {
            let b = self.next_u64().to_le_bytes();
            c.copy_from_slice(&b[..c.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Which functions a simulation sees: all of them, or shard `index` of `count` (the
/// functions `f` with `f % count == index`, renumbered `f / count` inside the platform).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard.
    pub index: u32,
    /// Shards in all (1: no sharding).
    pub count: u32,
}

impl Shard {
    /// Every function.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// The shard of function `f`.
    #[inline]
    pub fn of(f: u32, count: u32) -> u32 {
        if count.is_power_of_two() {
            f & (count - 1)
        } else {
            f % count
        }
    }

    /// Functions among `0..functions` in this shard.
    pub fn functions(&self, functions: u32) -> u32 {
        functions.saturating_sub(self.index).div_ceil(self.count)
    }

    #[inline]
    fn local(&self, f: u32) -> u32 {
        if self.count.is_power_of_two() {
            f >> self.count.trailing_zeros()
        } else {
            f / self.count
        }
    }

    #[inline]
    fn global(&self, local: u32) -> u32 {
        local * self.count + self.index
    }
}

struct SimDriver<'a> {
    heap: EventQueue,
    rng: FnStreams,
    shard: Shard,
    cal: &'a Calibration,
    missing_duration: Option<u64>,
    /// Events tied at one key, with their tie-break (reused buffer).
    ties: Vec<(u64, Ev)>,
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
        let d = self.cal.startup.sample(
            &mut self
                .rng
                .function(unit.function, self.shard.global(unit.function)),
        );
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
                    let e: f64 = self
                        .rng
                        .function(job.function, self.shard.global(job.function))
                        .sample(rand_distr::Exp1);
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
/// runner ([`crate::parallel`]) feeds several simulations from one read of the trace, and
/// feeds a shard's simulation ([`Simulation::new_shard`]) its functions' arrivals only
/// ([`Simulation::push_seq`]). The processing order is the same whatever the feeding, so a
/// run's output depends only on (trace, policy, calibration, seed).
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
        Self::new_shard(policy, cal, opts, Shard::ALL)
    }

    /// A simulation of the functions of `shard` only (its own random streams are those of
    /// the whole run: per function). Feed it with [`Simulation::push_seq`].
    pub fn new_shard(
        policy: &Policy,
        cal: &'a Calibration,
        opts: &SimOptions,
        shard: Shard,
    ) -> Result<Self, PlatformError> {
        policy.validate()?;
        policy.check_memory(opts.functions as u64)?;
        let t0 = Instant::now();
        let mut p = Platform::new(policy.clone(), opts.records, opts.bin_ns);
        let mut d = SimDriver {
            heap: EventQueue::default(),
            rng: FnStreams::new(opts.seed, shard.functions(opts.functions)),
            shard,
            cal,
            missing_duration: None,
            ties: Vec::new(),
        };
        if shard.count > 1 {
            // A shard's peak of live units is merged with the other shards' (see
            // `take_live_log`), provisioned units included.
            p.log_live_changes();
        }
        p.provision(shard.functions(opts.functions), &mut d);
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

    /// Arrival time of the last invocation pushed: everything the platform does from now on
    /// happens at this time or later.
    pub fn last_arrival_ns(&self) -> u64 {
        self.last_arrival
    }

    /// A shard's live-unit changes logged since the last call, sorted by time.
    pub(crate) fn take_live_log(&mut self) -> Vec<crate::platform::LiveChange> {
        self.p.take_live_log()
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
                if d.heap.peek().is_some_and(|n| n.key == k.key) {
                    run_ties(p, d, k, self.now);
                } else if k.key & 1 == KIND_STARTED {
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

    /// Feeds the next arrival of the trace (its position: the invocations pushed before).
    #[inline]
    pub fn push(&mut self, inv: &Invocation) -> Result<(), PlatformError> {
        self.push_seq(self.seq, inv)
    }

    /// Feeds the next arrival of this simulation's functions, `seq` being its position in the
    /// whole trace.
    #[inline]
    pub fn push_seq(&mut self, seq: u64, inv: &Invocation) -> Result<(), PlatformError> {
        let function = self.d.shard.local(inv.function);
        // Start the dependent loads this arrival's pick will make (its function's idle entry,
        // then that unit), overlapping the events processed before it.
        self.p.prefetch_idle_unit(function);
        if inv.arrival_ns < self.last_arrival {
            return Err(PlatformError::Unsorted {
                seq,
                arrival_ns: inv.arrival_ns,
                previous_ns: self.last_arrival,
            });
        }
        if inv.duration_ns.is_none() && matches!(self.d.cal.execution, Execution::Required) {
            return Err(PlatformError::MissingDuration { seq });
        }
        self.advance(inv.arrival_ns);
        self.last_arrival = inv.arrival_ns;
        self.now = inv.arrival_ns;
        self.p.arrive(
            self.now,
            Arrival {
                seq,
                function,
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

    /// Feeds the arrivals `invs[i]` for `i` in `picks`, `first_seq + i` being their positions
    /// in the trace; adds the time it took to the run's own time.
    pub fn push_picked(
        &mut self,
        invs: &[Invocation],
        picks: &[u32],
        first_seq: u64,
    ) -> Result<(), PlatformError> {
        let t0 = Instant::now();
        let r = picks
            .iter()
            .try_for_each(|&i| self.push_seq(first_seq + i as u64, &invs[i as usize]));
        self.busy += t0.elapsed();
        r
    }

    /// Processes what happens no later than `t`, the arrival time of a later invocation (of
    /// any function: a shard learns that the whole trace got there): exactly what the next
    /// arrival would process first, so the run is unchanged, but everything this simulation
    /// does from now on happens at `t` or later.
    pub fn advance_to(&mut self, t: u64) {
        let t0 = Instant::now();
        self.advance(t.max(self.last_arrival));
        self.busy += t0.elapsed();
    }

    /// Runs what is left after the last arrival: every event, and the timers due before an
    /// event or before `limit`; returns the time of the last thing done (the run's end, for
    /// [`Simulation::finish_at`]). A whole run passes 0: the timers left then are expiries
    /// and pre-warms after its last event, which [`Simulation::finish_at`] settles. A shard
    /// passes the latest end of its run's shards, as the whole run would have fired its
    /// timers before the other shards' last events.
    pub fn drain(&mut self, limit: u64) -> Result<u64, PlatformError> {
        let t0 = Instant::now();
        loop {
            self.advance(u64::MAX);
            match self.p.next_timer() {
                Some(t) if t < limit => {
                    self.now = self.now.max(t);
                    self.p.fire_timers(t, &mut self.d);
                }
                _ => break,
            }
        }
        self.busy += t0.elapsed();
        if let Some(s) = self.d.missing_duration {
            return Err(PlatformError::MissingDuration { seq: s });
        }
        Ok(self.now.max(self.p.last_now()))
    }

    /// Ends a drained run at `end` (the latest end of every shard of the run): every live
    /// unit is destroyed at its expiry, or at `end` when it has none. The timeline is not
    /// checked (see [`Platform::check_timeline`]).
    pub fn finish_at(mut self, end: u64) -> SimOutcome {
        let t0 = Instant::now();
        self.p.finish(end, &mut self.d);
        if let Some(pb) = &self.progress {
            pb.set_position(self.seq);
        }
        SimOutcome {
            platform: self.p,
            run_seconds: (self.busy + t0.elapsed()).as_secs_f64(),
        }
    }

    /// Runs the platform to its end (every unit stopped) after the last arrival.
    pub fn finish(mut self) -> Result<SimOutcome, PlatformError> {
        let end = self.drain(0)?;
        let out = self.finish_at(end);
        out.platform.check_timeline()?;
        Ok(out)
    }
}

/// Processes events tied at one key (same time, same kind), `first` popped and the others
/// still queued, in an order that depends on each function's own history only: start
/// completions by unit start order, execution completions by trace position (the queue's own
/// tie-break, slab indices, depends on every function's).
#[cold]
#[inline(never)]
fn run_ties(p: &mut Platform, d: &mut SimDriver<'_>, first: Ev, now: u64) {
    let started = first.key & 1 == KIND_STARTED;
    let tie = |p: &Platform, e: &Ev| {
        if started {
            p.unit_handle(e.idx).id
        } else {
            p.job(e.idx).seq
        }
    };
    let mut ties = std::mem::take(&mut d.ties);
    ties.clear();
    ties.push((tie(p, &first), first));
    while let Some(e) = d.heap.peek() {
        if e.key != first.key {
            break;
        }
        d.heap.pop();
        ties.push((tie(p, &e), e));
    }
    ties.sort_unstable_by_key(|t| t.0);
    for &(_, e) in &ties {
        if started {
            p.started(now, e.idx, d);
        } else {
            p.completed(now, e.idx, true, false, d);
        }
    }
    d.ties = ties;
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
