//! The platform: a pure, deterministic state machine over virtual time, shared by replay and
//! simulation.
//!
//! The caller feeds events ([`Platform::arrive`], [`Platform::started`],
//! [`Platform::completed`], [`Platform::fire_timers`]) with their times; the platform decides
//! (reuse an idle unit per the pick rule, start a unit, queue, reject, expire, pre-warm) and
//! asks a [`Driver`] to carry its decisions out: the simulator schedules the completion in its
//! event heap, the replay driver really starts and invokes units on worker threads. Every
//! figure of the cost of idle is accounted here, once, for both.
//!
//! Design for speed (the simulator must handle >= 10M invocations/s): dense function ids index
//! a `Vec` of per-function pools (no hashing); units live in a slab with a free list; idle
//! units of a function sit in a deque of `(slot, generation)` entries, and a generation bump
//! invalidates stale entries lazily; expiry and pre-warm timers live in a 4-ary heap with at
//! most one pending expiry per unit (a unit that idles again before its timer fires has it
//! re-armed on firing, not pushed again). The slabs are accessed at random and outgrow the
//! L2 cache on large traces, so what an invocation touches is packed into few cache lines: a
//! unit's hot fields, a job and a function's state are each one aligned 64-byte line (a unit's
//! start-time fields are in a parallel slab), and the simulator prefetches the lines of the
//! events and the arrival it is about to process ([`Platform::prefetch`],
//! [`Platform::prefetch_idle_unit`]).

use std::collections::VecDeque;

use unitlab_results::platform::{
    BusyInterval, Counts, InvocationRecord, Outcome, TimelineBin, UnitRecord,
};

use crate::heap::{prefetch_line, QuadHeap};
use crate::hybrid::IdleHistogram;
pub use crate::latency::{Latency, LogHist};
use crate::policy::{KeepAlive, OnFull, PickRule, Policy};
use crate::timeline::Timeline;

const NONE: u32 = u32::MAX;

/// An arrival as the platform sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Position in the trace.
    pub seq: u64,
    /// Dense function id.
    pub function: u32,
    /// Execution time the trace gives, if any (the simulator uses it; replay holds the unit
    /// busy for it).
    pub duration_ns: Option<u64>,
    /// Memory of the function's unit the trace gives, if any.
    pub memory_bytes: Option<u64>,
}

/// An invocation in flight (queued, waiting for its unit to start, or running).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Job {
    /// Position in the trace.
    pub seq: u64,
    /// Function id.
    pub function: u32,
    /// Arrival time.
    pub arrival_ns: u64,
    /// When it left the cap queue (= arrival when it never queued).
    pub assigned_ns: u64,
    /// Start-up time waited for (cold).
    pub startup_ns: u64,
    /// When it began executing.
    pub dispatch_ns: u64,
    /// Ran on a unit started for it.
    pub cold: bool,
    /// Unit slot.
    pub unit: u32,
    /// Duration from the trace.
    pub duration_ns: Option<u64>,
    /// Memory from the trace.
    pub memory_bytes: Option<u64>,
}

/// A [`Job`] as the platform stores it, in one 64-byte cache line (the job slab is accessed
/// at random). The start-up time is not stored: a cold job is assigned when its unit is
/// created and dispatched when that unit has started, so it is `dispatch - assigned` (and 0 for
/// a warm job, or one whose start failed, never dispatched).
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct JobSlot {
    seq: u64,
    arrival_ns: u64,
    assigned_ns: u64,
    dispatch_ns: u64,
    /// Meaningful when `has_duration`.
    duration_ns: u64,
    /// Meaningful when `has_memory`.
    memory_bytes: u64,
    function: u32,
    unit: u32,
    cold: bool,
    has_duration: bool,
    has_memory: bool,
}

const _: () = assert!(std::mem::size_of::<JobSlot>() == 64);

impl JobSlot {
    #[inline]
    fn startup_ns(&self) -> u64 {
        if self.cold {
            self.dispatch_ns.saturating_sub(self.assigned_ns)
        } else {
            0
        }
    }

    #[inline]
    fn to_job(self) -> Job {
        Job {
            seq: self.seq,
            function: self.function,
            arrival_ns: self.arrival_ns,
            assigned_ns: self.assigned_ns,
            startup_ns: self.startup_ns(),
            dispatch_ns: self.dispatch_ns,
            cold: self.cold,
            unit: self.unit,
            duration_ns: self.has_duration.then_some(self.duration_ns),
            memory_bytes: self.has_memory.then_some(self.memory_bytes),
        }
    }
}

/// A unit as the driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitHandle {
    /// Slot (reused after the unit is destroyed): the key for [`Platform::started`].
    pub slot: u32,
    /// Unique id, in start order.
    pub id: u64,
    /// Function id.
    pub function: u32,
}

