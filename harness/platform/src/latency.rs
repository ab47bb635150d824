//! Latency histograms: a log-linear histogram of ns ([`LogHist`]) and the run's set of them
//! ([`Latency`]).

use hdrhistogram::Histogram;

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

#[cfg(test)]
mod tests {
    use super::{LogHist, LOGHIST_BINS};

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
}
