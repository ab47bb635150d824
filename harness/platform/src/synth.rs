//! Small, fast trace sources for tests and benchmarks: an in-memory stream, Poisson arrivals
//! with exponential service, and two streams in bounded memory: a heavy-tailed
//! multi-function trace generated window by window ([`MultiFunction`]) and an
//! Azure-2019-shaped day. (The general generators and loaders are in `unitlab-workloads`;
//! these exist so that the simulator can be benchmarked without the generator's own cost
//! dominating, and so that a day of tens of thousands of functions streams in bounded memory.)
//! [`Background`] runs any trace stream on its own thread, a few chunks ahead, so that
//! generating (or parsing) overlaps with simulating.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, LogNormal, StandardNormal};
use unitlab_workloads::{Invocation, TraceError, TraceMeta, TraceStream};

/// An in-memory trace (must already be sorted by arrival).
#[derive(Debug, Clone)]
pub struct MemTrace {
    meta: TraceMeta,
    items: std::vec::IntoIter<Invocation>,
}

impl MemTrace {
    /// Wraps `items` (sorted here by arrival, stable, if they are not).
    pub fn new(mut items: Vec<Invocation>, source: &str) -> Self {
        if !items.windows(2).all(|w| w[0].arrival_ns <= w[1].arrival_ns) {
            items.sort_by_key(|i| i.arrival_ns);
        }
        let n = items.iter().map(|i| i.function + 1).max().unwrap_or(0);
        MemTrace {
            meta: TraceMeta {
                functions: (0..n).map(|i| format!("f{i}")).collect(),
                source: source.to_string(),
                seed: None,
                span_ns: items.last().map(|i| i.arrival_ns),
            },
            items: items.into_iter(),
        }
    }
}

impl MemTrace {
    /// Replaces the metadata (e.g. with the original trace's).
    pub fn set_meta(&mut self, meta: TraceMeta) {
        self.meta = meta;
    }
}

impl Iterator for MemTrace {
    type Item = Result<Invocation, TraceError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.items.next().map(Ok)
    }
}

impl TraceStream for MemTrace {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

/// Shorthand for a hand-built invocation (times in ns).
pub fn inv(arrival_ns: u64, function: u32, duration_ns: u64) -> Invocation {
    Invocation {
        arrival_ns,
        function,
        duration_ns: Some(duration_ns),
        memory_bytes: None,
    }
}

/// `n` Poisson arrivals at `rate` per second for one function, each with an exponential
/// service time of mean `1/mu` seconds.
pub fn poisson_exponential(rate: f64, mu: f64, n: usize, seed: u64) -> Vec<Invocation> {
    PoissonExponential::new(rate, mu, n, seed, "")
        .map(|i| i.expect("the generator does not fail"))
        .collect()
}

/// [`poisson_exponential`] as a stream (the same invocations, generated as they are read:
/// memory does not grow with `n`).
pub struct PoissonExponential {
    meta: TraceMeta,
    rng: ChaCha8Rng,
    rate: f64,
    mu: f64,
    t: f64,
    left: usize,
}

impl PoissonExponential {
    /// The stream; `source` describes it in the trace's metadata.
    pub fn new(rate: f64, mu: f64, n: usize, seed: u64, source: &str) -> Self {
        PoissonExponential {
            meta: TraceMeta {
                functions: if n > 0 { vec!["f0".into()] } else { Vec::new() },
                source: source.to_string(),
                seed: None,
                span_ns: None,
            },
            rng: ChaCha8Rng::seed_from_u64(seed),
            rate,
            mu,
            t: 0.0,
            left: n,
        }
    }
}

impl Iterator for PoissonExponential {
    type Item = Result<Invocation, TraceError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let gap: f64 = self.rng.sample(Exp1);
        self.t += gap / self.rate;
        let s: f64 = self.rng.sample(Exp1);
        Some(Ok(Invocation {
            arrival_ns: (self.t * 1e9).round() as u64,
            function: 0,
            duration_ns: Some(((s / self.mu) * 1e9).round().max(1.0) as u64),
            memory_bytes: None,
        }))
    }
}

