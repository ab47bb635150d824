//! Several simulations of one trace at once, on several threads, from one read of the trace,
//! with each run's functions split into shards where nothing couples them.
//!
//! Each (policy, calibration) run is independent, so [`simulate_runs`] reads the trace once
//! on the calling thread, in chunks of [`CHUNK`] invocations, and hands every chunk (shared,
//! not copied) to worker threads, each driving its share of the work ([`Simulation`]).
//! Reading (parsing a file, generating a day) thereby overlaps with simulating, and a file is
//! parsed once for all policies instead of once per policy. Memory is bounded by the chunks
//! in flight (at most `QUEUE + 2` per worker), not by the trace's length.
//!
//! Shards. A run whose functions nothing couples ([`shardable`]: no unit cap, whose room,
//! queue and evictions are shared by every function; and no per-invocation records, whose
//! order and unit ids are the whole run's) is split into shards, function `f` going to shard
//! `f % shards`, and its (run, shard) pairs are spread over the workers like whole runs, so
//! one policy uses every core. By default there are just enough shards for the runs to fill
//! the threads ([`default_shards`]: one policy and its baseline on two threads are not
//! sharded, a single run is): a shard has a cost (its own event queue, the reader's routing,
//! the peak's merge: 10-20% more CPU for two shards of an Azure-shaped day), so sharding
//! beyond that only adds work. The reader routes each invocation to its shard (a list of
//! positions per shard in the shared chunk). This is exact because the simulator draws from
//! one random stream per function and orders a function's simultaneous events by that
//! function's own history ([`crate::sim`]): a shard simulates its functions exactly as the
//! whole run does. Merging the shards' platforms:
//! - counts, unit-ns, byte-ns, latency histograms and the timeline's per-bin counters are
//!   integers, added in any order; the window end is the latest one;
//! - the run's end (units without an expiry, e.g. provisioned ones, are destroyed there) is
//!   the latest end of its shards: every shard is drained first, then ended at that time;
//! - a timer (expiry, pre-warm) fires in the whole run when any function has an event after
//!   it, so each shard, once drained, also fires its timers due before the latest end of
//!   its run's shards (which a pre-warm may push further: repeated until it holds still);
//! - the peak of live units is not the sum of the shards' peaks. It is defined per instant,
//!   so that the order of simultaneous events does not matter (units created at an instant
//!   count at it, units destroyed at it do not, unless created at it too), and each shard
//!   logs its changes per instant (units created minus older units destroyed, units created
//!   and destroyed); a merger adds the logs up in time order, as far as every shard has got
//!   (every [`MERGE_EVERY`] chunks, a shard processes what happens up to the chunk's last
//!   arrival, as the next arrival would have, so nothing it does later happens earlier),
//!   so the merged peak is the whole run's and the logs in memory span a few chunks.
//!
//! Exactness: a run's output is a pure function of (trace, policy, calibration, seed),
//! whatever the thread count, the shard count or the chunk boundaries, so outputs are
//! bit-identical for 1, 2 or 8 threads. A run's `run_seconds` is the time its own threads
//! spent in it (reading the trace excluded): the sum of its shards' times when sharded, so
//! it stays a CPU cost, comparable between runs and with an unsharded run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use unitlab_workloads::{Invocation, TraceError};

use crate::calibration::Calibration;
use crate::platform::LiveChange;
use crate::policy::Policy;
use crate::sim::{Shard, SimOptions, SimOutcome, Simulation};
use crate::PlatformError;

/// Invocations per chunk handed to the workers (48 bytes each: 192 KiB).
pub const CHUNK: usize = 4 * 1024;
/// Chunks queued per worker before the reader waits.
pub const QUEUE: usize = 2;
/// A shard hands its log of live-unit changes to its run's peak merger every this many
/// chunks (the same chunks for every shard).
pub const MERGE_EVERY: u64 = 4;

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

/// Whether a run's functions can be simulated in shards (see the module docs): no unit cap
/// and no per-invocation records.
pub fn shardable(run: &SimRun<'_>) -> bool {
    run.policy.cap.is_none() && !run.options.records
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
    /// Shards each shardable run was split into (1: none was).
    pub shards: usize,
    /// Runs split into shards.
    pub sharded_runs: usize,
    /// Worker threads used (at most one per run or shard).
    pub threads: usize,
}