/// Carries out the platform's decisions.
pub trait Driver {
    /// Start a unit; report [`Platform::started`] (or [`Platform::start_failed`]) when it can
    /// run code. `job` is the invocation waiting for it (none for a pre-warm). Returns the
    /// unit's memory in bytes for GB-s, when known now.
    fn start(&mut self, now: u64, unit: UnitHandle, job: Option<&Job>) -> Option<u64>;
    /// Start a provisioned unit before the trace: it must be ready at time 0.
    fn provision(&mut self, unit: UnitHandle) -> Option<u64>;
    /// Run `job` on `unit`; report [`Platform::completed`] with `job_id` when done. `first` is
    /// true for the first invocation on a unit (the rest of its cold start).
    fn run(&mut self, now: u64, unit: UnitHandle, job_id: u32, job: &Job, first: bool);
    /// Destroy a unit.
    fn stop(&mut self, now: u64, unit: UnitHandle);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UState {
    Starting,
    Ready,
    Dead,
}

/// A unit's fields that every invocation touches: one 64-byte cache line (the slab is
/// accessed at random, and its lines are the simulator's main cache misses). The rest is in
/// [`UnitCold`], a parallel slab.
#[derive(Debug, Clone)]
#[repr(align(64))]
struct Unit {
    id: u64,
    /// Start of the current state (idle or executing) once ready; while the unit is ready and
    /// idle, when it became idle (eviction picks the smallest).
    last_ns: u64,
    /// When the current expiry timer fires (u64::MAX: none).
    expires_ns: u64,
    executing_ns: u64,
    idle_ns: u64,
    invocations: u64,
    function: u32,
    gen: u32,
    active: u32,
    state: UState,
    provisioned: bool,
    lost: bool,
    timer_pending: bool,
}

const _: () = assert!(std::mem::size_of::<Unit>() == 64);

/// A unit's fields read at its start, first dispatch and destruction only (one cache line).
#[derive(Debug, Clone)]
#[repr(align(64))]
struct UnitCold {
    bound_job: u32,
    prewarmed: bool,
    created_ns: u64,
    ready_ns: Option<u64>,
    starting_ns: u64,
    memory: Option<u64>,
}

/// Per-function state, in one 64-byte cache line (read at every arrival and completion).
#[derive(Debug, Default, Clone)]
#[repr(align(64))]
struct FnState {
    /// Units with a free slot: (slot, generation).
    avail: VecDeque<(u32, u32)>,
    /// Jobs of this function executing.
    executing: u32,
    /// Jobs of this function in the cap queue.
    waiting: u32,
    /// End of the last execution, when none runs (meaningful once `ended`).
    last_end: u64,
    ended: bool,
    prewarm_gen: u32,
    /// Hybrid policy only.
    hist: Option<Box<IdleHistogram>>,
}

const _: () = assert!(std::mem::size_of::<FnState>() == 64);

/// Timers (expiries and pre-warms) as `(time, payload)` keys. A unit has at most one
/// pending expiry timer: when it idles again before its timer fires, the timer is re-armed on
/// firing instead of a new one being pushed, so the queue holds at most about one entry per
/// live unit, however many invocations a hot unit serves.
#[derive(Debug, Default)]
struct Timers(QuadHeap<(u64, u64)>);

const TIMER_PREWARM: u64 = 1 << 63;

impl Timers {
    #[inline]
    fn push(&mut self, t: u64, payload: u64) {
        self.0.push((t, payload));
    }
    #[inline]
    fn peek(&self) -> Option<(u64, u64)> {
        self.0.peek()
    }
    #[inline]
    fn pop(&mut self) -> Option<(u64, u64)> {
        self.0.pop()
    }
    fn clear(&mut self) {
        self.0 = QuadHeap::default();
    }
}

/// Unit-time accounting split by state, in exact integers.
#[derive(Debug, Clone, Default)]
pub struct UsageTotals {
    /// Unit-ns starting.
    pub starting_ns: u128,
    /// Unit-ns executing.
    pub executing_ns: u128,
    /// Unit-ns idle.
    pub idle_ns: u128,
    /// Byte-ns starting (units with a known memory only).
    pub starting_byte_ns: u128,
    /// Byte-ns executing.
    pub executing_byte_ns: u128,
    /// Byte-ns idle.
    pub idle_byte_ns: u128,
    /// Units closed with a known memory.
    pub units_with_memory: u64,
    /// Units closed without one (GB-s then unknown until resolved).
    pub units_without_memory: u64,
    /// Sum of known memories, bytes.
    pub memory_sum: u128,
    /// Last time any unit was alive (window end), ns.
    pub window_end_ns: u64,
    /// Most units alive at one instant, a unit being alive from its creation up to its
    /// destruction (at an instant where some units go and others come, those that go do not
    /// count; a unit created and destroyed at one instant counts at it): the order of
    /// simultaneous events does not change it.
    pub peak_live: u64,
}

impl UsageTotals {
    /// Adds one closed unit's time split with its memory.
    pub fn add_unit(&mut self, starting: u64, executing: u64, idle: u64, memory: Option<u64>) {
        self.starting_ns += starting as u128;
        self.executing_ns += executing as u128;
        self.idle_ns += idle as u128;
        match memory {
            Some(m) => self.add_memory(starting, executing, idle, m),
            None => self.units_without_memory += 1,
        }
    }

    /// Adds the byte-ns of a unit whose time was already added without memory.
    pub fn resolve_memory(&mut self, starting: u64, executing: u64, idle: u64, memory: u64) {
        self.units_without_memory = self.units_without_memory.saturating_sub(1);
        self.add_memory(starting, executing, idle, memory);
    }

    fn add_memory(&mut self, starting: u64, executing: u64, idle: u64, m: u64) {
        let m = m as u128;
        self.starting_byte_ns += starting as u128 * m;
        self.executing_byte_ns += executing as u128 * m;
        self.idle_byte_ns += idle as u128 * m;
        self.units_with_memory += 1;
        self.memory_sum += m;
    }
}

/// Everything a run records, for [`crate::pricing`].
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Per invocation (when records are on).
    pub invocations: Vec<InvocationRecord>,
    /// Per unit (when records are on).
    pub units: Vec<UnitRecord>,
    /// Busy intervals (when records are on).
    pub busy: Vec<BusyInterval>,
}