impl TraceStream for PoissonExponential {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

/// A multi-function trace held in memory: `functions` functions sharing `total_rate`
/// invocations/s by a Zipf(1) popularity law, Poisson arrivals per function over `span_s`
/// seconds, log-normal durations (median 100 ms, sigma 1.5, Azure-like), 128 MB per unit.
/// The items of [`MultiFunction`], collected.
pub fn multi_function(functions: u32, total_rate: f64, span_s: f64, seed: u64) -> Vec<Invocation> {
    MultiFunction::new(functions, total_rate, span_s, seed, "")
        .map(|i| i.expect("the generator does not fail"))
        .collect()
}

/// The invocations per window [`MultiFunction`] aims at (a window is generated, then sorted).
const MULTI_WINDOW: f64 = 16_384.0;
/// The most windows [`MultiFunction`] cuts a trace into (bounds its bucket list).
const MULTI_MAX_WINDOWS: u64 = 1 << 20;

/// One function of [`MultiFunction`]: its own random stream, and its next invocation.
struct MultiFn {
    rng: ChaCha8Rng,
    rate: f64,
    t: f64,
    /// (arrival ns, duration ns) of the next invocation, if it falls inside the span.
    next: Option<(u64, u64)>,
}

impl MultiFn {
    /// Draws the next invocation exactly as the one-function loop of the original generator
    /// did: an exponential gap, then (inside the span) a log-normal duration.
    #[inline]
    fn draw(&mut self, dur: &LogNormal<f64>, span_s: f64) {
        let g: f64 = self.rng.sample(Exp1);
        self.t += g / self.rate;
        self.next = if self.t >= span_s {
            None
        } else {
            let d: f64 = dur.sample(&mut self.rng);
            Some(((self.t * 1e9) as u64, (d * 1e9).max(1e3) as u64))
        };
    }
}

/// A generated invocation of [`MultiFunction`], before sorting.
#[derive(Debug, Clone, Copy, Default)]
struct MultiInv {
    arrival_ns: u64,
    duration_ns: u64,
    function: u32,
    /// Its sub-window (see [`MultiFunction::fill`]).
    sub: u32,
}

/// [`multi_function`] as a stream, in memory bounded by the functions and one window of
/// time, not by the trace's length.
///
/// Each function draws its arrivals (exponential gaps) and log-normal durations from its own
/// stream of the seeded generator (ChaCha8, stream = the function's index), so functions are
/// generated independently, window after window of time (a power-of-two span holding about
/// [`MULTI_WINDOW`] invocations; functions wait in per-window buckets for their next
/// arrival), and each window is sorted by (arrival, function): a counting sort into
/// sub-windows of about two invocations each, then an insertion sort inside each.
/// Invocations of one function in the same nanosecond (gaps under 1 ns) keep the order they
/// were drawn in. The trace declares all `functions` functions and the span `span_s`.
pub struct MultiFunction {
    meta: TraceMeta,
    dur: LogNormal<f64>,
    span_s: f64,
    fns: Vec<MultiFn>,
    /// log2 of a window's span, ns.
    window_shift: u32,
    /// log2 of a sub-window's span, ns.
    sub_shift: u32,
    /// Functions whose next arrival falls in each window.
    buckets: Vec<Vec<u32>>,
    window: usize,
    drawn: Vec<MultiInv>,
    counts: Vec<u32>,
    at: Vec<u32>,
    buf: Vec<MultiInv>,
    pos: usize,
}

impl MultiFunction {
    /// The stream; `source` describes it in the trace's metadata.
    pub fn new(functions: u32, total_rate: f64, span_s: f64, seed: u64, source: &str) -> Self {
        let h: f64 = (1..=functions).map(|i| 1.0 / i as f64).sum();
        let dur = LogNormal::new((0.1f64).ln(), 1.5).expect("valid log-normal");
        // Each function draws from its own stream of the seeded generator (stream = function
        // index), at its first invocation.
        let fns: Vec<MultiFn> = (0..functions)
            .map(|f| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(u64::from(f));
                let mut one = MultiFn {
                    rng,
                    rate: total_rate / h / (f + 1) as f64,
                    t: 0.0,
                    next: None,
                };
                one.draw(&dur, span_s);
                one
            })
            .collect();
        let span_ns = (span_s.max(0.0) * 1e9).ceil() as u64 + 1;
        let per_window = (MULTI_WINDOW / total_rate * 1e9).clamp(1.0, (1u64 << 62) as f64);
        let mut window_shift = (per_window as u64).next_power_of_two().trailing_zeros();
        while (span_ns >> window_shift) >= MULTI_MAX_WINDOWS {
            window_shift += 1;
        }
        let windows = ((span_ns >> window_shift) + 1) as usize;
        // Sub-windows of about two invocations.
        let sub_shift = window_shift.saturating_sub(MULTI_WINDOW.log2() as u32 - 1);
        let mut buckets = vec![Vec::new(); windows];
        for (f, one) in fns.iter().enumerate() {
            if let Some((a, _)) = one.next {
                buckets[((a >> window_shift) as usize).min(windows - 1)].push(f as u32);
            }
        }
        MultiFunction {
            meta: TraceMeta {
                functions: (0..functions).map(|i| format!("f{i}")).collect(),
                source: source.to_string(),
                seed: None,
                span_ns: Some(span_ns - 1),
            },
            dur,
            span_s,
            fns,
            window_shift,
            sub_shift,
            buckets,
            window: 0,
            drawn: Vec::new(),
            counts: Vec::new(),
            at: Vec::new(),
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Generates the next window's invocations, sorted.
    fn fill(&mut self) {
        self.drawn.clear();
        self.pos = 0;
        let windows = self.buckets.len();
        let last_window = self.window + 1 == windows;
        let start = (self.window as u64) << self.window_shift;
        let end = start.saturating_add(1 << self.window_shift);
        let due = std::mem::take(&mut self.buckets[self.window]);
        let subs = 1usize << (self.window_shift - self.sub_shift);
        self.counts.clear();
        self.counts.resize(subs + 1, 0);
        for &f in &due {
            let one = &mut self.fns[f as usize];
            while let Some((a, d)) = one.next {
                if a >= end && !last_window {
                    self.buckets[((a >> self.window_shift) as usize).min(windows - 1)].push(f);
                    break;
                }
                let sub = (((a - start) >> self.sub_shift) as usize).min(subs - 1);
                self.counts[sub + 1] += 1;
                self.drawn.push(MultiInv {
                    arrival_ns: a,
                    duration_ns: d,
                    function: f,
                    sub: sub as u32,
                });
                one.draw(&self.dur, self.span_s);
            }
        }
        // Counting sort into sub-windows (stable), then insertion sort inside each.
        for i in 1..=subs {
            self.counts[i] += self.counts[i - 1];
        }
        self.buf.clear();
        self.buf.resize(self.drawn.len(), MultiInv::default());
        self.at.clear();
        self.at.extend_from_slice(&self.counts);
        for x in &self.drawn {
            let k = &mut self.at[x.sub as usize];
            self.buf[*k as usize] = *x;
            *k += 1;
        }
        for w in self.counts.windows(2) {
            let part = &mut self.buf[w[0] as usize..w[1] as usize];
            for i in 1..part.len() {
                let x = part[i];
                let key = (x.arrival_ns, x.function);
                let mut j = i;
                while j > 0 && (part[j - 1].arrival_ns, part[j - 1].function) > key {
                    part[j] = part[j - 1];
                    j -= 1;
                }
                part[j] = x;
            }
        }
        self.window += 1;
    }
}

impl Iterator for MultiFunction {
    type Item = Result<Invocation, TraceError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        while self.pos >= self.buf.len() {
            if self.window >= self.buckets.len() {
                return None;
            }
            self.fill();
        }
        let x = self.buf[self.pos];
        self.pos += 1;
        Some(Ok(Invocation {
            arrival_ns: x.arrival_ns,
            function: x.function,
            duration_ns: Some(x.duration_ns),
            memory_bytes: Some(128_000_000),
        }))
    }
}

impl TraceStream for MultiFunction {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

/// A streaming synthetic day shaped like the Azure Functions 2019 trace (Shahrad et al.):
/// per-function mean rates log-normally spread over about eight orders of magnitude (median
/// function invoked about once an hour, so that roughly half are invoked at most hourly), a
/// common diurnal swing of +-50%, per-function median durations log-normal around 300 ms
/// (half the functions under ~1 s), and per-function memory log-normal around 150 MB (90%
/// under ~400 MB). Each function is a non-homogeneous Poisson process (exponential gaps in
/// the day's cumulative-rate time). Functions wait in per-minute buckets for their next
/// arrival, so a minute costs only its own arrivals, and one minute at a time is held in
/// memory (sorted).
pub struct AzureLikeDay {
    meta: TraceMeta,
    rng: ChaCha8Rng,
    /// Mean arrivals per minute at diurnal factor 1.
    rate_per_min: Vec<f64>,
    dur_median_s: Vec<f32>,
    mem: Vec<u64>,
    /// Next arrival of each function in cumulative-rate units.
    next_x: Vec<f64>,
    /// Cumulative diurnal factor at the start of each minute (minutes + 1 entries).
    cum: Vec<f64>,
    /// Functions whose next arrival falls in each minute.
    buckets: Vec<Vec<u32>>,
    minute: u32,
    minutes: u32,
    buf: Vec<Invocation>,
    pos: usize,
    /// Mean arrivals per minute of all functions together, at diurnal factor 1.
    total_per_min: f64,
}

impl AzureLikeDay {
    /// `functions` functions over `minutes` minutes (1440 for a day), scaled so the day holds
    /// about `target_invocations` invocations.
    pub fn new(functions: u32, minutes: u32, target_invocations: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // log10(rate per hour) ~ N(0, 1.6): median once an hour, 8 orders between the 0.1st
        // and 99.9th percentiles.
        let mut rates: Vec<f64> = (0..functions)
            .map(|_| {
                let z: f64 = rng.sample(StandardNormal);
                10f64.powf(1.6 * z) / 60.0
            })
            .collect();
        let mut cum = Vec::with_capacity(minutes as usize + 1);
        cum.push(0.0);
        for m in 0..minutes {
            let d = 1.0 + 0.5 * (2.0 * std::f64::consts::PI * (m as f64 / 1440.0 - 0.25)).sin();
            cum.push(cum[m as usize] + d);
        }
        let total: f64 = rates.iter().sum::<f64>() * cum[minutes as usize];
        let k = target_invocations / total;
        for r in &mut rates {
            *r *= k;
        }
        let total_per_min: f64 = rates.iter().sum();
        let dur_median_s = (0..functions)
            .map(|_| {
                let z: f64 = rng.sample(StandardNormal);
                (0.3 * (1.2 * z).exp()) as f32
            })
            .collect();
        let mem = (0..functions)
            .map(|_| {
                let z: f64 = rng.sample(StandardNormal);
                (150e6 * (0.75 * z).exp()) as u64
            })
            .collect();
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); minutes as usize];
        let mut next_x = vec![f64::INFINITY; functions as usize];
        for f in 0..functions as usize {
            let e: f64 = rng.sample(Exp1);
            let x = e / rates[f];
            next_x[f] = x;
            let m = cum.partition_point(|&c| c <= x);
            if m >= 1 && m <= minutes as usize {
                buckets[m - 1].push(f as u32);
            }
        }
        AzureLikeDay {
            meta: TraceMeta {
                functions: (0..functions).map(|i| format!("f{i}")).collect(),
                source: format!(
                    "platform::synth::AzureLikeDay functions={functions} minutes={minutes} target={target_invocations}"
                ),
                seed: Some(seed),
                span_ns: Some(minutes as u64 * 60_000_000_000),
            },
            rng,
            rate_per_min: rates,
            dur_median_s,
            mem,
            next_x,
            cum,
            buckets,
            minute: 0,
            minutes,
            buf: Vec::new(),
            pos: 0,
            total_per_min,
        }
    }