/// A chunk of the trace: its invocations, the position of the first, and, when runs are
/// sharded, the positions in it of each shard's invocations.
struct Chunk {
    invs: Vec<Invocation>,
    first_seq: u64,
    picks: Vec<Vec<u32>>,
    /// Arrival of the last invocation.
    last_ns: u64,
    /// Position among the chunks.
    index: u64,
}

/// Adds the shards' logs of live-unit changes up in time order (see the module docs).
///
/// Each settling covers the instants before every shard's mark. It first bounds the count of
/// units alive at any of them by the sum of each shard's own most (cheap: one pass per
/// shard); when that bound cannot beat the peak so far, only the live counts move on, and
/// the instants are merged one by one otherwise. Exact either way.
#[derive(Debug)]
struct PeakMerge {
    /// Per shard: its changes, sorted by time; those before `pos` are settled.
    logs: Vec<Vec<LiveChange>>,
    pos: Vec<usize>,
    /// Per shard: every later change of the shard happens at this time or later.
    marks: Vec<u64>,
    /// Per shard: units alive after its settled changes.
    live: Vec<i64>,
    peak: i64,
}

impl PeakMerge {
    fn new(shards: usize) -> Self {
        PeakMerge {
            logs: (0..shards).map(|_| Vec::new()).collect(),
            pos: vec![0; shards],
            marks: vec![0; shards],
            live: vec![0; shards],
            peak: 0,
        }
    }

    /// Takes shard `s`'s changes up to `mark` (`u64::MAX`: all of them) and settles every
    /// instant before every shard's mark.
    fn add(&mut self, s: usize, log: Vec<LiveChange>, mark: u64) {
        self.logs[s].drain(..self.pos[s]);
        self.pos[s] = 0;
        self.logs[s].extend(log);
        self.marks[s] = mark;
        let limit = self.marks.iter().copied().min().unwrap_or(u64::MAX);
        let due = |e: &LiveChange| limit == u64::MAX || e.t < limit;
        // The bound: per shard, the most alive at one of its instants (or its count now).
        let mut bound = 0i64;
        let mut ends = Vec::with_capacity(self.logs.len());
        for (i, l) in self.logs.iter().enumerate() {
            let (mut run, mut most) = (self.live[i], self.live[i]);
            let mut p = self.pos[i];
            while let Some(e) = l.get(p).filter(|e| due(e)) {
                most = most.max(run + e.net as i64);
                run += e.net as i64 - e.new_dead as i64;
                p += 1;
            }
            bound += most;
            ends.push((p, run));
        }
        if bound <= self.peak {
            for (i, (p, run)) in ends.into_iter().enumerate() {
                self.pos[i] = p;
                self.live[i] = run;
            }
            return;
        }
        self.merge(limit);
    }

    /// Settles the instants before `limit` one by one, in time order.
    fn merge(&mut self, limit: u64) {
        let all = limit == u64::MAX;
        let mut live: i64 = self.live.iter().sum();
        loop {
            // The shard with the earliest change (a), and the next earliest other shard's.
            let (mut a, mut ta, mut tb) = (usize::MAX, u64::MAX, u64::MAX);
            for (i, l) in self.logs.iter().enumerate() {
                if let Some(e) = l.get(self.pos[i]) {
                    if e.t < ta {
                        (tb, ta, a) = (ta, e.t, i);
                    } else if e.t < tb {
                        tb = e.t;
                    }
                }
            }
            if a == usize::MAX || (!all && ta >= limit) {
                break;
            }
            let stop = if all { tb } else { tb.min(limit) };
            if ta < stop {
                // Shard a's instants before any other shard's next one: its alone.
                let l = &self.logs[a];
                let mut p = self.pos[a];
                while p < l.len() && l[p].t < stop {
                    let t = l[p].t;
                    let (mut net, mut new_dead) = (0i64, 0i64);
                    while let Some(e) = l.get(p).filter(|e| e.t == t) {
                        net += e.net as i64;
                        new_dead += e.new_dead as i64;
                        p += 1;
                    }
                    // Alive at `t`: those alive before it, plus those created at it, minus
                    // those that existed before it and go at it.
                    self.peak = self.peak.max(live + net);
                    live += net - new_dead;
                    self.live[a] += net - new_dead;
                }
                self.pos[a] = p;
            } else {
                // An instant of several shards (ta == tb).
                let (mut net, mut new_dead) = (0i64, 0i64);
                for (i, l) in self.logs.iter().enumerate() {
                    let p = &mut self.pos[i];
                    while let Some(e) = l.get(*p).filter(|e| e.t == ta) {
                        net += e.net as i64;
                        new_dead += e.new_dead as i64;
                        self.live[i] += e.net as i64 - e.new_dead as i64;
                        *p += 1;
                    }
                }
                self.peak = self.peak.max(live + net);
                live += net - new_dead;
            }
        }
    }
}