/// A platform's unit creations and destructions at one instant `t` (an exact summary for
/// merging shards' peaks of live units, [`UsageTotals::peak_live`]): `net` is the units
/// created minus those destroyed that existed before `t`, `new_dead` the units created and
/// destroyed at `t`. The units alive at `t` are those alive just before plus `net`; just
/// after, `net - new_dead` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LiveChange {
    pub(crate) t: u64,
    pub(crate) net: i32,
    pub(crate) new_dead: u32,
}

/// The platform state machine. See the module docs.
pub struct Platform {
    policy: Policy,
    concurrency: u32,
    units: Vec<Unit>,
    ucold: Vec<UnitCold>,
    free_slots: Vec<u32>,
    next_unit_id: u64,
    fns: Vec<FnState>,
    jobs: Vec<JobSlot>,
    free_jobs: Vec<u32>,
    jobs_in_flight: u64,
    starting_units: u64,
    timers: Timers,
    waiting: VecDeque<u32>,
    live: u64,
    /// Time of the last unit creation or destruction, and units both created and destroyed
    /// at that time: once the instant is over, the units alive at it were `live +
    /// new_dead_at_t` (see [`UsageTotals::peak_live`]).
    change_t: u64,
    new_dead_at_t: u64,
    /// Per instant, when a shard's peak is merged elsewhere: see [`LiveChange`].
    live_log: Option<Vec<LiveChange>>,
    records_on: bool,
    /// Counts.
    pub counts: Counts,
    /// Unit time and GB-s.
    pub usage: UsageTotals,
    /// Latencies.
    pub latency: Latency,
    /// Per invocation / unit records (when on).
    pub records: Records,
    timeline: Timeline,
    last_now: u64,
}

impl Platform {
    /// A platform for `policy`. `records`: keep per-invocation and per-unit rows (replay, small
    /// simulations); `bin_ns`: timeline bin width.
    pub fn new(policy: Policy, records: bool, bin_ns: u64) -> Self {
        Platform {
            concurrency: policy.concurrency.max(1),
            policy,
            units: Vec::new(),
            ucold: Vec::new(),
            free_slots: Vec::new(),
            next_unit_id: 0,
            fns: Vec::new(),
            jobs: Vec::new(),
            free_jobs: Vec::new(),
            jobs_in_flight: 0,
            starting_units: 0,
            timers: Timers::default(),
            waiting: VecDeque::new(),
            live: 0,
            change_t: 0,
            new_dead_at_t: 0,
            live_log: None,
            records_on: records,
            counts: Counts::default(),
            usage: UsageTotals::default(),
            latency: Latency::new(),
            records: Records::default(),
            timeline: Timeline::new(bin_ns),
            last_now: 0,
        }
    }

    /// Before a unit is created (`net` 1) or destroyed (`net` -1, or `new_dead` 1 when it was
    /// created at `now`) at `now`: settles the peak when a new instant begins.
    #[inline(always)]
    fn live_change(&mut self, now: u64, net: i32, new_dead: u32) {
        if now != self.change_t {
            self.settle_peak();
            self.change_t = now;
            self.new_dead_at_t = 0;
        }
        self.new_dead_at_t += new_dead as u64;
        if let Some(log) = &mut self.live_log {
            Self::log_change(log, now, net, new_dead);
        }
    }

    /// The peak including the instant of the last change, once it is over.
    #[inline]
    fn settle_peak(&mut self) {
        self.usage.peak_live = self.usage.peak_live.max(self.live + self.new_dead_at_t);
    }

    #[inline(never)]
    fn log_change(log: &mut Vec<LiveChange>, now: u64, net: i32, new_dead: u32) {
        match log.last_mut() {
            Some(e) if e.t == now => {
                e.net += net;
                e.new_dead += new_dead;
            }
            _ => log.push(LiveChange {
                t: now,
                net,
                new_dead,
            }),
        }
    }

    /// Starts logging unit creations and destructions per instant (for merging shards'
    /// peaks: [`crate::parallel`]).
    pub(crate) fn log_live_changes(&mut self) {
        self.live_log.get_or_insert_with(Vec::new);
    }

    /// The changes logged since the last call, sorted by time (the end of a run destroys
    /// units at their own expiries, out of order).
    pub(crate) fn take_live_log(&mut self) -> Vec<LiveChange> {
        let mut v = self
            .live_log
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        if !v.is_sorted_by_key(|e| e.t) {
            v.sort_by_key(|e| e.t);
        }
        v
    }

    /// The latest time the platform was told about.
    pub fn last_now(&self) -> u64 {
        self.last_now
    }

