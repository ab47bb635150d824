//! The hybrid policy's per-function histogram of idle times (Shahrad et al., "Serverless in the
//! Wild", ATC 2020): from it, each function's pre-warm and keep-alive windows.

use crate::policy::HybridParams;

/// Per-function histogram of idle times (hybrid policy).
#[derive(Debug, Clone)]
pub(crate) struct IdleHistogram {
    /// Keep-alive of the function's next pre-warmed unit (a pre-warm is only decided from
    /// a histogram, so the histogram exists whenever this is read).
    pub(crate) prewarm_ka: u64,
    /// Bins `0..bins.len()` of the `n` bins; the rest are empty. Grown on demand (to the
    /// highest bin used, in steps of 8 bins, up to `n`), and 16 bits wide until a count
    /// passes 65,535: most functions of a day-long trace only ever idle for short times, and
    /// a full histogram per function (4 h of 1-minute bins, 960 bytes) would dominate the
    /// simulator's memory with tens of thousands of functions.
    bins: Bins,
    n: usize,
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
    pub(crate) fn new(p: &HybridParams) -> Self {
        let n = (p.range_ns / p.bin_ns).max(1) as usize;
        IdleHistogram {
            prewarm_ka: 0,
            bins: Bins::Narrow(Vec::new()),
            n,
            lo: usize::MAX,
            hi: 0,
            in_range: 0,
            out_of_range: 0,
            sum_sq: 0,
            cached: None,
        }
    }

    #[inline]
    pub(crate) fn record(&mut self, it_ns: u64, p: &HybridParams) {
        let b = (it_ns / p.bin_ns) as usize;
        if b < self.n {
            if b >= self.bins.len() {
                self.bins.grow(((b + 8) & !7).min(self.n));
            }
            let c = self.bins.increment(b) as u64;
            self.sum_sq += 2 * c + 1;
            self.lo = self.lo.min(b);
            self.hi = self.hi.max(b);
            self.in_range += 1;
        } else {
            self.out_of_range += 1;
        }
        self.cached = None;
    }

    /// (pre-warm window, keep-alive window), ns.
    #[inline]
    pub(crate) fn windows(&mut self, p: &HybridParams) -> (u64, u64) {
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
            return self.n as u64 - 1;
        }
        if pct <= 50.0 {
            let mut cum = 0u64;
            for i in self.lo..self.bins.len() {
                cum += self.bins.get(i) as u64;
                if cum as f64 >= need {
                    return i as u64;
                }
            }
            unreachable!("the bins hold in_range >= need samples");
        }
        // Every sample is in bins ..= hi: walk down while the bins below still reach `need`.
        let mut i = self.hi;
        let mut below = self.in_range - self.bins.get(i) as u64;
        while i > 0 && below as f64 >= need {
            i -= 1;
            below -= self.bins.get(i) as u64;
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
        let nb = self.n as f64;
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

/// A histogram's counts: 16 bits each until one would pass `u16::MAX`, then 32 bits.
#[derive(Debug, Clone)]
enum Bins {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Bins {
    #[inline]
    fn len(&self) -> usize {
        match self {
            Bins::Narrow(v) => v.len(),
            Bins::Wide(v) => v.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> u32 {
        match self {
            Bins::Narrow(v) => v[i] as u32,
            Bins::Wide(v) => v[i],
        }
    }

    /// Grows to `len` bins, allocating exactly that.
    fn grow(&mut self, len: usize) {
        match self {
            Bins::Narrow(v) => {
                v.reserve_exact(len - v.len());
                v.resize(len, 0);
            }
            Bins::Wide(v) => {
                v.reserve_exact(len - v.len());
                v.resize(len, 0);
            }
        }
    }

    /// Adds one to bin `i`; returns its count before.
    #[inline]
    fn increment(&mut self, i: usize) -> u32 {
        match self {
            Bins::Narrow(v) if v[i] < u16::MAX => {
                v[i] += 1;
                v[i] as u32 - 1
            }
            Bins::Narrow(v) => {
                let mut wide: Vec<u32> = Vec::with_capacity(v.len());
                wide.extend(v.iter().map(|&c| c as u32));
                *self = Bins::Wide(wide);
                self.increment(i)
            }
            Bins::Wide(v) => {
                v[i] += 1;
                v[i] - 1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IdleHistogram;
    use crate::policy::{HybridParams, NS_PER_S};
    use rand::{Rng, SeedableRng};

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
                    let scan = (0..h.bins.len())
                        .position(|i| {
                            cum += h.bins.get(i) as u64;
                            cum as f64 >= need
                        })
                        .unwrap_or(h.n - 1) as u64;
                    assert_eq!(h.percentile_bin(pct), scan, "{bins} bins, {pct}%");
                }
            }
        }
    }

    /// Counts pass from 16 to 32 bits unchanged.
    #[test]
    fn bins_widen_past_u16() {
        let p = HybridParams::default();
        let mut h = IdleHistogram::new(&p);
        for k in 0..200_000u64 {
            h.record((k % 3) * p.bin_ns, &p);
        }
        h.record(20 * p.bin_ns, &p);
        assert!(matches!(h.bins, super::Bins::Wide(_)));
        assert_eq!(h.bins.len(), 24);
        let counts: Vec<u32> = (0..3).map(|i| h.bins.get(i)).collect();
        assert_eq!(counts, [66_667, 66_667, 66_666]);
        assert_eq!(h.bins.get(20), 1);
        let sum_sq: u64 = (0..h.bins.len())
            .map(|i| (h.bins.get(i) as u64).pow(2))
            .sum();
        assert_eq!(h.sum_sq, sum_sq);
    }
}