/// One run, or one shard of a run, with its simulation and what became of it.
struct Task<'a> {
    run: usize,
    shard: Option<usize>,
    sim: Option<Simulation<'a>>,
    peak: Option<Arc<Mutex<PeakMerge>>>,
    err: Option<PlatformError>,
    /// A shard's end once drained.
    end: u64,
    /// A whole run's outcome once finished.
    out: Option<SimOutcome>,
}

impl Task<'_> {
    fn feed(&mut self, chunk: &Chunk) {
        if self.err.is_some() {
            return;
        }
        let sim = self
            .sim
            .as_mut()
            .expect("a task being fed has its simulation");
        let r = match self.shard {
            None => sim.push_all(&chunk.invs),
            Some(s) => sim.push_picked(&chunk.invs, &chunk.picks[s], chunk.first_seq),
        };
        if let (Some(m), Some(s)) = (&self.peak, self.shard) {
            // Every few chunks, the shard catches up with the chunk's last arrival (it may
            // have had none of it), so that the merger can settle the instants before it
            // and the logs stay as short as a few chunks. A failed shard stops holding the
            // others' logs back: its run fails anyway.
            let mark = if r.is_err() {
                Some(u64::MAX)
            } else if chunk.index % MERGE_EVERY == MERGE_EVERY - 1 {
                sim.advance_to(chunk.last_ns);
                Some(chunk.last_ns)
            } else {
                None
            };
            if let Some(mark) = mark {
                let log = sim.take_live_log();
                m.lock().expect("peak merger").add(s, log, mark);
            }
        }
        self.err = r.err();
    }

    /// After the last chunk: a whole run finishes; a shard runs to its end (it is ended at
    /// its run's end, the latest of its shards', by [`simulate_runs`]).
    fn drain(&mut self) {
        if self.err.is_some() {
            return;
        }
        match self.shard {
            None => {
                let sim = self.sim.take().expect("a whole run's simulation");
                match sim.finish() {
                    Ok(o) => self.out = Some(o),
                    Err(e) => self.err = Some(e),
                }
            }
            Some(_) => {
                let sim = self.sim.as_mut().expect("a shard's simulation");
                match sim.drain(0) {
                    Ok(end) => self.end = end,
                    Err(e) => self.err = Some(e),
                }
            }
        }
    }
}