    /// Adds a shard's platform (the same policy, other functions) to this one: counts, unit
    /// time, GB-s, latency histograms and the timeline add up exactly (integers); the window
    /// end is the later one. The peak of live units does not add up: the caller sets it
    /// from the shards' merged logs. Records are not merged (sharded runs keep none).
    pub(crate) fn merge_shard(&mut self, o: &Platform) {
        let (c, oc) = (&mut self.counts, &o.counts);
        c.invocations += oc.invocations;
        c.completed += oc.completed;
        c.cold_starts += oc.cold_starts;
        c.warm_starts += oc.warm_starts;
        c.rejected += oc.rejected;
        c.queued += oc.queued;
        c.failed += oc.failed;
        c.units_started += oc.units_started;
        c.units_prewarmed += oc.units_prewarmed;
        c.units_provisioned += oc.units_provisioned;
        c.units_evicted += oc.units_evicted;
        let (u, ou) = (&mut self.usage, &o.usage);
        u.starting_ns += ou.starting_ns;
        u.executing_ns += ou.executing_ns;
        u.idle_ns += ou.idle_ns;
        u.starting_byte_ns += ou.starting_byte_ns;
        u.executing_byte_ns += ou.executing_byte_ns;
        u.idle_byte_ns += ou.idle_byte_ns;
        u.units_with_memory += ou.units_with_memory;
        u.units_without_memory += ou.units_without_memory;
        u.memory_sum += ou.memory_sum;
        u.window_end_ns = u.window_end_ns.max(ou.window_end_ns);
        let (l, ol) = (&mut self.latency, &o.latency);
        l.queue.merge(&ol.queue);
        l.startup.merge(&ol.startup);
        l.exec.merge(&ol.exec);
        l.e2e_cold.merge(&ol.e2e_cold);
        l.e2e_warm.merge(&ol.e2e_warm);
        for (a, b) in l.zeros.iter_mut().zip(ol.zeros) {
            *a += b;
        }
        self.timeline.merge(&o.timeline);
        self.last_now = self.last_now.max(o.last_now);
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Invocations queued, starting or running.
    pub fn jobs_in_flight(&self) -> u64 {
        self.jobs_in_flight
    }

    /// Units starting.
    pub fn starting_units(&self) -> u64 {
        self.starting_units
    }

    /// Live units.
    pub fn live_units(&self) -> u64 {
        self.live
    }

    /// The job with this id.
    pub fn job(&self, id: u32) -> Job {
        self.jobs[id as usize].to_job()
    }

    /// The handle of the unit in `slot`.
    pub fn unit_handle(&self, slot: u32) -> UnitHandle {
        let u = &self.units[slot as usize];
        UnitHandle {
            slot,
            id: u.id,
            function: u.function,
        }
    }

    /// Hints the CPU to load the lines an event will touch: the job (when `job`) with index
    /// `idx`, and the unit in `slot`. No effect on results.
    #[inline]
    pub fn prefetch(&self, job: bool, idx: u32, slot: u32) {
        if job {
            if let Some(j) = self.jobs.get(idx as usize) {
                prefetch_line(j);
            }
        }
        if let Some(u) = self.units.get(slot as usize) {
            prefetch_line(u);
        }
        // Without a fixed keep-alive, an execution's end often destroys its unit, which
        // reads the unit's start-time fields too.
        if job && !matches!(self.policy.keep_alive, KeepAlive::Fixed { .. }) {
            if let Some(c) = self.ucold.get(slot as usize) {
                prefetch_line(c);
            }
        }
    }

    /// Hints the CPU to load the idle unit the pick rule would take for an arrival of `f`
    /// (reads the function's state and idle entry). No effect on results.
    #[inline]
    pub fn prefetch_idle_unit(&self, f: u32) {
        let Some(fs) = self.fns.get(f as usize) else {
            return;
        };
        let e = match self.policy.pick {
            PickRule::Mru => fs.avail.back(),
            PickRule::Lru => fs.avail.front(),
            PickRule::Newest => None,
        };
        if let Some(u) = e.and_then(|&(slot, _)| self.units.get(slot as usize)) {
            prefetch_line(u);
        }
    }

    /// Sets a unit's memory (replay, once measured) while it is alive.
    pub fn set_unit_memory(&mut self, slot: u32, bytes: u64) {
        if let Some(u) = self.units.get(slot as usize) {
            if u.state != UState::Dead {
                self.ucold[slot as usize].memory = Some(bytes);
            }
        }
    }

    #[inline]
    fn fn_state(&mut self, f: u32) -> &mut FnState {
        let i = f as usize;
        if i >= self.fns.len() {
            self.fns.resize_with(i + 1, FnState::default);
        }
        &mut self.fns[i]
    }

    /// Provisions the policy's units for functions `0..functions`, before the trace (time 0).
    pub fn provision(&mut self, functions: u32, driver: &mut impl Driver) {
        // Every function's state in one exact allocation (growing by doubling would hold up
        // to twice as much with tens of thousands of functions).
        self.fns.reserve_exact(functions as usize);
        for f in 0..functions {
            for _ in 0..self.policy.provisioned {
                let slot = self.new_unit(0, f, NONE);
                let h = self.unit_handle(slot);
                let mem = driver.provision(h);
                let u = &mut self.units[slot as usize];
                u.provisioned = true;
                u.state = UState::Ready;
                let c = &mut self.ucold[slot as usize];
                c.memory = mem;
                c.ready_ns = Some(0);
                self.starting_units -= 1;
                self.counts.units_started -= 1;
                self.counts.units_provisioned += 1;
                self.make_idle(0, slot, driver);
            }
        }
    }

    fn new_unit(&mut self, now: u64, function: u32, job: u32) -> u32 {
        let unit = Unit {
            id: self.next_unit_id,
            function,
            gen: 0,
            active: 0,
            state: UState::Starting,
            provisioned: false,
            lost: false,
            timer_pending: false,
            last_ns: now,
            expires_ns: u64::MAX,
            executing_ns: 0,
            idle_ns: 0,
            invocations: 0,
        };
        let cold = UnitCold {
            bound_job: job,
            prewarmed: false,
            created_ns: now,
            ready_ns: None,
            starting_ns: 0,
            memory: None,
        };
        self.next_unit_id += 1;
        let slot = match self.free_slots.pop() {
            Some(s) => {
                let gen = self.units[s as usize].gen.wrapping_add(1);
                self.units[s as usize] = Unit { gen, ..unit };
                self.ucold[s as usize] = cold;
                s
            }
            None => {
                // Grown by a quarter, not doubled: the slabs hold the peak of live units,
                // which with tens of thousands of functions is most of a run's memory.
                if self.units.len() == self.units.capacity() {
                    let more = self.units.len() / 4 + 64;
                    self.units.reserve_exact(more);
                    self.ucold.reserve_exact(more);
                }
                self.units.push(unit);
                self.ucold.push(cold);
                (self.units.len() - 1) as u32
            }
        };
        self.fn_state(function);
        self.live_change(now, 1, 0);
        self.live += 1;
        self.starting_units += 1;
        self.counts.units_started += 1;
        slot
    }

    fn start_unit(&mut self, now: u64, function: u32, job: u32, driver: &mut impl Driver) {
        let slot = self.new_unit(now, function, job);
        let h = self.unit_handle(slot);
        let jref = if job == NONE {
            None
        } else {
            let j = &mut self.jobs[job as usize];
            j.cold = true;
            j.unit = slot;
            j.assigned_ns = now;
            Some(j.to_job())
        };
        let mem = driver.start(now, h, jref.as_ref());
        self.ucold[slot as usize].memory = mem;
    }

    #[inline]
    fn room(&self) -> bool {
        match self.policy.cap {
            None => true,
            Some(c) => self.live < c.max_units as u64,
        }
    }

    /// Next timer due, if any (possibly stale: firing it may do nothing).
    #[inline]
    pub fn next_timer(&self) -> Option<u64> {
        self.timers.peek().map(|k| k.0)
    }

    /// Fires every timer due at or before `now`.
    pub fn fire_timers(&mut self, now: u64, driver: &mut impl Driver) {
        while let Some((t, payload)) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            // Replay feeds clamped wall-clock times: never go back before the last event.
            let t = t.max(self.last_now);
            self.last_now = t;
            let target = ((payload >> 32) & 0x7fff_ffff) as u32;
            let tag = payload as u32;
            if payload & TIMER_PREWARM != 0 {
                self.prewarm(t, target, tag, driver);
            } else {
                let u = &mut self.units[target as usize];
                if u.id as u32 != tag || u.state != UState::Ready || !u.timer_pending {
                    continue; // the unit is gone (its slot may hold another)
                }
                u.timer_pending = false;
                if u.active > 0 || u.expires_ns == u64::MAX {
                    continue; // busy: re-armed when it idles again
                }
                if u.expires_ns > t {
                    // It idled again since this timer was set: re-arm for the new expiry.
                    u.timer_pending = true;
                    let e = u.expires_ns;
                    self.timers.push(e, payload);
                    continue;
                }
                self.destroy(t, target, false, driver);
            }
        }
    }

