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

use hdrhistogram::Histogram;
use unitlab_results::platform::{
    BusyInterval, Counts, InvocationRecord, Outcome, TimelineBin, UnitRecord,
};

use crate::heap::{prefetch_line, QuadHeap};
use crate::policy::{HybridParams, KeepAlive, OnFull, PickRule, Policy};
use crate::PlatformError;
use unitlab_backend::units::{fmt_duration_ns, round_up_duration_ns};

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

/// Per-function histogram of idle times (hybrid policy).
#[derive(Debug, Clone)]
struct IdleHistogram {
    /// Keep-alive of the function's next pre-warmed unit (a pre-warm is only decided from
    /// a histogram, so the histogram exists whenever this is read).
    prewarm_ka: u64,
    bins: Vec<u32>,
    /// Lowest and highest non-empty bin (`lo > hi` while empty): a percentile's bin is found
    /// by scanning from the nearer one (the hybrid policy asks the 5th and the 99th, which
    /// sit near the ends, at every idle time of a function).
    lo: usize,
    hi: usize,
    in_range: u64,
    out_of_range: u64,
    sum_sq: u64,
    cached: Option<(u64, u64)>,
}

impl IdleHistogram {
    fn new(p: &HybridParams) -> Self {
        let n = (p.range_ns / p.bin_ns).max(1) as usize;
        IdleHistogram {
            prewarm_ka: 0,
            bins: vec![0; n],
            lo: usize::MAX,
            hi: 0,
            in_range: 0,
            out_of_range: 0,
            sum_sq: 0,
            cached: None,
        }
    }

    fn record(&mut self, it_ns: u64, p: &HybridParams) {
        let b = (it_ns / p.bin_ns) as usize;
        if b < self.bins.len() {
            let c = self.bins[b] as u64;
            self.sum_sq += 2 * c + 1;
            self.bins[b] += 1;
            self.lo = self.lo.min(b);
            self.hi = self.hi.max(b);
            self.in_range += 1;
        } else {
            self.out_of_range += 1;
        }
        self.cached = None;
    }

    /// (pre-warm window, keep-alive window), ns.
    fn windows(&mut self, p: &HybridParams) -> (u64, u64) {
        if let Some(w) = self.cached {
            return w;
        }
        let w = self.compute(p);
        self.cached = Some(w);
        w
    }

    /// The first bin whose cumulative count reaches `pct` percent of the in-range samples (at
    /// least one sample); the last bin when none does. Scans up from the lowest non-empty bin
    /// for low percentiles, down from the highest for high ones: the same bin either way.
    fn percentile_bin(&self, pct: f64) -> u64 {
        let need = (pct / 100.0 * self.in_range as f64).max(1.0);
        if (self.in_range as f64) < need {
            // No bin reaches it (no sample at all, or a percentile over 100).
            return self.bins.len() as u64 - 1;
        }
        if pct <= 50.0 {
            let mut cum = 0u64;
            for (i, &c) in self.bins.iter().enumerate().skip(self.lo) {
                cum += c as u64;
                if cum as f64 >= need {
                    return i as u64;
                }
            }
            unreachable!("the bins hold in_range >= need samples");
        }
        // Every sample is in bins ..= hi: walk down while the bins below still reach `need`.
        let mut i = self.hi;
        let mut below = self.in_range - self.bins[i] as u64;
        while i > 0 && below as f64 >= need {
            i -= 1;
            below -= self.bins[i] as u64;
        }
        i as u64
    }

    fn compute(&self, p: &HybridParams) -> (u64, u64) {
        let total = self.in_range + self.out_of_range;
        if total < p.min_samples as u64
            || self.in_range == 0
            || self.out_of_range as f64 > p.max_out_of_range * total as f64
        {
            return (0, p.fallback_ns);
        }
        let nb = self.bins.len() as f64;
        let mean = self.in_range as f64 / nb;
        let var = (self.sum_sq as f64 / nb - mean * mean).max(0.0);
        let cv = var.sqrt() / mean;
        if cv < p.cv_threshold {
            return (0, p.fallback_ns);
        }
        let head = self.percentile_bin(p.head_percentile) * p.bin_ns;
        let tail = (self.percentile_bin(p.tail_percentile) + 1) * p.bin_ns;
        let pre = (head as f64 * (1.0 - p.margin)).round() as u64;
        let end = (tail as f64 * (1.0 + p.margin)).round() as u64;
        (pre, end.saturating_sub(pre))
    }
}

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

/// The most bins a timeline may hold: 2^21 (2.1 million; 128 MiB of counters, as much again
/// for the bins written out). 24 days at 1 s bins, 4 years at 1 min bins.
pub const MAX_TIMELINE_BINS: u64 = 1 << 21;