/// Feeds every chunk to each of `tasks` until the reader hangs up (or every task failed),
/// then drains them unless the reader gave up.
fn run_worker(tasks: &mut [Task<'_>], rx: Receiver<Arc<Chunk>>, abort: &AtomicBool) {
    for chunk in rx {
        for t in tasks.iter_mut() {
            t.feed(&chunk);
        }
        if tasks.iter().all(|t| t.err.is_some()) {
            return;
        }
    }
    if !abort.load(Ordering::Relaxed) {
        tasks.iter_mut().for_each(Task::drain);
    }
}

/// The position in the trace of a run's error, for picking a sharded run's earliest.
fn error_seq(e: &PlatformError) -> u64 {
    match e {
        PlatformError::Unsorted { seq, .. } | PlatformError::MissingDuration { seq } => *seq,
        _ => 0,
    }
}

/// Shards per shardable run when none are asked for: enough for `runs` runs to make at
/// least `threads` pieces of work, and no more (a shard costs a little: its own event queue,
/// routing, the peak's merge), i.e. `threads / runs` rounded up.
pub fn default_shards(threads: usize, runs: usize) -> usize {
    threads.max(1).div_ceil(runs.max(1))
}

/// Runs every simulation in `runs` over `trace` on `threads` worker threads (1: everything on
/// the calling thread), each shardable run split into [`default_shards`] shards. Outcomes
/// are in the order of `runs`; on error, the error of the earliest failing run (or the
/// trace's) is returned.
pub fn simulate_runs<I>(
    trace: I,
    runs: &[SimRun<'_>],
    threads: usize,
) -> Result<(Vec<SimOutcome>, TraceRead), PlatformError>
where
    I: Iterator<Item = Result<Invocation, TraceError>>,
{
    simulate_runs_sharded(trace, runs, threads, default_shards(threads, runs.len()))
}

/// [`simulate_runs`] with the shard count given: every [`shardable`] run is split into
/// `shards` shards (1: none), whatever the thread count. Outcomes do not depend on either.
pub fn simulate_runs_sharded<I>(
    trace: I,
    runs: &[SimRun<'_>],
    threads: usize,
    shards: usize,
) -> Result<(Vec<SimOutcome>, TraceRead), PlatformError>
where
    I: Iterator<Item = Result<Invocation, TraceError>>,
{
    let t0 = Instant::now();
    let shards = if runs.iter().any(shardable) {
        shards.clamp(1, u32::MAX as usize)
    } else {
        1
    };
    let mut tasks: Vec<Task<'_>> = Vec::new();
    let mut sharded_runs = 0;
    for (i, r) in runs.iter().enumerate() {
        if shards > 1 && shardable(r) {
            sharded_runs += 1;
            let merge = Arc::new(Mutex::new(PeakMerge::new(shards)));
            let opts = SimOptions {
                progress: None,
                ..r.options.clone()
            };
            for s in 0..shards {
                let shard = Shard {
                    index: s as u32,
                    count: shards as u32,
                };
                tasks.push(Task {
                    run: i,
                    shard: Some(s),
                    sim: Some(Simulation::new_shard(
                        r.policy,
                        r.calibration,
                        &opts,
                        shard,
                    )?),
                    peak: Some(Arc::clone(&merge)),
                    err: None,
                    end: 0,
                    out: None,
                });
            }
        } else {
            tasks.push(Task {
                run: i,
                shard: None,
                sim: Some(Simulation::new(r.policy, r.calibration, &r.options)?),
                peak: None,
                err: None,
                end: 0,
                out: None,
            });
        }
    }
    // Sharded runs' progress bars follow the reader (their shards have none).
    let bars: Vec<indicatif::ProgressBar> = runs
        .iter()
        .filter(|r| shards > 1 && shardable(r))
        .filter_map(|r| r.options.progress.clone())
        .collect();
    let workers = threads.clamp(1, tasks.len().max(1));
    // Round-robin: worker w drives tasks w, w + workers, ... (a sharded run's shards on
    // consecutive workers).
    let mut groups: Vec<Vec<Task<'_>>> = (0..workers).map(|_| Vec::new()).collect();
    for (k, t) in tasks.into_iter().enumerate() {
        groups[k % workers].push(t);
    }
    let mut read = TraceRead {
        shards,
        sharded_runs,
        threads: workers,
        ..TraceRead::default()
    };
    let mut trace = trace;
    let mut unsorted: Option<PlatformError> = None;
    // The next chunk; the reader checks the order (a shard sees only some arrivals).
    let mut next_chunk = |read: &mut TraceRead,
                          unsorted: &mut Option<PlatformError>|
     -> Result<Option<Chunk>, TraceError> {
        if unsorted.is_some() {
            return Ok(None);
        }
        let first_seq = read.invocations;
        let mut invs = Vec::with_capacity(CHUNK);
        let mut picks: Vec<Vec<u32>> = if shards > 1 {
            (0..shards)
                .map(|_| Vec::with_capacity(CHUNK / shards + 64))
                .collect()
        } else {
            Vec::new()
        };
        for inv in trace.by_ref() {
            let inv = inv?;
            let seq = first_seq + invs.len() as u64;
            if inv.arrival_ns < read.last_arrival_ns {
                *unsorted = Some(PlatformError::Unsorted {
                    seq,
                    arrival_ns: inv.arrival_ns,
                    previous_ns: read.last_arrival_ns,
                });
                break;
            }
            read.last_arrival_ns = inv.arrival_ns;
            if shards > 1 {
                picks[Shard::of(inv.function, shards as u32) as usize].push(invs.len() as u32);
            }
            invs.push(inv);
            if invs.len() == CHUNK {
                break;
            }
        }
        let before = read.invocations;
        read.invocations += invs.len() as u64;
        if read.invocations >> 20 != before >> 20 {
            for pb in &bars {
                pb.set_position(read.invocations);
            }
        }
        Ok((!invs.is_empty()).then_some(Chunk {
            invs,
            first_seq,
            picks,
            last_ns: read.last_arrival_ns,
            index: first_seq / CHUNK as u64,
        }))
    };
    let mut trace_err = None;
    let abort = AtomicBool::new(false);
    if workers == 1 {
        let group = &mut groups[0];
        loop {
            match next_chunk(&mut read, &mut unsorted) {
                Ok(Some(chunk)) => {
                    for t in group.iter_mut() {
                        t.feed(&chunk);
                    }
                    if group.iter().all(|t| t.err.is_some()) {
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
        if trace_err.is_none() && unsorted.is_none() {
            group.iter_mut().for_each(Task::drain);
        }
    } else {
        std::thread::scope(|s| {
            let mut senders = Vec::with_capacity(workers);
            let mut handles = Vec::with_capacity(workers);
            for group in groups.iter_mut() {
                let (tx, rx) = sync_channel::<Arc<Chunk>>(QUEUE);
                senders.push(tx);
                let abort = &abort;
                handles.push(s.spawn(move || run_worker(group, rx, abort)));
            }
            loop {
                match next_chunk(&mut read, &mut unsorted) {
                    Ok(Some(chunk)) => {
                        let chunk = Arc::new(chunk);
                        // A worker whose tasks all failed has hung up: nothing to send it.
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
            if trace_err.is_some() || unsorted.is_some() {
                abort.store(true, Ordering::Relaxed);
            }
            drop(senders);
            for h in handles {
                if let Err(panic) = h.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    }
    let mut tasks: Vec<Task<'_>> = groups.into_iter().flatten().collect();
    tasks.sort_by_key(|t| (t.run, t.shard));
    // Each run's error: a sharded run's earliest in the trace (the one the whole run would
    // have stopped at); a run that met none stopped at the reader's unsorted invocation.
    let mut errors: Vec<Option<PlatformError>> = (0..runs.len()).map(|_| None).collect();
    for t in &mut tasks {
        if let Some(e) = t.err.take() {
            let slot = &mut errors[t.run];
            if slot
                .as_ref()
                .is_none_or(|old| error_seq(&e) < error_seq(old))
            {
                *slot = Some(e);
            }
        }
    }
    if let Some(PlatformError::Unsorted {
        seq,
        arrival_ns,
        previous_ns,
    }) = &unsorted
    {
        for e in errors.iter_mut().filter(|e| e.is_none()) {
            *e = Some(PlatformError::Unsorted {
                seq: *seq,
                arrival_ns: *arrival_ns,
                previous_ns: *previous_ns,
            });
        }
    }
    if let Some(e) = errors.into_iter().flatten().next() {
        return Err(e);
    }
    if let Some(e) = trace_err {
        return Err(e.into());
    }
    // Whole runs are finished; a sharded run's shards end at the run's end, then merge.
    let mut outs = Vec::with_capacity(runs.len());
    let mut it = tasks.into_iter().peekable();
    while let Some(mut t) = it.next() {
        if t.shard.is_none() {
            outs.push(t.out.take().expect("every whole run finished"));
            continue;
        }
        let mut shard_tasks = vec![t];
        while it.peek().is_some_and(|n| n.run == shard_tasks[0].run) {
            shard_tasks.extend(it.next());
        }
        // The whole run fires a timer when any function has an event after it: each shard
        // fires its timers before the latest end of all shards, which may start units (a
        // pre-warm) and push that end further, until it holds still.
        let mut end = shard_tasks.iter().map(|t| t.end).max().unwrap_or(0);
        loop {
            let mut next = end;
            for t in &mut shard_tasks {
                let sim = t.sim.as_mut().expect("a shard's simulation");
                next = next.max(sim.drain(end)?);
            }
            if next == end {
                break;
            }
            end = next;
        }
        let merge = shard_tasks[0].peak.clone().expect("a shard has a merger");
        let mut merged: Option<SimOutcome> = None;
        for t in shard_tasks {
            let s = t.shard.expect("a shard");
            let mut out = t.sim.expect("a shard's simulation").finish_at(end);
            let log = out.platform.take_live_log();
            merge.lock().expect("peak merger").add(s, log, u64::MAX);
            match &mut merged {
                None => merged = Some(out),
                Some(m) => {
                    m.platform.merge_shard(&out.platform);
                    m.run_seconds += out.run_seconds;
                }
            }
        }
        let mut m = merged.expect("at least one shard");
        m.platform.usage.peak_live = merge.lock().expect("peak merger").peak.max(0) as u64;
        m.platform.check_timeline()?;
        outs.push(m);
    }
    for pb in &bars {
        pb.set_position(read.invocations);
    }
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