    fn prewarm(&mut self, now: u64, f: u32, gen: u32, driver: &mut impl Driver) {
        if self.fns[f as usize].prewarm_gen != gen || !self.room() {
            return;
        }
        self.counts.units_prewarmed += 1;
        let slot = self.new_unit(now, f, NONE);
        self.ucold[slot as usize].prewarmed = true;
        let h = self.unit_handle(slot);
        let mem = driver.start(now, h, None);
        self.ucold[slot as usize].memory = mem;
    }

    /// An invocation arrives at `now`.
    #[inline(always)]
    pub fn arrive(&mut self, now: u64, a: Arrival, driver: &mut impl Driver) {
        self.last_now = now;
        self.counts.invocations += 1;
        let f = a.function;
        let hybrid = matches!(self.policy.keep_alive, KeepAlive::Hybrid(_));
        {
            let fs = self.fn_state(f);
            if hybrid {
                fs.prewarm_gen = fs.prewarm_gen.wrapping_add(1);
            }
        }
        if let KeepAlive::Hybrid(p) = &self.policy.keep_alive {
            let fs = &mut self.fns[f as usize];
            if fs.executing == 0 && fs.ended {
                let end = fs.last_end;
                fs.hist
                    .get_or_insert_with(|| Box::new(IdleHistogram::new(p)))
                    .record(now - end, p);
            }
        }
        let job = JobSlot {
            seq: a.seq,
            function: f,
            arrival_ns: now,
            assigned_ns: now,
            dispatch_ns: now,
            cold: false,
            unit: NONE,
            duration_ns: a.duration_ns.unwrap_or(0),
            has_duration: a.duration_ns.is_some(),
            memory_bytes: a.memory_bytes.unwrap_or(0),
            has_memory: a.memory_bytes.is_some(),
        };
        let id = match self.free_jobs.pop() {
            Some(i) => {
                self.jobs[i as usize] = job;
                i
            }
            None => {
                self.jobs.push(job);
                (self.jobs.len() - 1) as u32
            }
        };
        self.jobs_in_flight += 1;
        self.timeline.count(now, false);
        if let Some(slot) = self.pick(f) {
            self.dispatch(now, slot, id, driver);
            return;
        }
        if self.room() {
            self.start_unit(now, f, id, driver);
            return;
        }
        if let Some(victim) = self.evictable() {
            self.counts.units_evicted += 1;
            self.destroy(now, victim, true, driver);
            self.start_unit(now, f, id, driver);
            return;
        }
        match self.policy.cap.map(|c| c.on_full) {
            Some(OnFull::Queue) => {
                self.counts.queued += 1;
                self.fns[f as usize].waiting += 1;
                self.waiting.push_back(id);
            }
            _ => {
                self.counts.rejected += 1;
                self.finish_job(now, id, Outcome::Rejected);
            }
        }
    }