/// Bytes one timeline bin costs while simulating (counters) and when written out.
pub const TIMELINE_BIN_BYTES: u64 = 64 + std::mem::size_of::<TimelineBin>() as u64;

/// Refuses, before simulating, a timeline of `span_ns` cut into `bin_ns` bins that would need
/// more than [`MAX_TIMELINE_BINS`], with the memory it would need and the bin that fits.
pub fn check_timeline(span_ns: u64, bin_ns: u64) -> Result<(), PlatformError> {
    let bins = span_ns.div_ceil(bin_ns.max(1));
    if bins > MAX_TIMELINE_BINS {
        return Err(timeline_error(bins, span_ns, bin_ns));
    }
    Ok(())
}

fn timeline_error(bins: u64, span_ns: u64, bin_ns: u64) -> PlatformError {
    PlatformError::Config {
        what: format!("--bin {}", fmt_duration_ns(bin_ns)),
        message: format!(
            "a timeline over {} in bins of {} needs {bins} bins ({}); at most {MAX_TIMELINE_BINS}: pass --bin {} or wider",
            fmt_duration_ns(span_ns),
            fmt_duration_ns(bin_ns),
            crate::policy::fmt_bytes(bins as u128 * TIMELINE_BIN_BYTES as u128),
            fmt_duration_ns(round_up_duration_ns(span_ns.div_ceil(MAX_TIMELINE_BINS))),
        ),
    }
}

/// Difference-array timeline: time-average unit counts per bin in O(1) per interval. The last
/// bin looked up is remembered with its bounds: most intervals (executions, start-ups) begin
/// and end in it, and are then added without computing a bin index.
///
/// Bounded: bins past [`MAX_TIMELINE_BINS`] all land in one spill bin and are counted in
/// `needed`; a run that needed them fails with [`Platform::check_timeline`] instead of
/// allocating memory that follows the span over the bin width.
#[derive(Debug, Clone)]
struct Timeline {
    /// Bins the run would have needed, when more than the bound (0 otherwise).
    needed: u64,
    bin_ns: u64,
    inv_bin: f64,
    /// The remembered bin and its bounds `[lo, hi)` (`lo > hi` before the first lookup).
    cur: usize,
    cur_lo: u64,
    cur_hi: u64,
    /// Per bin: partial areas (ns) and full-bin coverage changes, for live/starting/executing.
    area: Vec<[u64; 3]>,
    diff: Vec<[i64; 3]>,
    arrivals: Vec<u64>,
    colds: Vec<u64>,
}

impl Timeline {
    fn new(bin_ns: u64) -> Self {
        Timeline {
            needed: 0,
            bin_ns: bin_ns.max(1),
            inv_bin: 1.0 / bin_ns.max(1) as f64,
            cur: 0,
            cur_lo: 1,
            cur_hi: 0,
            area: Vec::new(),
            diff: Vec::new(),
            arrivals: Vec::new(),
            colds: Vec::new(),
        }
    }

    #[inline]
    fn grow(&mut self, bin: usize) {
        if bin >= self.area.len() {
            let n = (bin + 1)
                .max(self.area.len() * 2)
                .max(64)
                .min(MAX_TIMELINE_BINS as usize + 1);
            self.area.resize(n, [0; 3]);
            self.diff.resize(n + 1, [0; 3]);
            self.arrivals.resize(n, 0);
            self.colds.resize(n, 0);
        }
    }

    /// `t / bin_ns` by a multiplication and a correction (a 64-bit division costs tens of
    /// cycles, and this runs several times per invocation).
    #[inline]
    fn bin(&self, t: u64) -> usize {
        let w = self.bin_ns;
        let mut i = (t as f64 * self.inv_bin) as u64;
        if i.saturating_mul(w) > t {
            i -= 1;
        } else if (i + 1).saturating_mul(w) <= t {
            i += 1;
        }
        i as usize
    }

    /// The bin of `t`, grown into the arrays and remembered.
    #[inline]
    fn lookup(&mut self, t: u64) -> usize {
        if t >= self.cur_lo && t < self.cur_hi {
            return self.cur;
        }
        self.lookup_slow(t)
    }

    #[inline(never)]
    fn lookup_slow(&mut self, t: u64) -> usize {
        let b = self.bounded(self.bin(t));
        self.grow(b);
        self.cur = b;
        if b as u64 == MAX_TIMELINE_BINS {
            // The spill bin is never remembered: every lookup past the bound is counted.
            self.cur_lo = 1;
            self.cur_hi = 0;
        } else {
            self.cur_lo = b as u64 * self.bin_ns;
            self.cur_hi = self.cur_lo.saturating_add(self.bin_ns);
        }
        b
    }