    fn fill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        let m = self.minute as usize;
        let (c0, c1) = (self.cum[m], self.cum[m + 1]);
        let d = c1 - c0;
        // Room for the minute's expected count and then some (Poisson: its spread is the
        // square root), allocated exactly: doubling would hold up to twice the busiest
        // minute.
        let expect = self.total_per_min * d;
        let room = (expect * 1.05 + 6.0 * expect.sqrt() + 64.0) as usize;
        if self.buf.capacity() < room {
            self.buf.reserve_exact(room);
        }
        let base = m as u64 * 60_000_000_000;
        let due = std::mem::take(&mut self.buckets[m]);
        for &f in &due {
            let fi = f as usize;
            let mut x = self.next_x[fi];
            while x < c1 {
                let off = ((x - c0) / d * 60e9) as u64;
                let z: f64 = self.rng.sample(StandardNormal);
                let dur = self.dur_median_s[fi] as f64 * (0.5 * z).exp();
                self.buf.push(Invocation {
                    arrival_ns: base + off.min(59_999_999_999),
                    function: f,
                    duration_ns: Some((dur * 1e9).max(1e3) as u64),
                    memory_bytes: Some(self.mem[fi]),
                });
                let e: f64 = self.rng.sample(Exp1);
                x += e / self.rate_per_min[fi];
            }
            self.next_x[fi] = x;
            let nm = self.cum.partition_point(|&c| c <= x);
            if nm >= 1 && nm <= self.minutes as usize {
                self.buckets[nm - 1].push(f);
            }
        }
        self.buf
            .sort_unstable_by_key(|i| (i.arrival_ns, i.function));
        self.minute += 1;
    }
}