    /// Picks a unit with a free slot for `f`, per the pick rule.
    #[inline(always)]
    fn pick(&mut self, f: u32) -> Option<u32> {
        let units = &self.units;
        let fs = &mut self.fns[f as usize];
        let valid = |&(s, g): &(u32, u32)| units[s as usize].gen == g;
        let slot = match self.policy.pick {
            PickRule::Mru => loop {
                let e = fs.avail.pop_back()?;
                if valid(&e) {
                    break e.0;
                }
            },
            PickRule::Lru => loop {
                let e = fs.avail.pop_front()?;
                if valid(&e) {
                    break e.0;
                }
            },
            PickRule::Newest => {
                let mut best: Option<(usize, u64)> = None;
                for (i, e) in fs.avail.iter().enumerate() {
                    if valid(e) {
                        let id = units[e.0 as usize].id;
                        if best.is_none_or(|(_, b)| id > b) {
                            best = Some((i, id));
                        }
                    }
                }
                let (i, _) = best?;
                let e = fs.avail.remove(i).expect("index from iteration");
                e.0
            }
        };
        let u = &mut self.units[slot as usize];
        u.gen = u.gen.wrapping_add(1);
        u.expires_ns = u64::MAX;
        Some(slot)
    }

    #[inline(always)]
    fn dispatch(&mut self, now: u64, slot: u32, job_id: u32, driver: &mut impl Driver) {
        let c = self.concurrency;
        let u = &mut self.units[slot as usize];
        if u.active == 0 {
            u.idle_ns += now - u.last_ns;
            u.last_ns = now;
        }
        u.active += 1;
        u.invocations += 1;
        let first = u.invocations == 1;
        let gen = u.gen;
        let f = u.function;
        if u.active < c {
            self.fns[f as usize].avail.push_back((slot, gen));
        }
        self.fns[f as usize].executing += 1;
        let j = &mut self.jobs[job_id as usize];
        j.unit = slot;
        j.dispatch_ns = now;
        if j.cold {
            self.counts.cold_starts += 1;
            self.timeline.count(now, true);
        } else {
            self.counts.warm_starts += 1;
        }
        let job = j.to_job();
        let h = self.unit_handle(slot);
        driver.run(now, h, job_id, &job, first);
    }

    /// The unit in `slot` finished starting at `now`.
    pub fn started(&mut self, now: u64, slot: u32, driver: &mut impl Driver) {
        self.last_now = self.last_now.max(now);
        self.starting_units -= 1;
        let u = &mut self.units[slot as usize];
        debug_assert_eq!(u.state, UState::Starting);
        u.state = UState::Ready;
        u.last_ns = now;
        let c = &mut self.ucold[slot as usize];
        c.ready_ns = Some(now);
        c.starting_ns = now - c.created_ns;
        let (created, job) = (c.created_ns, c.bound_job);
        c.bound_job = NONE;
        self.timeline.add(1, created, now);
        if job != NONE {
            // Its start-up time is `now - created`: dispatch (now) minus assigned (created).
            self.dispatch(now, slot, job, driver);
        } else {
            self.unit_free(now, slot, driver);
        }
    }

    /// The unit in `slot` failed to start: its invocation fails.
    pub fn start_failed(&mut self, now: u64, slot: u32, driver: &mut impl Driver) {
        self.last_now = self.last_now.max(now);
        self.starting_units -= 1;
        let u = &mut self.units[slot as usize];
        u.last_ns = now;
        u.state = UState::Ready;
        let c = &mut self.ucold[slot as usize];
        c.starting_ns = now - c.created_ns;
        let (created, job) = (c.created_ns, c.bound_job);
        c.bound_job = NONE;
        self.timeline.add(1, created, now);
        if job != NONE {
            self.counts.failed += 1;
            self.finish_job(now, job, Outcome::Failed);
        }
        self.destroy(now, slot, false, driver);
    }