    /// `b`, or the spill bin (counting the bins needed) when `b` is past the bound.
    #[inline]
    fn bounded(&mut self, b: usize) -> usize {
        if b as u64 >= MAX_TIMELINE_BINS {
            self.needed = self.needed.max(b as u64 + 1);
            MAX_TIMELINE_BINS as usize
        } else {
            b
        }
    }

    #[inline(always)]
    fn add(&mut self, which: usize, a: u64, b: u64) {
        if b <= a {
            return;
        }
        if a >= self.cur_lo && b < self.cur_hi {
            self.area[self.cur][which] += b - a;
            return;
        }
        self.add_across(which, a, b);
    }

    #[inline(never)]
    fn add_across(&mut self, which: usize, a: u64, b: u64) {
        let w = self.bin_ns;
        let bb = self.lookup(b);
        let ba = self.bin(a);
        let ba = self.bounded(ba);
        if bb as u64 == MAX_TIMELINE_BINS {
            // Past the bound: the run fails (see `needed`); nothing to add up.
            return;
        }
        if ba == bb {
            self.area[ba][which] += b - a;
        } else {
            self.area[ba][which] += (ba as u64 + 1) * w - a;
            self.area[bb][which] += b - bb as u64 * w;
            if bb > ba + 1 {
                self.diff[ba + 1][which] += 1;
                self.diff[bb][which] -= 1;
            }
        }
    }

    #[inline]
    fn count(&mut self, t: u64, cold: bool) {
        let b = self.lookup(t);
        if cold {
            self.colds[b] += 1;
        } else {
            self.arrivals[b] += 1;
        }
    }

    fn bins(&self, end_ns: u64) -> Vec<TimelineBin> {
        let w = self.bin_ns;
        let n = (end_ns.div_ceil(w).min(MAX_TIMELINE_BINS) as usize).min(self.area.len());
        let mut cover = [0i64; 3];
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let mut mean = [0f64; 3];
            for k in 0..3 {
                cover[k] += self.diff[i][k];
                mean[k] = (self.area[i][k] as f64 + cover[k] as f64 * w as f64) / w as f64;
            }
            out.push(TimelineBin {
                t_s: (i as u64 * w) as f64 / 1e9,
                width_s: w as f64 / 1e9,
                live: mean[0],
                starting: mean[1],
                executing: mean[2],
                idle: (mean[0] - mean[1] - mean[2]).max(0.0),
                arrivals: self.arrivals[i],
                cold_starts: self.colds[i],
            });
        }
        out
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
    /// Most units alive at once.
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

/// A log-linear histogram of ns: exact below 256 ns, then 128 bins per power of two (bins
/// 0.8% wide) up to 2^64 - 1 ns: every representable latency has its own bin. Count, min, max
/// and sum are exact. Recording is a shift and an add: the simulator records two or three
/// latencies per invocation, and a general-purpose HDR histogram cost it ~15% of its time.
#[derive(Debug, Clone)]
pub struct LogHist {
    counts: Vec<u64>,
    n: u64,
    min: u64,
    max: u64,
    sum: u128,
}

/// Bins for every `u64`: 256 exact ones, then 128 for each power of two from 2^8 to 2^63.
const LOGHIST_BINS: usize = 58 * 128;

impl Default for LogHist {
    fn default() -> Self {
        LogHist {
            counts: vec![0; LOGHIST_BINS],
            n: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }
}

impl LogHist {
    #[inline]
    fn index(v: u64) -> usize {
        if v < 256 {
            v as usize
        } else {
            let e = 63 - v.leading_zeros();
            ((e - 7) as usize) * 128 + (v >> (e - 7)) as usize
        }
    }

    /// The middle of bin `i`.
    fn value(i: usize) -> u64 {
        if i < 256 {
            i as u64
        } else {
            let e = (i / 128) as u32 + 6;
            let m = (i - (e as usize - 7) * 128) as u64;
            (m << (e - 7)) + (1u64 << (e - 7)) / 2
        }
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[Self::index(v)] += 1;
        self.n += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v as u128;
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, o: &LogHist) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.n += o.n;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum += o.sum;
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Exact (min, max, mean), when not empty.
    pub fn exact(&self) -> Option<(u64, u64, f64)> {
        (self.n > 0).then(|| (self.min, self.max, self.sum as f64 / self.n as f64))
    }

    /// The bins as an HDR histogram (bin middles), for the percentile summary.
    pub fn to_hdr(&self) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, u64::MAX, 3)
            .expect("static histogram bounds are valid");
        for (i, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                h.saturating_record_n(Self::value(i).max(1), c);
            }
        }
        h
    }
}