impl Iterator for AzureLikeDay {
    type Item = Result<Invocation, TraceError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        while self.pos >= self.buf.len() {
            if self.minute >= self.minutes {
                return None;
            }
            self.fill();
        }
        let i = self.buf[self.pos];
        self.pos += 1;
        Some(Ok(i))
    }
}

impl TraceStream for AzureLikeDay {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
    /// Moves the metadata out (50,000 function names are a few megabytes).
    fn take_meta(&mut self) -> TraceMeta {
        std::mem::take(&mut self.meta)
    }
}

/// Invocations per chunk handed from the [`Background`] thread (48 bytes each: 192 KiB).
const CHUNK: usize = 4 * 1024;
/// Chunks the [`Background`] thread may run ahead (bounds memory: about a megabyte).
const CHUNKS_AHEAD: usize = 2;

enum Chunk {
    Items(Vec<Invocation>),
    Err(TraceError),
}

/// A trace stream read on a background thread, in chunks of 4 Ki invocations at most
/// two chunks ahead: the same items in the same order (errors included), with
/// the producer's work (generation, parsing) overlapping the consumer's on another core.
/// Emptied chunk buffers go back to the producer for reuse.
pub struct Background {
    meta: TraceMeta,
    rx: Option<std::sync::mpsc::Receiver<Chunk>>,
    back: Option<std::sync::mpsc::Sender<Vec<Invocation>>>,
    cur: Vec<Invocation>,
    pos: usize,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Starts reading `trace` on a new thread.
    pub fn new<T>(trace: T) -> std::io::Result<Self>
    where
        T: TraceStream + Send + 'static,
    {
        let mut trace = trace;
        let meta = trace.take_meta();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(CHUNKS_AHEAD);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<Invocation>>();
        let handle = std::thread::Builder::new()
            .name("trace-reader".into())
            .spawn(move || {
                loop {
                    let mut buf = back_rx.try_recv().unwrap_or_default();
                    buf.clear();
                    buf.reserve(CHUNK);
                    let mut err = None;
                    let mut end = false;
                    while buf.len() < CHUNK {
                        match trace.next() {
                            Some(Ok(i)) => buf.push(i),
                            Some(Err(e)) => {
                                err = Some(e);
                                break;
                            }
                            None => {
                                end = true;
                                break;
                            }
                        }
                    }
                    // A failed send means the reader is gone: stop.
                    if !buf.is_empty() && tx.send(Chunk::Items(buf)).is_err() {
                        return;
                    }
                    if let Some(e) = err {
                        if tx.send(Chunk::Err(e)).is_err() {
                            return;
                        }
                    }
                    if end {
                        return;
                    }
                }
            })?;
        Ok(Background {
            meta,
            rx: Some(rx),
            back: Some(back_tx),
            cur: Vec::new(),
            pos: 0,
            handle: Some(handle),
        })
    }
}