    /// Invocation `job_id` finished at `now`. `ok` false: it failed; `unit_lost`: the unit is
    /// unusable and is destroyed.
    pub fn completed(
        &mut self,
        now: u64,
        job_id: u32,
        ok: bool,
        unit_lost: bool,
        driver: &mut impl Driver,
    ) {
        self.last_now = self.last_now.max(now);
        let job = self.jobs[job_id as usize];
        let slot = job.unit;
        let f = job.function;
        {
            let fs = &mut self.fns[f as usize];
            fs.executing -= 1;
            if fs.executing == 0 {
                fs.last_end = now;
                fs.ended = true;
            }
        }
        if ok {
            self.finish_job(now, job_id, Outcome::Ok);
        } else {
            self.counts.failed += 1;
            self.finish_job(now, job_id, Outcome::Failed);
        }
        let c = self.concurrency;
        let u = &mut self.units[slot as usize];
        let was_full = u.active == c;
        u.active -= 1;
        if u.active == 0 {
            let start = u.last_ns;
            u.executing_ns += now - start;
            u.last_ns = now;
            self.timeline.add(2, start, now);
            if self.records_on {
                self.records.busy.push(BusyInterval {
                    unit: u.id,
                    start_ns: start,
                    end_ns: now,
                });
            }
        }
        if unit_lost {
            let u = &mut self.units[slot as usize];
            u.lost = true;
            u.gen = u.gen.wrapping_add(1);
        }
        if self.units[slot as usize].lost {
            // A lost unit takes no more work; it goes once its last invocation ends.
            if self.units[slot as usize].active == 0 {
                self.destroy(now, slot, false, driver);
            }
            return;
        }
        if was_full && self.units[slot as usize].active > 0 {
            let u = &mut self.units[slot as usize];
            u.gen = u.gen.wrapping_add(1);
            let g = u.gen;
            self.fns[f as usize].avail.push_back((slot, g));
        }
        if self.units[slot as usize].active == 0 {
            self.unit_free(now, slot, driver);
        }
    }

    #[inline(always)]
    fn finish_job(&mut self, now: u64, id: u32, outcome: Outcome) {
        let j = self.jobs[id as usize];
        self.jobs_in_flight -= 1;
        self.free_jobs.push(id);
        let queue = j.assigned_ns.saturating_sub(j.arrival_ns);
        let e2e = now.saturating_sub(j.arrival_ns);
        let exec = if outcome == Outcome::Rejected {
            0
        } else {
            now.saturating_sub(j.dispatch_ns)
        };
        if outcome != Outcome::Rejected {
            self.counts.completed += 1;
            let l = &mut self.latency;
            if queue > 0 {
                l.queue.record(queue);
            }
            if outcome == Outcome::Ok {
                Latency::rec(&mut l.exec, &mut l.zeros[2], exec);
                if j.cold {
                    Latency::rec(&mut l.startup, &mut l.zeros[1], j.startup_ns());
                    Latency::rec(&mut l.e2e_cold, &mut l.zeros[3], e2e);
                } else {
                    Latency::rec(&mut l.e2e_warm, &mut l.zeros[4], e2e);
                }
            }
        }
        if self.records_on {
            self.records.invocations.push(InvocationRecord {
                seq: j.seq,
                function: j.function,
                arrival_ns: j.arrival_ns,
                queue_ns: queue,
                cold: j.cold,
                startup_ns: j.startup_ns(),
                exec_ns: exec,
                e2e_ns: if outcome == Outcome::Rejected { 0 } else { e2e },
                unit: if j.unit == NONE {
                    None
                } else {
                    Some(self.units[j.unit as usize].id)
                },
                outcome,
            });
        }
    }

    /// A unit has a free slot and nothing queued took it, or became idle: apply the policy.
    #[inline(always)]
    fn unit_free(&mut self, now: u64, slot: u32, driver: &mut impl Driver) {
        let f = self.units[slot as usize].function;
        // The cap queue first: a waiter of this function takes the unit.
        if self.fns[f as usize].waiting > 0 {
            if let Some(pos) = self
                .waiting
                .iter()
                .position(|&j| self.jobs[j as usize].function == f)
            {
                let j = self.waiting.remove(pos).expect("position is in range");
                self.fns[f as usize].waiting -= 1;
                self.jobs[j as usize].assigned_ns = now;
                // Taking the unit invalidates its avail entry (if any).
                let u = &mut self.units[slot as usize];
                u.gen = u.gen.wrapping_add(1);
                u.expires_ns = u64::MAX;
                self.dispatch(now, slot, j, driver);
                return;
            }
        }
        let u = &self.units[slot as usize];
        if u.active > 0 {
            return;
        }
        // Waiters of other functions and no room: give the capacity to the oldest waiter.
        if !self.waiting.is_empty() && !self.room() && !u.provisioned {
            self.counts.units_evicted += 1;
            self.destroy(now, slot, true, driver);
            return;
        }
        self.make_idle(now, slot, driver);
    }

    #[inline(always)]
    fn make_idle(&mut self, now: u64, slot: u32, driver: &mut impl Driver) {
        let u = &mut self.units[slot as usize];
        let provisioned = u.provisioned;
        let f = u.function;
        let (keep, prewarm) = if provisioned {
            (u64::MAX, None)
        } else {
            match &self.policy.keep_alive {
                KeepAlive::None => (0, None),
                KeepAlive::Fixed { ns } => (*ns, None),
                KeepAlive::Hybrid(p) => {
                    let prewarmed_unit = u.invocations == 0 && self.ucold[slot as usize].prewarmed;
                    let fs = &mut self.fns[f as usize];
                    if prewarmed_unit {
                        (fs.hist.as_ref().map_or(0, |h| h.prewarm_ka), None)
                    } else {
                        let (pre, ka) = match fs.hist.as_mut() {
                            Some(h) => h.windows(p),
                            None => (0, p.fallback_ns),
                        };
                        if pre > 0 {
                            (0, Some((pre, ka)))
                        } else {
                            (ka, None)
                        }
                    }
                }
            }
        };
        if keep == 0 {
            self.destroy(now, slot, false, driver);
            if let Some((pre, ka)) = prewarm {
                let fs = &mut self.fns[f as usize];
                fs.prewarm_gen = fs.prewarm_gen.wrapping_add(1);
                if let Some(h) = fs.hist.as_mut() {
                    h.prewarm_ka = ka;
                }
                let payload = TIMER_PREWARM | ((f as u64) << 32) | fs.prewarm_gen as u64;
                self.timers.push(now + pre, payload);
            }
            return;
        }
        let u = &mut self.units[slot as usize];
        u.gen = u.gen.wrapping_add(1);
        let g = u.gen;
        self.fns[f as usize].avail.push_back((slot, g));
        if keep != u64::MAX {
            let t = now.saturating_add(keep);
            let u = &mut self.units[slot as usize];
            u.expires_ns = t;
            if !u.timer_pending {
                u.timer_pending = true;
                let payload = ((slot as u64) << 32) | (u.id as u32) as u64;
                self.timers.push(t, payload);
            }
        }
    }

