//! The run's timeline: time-average unit counts (live, starting, executing, idle), arrivals
//! and cold starts per bin.

use crate::PlatformError;
use unitlab_backend::units::{fmt_duration_ns, round_up_duration_ns};
use unitlab_results::platform::TimelineBin;

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

pub(crate) fn timeline_error(bins: u64, span_ns: u64, bin_ns: u64) -> PlatformError {
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
/// `needed`; a run that needed them fails (`Platform::check_timeline`) instead of allocating
/// memory that follows the span over the bin width.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    /// Bins the run would have needed, when more than the bound (0 otherwise).
    pub(crate) needed: u64,
    pub(crate) bin_ns: u64,
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
        } else if i.saturating_add(1).saturating_mul(w) <= t {
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

    /// Adds another timeline of the same bin width (integer counters: exact).
    pub(crate) fn merge(&mut self, o: &Timeline) {
        debug_assert_eq!(self.bin_ns, o.bin_ns);
        self.needed = self.needed.max(o.needed);
        if o.area.len() > self.area.len() {
            let n = o.area.len();
            self.area.resize(n, [0; 3]);
            self.diff.resize(n + 1, [0; 3]);
            self.arrivals.resize(n, 0);
            self.colds.resize(n, 0);
        }
        for (a, b) in self.area.iter_mut().zip(&o.area) {
            for k in 0..3 {
                a[k] += b[k];
            }
        }
        for (a, b) in self.diff.iter_mut().zip(&o.diff) {
            for k in 0..3 {
                a[k] += b[k];
            }
        }
        for (a, b) in self.arrivals.iter_mut().zip(&o.arrivals) {
            *a += b;
        }
        for (a, b) in self.colds.iter_mut().zip(&o.colds) {
            *a += b;
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