impl Iterator for Background {
    type Item = Result<Invocation, TraceError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(&i) = self.cur.get(self.pos) {
            self.pos += 1;
            return Some(Ok(i));
        }
        loop {
            match self.rx.as_ref()?.recv() {
                Ok(Chunk::Items(v)) => {
                    let old = std::mem::replace(&mut self.cur, v);
                    if let Some(b) = &self.back {
                        // The producer may be gone already; the buffer is then dropped.
                        let _ = b.send(old);
                    }
                    self.pos = 0;
                    if let Some(&i) = self.cur.first() {
                        self.pos = 1;
                        return Some(Ok(i));
                    }
                }
                Ok(Chunk::Err(e)) => return Some(Err(e)),
                Err(_) => {
                    // The producer finished, or panicked: then so does the reader, rather
                    // than ending the trace early.
                    self.rx = None;
                    if let Some(h) = self.handle.take() {
                        if let Err(panic) = h.join() {
                            std::panic::resume_unwind(panic);
                        }
                    }
                    return None;
                }
            }
        }
    }
}

impl TraceStream for Background {
    fn meta(&self) -> &TraceMeta {
        &self.meta
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Hang up first, so that a producer blocked on a full channel returns.
        self.rx = None;
        self.back = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draw-everything-then-sort generator [`MultiFunction`] replaced.
    fn multi_function_in_memory(
        functions: u32,
        total_rate: f64,
        span_s: f64,
        seed: u64,
    ) -> Vec<Invocation> {
        let h: f64 = (1..=functions).map(|i| 1.0 / i as f64).sum();
        let dur = LogNormal::new((0.1f64).ln(), 1.5).expect("valid log-normal");
        let mut out = Vec::new();
        for f in 0..functions {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(u64::from(f));
            let rate = total_rate / h / (f + 1) as f64;
            let mut t = 0f64;
            loop {
                let g: f64 = rng.sample(Exp1);
                t += g / rate;
                if t >= span_s {
                    break;
                }
                let d: f64 = dur.sample(&mut rng);
                out.push(Invocation {
                    arrival_ns: (t * 1e9) as u64,
                    function: f,
                    duration_ns: Some((d * 1e9).max(1e3) as u64),
                    memory_bytes: Some(128_000_000),
                });
            }
        }
        out.sort_unstable_by_key(|i| (i.arrival_ns, i.function));
        out
    }

    /// The streaming multi-function generator gives the items of a draw-everything-then-sort
    /// generator (one stream per function), across many windows, with silent functions at
    /// the end, and for an empty trace; it declares every function and the whole span.
    #[test]
    fn multi_function_stream_matches_in_memory() {
        for (functions, rate, span, seed) in [
            (200, 30_000.0, 8.0, 1),
            (40, 1_500.0, 30.0, 7),
            (3, 100.0, 400.0, 1),
            (500, 5.0, 2.0, 3),
            (5, 0.0, 10.0, 1),
            (0, 10.0, 10.0, 1),
        ] {
            let want = multi_function_in_memory(functions, rate, span, seed);
            let stream = MultiFunction::new(functions, rate, span, seed, "x");
            let want_meta = TraceMeta {
                functions: (0..functions).map(|i| format!("f{i}")).collect(),
                source: "x".into(),
                seed: None,
                span_ns: Some((span * 1e9f64).ceil() as u64),
            };
            assert_eq!(stream.meta(), &want_meta, "{functions} {rate} {span}");
            assert!(stream.buckets.len() > 5 || rate * span < 1e5);
            let got: Vec<Invocation> = stream.map(|r| r.unwrap()).collect();
            assert_eq!(got.len(), want.len());
            assert!(got == want, "{functions} {rate} {span} {seed}");
        }
    }

    /// The background reader yields exactly the stream's items, in order, across chunks.
    #[test]
    fn background_matches_direct() {
        let direct: Vec<Invocation> = AzureLikeDay::new(300, 120, 50_000.0, 3)
            .map(|r| r.unwrap())
            .collect();
        assert!(direct.len() > CHUNK, "spans several chunks");
        let bg = Background::new(AzureLikeDay::new(300, 120, 50_000.0, 3)).unwrap();
        assert_eq!(bg.meta().seed, Some(3));
        let got: Vec<Invocation> = bg.map(|r| r.unwrap()).collect();
        assert_eq!(got, direct);
    }

    /// An error comes through at its place, and the reader may stop early.
    #[test]
    fn background_passes_errors_and_stops_early() {
        struct Failing(u64);
        impl Iterator for Failing {
            type Item = Result<Invocation, TraceError>;
            fn next(&mut self) -> Option<Self::Item> {
                self.0 += 1;
                match self.0 {
                    1..=5 => Some(Ok(inv(self.0, 0, 1))),
                    6 => Some(Err(TraceError::Param {
                        name: "x".into(),
                        message: "bad".into(),
                    })),
                    7 => Some(Ok(inv(7, 0, 1))),
                    _ => None,
                }
            }
        }
        impl TraceStream for Failing {
            fn meta(&self) -> &TraceMeta {
                static META: std::sync::OnceLock<TraceMeta> = std::sync::OnceLock::new();
                META.get_or_init(TraceMeta::default)
            }
        }
        let got: Vec<Result<u64, String>> = Background::new(Failing(0))
            .unwrap()
            .map(|r| r.map(|i| i.arrival_ns).map_err(|e| e.to_string()))
            .collect();
        assert_eq!(got.len(), 7);
        assert_eq!(got[..5], [Ok(1), Ok(2), Ok(3), Ok(4), Ok(5)]);
        assert!(got[5].is_err());
        assert_eq!(got[6], Ok(7));
        // Dropped before the end: the producer thread is stopped and joined.
        let mut b = Background::new(AzureLikeDay::new(300, 120, 50_000.0, 3)).unwrap();
        assert!(b.next().is_some());
        drop(b);
    }
}
