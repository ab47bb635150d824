//! Latency histograms: a log-linear histogram of ns ([`LogHist`]) and the run's set of them
//! ([`Latency`]).

use hdrhistogram::Histogram;

/// A log-linear histogram of ns: exact below 256 ns, then 128 bins per power of two (bins
/// 0.8% wide) up to 2^48 ns (78 hours; larger values land in the last bin). Count, min, max
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

const LOGHIST_BINS: usize = 41 * 128;

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
        let v = v.min((1 << 48) - 1);
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
        let mut h = Histogram::<u64>::new_with_bounds(1, 1 << 48, 3)
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
    pub(crate) fn new() -> Self {
        Latency::default()
    }

    #[inline]
    pub(crate) fn rec(h: &mut LogHist, zeros: &mut u64, v: u64) {
        if v == 0 {
            *zeros += 1;
        } else {
            h.record(v);
        }
    }
}