/// Latency histograms, ns.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    /// Cap queue wait of invocations that queued.
    pub queue: LogHist,
    /// Start-up waited for by cold invocations.
    pub startup: LogHist,
    /// Execution.
    pub exec: LogHist,
    /// End to end, cold.
    pub e2e_cold: LogHist,
    /// End to end, warm.
    pub e2e_warm: LogHist,
    /// Zero-valued samples per histogram (queue, startup, exec, cold, warm): kept apart, as
    /// the results' `Summary` does.
    pub zeros: [u64; 5],
}

impl Latency {
    fn new() -> Self {
        Latency::default()
    }

    #[inline]
    fn rec(h: &mut LogHist, zeros: &mut u64, v: u64) {
        if v == 0 {
            *zeros += 1;
        } else {
            h.record(v);
        }
    }
}

/// Everything a run records, for [`crate::report`].
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Per invocation (when records are on).
    pub invocations: Vec<InvocationRecord>,
    /// Per unit (when records are on).
    pub units: Vec<UnitRecord>,
    /// Busy intervals (when records are on).
    pub busy: Vec<BusyInterval>,
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
            records_on: records,
            counts: Counts::default(),
            usage: UsageTotals::default(),
            latency: Latency::new(),
            records: Records::default(),
            timeline: Timeline::new(bin_ns),
            last_now: 0,
        }
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
                self.units.push(unit);
                self.ucold.push(cold);
                (self.units.len() - 1) as u32
            }
        };
        self.fn_state(function);
        self.live += 1;
        self.usage.peak_live = self.usage.peak_live.max(self.live);
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
    }

    /// The timeline bins up to the window end.
    pub fn timeline(&self) -> Vec<TimelineBin> {
        self.timeline.bins(self.usage.window_end_ns)
    }

    /// An error when the run reached past [`MAX_TIMELINE_BINS`] bins (its timeline would be
    /// cut short): the bins it needed, their memory and the bin width that fits.
    pub fn check_timeline(&self) -> Result<(), PlatformError> {
        let t = &self.timeline;
        if t.needed > MAX_TIMELINE_BINS {
            return Err(timeline_error(
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

#[cfg(test)]
mod tests {
    use super::{IdleHistogram, LogHist, LOGHIST_BINS};
    use crate::policy::{HybridParams, NS_PER_S};
    use rand::{Rng, SeedableRng};

    #[test]
    fn every_latency_has_a_bin() {
        // Regression (issue 17): 40 h = 1.44e14 ns panicked with an index out of bounds.
        let mut h = LogHist::default();
        for v in [
            1,
            255,
            256,
            40 * 3_600_000_000_000,
            1 << 48,
            u64::MAX / 3,
            u64::MAX,
        ] {
            h.record(v);
            let i = LogHist::index(v);
            assert!(i < LOGHIST_BINS, "{v}");
            // The bin's middle is within 0.4% of the value (exact below 256).
            let mid = LogHist::value(i) as f64;
            assert!(
                (mid - v as f64).abs() <= v as f64 / 256.0 + 0.5,
                "{v} -> {mid}"
            );
        }
        assert_eq!(h.len(), 7);
        let hdr = h.to_hdr();
        assert_eq!(hdr.len(), 7);
        // Not clamped: the largest recorded value is still there.
        assert!(hdr.max() as f64 >= u64::MAX as f64 * 0.99);
    }

    /// The Fenwick search finds the bin a plain cumulative scan finds, for every percentile the
    /// hybrid policy may ask, on histograms of several sizes and shapes.
    #[test]
    fn percentile_bins_match_a_cumulative_scan() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        for bins in [1u64, 2, 7, 64, 240, 257] {
            let p = HybridParams {
                range_ns: bins * 60 * NS_PER_S,
                ..HybridParams::default()
            };
            let mut h = IdleHistogram::new(&p);
            for _ in 0..2_000 {
                // Mostly short idle times, some beyond the range.
                let it = (rng.gen::<f64>().powi(3) * 1.2 * p.range_ns as f64) as u64;
                h.record(it, &p);
                for pct in [0.0, 0.5, 5.0, 33.3, 50.0, 50.1, 99.0, 99.9, 100.0, 150.0] {
                    let need = (pct / 100.0 * h.in_range as f64).max(1.0);
                    let mut cum = 0u64;
                    let scan = h
                        .bins
                        .iter()
                        .position(|&c| {
                            cum += c as u64;
                            cum as f64 >= need
                        })
                        .unwrap_or(h.bins.len() - 1) as u64;
                    assert_eq!(h.percentile_bin(pct), scan, "{bins} bins, {pct}%");
                }
            }
        }
    }
}
