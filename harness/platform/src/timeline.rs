//! The run's timeline: time-average unit counts (live, starting, executing, idle), arrivals
//! and cold starts per bin.

use unitlab_results::platform::TimelineBin;

/// Difference-array timeline: time-average unit counts per bin in O(1) per interval. The last
/// bin looked up is remembered with its bounds: most intervals (executions, start-ups) begin
/// and end in it, and are then added without computing a bin index.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
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
    pub(crate) fn new(bin_ns: u64) -> Self {
        Timeline {
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
            let n = (bin + 1).max(self.area.len() * 2).max(64);
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
        let b = self.bin(t);
        self.grow(b);
        self.cur = b;
        self.cur_lo = b as u64 * self.bin_ns;
        self.cur_hi = self.cur_lo.saturating_add(self.bin_ns);
        b
    }

    #[inline(always)]
    pub(crate) fn add(&mut self, which: usize, a: u64, b: u64) {
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
    pub(crate) fn count(&mut self, t: u64, cold: bool) {
        let b = self.lookup(t);
        if cold {
            self.colds[b] += 1;
        } else {
            self.arrivals[b] += 1;
        }
    }

    pub(crate) fn bins(&self, end_ns: u64) -> Vec<TimelineBin> {
        let w = self.bin_ns;
        let n = (end_ns.div_ceil(w) as usize).min(self.area.len());
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