    fn evictable(&self) -> Option<u32> {
        let mut best: Option<(u32, u64)> = None;
        for (i, u) in self.units.iter().enumerate() {
            if u.state == UState::Ready
                && u.active == 0
                && !u.provisioned
                && best.is_none_or(|(_, t)| u.last_ns < t)
            {
                best = Some((i as u32, u.last_ns));
            }
        }
        best.map(|b| b.0)
    }

    fn destroy(&mut self, now: u64, slot: u32, _evicted: bool, driver: &mut impl Driver) {
        let h = self.unit_handle(slot);
        let u = &mut self.units[slot as usize];
        if u.state == UState::Dead {
            return;
        }
        let cold = &self.ucold[slot as usize];
        let was_ready = u.state == UState::Ready && cold.ready_ns.is_some();
        if was_ready && u.active == 0 {
            u.idle_ns += now - u.last_ns;
        }
        u.state = UState::Dead;
        u.gen = u.gen.wrapping_add(1);
        let unit = u.clone();
        let cold = cold.clone();
        self.timeline.add(0, cold.created_ns, now);
        self.usage.window_end_ns = self.usage.window_end_ns.max(now);
        self.usage.add_unit(
            cold.starting_ns,
            unit.executing_ns,
            unit.idle_ns,
            cold.memory,
        );
        if self.records_on {
            self.records.units.push(UnitRecord {
                unit: unit.id,
                function: unit.function,
                provisioned: unit.provisioned,
                prewarmed: cold.prewarmed,
                created_ns: cold.created_ns,
                ready_ns: cold.ready_ns,
                destroyed_ns: now,
                starting_ns: cold.starting_ns,
                executing_ns: unit.executing_ns,
                idle_ns: unit.idle_ns,
                invocations: unit.invocations,
                memory_bytes: cold.memory,
                backend_id: None,
            });
        }
        if cold.created_ns == now {
            self.live_change(now, 0, 1);
        } else {
            self.live_change(now, -1, 0);
        }
        self.live -= 1;
        self.free_slots.push(slot);
        // Drop stale entries at both ends of the function's deque.
        let units = &self.units;
        let fs = &mut self.fns[unit.function as usize];
        while let Some(&(s, g)) = fs.avail.front() {
            if units[s as usize].gen == g {
                break;
            }
            fs.avail.pop_front();
        }
        while let Some(&(s, g)) = fs.avail.back() {
            if units[s as usize].gen == g {
                break;
            }
            fs.avail.pop_back();
        }
        driver.stop(now, h);
        // Capacity freed: the oldest waiter gets a unit.
        if !self.waiting.is_empty() && self.room() {
            let j = self.waiting.pop_front().expect("not empty");
            let f = self.jobs[j as usize].function;
            self.fns[f as usize].waiting -= 1;
            self.jobs[j as usize].assigned_ns = now;
            if let Some(s) = self.pick(f) {
                self.dispatch(now, s, j, driver);
            } else {
                self.start_unit(now, f, j, driver);
            }
        }
    }

    /// Ends the run once every invocation has completed and no unit is starting: cancels
    /// pending pre-warms and destroys every live unit at its scheduled expiry (the platform
    /// would have kept it that long), or at `now` when it has none (provisioned units).
    pub fn finish(&mut self, now: u64, driver: &mut impl Driver) {
        let end = now.max(self.last_now);
        self.timers.clear();
        for slot in 0..self.units.len() as u32 {
            let u = &self.units[slot as usize];
            if u.state == UState::Dead {
                continue;
            }
            let t = if u.expires_ns == u64::MAX {
                end
            } else {
                u.expires_ns.max(end)
            };
            self.destroy(t, slot, false, driver);
        }
        for fs in &mut self.fns {
            fs.avail.clear();
        }
        self.settle_peak();
    }

    /// The timeline bins up to the window end.
    pub fn timeline(&self) -> Vec<TimelineBin> {
        self.timeline.bins(self.usage.window_end_ns)
    }

    /// An error when the run reached past [`crate::timeline::MAX_TIMELINE_BINS`] bins (its
    /// timeline would be cut short): the bins it needed, their memory and the bin that fits.
    pub fn check_timeline(&self) -> Result<(), crate::PlatformError> {
        let t = &self.timeline;
        if t.needed > crate::timeline::MAX_TIMELINE_BINS {
            return Err(crate::timeline::timeline_error(
                t.needed,
                t.needed.saturating_mul(t.bin_ns),
                t.bin_ns,
            ));
        }
        Ok(())
    }

    /// Whether records are kept.
    pub fn records_on(&self) -> bool {
        self.records_on
    }
}
